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
    /// Build an index directory from a dump (shards, global fsts, manifest).
    ///
    /// One streaming pass, parallel, with bounded memory. The index appears under --out only
    /// when complete; an existing index there is replaced only on success. The bytes are the
    /// same whatever --threads is.
    ///
    /// With --part I/N, builds only part I of N of a multistream dump (split on its index's
    /// stream offsets) into a part file at --out; `fraser merge` combines the parts into the
    /// same index a single build gives.
    ///
    /// Examples:
    ///   fraser build enwiki-latest-pages-articles-multistream.xml.bz2 --out /srv/fraser/enwiki
    ///   fraser build dump.xml.bz2 --part 2/8 --out parts/part-2.fpart
    #[command(verbatim_doc_comment)]
    Build(BuildArgs),
    /// Merge part files made by `fraser build --part I/N` into one index directory.
    Merge(MergeArgs),
    /// Look things up in an index directory; prints JSON, exits 1 when nothing is found.
    Query(QueryArgs),
    /// Check every checksum of an index directory; non-zero exit on any damage.
    Verify(VerifyArgs),
    /// Run the chat bot server: webhooks, web chat, game workers and senders.
    ///
    /// Settings come from a TOML file (--config), then the environment, then flags. The store
    /// is an SQLite file in the working directory unless --database-url / DATABASE_URL is a
    /// postgres:// URL. Open http://127.0.0.1:8080/ for the built-in web chat.
    ///
    /// Example:
    ///   fraser serve --index out/enwiki-index
    #[command(verbatim_doc_comment)]
    Serve(ServeArgs),
    /// Play in the terminal against an index (no server, no messenger account needed).
    Chat(ChatArgs),
    /// Messenger webhooks: list the configured platforms, register a webhook URL.
    ///
    /// Platforms are configured by environment variables (FRASER_TELEGRAM_TOKEN, ...; see the
    /// README); the same variables `fraser serve` reads.
    ///
    /// Examples:
    ///   fraser webhook list
    ///   fraser webhook register telegram --url https://bot.example.org/webhooks/telegram
    #[command(verbatim_doc_comment)]
    Webhook(WebhookArgs),
}

/// Arguments of `fraser webhook`.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: WebhookAction,
}

/// `fraser webhook` actions.
#[derive(Debug, Subcommand)]
pub enum WebhookAction {
    /// Print the platforms whose settings are present, with their webhook paths.
    List,
    /// Tell a platform to deliver its webhooks to URL, through the platform's own API
    /// (Telegram setWebhook with the secret, Viber set_webhook, LINE endpoint, Discord
    /// interactions endpoint and slash commands). Platforms without such an API say where
    /// to enter the URL instead.
    Register {
        /// The platform: telegram, whatsapp, slack, line, discord, messenger, viber,
        /// botframework.
        platform: String,
        /// The public HTTPS URL of this server's webhook, normally
        /// https://HOST/webhooks/PLATFORM.
        #[arg(long)]
        url: String,
    },
}

/// Arguments of `fraser serve` (the server's own settings).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The server settings.
    #[command(flatten)]
    pub config: server::Config,
}

/// Arguments of `fraser chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The index directory.
    #[arg(long, env = "FRASER_INDEX")]
    pub index: PathBuf,
    /// Your name in the game.
    #[arg(long, default_value = "you")]
    pub name: String,
    /// Seed of the first turn (games are reproducible for a seed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Arguments of `fraser build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The dump: a file path, or `-` for stdin.
    pub dump: String,
    /// The index directory to write (or the part file with --part).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Worker threads (0 = all cores).
    #[arg(long, short = 'j', default_value_t = 0, env = "FRASER_THREADS")]
    pub threads: usize,
    /// Uncompressed record bytes per shard.
    #[arg(long, default_value = "64MiB", value_parser = parse_bytes)]
    pub shard_size: u64,
    /// Memory for the sorted runs of the global files; more is spilled to disk and merged.
    #[arg(long, default_value = "1GiB", value_parser = parse_bytes)]
    pub memory: u64,
    /// Build only part I of N of a multistream dump into a part file (see `fraser merge`).
    #[arg(long, value_name = "I/N")]
    pub part: Option<String>,
    /// The multistream index (`...-multistream-index.txt.bz2`); found next to the dump when absent.
    #[arg(long)]
    pub multistream_index: Option<PathBuf>,
    /// Language for sentence rules and stemming; from the dump's siteinfo when absent.
    #[arg(long)]
    pub lang: Option<String>,
    /// Seconds allowed to parse one page before it is stored empty and reported.
    #[arg(long, default_value_t = 5.0)]
    pub page_timeout: f64,
}

/// Arguments of `fraser merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The part files, every part of one split exactly once (any order).
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// The index directory to write.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Uncompressed record bytes per shard (use the same value as a single build would).
    #[arg(long, default_value = "64MiB", value_parser = parse_bytes)]
    pub shard_size: u64,
    /// Memory for the sorted runs of the global files.
    #[arg(long, default_value = "1GiB", value_parser = parse_bytes)]
    pub memory: u64,
}

/// Arguments of `fraser query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The index directory.
    pub dir: PathBuf,
    /// Read files with pread instead of mmap (for filesystems where mmap is unsafe or slow).
    #[arg(long)]
    pub no_mmap: bool,
    /// What to look up.
    #[command(subcommand)]
    pub query: Query,
}

/// The lookups of `fraser query`.
#[derive(Debug, Subcommand)]
pub enum Query {
    /// An article by exact title (case, accents and underscores ignored; redirects followed).
    Title {
        /// The title.
        text: String,
        /// Print the whole article, not only its first sentences.
        #[arg(long)]
        full: bool,
    },
    /// Titles within an edit distance of TEXT.
    Fuzzy {
        /// The misspelt title.
        text: String,
        /// Maximum edit distance (1 or 2).
        #[arg(long, default_value_t = 2)]
        distance: u32,
        /// Maximum results.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Titles starting with TEXT.
    Prefix {
        /// The prefix.
        text: String,
        /// Maximum results.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Sentences containing every word of TEXT (stemmed).
    Search {
        /// The words.
        text: String,
        /// Maximum results.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Entity mentions in free text, with candidate articles.
    Link {
        /// The text.
        text: String,
    },
    /// A random article (with filters), reproducible with --seed.
    Random {
        /// Seed of the choice.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Minimum sentences.
        #[arg(long, default_value_t = 0)]
        min_sentences: u32,
        /// Minimum in-links.
        #[arg(long, default_value_t = 0)]
        min_inlinks: u32,
    },
    /// The manifest's counts and source.
    Stats,
}

/// Arguments of `fraser verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The index directory.
    pub dir: PathBuf,
}

/// Parses a byte size: `1048576`, `64MiB`, `1GiB`, `512M`, `2G`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("not a size: {text:?} (e.g. 64MiB, 1GiB, 1048576)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {text:?} (use KiB, MiB, GiB)"
            ));
        }
    };
    number
        .checked_mul(scale)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("size out of range: {text:?}"))
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
