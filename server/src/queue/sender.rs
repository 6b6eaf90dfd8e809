//! Senders: deliver outbox rows through the platforms' messengers.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::{QueueSettings, backoff, jitter};
use crate::clock::Clock;
use crate::messenger::{Messengers, SendOutcome};
use crate::metrics::Metrics;
use crate::model::Reply;
use crate::store::{OutboxClaim, RetryKind, Store, StoreError};

/// One delivery loop. A server runs one or more; they coordinate through the store.
#[derive(Clone)]
pub struct Sender {
    inner: Arc<SenderInner>,
}

struct SenderInner {
    id: String,
    store: Arc<dyn Store>,
    messengers: Messengers,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    settings: QueueSettings,
}

impl Sender {
    /// Creates a sender named `id` (the lease owner; unique per server).
    pub fn new(
        id: impl Into<String>,
        store: Arc<dyn Store>,
        messengers: Messengers,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        settings: QueueSettings,
    ) -> Sender {
        Sender {
            inner: Arc::new(SenderInner {
                id: id.into(),
                store,
                messengers,
                clock,
                metrics,
                settings,
            }),
        }
    }

    /// Claims one batch (at most one reply per chat) and delivers it, chats in
    /// parallel. Returns the number of replies handled (sent, retried or dead).
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let inner = &self.inner;
        let claims = inner
            .store
            .claim_outbox(
                &inner.id,
                inner.clock.now(),
                inner.settings.send_lease,
                inner.settings.send_batch,
            )
            .await?;
        let count = claims.len();
        let mut deliveries = JoinSet::new();
        for claim in claims {
            let inner = Arc::clone(&self.inner);
            deliveries.spawn(async move { inner.deliver(claim).await });
        }
        let mut delivered = Vec::with_capacity(count);
        while let Some(joined) = deliveries.join_next().await {
            match joined {
                Ok(Some(claim)) => delivered.push(claim),
                Ok(None) => {}
                Err(error) => tracing::error!(%error, "delivery task failed"),
            }
        }
        // All the round's deliveries in one commit. A failure here only means that
        // the replies go out again after their leases (at-least-once).
        if !delivered.is_empty() {
            match inner
                .store
                .outbox_sent_many(&delivered, inner.clock.now())
                .await
            {
                Ok(outcomes) => {
                    let fenced = outcomes.iter().filter(|outcome| outcome.is_err()).count();
                    if fenced > 0 {
                        tracing::info!(fenced, "deliveries whose claims were taken over");
                    }
                }
                Err(error) => tracing::warn!(%error, "failed to record deliveries"),
            }
        }
        Ok(count)
    }

    /// Delivers until `shutdown` becomes true; in-flight sends are finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let store = Arc::clone(&self.inner.store);
        let wakeups = store.wakeups();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let notified = wakeups.outbox.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.run_once().await {
                Ok(0) => {}
                Ok(count) if count >= self.inner.settings.send_batch.max(1) as usize => continue,
                Ok(_) => {
                    if !super::linger(self.inner.settings.send_linger, &mut shutdown).await {
                        break;
                    }
                    continue;
                }
                Err(error) => {
                    tracing::warn!(sender = %self.inner.id, %error, "failed to claim replies");
                }
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(self.inner.settings.poll_interval) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
            if !super::linger(self.inner.settings.send_linger, &mut shutdown).await {
                break;
            }
        }
        tracing::debug!(sender = %self.inner.id, "sender stopped");
    }
}

impl SenderInner {
    /// Delivers one claimed row; returns it when every part went out (to be marked
    /// sent with the round's others), `None` when the outcome was already recorded.
    async fn deliver(&self, claim: OutboxClaim) -> Option<OutboxClaim> {
        let platform = claim.address.platform.clone();
        let span = tracing::info_span!(
            "send",
            platform = %platform,
            chat = %claim.address.chat_id,
            outbox_id = claim.id,
            attempt = claim.attempts,
        );
        let result = self.deliver_parts(&claim, &platform).instrument(span).await;
        match result {
            Ok(Delivery::Sent) => Some(claim),
            Ok(Delivery::Recorded) | Err(StoreError::Fenced) => None,
            Err(error) => {
                // The lease expires and the row is sent again (at-least-once).
                tracing::warn!(%error, "failed to record a delivery");
                None
            }
        }
    }

