//! The embedded store: one SQLite file, nothing to install.
//!
//! Writes go through one pooled connection and open with `BEGIN IMMEDIATE`, so they
//! never interleave (SQLite has one writer per file anyway, and a single in-process
//! writer avoids busy-waiting on the file lock). Reads use a separate pool and, thanks
//! to WAL mode, never wait for the writer. Claims still carry leases and fencing
//! tokens, so the queue contract is the same as PostgreSQL's. Several processes may
//! share the file on one machine (the busy timeout arbitrates); they are woken only by
//! polling, the in-process [`Wakeups`] serve this process's workers.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::{
    BoxFuture, ChatState, Enqueued, FirstCopies, OutboxClaim, OutboxEntry, RetryKind, Store,
    StoreError, StoreOptions, StoreStats, TOP_PLAYERS, TurnClaim, TurnDone, Wakeups, WebReply,
    outbox_status, reply_to_json,
};
use crate::game::{Game, StepRequest, step_blocking};
use crate::model::{ChatAddress, InboundMessage, PlayerScore, Reply, Timestamp};

/// The SQLite store.
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    wakeups: Wakeups,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Columns of an inbox row that [`inbox_message`] decodes.
macro_rules! inbox_columns {
    () => {
        "id, platform, chat_id, message_id, sender_id, sender_name, text, is_group, \
         reply_context, received_at_ms, attempts"
    };
}

