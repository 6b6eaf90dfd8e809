//! Command-line arguments (clap derive). The doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Fraser: Wikipedia dumps to NLP data and an index, and the word-game chat bot that plays on it.
#[derive(Debug, Parser)]
#[command(name = "fraser", version, about, long_about = None)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "FRASER_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Print only warnings and errors (no progress bar, no summary).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Extract clean text from a dump as JSON lines (WikiExtractor-compatible or rich).
    ///
    /// Reads a MediaWiki XML dump (plain, .bz2, .bz2 multistream, .gz, .zst, or `-` for stdin;
    /// the format is detected from the first bytes) and writes one JSON object per article.
    /// Output is byte-identical whatever the thread count.
    ///
    /// Examples:
    ///   fraser extract enwiki-latest-pages-articles.xml.bz2 -o enwiki.jsonl
    ///   fraser extract dump.xml.zst --format rich --no-tokens | head
    ///   bzcat dump.xml.bz2 | fraser extract - -o text.jsonl
    #[command(verbatim_doc_comment)]
    Extract(ExtractArgs),
    /// Split text from stdin into sentences (one per line, or a JSON array with --json).
    Sentences(SentencesArgs),
}

/// Arguments of `fraser extract`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The dump: a file path, or `-` for stdin.
    pub dump: String,
    /// Output file (written to a temporary name and renamed on success); stdout when absent.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Output layout.
    #[arg(long, value_enum, default_value_t = ExtractFormat::Wikiextractor)]
    pub format: ExtractFormat,
    /// Namespaces to extract, comma-separated (0 = articles).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub namespaces: Vec<i32>,
    /// Also write redirect pages (skipped by default).
    #[arg(long)]
    pub redirects: bool,
    /// Worker threads (0 = all cores).
    #[arg(long, short = 'j', default_value_t = 0, env = "FRASER_THREADS")]
    pub threads: usize,
    /// The multistream index (`...-multistream-index.txt.bz2`); found next to the dump when absent.
    #[arg(long)]
    pub multistream_index: Option<PathBuf>,
    /// Rich format: leave out the token lists.
    #[arg(long)]
    pub no_tokens: bool,
    /// Rich format: leave out the stem lists.
    #[arg(long)]
    pub no_stems: bool,
    /// Language for sentence rules and stemming (e.g. en, de, el); taken from the dump's
    /// siteinfo when absent, English when the dump does not say.
    #[arg(long)]
    pub lang: Option<String>,
    /// Seconds allowed to parse one page before it is skipped and reported.
    #[arg(long, default_value_t = 5.0)]
    pub page_timeout: f64,
}

/// Output layout of `fraser extract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExtractFormat {
    /// WikiExtractor's `--json` keys: {id, revid, url, title, text}.
    Wikiextractor,
    /// Sections, sentences (with tokens and stems), links, entities.
    Rich,
}

/// Arguments of `fraser sentences`.
#[derive(Debug, Args)]
pub struct SentencesArgs {
    /// Language of the sentence rules.
    #[arg(long, default_value = "en")]
    pub lang: String,
    /// Print one JSON array of sentence strings instead of one sentence per line.
    #[arg(long)]
    pub json: bool,
}