    async fn deliver_parts(
        &self,
        claim: &OutboxClaim,
        platform: &str,
    ) -> Result<Delivery, StoreError> {
        let Some(messenger) = self.messengers.messenger(platform) else {
            let reason = format!("no messenger for platform {platform:?}");
            self.metrics.send_failed(platform, "permanent");
            return self
                .give_up(claim, platform, &reason)
                .await
                .map(|()| Delivery::Recorded);
        };
        let parts = split_reply(&claim.reply, messenger.max_len());
        let already_sent = usize::try_from(claim.parts_sent).unwrap_or(0);
        for (index, part) in parts.iter().enumerate().skip(already_sent) {
            let outcome = tokio::time::timeout(
                self.settings.send_timeout,
                messenger.send(&claim.address, part),
            )
            .await
            .unwrap_or_else(|_| SendOutcome::Failed {
                permanent: false,
                reason: format!("send timed out after {:?}", self.settings.send_timeout),
            });
            match outcome {
                SendOutcome::Sent => {
                    self.metrics.send_ok(platform);
                    let sent = index + 1;
                    if sent < parts.len() {
                        let lease_until = self.clock.now().plus(self.settings.send_lease);
                        let sent = i32::try_from(sent).unwrap_or(i32::MAX);
                        self.store.outbox_progress(claim, sent, lease_until).await?;
                    }
                }
                SendOutcome::RetryAfter(wait) => {
                    self.metrics.send_failed(platform, "rate_limited");
                    let wait = wait.min(self.settings.max_retry_after);
                    tracing::info!(wait_ms = wait.as_millis() as u64, "rate limited");
                    let next = self.clock.now().plus(wait);
                    return self
                        .store
                        .outbox_retry(claim, next, RetryKind::RateLimited, "rate limited")
                        .await
                        .map(|()| Delivery::Recorded);
                }
                SendOutcome::Failed {
                    permanent: true,
                    reason,
                } => {
                    self.metrics.send_failed(platform, "permanent");
                    return self
                        .give_up(claim, platform, &reason)
                        .await
                        .map(|()| Delivery::Recorded);
                }
                SendOutcome::Failed {
                    permanent: false,
                    reason,
                } => {
                    let timed_out = reason.starts_with("send timed out");
                    self.metrics
                        .send_failed(platform, if timed_out { "timeout" } else { "error" });
                    let failures = claim.failures + 1;
                    if failures >= self.settings.max_send_failures {
                        let reason = format!("{reason} (failure {failures}, giving up)");
                        return self
                            .give_up(claim, platform, &reason)
                            .await
                            .map(|()| Delivery::Recorded);
                    }
                    let delay = backoff(
                        u32::try_from(failures).unwrap_or(1),
                        self.settings.send_retry_base,
                        self.settings.send_retry_max,
                        jitter(),
                    );
                    tracing::info!(%reason, retry_in_ms = delay.as_millis() as u64, "send failed");
                    let next = self.clock.now().plus(delay);
                    return self
                        .store
                        .outbox_retry(claim, next, RetryKind::Failure, &reason)
                        .await
                        .map(|()| Delivery::Recorded);
                }
            }
        }
        Ok(Delivery::Sent)
    }

    async fn give_up(
        &self,
        claim: &OutboxClaim,
        platform: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.store
            .outbox_dead(claim, self.clock.now(), reason)
            .await?;
        self.metrics.dead_letter(platform);
        tracing::warn!(%reason, "reply dead-lettered");
        Ok(())
    }
}

/// How one delivery ended.
enum Delivery {
    /// Every part went out; not recorded yet.
    Sent,
    /// Retried or dead-lettered, and recorded.
    Recorded,
}

/// Splits a reply into parts of at most `max_len` characters: at sentence ends (or
/// line breaks) where possible, else at spaces, else inside a word. The buttons go
/// with the last part. A reply that fits is returned as it is.
pub fn split_reply(reply: &Reply, max_len: usize) -> Vec<Reply> {
    let max_len = max_len.max(1);
    if reply.text.chars().count() <= max_len {
        return vec![reply.clone()];
    }
    let mut splitter = Splitter {
        max_len,
        parts: Vec::new(),
        current: String::new(),
        len: 0,
    };
    for sentence in sentences(&reply.text) {
        splitter.push(sentence, Level::Sentence);
    }
    splitter.flush();
    let mut parts: Vec<Reply> = splitter.parts.into_iter().map(Reply::text).collect();
    if let Some(last) = parts.last_mut() {
        last.buttons = reply.buttons.clone();
    }
    parts
}

#[derive(Clone, Copy)]
enum Level {
    Sentence,
    Word,
    Char,
}

struct Splitter {
    max_len: usize,
    parts: Vec<String>,
    current: String,
    len: usize,
}

