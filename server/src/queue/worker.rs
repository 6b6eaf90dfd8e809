//! Workers: claim a chat's next message, run its turn, repeat.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use tracing::Instrument;

use super::{QueueSettings, backoff, jitter, linger};
use crate::clock::Clock;
use crate::game::Game;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError, TurnClaim, TurnDone};

/// One turn-running loop. A server runs several; they coordinate only through the store.
#[derive(Clone)]
pub struct Worker {
    id: String,
    store: Arc<dyn Store>,
    game: Arc<dyn Game>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    settings: QueueSettings,
}

impl Worker {
    /// Creates a worker named `id` (recorded as the lease owner; make it unique per
    /// server, e.g. host and index).
    pub fn new(
        id: impl Into<String>,
        store: Arc<dyn Store>,
        game: Arc<dyn Game>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        settings: QueueSettings,
    ) -> Worker {
        Worker {
            id: id.into(),
            store,
            game,
            clock,
            metrics,
            settings,
        }
    }

    /// Claims up to `turn_batch` chats and runs their turns (one transaction).
    /// Returns how many chats it claimed.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let claims = self
            .store
            .claim_turns(
                &self.id,
                self.clock.now(),
                self.settings.turn_lease,
                self.settings.turn_batch.max(1),
            )
            .await?;
        let count = claims.len();
        if count == 0 {
            return Ok(0);
        }
        if count >= self.settings.turn_batch.max(1) as usize {
            // There may be more: pass the wake-up on to another idle worker.
            self.store.wakeups().inbox.notify_one();
        }
        let (exhausted, runnable): (Vec<TurnClaim>, Vec<TurnClaim>) = claims
            .into_iter()
            .partition(|claim| claim.attempts > self.settings.max_turn_attempts);
        for claim in exhausted {
            let span = turn_span(&claim);
            self.dead_letter(&claim).instrument(span).await;
        }
        if runnable.is_empty() {
            return Ok(count);
        }
        let started = Instant::now();
        let outcomes = self
            .store
            .run_turns(&runnable, Arc::clone(&self.game), self.clock.now())
            .await;
        match outcomes {
            Ok(outcomes) => {
                for (claim, outcome) in runnable.iter().zip(outcomes) {
                    let span = turn_span(claim);
                    self.record(claim, outcome, started).instrument(span).await;
                }
            }
            Err(error) => {
                let reason = error.to_string();
                tracing::warn!(%error, turns = runnable.len(), "turn batch failed");
                for claim in &runnable {
                    let span = turn_span(claim);
                    self.failed(claim, &reason).instrument(span).await;
                }
            }
        }
        Ok(count)
    }

    async fn dead_letter(&self, claim: &TurnClaim) {
        let reason = format!("gave up after {} attempts", claim.attempts - 1);
        match self
            .store
            .dead_letter_turn(claim, self.clock.now(), &reason)
            .await
        {
            Ok(()) => {
                self.metrics.inbox_dead_letter();
                tracing::warn!(%reason, "inbound message dead-lettered");
            }
            Err(error) => tracing::warn!(%error, "failed to dead-letter a message"),
        }
    }

    async fn record(
        &self,
        claim: &TurnClaim,
        outcome: Result<TurnDone, StoreError>,
        started: Instant,
    ) {
        match outcome {
            Ok(done) => {
                self.metrics.turn_done(started.elapsed());
                tracing::debug!(
                    version = done.version,
                    replies = done.replies,
                    "turn committed"
                );
            }
            Err(StoreError::Fenced) => {
                self.metrics.turn_fenced();
                tracing::info!("claim expired and was taken over; turn abandoned");
            }
            Err(error) => {
                tracing::warn!(error = %error, "turn failed");
                self.failed(claim, &error.to_string()).await;
            }
        }
    }

    /// Releases a failed turn's chat for a retry after the backoff.
    async fn failed(&self, claim: &TurnClaim, reason: &str) {
        self.metrics.turn_failed();
        let failures = u32::try_from(claim.attempts).unwrap_or(1);
        let delay = backoff(
            failures,
            self.settings.turn_retry_base,
            self.settings.turn_retry_max,
            jitter(),
        );
        tracing::info!(
            retry_in_ms = delay.as_millis() as u64,
            "turn will be retried"
        );
        let not_before = self.clock.now().plus(delay);
        if let Err(release_error) = self
            .store
            .release_turn(claim, not_before, Some(reason))
            .await
        {
            // The lease expires by itself; the message is retried then.
            tracing::warn!(error = %release_error, "failed to release a failed turn");
        }
    }

    /// Runs turns until `shutdown` becomes true; an in-flight batch is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let wakeups_store = Arc::clone(&self.store);
        let wakeups = wakeups_store.wakeups();
        let full = self.settings.turn_batch.max(1) as usize;
        loop {
            if *shutdown.borrow() {
                break;
            }
            // Register for a wake-up before looking, so a message stored between the
            // look and the wait is not missed.
            let notified = wakeups.inbox.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.run_once().await {
                Ok(count) if count >= full => continue,
                Ok(0) => {}
                Ok(_) => {
                    // A part batch: let the next one gather before claiming again.
                    if !linger(self.settings.turn_linger, &mut shutdown).await {
                        break;
                    }
                    continue;
                }
                Err(error) => {
                    tracing::warn!(worker = %self.id, %error, "failed to claim a turn");
                }
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
            if !linger(self.settings.turn_linger, &mut shutdown).await {
                break;
            }
        }
        tracing::debug!(worker = %self.id, "worker stopped");
    }
}

fn turn_span(claim: &TurnClaim) -> tracing::Span {
    tracing::info_span!(
        "turn",
        platform = %claim.message.platform,
        chat = %claim.message.chat_id,
        inbox_id = claim.inbox_id,
        attempt = claim.attempts,
    )
}
