//! Server configuration: flags, environment variables and an optional TOML file, with
//! precedence file < environment < flags. Every environment variable is `FRASER_*`
//! except the standard `DATABASE_URL` (and `RUST_LOG` for log filtering).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::queue::QueueSettings;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Settings of `fraser serve`.
#[derive(Debug, Clone, PartialEq, Parser, Serialize)]
#[command(
    name = "fraser-serve",
    about = "Serve Fraser's word games to chat users"
)]
#[non_exhaustive]
pub struct Config {
    /// Optional TOML file with any of these settings (keys as the flags with `_`
    /// instead of `-`); flags and environment variables override it.
    #[arg(long, env = "FRASER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Index directory built by `fraser build`, read by the games.
    #[arg(long, env = "FRASER_INDEX", value_name = "DIR")]
    pub index: Option<PathBuf>,

    /// Seconds between looks for a new build of the index directory (its
    /// `manifest.json` replaced, or a symlink pointed elsewhere), swapped in without
    /// a restart; 0 turns the watch off.
    #[arg(
        long,
        env = "FRASER_INDEX_RELOAD_SECS",
        value_name = "SECS",
        default_value_t = 5
    )]
    pub index_reload_secs: u64,

    /// Database: `postgres://user@host/db` (production, many servers) or
    /// `sqlite://FILE` (one machine; the file is created if missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        value_name = "URL",
        default_value = "sqlite://fraser.sqlite",
        hide_env_values = true
    )]
    #[serde(skip)]
    pub database_url: String,

    /// Address to listen on for webhooks, the web chat, health and metrics.
    #[arg(
        long,
        env = "FRASER_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// Turn workers in this server (each runs one chat's turn at a time).
    #[arg(long, env = "FRASER_WORKERS", value_name = "N", default_value_t = 4)]
    pub workers: usize,

    /// Reply senders in this server (each delivers a batch of chats in parallel).
    #[arg(long, env = "FRASER_SENDERS", value_name = "N", default_value_t = 1)]
    pub senders: usize,

    /// Chats a worker claims at once; their turns commit together, each turn still all
    /// or nothing (1: one turn per commit).
    #[arg(
        long,
        env = "FRASER_TURN_BATCH",
        value_name = "N",
        default_value_t = 32
    )]
    pub turn_batch: u32,

    /// Replies a sender claims per round (at most one per chat, sent concurrently) and
    /// marks delivered with one update.
    #[arg(
        long,
        env = "FRASER_SEND_BATCH",
        value_name = "N",
        default_value_t = 128
    )]
    pub send_batch: u32,

    /// Maximum database connections of this server.
    #[arg(
        long,
        env = "FRASER_DB_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = 16
    )]
    pub db_max_connections: u32,

    /// Seconds a worker holds a chat; after that, another server may take the turn over.
    #[arg(
        long,
        env = "FRASER_TURN_LEASE_SECS",
        value_name = "SECS",
        default_value_t = 30
    )]
    pub turn_lease_secs: u64,

    /// Milliseconds between looks for work when no wake-up arrives.
    #[arg(
        long,
        env = "FRASER_POLL_INTERVAL_MS",
        value_name = "MS",
        default_value_t = 1000
    )]
    pub poll_interval_ms: u64,

    /// Milliseconds a worker waits after a wake-up (or a batch that was not full)
    /// before it claims, so that messages arriving meanwhile share its claim and
    /// commit: fewer, larger transactions under moderate load, at the cost of this
    /// much added turn latency. 0 claims at once.
    #[arg(
        long,
        env = "FRASER_TURN_LINGER_MS",
        value_name = "MS",
        default_value_t = DEFAULT_TURN_LINGER_MS
    )]
    pub turn_linger_ms: u64,

    /// The same for reply senders: milliseconds to wait after a wake-up (or a round
    /// that was not full) before claiming replies. 0 claims at once.
    #[arg(
        long,
        env = "FRASER_SEND_LINGER_MS",
        value_name = "MS",
        default_value_t = DEFAULT_SEND_LINGER_MS
    )]
    pub send_linger_ms: u64,

    /// Attempts at a message's turn before it is dead-lettered.
    #[arg(
        long,
        env = "FRASER_MAX_TURN_ATTEMPTS",
        value_name = "N",
        default_value_t = 5
    )]
    pub max_turn_attempts: i32,

    /// Seconds one send to a platform may take before it counts as failed.
    #[arg(
        long,
        env = "FRASER_SEND_TIMEOUT_SECS",
        value_name = "SECS",
        default_value_t = 10
    )]
    pub send_timeout_secs: u64,

    /// Failed sends of a reply before it is dead-lettered.
    #[arg(
        long,
        env = "FRASER_MAX_SEND_FAILURES",
        value_name = "N",
        default_value_t = 8
    )]
    pub max_send_failures: i32,

    /// Days finished messages are kept (the de-duplication memory for redeliveries).
    #[arg(
        long,
        env = "FRASER_RETENTION_DAYS",
        value_name = "DAYS",
        default_value_t = 7
    )]
    pub retention_days: u64,

    /// Largest accepted request body in bytes (larger webhooks get 413).
    #[arg(long, env = "FRASER_MAX_BODY_BYTES", value_name = "BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,

    /// Seconds to finish in-flight turns and sends at shutdown.
    #[arg(
        long,
        env = "FRASER_SHUTDOWN_GRACE_SECS",
        value_name = "SECS",
        default_value_t = 20
    )]
    pub shutdown_grace_secs: u64,

    /// Serve the built-in web chat at `/`.
    #[arg(
        long,
        env = "FRASER_WEB_CHAT",
        value_name = "BOOL",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub web_chat: bool,

    /// Log format. Set by the `fraser` command's global `--log-format` flag
    /// (`FRASER_LOG_FORMAT`), or by `log_format` in the TOML file.
    #[arg(skip = LogFormat::Human)]
    pub log_format: LogFormat,
}

