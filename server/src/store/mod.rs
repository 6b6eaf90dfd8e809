//! Durable state: the inbox queue, chats and players, the outbox, web chat replies.
//!
//! [`Store`] is the contract; `postgres.rs` (production) and `sqlite.rs` (the embedded
//! default) implement it, and one contract test suite (`tests/store_contract.rs`) runs
//! against both. The schema lives in `migrations/{postgres,sqlite}`.
//!
//! Times that the queue compares (`*_ms` columns) come from the server's
//! [`Clock`](crate::Clock) and are passed in as `now`; `created_at`/`updated_at` are the
//! database's.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::game::Game;
use crate::model::{ChatAddress, InboundMessage, PlayerScore, Reply, Timestamp};

pub(crate) mod postgres;
pub(crate) mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// A boxed future, so that [`Store`] and [`Messenger`](crate::Messenger) stay object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database cannot be reached (connection refused, pool timeout, restart).
    /// Callers answer 503 and retry; the pool reconnects by itself.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The claim was taken over by another worker after its lease expired (or was
    /// released): nothing was written. The other worker does the work.
    #[error("claim lost to another worker (fenced out)")]
    Fenced,
    /// The game step panicked; the turn was rolled back.
    #[error("{0}")]
    Game(String),
    /// Stored data that cannot be decoded (a bug or a manual edit).
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// Any other database error.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// Migrations failed at start-up.
    #[error("failed to apply migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The database URL names no supported store.
    #[error("unsupported database url scheme (expected postgres:// or sqlite:)")]
    UnsupportedUrl,
}

impl StoreError {
    /// Whether the error means the database is unreachable (answer 503, retry later).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error),
            sqlx::Error::Database(db_error)
                if db_error.code().is_some_and(|code| {
                    // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now,
                    // 08xxx connection exceptions: the server is restarting or gone.
                    code.starts_with("08") || code.starts_with("57P")
                }) =>
            {
                StoreError::Unavailable(error)
            }
            _ => StoreError::Database(error),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> StoreError {
        StoreError::Corrupt {
            table: "json column",
            reason: error.to_string(),
        }
    }
}

/// Whether an enqueued message was new or a redelivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored; a worker will run its turn.
    New,
    /// Already stored earlier (same platform and message id): nothing changed.
    Duplicate,
}

/// A worker's hold on the oldest pending message of one chat.
///
/// While the lease runs, no other worker claims any message of that chat. A worker
/// whose lease expired is fenced out: `token` no longer matches and its writes fail
/// with [`StoreError::Fenced`].
#[derive(Debug, Clone, PartialEq)]
pub struct TurnClaim {
    /// The inbox row.
    pub inbox_id: i64,
    /// The chat's claim counter at the time of this claim (the fencing token).
    pub token: i64,
    /// How many times this message has been claimed, this claim included.
    pub attempts: i32,
    /// The message.
    pub message: InboundMessage,
    /// When the lease ends.
    pub lease_until: Timestamp,
}

/// The outcome of a committed turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnDone {
    /// The chat's state version after the turn.
    pub version: i64,
    /// How many replies went to the outbox.
    pub replies: usize,
}

/// A sender's hold on the first unsent reply of one chat.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxClaim {
    /// The outbox row; within a chat, replies are sent in id order.
    pub id: i64,
    /// Fencing token (the row's claim counter).
    pub token: i64,
    /// Where to send.
    pub address: ChatAddress,
    /// What to send.
    pub reply: Reply,
    /// Claims so far, this one included.
    pub attempts: i32,
    /// Failed sends so far (rate limiting not counted).
    pub failures: i32,
    /// Parts of a split reply already delivered by an earlier attempt.
    pub parts_sent: i32,
}

/// How a retried outbox row is accounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryKind {
    /// A failed send: counts towards the dead-letter limit.
    Failure,
    /// The platform asked to wait (429): does not count as a failure.
    RateLimited,
}

/// Delivery state of an outbox row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Not delivered yet (possibly waiting for a retry).
    Pending,
    /// Delivered.
    Sent,
    /// Given up on (dead letter).
    Dead,
}

/// An outbox row as seen by operators and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// Row id.
    pub id: i64,
    /// The reply.
    pub reply: Reply,
    /// Delivery state.
    pub status: OutboxStatus,
    /// Claims so far.
    pub attempts: i32,
    /// Failed sends so far.
    pub failures: i32,
    /// Not sent again before this time.
    pub next_attempt: Timestamp,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// A chat's saved game state.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatState {
    /// The state the last turn saved.
    pub state: serde_json::Value,
    /// Number of turns applied.
    pub version: i64,
}

