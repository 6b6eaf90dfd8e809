//! Bounded-memory sorting: items are buffered up to a byte budget, sorted and
//! spilled to run files in the build directory, and read back through a k-way
//! merge. Also an append-only log for items that need no sorting.
//!
//! Items are postcard-encoded with a `u32` length prefix. Sorting uses the
//! items' total order (`Ord`), so the merged stream is the same whatever the
//! budget, and so the output is deterministic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// At most this many runs are merged at once.
pub(crate) const FAN_IN: usize = crate::postings::FAN_IN;

/// Fixed per-item overhead added to the caller's size estimate (vector slot,
/// allocation headers).
const ITEM_OVERHEAD: usize = 48;

fn write_item<T: Serialize + ?Sized>(
    out: &mut impl Write,
    item: &T,
    scratch: &mut Vec<u8>,
    path: &Path,
) -> Result<()> {
    scratch.clear();
    let encoded = postcard::to_io(item, &mut *scratch)
        .map_err(|e| Error::invalid(format!("encoding spill item: {e}")))?;
    let len = encoded.len() as u32;
    out.write_all(&len.to_le_bytes())
        .and_then(|()| out.write_all(scratch))
        .map_err(|e| Error::io(path, e))
}

fn read_item<T: DeserializeOwned>(
    input: &mut impl Read,
    scratch: &mut Vec<u8>,
    path: &Path,
) -> Result<Option<T>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    }
    scratch.resize(u32::from_le_bytes(len) as usize, 0);
    input.read_exact(scratch).map_err(|e| Error::io(path, e))?;
    postcard::from_bytes(scratch)
        .map(Some)
        .map_err(|e| Error::corrupt(path, format!("spill item does not decode: {e}")))
}

/// Sorts items of type `T` within a memory budget.
pub(crate) struct Sorter<T> {
    dir: PathBuf,
    name: &'static str,
    budget: usize,
    buffer: Vec<T>,
    buffer_bytes: usize,
    runs: Vec<PathBuf>,
}

impl<T: Serialize + DeserializeOwned + Ord> Sorter<T> {
    /// A sorter spilling into `dir` as `<name>-<n>.run` once `budget` bytes are buffered.
    pub(crate) fn new(dir: &Path, name: &'static str, budget: usize) -> Sorter<T> {
        Sorter {
            dir: dir.to_path_buf(),
            name,
            budget: budget.max(1),
            buffer: Vec::new(),
            buffer_bytes: 0,
            runs: Vec::new(),
        }
    }

    /// Adds an item whose heap size is about `bytes`.
    pub(crate) fn push(&mut self, item: T, bytes: usize) -> Result<()> {
        self.buffer.push(item);
        self.buffer_bytes += bytes + ITEM_OVERHEAD;
        if self.buffer_bytes >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Number of run files written so far.
    #[cfg(test)]
    pub(crate) fn n_runs(&self) -> usize {
        self.runs.len()
    }

    fn spill(&mut self) -> Result<()> {
        self.buffer.sort_unstable();
        let path = self
            .dir
            .join(format!("{}-{:05}.run", self.name, self.runs.len()));
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        let mut scratch = Vec::new();
        for item in self.buffer.drain(..) {
            write_item(&mut out, &item, &mut scratch, &path)?;
        }
        out.flush().map_err(|e| Error::io(&path, e))?;
        self.buffer_bytes = 0;
        self.runs.push(path);
        Ok(())
    }

    /// Returns all items in sorted order (duplicates kept). While there are
    /// more than [`FAN_IN`] runs, groups of them are first merged into one, so
    /// the open files and read buffers stay bounded.
    pub(crate) fn finish(mut self) -> Result<Merge<T>> {
        let spilled = self.runs.len() as u64;
        let mut level = 0;
        while self.runs.len() > FAN_IN {
            let rest = self.runs.split_off(FAN_IN);
            let group = std::mem::replace(&mut self.runs, rest);
            let path = self
                .dir
                .join(format!("{}-merged-{level:05}.run", self.name));
            level += 1;
            let mut merge: Merge<T> = Merge::open(group, Vec::new())?;
            let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
            let mut out = BufWriter::with_capacity(1 << 16, file);
            let mut scratch = Vec::new();
            while let Some(item) = merge.next_item()? {
                write_item(&mut out, &item, &mut scratch, &path)?;
            }
            out.flush().map_err(|e| Error::io(&path, e))?;
            drop(merge);
            self.runs.push(path);
        }
        self.buffer.sort_unstable();
        let runs = std::mem::take(&mut self.runs);
        let mut merge = Merge::open(runs, std::mem::take(&mut self.buffer))?;
        merge.spilled = spilled;
        Ok(merge)
    }
}

impl<T: DeserializeOwned + Ord> Merge<T> {
    fn open(runs: Vec<PathBuf>, memory: Vec<T>) -> Result<Merge<T>> {
        let mut sources = Vec::with_capacity(runs.len() + 1);
        for path in &runs {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            sources.push(Source::Run {
                input: BufReader::with_capacity(1 << 16, file),
                path: path.clone(),
            });
        }
        sources.push(Source::Memory(memory.into_iter()));
        let mut merge = Merge {
            sources,
            heap: BinaryHeap::new(),
            scratch: Vec::new(),
            spilled: runs.len() as u64,
            runs,
        };
        for index in 0..merge.sources.len() {
            merge.refill(index)?;
        }
        Ok(merge)
    }
}

enum Source<T> {
    Run {
        input: BufReader<File>,
        path: PathBuf,
    },
    Memory(std::vec::IntoIter<T>),
}

/// The k-way merge of a sorter's runs; yields items in ascending order.
pub(crate) struct Merge<T> {
    sources: Vec<Source<T>>,
    heap: BinaryHeap<Reverse<(T, usize)>>,
    scratch: Vec<u8>,
    runs: Vec<PathBuf>,
    /// Runs the sorter spilled (before any were merged in levels).
    spilled: u64,
}

impl<T: DeserializeOwned + Ord> Merge<T> {
    /// Number of run files the sorter spilled (runs merged in levels
    /// beforehand still count one each).
    pub(crate) fn n_runs(&self) -> u64 {
        self.spilled
    }

