//! Term postings gathered in memory, grouped by stem, within a byte budget;
//! spilled as runs sorted by stem and merged back as one stream of
//! (stem, postings in order), without ever holding one stem's list in memory.
//!
//! Grouping by stem in memory (an inverted index per run, as Lucene and
//! tantivy build segments) sorts the distinct stems of a run instead of every
//! posting, which is what makes `add_article` cheap.
//!
//! A run file holds, per stem in byte order: the key length (varint) and
//! bytes, then per posting in (id, sentence) order `sentence' + 1` (varint;
//! `sentence'` is the ordinal, or its gap to the previous one when the id
//! repeats) and the id (varint; absolute for the first, then the gap), and a
//! closing 0.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::footer::put_varint;

/// Bytes charged per distinct stem of a run besides its key and postings
/// (hash table entry, key and vector allocations).
const SLOT_OVERHEAD: usize = 128;
/// At most this many runs are read at once; more are first merged in groups.
pub(crate) const FAN_IN: usize = 64;
/// Read buffer of one run.
const RUN_BUFFER: usize = 64 << 10;

/// FxHash (rustc's hasher): the map's iteration order never reaches the
/// output (runs are sorted), so a fast, unkeyed hash is fine.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(tail) ^ rest.len() as u64);
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// The postings of one stem in the current run.
struct Slot {
    /// (id gap from the previous pair, or from 0, as zigzag varint; sentence
    /// varint) pairs in the order added.
    data: Vec<u8>,
    last: (u64, u32),
    /// Whether the pairs were added in strictly ascending order.
    sorted: bool,
}

