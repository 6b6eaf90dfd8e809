//! Building an index directory: [`IndexBuilder`] (the knobs) and
//! [`IndexWriter`] (`add_article`, `add_redirect`, `finish`).
//!
//! Records go into shards as they arrive; everything that needs the whole dump
//! (title and redirect resolution, in-links, aliases, terms) is gathered in
//! sorted runs spilled to `<build dir>/spill/` and k-way merged in `finish`, so
//! memory is bounded by `memory_budget`, not by the dump.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, info, warn};

use crate::error::{Error, Result};
use crate::footer::{FileKind, FileWriter, crc32, put_varint};
use crate::intern::Interner;
use crate::lexicon::{
    Lexicon, LexiconWriter, TokenState, continue_token_prefix_match, walk_first_token,
};
use crate::manifest::{BuildOptions, Counts, DictionaryEntry, FileEntry, Manifest, sync_dir};
use crate::postings::PostingsBuffer;
use crate::record::{ArticleRecord, EncodedRecord};
use crate::shard::ShardWriter;
use crate::spill::{Log, Sorter};
use crate::storage::{Access, Bytes, open};
use crate::table::{ID_ROW_LEN, IdRow, Table, TableWriter};
use crate::terms::TermsWriter;

/// Global file names.
pub(crate) const TITLES_FILE: &str = "titles.fst";
pub(crate) const REDIRECTS_FILE: &str = "redirects.fst";
pub(crate) const IDS_FILE: &str = "ids.tbl";
pub(crate) const INLINKS_FILE: &str = "inlinks.tbl";
pub(crate) const ALIASES_FILE: &str = "aliases.lex";
pub(crate) const TERMS_FILE: &str = "terms.lex";
pub(crate) const REDIRECTS_IN_FILE: &str = "redirects-in.lex";
pub(crate) const DICTIONARY_FILE: &str = "dictionary.zdict";

/// An alias's candidates are pruned (those already below the prior threshold
/// dropped) once this many, or twice as many as were left by the last pruning,
/// are held.
const PRUNE_MIN: usize = 256;
/// Bytes of folded text read per round of the parallel occurrence pass.
const OCCURRENCE_CHUNK_BYTES: usize = 4 << 20;
/// Records buffered to train the dictionary.
const DICT_SAMPLE_BYTES: usize = 8 << 20;
/// Below this much sample data a dictionary is not tried.
const DICT_MIN_SAMPLE_BYTES: usize = 256 << 10;
/// Dictionary size.
const DICT_SIZE: usize = 64 << 10;
/// The dictionary is used only if it shrinks the sample blocks by at least this (per mille).
const DICT_MIN_SAVING_PER_MILLE: u32 = 30;
/// The dictionary's saving is measured on one block in this many.
const DICT_MEASURE_EVERY: usize = 4;

/// One article's links in the anchor spill: (source id, [(folded anchor, folded target)]).
type ArticleAnchors = (u64, Vec<(String, String)>);
/// One alias in the group spill: (alias, total count, [(target id, count)] kept,
/// by count descending then id).
type AliasGroup = (String, u64, Vec<(u64, u64)>);

/// The name of shard `n`.
pub(crate) fn shard_file_name(n: u32) -> String {
    format!("shard-{n:05}.fsh")
}

/// Builds an index directory; every knob has a default.
///
/// ```no_run
/// let mut writer = index::IndexBuilder::new("/data/enwiki.idx").shard_size(64 << 20).start()?;
/// // writer.add_article(...)?; writer.add_redirect(...)?;
/// let summary = writer.finish()?;
/// # Ok::<(), index::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct IndexBuilder {
    out_dir: PathBuf,
    options: BuildOptions,
    memory_budget: u64,
    metadata: serde_json::Value,
    dictionary_sample: usize,
    threads: usize,
}

impl IndexBuilder {
    /// Starts the description of an index to be built at `out_dir`. The build
    /// happens in the sibling `<out_dir>.tmp-<pid>`, which `finish` renames into
    /// place; an existing index at `out_dir` is replaced only then.
    pub fn new(out_dir: impl AsRef<Path>) -> IndexBuilder {
        IndexBuilder {
            out_dir: out_dir.as_ref().to_path_buf(),
            options: BuildOptions::default(),
            memory_budget: 1 << 30,
            metadata: serde_json::Value::Null,
            dictionary_sample: DICT_SAMPLE_BYTES,
            threads: 0,
        }
    }

    /// Closes a shard once its uncompressed record bytes reach `bytes` (default 64 MiB).
    pub fn shard_size(mut self, bytes: u64) -> Self {
        self.options.shard_size = bytes.max(1);
        self
    }

    /// Target uncompressed size of a zstd block (default 16 KiB); smaller blocks
    /// make uncached article reads faster and compression worse.
    pub fn block_size(mut self, bytes: u64) -> Self {
        self.options.block_size = bytes.clamp(1, u64::from(crate::block::MAX_BLOCK_LEN));
        self
    }

    /// Target uncompressed size of a zstd block of `terms.lex` (default 4 KiB).
    /// A term lookup decompresses one block, so smaller blocks make rare-term
    /// searches faster and the file larger.
    pub fn term_block_size(mut self, bytes: u64) -> Self {
        self.options.term_block_size = bytes.clamp(1, u64::from(crate::block::MAX_BLOCK_LEN));
        self
    }

    /// Threads for the parallel passes of `finish` (default 0: one per core);
    /// does not change the output.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Bounds the memory of the sorted runs (default 1 GiB); does not change the output.
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// zstd level for blocks (default 3).
    pub fn zstd_level(mut self, level: i32) -> Self {
        self.options.zstd_level = level;
        self
    }

    /// Whether to train a zstd dictionary on the first records (default true);
    /// it is kept only if it shrinks the sample blocks by at least 3%.
    pub fn dictionary(mut self, enabled: bool) -> Self {
        self.options.dictionary = enabled;
        self
    }

    /// How many bytes of the first encoded records are buffered to train and
    /// measure the dictionary (default 8 MiB; below 256 KiB no dictionary is tried).
    pub fn dictionary_sample(mut self, bytes: usize) -> Self {
        self.dictionary_sample = bytes;
        self
    }

    /// Source metadata stored verbatim in the manifest (dbname, date, lang,
    /// generator, input file name and size; a build time only if the caller
    /// wants one, since it makes builds differ).
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// Minimum link probability for `Index::link` to report a mention (default 0.2).
    pub fn min_link_prob(mut self, p: f64) -> Self {
        self.options.min_link_prob = p;
        self
    }

    /// Alias candidates with a lower prior probability are dropped (default 0.01).
    pub fn min_prior_prob(mut self, p: f64) -> Self {
        self.options.min_prior_prob = p;
        self
    }

    /// Aliases longer than this many tokens are dropped (default 20).
    pub fn max_mention_len(mut self, tokens: u32) -> Self {
        self.options.max_mention_len = tokens.max(1);
        self
    }

    /// Redirect chains are followed at most this many hops (default 4).
    pub fn max_redirect_hops(mut self, hops: u32) -> Self {
        self.options.max_redirect_hops = hops;
        self
    }

    /// Creates the build directory and returns the writer.
    pub fn start(self) -> Result<IndexWriter> {
        IndexWriter::start(self)
    }
}

/// What `finish` built.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BuildSummary {
    /// The index directory.
    pub path: PathBuf,
    /// What the index holds.
    pub counts: Counts,
    /// Total bytes of all files.
    pub bytes: u64,
    /// Wall-clock seconds from `start` to the end of `finish`.
    pub seconds: f64,
    /// Whether a zstd dictionary is used.
    pub dictionary: bool,
    /// Sorted runs spilled to disk because the memory budget was reached.
    pub spill_runs: u64,
}

/// One article as handed to [`IndexWriter::add_article`].
#[derive(Clone, Copy, Debug)]
pub struct ArticleInput<'a> {
    /// The record to store.
    pub record: &'a ArticleRecord,
    /// The folded title (the key `Index::title` is queried with).
    pub title_key: &'a str,
    /// Per sentence in document order (the order of [`ArticleRecord::sentences`]),
    /// the stemmed terms for full-text search; empty if the article is not searchable.
    pub sentence_stems: &'a [Vec<String>],
    /// Per sentence in document order, the folded tokens joined by single
    /// spaces (the normalisation of anchors); used to count in how many articles
    /// an alias occurs at all, for link probabilities. May be empty.
    pub folded_sentences: &'a [String],
    /// The article's links as (folded anchor text, folded target title).
    pub anchors: &'a [(String, String)],
}

