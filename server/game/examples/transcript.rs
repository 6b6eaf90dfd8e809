//! Plays a scripted group chat on the bundled English sample and prints it,
//! for the README: `cargo run -p game --example transcript [seed]`.
//!
//! The players' guesses are written against the round in progress
//! (`{answer}`, `{typo}` and `{part}` are filled in from it), so any seed
//! gives a sensible chat.

#[path = "../tests/common/mod.rs"]
mod common;

use game::{ChatState, Games, InlinkRange, Message, Settings};

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    // The sample is small: in-link ranges scaled to it.
    let settings = Settings {
        easy: InlinkRange { min: 1, max: None },
        hard: InlinkRange {
            min: 0,
            max: Some(0),
        },
        min_sentences: 15,
        ..Settings::default()
    };
    let games = Games::new(common::sample_corpus(), settings);
    let script = [
        ("Ana", "/play"),
        ("Bo", "no idea, something in Africa?"),
        ("Ana", "/hint"),
        ("Bo", "{part}"),
        ("Ana", "/hint"),
        ("Bo", "{typo}"),
        ("Ana", "/play blank"),
        ("Bo", "/hint"),
        ("Ana", "{answer}"),
        ("Bo", "who is Aristotle?"),
        ("Ana", "/score"),
        ("Bo", "/stop"),
    ];
    let mut state = ChatState::default();
    let mut now = 1_764_000_000_000i64;
    for (i, (who, line)) in script.iter().enumerate() {
        let answer = state.round().map(|r| r.answer.clone()).unwrap_or_default();
        let text = line
            .replace("{answer}", &answer)
            .replace("{typo}", &typo(&answer.to_lowercase()))
            .replace("{part}", answer.split_whitespace().last().unwrap_or(""));
        let msg = Message {
            sender_id: format!("id-{who}"),
            sender_name: (*who).to_owned(),
            text: text.clone(),
            is_group: true,
            platform: "telegram".to_owned(),
        };
        now += 20_000;
        let step = games.step(&state, &msg, now, seed.wrapping_add(i as u64));
        println!("{who}: {text}");
        for reply in &step.replies {
            let mut lines = reply.text.lines();
            println!("Bot: {}", lines.next().unwrap_or(""));
            for line in lines {
                println!("     {line}");
            }
            if !reply.buttons.is_empty() {
                let labels: Vec<String> = reply
                    .buttons
                    .iter()
                    .map(|b| format!("[{}]", b.label))
                    .collect();
                println!("     {}", labels.join(" "));
            }
        }
        state = step.state;
    }
}

/// The answer with two neighbouring letters swapped in its middle.
fn typo(answer: &str) -> String {
    let mut chars: Vec<char> = answer.chars().collect();
    let i = chars.len() / 2;
    if chars.len() >= 6 && chars[i].is_alphabetic() && chars[i - 1].is_alphabetic() {
        chars.swap(i - 1, i);
    }
    chars.into_iter().collect()
}
