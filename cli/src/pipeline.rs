//! The shared dump pipeline: a reader thread hands out bounded batches of
//! pages, a rayon pool maps each batch in parallel, and the results are
//! consumed on the calling thread in input order. Used by `extract` and `build`
//! so the dump is read and parsed the same way by both.
//!
//! Up to `depth` batches are mapped at once: while the calling thread waits
//! for the oldest one (and consumes it), the workers already run the pages
//! of the next ones, so no core idles at a batch boundary.
//! [`BATCHES_MAPPING`] suits a light consumer; a consumer with much work of
//! its own per batch (the index writer) wants more, so that the workers do
//! not run out of batches while it works.
//! Results are still consumed strictly in dump order.

use std::collections::VecDeque;

use anyhow::Context;
use crossbeam_channel::{Receiver, bounded};
use rayon::prelude::*;

use crate::progress::Reporter;

/// Bytes of page text per batch handed to the workers. Small batches keep
/// memory low (a rich-format line is about three times its page's text);
/// with several batches mapped at once they cost no parallelism.
pub const BATCH_BYTES: usize = 1 << 20;
/// Batches waiting between the reader and the workers (bounds memory).
pub const BATCHES_IN_FLIGHT: usize = 2;
/// Batches being mapped at the same time by default (bounds memory too).
pub const BATCHES_MAPPING: usize = 3;

/// Starts the worker pool (`threads` = 0 means all cores).
pub fn pool(threads: usize, name: &'static str) -> anyhow::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("{name}-{i}"))
        .build()
        .context("failed to start worker threads")
}

/// A batch being mapped: its pages and where its results arrive.
type Mapping<T> = Receiver<(Vec<dump::Page>, anyhow::Result<Vec<T>>)>;

/// Reads every page of `reader`, maps pages with `map` on `pool`, up to
/// `depth` batches at once, and passes the results to `consume` in dump
/// order. Stops at the first error of any stage. Drives `reporter` after
/// each batch.
pub fn run<T, M, C>(
    reader: dump::DumpReader,
    name: &str,
    pool: &rayon::ThreadPool,
    reporter: &mut Reporter,
    depth: usize,
    map: M,
    mut consume: C,
) -> anyhow::Result<()>
where
    T: Send,
    M: Fn(&dump::Page) -> anyhow::Result<T> + Sync,
    C: FnMut(&dump::Page, T) -> anyhow::Result<()>,
{
    let progress = reader.progress();
    let map = &map;
    let mut finish = |mapping: Mapping<T>| -> anyhow::Result<()> {
        let (batch, results) = mapping
            .recv()
            .context("a worker thread stopped before finishing its batch")?;
        for (page, result) in batch.iter().zip(results?) {
            consume(page, result)?;
        }
        reporter.update(
            progress.bytes_read(),
            progress.pages(),
            progress.total_bytes(),
        );
        Ok(())
    };
    // The scope runs on this thread; the spawned mappings on the pool. When
    // this returns early with an error, the scope still waits for the
    // batches being mapped (at most `BATCHES_MAPPING`) before it ends.
    pool.in_place_scope(|scope| {
        let depth = depth.max(1);
        let mut mapping: VecDeque<Mapping<T>> = VecDeque::with_capacity(depth);
        for batch in reader.into_batches(BATCH_BYTES, BATCHES_IN_FLIGHT) {
            let batch = batch.with_context(|| format!("failed to read {name}"))?;
            if mapping.len() == depth
                && let Some(oldest) = mapping.pop_front()
            {
                finish(oldest)?;
            }
            let (tx, rx) = bounded(1);
            scope.spawn(move |_| {
                let results = batch
                    .par_iter()
                    .map(|page| {
                        map(page).with_context(|| format!("page {} ({})", page.id, page.title))
                    })
                    .collect::<anyhow::Result<Vec<T>>>();
                // The receiver is gone only when an earlier batch failed.
                let _ = tx.send((batch, results));
            });
            mapping.push_back(rx);
        }
        while let Some(oldest) = mapping.pop_front() {
            finish(oldest)?;
        }
        Ok(())
    })
}
