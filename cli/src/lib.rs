//! Library half of the `fraser` command line: argument definitions and one
//! module per subcommand. The binary (`src/main.rs`) only parses arguments,
//! installs logging and maps errors to exit codes; everything here is glue
//! over the `dump`, `nlp`, `index` and `server` crates.

pub mod args;
pub mod cmd;
pub mod logging;
pub mod output;
pub mod pipeline;
pub mod progress;

use std::process::ExitCode;

use args::{Cli, Command};

/// Runs one parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Extract(args) => cmd::extract::run(&args, cli.quiet),
        Command::Sentences(args) => cmd::sentences::run(&args),
    }
}
