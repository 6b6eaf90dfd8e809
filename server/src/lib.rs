//! The Fraser bot server: messenger webhooks, a durable per-chat queue, game state,
//! replies through a transactional outbox, and a built-in web chat.
//!
//! Layers, from the outside in (DESIGN.md, data flow 2):
//! - **HTTP** ([`app`], [`AppState`]): webhooks verify and parse through an
//!   [`Inbound`] adapter, store the messages with [`Store::enqueue`] and answer at
//!   once; `/healthz`, `/readyz`, `/metrics`; the web chat page and its API.
//! - **Queue** ([`Worker`], [`Sender`]; rules in the `queue` module docs): workers
//!   claim one chat at a time and run its turn in one transaction; senders deliver the
//!   outbox through each platform's [`Messenger`], in order per chat, with retries.
//! - **Store** ([`Store`]: [`PgStore`] in production, [`SqliteStore`] embedded).
//! - **Game** ([`Game`]): pure state transitions, called once per message.
//!
//! ```no_run
//! use std::sync::Arc;
//! # struct MyGame;
//! # impl server::Game for MyGame {
//! #     fn step(&self, input: server::TurnInput<'_>) -> server::TurnOutput {
//! #         server::TurnOutput::default()
//! #     }
//! # }
//! # async fn start() -> Result<(), server::RunError> {
//! let config = server::Config::load_from(std::env::args_os()).expect("bad configuration");
//! server::init_tracing(config.log_format);
//! let game: Arc<dyn server::Game> = Arc::new(MyGame);
//! server::run(config, game, server::always_ready(), Vec::new(), server::shutdown_signal()).await
//! # }
//! ```
#![warn(missing_docs)]

mod clock;
mod config;
mod error;
mod game;
mod http;
pub mod messenger;
mod metrics;
mod model;
mod queue;
mod reload;
mod run;
mod store;
mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod wordgames;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, ConfigError, LogFormat};
pub use error::AppError;
pub use game::{Game, ScoreDelta, TurnInput, TurnOutput, turn_seed};
pub use http::{AppState, ReadinessHook, always_ready, app};
pub use messenger::{
    AuthError, Inbound, Messenger, Messengers, ParseError, PlatformAdapter, RegisterError,
    SendOutcome, WebMessenger, WebhookResponse,
};
pub use metrics::Metrics;
pub use model::{Button, ChatAddress, InboundMessage, PlayerScore, Reply, Timestamp};
pub use queue::{QueueSettings, Sender, Worker, backoff, split_reply};
pub use reload::{OpenIndexError, OpenedIndex, open_index, watch_index};
pub use run::{RunError, Server, run, shutdown_signal};
pub use store::{
    BoxFuture, ChatState, Enqueued, OutboxClaim, OutboxEntry, OutboxStatus, PgStore, RetryKind,
    SqliteStore, Store, StoreError, StoreOptions, StoreStats, TurnClaim, TurnDone, Wakeups,
    WebReply, open_store, redact_url,
};
pub use telemetry::{DEFAULT_LOG_FILTER, init_tracing};
pub use wordgames::{IndexCorpus, IndexStatus, WordGames};