/// An article's folded sentences as sequences of words over one table of
/// words, so that an article needs no string per word or per sentence and a
/// word that occurs many times is stored (and looked up) once.
///
/// Sentence `i` is the words `words[sequence[j]]` for `j` in
/// `sentence_ends[i - 1]..sentence_ends[i]`, joined by single spaces (a word
/// may itself hold spaces, e.g. `"foo bar"` from `foo_bar`).
#[derive(Clone, Copy, Debug, Default)]
pub struct FoldedSentences<'a> {
    /// The words back to back, without separators (distinct ones, ideally).
    pub words: &'a str,
    /// The end offset of each word in `words`, ascending.
    pub word_ends: &'a [u32],
    /// The words of all the sentences in order, as indexes into `word_ends`.
    pub sequence: &'a [u32],
    /// The length of `sequence` up to and including each sentence, ascending.
    pub sentence_ends: &'a [u32],
}

/// Checks that `ends` split all of `text` into strings on character
/// boundaries; otherwise says what is wrong, naming the strings `noun`s.
fn check_ends(text: &str, ends: &[u32], noun: &str) -> std::result::Result<(), String> {
    let mut start = 0u32;
    for &end in ends {
        if end < start || !text.is_char_boundary(end as usize) {
            return Err(format!("a {noun} end out of order or inside a character"));
        }
        start = end;
    }
    if start as usize != text.len() {
        return Err(format!("text after the last {noun}"));
    }
    Ok(())
}

/// An article's links as (folded anchor text, folded target title) pairs,
/// in one buffer: `text` holds the anchor and the target of each link back
/// to back, `ends` the end offset of each (two per link).
#[derive(Clone, Copy, Debug, Default)]
pub struct AnchorPairs<'a> {
    /// Anchor, target, anchor, target... without separators.
    pub text: &'a str,
    /// The end offset in `text` of each anchor and each target, ascending.
    pub ends: &'a [u32],
}

impl<'a> AnchorPairs<'a> {
    /// The number of links.
    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }

    /// Whether there are no links.
    pub fn is_empty(&self) -> bool {
        self.ends.len() < 2
    }

    /// Checks that there are two ends per link, ascending, in range and on
    /// character boundaries.
    fn check(&self, id: u64) -> Result<()> {
        let bad = |why: &str| Err(Error::invalid(format!("article {id}: anchors {why}")));
        if !self.ends.len().is_multiple_of(2) {
            return bad("have an anchor without a target");
        }
        if let Err(why) = check_ends(self.text, self.ends, "anchor or target") {
            return bad(&format!("have {why}"));
        }
        Ok(())
    }

    /// The (anchor, target) pairs (checked offsets).
    fn pairs(&self) -> impl ExactSizeIterator<Item = (&'a str, &'a str)> + '_ {
        let text = self.text;
        let piece = move |start: u32, end: u32| &text[start as usize..end as usize];
        self.ends.chunks_exact(2).enumerate().map(move |(i, pair)| {
            let start = if i == 0 { 0 } else { self.ends[2 * i - 1] };
            (piece(start, pair[0]), piece(pair[0], pair[1]))
        })
    }
}

/// A sequence of (anchor, target) pairs: with the article's id in front, the
/// bytes of an [`ArticleAnchors`], which the anchor log reads them back as.
impl serde::Serialize for AnchorPairs<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq(self.pairs())
    }
}

impl FoldedSentences<'_> {
    /// Checks that the offsets are ascending, in range and on character
    /// boundaries and every word index in range.
    fn check(&self, what: &str, id: u64) -> Result<()> {
        let bad = |why: &str| Err(Error::invalid(format!("article {id}: {what} {why}")));
        if let Err(why) = check_ends(self.words, self.word_ends, "word") {
            return bad(&format!("has {why}"));
        }
        if self
            .sequence
            .iter()
            .any(|&word| word as usize >= self.word_ends.len())
        {
            return bad("has a word index out of range");
        }
        let mut last = 0u32;
        for &end in self.sentence_ends {
            if end < last || end as usize > self.sequence.len() {
                return bad("has a sentence end out of order or out of range");
            }
            last = end;
        }
        if last as usize != self.sequence.len() {
            return bad("has words after its last sentence");
        }
        Ok(())
    }
}

/// An article's folded sentences as the text log holds them
/// ([`FoldedSentences`], owned, with the sequence as LEB128 varints: most
/// word indexes take a byte, and the scan decodes them in a plain loop).
#[derive(serde::Serialize, serde::Deserialize)]
struct FoldedWords {
    words: String,
    word_ends: Vec<u32>,
    #[serde(with = "crate::record::bytes")]
    sequence: Vec<u8>,
    sentence_ends: Vec<u32>,
}

/// [`FoldedWords`], borrowed, for writing.
#[derive(serde::Serialize)]
struct FoldedWordsWire<'a> {
    words: &'a str,
    word_ends: &'a [u32],
    #[serde(serialize_with = "crate::record::bytes::serialize")]
    sequence: &'a [u8],
    sentence_ends: &'a [u32],
}

/// An article's distinct stems, each with the number of its sentences holding
/// it: what the index keeps of the stems (see [`TermCounter`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct TermCounts<'a> {
    /// The distinct stems back to back, without separators.
    pub text: &'a str,
    /// The end offset of each stem in `text`, ascending.
    pub ends: &'a [u32],
    /// Per stem, the number of the article's sentences holding it (at least 1).
    pub sentences: &'a [u32],
}

impl TermCounts<'_> {
    /// Checks that the offsets are ascending, in range and on character
    /// boundaries and that every count is in `1..=n_sentences`.
    fn check(&self, id: u64, n_sentences: usize) -> Result<()> {
        let bad = |why: &str| Err(Error::invalid(format!("article {id}: terms {why}")));
        if self.ends.len() != self.sentences.len() {
            return bad("have not one count per stem");
        }
        if let Err(why) = check_ends(self.text, self.ends, "stem") {
            return bad(&format!("have {why}"));
        }
        if self
            .sentences
            .iter()
            .any(|&n| n == 0 || n as usize > n_sentences)
        {
            return bad("have a count of 0 or above the number of sentences");
        }
        Ok(())
    }

    /// The `i`-th stem (checked offsets).
    fn stem(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start as usize..self.ends[i] as usize]
    }
}

/// Counts, for one article at a time, in how many sentences each distinct
/// stem occurs: [`TermCounter::add`] each stem of a sentence, then
/// [`TermCounter::end_sentence`]. Stems are kept in order of first occurrence.
///
/// This is the per-word work of indexing; callers run it on their worker
/// threads, so the writer only sees each distinct stem of an article once.
#[derive(Clone, Debug)]
pub struct TermCounter {
    /// The article's distinct stems, in order of first occurrence.
    stems: Interner,
    /// Per stem, the number of sentences holding it.
    sentences: Vec<u32>,
    /// Per stem, the sentence (1-based) it was last counted in.
    seen_in: Vec<u32>,
    sentence: u32,
}

impl Default for TermCounter {
    fn default() -> TermCounter {
        TermCounter {
            stems: Interner::new(64),
            sentences: Vec::new(),
            seen_in: Vec::new(),
            sentence: 0,
        }
    }
}

impl TermCounter {
    /// An empty counter.
    pub fn new() -> TermCounter {
        TermCounter::default()
    }

    /// Forgets every stem (keeping the allocations).
    pub fn clear(&mut self) {
        self.stems.clear();
        self.sentences.clear();
        self.seen_in.clear();
        self.sentence = 0;
    }

    /// Counts `stem` in the current sentence (once, however often it occurs).
    pub fn add(&mut self, stem: &str) {
        let sentence = self.sentence + 1;
        let (slot, new) = self.stems.intern(stem);
        if new {
            self.sentences.push(1);
            self.seen_in.push(sentence);
        } else if self.seen_in[slot as usize] != sentence {
            self.seen_in[slot as usize] = sentence;
            self.sentences[slot as usize] += 1;
        }
    }

    /// Ends the current sentence.
    pub fn end_sentence(&mut self) {
        self.sentence += 1;
    }

