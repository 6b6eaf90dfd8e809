//! The queue: workers that run turns and senders that deliver replies.
//!
//! Rules (the store enforces them; see [`Store`](crate::Store)):
//! - **Claim:** a worker claims the oldest pending inbox message of a chat that no
//!   unexpired lease holds. One chat's turns therefore run one at a time and in inbox
//!   order, on any number of workers and servers; different chats run in parallel.
//! - **Lease and fencing:** a claim lasts `lease` (default 30 s, far longer than a turn).
//!   A worker that dies leaves its chat locked until the lease expires; then another
//!   worker claims the same message, and the dead worker's late writes are refused by
//!   the fencing token.
//! - **Batches:** a worker claims up to `turn_batch` chats at once (one statement, one
//!   commit) and runs their turns in one transaction (one commit); each turn stays all
//!   or nothing, and a failed turn does not fail the others. A sender claims up to
//!   `send_batch` replies and records a round's deliveries with one update. Webhook
//!   handlers share inbox commits through a small batching task (`http/batcher.rs`),
//!   answering each request only after its own message committed.
//! - **No deadlocks:** claims never wait for a lock (skip locked rows); every batched
//!   write locks its rows in one fixed order (inbox by unique key, chats by key, outbox
//!   by id), and a statement or turn batch that the database still aborts as a
//!   deadlock victim or a serialization failure runs again after a short backoff.
//! - **Turn:** one transaction (lock chat, load, game step, save state with version + 1,
//!   outbox, scores, mark done). A failed turn is rolled back and the chat waits
//!   an exponential backoff; after `max_turn_attempts` claims the message is dead-lettered
//!   (a poison message must not block its chat forever).
//! - **Sender:** claims the first pending reply of each chat (never reply n + 1 before
//!   reply n is sent or dead), splits it at sentence boundaries to the platform's
//!   length limit, sends with a timeout, and records the result: sent; retry after an
//!   exponential backoff with jitter; retry after the platform's `retry_after` (429,
//!   not counted as a failure); or dead after `max_send_failures` failures or one
//!   permanent failure. Delivery is at-least-once: a sender that dies between sending
//!   and recording makes the reply go out again after its lease.
//! - **Wake-up:** idle workers and senders wait on the store's
//!   [`Wakeups`](crate::Wakeups) (in-process `Notify`; on PostgreSQL fed by LISTEN/NOTIFY
//!   from all servers) or the polling interval, whichever comes first. An inbox commit
//!   wakes one idle worker; a worker whose claim came back full wakes the next.
//! - **Shutdown:** workers and senders stop claiming, finish what they hold, and exit;
//!   nothing claimed is left behind unless the grace period runs out, in which case
//!   the leases expire and another server takes over.

use std::time::Duration;

use tokio::sync::watch;

mod sender;
mod worker;

pub use sender::{Sender, split_reply};
pub use worker::Worker;

/// Timing and limits of workers and senders.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// How long a turn claim holds its chat.
    pub turn_lease: Duration,
    /// Chats a worker claims at once; their turns commit together (each turn is still
    /// all or nothing). 1 claims and commits one turn at a time.
    pub turn_batch: u32,
    /// How often idle workers and senders look for work without a wake-up.
    pub poll_interval: Duration,
    /// How long a worker waits after a wake-up or a part batch before it claims, so
    /// that messages arriving meanwhile share the claim and the commit (0: claim at
    /// once). A full batch is followed by the next claim at once.
    pub turn_linger: Duration,
    /// The same for senders: the wait after a wake-up or a part round.
    pub send_linger: Duration,
    /// Claims of one message before it is dead-lettered.
    pub max_turn_attempts: i32,
    /// First backoff after a failed turn (doubles per attempt).
    pub turn_retry_base: Duration,
    /// Longest backoff after a failed turn.
    pub turn_retry_max: Duration,
    /// How long a sender's claim holds a reply (renewed per part sent).
    pub send_lease: Duration,
    /// How long one send may take before it counts as a failure.
    pub send_timeout: Duration,
    /// Replies claimed (and sent concurrently, one per chat) per round.
    pub send_batch: u32,
    /// Failed sends of one reply before it is dead-lettered.
    pub max_send_failures: i32,
    /// First backoff after a failed send (doubles per failure).
    pub send_retry_base: Duration,
    /// Longest backoff after a failed send.
    pub send_retry_max: Duration,
    /// Longest wait honoured from a platform's retry-after.
    pub max_retry_after: Duration,
}

