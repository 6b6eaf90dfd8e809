//! [`Index`]: the lazy reader of an index directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use fst::{IntoStreamer, Streamer};
use zstd::dict::DecoderDictionary;

use crate::cache::ClockCache;
use crate::error::{Error, Result};
use crate::footer::{FileKind, LeReader, check_frame, verify_crc};
use crate::lexicon::{Lexicon, token_prefix_matches};
use crate::manifest::{FileEntry, Manifest};
use crate::record::ArticleRecord;
use crate::shard::Shard;
use crate::storage::{Access, Storage, open};
use crate::table::{ID_ROW_LEN, Table};
use crate::terms::Terms;
use crate::writer::{
    ALIASES_FILE, DICTIONARY_FILE, IDS_FILE, INLINKS_FILE, REDIRECTS_FILE, REDIRECTS_IN_FILE,
    TERMS_FILE, TITLES_FILE,
};

/// How to open an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    /// Memory-map files (default); `false` reads with `pread`, for filesystems
    /// where mmap is unsafe (files changed underneath) or slow.
    pub mmap: bool,
    /// How many decoded articles to keep in memory (default 10,000; 0 disables the cache).
    pub cache_capacity: usize,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions {
            mmap: true,
            cache_capacity: 10_000,
        }
    }
}

/// Which articles [`Index::random`] may pick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RandomFilter {
    /// At least this many sentences.
    pub min_sentences: u32,
    /// At least this many in-links.
    pub min_inlinks: u32,
    /// At most this many in-links, if set.
    pub max_inlinks: Option<u32>,
}

/// A full-text search hit.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Hit {
    /// The article.
    pub id: u64,
    /// The ordinal (in [`ArticleRecord::sentences`] order) of the sentence holding
    /// the most query terms (the first such sentence on ties).
    pub sentence: u32,
    /// The ranking score (higher is better); see [`Index::search`].
    pub score: f32,
}

/// An entity an alias may refer to.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Candidate {
    /// The article.
    pub id: u64,
    /// Links with this alias as anchor text pointing at the article (a title or
    /// redirect naming the article counts as one).
    pub count: u64,
    /// `count` over the alias's total count over all candidates.
    pub prior: f32,
    /// The alias's link probability (the same for all its candidates): articles
    /// where the text is a link anchor / articles where it occurs at all.
    pub link_prob: f32,
}

/// A linked span of tokens.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Mention {
    /// First token of the span.
    pub start_token: usize,
    /// One past the last token.
    pub end_token: usize,
    /// The span's link probability.
    pub link_prob: f32,
    /// Candidates, most probable (by prior) first.
    pub candidates: Vec<Candidate>,
}

/// What [`Index::verify`] checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Files whose every checksum matched.
    pub files: usize,
    /// Bytes hashed.
    pub bytes: u64,
}

/// Counters of a reader.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Articles in the index.
    pub articles: u64,
    /// Shards in the index.
    pub shards: usize,
    /// Shards opened so far.
    pub shards_open: usize,
    /// Decoded articles in the cache.
    pub cache_entries: usize,
    /// The cache's bound.
    pub cache_capacity: usize,
    /// Article reads served from the cache.
    pub cache_hits: u64,
    /// Article reads that decoded a record.
    pub cache_misses: u64,
}

type Dictionary = Option<(u32, Arc<DecoderDictionary<'static>>)>;

/// An open index directory; `Send + Sync`, meant to be shared in an `Arc`.
///
/// Opening reads only `manifest.json`. Every other file is opened (mapped, or
/// read for its small parts in pread mode) the first time a query needs it:
/// lexicons check the CRC of their fst section, tables and the dictionary
/// check their whole CRC, shards check their meta section, and every record
/// read checks its block's CRC. [`Index::verify`] hashes everything.
pub struct Index {
    dir: PathBuf,
    manifest: Manifest,
    access: Access,
    cache: ClockCache<Arc<ArticleRecord>>,
    shards: Vec<OnceLock<Arc<Shard>>>,
    dictionary: OnceLock<Dictionary>,
    titles: OnceLock<Lexicon>,
    redirects: OnceLock<Lexicon>,
    redirects_in: OnceLock<Lexicon>,
    aliases: OnceLock<Lexicon>,
    terms: OnceLock<Terms>,
    ids: OnceLock<Table>,
    inlinks: OnceLock<Table>,
    shards_open: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("dir", &self.dir)
            .field("shards", &self.shards.len())
            .field("access", &self.access)
            .finish()
    }
}

