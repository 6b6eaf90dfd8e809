//! The production store: PostgreSQL.
//!
//! The queue's claims and the turns' load and save are server-side functions
//! (`migrations/postgres`), so a batch of turns costs four round trips: `BEGIN`,
//! `fraser_begin_turns` (fence checks + loads, creating new chats and players),
//! `fraser_save_turns` (states, outbox, scores, inbox, release and the chats' next
//! heads) and `COMMIT`, with the pure game steps in between; a single turn is a batch
//! of one for the save. Idle workers are woken by LISTEN/NOTIFY
//! (`fraser_inbox`, `fraser_outbox`), relayed into the store's [`Wakeups`] by a
//! listener task that reconnects by itself; polling covers notifications lost meanwhile.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::{
    BoxFuture, ChatState, Enqueued, FirstCopies, OutboxClaim, OutboxEntry, RetryKind, Store,
    StoreError, StoreOptions, StoreStats, TOP_PLAYERS, TurnClaim, TurnDone, Wakeups, WebReply,
    duration_millis, outbox_status, reply_to_json,
};
use crate::game::{Game, StepRequest, TurnOutput, step_blocking, step_many_blocking};
use crate::model::{ChatAddress, InboundMessage, PlayerScore, Reply, Timestamp};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Connections of the inbox pool: one per inbox commit the server's batching task
/// runs at once, and one for single-message enqueues.
const INBOX_CONNECTIONS: u32 = crate::http::batcher::IN_FLIGHT as u32 + 1;