impl SqliteStore {
    /// Opens (creating if missing) the database file named by `url`, e.g.
    /// `sqlite://fraser.sqlite` (relative to the working directory) or
    /// `sqlite:///var/lib/fraser/fraser.sqlite`. In-memory databases are not supported
    /// (the reader and writer pools must see the same file).
    pub async fn open(url: &str, options: &StoreOptions) -> Result<SqliteStore, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Database)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a commit survives a process crash; a power cut may
            // lose the last commits but never corrupts the file.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout.max(Duration::from_secs(10)))
            .connect_with(connect.clone())
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.clamp(1, 8))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.read_only(true))
            .await?;
        Ok(SqliteStore {
            writer,
            reader,
            wakeups: Wakeups::default(),
        })
    }

    /// Applies the migrations in `migrations/sqlite` that are not applied yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.writer)
            .await
            .map_err(StoreError::Migrate)
    }

    async fn begin(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn enqueue_batch_inner(
        &self,
        messages: &[InboundMessage],
    ) -> Result<Vec<Enqueued>, StoreError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        // Copies of a message within the batch: the first is stored, the rest are
        // duplicates (as on PostgreSQL).
        let mut results = vec![Enqueued::Duplicate; messages.len()];
        let mut tx = self.begin().await?;
        for position in FirstCopies::of(messages).positions {
            results[position] = Self::enqueue_in(&mut tx, &messages[position]).await?;
        }
        tx.commit().await?;
        if results.contains(&Enqueued::New) {
            self.wakeups.inbox.notify_one();
        }
        Ok(results)
    }

    async fn enqueue_in(
        tx: &mut Transaction<'static, Sqlite>,
        message: &InboundMessage,
    ) -> Result<Enqueued, StoreError> {
        sqlx::query(
            "INSERT INTO inbox_chats (platform, chat_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(&message.platform)
        .bind(&message.chat_id)
        .execute(&mut **tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO inbox (platform, chat_id, message_id, sender_id, sender_name, text, \
                 is_group, reply_context, received_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (platform, message_id) DO NOTHING",
        )
        .bind(&message.platform)
        .bind(&message.chat_id)
        .bind(&message.message_id)
        .bind(&message.sender_id)
        .bind(&message.sender_name)
        .bind(&message.text)
        .bind(message.is_group)
        .bind(serde_json::to_string(&message.reply_context)?)
        .bind(message.received_at.0)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        Ok(if inserted == 0 {
            Enqueued::Duplicate
        } else {
            Enqueued::New
        })
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
        let mut tx = self.begin().await?;
        // The first pending message (in inbox order) of a chat whose lease is free is
        // the chat's oldest pending one; a chat with several shows up several times.
        let candidates = sqlx::query(
            "SELECT i.id, i.platform, i.chat_id FROM inbox i \
             JOIN inbox_chats q ON q.platform = i.platform AND q.chat_id = i.chat_id \
             WHERE i.status = 'pending' AND q.lease_until_ms <= ? \
             ORDER BY i.id LIMIT ?",
        )
        .bind(now.0)
        .bind(i64::from(limit).saturating_mul(4))
        .fetch_all(&mut *tx)
        .await?;
        let mut seen = std::collections::HashSet::new();
        let mut claims = Vec::new();
        let lease_until = now.plus(lease);
        for candidate in &candidates {
            if claims.len() >= limit as usize {
                break;
            }
            let inbox_id: i64 = candidate.try_get("id")?;
            let platform: String = candidate.try_get("platform")?;
            let chat_id: String = candidate.try_get("chat_id")?;
            if !seen.insert((platform.clone(), chat_id.clone())) {
                continue;
            }
            let token: i64 = sqlx::query_scalar(
                "UPDATE inbox_chats SET lease_token = lease_token + 1, lease_owner = ?, \
                     lease_until_ms = ? \
                 WHERE platform = ? AND chat_id = ? RETURNING lease_token",
            )
            .bind(worker)
            .bind(lease_until.0)
            .bind(&platform)
            .bind(&chat_id)
            .fetch_one(&mut *tx)
            .await?;
            let row = sqlx::query(concat!(
                "UPDATE inbox SET attempts = attempts + 1 WHERE id = ? RETURNING ",
                inbox_columns!()
            ))
            .bind(inbox_id)
            .fetch_one(&mut *tx)
            .await?;
            let (message, attempts) = inbox_message(&row)?;
            claims.push(TurnClaim {
                inbox_id,
                token,
                attempts,
                message,
                lease_until,
            });
        }
        tx.commit().await?;
        Ok(claims)
    }

    async fn outbox_sent_many_inner(
        &self,
        claims: &[OutboxClaim],
        now: Timestamp,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let mut outcomes = Vec::with_capacity(claims.len());
        for claim in claims {
            let changed = sqlx::query(
                "UPDATE outbox SET status = 'sent', finished_at_ms = ?, lease_owner = NULL, \
                     lease_until_ms = 0, last_error = NULL \
                 WHERE id = ? AND lease_token = ? AND status = 'pending'",
            )
            .bind(now.0)
            .bind(claim.id)
            .bind(claim.token)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            outcomes.push(if changed == 0 {
                Err(StoreError::Fenced)
            } else {
                Ok(())
            });
        }
        tx.commit().await?;
        if outcomes.iter().any(Result::is_ok) {
            self.wakeups.outbox.notify_waiters();
        }
        Ok(outcomes)
    }

    /// Checks inside `tx` that `claim` still holds its chat and its message is pending.
    async fn check_fence(
        tx: &mut Transaction<'static, Sqlite>,
        claim: &TurnClaim,
    ) -> Result<(), StoreError> {
        let holds: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM inbox_chats q JOIN inbox i ON i.id = ? \
             WHERE q.platform = ? AND q.chat_id = ? AND q.lease_token = ? \
               AND q.lease_owner IS NOT NULL AND i.status = 'pending'",
        )
        .bind(claim.inbox_id)
        .bind(&claim.message.platform)
        .bind(&claim.message.chat_id)
        .bind(claim.token)
        .fetch_optional(&mut **tx)
        .await?;
        holds.map(|_| ()).ok_or(StoreError::Fenced)
    }

    async fn run_turn_inner(
        &self,
        claim: &TurnClaim,
        game: Arc<dyn Game>,
        now: Timestamp,
    ) -> Result<TurnDone, StoreError> {
        let mut tx = self.begin().await?;
        let done = Self::turn_in(&mut tx, claim, game, now).await?;
        tx.commit().await?;
        if done.replies > 0 {
            self.wakeups.outbox.notify_waiters();
        }
        Ok(done)
    }

    /// Runs several turns in one transaction, each inside a savepoint: a failed turn
    /// is rolled back to its savepoint and the others go on.
    async fn run_turns_inner(
        &self,
        claims: &[TurnClaim],
        game: Arc<dyn Game>,
        now: Timestamp,
    ) -> Result<Vec<Result<TurnDone, StoreError>>, StoreError> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let mut outcomes = Vec::with_capacity(claims.len());
        for claim in claims {
            sqlx::query("SAVEPOINT turn").execute(&mut *tx).await?;
            let outcome = Self::turn_in(&mut tx, claim, Arc::clone(&game), now).await;
            if outcome.is_err() {
                sqlx::query("ROLLBACK TO turn").execute(&mut *tx).await?;
            }
            sqlx::query("RELEASE turn").execute(&mut *tx).await?;
            outcomes.push(outcome);
        }
        tx.commit().await?;
        if outcomes
            .iter()
            .any(|outcome| outcome.as_ref().is_ok_and(|done| done.replies > 0))
        {
            self.wakeups.outbox.notify_waiters();
        }
        Ok(outcomes)
    }

    /// One turn inside `tx` (see [`Store::run_turn`]); the caller commits.
    async fn turn_in(
        tx: &mut Transaction<'static, Sqlite>,
        claim: &TurnClaim,
        game: Arc<dyn Game>,
        now: Timestamp,
    ) -> Result<TurnDone, StoreError> {
        let message = &claim.message;
        Self::check_fence(tx, claim).await?;

        // Load, creating the chat and the sender's player record on first sight (the
        // same work as PostgreSQL's fraser_load_chat).
        sqlx::query(
            "INSERT INTO chats (platform, chat_id, is_group) VALUES (?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&message.platform)
        .bind(&message.chat_id)
        .bind(message.is_group)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO players (platform, chat_id, player_id, name) VALUES (?, ?, ?, ?) \
             ON CONFLICT (platform, chat_id, player_id) DO UPDATE SET name = excluded.name \
             WHERE players.name <> excluded.name",
        )
        .bind(&message.platform)
        .bind(&message.chat_id)
        .bind(&message.sender_id)
        .bind(&message.sender_name)
        .execute(&mut **tx)
        .await?;
        let chat =
            sqlx::query("SELECT state, version FROM chats WHERE platform = ? AND chat_id = ?")
                .bind(&message.platform)
                .bind(&message.chat_id)
                .fetch_one(&mut **tx)
                .await?;
        let state: serde_json::Value = serde_json::from_str(chat.try_get::<&str, _>("state")?)?;
        let version: i64 = chat.try_get("version")?;
        let score_rows = sqlx::query(
            "SELECT player_id, name, score FROM ( \
                 SELECT player_id, name, score FROM players WHERE platform = ?1 AND chat_id = ?2 \
                 ORDER BY score DESC, player_id LIMIT ?4) \
             UNION \
             SELECT player_id, name, score FROM players \
             WHERE platform = ?1 AND chat_id = ?2 AND player_id = ?3",
        )
        .bind(&message.platform)
        .bind(&message.chat_id)
        .bind(&message.sender_id)
        .bind(TOP_PLAYERS)
        .fetch_all(&mut **tx)
        .await?;
        let mut scores = score_rows
            .iter()
            .map(player_score)
            .collect::<Result<Vec<_>, _>>()?;
        sort_scores(&mut scores);

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

        let saved = sqlx::query(
            "UPDATE chats SET state = ?, version = version + 1 \
             WHERE platform = ? AND chat_id = ? AND version = ?",
        )
        .bind(serde_json::to_string(&output.state)?)
        .bind(&message.platform)
        .bind(&message.chat_id)
        .bind(version)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if saved != 1 {
            // Cannot happen while the fence holds (we are the only writer of this chat);
            // refuse rather than lose an update.
            return Err(StoreError::Fenced);
        }
        let reply_context = serde_json::to_string(&message.reply_context)?;
        for reply in &output.replies {
            sqlx::query(
                "INSERT INTO outbox (platform, chat_id, inbox_id, is_group, reply_context, \
                     reply, next_attempt_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&message.platform)
            .bind(&message.chat_id)
            .bind(claim.inbox_id)
            .bind(message.is_group)
            .bind(&reply_context)
            .bind(reply_to_json(reply).to_string())
            .bind(now.0)
            .execute(&mut **tx)
            .await?;
        }
        for delta in &output.score_deltas {
            sqlx::query(
                "INSERT INTO players (platform, chat_id, player_id, name, score) \
                 VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (platform, chat_id, player_id) \
                 DO UPDATE SET score = players.score + excluded.score",
            )
            .bind(&message.platform)
            .bind(&message.chat_id)
            .bind(&delta.player_id)
            .bind(&delta.player_id)
            .bind(delta.delta)
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query(
            "UPDATE inbox SET status = 'done', finished_at_ms = ?, last_error = NULL WHERE id = ?",
        )
        .bind(now.0)
        .bind(claim.inbox_id)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE inbox_chats SET lease_owner = NULL, lease_until_ms = 0, last_error = NULL \
             WHERE platform = ? AND chat_id = ?",
        )
        .bind(&message.platform)
        .bind(&message.chat_id)
        .execute(&mut **tx)
        .await?;
        Ok(TurnDone {
            version: version + 1,
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
        let mut tx = self.begin().await?;
        Self::check_fence(&mut tx, claim).await?;
        if dead {
            sqlx::query(
                "UPDATE inbox SET status = 'dead', last_error = ?, finished_at_ms = ? \
                 WHERE id = ?",
            )
            .bind(error)
            .bind(not_before.0)
            .bind(claim.inbox_id)
            .execute(&mut *tx)
            .await?;
        } else if let Some(error) = error {
            sqlx::query("UPDATE inbox SET last_error = ? WHERE id = ?")
                .bind(error)
                .bind(claim.inbox_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE inbox_chats SET lease_owner = NULL, lease_until_ms = ?, last_error = ? \
             WHERE platform = ? AND chat_id = ?",
        )
        .bind(if dead { 0 } else { not_before.0 })
        .bind(error)
        .bind(&claim.message.platform)
        .bind(&claim.message.chat_id)
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
        let mut tx = self.begin().await?;
        let rows = sqlx::query(
            "UPDATE outbox SET lease_token = lease_token + 1, lease_owner = ?1, \
                 lease_until_ms = ?2, attempts = attempts + 1 \
             WHERE id IN ( \
                 SELECT o.id FROM outbox o \
                 WHERE o.status = 'pending' AND o.next_attempt_ms <= ?3 \
                   AND o.lease_until_ms <= ?3 \
                   AND NOT EXISTS (SELECT 1 FROM outbox p \
                       WHERE p.platform = o.platform AND p.chat_id = o.chat_id \
                         AND p.status = 'pending' AND p.id < o.id) \
                 ORDER BY o.id LIMIT ?4) \
             RETURNING id, lease_token, platform, chat_id, is_group, reply_context, reply, \
                 attempts, failures, parts_sent",
        )
        .bind(worker)
        .bind(now.plus(lease).0)
        .bind(now.0)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut claims = rows
            .iter()
            .map(outbox_claim)
            .collect::<Result<Vec<_>, _>>()?;
        claims.sort_by_key(|claim| claim.id);
        Ok(claims)
    }

    /// Runs a fenced update of one claimed outbox row.
    async fn outbox_update(
        &self,
        claim: &OutboxClaim,
        sql: &'static str,
        bind: impl FnOnce(
            sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments>,
        ) -> sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments>,
        wake: bool,
    ) -> Result<(), StoreError> {
        // Every statement here ends with "WHERE id = ? AND lease_token = ? AND status = 'pending'".
        let query = bind(sqlx::query(sql)).bind(claim.id).bind(claim.token);
        let mut tx = self.begin().await?;
        let changed = query.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        if changed == 0 {
            return Err(StoreError::Fenced);
        }
        if wake {
            self.wakeups.outbox.notify_waiters();
        }
        Ok(())
    }
}

fn inbox_message(row: &SqliteRow) -> Result<(InboundMessage, i32), StoreError> {
    let reply_context: &str = row.try_get("reply_context")?;
    let message = InboundMessage {
        platform: row.try_get("platform")?,
        chat_id: row.try_get("chat_id")?,
        sender_id: row.try_get("sender_id")?,
        sender_name: row.try_get("sender_name")?,
        text: row.try_get("text")?,
        message_id: row.try_get("message_id")?,
        is_group: row.try_get("is_group")?,
        reply_context: serde_json::from_str(reply_context)?,
        received_at: Timestamp(row.try_get("received_at_ms")?),
    };
    Ok((message, row.try_get("attempts")?))
}

fn player_score(row: &SqliteRow) -> Result<PlayerScore, StoreError> {
    Ok(PlayerScore {
        player_id: row.try_get("player_id")?,
        name: row.try_get("name")?,
        score: row.try_get("score")?,
    })
}

pub(crate) fn sort_scores(scores: &mut [PlayerScore]) {
    scores.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.player_id.cmp(&b.player_id))
    });
}

