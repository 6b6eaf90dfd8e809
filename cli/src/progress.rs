//! Progress reporting: an indicatif bar on a terminal, plain log lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Reports how far a long run is: bytes of input consumed, pages, rate, ETA.
pub struct Reporter {
    bar: Option<ProgressBar>,
    started: Instant,
    last_log: Instant,
    log_every: Duration,
    what: &'static str,
}

impl Reporter {
    /// Starts a reporter; `total_bytes` is the input size when known.
    /// Draws a bar only when stderr is a terminal and `quiet` is false.
    pub fn new(what: &'static str, total_bytes: Option<u64>, quiet: bool) -> Reporter {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = match total_bytes {
                Some(total) => ProgressBar::with_draw_target(
                    Some(total),
                    ProgressDrawTarget::stderr_with_hz(4),
                ),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4)),
            };
            let template = if total_bytes.is_some() {
                "{spinner} [{elapsed_precise}] [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta}) {msg}"
            } else {
                "{spinner} [{elapsed_precise}] {bytes} ({bytes_per_sec}) {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .expect("progress template is valid")
                    .progress_chars("=> "),
            );
            bar
        });
        let now = Instant::now();
        Reporter {
            bar,
            started: now,
            last_log: now,
            log_every: Duration::from_secs(10),
            what,
        }
    }

    /// Updates the position (input bytes consumed) and the page count.
    pub fn update(&mut self, bytes: u64, pages: u64, total_bytes: Option<u64>) {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = pages as f64 / elapsed;
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            bar.set_message(format!("{pages} pages, {rate:.0} pages/s"));
            return;
        }
        if self.last_log.elapsed() >= self.log_every {
            self.last_log = Instant::now();
            let percent = total_bytes
                .filter(|t| *t > 0)
                .map(|t| format!("{:.1}%", bytes as f64 * 100.0 / t as f64))
                .unwrap_or_else(|| "-".to_owned());
            tracing::info!(
                what = self.what,
                bytes,
                pages,
                pages_per_sec = rate.round(),
                done = %percent,
                "progress"
            );
        }
    }

    /// Removes the bar (if any) and returns the elapsed time.
    pub fn finish(self) -> Duration {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.started.elapsed()
    }
}