    /// The counted stems.
    pub fn terms(&self) -> TermCounts<'_> {
        let (text, ends) = self.stems.keys();
        TermCounts {
            text,
            ends,
            sentences: &self.sentences,
        }
    }

    /// Takes the counted stems out as (text, ends, counts) and clears the counter.
    pub fn take(&mut self) -> (String, Vec<u32>, Vec<u32>) {
        let (text, ends) = self.stems.take();
        let sentences = std::mem::take(&mut self.sentences);
        self.clear();
        (text, ends, sentences)
    }
}

/// One article as handed to [`IndexWriter::add_article_flat`]: the same as
/// [`ArticleInput`], with the record already encoded, the stems already
/// counted and the folded sentences in a flat buffer.
#[derive(Debug)]
pub struct FlatArticleInput<'a> {
    /// The record to store.
    pub record: EncodedRecord,
    /// The folded title.
    pub title_key: &'a str,
    /// The distinct stems of the article's sentences with the number of
    /// sentences holding each (empty if the article is not searchable), as a
    /// [`TermCounter`] gives them for [`ArticleInput::sentence_stems`].
    pub terms: TermCounts<'a>,
    /// The folded sentences (one per sentence of the record, or none), as
    /// in [`ArticleInput::folded_sentences`].
    pub folded_sentences: FoldedSentences<'a>,
    /// The article's links as (folded anchor text, folded target title).
    pub anchors: AnchorPairs<'a>,
}

#[derive(Clone)]
struct PendingRecord {
    shard: u32,
    encoded: Vec<u8>,
    key: String,
}

/// What [`train_dictionary`] decides: the dictionary, its id and its
/// saving in per mille, or none.
type DictChoice = Option<(Vec<u8>, u32, u32)>;

enum DictState {
    Sampling {
        records: Vec<PendingRecord>,
        bytes: usize,
    },
    /// A thread trains on the sampled records while later ones wait (the
    /// records are written in order once it is done).
    Training {
        thread: std::thread::JoinHandle<Result<DictChoice>>,
        sampled: Arc<Vec<PendingRecord>>,
        waiting: Vec<PendingRecord>,
        bytes: usize,
    },
    Decided {
        dictionary: Option<(Vec<u8>, u32, u32)>,
    },
}

/// Writes one index; created by [`IndexBuilder::start`].
///
/// Dropping a writer without calling [`IndexWriter::finish`] removes the build
/// directory and leaves any existing index at the output path untouched.
pub struct IndexWriter {
    out_dir: PathBuf,
    build_dir: PathBuf,
    spill_dir: PathBuf,
    options: BuildOptions,
    metadata: serde_json::Value,
    sorter_budget: usize,
    started: Instant,
    finished: bool,
    // shard placement (decided at add time, independent of compression)
    next_shard: u32,
    next_ordinal: u32,
    shard_bytes: u64,
    dict: DictState,
    open_shard: Option<(u32, ShardWriter<BufWriter<File>>)>,
    shards: Vec<FileEntry>,
    // global runs
    seq: u64,
    titles: Sorter<(String, u64, u64)>,
    redirects: Sorter<(String, u64, String, String)>,
    ids: Sorter<(u64, u64, u32, u32, u32, u32)>,
    postings: Option<PostingsBuffer>,
    anchors: Option<Log<ArticleAnchors>>,
    texts: Option<Log<FoldedWords>>,
    /// The varints of the sequence of the article being logged.
    sequence_scratch: Vec<u8>,
    counts: Counts,
    spill_runs: u64,
    dictionary_sample: usize,
    threads: usize,
}

impl IndexWriter {
    fn start(builder: IndexBuilder) -> Result<IndexWriter> {
        let IndexBuilder {
            threads,
            dictionary_sample,
            out_dir,
            options,
            memory_budget,
            metadata,
        } = builder;
        let file_name = out_dir.file_name().ok_or_else(|| {
            Error::invalid(format!(
                "output path {} has no file name",
                out_dir.display()
            ))
        })?;
        let mut build_name = file_name.to_os_string();
        build_name.push(format!(".tmp-{}", std::process::id()));
        let build_dir = out_dir.with_file_name(build_name);
        if build_dir.exists() {
            std::fs::remove_dir_all(&build_dir).map_err(|e| Error::io(&build_dir, e))?;
        }
        let spill_dir = build_dir.join("spill");
        std::fs::create_dir_all(&spill_dir).map_err(|e| Error::io(&spill_dir, e))?;
        // While adding: half the budget for the postings, a twelfth for each of
        // the title, redirect and id runs, a sixteenth for each of the anchor
        // and text logs (kept in memory up to that, until `finish` reads
        // them), the rest for everything else (the dictionary sample, the open
        // shard's tables). In `finish` the postings are written out while at
        // most three sorters of a twelfth each hold buffers at once, besides
        // the logs.
        let share = |d: u64| {
            usize::try_from(memory_budget / d)
                .unwrap_or(usize::MAX)
                .max(1)
        };
        let sorter_budget = share(12);
        let dict = if options.dictionary {
            DictState::Sampling {
                records: Vec::new(),
                bytes: 0,
            }
        } else {
            DictState::Decided { dictionary: None }
        };
        info!(out = %out_dir.display(), build = %build_dir.display(), "index build started");
        Ok(IndexWriter {
            titles: Sorter::new(&spill_dir, "titles", share(12)),
            redirects: Sorter::new(&spill_dir, "redirects", share(12)),
            ids: Sorter::new(&spill_dir, "ids", share(12)),
            postings: Some(PostingsBuffer::new(&spill_dir, share(2))),
            anchors: Some(Log::with_memory(spill_dir.join("anchors.log"), share(16))?),
            texts: Some(Log::with_memory(spill_dir.join("texts.log"), share(16))?),
            sequence_scratch: Vec::new(),
            out_dir,
            build_dir,
            spill_dir,
            options,
            metadata,
            sorter_budget,
            started: Instant::now(),
            finished: false,
            next_shard: 0,
            next_ordinal: 0,
            shard_bytes: 0,
            dict,
            open_shard: None,
            shards: Vec::new(),
            seq: 0,
            counts: Counts::default(),
            spill_runs: 0,
            dictionary_sample,
            threads: if threads == 0 {
                std::thread::available_parallelism().map_or(1, usize::from)
            } else {
                threads
            },
        })
    }

    /// The directory the build is written to until `finish` moves it into place.
    pub fn build_dir(&self) -> &Path {
        &self.build_dir
    }

    /// Adds one article.
    ///
    /// Errors with [`Error::InvalidInput`] (and adds nothing) when
    /// `sentence_stems` or `folded_sentences` is neither empty nor one entry per
    /// sentence of the record; the writer stays usable.
    pub fn add_article(&mut self, input: ArticleInput<'_>) -> Result<()> {
        let n_sentences = input.record.sentences().count();
        check_len(
            input.record.id,
            "sentence_stems",
            input.sentence_stems.len(),
            n_sentences,
        )?;
        let mut counter = TermCounter::new();
        for stems in input.sentence_stems {
            for stem in stems {
                counter.add(stem);
            }
            counter.end_sentence();
        }
        // Each folded sentence is one word of the table.
        let words = input.folded_sentences.concat();
        let word_ends: Vec<u32> = input
            .folded_sentences
            .iter()
            .scan(0u32, |end, sentence| {
                *end += sentence.len() as u32;
                Some(*end)
            })
            .collect();
        let sequence: Vec<u32> = (0..word_ends.len() as u32).collect();
        let sentence_ends: Vec<u32> = (1..=word_ends.len() as u32).collect();
        let mut anchor_text = String::new();
        let mut anchor_ends = Vec::with_capacity(2 * input.anchors.len());
        for (anchor, target) in input.anchors {
            for part in [anchor, target] {
                anchor_text.push_str(part);
                anchor_ends.push(anchor_text.len() as u32);
            }
        }
        self.add_article_with(
            EncodedRecord::new(input.record)?,
            input.title_key,
            counter.terms(),
            FoldedSentences {
                words: &words,
                word_ends: &word_ends,
                sequence: &sequence,
                sentence_ends: &sentence_ends,
            },
            AnchorPairs {
                text: &anchor_text,
                ends: &anchor_ends,
            },
        )
    }

    /// Adds one article given with counted terms and flat buffers; the index
    /// is byte-identical to the one [`IndexWriter::add_article`] writes for
    /// the same article.
    ///
    /// Errors with [`Error::InvalidInput`] (and adds nothing) as `add_article`
    /// does, and when an offset is out of order or out of range, a count is 0
    /// or above the number of sentences, a word index is out of range, or
    /// an anchor has no target.
    pub fn add_article_flat(&mut self, input: FlatArticleInput<'_>) -> Result<()> {
        let id = input.record.id();
        let folded = input.folded_sentences;
        folded.check("folded_sentences", id)?;
        input.anchors.check(id)?;
        self.add_article_with(
            input.record,
            input.title_key,
            input.terms,
            folded,
            input.anchors,
        )
    }