    fn refill(&mut self, index: usize) -> Result<()> {
        let next = match &mut self.sources[index] {
            Source::Run { input, path } => read_item(input, &mut self.scratch, path)?,
            Source::Memory(iter) => iter.next(),
        };
        if let Some(item) = next {
            self.heap.push(Reverse((item, index)));
        }
        Ok(())
    }

    /// Returns the next item, or `None` at the end.
    pub(crate) fn next_item(&mut self) -> Result<Option<T>> {
        let Some(Reverse((item, index))) = self.heap.pop() else {
            return Ok(None);
        };
        self.refill(index)?;
        Ok(Some(item))
    }

    /// Returns the next item if it satisfies `pred`, leaving it in place otherwise.
    pub(crate) fn next_if(&mut self, pred: impl FnOnce(&T) -> bool) -> Result<Option<T>> {
        match self.heap.peek() {
            Some(Reverse((item, _))) if pred(item) => self.next_item(),
            _ => Ok(None),
        }
    }
}

impl<T> Drop for Merge<T> {
    fn drop(&mut self) {
        for path in &self.runs {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// An append-only spill file of items, read back in insertion order. The
/// items are held in memory up to a byte limit and go to the file only
/// beyond it (all of them, in order, from then on).
pub(crate) struct Log<T> {
    path: PathBuf,
    /// The encoded items while they fit in `limit`.
    memory: Vec<u8>,
    limit: usize,
    /// The file, once the items outgrew `limit`.
    out: Option<BufWriter<File>>,
    scratch: Vec<u8>,
    len: u64,
    _items: PhantomData<T>,
}

impl<T: Serialize + DeserializeOwned> Log<T> {
    /// Creates a log that goes straight to the file at `path`.
    pub(crate) fn create(path: PathBuf) -> Result<Log<T>> {
        Log::with_memory(path, 0)
    }

    /// Creates a log that holds up to `limit` bytes of encoded items in
    /// memory and writes to the file at `path` beyond that.
    pub(crate) fn with_memory(path: PathBuf, limit: usize) -> Result<Log<T>> {
        let mut log = Log {
            path,
            memory: Vec::new(),
            limit,
            out: None,
            scratch: Vec::new(),
            len: 0,
            _items: PhantomData,
        };
        if limit == 0 {
            log.open_file()?;
        }
        Ok(log)
    }

    /// Creates the file and moves the items held in memory to it.
    fn open_file(&mut self) -> Result<&mut BufWriter<File>> {
        let file = File::create(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        out.write_all(&self.memory)
            .map_err(|e| Error::io(&self.path, e))?;
        self.memory = Vec::new();
        Ok(self.out.insert(out))
    }

    /// Appends one item.
    pub(crate) fn push(&mut self, item: &T) -> Result<()> {
        self.push_as(item)
    }

    /// Appends a value whose postcard encoding is that of a `T` (a borrowed
    /// form, such as a slice for a vector), saving the copy into a `T`.
    pub(crate) fn push_as<S: Serialize + ?Sized>(&mut self, item: &S) -> Result<()> {
        self.len += 1;
        let out = match &mut self.out {
            Some(out) => out,
            None => {
                write_item(&mut self.memory, item, &mut self.scratch, &self.path)?;
                // Capacity, not length: that is what the buffer holds.
                if self.memory.capacity() > self.limit {
                    self.open_file()?;
                }
                return Ok(());
            }
        };
        write_item(out, item, &mut self.scratch, &self.path)
    }

    /// Flushes and returns a reader over the items in insertion order.
    pub(crate) fn into_reader(self) -> Result<LogReader<T>> {
        let input: Box<dyn Read> = match self.out {
            Some(mut out) => {
                out.flush().map_err(|e| Error::io(&self.path, e))?;
                let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
                Box::new(BufReader::with_capacity(1 << 16, file))
            }
            None => Box::new(std::io::Cursor::new(self.memory)),
        };
        Ok(LogReader {
            input,
            path: self.path,
            scratch: Vec::new(),
            _items: PhantomData,
        })
    }
}

/// Reads a [`Log`] back; removes the file when dropped.
pub(crate) struct LogReader<T> {
    input: Box<dyn Read>,
    path: PathBuf,
    scratch: Vec<u8>,
    _items: PhantomData<T>,
}

impl<T: DeserializeOwned> LogReader<T> {
    /// Returns the next item, or `None` at the end.
    pub(crate) fn next_item(&mut self) -> Result<Option<T>> {
        read_item(&mut self.input, &mut self.scratch, &self.path)
    }
}

impl<T> Drop for LogReader<T> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(budget: usize, items: &[(String, u64)]) -> (Vec<(String, u64)>, usize) {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::new(dir.path(), "t", budget);
        for item in items {
            sorter.push(item.clone(), item.0.len()).unwrap();
        }
        let runs = sorter.n_runs();
        let mut merge = sorter.finish().unwrap();
        let mut out = Vec::new();
        while let Some(item) = merge.next_item().unwrap() {
            out.push(item);
        }
        (out, runs)
    }

    #[test]
    fn logs_read_back_in_order_from_memory_or_file() {
        let dir = tempfile::tempdir().unwrap();
        let items: Vec<(String, u64)> = (0..500u64).map(|i| (format!("item {i}"), i)).collect();
        for limit in [0, 100, 1000, usize::MAX] {
            let path = dir.path().join(format!("log-{limit}"));
            let mut log: Log<(String, u64)> = Log::with_memory(path.clone(), limit).unwrap();
            for item in &items {
                log.push(item).unwrap();
            }
            // Beyond the limit everything is in the file; within it, nothing.
            assert_eq!(path.exists(), limit < 10_000, "limit {limit}");
            let mut reader = log.into_reader().unwrap();
            let mut back = Vec::new();
            while let Some(item) = reader.next_item().unwrap() {
                back.push(item);
            }
            assert_eq!(back, items, "limit {limit}");
            drop(reader);
            assert!(!path.exists());
        }
    }

    #[test]
    fn spilled_and_in_memory_sorts_agree() {
        let items: Vec<(String, u64)> = (0..1000u64)
            .map(|i| (format!("k{}", (i * 7919) % 997), i))
            .collect();
        let (small, small_runs) = sorted(500, &items);
        let (tiny, tiny_runs) = sorted(60, &items);
        let (big, big_runs) = sorted(usize::MAX, &items);
        assert!(small_runs > 10);
        assert!(tiny_runs > 2 * FAN_IN);
        assert_eq!(tiny, small);
        assert_eq!(big_runs, 0);
        let mut expected = items.clone();
        expected.sort();
        assert_eq!(small, expected);
        assert_eq!(big, expected);
    }

    #[test]
    fn log_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::create(dir.path().join("log")).unwrap();
        for i in 0..100u32 {
            log.push(&(i, format!("v{i}"))).unwrap();
        }
        let mut reader = log.into_reader().unwrap();
        for i in 0..100u32 {
            assert_eq!(reader.next_item().unwrap(), Some((i, format!("v{i}"))));
        }
        assert_eq!(reader.next_item().unwrap(), None);
    }
}
