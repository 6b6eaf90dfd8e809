//! Process metrics and their Prometheus text exposition (written by hand: a few
//! counters and one histogram do not need a metrics framework).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::StoreStats;

/// Upper bounds (seconds) of the turn latency histogram buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Counters and histograms of this process. Queue gauges (inbox depth, outbox backlog,
/// dead rows) come from the store at scrape time, so they cover all servers.
#[derive(Debug, Default)]
pub struct Metrics {
    turns: AtomicU64,
    turn_failures: AtomicU64,
    turns_fenced: AtomicU64,
    inbox_dead_letters: AtomicU64,
    turn_latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    turn_latency_count: AtomicU64,
    turn_latency_sum_micros: AtomicU64,
    messages_received: AtomicU64,
    messages_duplicate: AtomicU64,
    sends: Mutex<BTreeMap<String, u64>>,
    send_failures: Mutex<BTreeMap<(String, &'static str), u64>>,
    dead_letters: Mutex<BTreeMap<String, u64>>,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    if let Ok(mut map) = map.lock() {
        *map.entry(key).or_insert(0) += 1;
    }
}

impl Metrics {
    /// Creates zeroed metrics.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Counts a committed turn and its latency (claim to commit).
    pub fn turn_done(&self, latency: Duration) {
        self.turns.fetch_add(1, Ordering::Relaxed);
        let seconds = latency.as_secs_f64();
        for (bucket, bound) in self.turn_latency_buckets.iter().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.turn_latency_count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.turn_latency_sum_micros
            .fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts a turn that failed and will be retried.
    pub fn turn_failed(&self) {
        self.turn_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a turn whose claim was taken over by another worker.
    pub fn turn_fenced(&self) {
        self.turns_fenced.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an inbound message given up on.
    pub fn inbox_dead_letter(&self) {
        self.inbox_dead_letters.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an inbound message stored (`duplicate`: a redelivery that was dropped).
    pub fn message_received(&self, duplicate: bool) {
        if duplicate {
            self.messages_duplicate.fetch_add(1, Ordering::Relaxed);
        } else {
            self.messages_received.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a delivered reply part.
    pub fn send_ok(&self, platform: &str) {
        bump(&self.sends, platform.to_string());
    }

    /// Counts a failed send; `reason` is one of `error`, `rate_limited`, `timeout`,
    /// `permanent`.
    pub fn send_failed(&self, platform: &str, reason: &'static str) {
        bump(&self.send_failures, (platform.to_string(), reason));
    }

    /// Counts a reply given up on (dead letter).
    pub fn dead_letter(&self, platform: &str) {
        bump(&self.dead_letters, platform.to_string());
    }

    /// Returns the number of replies given up on for `platform` by this process.
    pub fn dead_letters(&self, platform: &str) -> u64 {
        self.dead_letters
            .lock()
            .map(|map| map.get(platform).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Returns the number of committed turns of this process.
    pub fn turns(&self) -> u64 {
        self.turns.load(Ordering::Relaxed)
    }

    /// Writes the Prometheus text exposition (format 0.0.4). `stats` is `None` when the
    /// store could not be read; its gauges are then left out and
    /// `fraser_store_up` is 0.
    pub fn render(&self, stats: Option<StoreStats>) -> String {
        let mut out = String::with_capacity(4096);
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            &mut out,
            "fraser_messages_received_total",
            "Inbound messages stored in the inbox.",
            self.messages_received.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "fraser_messages_duplicate_total",
            "Inbound redeliveries dropped by de-duplication.",
            self.messages_duplicate.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "fraser_turns_total",
            "Committed turns.",
            self.turns(),
        );
        counter(
            &mut out,
            "fraser_turn_failures_total",
            "Turns rolled back and retried later.",
            self.turn_failures.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "fraser_turns_fenced_total",
            "Turns abandoned because another worker took over the expired claim.",
            self.turns_fenced.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "fraser_inbox_dead_letters_total",
            "Inbound messages given up on after repeated failed turns.",
            self.inbox_dead_letters.load(Ordering::Relaxed),
        );

        let _ = writeln!(
            out,
            "# HELP fraser_turn_duration_seconds Time from claim to commit of a turn.\n\
             # TYPE fraser_turn_duration_seconds histogram"
        );
        for (bucket, bound) in self.turn_latency_buckets.iter().zip(LATENCY_BUCKETS) {
            let _ = writeln!(
                out,
                "fraser_turn_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.turn_latency_count.load(Ordering::Relaxed);
        let sum = self.turn_latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "fraser_turn_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(out, "fraser_turn_duration_seconds_sum {sum}");
        let _ = writeln!(out, "fraser_turn_duration_seconds_count {count}");

        let labelled = |out: &mut String, name: &str, help: &str, rows: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, value) in rows {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        };
        let sends = self.sends.lock().map(|map| map.clone()).unwrap_or_default();
        labelled(
            &mut out,
            "fraser_sends_total",
            "Reply parts delivered, by platform.",
            sends
                .into_iter()
                .map(|(platform, value)| (format!("platform=\"{}\"", escape(&platform)), value))
                .collect(),
        );
        let failures = self
            .send_failures
            .lock()
            .map(|map| map.clone())
            .unwrap_or_default();
        labelled(
            &mut out,
            "fraser_send_failures_total",
            "Failed send attempts, by platform and reason.",
            failures
                .into_iter()
                .map(|((platform, reason), value)| {
                    (
                        format!("platform=\"{}\",reason=\"{reason}\"", escape(&platform)),
                        value,
                    )
                })
                .collect(),
        );
        let dead = self
            .dead_letters
            .lock()
            .map(|map| map.clone())
            .unwrap_or_default();
        labelled(
            &mut out,
            "fraser_dead_letters_total",
            "Replies given up on by this process, by platform.",
            dead.into_iter()
                .map(|(platform, value)| (format!("platform=\"{}\"", escape(&platform)), value))
                .collect(),
        );

        let gauge = |out: &mut String, name: &str, help: &str, value: i64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            &mut out,
            "fraser_store_up",
            "Whether the store answered.",
            i64::from(stats.is_some()),
        );
        if let Some(stats) = stats {
            gauge(
                &mut out,
                "fraser_inbox_depth",
                "Inbound messages waiting for their turn (all servers).",
                stats.inbox_pending,
            );
            gauge(
                &mut out,
                "fraser_inbox_dead",
                "Inbound messages given up on (all servers).",
                stats.inbox_dead,
            );
            gauge(
                &mut out,
                "fraser_outbox_backlog",
                "Replies not yet delivered (all servers).",
                stats.outbox_pending,
            );
            gauge(
                &mut out,
                "fraser_outbox_dead",
                "Replies given up on (all servers).",
                stats.outbox_dead,
            );
        }
        out
    }
}

/// Escapes a label value (backslash, quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_histogram_cumulatively() {
        let metrics = Metrics::new();
        metrics.turn_done(Duration::from_micros(1500));
        metrics.turn_done(Duration::from_millis(30));
        let text = metrics.render(None);
        assert!(text.contains("fraser_turn_duration_seconds_bucket{le=\"0.001\"} 0\n"));
        assert!(text.contains("fraser_turn_duration_seconds_bucket{le=\"0.0025\"} 1\n"));
        assert!(text.contains("fraser_turn_duration_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(text.contains("fraser_turn_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("fraser_turn_duration_seconds_count 2\n"));
        assert!(text.contains("fraser_store_up 0\n"));
        assert!(!text.contains("fraser_inbox_depth"));
    }

    #[test]
    fn labels_are_escaped_and_counted() {
        let metrics = Metrics::new();
        metrics.send_failed("we\"b", "rate_limited");
        metrics.send_failed("we\"b", "rate_limited");
        metrics.dead_letter("web");
        let text = metrics.render(Some(StoreStats {
            inbox_pending: 3,
            ..StoreStats::default()
        }));
        assert!(text.contains(
            "fraser_send_failures_total{platform=\"we\\\"b\",reason=\"rate_limited\"} 2\n"
        ));
        assert!(text.contains("fraser_dead_letters_total{platform=\"web\"} 1\n"));
        assert!(text.contains("fraser_inbox_depth 3\n"));
        assert_eq!(metrics.dead_letters("web"), 1);
    }
}