/// The TOML file: the same settings, all optional. `database_url` is accepted but
/// secrets belong in the environment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    index: Option<PathBuf>,
    index_reload_secs: Option<u64>,
    database_url: Option<String>,
    listen: Option<SocketAddr>,
    workers: Option<usize>,
    senders: Option<usize>,
    turn_batch: Option<u32>,
    send_batch: Option<u32>,
    db_max_connections: Option<u32>,
    turn_lease_secs: Option<u64>,
    poll_interval_ms: Option<u64>,
    turn_linger_ms: Option<u64>,
    send_linger_ms: Option<u64>,
    max_turn_attempts: Option<i32>,
    send_timeout_secs: Option<u64>,
    max_send_failures: Option<i32>,
    retention_days: Option<u64>,
    max_body_bytes: Option<usize>,
    shutdown_grace_secs: Option<u64>,
    web_chat: Option<bool>,
    log_format: Option<LogFormat>,
}

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Bad flags or environment variables (the message is clap's, with usage).
    #[error(transparent)]
    Args(#[from] clap::Error),
    /// The config file cannot be read.
    #[error("failed to read config file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid (unknown keys are errors).
    #[error("invalid config file {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A value is out of range.
    #[error("invalid setting {name}: {reason}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl Config {
    /// Reads flags from `args` (the first item is the program name), environment
    /// variables and the config file, with precedence file < environment < flags.
    pub fn load_from<I, T>(args: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Config::command().try_get_matches_from(args)?;
        Config::from_matches(&matches)
    }

    /// Builds the configuration from already parsed matches (for a CLI that embeds
    /// these flags in a subcommand), applying the config file.
    pub fn from_matches(matches: &ArgMatches) -> Result<Config, ConfigError> {
        let mut config = Config::from_arg_matches(matches)?;
        if let Some(path) = config.config.clone() {
            let file = read_file(&path)?;
            config.apply_file(file, matches);
        }
        config.validate()?;
        Ok(config)
    }

    /// Returns the defaults (as with no flags, environment or file).
    pub fn defaults() -> Config {
        let matches = Config::command()
            .no_binary_name(true)
            .get_matches_from(Vec::<String>::new());
        Config::from_arg_matches(&matches).unwrap_or_else(|error| panic!("defaults: {error}"))
    }

    fn apply_file(&mut self, file: FileConfig, matches: &ArgMatches) {
        // A value from the file wins only over a default.
        let explicit = |id: &str| {
            matches!(
                matches.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        macro_rules! merge {
            ($($field:ident),* $(,)?) => {$(
                if let Some(value) = file.$field
                    && !explicit(stringify!($field))
                {
                    self.$field = value;
                }
            )*};
        }
        merge!(
            database_url,
            listen,
            workers,
            senders,
            turn_batch,
            send_batch,
            db_max_connections,
            turn_lease_secs,
            poll_interval_ms,
            turn_linger_ms,
            send_linger_ms,
            max_turn_attempts,
            send_timeout_secs,
            max_send_failures,
            retention_days,
            max_body_bytes,
            shutdown_grace_secs,
            web_chat,
        );
        if let Some(log_format) = file.log_format {
            self.log_format = log_format;
        }
        if let Some(index) = file.index
            && !explicit("index")
        {
            self.index = Some(index);
        }
        if let Some(secs) = file.index_reload_secs
            && !explicit("index_reload_secs")
        {
            self.index_reload_secs = secs;
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = |name: &'static str, value: u64| {
            if value == 0 {
                Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".into(),
                })
            } else {
                Ok(())
            }
        };
        positive("workers", self.workers as u64)?;
        positive("senders", self.senders as u64)?;
        positive("db_max_connections", u64::from(self.db_max_connections))?;
        positive("turn_lease_secs", self.turn_lease_secs)?;
        positive("poll_interval_ms", self.poll_interval_ms)?;
        positive("send_timeout_secs", self.send_timeout_secs)?;
        positive("max_turn_attempts", self.max_turn_attempts.max(0) as u64)?;
        positive("max_send_failures", self.max_send_failures.max(0) as u64)?;
        for (name, value) in [
            ("turn_batch", self.turn_batch),
            ("send_batch", self.send_batch),
        ] {
            if !(1..=MAX_BATCH).contains(&value) {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!("must be between 1 and {MAX_BATCH}"),
                });
            }
        }
        for (name, value) in [
            ("turn_linger_ms", self.turn_linger_ms),
            ("send_linger_ms", self.send_linger_ms),
        ] {
            if value > MAX_LINGER_MS {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!("must be at most {MAX_LINGER_MS}"),
                });
            }
        }
        if self.send_timeout_secs * 2 > 60 {
            return Err(ConfigError::Invalid {
                name: "send_timeout_secs",
                reason: "must be at most 30 (a send must finish well within its 60 s lease)".into(),
            });
        }
        Ok(())
    }

    /// The queue settings these options imply.
    pub fn queue_settings(&self) -> QueueSettings {
        QueueSettings {
            turn_lease: Duration::from_secs(self.turn_lease_secs),
            turn_batch: self.turn_batch,
            send_batch: self.send_batch,
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            turn_linger: Duration::from_millis(self.turn_linger_ms),
            send_linger: Duration::from_millis(self.send_linger_ms),
            max_turn_attempts: self.max_turn_attempts,
            send_timeout: Duration::from_secs(self.send_timeout_secs),
            max_send_failures: self.max_send_failures,
            ..QueueSettings::default()
        }
    }
}