    /// The body of `add_article*`.
    fn add_article_with(
        &mut self,
        record: EncodedRecord,
        title_key: &str,
        terms: TermCounts<'_>,
        folded: FoldedSentences<'_>,
        anchors: AnchorPairs<'_>,
    ) -> Result<()> {
        let n_sentences = record.sentence_count();
        let id = record.id();
        check_len(
            id,
            "folded_sentences",
            folded.sentence_ends.len(),
            n_sentences,
        )?;
        terms.check(id, n_sentences)?;
        let (record_sentences, record_links) = (record.n_sentences(), record.n_links());
        let encoded = record.into_bytes();

        let (shard, ordinal) = (self.next_shard, self.next_ordinal);
        self.shard_bytes += encoded.len() as u64;
        self.next_ordinal += 1;
        if self.shard_bytes >= self.options.shard_size {
            self.next_shard += 1;
            self.next_ordinal = 0;
            self.shard_bytes = 0;
        }

        self.seq += 1;
        self.counts.sentences += u64::from(record_sentences);
        self.titles
            .push((title_key.to_string(), self.seq, id), title_key.len())?;
        self.ids.push(
            (id, self.seq, shard, ordinal, record_sentences, record_links),
            0,
        )?;
        if let Some(postings) = &mut self.postings {
            postings.add_each(
                id,
                terms.ends.len(),
                |i| terms.stem(i),
                |i| terms.sentences[i],
            );
            postings.end_article()?;
        }
        self.counts.links += anchors.len() as u64;
        if let (Some(anchor_log), Some(texts)) = (&mut self.anchors, &mut self.texts) {
            // Borrowed forms encode as the owned types the logs are read back as.
            anchor_log.push_as(&(id, anchors))?;
            self.sequence_scratch.clear();
            for &word in folded.sequence {
                put_varint(&mut self.sequence_scratch, u64::from(word));
            }
            texts.push_as(&FoldedWordsWire {
                words: folded.words,
                word_ends: folded.word_ends,
                sequence: &self.sequence_scratch,
                sentence_ends: folded.sentence_ends,
            })?;
        }
        self.place_record(PendingRecord {
            shard,
            encoded,
            key: title_key.to_string(),
        })
    }

    /// Adds a redirect from the page titled `from_title` (folded: `from_key`) to
    /// the page whose folded title is `to_key`. Redirects are resolved in
    /// `finish`: chains are followed, and redirects to missing pages dropped.
    pub fn add_redirect(&mut self, from_title: &str, from_key: &str, to_key: &str) -> Result<()> {
        self.seq += 1;
        let bytes = from_title.len() + from_key.len() + to_key.len();
        self.redirects.push(
            (
                from_key.to_string(),
                self.seq,
                from_title.to_string(),
                to_key.to_string(),
            ),
            bytes,
        )
    }

    fn place_record(&mut self, record: PendingRecord) -> Result<()> {
        match &mut self.dict {
            DictState::Sampling { records, bytes } => {
                *bytes += record.encoded.len();
                records.push(record);
                if *bytes >= self.dictionary_sample {
                    self.start_training()?;
                }
                Ok(())
            }
            DictState::Training {
                thread,
                waiting,
                bytes,
                ..
            } => {
                *bytes += record.encoded.len();
                let done = thread.is_finished() || *bytes >= self.dictionary_sample;
                waiting.push(record);
                if done {
                    self.decide_dictionary()?;
                }
                Ok(())
            }
            DictState::Decided { .. } => self.write_record(record),
        }
    }

    /// Starts training a dictionary on the sampled records on a thread of
    /// its own, so that the records keep coming meanwhile (where no thread
    /// can be started, trains here). Too small a sample gets no dictionary.
    fn start_training(&mut self) -> Result<()> {
        let DictState::Sampling { records, bytes } =
            std::mem::replace(&mut self.dict, DictState::Decided { dictionary: None })
        else {
            return Ok(());
        };
        if bytes < DICT_MIN_SAMPLE_BYTES {
            return self.write_records(records, Vec::new());
        }
        let sampled = Arc::new(records);
        let (level, block_size) = (self.options.zstd_level, self.options.block_size as usize);
        let (records, dir) = (Arc::clone(&sampled), self.build_dir.clone());
        let spawned = std::thread::Builder::new()
            .name("zstd-dictionary".into())
            .spawn(move || train_dictionary(&records, level, block_size, &dir));
        match spawned {
            Ok(thread) => {
                self.dict = DictState::Training {
                    thread,
                    sampled,
                    waiting: Vec::new(),
                    bytes: 0,
                };
                Ok(())
            }
            Err(e) => {
                debug!(error = %e, "no thread for dictionary training; training here");
                let choice = train_dictionary(&sampled, level, block_size, &self.build_dir)?;
                self.decided(choice, sampled, Vec::new())
            }
        }
    }

    /// Decides on the dictionary (training first if still sampling, waiting
    /// for the training thread if one runs) and writes out the records held
    /// back until then. Does nothing once decided.
    fn decide_dictionary(&mut self) -> Result<()> {
        if matches!(self.dict, DictState::Sampling { .. }) {
            self.start_training()?;
        }
        let (thread, sampled, waiting) =
            match std::mem::replace(&mut self.dict, DictState::Decided { dictionary: None }) {
                DictState::Training {
                    thread,
                    sampled,
                    waiting,
                    ..
                } => (thread, sampled, waiting),
                decided => {
                    self.dict = decided;
                    return Ok(());
                }
            };
        let choice = thread.join().map_err(|_| {
            Error::io(
                &self.build_dir,
                std::io::Error::other("the dictionary training thread panicked"),
            )
        })??;
        self.decided(choice, sampled, waiting)
    }

    /// Keeps `choice` (writing the dictionary file if there is one) and
    /// writes the sampled and the waiting records, in that order.
    fn decided(
        &mut self,
        choice: DictChoice,
        sampled: Arc<Vec<PendingRecord>>,
        waiting: Vec<PendingRecord>,
    ) -> Result<()> {
        if let Some((dict, id, saving)) = &choice {
            let path = self.build_dir.join(DICTIONARY_FILE);
            let mut out = FileWriter::create(&path, FileKind::Dictionary)?;
            out.write_all(dict).map_err(|e| Error::io(&path, e))?;
            out.finish_file(&path)?;
            info!(
                dictionary_id = id,
                saving_per_mille = saving,
                "zstd dictionary used"
            );
        }
        self.dict = DictState::Decided { dictionary: choice };
        // The training thread has ended, so this is the only reference.
        let sampled = Arc::try_unwrap(sampled).unwrap_or_else(|shared| (*shared).clone());
        self.write_records(sampled, waiting)
    }

    fn write_records(&mut self, first: Vec<PendingRecord>, then: Vec<PendingRecord>) -> Result<()> {
        for record in first.into_iter().chain(then) {
            self.write_record(record)?;
        }
        Ok(())
    }

    fn write_record(&mut self, record: PendingRecord) -> Result<()> {
        if self
            .open_shard
            .as_ref()
            .is_some_and(|(n, _)| *n != record.shard)
        {
            self.close_shard()?;
        }
        if self.open_shard.is_none() {
            let n = record.shard;
            debug_assert_eq!(n as usize, self.shards.len());
            let path = self.build_dir.join(shard_file_name(n));
            let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
            let (dict, dict_id) = match &self.dict {
                DictState::Decided {
                    dictionary: Some((dict, id, _)),
                } => (Some(dict.as_slice()), *id),
                _ => (None, 0),
            };
            let writer = ShardWriter::new(
                BufWriter::with_capacity(1 << 16, file),
                self.options.zstd_level,
                self.options.block_size as usize,
                dict,
                dict_id,
            )
            .map_err(|e| Error::io(&path, e))?;
            self.open_shard = Some((n, writer));
        }
        let (n, writer) = self.open_shard.as_mut().expect("opened above");
        let n = *n;
        writer
            .add(&record.encoded, &record.key)
            .map_err(|e| with_path(e, &self.build_dir.join(shard_file_name(n))))?;
        Ok(())
    }

