//! Quality targets over many seeded rounds on the real English sample:
//! clues never give the answer away, every answer is accepted as typed,
//! lowercased, without accents and with one typo, sharing a word is not
//! enough, and a seeded game is reproducible.

mod common;

use std::collections::BTreeSet;

use game::{
    ChatState, Corpus, GameKind, Games, Hint, InlinkRange, Level, Message, Round, Settings, Step,
};

/// In-link ranges scaled to the sample: its articles have 0 to 8 in-links
/// (most of what they link to is not in the sample).
fn settings() -> Settings {
    Settings {
        easy: InlinkRange { min: 1, max: None },
        hard: InlinkRange {
            min: 0,
            max: Some(0),
        },
        min_sentences: 15,
        ..Settings::default()
    }
}

fn games() -> Games {
    Games::new(common::sample_corpus(), settings())
}

fn msg(text: &str, is_group: bool) -> Message {
    Message {
        sender_id: "u1".to_owned(),
        sender_name: "Ana".to_owned(),
        text: text.to_owned(),
        is_group,
        platform: "telegram".to_owned(),
    }
}

fn play_command(kind: GameKind, level: Level) -> String {
    let kind = match kind {
        GameKind::Guess => "guess",
        GameKind::Blank => "blank",
    };
    let level = match level {
        Level::Easy => "easy",
        Level::Hard => "hard",
    };
    format!("/play {kind} {level}")
}