/// A reply delivered to a web chat, readable by the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebReply {
    /// Cursor: increasing within a chat; poll with `after` = the last one seen.
    pub id: i64,
    /// The text.
    pub text: String,
    /// Quick-reply buttons.
    #[serde(default)]
    pub buttons: Vec<crate::model::Button>,
}

/// Queue gauges for `/metrics` and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Inbox messages waiting for their turn (including claimed ones).
    pub inbox_pending: i64,
    /// Inbox messages given up on after repeated failed turns.
    pub inbox_dead: i64,
    /// Replies not yet delivered.
    pub outbox_pending: i64,
    /// Replies given up on.
    pub outbox_dead: i64,
}

/// Wake-up signals: a store pings these when new work may be claimable, so idle
/// workers do not wait for the polling interval. They are hints: a missed one only
/// delays work until the next poll.
#[derive(Debug, Default)]
pub struct Wakeups {
    /// New inbox messages. Stores wake one idle worker per commit (`notify_one`), not
    /// all of them: one claim takes a whole batch, and a worker whose claim came back
    /// full wakes the next one, so a burst still brings every worker in while a trickle
    /// does not send every worker to claim the same few messages.
    pub inbox: Notify,
    /// New outbox rows.
    pub outbox: Notify,
}

/// Durable storage of the chat queue and game state.
///
/// Contract (checked for both stores by `tests/store_contract.rs`):
/// - **Inbox:** [`enqueue`](Store::enqueue) stores a message at most once per
///   (platform, message_id); the second call returns [`Enqueued::Duplicate`].
///   [`enqueue_batch`](Store::enqueue_batch) does the same for many messages in one
///   commit (the server's webhook handlers share it through a small batching task).
/// - **Per-chat serialisation:** [`claim_turn`](Store::claim_turn) returns the oldest
///   pending message of a chat that no unexpired claim holds, so one chat's turns run
///   one at a time, in inbox order, across any number of workers and servers.
/// - **Leases and fencing:** a claim expires at `lease_until`; after that another worker
///   may claim the same message and the first worker's writes fail with
///   [`StoreError::Fenced`].
/// - **One transaction per turn:** [`run_turn`](Store::run_turn) locks the chat, loads
///   (creating) the chat and the sender's player record, runs the game step, saves the
///   state with version + 1, applies score deltas, writes the replies to the outbox and
///   marks the message done, all or nothing. [`claim_turns`](Store::claim_turns) and
///   [`run_turns`](Store::run_turns) do the same for several chats per commit, each
///   turn still isolated (a failed turn writes nothing and does not fail the others).
/// - **Outbox:** [`claim_outbox`](Store::claim_outbox) returns at most the first
///   pending reply of each chat, so replies of a chat are sent in order and a reply is
///   never sent before the previous one is sent or dead. Delivery is at-least-once: a
///   sender that dies after sending and before [`outbox_sent`](Store::outbox_sent) makes
///   the reply go out again once its lease expires.
///   [`outbox_sent_many`](Store::outbox_sent_many) records a batch of deliveries in
///   one commit, fenced per row.
/// - All `now` arguments are the caller's clock; the store never reads the time itself
///   for queue decisions.
pub trait Store: Send + Sync {
    /// Returns `"postgres"` or `"sqlite"`.
    fn kind(&self) -> &'static str;

    /// Checks that the database answers.
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Returns the wake-up signals of this store.
    fn wakeups(&self) -> &Wakeups;