    fn close_shard(&mut self) -> Result<()> {
        let Some((n, writer)) = self.open_shard.take() else {
            return Ok(());
        };
        let name = shard_file_name(n);
        let path = self.build_dir.join(&name);
        let (out, size, crc, stats) = writer.finish().map_err(|e| with_path(e, &path))?;
        let file = out
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        info!(
            shard = n,
            records = stats.n_records,
            blocks = stats.n_blocks,
            uncompressed = stats.uncompressed_bytes,
            size,
            "shard written"
        );
        self.shards.push(FileEntry {
            name,
            size,
            crc32: crc,
            items: u64::from(stats.n_records),
        });
        Ok(())
    }

    /// Writes the remaining shards and all global files, then the manifest,
    /// and moves the build directory into place (replacing an existing index).
    pub fn finish(mut self) -> Result<BuildSummary> {
        let summary = self.finish_inner()?;
        self.finished = true;
        Ok(summary)
    }

    fn finish_inner(&mut self) -> Result<BuildSummary> {
        self.decide_dictionary()?;
        self.close_shard()?;
        self.counts.shards = self.shards.len() as u64;
        let mut files = Vec::new();
        let phase = Instant::now();
        let done =
            |what: &'static str| debug!(seconds = phase.elapsed().as_secs_f64(), "{what} written");

        files.push(self.write_titles()?);
        files.push(self.write_ids()?);
        done("titles and ids");
        // `terms.lex` is written on a thread of its own while this one does
        // the redirects, in-links and aliases: they share nothing but
        // `ids.tbl`, which both only read.
        let buffer = self
            .postings
            .take()
            .ok_or_else(|| Error::invalid("postings already written"))?;
        let (build_dir, zstd_level) = (self.build_dir.clone(), self.options.zstd_level);
        let term_block_size = self.options.term_block_size as usize;
        let (terms, links) = std::thread::scope(|scope| {
            let terms = scope.spawn(move || {
                let written = write_terms(buffer, &build_dir, zstd_level, term_block_size);
                done("terms");
                written
            });
            let links = self.write_redirects_and_links(&done);
            let terms = terms
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (terms, links)
        });
        let terms = terms?;
        files.extend(links?);
        self.spill_runs += terms.spill_runs;
        self.counts.terms = terms.terms;
        self.counts.postings = terms.postings;
        files.push(terms.entry);

        let dictionary = match &self.dict {
            DictState::Decided {
                dictionary: Some((_, id, saving)),
            } => {
                let path = self.build_dir.join(DICTIONARY_FILE);
                let size = std::fs::metadata(&path)
                    .map_err(|e| Error::io(&path, e))?
                    .len();
                let storage = open(&path, Access::Pread)?;
                let frame = crate::footer::check_frame(&*storage, FileKind::Dictionary, None)?;
                Some(DictionaryEntry {
                    file: FileEntry {
                        name: DICTIONARY_FILE.to_string(),
                        size,
                        crc32: frame.crc,
                        items: 1,
                    },
                    id: *id,
                    saving_per_mille: *saving,
                })
            }
            _ => None,
        };
        std::fs::remove_dir_all(&self.spill_dir).map_err(|e| Error::io(&self.spill_dir, e))?;

        files.sort_by(|a, b| a.name.cmp(&b.name));
        let bytes = self
            .shards
            .iter()
            .chain(&files)
            .map(|f| f.size)
            .sum::<u64>()
            + dictionary.as_ref().map_or(0, |d| d.file.size);
        let manifest = Manifest {
            format_version: crate::FORMAT_VERSION,
            generator: format!("index {}", env!("CARGO_PKG_VERSION")),
            metadata: self.metadata.clone(),
            options: self.options.clone(),
            counts: self.counts.clone(),
            dictionary,
            shards: self.shards.clone(),
            files,
        };
        sync_dir(&self.build_dir)?;
        manifest.write(&self.build_dir)?;
        self.swap_into_place()?;
        let summary = BuildSummary {
            path: self.out_dir.clone(),
            counts: self.counts.clone(),
            bytes,
            seconds: self.started.elapsed().as_secs_f64(),
            dictionary: manifest.dictionary.is_some(),
            spill_runs: self.spill_runs,
        };
        info!(path = %self.out_dir.display(), articles = summary.counts.articles, shards = summary.counts.shards, bytes, seconds = summary.seconds, "index built");
        Ok(summary)
    }

    /// Renames an existing index away, the build directory in, and removes the old one.
    fn swap_into_place(&self) -> Result<()> {
        let parent = match self.out_dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut old = None;
        if self.out_dir.exists() {
            let mut old_name = self
                .out_dir
                .file_name()
                .expect("checked in start")
                .to_os_string();
            old_name.push(format!(".old-{}", std::process::id()));
            let old_dir = self.out_dir.with_file_name(old_name);
            if old_dir.exists() {
                std::fs::remove_dir_all(&old_dir).map_err(|e| Error::io(&old_dir, e))?;
            }
            std::fs::rename(&self.out_dir, &old_dir).map_err(|e| Error::io(&self.out_dir, e))?;
            old = Some(old_dir);
        }
        std::fs::rename(&self.build_dir, &self.out_dir).map_err(|e| Error::io(&self.out_dir, e))?;
        sync_dir(&parent)?;
        if let Some(old_dir) = old {
            std::fs::remove_dir_all(&old_dir).map_err(|e| Error::io(&old_dir, e))?;
        }
        Ok(())
    }