fn zigzag(delta: i64) -> u64 {
    ((delta << 1) ^ (delta >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Gathers (stem, id, sentence) postings within a memory budget.
pub(crate) struct PostingsBuffer {
    dir: PathBuf,
    budget: usize,
    slots: HashMap<Box<str>, Slot, BuildHasherDefault<FxHasher>>,
    bytes: usize,
    runs: Vec<PathBuf>,
    n_runs_written: usize,
}

impl PostingsBuffer {
    /// A buffer spilling into `dir` once about `budget` bytes are held.
    pub(crate) fn new(dir: &Path, budget: usize) -> PostingsBuffer {
        PostingsBuffer {
            dir: dir.to_path_buf(),
            budget: budget.max(1),
            slots: HashMap::default(),
            bytes: 0,
            runs: Vec::new(),
            n_runs_written: 0,
        }
    }

    /// Adds one posting. Call [`PostingsBuffer::end_article`] after each
    /// article, so that an article's postings never straddle two runs.
    pub(crate) fn add(&mut self, stem: &str, id: u64, sentence: u32) {
        let slot = match self.slots.get_mut(stem) {
            Some(slot) => slot,
            None => {
                self.bytes += stem.len() + SLOT_OVERHEAD;
                self.slots.entry(stem.into()).or_insert(Slot {
                    data: Vec::new(),
                    last: (0, 0),
                    sorted: true,
                })
            }
        };
        let pair = (id, sentence);
        if !slot.data.is_empty() {
            if pair == slot.last {
                return;
            }
            if pair < slot.last {
                slot.sorted = false;
            }
        }
        let capacity = slot.data.capacity();
        put_varint(&mut slot.data, zigzag(id.wrapping_sub(slot.last.0) as i64));
        put_varint(&mut slot.data, u64::from(sentence));
        slot.last = pair;
        self.bytes += slot.data.capacity() - capacity;
    }

    /// Spills a run if the budget is reached.
    pub(crate) fn end_article(&mut self) -> Result<()> {
        if self.bytes >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Bytes held (an estimate).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    fn next_run_path(&mut self) -> PathBuf {
        let path = self
            .dir
            .join(format!("postings-{:05}.run", self.n_runs_written));
        self.n_runs_written += 1;
        path
    }

    fn spill(&mut self) -> Result<()> {
        if self.slots.is_empty() {
            return Ok(());
        }
        let mut slots: Vec<(Box<str>, Slot)> =
            std::mem::take(&mut self.slots).into_iter().collect();
        slots.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let path = self.next_run_path();
        let mut out = RunWriter::create(&path)?;
        let mut pairs: Vec<(u64, u32)> = Vec::new();
        for (key, slot) in slots {
            pairs.clear();
            let mut pos = 0;
            // Gaps are taken with wrapping arithmetic from 0, so any u64 round-trips.
            let mut id = 0u64;
            while pos < slot.data.len() {
                let gap = read_varint(&slot.data, &mut pos);
                let sentence = read_varint(&slot.data, &mut pos) as u32;
                id = id.wrapping_add(unzigzag(gap) as u64);
                pairs.push((id, sentence));
            }
            if !slot.sorted {
                pairs.sort_unstable();
                pairs.dedup();
            }
            out.start_term(key.as_bytes())?;
            for &(id, sentence) in &pairs {
                out.add(id, sentence)?;
            }
            out.end_term()?;
        }
        out.finish()?;
        self.runs.push(path);
        self.bytes = 0;
        Ok(())
    }

    /// Number of runs spilled so far (because the budget was reached).
    pub(crate) fn n_runs(&self) -> usize {
        self.runs.len()
    }

    /// Spills what is held and returns the merge of all runs (groups of runs
    /// are merged first while there are more than [`FAN_IN`]).
    pub(crate) fn finish(mut self) -> Result<PostingsMerge> {
        self.spill()?;
        let mut runs = std::mem::take(&mut self.runs);
        while runs.len() > FAN_IN {
            let rest = runs.split_off(FAN_IN);
            let path = self.next_run_path();
            let mut merge = PostingsMerge::open(runs)?;
            let mut out = RunWriter::create(&path)?;
            while let Some(key) = merge.next_term()? {
                out.start_term(&key)?;
                while let Some((id, sentence)) = merge.next_posting()? {
                    out.add(id, sentence)?;
                }
                out.end_term()?;
            }
            out.finish()?;
            drop(merge);
            runs = rest;
            runs.push(path);
        }
        PostingsMerge::open(runs)
    }
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> u64 {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = bytes[*pos];
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

struct RunWriter {
    path: PathBuf,
    out: BufWriter<File>,
    scratch: Vec<u8>,
    last: Option<(u64, u32)>,
}

impl RunWriter {
    fn create(path: &Path) -> Result<RunWriter> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(RunWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            scratch: Vec::new(),
            last: None,
        })
    }

    fn start_term(&mut self, key: &[u8]) -> Result<()> {
        self.scratch.clear();
        put_varint(&mut self.scratch, key.len() as u64);
        self.scratch.extend_from_slice(key);
        self.last = None;
        self.flush_scratch()
    }

    fn add(&mut self, id: u64, sentence: u32) -> Result<()> {
        self.scratch.clear();
        match self.last {
            Some((last_id, last_sentence)) if last_id == id => {
                put_varint(&mut self.scratch, u64::from(sentence - last_sentence) + 1);
                put_varint(&mut self.scratch, 0);
            }
            Some((last_id, _)) => {
                put_varint(&mut self.scratch, u64::from(sentence) + 1);
                put_varint(&mut self.scratch, id - last_id);
            }
            None => {
                put_varint(&mut self.scratch, u64::from(sentence) + 1);
                put_varint(&mut self.scratch, id);
            }
        }
        self.last = Some((id, sentence));
        self.flush_scratch()
    }

    fn end_term(&mut self) -> Result<()> {
        self.scratch.clear();
        self.scratch.push(0);
        self.flush_scratch()
    }

    fn flush_scratch(&mut self) -> Result<()> {
        self.out
            .write_all(&self.scratch)
            .map_err(|e| Error::io(&self.path, e))
    }

    fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))
    }
}

struct RunReader {
    path: PathBuf,
    input: BufReader<File>,
    last: Option<(u64, u32)>,
}

impl RunReader {
    fn varint(&mut self) -> Result<Option<u64>> {
        // Fast path: the whole varint is in the read buffer.
        let buffered = self.input.buffer();
        if let Some(last) = buffered.iter().take(10).position(|b| b & 0x80 == 0) {
            let mut value = 0u64;
            for (i, &byte) in buffered[..=last].iter().enumerate() {
                value |= u64::from(byte & 0x7f) << (7 * i);
            }
            self.input.consume(last + 1);
            return Ok(Some(value));
        }
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let mut byte = [0u8];
            match self.input.read_exact(&mut byte) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && shift == 0 => {
                    return Ok(None);
                }
                Err(e) => return Err(Error::io(&self.path, e)),
            }
            value |= u64::from(byte[0] & 0x7f) << shift;
            if byte[0] & 0x80 == 0 {
                return Ok(Some(value));
            }
        }
        Err(Error::corrupt(&self.path, "bad varint in a postings run"))
    }

    fn need(&mut self) -> Result<u64> {
        self.varint()?
            .ok_or_else(|| Error::corrupt(&self.path, "postings run ends early"))
    }

    /// The next key, or `None` at the end of the run.
    fn next_key(&mut self) -> Result<Option<Vec<u8>>> {
        let Some(len) = self.varint()? else {
            return Ok(None);
        };
        let mut key = vec![0u8; len as usize];
        self.input
            .read_exact(&mut key)
            .map_err(|e| Error::io(&self.path, e))?;
        self.last = None;
        Ok(Some(key))
    }

    /// The next posting of the current key, or `None` at its end.
    fn next_posting(&mut self) -> Result<Option<(u64, u32)>> {
        let sentence = self.need()?;
        if sentence == 0 {
            return Ok(None);
        }
        let sentence = sentence - 1;
        let gap = self.need()?;
        let corrupt = || Error::corrupt(&self.path, "bad posting in a run");
        let pair = match self.last {
            Some((id, last_sentence)) if gap == 0 => {
                let s = u64::from(last_sentence) + sentence;
                (id, u32::try_from(s).map_err(|_| corrupt())?)
            }
            Some((id, _)) => (
                id.checked_add(gap).ok_or_else(corrupt)?,
                u32::try_from(sentence).map_err(|_| corrupt())?,
            ),
            None => (gap, u32::try_from(sentence).map_err(|_| corrupt())?),
        };
        self.last = Some(pair);
        Ok(Some(pair))
    }
}