/// The PostgreSQL store.
pub struct PgStore {
    pool: PgPool,
    /// Connections kept for inbox commits (the webhook acknowledgements), so that an
    /// acknowledgement never waits for a connection behind workers and senders.
    inbox_pool: PgPool,
    wakeups: Arc<Wakeups>,
    listener: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl PgStore {
    /// Creates a pool for `url`. Connections are opened on demand, so this succeeds
    /// while the database is down; operations then fail with
    /// [`StoreError::Unavailable`] until it is back (the pool reconnects by itself).
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<PgStore, StoreError> {
        let connect: PgConnectOptions = url.parse().map_err(StoreError::Database)?;
        // A turn waits for no lock in normal operation (claims skip locked rows); the
        // timeouts bound the damage of a stuck statement or lock. Every statement is
        // small, so compiling one with JIT (hundreds of milliseconds, which a plan whose
        // cost a disabled planner method inflates would trigger) never pays.
        let connect = connect.options([
            ("lock_timeout", "10s"),
            ("statement_timeout", "30s"),
            ("jit", "off"),
        ]);
        // The inbox connections come out of the configured total; they stay open (an
        // acknowledgement should not wait for a connection to be set up either).
        let pool = PgPoolOptions::new()
            .max_connections(
                options
                    .max_connections
                    .saturating_sub(INBOX_CONNECTIONS)
                    .max(2),
            )
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect.clone());
        let inbox_pool = PgPoolOptions::new()
            .max_connections(INBOX_CONNECTIONS)
            .min_connections(INBOX_CONNECTIONS)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect);
        let mut store = PgStore::from_pool(pool);
        store.inbox_pool = inbox_pool;
        Ok(store)
    }

    /// Wraps an existing pool (tests create one per fresh database); inbox commits
    /// share it.
    pub fn from_pool(pool: PgPool) -> PgStore {
        PgStore {
            inbox_pool: pool.clone(),
            pool,
            wakeups: Arc::new(Wakeups::default()),
            listener: Default::default(),
        }
    }

    /// Applies the migrations in `migrations/postgres` that are not applied yet
    /// (sqlx takes an advisory lock, so servers starting together do not race).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(StoreError::Migrate)
    }

    /// Starts relaying LISTEN/NOTIFY wake-ups into [`Store::wakeups`]; stops with the
    /// pool. Without it, workers still find work by polling.
    pub fn start_listener(&self) {
        let pool = self.pool.clone();
        let wakeups = Arc::downgrade(&self.wakeups);
        let handle = tokio::spawn(listen(pool, wakeups));
        if let Ok(mut slot) = self.listener.lock()
            && let Some(previous) = slot.replace(handle)
        {
            previous.abort();
        }
    }

    async fn claim_turns_inner(
        &self,
        worker: &str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<TurnClaim>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // One statement (migration 0003); it never waits for a lock, but stays behind
        // the same retry as the other batched statements.
        let rows = retry_transient(|| {
            sqlx::query("SELECT * FROM fraser_claim_turns($1, $2, $3, $4)")
                .bind(worker)
                .bind(now.0)
                .bind(duration_millis(lease))
                .bind(i32::try_from(limit).unwrap_or(i32::MAX))
                .fetch_all(&self.pool)
        })
        .await?;
        rows.iter().map(|row| turn_claim(row, now, lease)).collect()
    }

    async fn enqueue_batch_inner(
        &self,
        messages: &[InboundMessage],
    ) -> Result<Vec<Enqueued>, StoreError> {
        // Copies of a message within the batch: the first is stored, the rest are
        // duplicates (the statement would skip them anyway; this keeps the answer exact).
        let mut results = vec![Enqueued::Duplicate; messages.len()];
        let FirstCopies {
            positions: unique,
            by_key: first_of,
        } = FirstCopies::of(messages);
        if unique.is_empty() {
            return Ok(results);
        }
        let column = |field: fn(&InboundMessage) -> &String| -> Vec<&str> {
            unique
                .iter()
                .map(|&index| field(&messages[index]).as_str())
                .collect()
        };
        let platforms = column(|m| &m.platform);
        let chat_ids = column(|m| &m.chat_id);
        let message_ids = column(|m| &m.message_id);
        let sender_ids = column(|m| &m.sender_id);
        let sender_names = column(|m| &m.sender_name);
        let texts = column(|m| &m.text);
        let is_group: Vec<bool> = unique
            .iter()
            .map(|&index| messages[index].is_group)
            .collect();
        let reply_contexts: Vec<serde_json::Value> = unique
            .iter()
            .map(|&index| messages[index].reply_context.clone())
            .collect();
        let received: Vec<i64> = unique
            .iter()
            .map(|&index| messages[index].received_at.0)
            .collect();
        // One call (migration 0004): ids are drawn in array order, so a chat's messages
        // get increasing ids in the order given; rows and new claim rows go in sorted by
        // key, so two servers storing overlapping batches (a platform's redeliveries
        // spread over servers, in any order) wait for each other's keys in one order and
        // cannot deadlock; the chats' ready heads are updated in the same transaction.
        let rows = retry_transient(|| {
            sqlx::query(
                "SELECT e_platform AS platform, e_message_id AS message_id \
                 FROM fraser_enqueue_messages($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&platforms)
            .bind(&chat_ids)
            .bind(&message_ids)
            .bind(&sender_ids)
            .bind(&sender_names)
            .bind(&texts)
            .bind(&is_group)
            .bind(&reply_contexts)
            .bind(&received)
            .fetch_all(&self.inbox_pool)
        })
        .await?;
        for row in &rows {
            let platform: &str = row.try_get("platform")?;
            let message_id: &str = row.try_get("message_id")?;
            if let Some(&index) = first_of.get(&(platform, message_id)) {
                results[index] = Enqueued::New;
            }
        }
        if !rows.is_empty() {
            self.wakeups.inbox.notify_one();
        }
        Ok(results)
    }

    async fn run_turns_inner(
        &self,
        claims: &[TurnClaim],
        game: Arc<dyn Game>,
        now: Timestamp,
    ) -> Result<Vec<Result<TurnDone, StoreError>>, StoreError> {
        let mut results: Vec<Option<Result<TurnDone, StoreError>>> =
            claims.iter().map(|_| None).collect();
        // One turn per chat in a batch, locked in (platform, chat) order; a second
        // claim of a chat (not produced by claim_turns) runs on its own afterwards.
        let mut order: Vec<usize> = (0..claims.len()).collect();
        let chat_of = |index: usize| {
            let message = &claims[index].message;
            (message.platform.as_str(), message.chat_id.as_str())
        };
        order.sort_by(|&a, &b| chat_of(a).cmp(&chat_of(b)).then(a.cmp(&b)));
        let mut batch: Vec<usize> = Vec::with_capacity(claims.len());
        let mut alone: Vec<usize> = Vec::new();
        for index in order {
            match batch.last() {
                Some(&last) if chat_of(last) == chat_of(index) => alone.push(index),
                _ => batch.push(index),
            }
        }
        // A panicking step leaves its load in the transaction: roll back and run the
        // batch again without it (steps are pure, so running one again is harmless).
        // A deadlock or serialization failure rolled everything back: run it again.
        let mut transient_failures = 0;
        loop {
            if batch.is_empty() {
                break;
            }
            match self.try_turn_batch(claims, &batch, &game, now).await {
                Err(StoreError::Database(error))
                    if is_transient(&error) && transient_failures + 1 < TRANSIENT_ATTEMPTS =>
                {
                    transient_failures += 1;
                    tracing::debug!(%error, transient_failures, "turn batch aborted; retrying");
                    tokio::time::sleep(transient_backoff(transient_failures)).await;
                }
                Ok(BatchOutcome::Committed(outcomes)) => {
                    for (index, outcome) in batch.iter().zip(outcomes) {
                        results[*index] = Some(outcome);
                    }
                    break;
                }
                Ok(BatchOutcome::Panicked(panics)) => {
                    let mut rest = Vec::with_capacity(batch.len());
                    for (index, panic) in batch.iter().zip(panics) {
                        match panic {
                            Some(text) => results[*index] = Some(Err(StoreError::Game(text))),
                            None => rest.push(*index),
                        }
                    }
                    batch = rest;
                }
                Err(error) if error.is_unavailable() => return Err(error),
                Err(error) => {
                    // A bug in the batched SQL (syntax, types, constraints) would hide
                    // behind the fallback: make it fail the tests instead.
                    debug_assert!(
                        !is_sql_bug(&error),
                        "the batched turn SQL failed: {error:?}"
                    );
                    // Isolate the failure: every turn on its own.
                    tracing::warn!(%error, turns = batch.len(), "turn batch failed; running its turns one by one");
                    alone.append(&mut batch);
                }
            }
        }
        alone.sort_unstable();
        for index in alone {
            let outcome = self
                .run_turn_inner(&claims[index], Arc::clone(&game), now)
                .await;
            results[index] = Some(outcome);
        }
        Ok(results
            .into_iter()
            .map(|outcome| outcome.unwrap_or(Err(StoreError::Fenced)))
            .collect())
    }

    /// Runs the turns `batch` (indices into `claims`, distinct chats) in one
    /// transaction. Commits unless a game step panicked.
    async fn try_turn_batch(
        &self,
        claims: &[TurnClaim],
        batch: &[usize],
        game: &Arc<dyn Game>,
        now: Timestamp,
    ) -> Result<BatchOutcome, StoreError> {
        let begins: Vec<serde_json::Value> = batch
            .iter()
            .enumerate()
            .map(|(position, &index)| {
                let claim = &claims[index];
                let message = &claim.message;
                serde_json::json!({
                    "n": position + 1,
                    "platform": message.platform,
                    "chat_id": message.chat_id,
                    "inbox_id": claim.inbox_id,
                    "token": claim.token,
                    "is_group": message.is_group,
                    "sender_id": message.sender_id,
                    "sender_name": message.sender_name,
                })
            })
            .collect();
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT * FROM fraser_begin_turns($1, $2)")
            .bind(serde_json::Value::Array(begins))
            .bind(TOP_PLAYERS as i32)
            .fetch_all(&mut *tx)
            .await?;
        // Position in `batch` -> (state, version, scores); missing: fenced.
        let mut loaded: Vec<Option<(i64, Vec<PlayerScore>, serde_json::Value)>> =
            batch.iter().map(|_| None).collect();
        for row in &rows {
            let position = usize::try_from(row.try_get::<i32, _>("t_index")?)
                .ok()
                .and_then(|one_based| one_based.checked_sub(1))
                .filter(|&position| position < batch.len())
                .ok_or_else(|| StoreError::Corrupt {
                    table: "fraser_begin_turns",
                    reason: "turn index out of range".into(),
                })?;
            let scores: Vec<PlayerScore> =
                serde_json::from_value(row.try_get::<serde_json::Value, _>("t_scores")?)?;
            loaded[position] = Some((row.try_get("t_version")?, scores, row.try_get("t_state")?));
        }
        let mut stepped = Vec::new();
        let mut requests = Vec::new();
        for (position, slot) in loaded.iter_mut().enumerate() {
            if let Some((version, scores, state)) = slot.take() {
                let message = claims[batch[position]].message.clone();
                stepped.push((position, version));
                requests.push(StepRequest {
                    state,
                    version,
                    message,
                    now,
                    scores,
                });
            }
        }
        let outputs = step_many_blocking(Arc::clone(game), requests).await;
        if outputs.iter().any(Result::is_err) {
            tx.rollback().await?;
            let mut panics: Vec<Option<String>> = batch.iter().map(|_| None).collect();
            for ((position, _), output) in stepped.iter().zip(outputs) {
                if let Err(text) = output {
                    panics[*position] = Some(text);
                }
            }
            return Ok(BatchOutcome::Panicked(panics));
        }
        let outputs: Vec<_> = outputs.into_iter().flatten().collect();
        let mut saves = Vec::with_capacity(outputs.len());
        for ((position, version), output) in stepped.iter().zip(&outputs) {
            saves.push(save_entry(
                saves.len() + 1,
                &claims[batch[*position]],
                *version,
                output,
            )?);
        }
        let mut outcomes: Vec<Result<TurnDone, StoreError>> =
            batch.iter().map(|_| Err(StoreError::Fenced)).collect();
        if !saves.is_empty() {
            let rows = sqlx::query("SELECT t_index, t_version FROM fraser_save_turns($1, $2)")
                .bind(serde_json::Value::Array(saves))
                .bind(now.0)
                .fetch_all(&mut *tx)
                .await?;
            // t_index: 1-based position in `saves` (= in `stepped`).
            let mut versions: Vec<Option<i64>> = stepped.iter().map(|_| None).collect();
            for row in &rows {
                let slot = usize::try_from(row.try_get::<i32, _>("t_index")?)
                    .ok()
                    .and_then(|one_based| one_based.checked_sub(1))
                    .and_then(|index| versions.get_mut(index));
                if let Some(slot) = slot {
                    *slot = Some(row.try_get("t_version")?);
                }
            }
            for (((position, _), output), version) in stepped.iter().zip(&outputs).zip(versions) {
                let Some(version) = version else {
                    return Err(StoreError::Corrupt {
                        table: "fraser_save_turns",
                        reason: "a saved turn has no new version".into(),
                    });
                };
                outcomes[*position] = Ok(TurnDone {
                    version,
                    replies: output.replies.len(),
                });
            }
        }
        tx.commit().await?;
        if outputs.iter().any(|output| !output.replies.is_empty()) {
            self.wakeups.outbox.notify_waiters();
        }
        Ok(BatchOutcome::Committed(outcomes))
    }

    async fn outbox_sent_many_inner(
        &self,
        claims: &[OutboxClaim],
        now: Timestamp,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = claims.iter().map(|claim| claim.id).collect();
        let tokens: Vec<i64> = claims.iter().map(|claim| claim.token).collect();
        // Rows are locked in id order first, so two senders marking overlapping rows
        // (a stale claim and its takeover) wait in one order and cannot deadlock.
        let marked: Vec<(i64, i64)> = retry_transient(|| {
            sqlx::query_as(
                "WITH mine AS ( \
                     SELECT o.id FROM outbox o \
                     JOIN unnest($1::bigint[], $2::bigint[]) AS c(id, token) \
                         ON o.id = c.id AND o.lease_token = c.token \
                     WHERE o.status = 'pending' \
                     ORDER BY o.id \
                     FOR UPDATE OF o) \
                 UPDATE outbox o SET status = 'sent', finished_at_ms = $3, lease_owner = NULL, \
                     lease_until_ms = 0, last_error = NULL \
                 FROM mine WHERE o.id = mine.id \
                 RETURNING o.id, o.lease_token",
            )
            .bind(&ids)
            .bind(&tokens)
            .bind(now.0)
            .fetch_all(&self.pool)
        })
        .await?;
        if !marked.is_empty() {
            self.wakeups.outbox.notify_waiters();
        }
        let marked: std::collections::HashSet<(i64, i64)> = marked.into_iter().collect();
        Ok(claims
            .iter()
            .map(|claim| {
                if marked.contains(&(claim.id, claim.token)) {
                    Ok(())
                } else {
                    Err(StoreError::Fenced)
                }
            })
            .collect())
    }
}