    /// Writes `redirects.fst`, `redirects-in.lex`, `inlinks.tbl` and
    /// `aliases.lex` (`titles.fst` must be written).
    fn write_redirects_and_links(&mut self, done: &dyn Fn(&'static str)) -> Result<Vec<FileEntry>> {
        let titles = Lexicon::open(
            open(&self.build_dir.join(TITLES_FILE), Access::Mmap)?,
            FileKind::Titles,
            None,
        )?;
        let (redirects_entry, redirects_in_entry) = self.write_redirects(&titles)?;
        done("redirects");
        let redirects = Lexicon::open(
            open(&self.build_dir.join(REDIRECTS_FILE), Access::Mmap)?,
            FileKind::Redirects,
            None,
        )?;
        let (inlinks_entry, aliases_entry) = self.write_links(&titles, &redirects)?;
        done("in-links and aliases");
        Ok(vec![
            redirects_entry,
            redirects_in_entry,
            inlinks_entry,
            aliases_entry,
        ])
    }

    fn write_titles(&mut self) -> Result<FileEntry> {
        let sorter = std::mem::replace(
            &mut self.titles,
            Sorter::new(&self.spill_dir, "titles-done", 1),
        );
        let mut merge = sorter.finish()?;
        self.spill_runs += merge.n_runs();
        let path = self.build_dir.join(TITLES_FILE);
        let mut writer = LexiconWriter::create(&path, FileKind::Titles)?;
        while let Some((key, _seq, id)) = merge.next_item()? {
            writer.insert(key.as_bytes(), id)?;
            while merge.next_if(|item| item.0 == key)?.is_some() {
                self.counts.duplicate_titles += 1;
            }
        }
        if self.counts.duplicate_titles > 0 {
            warn!(
                duplicates = self.counts.duplicate_titles,
                "articles with a title key already taken"
            );
        }
        let (size, crc, items) = writer.finish()?;
        Ok(FileEntry {
            name: TITLES_FILE.to_string(),
            size,
            crc32: crc,
            items,
        })
    }

    fn write_ids(&mut self) -> Result<FileEntry> {
        let sorter = std::mem::replace(&mut self.ids, Sorter::new(&self.spill_dir, "ids-done", 1));
        let mut merge = sorter.finish()?;
        self.spill_runs += merge.n_runs();
        let path = self.build_dir.join(IDS_FILE);
        let mut writer = TableWriter::create(&path, FileKind::Ids)?;
        while let Some((id, _seq, shard, ordinal, n_sentences, n_links)) = merge.next_item()? {
            writer.push(
                &path,
                &IdRow {
                    id,
                    shard,
                    ordinal,
                    n_sentences,
                    n_links,
                }
                .encode(),
            )?;
            while merge.next_if(|item| item.0 == id)?.is_some() {
                self.counts.duplicate_ids += 1;
            }
        }
        if self.counts.duplicate_ids > 0 {
            warn!(
                duplicates = self.counts.duplicate_ids,
                "articles dropped for a repeated id"
            );
        }
        let (size, crc, items) = writer.finish(&path)?;
        self.counts.articles = items;
        Ok(FileEntry {
            name: IDS_FILE.to_string(),
            size,
            crc32: crc,
            items,
        })
    }

    /// Resolves redirects (following chains), writes `redirects.fst` and `redirects-in.lex`.
    fn write_redirects(&mut self, titles: &Lexicon) -> Result<(FileEntry, FileEntry)> {
        // Pass 1: the raw redirect table (first redirect per key wins), as a
        // lexicon in the spill directory so chains can be followed by lookup.
        let sorter = std::mem::replace(
            &mut self.redirects,
            Sorter::new(&self.spill_dir, "redirects-done", 1),
        );
        let mut merge = sorter.finish()?;
        self.spill_runs += merge.n_runs();
        let raw_path = self.spill_dir.join("redirects-raw.lex");
        let mut raw = LexiconWriter::create(&raw_path, FileKind::Redirects)?;
        let mut payload = Vec::new();
        while let Some((from_key, _seq, from_title, to_key)) = merge.next_item()? {
            while merge.next_if(|item| item.0 == from_key)?.is_some() {}
            payload.clear();
            put_str(&mut payload, &to_key);
            put_str(&mut payload, &from_title);
            raw.insert_list(from_key.as_bytes(), &payload)?;
        }
        drop(merge);
        raw.finish()?;
        let raw = Lexicon::open(open(&raw_path, Access::Mmap)?, FileKind::Redirects, None)?;

        // Pass 2: resolve each redirect in key order.
        let path = self.build_dir.join(REDIRECTS_FILE);
        let mut writer = LexiconWriter::create(&path, FileKind::Redirects)?;
        let mut incoming: Sorter<(u64, String)> =
            Sorter::new(&self.spill_dir, "redirects-in", self.sorter_budget);
        let mut stream = raw.map().stream();
        while let Some((from_key, offset)) = fst::Streamer::next(&mut stream) {
            let (to_key, from_title) = decode_redirect(&raw, offset)?;
            if titles.map().get(from_key).is_some() {
                self.counts.redirects_shadowed += 1;
                continue;
            }
            match resolve_chain(titles, &raw, &to_key, self.options.max_redirect_hops)? {
                Some(id) => {
                    writer.insert(from_key, id)?;
                    self.counts.redirects += 1;
                    let bytes = from_title.len();
                    incoming.push((id, from_title), bytes)?;
                }
                None => self.counts.redirects_dropped += 1,
            }
        }
        if self.counts.redirects_dropped > 0 {
            info!(
                dropped = self.counts.redirects_dropped,
                "redirects to missing pages dropped"
            );
        }
        let (size, crc, items) = writer.finish()?;
        let redirects_entry = FileEntry {
            name: REDIRECTS_FILE.to_string(),
            size,
            crc32: crc,
            items,
        };

        let path = self.build_dir.join(REDIRECTS_IN_FILE);
        let mut writer = LexiconWriter::create(&path, FileKind::RedirectsIn)?;
        let mut merge = incoming.finish()?;
        self.spill_runs += merge.n_runs();
        // Each id's titles are encoded as they come off the merge; only the
        // encoded list of one article is held.
        let mut titles_bytes = Vec::new();
        while let Some((id, title)) = merge.next_item()? {
            titles_bytes.clear();
            put_str(&mut titles_bytes, &title);
            let mut n = 1u64;
            while let Some((_, title)) = merge.next_if(|item| item.0 == id)? {
                put_str(&mut titles_bytes, &title);
                n += 1;
            }
            payload.clear();
            put_varint(&mut payload, n);
            payload.extend_from_slice(&titles_bytes);
            writer.insert_list(&id.to_be_bytes(), &payload)?;
        }
        let (size, crc, items) = writer.finish()?;
        Ok((
            redirects_entry,
            FileEntry {
                name: REDIRECTS_IN_FILE.to_string(),
                size,
                crc32: crc,
                items,
            },
        ))
    }

    /// Resolves link targets; writes `inlinks.tbl` and `aliases.lex`.
    fn write_links(
        &mut self,
        titles: &Lexicon,
        redirects: &Lexicon,
    ) -> Result<(FileEntry, FileEntry)> {
        let resolve = |key: &str| titles.map().get(key).or_else(|| redirects.map().get(key));
        let max_tokens = self.options.max_mention_len as usize;
        let alias_ok = |alias: &str| !alias.is_empty() && alias.split(' ').count() <= max_tokens;

        // (target, source) pairs for in-links and (alias, target) for aliases,
        // one per resolved link and one per title or redirect key.
        let mut pairs: Sorter<(u64, u64)> =
            Sorter::new(&self.spill_dir, "inlinks", self.sorter_budget);
        let mut alias_links: Sorter<(String, u64)> =
            Sorter::new(&self.spill_dir, "aliases", self.sorter_budget);
        let anchors = self
            .anchors
            .take()
            .ok_or_else(|| Error::invalid("anchor spill already consumed"))?;
        let mut reader = anchors.into_reader()?;
        let mut names_log: Log<Vec<String>> =
            Log::create(self.spill_dir.join("article-anchors.log"))?;
        while let Some((source, anchors)) = reader.next_item()? {
            let mut names = Vec::new();
            for (anchor, target_key) in anchors {
                let Some(target) = resolve(&target_key) else {
                    continue;
                };
                self.counts.links_resolved += 1;
                pairs.push((target, source), 0)?;
                if alias_ok(&anchor) {
                    names.push(anchor.clone());
                    let bytes = anchor.len();
                    alias_links.push((anchor, target), bytes)?;
                }
            }
            names.sort();
            names.dedup();
            names_log.push(&names)?;
        }
        drop(reader);
        for lexicon in [titles, redirects] {
            let mut stream = lexicon.map().stream();
            while let Some((key, id)) = fst::Streamer::next(&mut stream) {
                let key = String::from_utf8_lossy(key).into_owned();
                if alias_ok(&key) {
                    let bytes = key.len();
                    alias_links.push((key, id), bytes)?;
                }
            }
        }

        let inlinks_entry = self.write_inlinks(pairs)?;

        // Group alias links into candidates, streaming: the links of one alias
        // arrive sorted by target, so each (alias, target) count is a run
        // length; the prior filter is applied as soon as the alias ends (and
        // along the way, since a candidate below the threshold for the total
        // so far stays below it), so at most about 1 / min_prior_prob
        // candidates are held. The kept groups go to a log in alias order,
        // with a temporary alias -> ordinal fst for the occurrence pass.
        let min_prior = self.options.min_prior_prob;
        let below_prior = |count: u64, total: u64| (count as f64 / total as f64) < min_prior;
        let mut groups: Log<AliasGroup> = Log::create(self.spill_dir.join("alias-groups.log"))?;
        let set_path = self.spill_dir.join("alias-set.lex");
        let mut set = LexiconWriter::create(&set_path, FileKind::Aliases)?;
        let mut merge = alias_links.finish()?;
        self.spill_runs += merge.n_runs();
        let mut n_groups = 0u64;
        let mut candidates: Vec<(u64, u64)> = Vec::new();
        while let Some((alias, first_target)) = merge.next_item()? {
            candidates.clear();
            let mut total = 0u64;
            let mut prune_at = PRUNE_MIN;
            let mut next_target = Some(first_target);
            while let Some(target) = next_target {
                let mut count = 1u64;
                while merge
                    .next_if(|next| next.1 == target && next.0 == alias)?
                    .is_some()
                {
                    count += 1;
                }
                total += count;
                candidates.push((target, count));
                if candidates.len() >= prune_at {
                    candidates.retain(|&(_, count)| !below_prior(count, total));
                    prune_at = (2 * candidates.len()).max(PRUNE_MIN);
                }
                next_target = merge.next_if(|next| next.0 == alias)?.map(|(_, t)| t);
            }
            candidates.retain(|&(_, count)| !below_prior(count, total));
            if candidates.is_empty() {
                continue;
            }
            candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            set.insert(alias.as_bytes(), n_groups)?;
            groups.push_as(&(&alias, total, &candidates))?;
            n_groups += 1;
        }
        drop(merge);
        set.finish()?;
        let set = Lexicon::open(open(&set_path, Access::Mmap)?, FileKind::Aliases, None)?;

        // Occurrences: in how many articles each alias appears at all (as an
        // anchor or in the text), and in how many as an anchor; one
        // (ordinal, anchored) item per article and alias.
        let mut occurrences: Sorter<(u64, bool)> =
            Sorter::new(&self.spill_dir, "occurrences", self.sorter_budget);
        let texts = self
            .texts
            .take()
            .ok_or_else(|| Error::invalid("text spill already consumed"))?;
        let mut texts = texts.into_reader()?;
        let mut anchor_names = names_log.into_reader()?;
        // Articles are read in chunks of about OCCURRENCE_CHUNK_BYTES of text,
        // each chunk scanned by `threads` threads; the items are sorted by the
        // sorter, so the split does not change the output.
        let mut chunk: Vec<(FoldedWords, Vec<String>)> = Vec::new();
        // One memo of first-token walks per scanning thread, kept across chunks.
        let mut memos: Vec<TokenMemo> = (0..self.threads.max(1))
            .map(|_| TokenMemo::default())
            .collect();
        let mut chunk_bytes = 0usize;
        loop {
            let next = texts.next_item()?;
            let at_end = next.is_none();
            if let Some(sentences) = next {
                let names = anchor_names.next_item()?.ok_or_else(|| {
                    Error::corrupt(&self.spill_dir, "anchor and text spills out of step")
                })?;
                chunk_bytes += sentences.words.len() + sentences.sequence.len();
                chunk.push((sentences, names));
            }
            if chunk_bytes >= OCCURRENCE_CHUNK_BYTES || (at_end && !chunk.is_empty()) {
                for item in chunk_occurrences(&chunk, set.map(), max_tokens, &mut memos) {
                    occurrences.push(item, 0)?;
                }
                chunk.clear();
                chunk_bytes = 0;
            }
            if at_end {
                break;
            }
        }
        drop((texts, anchor_names));
        let mut occurrences = occurrences.finish()?;
        self.spill_runs += occurrences.n_runs();

        let path = self.build_dir.join(ALIASES_FILE);
        let mut writer = LexiconWriter::create(&path, FileKind::Aliases)?;
        let mut groups = groups.into_reader()?;
        let mut payload = Vec::new();
        let mut ordinal = 0u64;
        while let Some((alias, total, candidates)) = groups.next_item()? {
            let (mut docs, mut anchor_docs) = (0u64, 0u64);
            while occurrences.next_if(|&(o, _)| o < ordinal)?.is_some() {}
            while let Some((_, anchored)) = occurrences.next_if(|&(o, _)| o == ordinal)? {
                docs += 1;
                anchor_docs += u64::from(anchored);
            }
            ordinal += 1;
            payload.clear();
            put_varint(&mut payload, total);
            put_varint(&mut payload, anchor_docs);
            put_varint(&mut payload, docs.max(anchor_docs));
            put_varint(&mut payload, candidates.len() as u64);
            for (id, count) in candidates {
                put_varint(&mut payload, id);
                put_varint(&mut payload, count);
            }
            writer.insert_list(alias.as_bytes(), &payload)?;
        }
        debug_assert_eq!(ordinal, n_groups);
        self.counts.aliases = writer.len();
        let (size, crc, items) = writer.finish()?;
        Ok((
            inlinks_entry,
            FileEntry {
                name: ALIASES_FILE.to_string(),
                size,
                crc32: crc,
                items,
            },
        ))
    }

    fn write_inlinks(&mut self, pairs: Sorter<(u64, u64)>) -> Result<FileEntry> {
        let ids = Table::open(
            open(&self.build_dir.join(IDS_FILE), Access::Mmap)?,
            FileKind::Ids,
            ID_ROW_LEN,
            None,
        )?;
        let path = self.build_dir.join(INLINKS_FILE);
        let mut writer = TableWriter::create(&path, FileKind::Inlinks)?;
        let mut merge = pairs.finish()?;
        self.spill_runs += merge.n_runs();
        for row in 0..ids.len() {
            let id = ids.id_row(row).id;
            while merge.next_if(|&(target, _)| target < id)?.is_some() {}
            let mut count = 0u32;
            let mut last_source = None;
            while let Some((_, source)) = merge.next_if(|&(target, _)| target == id)? {
                if last_source != Some(source) {
                    count = count.saturating_add(1);
                    last_source = Some(source);
                }
            }
            writer.push(&path, &count.to_le_bytes())?;
        }
        let (size, crc, items) = writer.finish(&path)?;
        Ok(FileEntry {
            name: INLINKS_FILE.to_string(),
            size,
            crc32: crc,
            items,
        })
    }
}

impl Drop for IndexWriter {
    fn drop(&mut self) {
        if !self.finished && self.build_dir.exists() {
            // An unfinished build never becomes an index: remove what was written.
            if let Err(e) = std::fs::remove_dir_all(&self.build_dir) {
                warn!(build = %self.build_dir.display(), error = %e, "could not remove an unfinished build directory");
            }
        }
    }
}

/// Replaces the placeholder path of an error raised deep in a writer with `path`.
/// What writing `terms.lex` gives: its entry and its counts.
struct TermsWritten {
    entry: FileEntry,
    terms: u64,
    postings: u64,
    spill_runs: u64,
}

/// Writes `terms.lex` into `build_dir` from the postings buffer (`ids.tbl`
/// must be written).
fn write_terms(
    buffer: PostingsBuffer,
    build_dir: &Path,
    zstd_level: i32,
    term_block_size: usize,
) -> Result<TermsWritten> {
    // Runs spilled because the budget was reached (the last one is not).
    let spill_runs = buffer.n_runs() as u64;
    let mut merge = buffer.finish()?;
    let path = build_dir.join(TERMS_FILE);
    let mut writer = TermsWriter::create(&path, zstd_level, term_block_size)?;
    // Postings stream straight from the merge into the file: nothing is
    // held per term, so a term in every sentence costs no memory. Each
    // article is written as its row in `ids.tbl` (dense, so the gaps are
    // small), found by galloping from the term's previous row.
    let ids_path = build_dir.join(IDS_FILE);
    let ids = Table::open(
        open(&ids_path, Access::Mmap)?,
        FileKind::Ids,
        ID_ROW_LEN,
        None,
    )?;
    while let Some(stem) = merge.next_term()? {
        writer.start_term(&stem)?;
        let mut from = 0;
        while let Some((id, sentences)) = merge.next_posting()? {
            let row = ids.find_id_from(id, from).ok_or_else(|| {
                Error::corrupt(&ids_path, format!("no row for article {id} of a posting"))
            })?;
            writer.add(row as u64, sentences)?;
            from = row + 1;
        }
    }
    let (terms, postings) = (writer.n_terms(), writer.n_postings());
    let (size, crc, items) = writer.finish()?;
    Ok(TermsWritten {
        entry: FileEntry {
            name: TERMS_FILE.to_string(),
            size,
            crc32: crc,
            items,
        },
        terms,
        postings,
        spill_runs,
    })
}

fn with_path(error: Error, path: &Path) -> Error {
    match error {
        Error::Io { source, .. } => Error::io(path, source),
        Error::Corrupt { reason, .. } => Error::corrupt(path, reason),
        other => other,
    }
}

/// The (alias ordinal, anchored) items of a chunk of articles, each article's
/// `(folded sentences, anchor names)`, scanned by a thread per memo.
fn chunk_occurrences(
    chunk: &[(FoldedWords, Vec<String>)],
    set: &fst::Map<Bytes>,
    max_tokens: usize,
    memos: &mut [TokenMemo],
) -> Vec<(u64, bool)> {
    let per_thread = chunk.len().div_ceil(memos.len().max(1)).max(1);
    let scan = |part: &[(FoldedWords, Vec<String>)], memo: &mut TokenMemo| {
        part.iter()
            .flat_map(|(sentences, names)| {
                article_occurrences(sentences, names, set, max_tokens, memo)
            })
            .collect::<Vec<_>>()
    };
    if chunk.len() <= per_thread || memos.len() < 2 {
        return match memos.first_mut() {
            Some(memo) => scan(chunk, memo),
            None => scan(chunk, &mut TokenMemo::default()),
        };
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunk
            .chunks(per_thread)
            .zip(memos.iter_mut())
            .map(|(part, memo)| scope.spawn(move || scan(part, memo)))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Tokens already walked from the alias set's root, with where they led:
/// each distinct token is walked once (until the memo is full and starts
/// over, which bounds its memory).
struct TokenMemo {
    tokens: Interner,
    states: Vec<Option<TokenState>>,
}

impl Default for TokenMemo {
    fn default() -> TokenMemo {
        TokenMemo {
            tokens: Interner::new(1 << 12),
            states: Vec::new(),
        }
    }
}

/// Most tokens a [`TokenMemo`] holds before it starts over.
const TOKEN_MEMO_CAPACITY: usize = 1 << 20;

impl TokenMemo {
    /// Appends to `out` each of `tokens` with where its walk from the root
    /// of `set` ends; `slots` is scratch space.
    fn scan_tokens<'t>(
        &mut self,
        set: &fst::Map<Bytes>,
        tokens: &[&'t str],
        slots: &mut Vec<u32>,
        out: &mut Vec<ScanToken<'t>>,
    ) {
        slots.clear();
        let states = &mut self.states;
        self.tokens.intern_each(
            tokens.len(),
            |i| tokens[i],
            |i, slot, new| {
                if new {
                    states.push(walk_first_token(set, tokens[i].as_bytes()));
                }
                slots.push(slot);
            },
        );
        // Independent loads, so their cache misses overlap.
        out.extend(
            tokens
                .iter()
                .zip(slots.iter())
                .map(|(token, &slot)| ScanToken {
                    bytes: token.as_bytes(),
                    state: self.states[slot as usize],
                }),
        );
    }

    /// Starts over if full (between articles).
    fn bound(&mut self) {
        if self.states.len() >= TOKEN_MEMO_CAPACITY {
            self.tokens.clear();
            self.states.clear();
        }
    }
}

/// A token of a folded sentence and where its walk from the alias set's
/// root ended (None: no alias starts with it).
#[derive(Clone, Copy)]
struct ScanToken<'t> {
    bytes: &'t [u8],
    state: Option<TokenState>,
}

impl AsRef<[u8]> for ScanToken<'_> {
    fn as_ref(&self) -> &[u8] {
        self.bytes
    }
}

/// One article's (alias ordinal, anchored) items: every alias of `set` found
/// as a token n-gram of its sentences or among its anchor names, once,
/// anchored if any occurrence was an anchor.
///
/// Each word of the article's table is split into tokens and looked up in
/// `memo` once; a sentence is then a run of those tokens, copied by index.
fn article_occurrences<'t>(
    sentences: &'t FoldedWords,
    names: &[String],
    set: &fst::Map<Bytes>,
    max_tokens: usize,
    memo: &mut TokenMemo,
) -> Vec<(u64, bool)> {
    memo.bound();
    let mut found: Vec<(u64, bool)> = Vec::new();
    // The log is written by this writer; a damaged one gives no matches
    // rather than a panic (`get` and `unwrap_or_default` below).
    let mut texts: Vec<&'t str> = Vec::new();
    let mut word_pieces: Vec<(u32, u32)> = Vec::with_capacity(sentences.word_ends.len());
    let mut start = 0usize;
    for &end in &sentences.word_ends {
        let word = sentences.words.get(start..end as usize).unwrap_or_default();
        start = end as usize;
        let first = texts.len() as u32;
        // `split(' ')` by hand: most words have no space, and a byte loop
        // finds that faster than the general searcher.
        let mut piece = 0;
        for (i, &byte) in word.as_bytes().iter().enumerate() {
            if byte == b' ' {
                texts.push(word.get(piece..i).unwrap_or_default());
                piece = i + 1;
            }
        }
        texts.push(word.get(piece..).unwrap_or_default());
        word_pieces.push((first, texts.len() as u32));
    }
    let mut pieces: Vec<ScanToken<'t>> = Vec::with_capacity(texts.len());
    memo.scan_tokens(set, &texts, &mut Vec::new(), &mut pieces);
    // One token buffer for all the sentences; matches go straight to `found`.
    let mut tokens: Vec<ScanToken<'t>> = Vec::new();
    let mut sequence = sentences.sequence.iter();
    let mut from = 0u32;
    for &to in &sentences.sentence_ends {
        tokens.clear();
        for _ in from..to {
            let mut word = 0u64;
            for shift in (0..64).step_by(7) {
                let Some(&byte) = sequence.next() else { break };
                word |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            if let Some(&(a, b)) = usize::try_from(word)
                .ok()
                .and_then(|word| word_pieces.get(word))
            {
                tokens.extend_from_slice(&pieces[a as usize..b as usize]);
            }
        }
        from = to.max(from);
        for (start, token) in tokens.iter().enumerate() {
            if let Some(state) = token.state {
                continue_token_prefix_match(
                    set,
                    &tokens,
                    start,
                    max_tokens,
                    state,
                    |_, ordinal| {
                        found.push((ordinal, false));
                    },
                );
            }
        }
    }
    found.extend(
        names
            .iter()
            .filter_map(|name| set.get(name))
            .map(|ordinal| (ordinal, true)),
    );
    found.sort_unstable();
    found.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 |= later.1;
        }
        same
    });
    found
}

