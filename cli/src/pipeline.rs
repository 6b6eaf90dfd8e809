//! The shared dump pipeline: a reader thread hands out bounded batches of
//! pages, a rayon pool maps each batch in parallel, and the results are
//! consumed on the calling thread in input order. Used by `extract` and `build`
//! so the dump is read and parsed the same way by both.

use anyhow::Context;
use rayon::prelude::*;

use crate::progress::Reporter;

/// Bytes of page text per batch handed to the workers.
pub const BATCH_BYTES: usize = 4 << 20;
/// Batches in flight between the reader and the workers (bounds memory).
pub const BATCHES_IN_FLIGHT: usize = 4;

/// Starts the worker pool (`threads` = 0 means all cores).
pub fn pool(threads: usize, name: &'static str) -> anyhow::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("{name}-{i}"))
        .build()
        .context("failed to start worker threads")
}

/// Reads every page of `reader`, maps pages with `map` on `pool` and passes
/// the results to `consume` in dump order. Stops at the first error of any
/// stage. Drives `reporter` after each batch.
///
/// The results of one batch are consumed while the next batch is mapped (one
/// `rayon::join`), so a consumer that does real work (the index writer) runs
/// alongside the workers instead of between batches; the order is unchanged.
pub fn run<T, M, C>(
    reader: dump::DumpReader,
    name: &str,
    pool: &rayon::ThreadPool,
    reporter: &mut Reporter,
    map: M,
    mut consume: C,
) -> anyhow::Result<()>
where
    T: Send,
    M: Fn(&dump::Page) -> anyhow::Result<T> + Sync,
    C: FnMut(&dump::Page, T) -> anyhow::Result<()> + Send,
{
    let progress = reader.progress();
    let mut consume_batch = |batch: Vec<dump::Page>, results: Vec<T>| -> anyhow::Result<()> {
        for (page, result) in batch.iter().zip(results) {
            consume(page, result)?;
        }
        Ok(())
    };
    let mut pending: Option<(Vec<dump::Page>, Vec<T>)> = None;
    for batch in reader.into_batches(BATCH_BYTES, BATCHES_IN_FLIGHT) {
        let batch = batch.with_context(|| format!("failed to read {name}"))?;
        let previous = pending.take();
        let (results, consumed) = pool.install(|| {
            rayon::join(
                || {
                    batch
                        .par_iter()
                        .map(|page| {
                            map(page).with_context(|| format!("page {} ({})", page.id, page.title))
                        })
                        .collect::<anyhow::Result<Vec<T>>>()
                },
                || match previous {
                    Some((pages, results)) => consume_batch(pages, results),
                    None => Ok(()),
                },
            )
        });
        consumed?;
        pending = Some((batch, results?));
        reporter.update(
            progress.bytes_read(),
            progress.pages(),
            progress.total_bytes(),
        );
    }
    if let Some((pages, results)) = pending {
        consume_batch(pages, results)?;
    }
    Ok(())
}
