//! `fraser sentences`: splits text from stdin into sentences.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;

use crate::args::SentencesArgs;

/// Reads all of stdin and prints its sentences.
pub fn run(args: &SentencesArgs) -> anyhow::Result<ExitCode> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("failed to read stdin as UTF-8 text")?;
    let splitter = nlp::SentenceSplitter::new(nlp::Language::from_code(&args.lang));
    let sentences: Vec<&str> = splitter
        .split(&text)
        .into_iter()
        .map(|range| &text[range])
        .collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        serde_json::to_writer(&mut out, &sentences).context("failed to write JSON")?;
        out.write_all(b"\n")?;
    } else {
        for sentence in sentences {
            // One sentence per line: line breaks inside a sentence become spaces.
            let line: String = sentence
                .chars()
                .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
                .collect();
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
