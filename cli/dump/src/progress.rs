//! Shared progress counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters behind [`Progress`], updated by the reader.
#[derive(Debug, Default)]
pub(crate) struct ProgressInner {
    /// Compressed bytes consumed (for plain XML, bytes read).
    pub(crate) bytes_read: AtomicU64,
    /// Total input size, `u64::MAX` when unknown.
    pub(crate) total_bytes: AtomicU64,
    /// Pages returned so far.
    pub(crate) pages: AtomicU64,
    /// Decompressed XML bytes parsed so far.
    pub(crate) xml_bytes: AtomicU64,
}

/// Progress of a [`crate::DumpReader`], readable from any thread while the
/// dump is read (for a progress bar).
///
/// It is a cheap handle: clones share the same counters.
#[derive(Debug, Clone)]
pub struct Progress {
    pub(crate) inner: Arc<ProgressInner>,
}

impl Progress {
    pub(crate) fn new(total_bytes: Option<u64>) -> Progress {
        let inner = ProgressInner::default();
        inner
            .total_bytes
            .store(total_bytes.unwrap_or(u64::MAX), Ordering::Relaxed);
        Progress {
            inner: Arc::new(inner),
        }
    }

    /// Returns the number of input (compressed) bytes consumed so far.
    ///
    /// For a byte range it counts from the start of the range. Decoding runs
    /// a little ahead of the pages handed out, so this may lead
    /// [`Progress::pages`] by a few blocks.
    pub fn bytes_read(&self) -> u64 {
        self.inner.bytes_read.load(Ordering::Relaxed)
    }

    /// Returns the input size in bytes (the file size, or the length of the
    /// byte range), or `None` when unknown (stdin).
    pub fn total_bytes(&self) -> Option<u64> {
        match self.inner.total_bytes.load(Ordering::Relaxed) {
            u64::MAX => None,
            total => Some(total),
        }
    }

    /// Returns the number of pages read so far.
    pub fn pages(&self) -> u64 {
        self.inner.pages.load(Ordering::Relaxed)
    }

    /// Returns the number of decompressed XML bytes parsed so far (up to
    /// the end of the last page read).
    pub fn xml_bytes(&self) -> u64 {
        self.inner.xml_bytes.load(Ordering::Relaxed)
    }
}