/// Initialises a `OnceLock` with a fallible function (a lost race drops the loser's value).
fn lazy<T>(cell: &OnceLock<T>, init: impl FnOnce() -> Result<T>) -> Result<&T> {
    if let Some(value) = cell.get() {
        return Ok(value);
    }
    let value = init()?;
    Ok(cell.get_or_init(|| value))
}

impl Index {
    /// Opens the index at `dir` with default options (mmap, 10,000 cached articles).
    pub fn open(dir: impl AsRef<Path>) -> Result<Index> {
        Index::open_with(dir, OpenOptions::default())
    }

    /// Opens the index at `dir`. Reads only `manifest.json`; errors if it is
    /// missing (an unfinished build), unreadable or of another format version.
    pub fn open_with(dir: impl AsRef<Path>, options: OpenOptions) -> Result<Index> {
        let dir = dir.as_ref().to_path_buf();
        let manifest = Manifest::read(&dir)?;
        let shards = (0..manifest.shards.len())
            .map(|_| OnceLock::new())
            .collect();
        Ok(Index {
            dir,
            manifest,
            access: if options.mmap {
                Access::Mmap
            } else {
                Access::Pread
            },
            cache: ClockCache::new(options.cache_capacity),
            shards,
            dictionary: OnceLock::new(),
            titles: OnceLock::new(),
            redirects: OnceLock::new(),
            redirects_in: OnceLock::new(),
            aliases: OnceLock::new(),
            terms: OnceLock::new(),
            ids: OnceLock::new(),
            inlinks: OnceLock::new(),
            shards_open: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn global_entry(&self, name: &str) -> Result<&FileEntry> {
        self.manifest.file(name).ok_or_else(|| {
            Error::corrupt(
                self.dir.join(crate::manifest::MANIFEST_FILE),
                format!("manifest lists no {name}"),
            )
        })
    }

    /// Opens a file the manifest lists, checking its size against the manifest.
    fn open_file(&self, entry: &FileEntry) -> Result<Arc<dyn Storage>> {
        let path = self.dir.join(&entry.name);
        let storage = open(&path, self.access)?;
        if storage.len() != entry.size {
            return Err(Error::corrupt(
                &path,
                format!(
                    "file is {} bytes, the manifest says {}",
                    storage.len(),
                    entry.size
                ),
            ));
        }
        Ok(storage)
    }

    fn lexicon<'a>(
        &'a self,
        cell: &'a OnceLock<Lexicon>,
        name: &str,
        kind: FileKind,
    ) -> Result<&'a Lexicon> {
        lazy(cell, || {
            let entry = self.global_entry(name)?;
            Lexicon::open(self.open_file(entry)?, kind, Some(entry.crc32))
        })
    }

    fn table<'a>(
        &'a self,
        cell: &'a OnceLock<Table>,
        name: &str,
        kind: FileKind,
        row_len: usize,
    ) -> Result<&'a Table> {
        lazy(cell, || {
            let entry = self.global_entry(name)?;
            Table::open(self.open_file(entry)?, kind, row_len, Some(entry.crc32))
        })
    }

    fn titles(&self) -> Result<&Lexicon> {
        self.lexicon(&self.titles, TITLES_FILE, FileKind::Titles)
    }

    fn redirects(&self) -> Result<&Lexicon> {
        self.lexicon(&self.redirects, REDIRECTS_FILE, FileKind::Redirects)
    }

    fn ids(&self) -> Result<&Table> {
        self.table(&self.ids, IDS_FILE, FileKind::Ids, ID_ROW_LEN)
    }

    fn inlinks_table(&self) -> Result<&Table> {
        let table = self.table(&self.inlinks, INLINKS_FILE, FileKind::Inlinks, 4)?;
        if table.len() != self.ids()?.len() {
            return Err(Error::corrupt(
                table.path(),
                "in-link table and id table differ in length",
            ));
        }
        Ok(table)
    }

    fn dictionary(&self) -> Result<&Dictionary> {
        lazy(&self.dictionary, || {
            let Some(dict) = &self.manifest.dictionary else {
                return Ok(None);
            };
            let storage = self.open_file(&dict.file)?;
            let frame = check_frame(&*storage, FileKind::Dictionary, Some(dict.file.crc32))?;
            verify_crc(&*storage, &frame)?;
            let bytes = storage.read(frame.body_start, frame.body_end - frame.body_start)?;
            Ok(Some((dict.id, Arc::new(DecoderDictionary::copy(&bytes)))))
        })
    }

    fn shard(&self, n: u32) -> Result<&Arc<Shard>> {
        let Some(cell) = self.shards.get(n as usize) else {
            return Err(Error::corrupt(
                self.dir.join(IDS_FILE),
                format!("points at shard {n}, but there are {}", self.shards.len()),
            ));
        };
        lazy(cell, || {
            let entry = &self.manifest.shards[n as usize];
            let storage = self.open_file(entry)?;
            let shard = Shard::open(storage, Some(entry.crc32), self.dictionary()?.clone())?;
            self.shards_open.fetch_add(1, Ordering::Relaxed);
            Ok(Arc::new(shard))
        })
    }

    /// Returns the article with page id `id`, decoding it through the cache.
    pub fn article(&self, id: u64) -> Result<Option<Arc<ArticleRecord>>> {
        if let Some(article) = self.cache.get(id) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(article));
        }
        let ids = self.ids()?;
        let Some(row) = ids.find_id(id) else {
            return Ok(None);
        };
        let row = ids.id_row(row);
        let shard = self.shard(row.shard)?;
        let record = shard.record(row.ordinal)?;
        if record.id != id {
            return Err(Error::corrupt(
                shard.path(),
                format!(
                    "record {} holds article {}, the id table expects {id}",
                    row.ordinal, record.id
                ),
            ));
        }
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
        let record = Arc::new(record);
        self.cache.insert(id, Arc::clone(&record));
        Ok(Some(record))
    }

    /// Looks up an exact folded title; falls back to the redirects (the
    /// redirect's target is returned).
    pub fn title(&self, key: &str) -> Result<Option<u64>> {
        if let Some(id) = self.titles()?.map().get(key) {
            return Ok(Some(id));
        }
        Ok(self.redirects()?.map().get(key))
    }

    /// Titles and redirects within `distance` (0 to 2) edits of `key` (Unicode
    /// scalar values), one entry per article with its closest key, sorted by
    /// distance, then in-links (descending), then key.
    pub fn fuzzy(&self, key: &str, distance: u32, limit: usize) -> Result<Vec<(String, u64, u32)>> {
        if distance > 2 {
            return Err(Error::invalid(format!(
                "fuzzy distance {distance} is above 2"
            )));
        }
        let automaton = fst::automaton::Levenshtein::new(key, distance)
            .map_err(|e| Error::invalid(format!("fuzzy query {key:?}: {e}")))?;
        let mut best: std::collections::BTreeMap<u64, (u32, String)> =
            std::collections::BTreeMap::new();
        for lexicon in [self.titles()?, self.redirects()?] {
            let mut stream = lexicon.map().search(&automaton).into_stream();
            while let Some((found, id)) = stream.next() {
                let found = String::from_utf8_lossy(found).into_owned();
                let d = edit_distance(key, &found);
                match best.get(&id) {
                    Some((have, _)) if *have <= d => {}
                    _ => {
                        best.insert(id, (d, found));
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(best.len());
        for (id, (d, found)) in best {
            out.push((found, id, d, self.inlinks(id)?));
        }
        out.sort_by(|a, b| {
            a.2.cmp(&b.2)
                .then(b.3.cmp(&a.3))
                .then_with(|| a.0.cmp(&b.0))
        });
        Ok(out
            .into_iter()
            .take(limit)
            .map(|(k, id, d, _)| (k, id, d))
            .collect())
    }

    /// Titles starting with `key`, in key order.
    pub fn prefix(&self, key: &str, limit: usize) -> Result<Vec<(String, u64)>> {
        let automaton = fst::automaton::Str::new(key);
        let mut stream = self
            .titles()?
            .map()
            .search(fst::Automaton::starts_with(automaton))
            .into_stream();
        let mut out = Vec::new();
        while out.len() < limit {
            let Some((found, id)) = stream.next() else {
                break;
            };
            out.push((String::from_utf8_lossy(found).into_owned(), id));
        }
        Ok(out)
    }

    /// The titles (as written) of the redirects that resolve to `id`, sorted.
    pub fn redirects_to(&self, id: u64) -> Result<Vec<String>> {
        let lexicon = self.lexicon(&self.redirects_in, REDIRECTS_IN_FILE, FileKind::RedirectsIn)?;
        let Some(offset) = lexicon.map().get(id.to_be_bytes()) else {
            return Ok(Vec::new());
        };
        let list = lexicon.list(offset)?;
        let mut reader = LeReader::new(&list, lexicon.path());
        let n = reader.varint()?;
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(read_str(&mut reader)?);
        }
        Ok(out)
    }

    /// How many distinct articles link to `id` (directly or through a redirect); 0 if unknown.
    pub fn inlinks(&self, id: u64) -> Result<u32> {
        let Some(row) = self.ids()?.find_id(id) else {
            return Ok(0);
        };
        Ok(self.inlinks_table()?.u32_row(row))
    }

    /// Picks an article matching `filter`, deterministically for a `seed`:
    /// up to 64 uniform probes, then a scan from a seeded position (so an
    /// article is found whenever one matches). `None` if none matches.
    pub fn random(&self, seed: u64, filter: &RandomFilter) -> Result<Option<u64>> {
        let ids = self.ids()?;
        let inlinks = self.inlinks_table()?;
        let n = ids.len();
        if n == 0 {
            return Ok(None);
        }
        let matches = |row: usize| {
            let id_row = ids.id_row(row);
            let links = inlinks.u32_row(row);
            id_row.n_sentences >= filter.min_sentences
                && links >= filter.min_inlinks
                && filter.max_inlinks.is_none_or(|max| links <= max)
        };
        let mut rng = SplitMix64(seed);
        for _ in 0..64 {
            let row = (rng.next() % n as u64) as usize;
            if matches(row) {
                return Ok(Some(ids.id_row(row).id));
            }
        }
        let start = (rng.next() % n as u64) as usize;
        Ok((0..n)
            .map(|i| (start + i) % n)
            .find(|&row| matches(row))
            .map(|row| ids.id_row(row).id))
    }

    /// Articles containing every one of `stems` (in any sentences), best first.
    ///
    /// Score: the sum over stems of `idf * tf * (k1 + 1) / (tf + k1)` with
    /// `k1 = 1.2`, `tf` the number of the article's sentences holding the stem
    /// and `idf = ln(1 + (N - df + 0.5) / (df + 0.5))`, plus `0.1 * ln(1 + in-links)`.
    /// Ties go to the smaller id.
    ///
    /// The index keeps which articles hold a stem, not which sentences: each
    /// hit's sentence is found by stemming its article's sentences again with
    /// `sentence_stems`, which must give a sentence's text the stems the
    /// index was built with.
    pub fn search(
        &self,
        stems: &[String],
        limit: usize,
        mut sentence_stems: impl FnMut(&str) -> Vec<String>,
    ) -> Result<Vec<Hit>> {
        let mut stems: Vec<&String> = stems.iter().collect();
        stems.sort();
        stems.dedup();
        if stems.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let terms = lazy(&self.terms, || {
            let entry = self.global_entry(TERMS_FILE)?;
            Terms::open(self.open_file(entry)?, Some(entry.crc32))
        })?;
        let mut lists = Vec::with_capacity(stems.len());
        for stem in &stems {
            match terms.postings(stem.as_bytes())? {
                Some(list) => lists.push(list),
                None => return Ok(Vec::new()),
            }
        }
        lists.sort_by_key(|list| list.len());
        let n_docs = self.manifest.counts.articles.max(1) as f64;
        let idfs: Vec<f64> = lists
            .iter()
            .map(|l| (1.0 + (n_docs - l.len() as f64 + 0.5) / (l.len() as f64 + 0.5)).ln())
            .collect();
        let (ids, inlinks) = (self.ids()?, self.inlinks_table()?);
        let mut cursors = vec![0usize; lists.len()];
        let mut hits = Vec::new();
        // Postings name articles by their row in `ids.tbl`.
        'candidates: for &(row, first_tf) in &lists[0] {
            let mut tfs: Vec<u32> = vec![first_tf];
            for (list, cursor) in lists.iter().zip(cursors.iter_mut()).skip(1) {
                while *cursor < list.len() && list[*cursor].0 < row {
                    *cursor += 1;
                }
                match list.get(*cursor) {
                    Some(&(other, tf)) if other == row => tfs.push(tf),
                    _ => continue 'candidates,
                }
            }
            let mut score = 0.0;
            for (&tf, idf) in tfs.iter().zip(&idfs) {
                let tf = f64::from(tf);
                score += idf * tf * 2.2 / (tf + 1.2);
            }
            let row = usize::try_from(row)
                .ok()
                .filter(|&row| row < ids.len() && row < inlinks.len())
                .ok_or_else(|| {
                    Error::corrupt(terms.path(), format!("posting of a missing row {row}"))
                })?;
            score += 0.1 * (1.0 + f64::from(inlinks.u32_row(row))).ln();
            hits.push(Hit {
                id: ids.id_row(row).id,
                sentence: 0,
                score: score as f32,
            });
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        hits.truncate(limit);
        for hit in &mut hits {
            if let Some(article) = self.article(hit.id)? {
                hit.sentence = best_sentence(&article, &stems, &mut sentence_stems);
            }
        }
        Ok(hits)
    }

    /// The candidates for a folded alias text, most probable first.
    pub fn aliases(&self, folded_text: &str) -> Result<Vec<Candidate>> {
        let lexicon = self.lexicon(&self.aliases, ALIASES_FILE, FileKind::Aliases)?;
        match lexicon.map().get(folded_text) {
            Some(offset) => decode_candidates(lexicon, offset),
            None => Ok(Vec::new()),
        }
    }

    /// Entity linking: scans `folded_tokens` left to right and at each position
    /// takes the longest alias (at most `max_mention_len` tokens) whose link
    /// probability reaches the build's `min_link_prob`; mentions do not overlap.
    pub fn link(&self, folded_tokens: &[&str]) -> Result<Vec<Mention>> {
        let lexicon = self.lexicon(&self.aliases, ALIASES_FILE, FileKind::Aliases)?;
        let max_tokens = self.manifest.options.max_mention_len as usize;
        let min_link_prob = self.manifest.options.min_link_prob as f32;
        let mut mentions = Vec::new();
        let mut start = 0;
        while start < folded_tokens.len() {
            let mut matched = None;
            for (end, offset) in
                token_prefix_matches(lexicon.map(), folded_tokens, start, max_tokens)
                    .into_iter()
                    .rev()
            {
                let candidates = decode_candidates(lexicon, offset)?;
                let link_prob = candidates.first().map_or(0.0, |c| c.link_prob);
                if link_prob >= min_link_prob && !candidates.is_empty() {
                    matched = Some(Mention {
                        start_token: start,
                        end_token: end,
                        link_prob,
                        candidates,
                    });
                    break;
                }
            }
            match matched {
                Some(mention) => {
                    start = mention.end_token;
                    mentions.push(mention);
                }
                None => start += 1,
            }
        }
        Ok(mentions)
    }

    /// Hashes every file the manifest lists and checks every checksum: sizes
    /// and CRCs against the manifest, and each file's footer. Errors on the
    /// first damaged file, naming it.
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let dictionary = self
            .manifest
            .dictionary
            .iter()
            .map(|d| (&d.file, FileKind::Dictionary));
        let globals = self
            .manifest
            .files
            .iter()
            .map(|f| (f, global_kind(&f.name)));
        let shards = self
            .manifest
            .shards
            .iter()
            .map(|f| (f, Some(FileKind::Shard)));
        for (entry, kind) in shards
            .chain(globals)
            .chain(dictionary.map(|(f, k)| (f, Some(k))))
        {
            let path = self.dir.join(&entry.name);
            let kind = kind.ok_or_else(|| {
                Error::corrupt(&path, "the manifest lists a file of unknown kind")
            })?;
            let storage = open(&path, Access::Pread)?;
            if storage.len() != entry.size {
                return Err(Error::corrupt(
                    &path,
                    format!(
                        "file is {} bytes, the manifest says {}",
                        storage.len(),
                        entry.size
                    ),
                ));
            }
            let frame = check_frame(&*storage, kind, Some(entry.crc32))?;
            verify_crc(&*storage, &frame)?;
            report.files += 1;
            report.bytes += entry.size;
        }
        Ok(report)
    }

    /// Opens every file the manifest lists now rather than on first use (each
    /// with the checks opening makes; no file is hashed whole except the
    /// tables, as on their first use), so that later reads no longer go
    /// through the directory's path: a new build renamed over the directory,
    /// or the directory removed, leaves this reader working on the files it
    /// opened. Errors name the first missing or damaged file.
    pub fn open_all(&self) -> Result<()> {
        self.dictionary()?;
        for n in 0..self.shards.len() {
            self.shard(n as u32)?;
        }
        self.titles()?;
        self.redirects()?;
        self.lexicon(&self.redirects_in, REDIRECTS_IN_FILE, FileKind::RedirectsIn)?;
        self.lexicon(&self.aliases, ALIASES_FILE, FileKind::Aliases)?;
        lazy(&self.terms, || {
            let entry = self.global_entry(TERMS_FILE)?;
            Terms::open(self.open_file(entry)?, Some(entry.crc32))
        })?;
        self.inlinks_table()?;
        Ok(())
    }

    /// Reader counters.
    pub fn stats(&self) -> Stats {
        Stats {
            articles: self.manifest.counts.articles,
            shards: self.shards.len(),
            shards_open: self.shards_open.load(Ordering::Relaxed) as usize,
            cache_entries: self.cache.len(),
            cache_capacity: self.cache.capacity(),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            cache_misses: self.cache_misses.load(Ordering::Relaxed),
        }
    }
}

fn global_kind(name: &str) -> Option<FileKind> {
    Some(match name {
        TITLES_FILE => FileKind::Titles,
        REDIRECTS_FILE => FileKind::Redirects,
        REDIRECTS_IN_FILE => FileKind::RedirectsIn,
        ALIASES_FILE => FileKind::Aliases,
        TERMS_FILE => FileKind::Terms,
        IDS_FILE => FileKind::Ids,
        INLINKS_FILE => FileKind::Inlinks,
        DICTIONARY_FILE => FileKind::Dictionary,
        _ => return None,
    })
}

fn decode_candidates(lexicon: &Lexicon, offset: u64) -> Result<Vec<Candidate>> {
    let list = lexicon.list(offset)?;
    let mut reader = LeReader::new(&list, lexicon.path());
    let total = reader.varint()?;
    let anchor_docs = reader.varint()?;
    let docs = reader.varint()?;
    let n = reader.varint()?;
    let link_prob = if docs == 0 {
        0.0
    } else {
        anchor_docs as f32 / docs as f32
    };
    let mut out = Vec::new();
    for _ in 0..n {
        let id = reader.varint()?;
        let count = reader.varint()?;
        let prior = if total == 0 {
            0.0
        } else {
            count as f32 / total as f32
        };
        out.push(Candidate {
            id,
            count,
            prior,
            link_prob,
        });
    }
    Ok(out)
}

/// Reads a varint-length-prefixed UTF-8 string.
pub(crate) fn read_str(reader: &mut LeReader<'_>) -> Result<String> {
    let len = usize::try_from(reader.varint()?)
        .map_err(|_| Error::corrupt(reader.path(), "string length overflows"))?;
    let bytes = reader.take(len)?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::corrupt(reader.path(), "string is not UTF-8"))
}

/// Edit distance over Unicode scalar values.
fn edit_distance(a: &str, b: &str) -> u32 {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<u32> = (0..=b.len() as u32).collect();
    let mut cur = vec![0u32; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i as u32 + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cost = u32::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, and the same on every
/// platform, which is what a deterministic pick needs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The ordinal of the first sentence of `article` holding the most of `stems`
/// (sorted, distinct), as `sentence_stems` stems it.
fn best_sentence(
    article: &ArticleRecord,
    stems: &[&String],
    sentence_stems: &mut impl FnMut(&str) -> Vec<String>,
) -> u32 {
    let (mut best, mut best_count) = (0u32, 0usize);
    for (ordinal, sentence) in (0u32..).zip(article.sentences()) {
        let mut found = sentence_stems(&sentence.text);
        found.sort_unstable();
        found.dedup();
        let count = stems
            .iter()
            .filter(|stem| found.binary_search(**stem).is_ok())
            .count();
        if count > best_count {
            (best, best_count) = (ordinal, count);
            if count == stems.len() {
                break;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("émile", "emile"), 1);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn splitmix_is_stable() {
        // Reference values of SplitMix64 seeded with 0.
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next(), 0x6e78_9e6a_a1b9_65f4);
    }
}