/// Attempts at a statement or transaction that PostgreSQL aborts as a deadlock victim
/// or for a serialization failure (SQLSTATE 40P01, 40001): both leave nothing behind
/// and succeed when run again. The batched statements lock in a fixed order, so this
/// is a safety net, not the normal path.
const TRANSIENT_ATTEMPTS: u32 = 4;

/// Whether PostgreSQL aborted the statement as a deadlock victim or for a
/// serialization failure.
fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db_error) => db_error
            .code()
            .is_some_and(|code| code == "40001" || code == "40P01"),
        _ => false,
    }
}

/// The wait before attempt `attempt + 1` after a transient failure: a few
/// milliseconds, doubling, with jitter so that the two parties do not meet again.
fn transient_backoff(attempt: u32) -> Duration {
    crate::queue::backoff(
        attempt,
        Duration::from_millis(2),
        Duration::from_millis(50),
        crate::queue::jitter(),
    )
}

/// Runs `attempt` (one statement or one whole transaction) again after a deadlock or
/// serialization failure, at most [`TRANSIENT_ATTEMPTS`] times in all.
async fn retry_transient<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut failures = 0;
    loop {
        match attempt().await {
            Err(error) if is_transient(&error) && failures + 1 < TRANSIENT_ATTEMPTS => {
                failures += 1;
                tracing::debug!(%error, failures, "transient database error; retrying");
                tokio::time::sleep(transient_backoff(failures)).await;
            }
            outcome => return outcome.map_err(StoreError::from),
        }
    }
}