    /// Stores an inbound message unless it is a redelivery (a batch of one).
    fn enqueue<'a>(
        &'a self,
        message: &'a InboundMessage,
    ) -> BoxFuture<'a, Result<Enqueued, StoreError>> {
        Box::pin(async move { single(self.enqueue_batch(std::slice::from_ref(message)).await?) })
    }

    /// Stores several inbound messages in one commit, in the given order (so messages
    /// of one chat keep their order), and tells for each whether it was new. A message
    /// repeated within `messages` is stored once; the later copies are duplicates.
    /// All or nothing: on an error nothing was stored.
    fn enqueue_batch<'a>(
        &'a self,
        messages: &'a [InboundMessage],
    ) -> BoxFuture<'a, Result<Vec<Enqueued>, StoreError>>;

    /// Claims the oldest pending message of a chat that no one holds, for `lease` (a
    /// batch of one).
    fn claim_turn<'a>(
        &'a self,
        worker: &'a str,
        now: Timestamp,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<TurnClaim>, StoreError>> {
        Box::pin(async move {
            let claims = self.claim_turns(worker, now, lease, 1).await?;
            Ok(claims.into_iter().next())
        })
    }

    /// Runs the claimed turn in one transaction (see the trait docs).
    fn run_turn<'a>(
        &'a self,
        claim: &'a TurnClaim,
        game: Arc<dyn Game>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<TurnDone, StoreError>>;

    /// Claims up to `limit` chats at once, each as [`claim_turn`](Store::claim_turn)
    /// would (its oldest pending message, no unexpired lease), in one commit; one claim
    /// per chat, oldest message first.
    fn claim_turns<'a>(
        &'a self,
        worker: &'a str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<TurnClaim>, StoreError>>;

    /// Runs several claimed turns (of different chats) and commits them together.
    /// Each turn is still all or nothing and isolated from the others: a fenced claim,
    /// a panicking game step or a failed save gives that turn's error and writes
    /// nothing of it, while the other turns commit. The result has one entry per
    /// claim, in order. If the commit itself fails, every turn fails.
    fn run_turns<'a>(
        &'a self,
        claims: &'a [TurnClaim],
        game: Arc<dyn Game>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Result<TurnDone, StoreError>>, StoreError>>;

    /// Gives a claim back without running it; the chat is not claimable before
    /// `not_before` (retry backoff; pass `now` to release at once, e.g. at shutdown).
    fn release_turn<'a>(
        &'a self,
        claim: &'a TurnClaim,
        not_before: Timestamp,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Gives up on the claimed message (dead letter) and releases the chat.
    fn dead_letter_turn<'a>(
        &'a self,
        claim: &'a TurnClaim,
        now: Timestamp,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Claims up to `limit` outbox rows, at most one per chat (its first pending one),
    /// whose retry time has come and that no unexpired claim holds.
    fn claim_outbox<'a>(
        &'a self,
        worker: &'a str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<OutboxClaim>, StoreError>>;

    /// Records that the first `parts_sent` parts of a split reply were delivered,
    /// extending the lease to `lease_until`.
    fn outbox_progress<'a>(
        &'a self,
        claim: &'a OutboxClaim,
        parts_sent: i32,
        lease_until: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Marks a claimed row delivered (a batch of one).
    fn outbox_sent<'a>(
        &'a self,
        claim: &'a OutboxClaim,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            single(
                self.outbox_sent_many(std::slice::from_ref(claim), now)
                    .await?,
            )?
        })
    }

    /// Marks several claimed rows delivered in one commit. One entry per claim, in
    /// order: [`StoreError::Fenced`] for a claim that no longer holds its row (nothing
    /// changed for it); the others are marked.
    fn outbox_sent_many<'a>(
        &'a self,
        claims: &'a [OutboxClaim],
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Result<(), StoreError>>, StoreError>>;

    /// Releases a claimed row for another attempt at `next_attempt`.
    fn outbox_retry<'a>(
        &'a self,
        claim: &'a OutboxClaim,
        next_attempt: Timestamp,
        kind: RetryKind,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Gives up on a claimed row (dead letter); the chat's next reply becomes sendable.
    fn outbox_dead<'a>(
        &'a self,
        claim: &'a OutboxClaim,
        now: Timestamp,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Releases a claimed row untouched (shutdown before sending).
    fn outbox_release<'a>(
        &'a self,
        claim: &'a OutboxClaim,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Lists a chat's outbox rows in send order.
    fn outbox_entries<'a>(
        &'a self,
        platform: &'a str,
        chat_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<OutboxEntry>, StoreError>>;

    /// Stores a reply for a web chat page to fetch; returns its cursor.
    fn web_deliver<'a>(
        &'a self,
        chat_id: &'a str,
        reply: &'a Reply,
    ) -> BoxFuture<'a, Result<i64, StoreError>>;

    /// Returns up to `limit` web chat replies with a cursor greater than `after`.
    fn web_replies<'a>(
        &'a self,
        chat_id: &'a str,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<WebReply>, StoreError>>;

    /// Returns a chat's saved state, `None` for a chat that has had no turn.
    fn chat_state<'a>(
        &'a self,
        platform: &'a str,
        chat_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ChatState>, StoreError>>;

    /// Returns a chat's best `limit` players, best first.
    fn scoreboard<'a>(
        &'a self,
        platform: &'a str,
        chat_id: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<PlayerScore>, StoreError>>;

    /// Returns the queue gauges.
    fn stats(&self) -> BoxFuture<'_, Result<StoreStats, StoreError>>;

    /// Deletes finished inbox rows (done or dead) and delivered or dead outbox rows
    /// finished before `before`, and web chat replies created before it. Inbox rows are
    /// the de-duplication memory: keep them longer than any platform redelivers.
    /// Returns the number of rows deleted.
    fn purge<'a>(&'a self, before: Timestamp) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Closes the connections (at shutdown).
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// Connection settings of a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Maximum pooled connections.
    pub max_connections: u32,
    /// How long an operation waits for a free connection (or to connect) before the
    /// store reports [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// Opens the store named by `url` (`postgres://...` or `sqlite:...`) and applies its