impl Default for QueueSettings {
    fn default() -> QueueSettings {
        QueueSettings {
            turn_lease: Duration::from_secs(30),
            turn_batch: 32,
            poll_interval: Duration::from_secs(1),
            turn_linger: Duration::from_millis(10),
            send_linger: Duration::from_millis(5),
            max_turn_attempts: 5,
            turn_retry_base: Duration::from_secs(1),
            turn_retry_max: Duration::from_secs(60),
            send_lease: Duration::from_secs(60),
            send_timeout: Duration::from_secs(10),
            send_batch: 128,
            max_send_failures: 8,
            send_retry_base: Duration::from_secs(1),
            send_retry_max: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(3600),
        }
    }
}

/// Exponential backoff with "equal jitter": for the `n`th failure (from 1) the delay is
/// `d = min(base * 2^(n-1), max)` and the wait is uniform in `[d/2, d]`, so retries of
/// many rows spread out instead of hitting the platform together. `jitter` is in [0, 1).
pub fn backoff(failure: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exponent = failure.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exponent).min(max);
    let half = full / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// Waits `duration` (nothing when zero) unless shutdown begins; false when the
/// shutdown signal is gone.
pub(crate) async fn linger(duration: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if duration.is_zero() || *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(duration) => true,
        changed = shutdown.changed() => changed.is_ok(),
    }
}

/// A jitter value in [0, 1) from the thread's random generator.
pub(crate) fn jitter() -> f64 {
    rand::random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_bounds_and_caps() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(10);
        assert_eq!(backoff(1, base, max, 0.0), Duration::from_millis(500));
        assert_eq!(
            backoff(1, base, max, 0.999_999),
            Duration::from_micros(999_999) + Duration::from_nanos(500)
        );
        assert_eq!(backoff(2, base, max, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(3, base, max, 0.5), Duration::from_secs(3));
        assert_eq!(backoff(10, base, max, 0.0), Duration::from_secs(5));
        assert_eq!(backoff(100, base, max, 1.0), Duration::from_secs(10));
        assert_eq!(backoff(0, base, max, 0.0), Duration::from_millis(500));
    }

    #[test]
    fn jitter_is_in_unit_interval() {
        for _ in 0..1000 {
            let value = jitter();
            assert!((0.0..1.0).contains(&value));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn linger_waits_its_time_unless_shutdown_begins() {
        let (stop, mut shutdown) = watch::channel(false);
        let started = tokio::time::Instant::now();
        assert!(linger(Duration::ZERO, &mut shutdown).await);
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert!(linger(Duration::from_millis(10), &mut shutdown).await);
        assert_eq!(started.elapsed(), Duration::from_millis(10));
        // Shutdown during the wait ends it at once.
        let waiting = tokio::spawn(async move {
            let begun = tokio::time::Instant::now();
            let went_on = linger(Duration::from_secs(60), &mut shutdown).await;
            (went_on, begun.elapsed(), shutdown)
        });
        tokio::time::sleep(Duration::from_millis(3)).await;
        stop.send(true).unwrap();
        let (went_on, waited, mut shutdown) = waiting.await.unwrap();
        assert!(went_on);
        assert!(waited < Duration::from_secs(1), "waited {waited:?}");
        // Already shutting down: no wait.
        let begun = tokio::time::Instant::now();
        assert!(linger(Duration::from_secs(60), &mut shutdown).await);
        assert_eq!(begun.elapsed(), Duration::ZERO);
        // The shutdown sender gone: tell the caller to stop.
        let (stop, mut shutdown) = watch::channel(false);
        drop(stop);
        assert!(!linger(Duration::from_secs(60), &mut shutdown).await);
    }
}
