//! Workers: claim a chat's next message, run its turn, repeat.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use tracing::Instrument;

use super::{QueueSettings, backoff, jitter};
use crate::clock::Clock;
use crate::game::Game;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError, TurnClaim};

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

    /// Claims and runs at most one turn. Returns whether there was one.
    pub async fn run_once(&self) -> Result<bool, StoreError> {
        let claim = self
            .store
            .claim_turn(&self.id, self.clock.now(), self.settings.turn_lease)
            .await?;
        let Some(claim) = claim else {
            return Ok(false);
        };
        self.process(claim).await;
        Ok(true)
    }

    async fn process(&self, claim: TurnClaim) {
        let span = tracing::info_span!(
            "turn",
            platform = %claim.message.platform,
            chat = %claim.message.chat_id,
            inbox_id = claim.inbox_id,
            attempt = claim.attempts,
        );
        self.process_in_span(claim).instrument(span).await;
    }

    async fn process_in_span(&self, claim: TurnClaim) {
        if claim.attempts > self.settings.max_turn_attempts {
            let reason = format!("gave up after {} attempts", claim.attempts - 1);
            match self
                .store
                .dead_letter_turn(&claim, self.clock.now(), &reason)
                .await
            {
                Ok(()) => {
                    self.metrics.inbox_dead_letter();
                    tracing::warn!(%reason, "inbound message dead-lettered");
                }
                Err(error) => tracing::warn!(%error, "failed to dead-letter a message"),
            }
            return;
        }
        let started = Instant::now();
        match self
            .store
            .run_turn(&claim, Arc::clone(&self.game), self.clock.now())
            .await
        {
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
                self.metrics.turn_failed();
                let failures = u32::try_from(claim.attempts).unwrap_or(1);
                let delay = backoff(
                    failures,
                    self.settings.turn_retry_base,
                    self.settings.turn_retry_max,
                    jitter(),
                );
                tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "turn failed");
                let reason = error.to_string();
                let not_before = self.clock.now().plus(delay);
                if let Err(release_error) = self
                    .store
                    .release_turn(&claim, not_before, Some(&reason))
                    .await
                {
                    // The lease expires by itself; the message is retried then.
                    tracing::warn!(error = %release_error, "failed to release a failed turn");
                }
            }
        }
    }

    /// Runs turns until `shutdown` becomes true; an in-flight turn is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let wakeups_store = Arc::clone(&self.store);
        let wakeups = wakeups_store.wakeups();
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
                Ok(true) => continue,
                Ok(false) => {}
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
        }
        tracing::debug!(worker = %self.id, "worker stopped");
    }
}