/// The merge of the runs: [`PostingsMerge::next_term`] gives the stems in
/// order, and after each [`PostingsMerge::next_posting`] its postings in
/// (id, sentence) order, repeats removed.
pub(crate) struct PostingsMerge {
    runs: Vec<RunReader>,
    paths: Vec<PathBuf>,
    keys: BinaryHeap<Reverse<(Vec<u8>, usize)>>,
    pairs: BinaryHeap<Reverse<((u64, u32), usize)>>,
    /// The run holding the current stem when no other run holds it: its
    /// postings are read straight from it, without the heap.
    single: Option<usize>,
    last: Option<(u64, u32)>,
}

impl PostingsMerge {
    fn open(paths: Vec<PathBuf>) -> Result<PostingsMerge> {
        let mut runs = Vec::with_capacity(paths.len());
        for path in &paths {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            runs.push(RunReader {
                path: path.clone(),
                input: BufReader::with_capacity(RUN_BUFFER, file),
                last: None,
            });
        }
        let mut keys = BinaryHeap::new();
        for (i, run) in runs.iter_mut().enumerate() {
            if let Some(key) = run.next_key()? {
                keys.push(Reverse((key, i)));
            }
        }
        Ok(PostingsMerge {
            runs,
            paths,
            keys,
            pairs: BinaryHeap::new(),
            single: None,
            last: None,
        })
    }

    /// Number of run files merged (at the last level).
    #[cfg(test)]
    pub(crate) fn n_runs(&self) -> u64 {
        self.paths.len() as u64
    }

    /// Moves to the next stem (skipping what is left of the current one).
    pub(crate) fn next_term(&mut self) -> Result<Option<Vec<u8>>> {
        while self.next_posting()?.is_some() {}
        let Some(Reverse((key, run))) = self.keys.pop() else {
            return Ok(None);
        };
        let mut active = vec![run];
        while let Some(Reverse((next, _))) = self.keys.peek() {
            if *next != key {
                break;
            }
            let Some(Reverse((_, run))) = self.keys.pop() else {
                break;
            };
            active.push(run);
        }
        self.last = None;
        if let [run] = active[..] {
            self.single = Some(run);
            return Ok(Some(key));
        }
        for run in active {
            self.pull(run)?;
        }
        Ok(Some(key))
    }