/// migrations.
pub async fn open_store(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::connect(url, options).await?;
        store.migrate().await?;
        store.start_listener();
        Ok(Arc::new(store))
    } else if url.starts_with("sqlite:") {
        let store = SqliteStore::open(url, options).await?;
        store.migrate().await?;
        Ok(Arc::new(store))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// Returns `url` without its password and query, for logs.
pub fn redact_url(url: &str) -> String {
    let without_query = url.split('?').next().unwrap_or(url);
    match (without_query.find("://"), without_query.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &without_query[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or("");
            format!(
                "{}{user}:***{}",
                &without_query[..scheme_end + 3],
                &without_query[at..]
            )
        }
        _ => without_query.to_string(),
    }
}

/// Stored form of a reply in the outbox.
pub(crate) fn reply_to_json(reply: &Reply) -> serde_json::Value {
    serde_json::to_value(reply).unwrap_or(serde_json::Value::Null)
}

pub(crate) fn outbox_status(text: &str) -> Result<OutboxStatus, StoreError> {
    match text {
        "pending" => Ok(OutboxStatus::Pending),
        "sent" => Ok(OutboxStatus::Sent),
        "dead" => Ok(OutboxStatus::Dead),
        other => Err(StoreError::Corrupt {
            table: "outbox",
            reason: format!("status {other:?}"),
        }),
    }
}

pub(crate) fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The best players shown to a game step (plus the sender).
pub(crate) const TOP_PLAYERS: i64 = 50;

/// The one outcome of a batch of one.
fn single<T>(outcomes: Vec<T>) -> Result<T, StoreError> {
    let count = outcomes.len();
    let mut outcomes = outcomes.into_iter();
    match (outcomes.next(), count) {
        (Some(outcome), 1) => Ok(outcome),
        _ => Err(StoreError::Corrupt {
            table: "batch of one",
            reason: format!("{count} outcomes"),
        }),
    }
}

/// The messages of an inbox batch to store: the first copy of each (platform,
/// message id), in order. Later copies within the batch are duplicates of it.
pub(crate) struct FirstCopies<'a> {
    /// Positions (in the batch) of the first copies, in order.
    pub(crate) positions: Vec<usize>,
    /// (platform, message id) -> position of its first copy.
    pub(crate) by_key: std::collections::HashMap<(&'a str, &'a str), usize>,
}

impl<'a> FirstCopies<'a> {
    pub(crate) fn of(messages: &'a [InboundMessage]) -> FirstCopies<'a> {
        let mut positions = Vec::with_capacity(messages.len());
        let mut by_key = std::collections::HashMap::with_capacity(messages.len());
        for (position, message) in messages.iter().enumerate() {
            by_key
                .entry((message.platform.as_str(), message.message_id.as_str()))
                .or_insert_with(|| {
                    positions.push(position);
                    position
                });
        }
        FirstCopies { positions, by_key }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password_and_query() {
        assert_eq!(
            redact_url("postgres://fraser:s3cret@db.internal:5432/fraser?sslmode=require"),
            "postgres://fraser:***@db.internal:5432/fraser"
        );
        assert_eq!(
            redact_url("sqlite://fraser.sqlite"),
            "sqlite://fraser.sqlite"
        );
        assert_eq!(redact_url("postgres://db/fraser"), "postgres://db/fraser");
    }
}
