//! `fraser chat`: play the games in the terminal.
//!
//! Each line typed is one chat message; the game runs in-process over the
//! index, with the same rules and wording as on the messengers.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::args::ChatArgs;
use crate::cmd::serve::open_index;

/// Runs the terminal chat until end of input.
pub fn run(args: &ChatArgs) -> anyhow::Result<ExitCode> {
    let index = open_index(&args.index)?.index;
    let corpus = server::IndexCorpus::new(index);
    let settings = corpus.settings();
    let games = game::Games::new(std::sync::Arc::new(corpus), settings);
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut state = game::ChatState::default();
    writeln!(
        out,
        "Type /help for the commands, /play to start; Ctrl-D ends."
    )?;
    out.flush()?;
    for (turn, line) in stdin.lock().lines().enumerate() {
        let text = line.context("failed to read stdin")?;
        if text.trim().is_empty() {
            continue;
        }
        let message = game::Message {
            sender_id: "terminal".to_owned(),
            sender_name: args.name.clone(),
            text,
            is_group: false,
            platform: "terminal".to_owned(),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let seed = args.seed.wrapping_add(turn as u64);
        let step = games.step(&state, &message, now, seed);
        state = step.state;
        for reply in step.replies {
            writeln!(out, "{}", reply.text)?;
            if !reply.buttons.is_empty() {
                let buttons: Vec<&str> = reply.buttons.iter().map(|b| b.command.as_str()).collect();
                writeln!(out, "  [{}]", buttons.join("] ["))?;
            }
        }
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
