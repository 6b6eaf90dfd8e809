//! Library half of the `fraser` command line: argument definitions and one
//! module per subcommand. The binary (`src/main.rs`) only parses arguments,
//! installs logging and maps errors to exit codes; everything here is glue
//! over the `dump`, `nlp`, `index` and `server` crates.

pub mod args;
pub mod cmd;
pub mod json;
pub mod logging;
pub mod output;
pub mod parts;
pub mod pipeline;
pub mod progress;

use std::process::ExitCode;

use args::{Cli, Command};

/// Runs one parsed command line and returns the process exit code; `matches`
/// are the raw matches (the server settings need them to rank file, env and flags).
pub fn run(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Extract(args) => cmd::extract::run(&args, cli.quiet),
        Command::Sentences(args) => cmd::sentences::run(&args),
        Command::Build(args) => cmd::build::run(&args, cli.quiet),
        Command::Merge(args) => cmd::build::merge(&args, cli.quiet),
        Command::Query(args) => cmd::query::run(&args),
        Command::Verify(args) => cmd::query::verify(&args),
        Command::Serve(_) => {
            let matches = matches
                .subcommand_matches("serve")
                .ok_or_else(|| anyhow::anyhow!("serve settings missing"))?;
            cmd::serve::run(matches)
        }
        Command::Chat(args) => cmd::chat::run(&args),
        Command::Webhook(args) => cmd::webhook::run(&args),
    }
}