/// Folded words of a text.
fn words(text: &str) -> Vec<String> {
    nlp::tokenize(text)
        .into_iter()
        .map(|t| {
            nlp::fold(&t.text)
                .replace('\u{2019}', "'")
                .trim_matches('\'')
                .to_owned()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `name` appears in `text` as whole words (case and accents ignored).
fn reveals(text: &str, name: &str) -> bool {
    let name = words(name);
    if name.is_empty() {
        return false;
    }
    words(text)
        .windows(name.len())
        .any(|w| w == name.as_slice())
}

/// The stems of a name's words, joined by spaces.
fn stems(name: &str) -> String {
    let stemmer = nlp::Stemmer::new(nlp::Language::English);
    words(name)
        .iter()
        .map(|w| stemmer.stem(w).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn strip_disambiguator(title: &str) -> &str {
    match title.rfind(" (") {
        Some(i) if title.ends_with(')') && i > 0 => &title[..i],
        _ => title,
    }
}

/// The names a clue must not show: the title (with and without its
/// disambiguator), every redirect, and for a blank the anchor text.
fn forbidden_names(corpus: &dyn Corpus, round: &Round) -> Vec<String> {
    let mut names = vec![
        round.title.clone(),
        strip_disambiguator(&round.title).to_owned(),
        round.answer.clone(),
    ];
    if let Some(view) = round.answer_id.and_then(|id| corpus.article(id)) {
        names.push(view.title.clone());
        names.extend(view.redirects.iter().cloned());
    }
    names
}

/// All the names the answer may be given as.
fn accepted_names(corpus: &dyn Corpus, round: &Round) -> Vec<String> {
    let mut names = vec![round.title.clone(), round.answer.clone()];
    if let Some(view) = round.answer_id.and_then(|id| corpus.article(id)) {
        names.extend(view.redirects.iter().cloned());
        names.extend(view.aliases.iter().cloned());
        names.extend(view.bold.iter().cloned());
    }
    names
}

/// One-typo variants of an answer: substitution, deletion, swap, insertion
/// at a letter in the middle of its longest word.
fn typos(answer: &str) -> Vec<String> {
    let chars: Vec<char> = answer.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_alphabetic())
        .collect();
    if letters.len() < 3 {
        return Vec::new();
    }
    let i = letters[letters.len() / 2];
    let j = letters[letters.len() / 2 + 1];
    let mut out = Vec::new();
    let mut substituted = chars.clone();
    substituted[i] = if chars[i].eq_ignore_ascii_case(&'x') {
        'q'
    } else {
        'x'
    };
    out.push(substituted.iter().collect());
    let mut deleted = chars.clone();
    deleted.remove(i);
    out.push(deleted.iter().collect());
    if j == i + 1 && !chars[i].eq_ignore_ascii_case(&chars[j]) {
        let mut swapped = chars.clone();
        swapped.swap(i, j);
        out.push(swapped.iter().collect());
    }
    let mut inserted = chars.clone();
    inserted.insert(i, 'k');
    out.push(inserted.iter().collect());
    out
}

fn won(step: &Step) -> bool {
    !step.scores.is_empty()
}

#[derive(Default, Debug)]
struct Tally {
    rounds: usize,
    guess_rounds: usize,
    blank_rounds: usize,
    clues_checked: usize,
    hints_taken: usize,
    answers_checked: usize,
    wrong_checked: usize,
    articles: BTreeSet<u64>,
    violations: Vec<String>,
}

#[test]
fn quality_over_many_seeded_rounds() {
    let games = games();
    let corpus = common::sample_corpus();
    let corpus: &dyn Corpus = corpus.as_ref();
    let mut tally = Tally::default();
    let combos = [
        (GameKind::Guess, Level::Easy),
        (GameKind::Guess, Level::Hard),
        (GameKind::Blank, Level::Easy),
        (GameKind::Blank, Level::Hard),
    ];
    let seeds_per_combo = 260u64;
    for (kind, level) in combos {
        let mut state = ChatState::default();
        for seed in 0..seeds_per_combo {
            // Play rounds in one chat (so the recent list is exercised), one
            // new game per seed.
            let start = games.step(&state, &msg(&play_command(kind, level), false), 0, seed);
            let Some(round) = start.state.round().cloned() else {
                tally
                    .violations
                    .push(format!("{kind:?} {level:?} seed {seed}: no round"));
                continue;
            };
            tally.rounds += 1;
            match kind {
                GameKind::Guess => tally.guess_rounds += 1,
                GameKind::Blank => tally.blank_rounds += 1,
            }
            tally.articles.insert(round.source_id);
            let label = format!("{kind:?} {level:?} seed {seed} ({})", round.title);

            // 1. No clue (shown or held back) and no context shows a name.
            let forbidden = forbidden_names(corpus, &round);
            let mut texts: Vec<&str> = round.clues.iter().map(String::as_str).collect();
            texts.push(&round.context);
            for text in &texts {
                tally.clues_checked += 1;
                for name in &forbidden {
                    if reveals(text, name) {
                        tally
                            .violations
                            .push(format!("{label}: {name:?} shown in {text:?}"));
                    }
                }
            }
            let first_reply = &start.replies.last().expect("a clue reply").text;
            if !first_reply.contains(round.clues[0].as_str()) {
                tally
                    .violations
                    .push(format!("{label}: first reply lacks the clue"));
            }

            // 2. Every hint: sentence hints show a checked clue; only letter
            // and word hints may show letters of the answer.
            let mut hinted = start.state.clone();
            for _ in 0..12 {
                let step = games.step(&hinted, &msg("/hint", false), 1_000, seed);
                let Some(after) = step.state.round() else {
                    tally
                        .violations
                        .push(format!("{label}: /hint ended the round"));
                    break;
                };
                let before = hinted.round().map_or(0, |r| r.hints.len());
                if after.hints.len() == before {
                    break; // no hint left
                }
                tally.hints_taken += 1;
                let text = &step.replies[0].text;
                if after.hints.last() == Some(&Hint::Sentence) {
                    let shown = after
                        .clues
                        .get(after.shown as usize - 1)
                        .expect("a shown clue");
                    if !text.contains(shown.as_str()) {
                        tally
                            .violations
                            .push(format!("{label}: hint reply lacks its clue"));
                    }
                    let clue_part = text.split_once('\n').map_or("", |(_, clue)| clue);
                    for name in &forbidden {
                        if reveals(clue_part, name) {
                            tally
                                .violations
                                .push(format!("{label}: hint shows {name:?}: {text:?}"));
                        }
                    }
                }
                hinted = step.state;
            }

            // 3. The answer counts as typed, lowercased, without accents and
            // with one typo; in a group too.
            let mut good = vec![
                round.answer.clone(),
                round.answer.to_lowercase(),
                nlp::fold(&round.answer),
            ];
            if round.answer.chars().filter(|c| c.is_alphanumeric()).count() >= 6 {
                good.extend(typos(&round.answer));
            }
            if kind == GameKind::Guess {
                good.push(round.title.clone());
            }
            for (n, guess) in good.iter().enumerate() {
                tally.answers_checked += 1;
                // Group and direct chats judge alike; check both on the first.
                let modes: &[bool] = if n == 0 { &[false, true] } else { &[false] };
                for &is_group in modes {
                    let step = games.step(&start.state, &msg(guess, is_group), 2_000, seed);
                    if !won(&step) {
                        tally.violations.push(format!(
                            "{label}: {guess:?} not accepted (group {is_group})"
                        ));
                    }
                }
            }

            // 4. Sharing a word is not enough.
            // A word that is itself a name of the answer, or an inflection of
            // one ("statistical" for "Statistics"), is an answer, not a
            // shared word.
            let accepted: Vec<String> = accepted_names(corpus, &round)
                .iter()
                .flat_map(|n| [stems(n), stems(strip_disambiguator(n))])
                .collect();
            let answer_words: Vec<String> =
                round.answer.split_whitespace().map(str::to_owned).collect();
            if answer_words.len() >= 2 {
                for word in &answer_words {
                    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
                    if word.chars().count() < 4 || accepted.contains(&stems(word)) {
                        continue;
                    }
                    for guess in [word.to_owned(), format!("{word} banana")] {
                        tally.wrong_checked += 1;
                        let step = games.step(&start.state, &msg(&guess, true), 2_000, seed);
                        if won(&step) {
                            tally
                                .violations
                                .push(format!("{label}: {guess:?} accepted"));
                        }
                    }
                }
            }
            // Next seed in the same chat: end this round.
            state = games
                .step(&start.state, &msg("/stop", false), 3_000, seed)
                .state;
        }
    }
    println!(
        "quality: {} rounds ({} guess, {} blank) over {} articles; {} clue texts and {} hints checked; \
         {} accepted-answer forms and {} shared-word guesses tried; {} violations",
        tally.rounds,
        tally.guess_rounds,
        tally.blank_rounds,
        tally.articles.len(),
        tally.clues_checked,
        tally.hints_taken,
        tally.answers_checked,
        tally.wrong_checked,
        tally.violations.len()
    );
    assert!(
        tally.violations.is_empty(),
        "{} violations:\n{}",
        tally.violations.len(),
        tally.violations.join("\n")
    );
    assert!(tally.rounds >= 1000, "{tally:?}");
    assert!(tally.guess_rounds >= 500 && tally.blank_rounds >= 500);
    // The pool is used, not one article over and over.
    assert!(
        tally.articles.len() >= 60,
        "only {} articles",
        tally.articles.len()
    );
}

#[test]
fn levels_pick_from_their_inlink_ranges() {
    let games = games();
    let corpus = common::sample_corpus();
    for (level, easy) in [(Level::Easy, true), (Level::Hard, false)] {
        let mut state = ChatState::default();
        for seed in 0..40 {
            let step = games.step(
                &state,
                &msg(&play_command(GameKind::Guess, level), false),
                0,
                seed,
            );
            let round = step.state.round().expect("a round");
            let inlinks = corpus.article(round.source_id).unwrap().inlinks;
            assert_eq!(
                inlinks >= 1,
                easy,
                "{level:?}: {} has {inlinks} in-links",
                round.title
            );
            state = games.step(&step.state, &msg("/stop", false), 1, seed).state;
        }
    }
}

#[test]
fn a_chat_does_not_repeat_articles_until_the_pool_is_used_up() {
    let games = games();
    let mut state = ChatState::default();
    let mut seen = Vec::new();
    let step = games.step(&state, &msg("/play guess easy", false), 0, 1);
    state = step.state;
    for i in 0..30 {
        let round = state.round().expect("a round").clone();
        assert!(
            !seen.contains(&round.source_id),
            "round {i}: {} again",
            round.title
        );
        seen.push(round.source_id);
        state = games.step(&state, &msg("/skip", false), 10 + i, 1).state;
    }
}

#[test]
fn seeded_games_are_reproducible() {
    let games = games();
    let script = [
        "/play",
        "/hint",
        "/hint",
        "/skip",
        "/hint",
        "/play blank hard",
        "/hint",
        "/skip",
        "/score",
    ];
    for seed in [0u64, 1, 42, u64::MAX] {
        let run = || {
            let mut state = ChatState::default();
            let mut replies = Vec::new();
            for (i, text) in script.iter().enumerate() {
                let step = games.step(&state, &msg(text, true), i as i64 * 1000, seed);
                replies.extend(step.replies);
                state = step.state;
            }
            (state, replies)
        };
        let (state_a, replies_a) = run();
        let (state_b, replies_b) = run();
        assert_eq!(state_a, state_b);
        assert_eq!(replies_a, replies_b);
        // A fresh Games over a fresh corpus gives the same game too.
        let other = Games::new(common::sample_corpus(), settings());
        let step = other.step(&ChatState::default(), &msg("/play", true), 0, seed);
        let first = games.step(&ChatState::default(), &msg("/play", true), 0, seed);
        assert_eq!(step, first);
    }
    // Different seeds give different games.
    let a = games.step(&ChatState::default(), &msg("/play", true), 0, 1);
    let b = games.step(&ChatState::default(), &msg("/play", true), 0, 2);
    let c = games.step(&ChatState::default(), &msg("/play", true), 0, 3);
    assert!(a.state.round() != b.state.round() || b.state.round() != c.state.round());
}

#[test]
fn ask_answers_from_the_lead() {
    let games = games();
    let step = games.step(
        &ChatState::default(),
        &msg("who is Abraham Lincoln?", true),
        0,
        0,
    );
    assert_eq!(step.replies.len(), 1);
    let text = &step.replies[0].text;
    assert!(
        text.starts_with("Abraham Lincoln: Abraham Lincoln"),
        "{text}"
    );
    assert!(
        text.ends_with("https://en.wikipedia.org/wiki/Abraham_Lincoln"),
        "{text}"
    );
    // A plain name in a direct chat.
    let step = games.step(&ChatState::default(), &msg("aristotle", false), 0, 0);
    assert!(
        step.replies[0].text.starts_with("Aristotle: "),
        "{}",
        step.replies[0].text
    );
}