    /// Reads the next posting of `run`'s current stem into the heap, or, at
    /// the stem's end, its next stem into the key heap.
    fn pull(&mut self, run: usize) -> Result<()> {
        match self.runs[run].next_posting()? {
            Some(pair) => self.pairs.push(Reverse((pair, run))),
            None => {
                if let Some(key) = self.runs[run].next_key()? {
                    self.keys.push(Reverse((key, run)));
                }
            }
        }
        Ok(())
    }

    /// The next posting of the current stem, or `None` at its end.
    pub(crate) fn next_posting(&mut self) -> Result<Option<(u64, u32)>> {
        if let Some(run) = self.single {
            while let Some(pair) = self.runs[run].next_posting()? {
                if self.last == Some(pair) {
                    continue;
                }
                self.last = Some(pair);
                return Ok(Some(pair));
            }
            self.single = None;
            if let Some(key) = self.runs[run].next_key()? {
                self.keys.push(Reverse((key, run)));
            }
            return Ok(None);
        }
        while let Some(Reverse((pair, run))) = self.pairs.pop() {
            self.pull(run)?;
            if self.last == Some(pair) {
                continue;
            }
            self.last = Some(pair);
            return Ok(Some(pair));
        }
        Ok(None)
    }
}

impl Drop for PostingsMerge {
    fn drop(&mut self) {
        for path in &self.paths {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn collect(merge: &mut PostingsMerge) -> BTreeMap<Vec<u8>, Vec<(u64, u32)>> {
        let mut out = BTreeMap::new();
        let mut last_key: Option<Vec<u8>> = None;
        while let Some(key) = merge.next_term().unwrap() {
            assert!(last_key.as_ref().is_none_or(|k| *k < key));
            let mut list = Vec::new();
            while let Some(pair) = merge.next_posting().unwrap() {
                list.push(pair);
            }
            last_key = Some(key.clone());
            out.insert(key, list);
        }
        out
    }

    #[test]
    fn any_budget_gives_the_same_stream() {
        // Articles out of id order, repeated ids, repeated postings.
        let mut input = Vec::new();
        for article in 0..300u64 {
            let id = (article * 7919) % 101 + (article % 3) * 1000;
            for sentence in 0..(article % 7) as u32 {
                for word in 0..(article % 11) {
                    let stem = format!("w{}", (word * 31 + article) % 40);
                    input.push((id, stem, sentence));
                    input.push((id, format!("w{}", word % 3), sentence));
                }
            }
        }
        let mut expected: BTreeMap<Vec<u8>, BTreeSet<(u64, u32)>> = BTreeMap::new();
        for (id, stem, sentence) in &input {
            expected
                .entry(stem.clone().into_bytes())
                .or_default()
                .insert((*id, *sentence));
        }
        let expected: BTreeMap<Vec<u8>, Vec<(u64, u32)>> = expected
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect();
        for budget in [1, 500, 5000, usize::MAX] {
            let dir = tempfile::tempdir().unwrap();
            let mut buffer = PostingsBuffer::new(dir.path(), budget);
            let mut last_id = None;
            for (id, stem, sentence) in &input {
                if last_id.is_some_and(|l| l != *id) {
                    buffer.end_article().unwrap();
                }
                last_id = Some(*id);
                buffer.add(stem, *id, *sentence);
            }
            assert!(budget == usize::MAX || buffer.n_runs() > 0 || buffer.bytes() < budget);
            let many = buffer.n_runs() > FAN_IN;
            let mut merge = buffer.finish().unwrap();
            assert!(merge.n_runs() <= FAN_IN as u64, "{many}");
            assert_eq!(collect(&mut merge), expected, "budget {budget}");
            drop(merge);
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }

    #[test]
    fn zigzag_round_trips() {
        for v in [0i64, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}