/// Errors unless `len` is 0 or `n_sentences`.
fn check_len(id: u64, name: &str, len: usize, n_sentences: usize) -> Result<()> {
    if len != 0 && len != n_sentences {
        return Err(Error::invalid(format!(
            "article {id}: {name} has {len} entries for {n_sentences} sentences"
        )));
    }
    Ok(())
}

/// Appends a length-prefixed string.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn decode_redirect(raw: &Lexicon, offset: u64) -> Result<(String, String)> {
    let list = raw.list(offset)?;
    let mut reader = crate::footer::LeReader::new(&list, raw.path());
    let to_key = crate::index::read_str(&mut reader)?;
    let from_title = crate::index::read_str(&mut reader)?;
    Ok((to_key, from_title))
}

/// Follows `to_key` through the raw redirect table until it names an article.
fn resolve_chain(
    titles: &Lexicon,
    raw: &Lexicon,
    to_key: &str,
    max_hops: u32,
) -> Result<Option<u64>> {
    let mut key = to_key.to_string();
    for hop in 0..=max_hops {
        if let Some(id) = titles.map().get(&key) {
            return Ok(Some(id));
        }
        if hop == max_hops {
            break;
        }
        match raw.map().get(&key) {
            Some(offset) => key = decode_redirect(raw, offset)?.0,
            None => break,
        }
    }
    Ok(None)
}