/// Whether `error` is PostgreSQL reporting a mistake in the statement itself (syntax
/// or access rule violation, data exception, integrity constraint violation).
fn is_sql_bug(error: &StoreError) -> bool {
    match error {
        StoreError::Database(sqlx::Error::Database(db_error)) => {
            db_error.code().is_some_and(|code| {
                ["42", "22", "23"]
                    .iter()
                    .any(|class| code.starts_with(class))
            })
        }
        _ => false,
    }
}

/// What a turn batch's transaction came to.
enum BatchOutcome {
    /// Committed; one outcome per turn of the batch (`Err(Fenced)` for fenced ones).
    Committed(Vec<Result<TurnDone, StoreError>>),
    /// Rolled back because these steps (by position) panicked.
    Panicked(Vec<Option<String>>),
}

/// One turn of a `fraser_save_turns` batch: `n` is its 1-based position.
fn save_entry(
    n: usize,
    claim: &TurnClaim,
    version: i64,
    output: &TurnOutput,
) -> Result<serde_json::Value, StoreError> {
    let message = &claim.message;
    Ok(serde_json::json!({
        "n": n,
        "platform": message.platform,
        "chat_id": message.chat_id,
        "inbox_id": claim.inbox_id,
        "version": version,
        "state": output.state,
        "replies": output.replies.iter().map(reply_to_json).collect::<Vec<_>>(),
        "deltas": serde_json::to_value(&output.score_deltas)?,
        "is_group": message.is_group,
        "reply_context": message.reply_context,
    }))
}