fn outbox_claim(row: &SqliteRow) -> Result<OutboxClaim, StoreError> {
    let reply: Reply = serde_json::from_str(row.try_get::<&str, _>("reply")?)?;
    Ok(OutboxClaim {
        id: row.try_get("id")?,
        token: row.try_get("lease_token")?,
        address: ChatAddress {
            platform: row.try_get("platform")?,
            chat_id: row.try_get("chat_id")?,
            is_group: row.try_get("is_group")?,
            reply_context: serde_json::from_str(row.try_get::<&str, _>("reply_context")?)?,
        },
        reply,
        attempts: row.try_get("attempts")?,
        failures: row.try_get("failures")?,
        parts_sent: row.try_get("parts_sent")?,
    })
}

impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.reader).await?;
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
            "UPDATE outbox SET parts_sent = ?, lease_until_ms = ? \
             WHERE id = ? AND lease_token = ? AND status = 'pending'",
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
            "UPDATE outbox SET failures = failures + ?, next_attempt_ms = ?, last_error = ?, \
                 lease_owner = NULL, lease_until_ms = 0 \
             WHERE id = ? AND lease_token = ? AND status = 'pending'",
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
            "UPDATE outbox SET status = 'dead', failures = failures + 1, finished_at_ms = ?, \
                 last_error = ?, lease_owner = NULL, lease_until_ms = 0 \
             WHERE id = ? AND lease_token = ? AND status = 'pending'",
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
             WHERE id = ? AND lease_token = ? AND status = 'pending'",
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
                 FROM outbox WHERE platform = ? AND chat_id = ? ORDER BY id",
            )
            .bind(platform)
            .bind(chat_id)
            .fetch_all(&self.reader)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(OutboxEntry {
                        id: row.try_get("id")?,
                        reply: serde_json::from_str(row.try_get::<&str, _>("reply")?)?,
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
            let mut tx = self.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO web_replies (chat_id, text, buttons, created_ms) \
                 VALUES (?, ?, ?, ?) RETURNING id",
            )
            .bind(chat_id)
            .bind(&reply.text)
            .bind(serde_json::to_string(&reply.buttons)?)
            // Only for purging old web replies; the queue never compares it.
            .bind(crate::clock::Clock::now(&crate::clock::SystemClock).0)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
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
                "SELECT id, text, buttons FROM web_replies WHERE chat_id = ? AND id > ? \
                 ORDER BY id LIMIT ?",
            )
            .bind(chat_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(WebReply {
                        id: row.try_get("id")?,
                        text: row.try_get("text")?,
                        buttons: serde_json::from_str(row.try_get::<&str, _>("buttons")?)?,
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
            let row =
                sqlx::query("SELECT state, version FROM chats WHERE platform = ? AND chat_id = ?")
                    .bind(platform)
                    .bind(chat_id)
                    .fetch_optional(&self.reader)
                    .await?;
            row.map(|row| {
                Ok(ChatState {
                    state: serde_json::from_str(row.try_get::<&str, _>("state")?)?,
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
                "SELECT player_id, name, score FROM players WHERE platform = ? AND chat_id = ? \
                 ORDER BY score DESC, player_id LIMIT ?",
            )
            .bind(platform)
            .bind(chat_id)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
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
            .fetch_one(&self.reader)
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
            let mut tx = self.begin().await?;
            let mut deleted = 0;
            for sql in [
                "DELETE FROM inbox WHERE status IN ('done', 'dead') AND finished_at_ms < ?",
                "DELETE FROM outbox WHERE status IN ('sent', 'dead') AND finished_at_ms < ?",
                "DELETE FROM web_replies WHERE created_ms < ?",
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
            self.writer.close().await;
            self.reader.close().await;
        })
    }
}
