//! Term postings gathered in memory, grouped by stem, within a byte budget;
//! spilled as runs sorted by stem and merged back as one stream of
//! (stem, postings in order), without ever holding one stem's list in memory.
//!
//! A posting is (article id, number of the article's sentences holding the
//! stem); each article hands over its distinct stems once, already counted, so
//! the map is looked up once per distinct stem of an article, not per word.
//! Grouping by stem in memory (an inverted index per run, as Lucene and
//! tantivy build segments) sorts the distinct stems of a run instead of every
//! posting.
//!
//! An id given twice for a stem (a repeated article id) keeps the larger
//! count, so the result does not depend on the order of the runs.
//!
//! A run file holds, per stem in byte order: the key length (varint) and
//! bytes, then per posting in id order the count (varint, at least 1) and the
//! id (varint; absolute for the first, then the gap), and a closing 0.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::hash::Hasher;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::footer::put_varint;
use crate::intern::Interner;

/// Bytes charged per distinct stem of a run besides its key (table entry,
/// key span).
const SLOT_OVERHEAD: usize = 32;
/// Entries of a run's stem table when it is first needed.
const STEM_TABLE: usize = 1024;
/// Bytes charged per posting (stem slot, article, count).
const POSTING_BYTES: usize = 12;
/// At most this many runs are read at once; more are first merged in groups.
pub(crate) const FAN_IN: usize = 64;
/// Read buffer of one run.
const RUN_BUFFER: usize = 64 << 10;

/// FxHash (rustc's hasher): the table's order never reaches the output (runs
/// are sorted), so a fast, unkeyed hash is fine.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

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