/// Trains a dictionary on `records` and measures it on the blocks the shard
/// writer would cut from them; keeps it if it saves enough. `dir` names the
/// build in errors.
fn train_dictionary(
    records: &[PendingRecord],
    level: i32,
    block_size: usize,
    dir: &Path,
) -> Result<DictChoice> {
    let samples: Vec<&[u8]> = records.iter().map(|r| r.encoded.as_slice()).collect();
    let dict = match crate::block::train_dictionary(&samples, DICT_SIZE, level) {
        Ok(dict) => dict,
        Err(e) => {
            debug!(error = %e, "dictionary training failed; no dictionary");
            return Ok(None);
        }
    };
    // Measure on the blocks the shard writer would cut: on every
    // MEASURE_EVERY-th of them, which decides as well as all of them at a
    // fraction of the cost (the saving is a ratio of sizes).
    let io = |e| Error::io(dir, e);
    let mut plain = crate::block::Compressor::new(level, None).map_err(io)?;
    let mut with_dict = crate::block::Compressor::new(level, Some(&dict)).map_err(io)?;
    let (mut plain_bytes, mut dict_bytes) = (0u64, 0u64);
    let mut measure = |block: &[u8], n: usize| -> Result<()> {
        if n.is_multiple_of(DICT_MEASURE_EVERY) {
            plain_bytes += plain.compress(block).map_err(io)?.len() as u64;
            dict_bytes += with_dict.compress(block).map_err(io)?.len() as u64;
        }
        Ok(())
    };
    let mut block = Vec::new();
    let mut n_blocks = 0usize;
    for (i, record) in records.iter().enumerate() {
        if !block.is_empty() && block.len() + record.encoded.len() > block_size {
            measure(&block, n_blocks)?;
            n_blocks += 1;
            block.clear();
        }
        block.extend_from_slice(&record.encoded);
        if i + 1 == records.len() {
            measure(&block, n_blocks)?;
        }
    }
    let saving = (plain_bytes.saturating_sub(dict_bytes) * 1000)
        .checked_div(plain_bytes)
        .unwrap_or(0) as u32;
    info!(
        plain_bytes,
        dict_bytes,
        saving_per_mille = saving,
        "dictionary measured"
    );
    if saving < DICT_MIN_SAVING_PER_MILLE {
        return Ok(None);
    }
    let id = crc32(&dict) | 1;
    Ok(Some((dict, id, saving)))
}