impl Splitter {
    fn push(&mut self, piece: &str, level: Level) {
        // Trailing whitespace is dropped if the part ends here, so it does not count
        // towards fitting this piece (it does count once another piece follows).
        let piece_len = piece.chars().count();
        let visible_len = piece.trim_end().chars().count();
        if self.len + visible_len <= self.max_len {
            self.current.push_str(piece);
            self.len += piece_len;
            return;
        }
        self.flush();
        if visible_len <= self.max_len {
            self.current.push_str(piece);
            self.len = piece_len;
            return;
        }
        match level {
            Level::Sentence => {
                for word in piece.split_inclusive(char::is_whitespace) {
                    self.push(word, Level::Word);
                }
            }
            Level::Word | Level::Char => {
                let mut buffer = [0u8; 4];
                for ch in piece.chars() {
                    self.push(ch.encode_utf8(&mut buffer), Level::Char);
                }
            }
        }
    }

    fn flush(&mut self) {
        let trimmed = self.current.trim();
        if !trimmed.is_empty() {
            self.parts.push(trimmed.to_string());
        }
        self.current.clear();
        self.len = 0;
    }
}

/// Cuts text after sentence ends (`.`, `!`, `?`, `…` followed by whitespace) and after
/// line breaks; the pieces keep their trailing whitespace and concatenate to the text.
fn sentences(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((index, ch)) = chars.next() {
        let end_of_sentence = matches!(ch, '.' | '!' | '?' | '…')
            && chars.peek().is_some_and(|(_, next)| next.is_whitespace());
        if ch == '\n' || end_of_sentence {
            // Take the following whitespace too.
            let mut end = index + ch.len_utf8();
            while let Some(&(next_index, next)) = chars.peek() {
                if !next.is_whitespace() {
                    break;
                }
                end = next_index + next.len_utf8();
                chars.next();
            }
            pieces.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Button;

    fn texts(text: &str, max_len: usize) -> Vec<String> {
        split_reply(&Reply::text(text), max_len)
            .into_iter()
            .map(|reply| reply.text)
            .collect()
    }

    #[test]
    fn short_reply_is_untouched() {
        assert_eq!(texts("Hello there. ", 100), vec!["Hello there. "]);
    }

    #[test]
    fn splits_at_sentence_boundaries() {
        let text = "The first sentence. The second one! And a third? Yes.";
        assert_eq!(
            texts(text, 40),
            vec!["The first sentence. The second one!", "And a third? Yes."]
        );
        assert_eq!(
            texts(text, 20),
            vec![
                "The first sentence.",
                "The second one!",
                "And a third? Yes."
            ]
        );
    }

    #[test]
    fn long_sentence_falls_back_to_words_then_chars() {
        assert_eq!(
            texts("aaaa bbbb cccc dddd", 9),
            vec!["aaaa bbbb", "cccc dddd"]
        );
        assert_eq!(texts("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
    }

    #[test]
    fn counts_characters_not_bytes_and_keeps_line_breaks_as_boundaries() {
        let parts = texts("Ελληνικά κείμενα.\nΔεύτερη γραμμή.", 20);
        assert_eq!(parts, vec!["Ελληνικά κείμενα.", "Δεύτερη γραμμή."]);
        for part in texts(&"ω".repeat(50), 7) {
            assert!(part.chars().count() <= 7);
        }
    }

    #[test]
    fn parts_never_exceed_the_limit_and_keep_all_words() {
        let text = "One. Two three four five six seven. Eight nine ten eleven twelve thirteen \
                    fourteen. Fifteen sixteen seventeen eighteen nineteen twenty.";
        for max_len in [5, 9, 13, 20, 33, 50] {
            let parts = texts(text, max_len);
            assert!(
                parts.iter().all(|part| part.chars().count() <= max_len),
                "{max_len}: {parts:?}"
            );
            let rejoined: String = parts
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join("");
            let original: String = text.split_whitespace().collect::<Vec<_>>().join("");
            assert_eq!(rejoined, original, "{max_len}");
        }
    }

    #[test]
    fn buttons_go_with_the_last_part() {
        let reply = Reply {
            text: "First part here. Second part here.".into(),
            buttons: vec![Button {
                label: "Hint".into(),
                command: "hint".into(),
            }],
        };
        let parts = split_reply(&reply, 20);
        assert_eq!(parts.len(), 2);
        assert!(parts[0].buttons.is_empty());
        assert_eq!(parts[1].buttons, reply.buttons);
    }
}