/// Decodes a row of `fraser_claim_turns`.
fn turn_claim(row: &PgRow, now: Timestamp, lease: Duration) -> Result<TurnClaim, StoreError> {
    let message = InboundMessage {
        platform: row.try_get("c_platform")?,
        chat_id: row.try_get("c_chat_id")?,
        sender_id: row.try_get("c_sender_id")?,
        sender_name: row.try_get("c_sender_name")?,
        text: row.try_get("c_text")?,
        message_id: row.try_get("c_message_id")?,
        is_group: row.try_get("c_is_group")?,
        reply_context: row.try_get("c_reply_context")?,
        received_at: Timestamp(row.try_get("c_received_at_ms")?),
    };
    Ok(TurnClaim {
        inbox_id: row.try_get("c_inbox_id")?,
        token: row.try_get("c_token")?,
        attempts: row.try_get("c_attempts")?,
        message,
        lease_until: now.plus(lease),
    })
}

impl PgStore {
    async fn run_turn_inner(
        &self,
        claim: &TurnClaim,
        game: Arc<dyn Game>,
        now: Timestamp,
    ) -> Result<TurnDone, StoreError> {
        let message = &claim.message;
        let mut tx = self.pool.begin().await?;
        let loaded = sqlx::query("SELECT * FROM fraser_begin_turn($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&message.platform)
            .bind(&message.chat_id)
            .bind(claim.inbox_id)
            .bind(claim.token)
            .bind(message.is_group)
            .bind(&message.sender_id)
            .bind(&message.sender_name)
            .bind(TOP_PLAYERS as i32)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(loaded) = loaded else {
            return Err(StoreError::Fenced);
        };
        let state: serde_json::Value = loaded.try_get("chat_state")?;
        let version: i64 = loaded.try_get("chat_version")?;
        let scores: Vec<PlayerScore> =
            serde_json::from_value(loaded.try_get::<serde_json::Value, _>("chat_scores")?)?;

        let output = step_blocking(
            game,
            StepRequest {
                state,
                version,
                message: message.clone(),
                now,
                scores,
            },
        )
        .await
        .map_err(StoreError::Game)?;

        // The save of a batch of one.
        let new_version: i64 =
            sqlx::query_scalar("SELECT t_version FROM fraser_save_turns($1, $2)")
                .bind(serde_json::json!([save_entry(1, claim, version, &output)?]))
                .bind(now.0)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        if !output.replies.is_empty() {
            self.wakeups.outbox.notify_waiters();
        }
        Ok(TurnDone {
            version: new_version,
            replies: output.replies.len(),
        })
    }

    async fn release_turn_inner(
        &self,
        claim: &TurnClaim,
        not_before: Timestamp,
        error: Option<&str>,
        dead: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let holds: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM inbox_chats q JOIN inbox i ON i.id = $1 \
             WHERE q.platform = $2 AND q.chat_id = $3 AND q.lease_token = $4 \
               AND q.lease_owner IS NOT NULL AND i.status = 'pending' \
             FOR UPDATE OF q",
        )
        .bind(claim.inbox_id)
        .bind(&claim.message.platform)
        .bind(&claim.message.chat_id)
        .bind(claim.token)
        .fetch_optional(&mut *tx)
        .await?;
        if holds.is_none() {
            return Err(StoreError::Fenced);
        }
        sqlx::query(
            "UPDATE inbox SET last_error = coalesce($2, last_error), \
                 status = CASE WHEN $3 THEN 'dead' ELSE status END, \
                 finished_at_ms = CASE WHEN $3 THEN $4 ELSE finished_at_ms END \
             WHERE id = $1",
        )
        .bind(claim.inbox_id)
        .bind(error)
        .bind(dead)
        .bind(not_before.0)
        .execute(&mut *tx)
        .await?;
        if dead {
            // Released like a finished turn: the next message (if any) becomes the
            // chat's ready head; the update below records the error.
            sqlx::query("SELECT fraser_release_chats($1, $2)")
                .bind(vec![claim.message.platform.as_str()])
                .bind(vec![claim.message.chat_id.as_str()])
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE inbox_chats SET lease_owner = NULL, lease_until_ms = $3, last_error = $4 \
             WHERE platform = $1 AND chat_id = $2",
        )
        .bind(&claim.message.platform)
        .bind(&claim.message.chat_id)
        .bind(if dead { 0 } else { not_before.0 })
        .bind(error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.wakeups.inbox.notify_one();
        Ok(())
    }

    async fn claim_outbox_inner(
        &self,
        worker: &str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxClaim>, StoreError> {
        // Only the first pending row of each chat qualifies; SKIP LOCKED lets senders
        // on other servers take other chats meanwhile. A row whose lease or status
        // changed after this statement's snapshot is re-checked when locked.
        let rows = sqlx::query(
            "WITH heads AS ( \
                 SELECT o.id FROM outbox o \
                 WHERE o.status = 'pending' AND o.next_attempt_ms <= $3 \
                   AND o.lease_until_ms <= $3 \
                   AND NOT EXISTS (SELECT 1 FROM outbox p \
                       WHERE p.platform = o.platform AND p.chat_id = o.chat_id \
                         AND p.status = 'pending' AND p.id < o.id) \
                 ORDER BY o.id LIMIT $4 \
                 FOR UPDATE SKIP LOCKED) \
             UPDATE outbox o SET lease_token = o.lease_token + 1, lease_owner = $1, \
                 lease_until_ms = $2, attempts = o.attempts + 1 \
             FROM heads WHERE o.id = heads.id \
             RETURNING o.id, o.lease_token, o.platform, o.chat_id, o.is_group, \
                 o.reply_context, o.reply, o.attempts, o.failures, o.parts_sent",
        )
        .bind(worker)
        .bind(now.plus(lease).0)
        .bind(now.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut claims = rows
            .iter()
            .map(outbox_claim)
            .collect::<Result<Vec<_>, _>>()?;
        claims.sort_by_key(|claim| claim.id);
        Ok(claims)
    }

    /// Runs a fenced update of one claimed outbox row: `sql` ends with
    /// `WHERE id = $1 AND lease_token = $2 AND status = 'pending'`.
    async fn outbox_update(
        &self,
        claim: &OutboxClaim,
        sql: &'static str,
        bind: impl FnOnce(
            sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments>,
        ) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments>,
        wake: bool,
    ) -> Result<(), StoreError> {
        let query = bind(sqlx::query(sql).bind(claim.id).bind(claim.token));
        let changed = query.execute(&self.pool).await?.rows_affected();
        if changed == 0 {
            return Err(StoreError::Fenced);
        }
        if wake {
            self.wakeups.outbox.notify_waiters();
        }
        Ok(())
    }
}

/// Relays notifications into `wakeups` until the pool closes or the store is dropped.
async fn listen(pool: PgPool, wakeups: Weak<Wakeups>) {
    loop {
        if pool.is_closed() {
            return;
        }
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::debug!(%error, "notification listener cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen_all(["fraser_inbox", "fraser_outbox"]).await {
            tracing::debug!(%error, "LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    let Some(wakeups) = wakeups.upgrade() else {
                        return;
                    };
                    match notification.channel() {
                        "fraser_inbox" => wakeups.inbox.notify_one(),
                        _ => wakeups.outbox.notify_waiters(),
                    }
                }
                Ok(None) => {
                    // Connection lost: notifications sent meanwhile are gone, so wake
                    // everyone once to poll.
                    let Some(wakeups) = wakeups.upgrade() else {
                        return;
                    };
                    wakeups.inbox.notify_waiters();
                    wakeups.outbox.notify_waiters();
                }
                Err(error) => {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::debug!(%error, "notification listener failed; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

fn outbox_claim(row: &PgRow) -> Result<OutboxClaim, StoreError> {
    let reply: Reply = serde_json::from_value(row.try_get("reply")?)?;
    Ok(OutboxClaim {
        id: row.try_get("id")?,
        token: row.try_get("lease_token")?,
        address: ChatAddress {
            platform: row.try_get("platform")?,
            chat_id: row.try_get("chat_id")?,
            is_group: row.try_get("is_group")?,
            reply_context: row.try_get("reply_context")?,
        },
        reply,
        attempts: row.try_get("attempts")?,
        failures: row.try_get("failures")?,
        parts_sent: row.try_get("parts_sent")?,
    })
}

fn player_score(row: &PgRow) -> Result<PlayerScore, StoreError> {
    Ok(PlayerScore {
        player_id: row.try_get("player_id")?,
        name: row.try_get("name")?,
        score: row.try_get("score")?,
    })
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.listener.lock()
            && let Some(handle) = slot.take()
        {
            handle.abort();
        }
    }
}

impl Store for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
    }

    fn wakeups(&self) -> &Wakeups {
        &self.wakeups
    }

    fn enqueue_batch<'a>(
        &'a self,
        messages: &'a [InboundMessage],
    ) -> BoxFuture<'a, Result<Vec<Enqueued>, StoreError>> {
        Box::pin(self.enqueue_batch_inner(messages))
    }

    fn claim_turns<'a>(
        &'a self,
        worker: &'a str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<TurnClaim>, StoreError>> {
        Box::pin(self.claim_turns_inner(worker, now, lease, limit))
    }

    fn run_turns<'a>(
        &'a self,
        claims: &'a [TurnClaim],
        game: Arc<dyn Game>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Result<TurnDone, StoreError>>, StoreError>> {
        Box::pin(self.run_turns_inner(claims, game, now))
    }

    fn outbox_sent_many<'a>(
        &'a self,
        claims: &'a [OutboxClaim],
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Result<(), StoreError>>, StoreError>> {
        Box::pin(self.outbox_sent_many_inner(claims, now))
    }

    fn run_turn<'a>(
        &'a self,
        claim: &'a TurnClaim,
        game: Arc<dyn Game>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<TurnDone, StoreError>> {
        Box::pin(self.run_turn_inner(claim, game, now))
    }

    fn release_turn<'a>(
        &'a self,
        claim: &'a TurnClaim,
        not_before: Timestamp,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.release_turn_inner(claim, not_before, error, false))
    }

    fn dead_letter_turn<'a>(
        &'a self,
        claim: &'a TurnClaim,
        now: Timestamp,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.release_turn_inner(claim, now, Some(reason), true))
    }

    fn claim_outbox<'a>(
        &'a self,
        worker: &'a str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<OutboxClaim>, StoreError>> {
        Box::pin(self.claim_outbox_inner(worker, now, lease, limit))
    }

    fn outbox_progress<'a>(
        &'a self,
        claim: &'a OutboxClaim,
        parts_sent: i32,
        lease_until: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.outbox_update(
            claim,
            "UPDATE outbox SET parts_sent = $3, lease_until_ms = $4 \
             WHERE id = $1 AND lease_token = $2 AND status = 'pending'",
            move |query| query.bind(parts_sent).bind(lease_until.0),
            false,
        ))
    }

    fn outbox_retry<'a>(
        &'a self,
        claim: &'a OutboxClaim,
        next_attempt: Timestamp,
        kind: RetryKind,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let failure = i32::from(kind == RetryKind::Failure);
        let error = error.to_string();
        Box::pin(self.outbox_update(
            claim,
            "UPDATE outbox SET failures = failures + $3, next_attempt_ms = $4, \
                 last_error = $5, lease_owner = NULL, lease_until_ms = 0 \
             WHERE id = $1 AND lease_token = $2 AND status = 'pending'",
            move |query| query.bind(failure).bind(next_attempt.0).bind(error),
            false,
        ))
    }

    fn outbox_dead<'a>(
        &'a self,
        claim: &'a OutboxClaim,
        now: Timestamp,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let reason = reason.to_string();
        Box::pin(self.outbox_update(
            claim,
            "UPDATE outbox SET status = 'dead', failures = failures + 1, finished_at_ms = $3, \
                 last_error = $4, lease_owner = NULL, lease_until_ms = 0 \
             WHERE id = $1 AND lease_token = $2 AND status = 'pending'",
            move |query| query.bind(now.0).bind(reason),
            true,
        ))
    }

    fn outbox_release<'a>(
        &'a self,
        claim: &'a OutboxClaim,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.outbox_update(
            claim,
            "UPDATE outbox SET lease_owner = NULL, lease_until_ms = 0 \
             WHERE id = $1 AND lease_token = $2 AND status = 'pending'",
            |query| query,
            true,
        ))
    }

    fn outbox_entries<'a>(
        &'a self,
        platform: &'a str,
        chat_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<OutboxEntry>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT id, reply, status, attempts, failures, next_attempt_ms, last_error \
                 FROM outbox WHERE platform = $1 AND chat_id = $2 ORDER BY id",
            )
            .bind(platform)
            .bind(chat_id)
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(OutboxEntry {
                        id: row.try_get("id")?,
                        reply: serde_json::from_value(row.try_get("reply")?)?,
                        status: outbox_status(row.try_get("status")?)?,
                        attempts: row.try_get("attempts")?,
                        failures: row.try_get("failures")?,
                        next_attempt: Timestamp(row.try_get("next_attempt_ms")?),
                        last_error: row.try_get("last_error")?,
                    })
                })
                .collect()
        })
    }

    fn web_deliver<'a>(
        &'a self,
        chat_id: &'a str,
        reply: &'a Reply,
    ) -> BoxFuture<'a, Result<i64, StoreError>> {
        Box::pin(async move {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO web_replies (chat_id, text, buttons, created_ms) \
                 VALUES ($1, $2, $3, (extract(epoch FROM now()) * 1000)::bigint) RETURNING id",
            )
            .bind(chat_id)
            .bind(&reply.text)
            .bind(serde_json::to_value(&reply.buttons)?)
            .fetch_one(&self.pool)
            .await?;
            Ok(id)
        })
    }

    fn web_replies<'a>(
        &'a self,
        chat_id: &'a str,
        after: i64,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<WebReply>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT id, text, buttons FROM web_replies WHERE chat_id = $1 AND id > $2 \
                 ORDER BY id LIMIT $3",
            )
            .bind(chat_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(WebReply {
                        id: row.try_get("id")?,
                        text: row.try_get("text")?,
                        buttons: serde_json::from_value(row.try_get("buttons")?)?,
                    })
                })
                .collect()
        })
    }

    fn chat_state<'a>(
        &'a self,
        platform: &'a str,
        chat_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ChatState>, StoreError>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT state, version FROM chats WHERE platform = $1 AND chat_id = $2",
            )
            .bind(platform)
            .bind(chat_id)
            .fetch_optional(&self.pool)
            .await?;
            row.map(|row| {
                Ok(ChatState {
                    state: row.try_get("state")?,
                    version: row.try_get("version")?,
                })
            })
            .transpose()
        })
    }

    fn scoreboard<'a>(
        &'a self,
        platform: &'a str,
        chat_id: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<PlayerScore>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT player_id, name, score FROM players WHERE platform = $1 AND chat_id = $2 \
                 ORDER BY score DESC, player_id LIMIT $3",
            )
            .bind(platform)
            .bind(chat_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(player_score).collect()
        })
    }

    fn stats(&self) -> BoxFuture<'_, Result<StoreStats, StoreError>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT \
                   (SELECT count(*) FROM inbox WHERE status = 'pending') AS inbox_pending, \
                   (SELECT count(*) FROM inbox WHERE status = 'dead') AS inbox_dead, \
                   (SELECT count(*) FROM outbox WHERE status = 'pending') AS outbox_pending, \
                   (SELECT count(*) FROM outbox WHERE status = 'dead') AS outbox_dead",
            )
            .fetch_one(&self.pool)
            .await?;
            Ok(StoreStats {
                inbox_pending: row.try_get("inbox_pending")?,
                inbox_dead: row.try_get("inbox_dead")?,
                outbox_pending: row.try_get("outbox_pending")?,
                outbox_dead: row.try_get("outbox_dead")?,
            })
        })
    }

    fn purge<'a>(&'a self, before: Timestamp) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut tx: Transaction<'static, Postgres> = self.pool.begin().await?;
            let mut deleted = 0;
            for sql in [
                "DELETE FROM inbox WHERE status IN ('done', 'dead') AND finished_at_ms < $1",
                "DELETE FROM outbox WHERE status IN ('sent', 'dead') AND finished_at_ms < $1",
                "DELETE FROM web_replies WHERE created_ms < $1",
            ] {
                deleted += sqlx::query(sql)
                    .bind(before.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            Ok(deleted)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Ok(mut slot) = self.listener.lock()
                && let Some(handle) = slot.take()
            {
                handle.abort();
            }
            self.pool.close().await;
            self.inbox_pool.close().await;
        })
    }
}