/// Default of `turn_linger_ms`.
const DEFAULT_TURN_LINGER_MS: u64 = 10;
/// Default of `send_linger_ms`.
const DEFAULT_SEND_LINGER_MS: u64 = 5;
/// Longest linger: a wait past this is a misconfiguration, not batching.
const MAX_LINGER_MS: u64 = 1_000;

/// Largest `turn_batch` and `send_batch`: a batch is one transaction (turns) or one
/// round of concurrent sends, so it must stay well within a lease.
const MAX_BATCH: u32 = 1024;

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::Parse {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe() {
        let command = Config::command();
        let default_of = |id: &str| {
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_id() == id)
                .unwrap();
            arg.get_default_values()[0].to_str().unwrap().to_string()
        };
        // DATABASE_URL may be set in the test environment, so read the declared default.
        assert_eq!(default_of("database_url"), "sqlite://fraser.sqlite");
        assert_eq!(default_of("listen"), "127.0.0.1:8080");
        let config = Config::defaults();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.workers, 4);
        assert!(config.web_chat);
        assert_eq!(config.log_format, LogFormat::Human);
        assert_eq!(Config::load_from(["fraser-serve"]).unwrap().workers, 4);
    }

    #[test]
    fn precedence_is_file_then_env_then_flags() {
        let dir = std::env::temp_dir().join(format!("fraser-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(
            &path,
            "workers = 7\nsenders = 3\nlisten = \"0.0.0.0:9000\"\nlog_format = \"json\"\n\
             web_chat = false\nindex = \"/srv/index\"\n",
        )
        .unwrap();
        let path_text = path.to_str().unwrap();
        // File only.
        let config = Config::load_from(["fraser-serve", "--config", path_text]).unwrap();
        assert_eq!((config.workers, config.senders), (7, 3));
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(!config.web_chat);
        assert_eq!(config.index, Some(PathBuf::from("/srv/index")));
        // Flags beat the file.
        let config = Config::load_from([
            "fraser-serve",
            "--config",
            path_text,
            "--workers",
            "2",
            "--web-chat",
            "true",
        ])
        .unwrap();
        assert_eq!((config.workers, config.senders), (2, 3));
        assert!(config.web_chat);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn environment_beats_file_and_flags_beat_environment() {
        let dir = std::env::temp_dir().join(format!("fraser-config-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, "shutdown_grace_secs = 7\n").unwrap();
        // SAFETY: no other test reads FRASER_SHUTDOWN_GRACE_SECS, and this test sets it
        // only around its own two loads.
        unsafe { std::env::set_var("FRASER_SHUTDOWN_GRACE_SECS", "9") };
        let from_env = Config::load_from(["fraser-serve", "--config", path.to_str().unwrap()]);
        let from_flag = Config::load_from([
            "fraser-serve",
            "--config",
            path.to_str().unwrap(),
            "--shutdown-grace-secs",
            "11",
        ]);
        // SAFETY: as above.
        unsafe { std::env::remove_var("FRASER_SHUTDOWN_GRACE_SECS") };
        assert_eq!(from_env.unwrap().shutdown_grace_secs, 9);
        assert_eq!(from_flag.unwrap().shutdown_grace_secs, 11);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lingers_default_and_are_bounded() {
        let defaults = Config::defaults();
        assert_eq!((defaults.turn_linger_ms, defaults.send_linger_ms), (10, 5));
        let settings = defaults.queue_settings();
        assert_eq!(settings.turn_linger, Duration::from_millis(10));
        assert_eq!(settings.send_linger, Duration::from_millis(5));
        let off = Config::load_from([
            "fraser-serve",
            "--turn-linger-ms",
            "0",
            "--send-linger-ms",
            "0",
        ])
        .unwrap()
        .queue_settings();
        assert!(off.turn_linger.is_zero() && off.send_linger.is_zero());
        let too_long = Config::load_from(["fraser-serve", "--send-linger-ms", "1001"]);
        assert!(matches!(
            too_long.unwrap_err(),
            ConfigError::Invalid {
                name: "send_linger_ms",
                ..
            }
        ));
    }

    #[test]
    fn batch_sizes_follow_file_env_flag_precedence() {
        let dir = std::env::temp_dir().join(format!("fraser-config-batch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, "turn_batch = 8\nsend_batch = 64\n").unwrap();
        let path_text = path.to_str().unwrap();
        let defaults = Config::defaults();
        assert_eq!((defaults.turn_batch, defaults.send_batch), (32, 128));
        let from_file = Config::load_from(["fraser-serve", "--config", path_text]).unwrap();
        assert_eq!((from_file.turn_batch, from_file.send_batch), (8, 64));
        let settings = from_file.queue_settings();
        assert_eq!((settings.turn_batch, settings.send_batch), (8, 64));
        // SAFETY: no other test reads FRASER_TURN_BATCH or FRASER_SEND_BATCH, and this
        // test sets them only around its own loads.
        unsafe {
            std::env::set_var("FRASER_TURN_BATCH", "16");
            std::env::set_var("FRASER_SEND_BATCH", "100");
        }
        let from_env = Config::load_from(["fraser-serve", "--config", path_text]);
        let from_flag =
            Config::load_from(["fraser-serve", "--config", path_text, "--send-batch", "256"]);
        let too_big = Config::load_from(["fraser-serve", "--turn-batch", "5000"]);
        // SAFETY: as above.
        unsafe {
            std::env::remove_var("FRASER_TURN_BATCH");
            std::env::remove_var("FRASER_SEND_BATCH");
        }
        let from_env = from_env.unwrap();
        assert_eq!((from_env.turn_batch, from_env.send_batch), (16, 100));
        let from_flag = from_flag.unwrap();
        assert_eq!((from_flag.turn_batch, from_flag.send_batch), (16, 256));
        assert!(matches!(
            too_big.unwrap_err(),
            ConfigError::Invalid {
                name: "turn_batch",
                ..
            }
        ));
        let zero = Config::load_from(["fraser-serve", "--send-batch", "0"]).unwrap_err();
        assert!(matches!(
            zero,
            ConfigError::Invalid {
                name: "send_batch",
                ..
            }
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_errors() {
        let dir = std::env::temp_dir().join(format!("fraser-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, "wokers = 7\n").unwrap();
        let error =
            Config::load_from(["fraser-serve", "--config", path.to_str().unwrap()]).unwrap_err();
        assert!(matches!(error, ConfigError::Parse { .. }), "{error}");
        assert!(error.to_string().contains("wokers"));
        let error = Config::load_from(["fraser-serve", "--workers", "0"]).unwrap_err();
        assert!(matches!(
            error,
            ConfigError::Invalid {
                name: "workers",
                ..
            }
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn example_file_parses() {
        let text = include_str!("../../config.example.toml");
        let file: FileConfig = toml::from_str(text).unwrap();
        assert_eq!(file.workers, Some(4));
        assert_eq!((file.turn_batch, file.send_batch), (Some(32), Some(128)));
        assert_eq!(
            (file.turn_linger_ms, file.send_linger_ms),
            (Some(DEFAULT_TURN_LINGER_MS), Some(DEFAULT_SEND_LINGER_MS))
        );
    }
}