/// The Fx hash of `bytes` (as the postings table hashes a stem's bytes).
pub(crate) fn fx_hash(bytes: &[u8]) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(bytes);
    hasher.finish()
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// Gathers (stem, id, count) postings within a memory budget.
///
/// Stems are interned into slots (an open-addressing table over a key arena,
/// small enough to stay in cache for a real vocabulary); postings are appended
/// to flat arrays in the order added and grouped by stem only when a run is
/// spilled (a counting sort over the slots in key order), so adding a posting
/// writes memory sequentially.
pub(crate) struct PostingsBuffer {
    dir: PathBuf,
    budget: usize,
    /// The run's distinct stems.
    stems: Interner,
    /// Per posting: its slot, its article (index into `articles`), its count.
    posting_slots: Vec<u32>,
    posting_articles: Vec<u32>,
    posting_counts: Vec<u32>,
    /// Ids of the articles of the current run, in the order added.
    articles: Vec<u64>,
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
            stems: Interner::new(STEM_TABLE),
            posting_slots: Vec::new(),
            posting_articles: Vec::new(),
            posting_counts: Vec::new(),
            articles: Vec::new(),
            bytes: 0,
            runs: Vec::new(),
            n_runs_written: 0,
        }
    }

    /// Adds one posting: `sentences` of article `id`'s sentences hold
    /// `stem`. Call [`PostingsBuffer::end_article`] after each article, so
    /// that an article's postings never straddle two runs.
    #[cfg(test)]
    pub(crate) fn add(&mut self, stem: &str, id: u64, sentences: u32) {
        self.add_each(id, 1, |_| stem, |_| sentences);
    }

    /// Adds `n` postings of article `id`: `sentences(i)` of its sentences
    /// hold `stem(i)`. The stems are interned as a batch
    /// ([`Interner::intern_each`]). Consecutive articles with the same id
    /// share an entry (their postings are merged when the run is spilled).
    /// Call [`PostingsBuffer::end_article`] after each article, so that an
    /// article's postings never straddle two runs.
    pub(crate) fn add_each<'s>(
        &mut self,
        id: u64,
        n: usize,
        stem: impl Fn(usize) -> &'s str,
        sentences: impl Fn(usize) -> u32,
    ) {
        if n == 0 {
            return;
        }
        if self.articles.last() != Some(&id) {
            self.articles.push(id);
            self.bytes += 8;
        }
        let article = self.articles.len() as u32 - 1;
        let table = self.stems.table_len();
        let mut new_bytes = 0;
        let (slots, articles, counts) = (
            &mut self.posting_slots,
            &mut self.posting_articles,
            &mut self.posting_counts,
        );
        self.stems.intern_each(n, &stem, |i, slot, new| {
            if new {
                new_bytes += stem(i).len() + SLOT_OVERHEAD;
            }
            slots.push(slot);
            articles.push(article);
            counts.push(sentences(i));
        });
        self.bytes += new_bytes + (self.stems.table_len() - table) * 8 + n * POSTING_BYTES;
    }

    /// Spills a run if the budget is reached (or the run's postings could no
    /// longer be numbered in 32 bits).
    pub(crate) fn end_article(&mut self) -> Result<()> {
        if self.bytes >= self.budget || self.posting_slots.len() >= (u32::MAX / 2) as usize {
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
        if self.posting_slots.is_empty() {
            return Ok(());
        }
        // Slots in key order, then each posting's place by a counting sort
        // (stable: a stem's postings stay in the order added).
        let n_slots = self.stems.len();
        let mut order: Vec<u32> = (0..n_slots as u32).collect();
        order.sort_unstable_by(|&a, &b| self.stems.get(a as usize).cmp(self.stems.get(b as usize)));
        let mut rank = vec![0u32; n_slots];
        for (r, &slot) in order.iter().enumerate() {
            rank[slot as usize] = r as u32;
        }
        let mut starts = vec![0u32; n_slots + 1];
        for &slot in &self.posting_slots {
            starts[rank[slot as usize] as usize + 1] += 1;
        }
        for r in 0..n_slots {
            starts[r + 1] += starts[r];
        }
        let mut next = starts.clone();
        let mut sorted = vec![0u32; self.posting_slots.len()];
        for (p, &slot) in self.posting_slots.iter().enumerate() {
            let r = rank[slot as usize] as usize;
            sorted[next[r] as usize] = p as u32;
            next[r] += 1;
        }
        drop((next, rank));

        let path = self.next_run_path();
        let mut out = RunWriter::create(&path)?;
        let mut pairs: Vec<(u64, u32)> = Vec::new();
        for (r, &slot) in order.iter().enumerate() {
            pairs.clear();
            let mut ascending = true;
            for &p in &sorted[starts[r] as usize..starts[r + 1] as usize] {
                let id = self.articles[self.posting_articles[p as usize] as usize];
                if pairs.last().is_some_and(|&(last, _)| last >= id) {
                    ascending = false;
                }
                pairs.push((id, self.posting_counts[p as usize]));
            }
            if !ascending {
                // A repeated id keeps its largest count (the last of its pairs).
                pairs.sort_unstable();
                pairs.dedup_by(|later, earlier| {
                    let same = later.0 == earlier.0;
                    if same {
                        earlier.1 = later.1;
                    }
                    same
                });
            }
            out.start_term(self.stems.get(slot as usize).as_bytes())?;
            for &(id, count) in &pairs {
                out.add(id, count)?;
            }
            out.end_term()?;
        }
        out.finish()?;
        self.runs.push(path);
        self.stems = Interner::new(STEM_TABLE);
        self.posting_slots = Vec::new();
        self.posting_articles = Vec::new();
        self.posting_counts = Vec::new();
        self.articles = Vec::new();
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
                while let Some((id, count)) = merge.next_posting()? {
                    out.add(id, count)?;
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

struct RunWriter {
    path: PathBuf,
    out: BufWriter<File>,
    scratch: Vec<u8>,
    last: Option<u64>,
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

    /// Adds a posting; ids ascend strictly within a term, counts are >= 1.
    fn add(&mut self, id: u64, count: u32) -> Result<()> {
        debug_assert!(count >= 1 && self.last.is_none_or(|last| last < id));
        self.scratch.clear();
        put_varint(&mut self.scratch, u64::from(count));
        put_varint(&mut self.scratch, id - self.last.unwrap_or(0));
        self.last = Some(id);
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
    last: Option<u64>,
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
        let count = self.need()?;
        if count == 0 {
            return Ok(None);
        }
        let gap = self.need()?;
        let corrupt = || Error::corrupt(&self.path, "bad posting in a run");
        let count = u32::try_from(count).map_err(|_| corrupt())?;
        let id = match self.last {
            Some(_) if gap == 0 => return Err(corrupt()),
            Some(last) => last.checked_add(gap).ok_or_else(corrupt)?,
            None => gap,
        };
        self.last = Some(id);
        Ok(Some((id, count)))
    }
}

/// The merge of the runs: [`PostingsMerge::next_term`] gives the stems in
/// order, and after each [`PostingsMerge::next_posting`] its postings in id
/// order, an id held by several runs once, with its largest count.
pub(crate) struct PostingsMerge {
    runs: Vec<RunReader>,
    paths: Vec<PathBuf>,
    keys: BinaryHeap<Reverse<(Vec<u8>, usize)>>,
    pairs: BinaryHeap<Reverse<((u64, u32), usize)>>,
    /// The run holding the current stem when no other run holds it: its
    /// postings are read straight from it, without the heap.
    single: Option<usize>,
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
            // A run holds each id of a stem once.
            if let Some(pair) = self.runs[run].next_posting()? {
                return Ok(Some(pair));
            }
            self.single = None;
            if let Some(key) = self.runs[run].next_key()? {
                self.keys.push(Reverse((key, run)));
            }
            return Ok(None);
        }
        let Some(Reverse(((id, mut count), run))) = self.pairs.pop() else {
            return Ok(None);
        };
        self.pull(run)?;
        while let Some(&Reverse(((next_id, next_count), next_run))) = self.pairs.peek() {
            if next_id != id {
                break;
            }
            self.pairs.pop();
            count = count.max(next_count);
            self.pull(next_run)?;
        }
        Ok(Some((id, count)))
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
    use std::collections::BTreeMap;

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
        // Articles out of id order, and repeated ids with other counts.
        let mut input = Vec::new();
        for article in 0..300u64 {
            let id = (article * 7919) % 101 + (article % 3) * 1000;
            for word in 0..(article % 11) {
                let stem = format!("w{}", (word * 31 + article) % 40);
                input.push((id, stem, ((word + article) % 5 + 1) as u32));
            }
        }
        let mut expected: BTreeMap<Vec<u8>, BTreeMap<u64, u32>> = BTreeMap::new();
        for (id, stem, count) in &input {
            let kept = expected
                .entry(stem.clone().into_bytes())
                .or_default()
                .entry(*id)
                .or_default();
            *kept = (*kept).max(*count);
        }
        let expected: BTreeMap<Vec<u8>, Vec<(u64, u32)>> = expected
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect();
        for budget in [1, 500, 5000, usize::MAX] {
            let dir = tempfile::tempdir().unwrap();
            let mut buffer = PostingsBuffer::new(dir.path(), budget);
            // Odd ids are added one posting at a time, even ones as a batch;
            // the budget is charged as when all are added one at a time.
            let one_dir = tempfile::tempdir().unwrap();
            let mut one_by_one = PostingsBuffer::new(one_dir.path(), budget);
            let mut i = 0;
            while i < input.len() {
                let id = input[i].0;
                let n = input[i..].iter().take_while(|p| p.0 == id).count();
                let article = &input[i..i + n];
                if id % 2 == 1 {
                    for (id, stem, count) in article {
                        buffer.add(stem, *id, *count);
                    }
                } else {
                    buffer.add_each(id, n, |k| &article[k].1, |k| article[k].2);
                }
                buffer.end_article().unwrap();
                for (id, stem, count) in article {
                    one_by_one.add(stem, *id, *count);
                }
                one_by_one.end_article().unwrap();
                i += n;
            }
            assert!(budget == usize::MAX || buffer.n_runs() > 0 || buffer.bytes() < budget);
            let many = buffer.n_runs() > FAN_IN;
            assert_eq!(buffer.bytes(), one_by_one.bytes(), "budget {budget}");
            assert_eq!(buffer.n_runs(), one_by_one.n_runs(), "budget {budget}");
            let mut merge = buffer.finish().unwrap();
            assert!(merge.n_runs() <= FAN_IN as u64, "{many}");
            assert_eq!(collect(&mut merge), expected, "budget {budget}");
            drop(merge);
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }
}
