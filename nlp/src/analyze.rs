//! Sentences, tokens and stems of a whole article.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::entity::{Entity, entities};
use crate::sentence::SentenceSplitter;
use crate::stem::{Language, Stemmer};
use crate::token::{for_each_word, lowercase_push};
use crate::wikitext::{Article, BlockKind, Link, Section};

/// What [`Analyzer::analyze`] computes besides sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AnalyzeOptions {
    /// Fill [`Sentence::tokens`].
    pub tokens: bool,
    /// Fill [`Sentence::stems`].
    pub stems: bool,
    /// Fill [`SentenceRef::word_ids`], [`SentenceRef::folded_word`],
    /// [`SentenceRef::stem_ids`] and [`SentenceRef::stem`] (the keys an
    /// index needs; only [`Analyzer::for_each_sentence`] and
    /// [`Analyzer::for_each_sentence_of`] lend them). Stems words, but
    /// fills [`Sentence::stems`] only if `stems` is set too.
    #[serde(default)]
    pub keys: bool,
}

impl AnalyzeOptions {
    /// Sentences only.
    pub const SENTENCES: AnalyzeOptions = AnalyzeOptions {
        tokens: false,
        stems: false,
        keys: false,
    };
    /// Sentences, tokens and stems.
    pub const ALL: AnalyzeOptions = AnalyzeOptions {
        tokens: true,
        stems: true,
        keys: false,
    };
    /// Sentences and the keys of an index, without per-word token and stem
    /// strings (a word's fold and stem are lent by number).
    pub const INDEX: AnalyzeOptions = AnalyzeOptions {
        tokens: false,
        stems: false,
        keys: true,
    };
}

impl Default for AnalyzeOptions {
    /// Returns [`AnalyzeOptions::ALL`].
    fn default() -> Self {
        AnalyzeOptions::ALL
    }
}

/// An article split into sentences, with tokens, stems and entities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzedArticle {
    /// The sections of the article, in order.
    pub sections: Vec<AnalyzedSection>,
    /// The entities of the article ([`crate::entities`] with the article's title).
    pub entities: Vec<Entity>,
}

/// A section split into sentences.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyzedSection {
    /// The heading text, `""` for the lead.
    pub heading: String,
    /// 0 for the lead, 2 for `==h==`...
    pub level: u8,
    /// The sentences of all blocks of the section, in order.
    pub sentences: Vec<Sentence>,
}

/// One sentence of a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentence {
    /// The sentence text.
    pub text: String,
    /// The kind of block the sentence comes from.
    pub kind: BlockKind,
    /// The links that start in this sentence, offsets relative to `text`
    /// (a link running past the sentence end is clipped to it).
    pub links: Vec<Link>,
    /// Lowercase words ([`crate::tokenize`]), if asked for.
    pub tokens: Vec<String>,
    /// The stem of each word, if asked for (same length as the words).
    pub stems: Vec<String>,
}

/// One sentence as [`Analyzer::for_each_sentence`] lends it: the text and
/// links borrow the article, the tokens and stems borrow buffers of the
/// analyzer that are reused from one sentence to the next, so nothing is
/// allocated per sentence or per word.
#[derive(Debug, Clone, Copy)]
pub struct SentenceRef<'a> {
    /// The sentence text.
    pub text: &'a str,
    /// The kind of block the sentence comes from.
    pub kind: BlockKind,
    /// The links of the whole block and the sentence's range in the block.
    block_links: &'a [Link],
    start: usize,
    end: usize,
    tokens: Words<'a>,
    stems: Words<'a>,
    stem_ids: &'a [u32],
    word_ids: &'a [u32],
    /// The stem cache's arena and, per word and stem number of the call,
    /// the range of the word's fold and of the stem there.
    arena: &'a str,
    folds: &'a [(u32, u32)],
    call_stems: &'a [(u32, u32)],
}

impl<'a> SentenceRef<'a> {
    /// The links that start in this sentence, offsets relative to
    /// [`SentenceRef::text`] (a link running past the sentence end is
    /// clipped to it), as in [`Sentence::links`].
    pub fn links(&self) -> impl Iterator<Item = LinkRef<'a>> + 'a {
        let (start, end) = (self.start, self.end);
        self.block_links
            .iter()
            .filter(move |link| (start..end).contains(&(link.start as usize)))
            .map(move |link| LinkRef {
                start: link.start - start as u32,
                end: (link.end as usize).min(end) as u32 - start as u32,
                target: &link.target,
            })
    }

    /// Lowercase words ([`crate::tokenize`]), if asked for.
    pub fn tokens(&self) -> Words<'a> {
        self.tokens
    }

    /// The stem of each word, if asked for.
    pub fn stems(&self) -> Words<'a> {
        self.stems
    }

    /// Per word, a number naming its stem, if [`AnalyzeOptions::keys`] is
    /// set: the stems are numbered 0, 1, 2... in order of first occurrence
    /// within one call of [`Analyzer::for_each_sentence`] or
    /// [`Analyzer::for_each_sentence_of`], so a number is new exactly when it
    /// is the count of numbers seen so far, and numbers can index a vector.
    pub fn stem_ids(&self) -> &'a [u32] {
        self.stem_ids
    }

    /// Per word, a number naming it, if [`AnalyzeOptions::keys`] is set:
    /// equal words (tokens) have equal numbers, numbered as
    /// [`SentenceRef::stem_ids`] numbers stems (0, 1, 2... in order of first
    /// occurrence within the call).
    pub fn word_ids(&self) -> &'a [u32] {
        self.word_ids
    }

    /// The fold ([`crate::fold`] of the token) of the word numbered `id`
    /// in [`SentenceRef::word_ids`] (of this sentence or an earlier one of
    /// the call), if [`AnalyzeOptions::keys`] is set; `""` for a number not
    /// given out. A fold may be empty (a word of combining marks only) or
    /// hold spaces (a word with `_`); the non-empty folds of a sentence's
    /// words joined by single spaces are `fold` of its tokens joined by
    /// spaces. The stem cache keeps them, so a word is folded once, and
    /// nothing is copied per word.
    pub fn folded_word(&self, id: u32) -> &'a str {
        self.folds
            .get(id as usize)
            .and_then(|&(start, end)| self.arena.get(start as usize..end as usize))
            .unwrap_or_default()
    }

    /// The stem numbered `id` in [`SentenceRef::stem_ids`] (of this
    /// sentence or an earlier one of the call), if [`AnalyzeOptions::keys`]
    /// is set; `""` for a number not given out. Lent from the stem cache,
    /// as [`SentenceRef::folded_word`] is.
    pub fn stem(&self, id: u32) -> &'a str {
        self.call_stems
            .get(id as usize)
            .and_then(|&(start, end)| self.arena.get(start as usize..end as usize))
            .unwrap_or_default()
    }

    /// Copies the sentence into an owned [`Sentence`].
    pub fn to_sentence(&self) -> Sentence {
        Sentence {
            text: self.text.to_owned(),
            kind: self.kind,
            links: self
                .links()
                .map(|link| Link {
                    start: link.start,
                    end: link.end,
                    target: link.target.to_owned(),
                })
                .collect(),
            tokens: self.tokens.iter().map(str::to_owned).collect(),
            stems: self.stems.iter().map(str::to_owned).collect(),
        }
    }
}

/// A link of a [`SentenceRef`]: a borrowed [`Link`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkRef<'a> {
    /// Byte offset of the anchor's start in the sentence.
    pub start: u32,
    /// Byte offset just past the anchor (at most the sentence length).
    pub end: u32,
    /// The linked page title.
    pub target: &'a str,
}

/// Words stored back to back in one buffer.
#[derive(Debug, Clone, Copy)]
pub struct Words<'a> {
    text: &'a str,
    ends: &'a [u32],
}

impl<'a> Words<'a> {
    /// The words in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let text = self.text;
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let word = &text[start..end as usize];
            start = end as usize;
            word
        })
    }

    /// All the words back to back, without separators.
    pub fn joined(&self) -> &'a str {
        self.text
    }

    /// The number of words.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is no word.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// Words of one sentence being built: text back to back and end offsets.
#[derive(Default)]
struct WordBuf {
    text: String,
    ends: Vec<u32>,
}

impl WordBuf {
    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    fn words(&self) -> Words<'_> {
        Words {
            text: &self.text,
            ends: &self.ends,
        }
    }
}

/// Per-thread state of the analyzer: the stem cache and the buffers lent
/// to [`Analyzer::for_each_sentence`] callbacks.
#[derive(Default)]
struct Scratch {
    stems: StemCache,
    token_buf: WordBuf,
    stem_buf: WordBuf,
    stem_ids: Vec<u32>,
    word_ids: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch space (a fresh one when it is in
/// use, e.g. by a callback that analyzes again).
fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Splits, tokenizes and stems articles of one language.
///
/// `Send + Sync`: one analyzer serves every worker thread.
#[derive(Debug, Clone)]
pub struct Analyzer {
    splitter: SentenceSplitter,
    stemmer: Stemmer,
}

impl Analyzer {
    /// Creates an analyzer with the sentence rules and stemmer of `lang`.
    pub fn new(lang: Language) -> Self {
        Analyzer {
            splitter: SentenceSplitter::new(lang),
            stemmer: Stemmer::new(lang),
        }
    }

    /// Splits every block into sentences, tokenizes and stems them.
    ///
    /// Each distinct word is stemmed once (stemming is the hot spot): stems
    /// are cached per thread across calls, in a cache of bounded size that
    /// is emptied when full; the output does not depend on the cache.
    pub fn analyze(&self, article: &Article, opts: AnalyzeOptions) -> AnalyzedArticle {
        with_scratch(|scratch| {
            scratch.stems.prepare(self.stemmer.language());
            let sections = article
                .sections
                .iter()
                .map(|section| {
                    let mut sentences = Vec::new();
                    self.sentences_with(section, opts, scratch, &mut |sentence| {
                        sentences.push(sentence.to_sentence());
                    });
                    AnalyzedSection {
                        heading: section.heading.clone(),
                        level: section.level,
                        sentences,
                    }
                })
                .collect();
            AnalyzedArticle {
                sections,
                entities: entities(article, &article.title),
            }
        })
    }

    /// Calls `f` for every sentence of `section`, in order, with what
    /// [`Analyzer::analyze`] would put in its [`Sentence`], borrowed instead
    /// of owned. This is the allocation-free way to write sentences out.
    pub fn for_each_sentence(
        &self,
        section: &Section,
        opts: AnalyzeOptions,
        mut f: impl FnMut(&SentenceRef<'_>),
    ) {
        with_scratch(|scratch| {
            scratch.stems.prepare(self.stemmer.language());
            self.sentences_with(section, opts, scratch, &mut f)
        });
    }

    /// [`Analyzer::for_each_sentence`] over several sections (an article's),
    /// with the index of each sentence's section: the stem numbers of
    /// [`SentenceRef::stem_ids`] hold throughout.
    pub fn for_each_sentence_of(
        &self,
        sections: &[Section],
        opts: AnalyzeOptions,
        mut f: impl FnMut(usize, &SentenceRef<'_>),
    ) {
        with_scratch(|scratch| {
            scratch.stems.prepare(self.stemmer.language());
            for (i, section) in sections.iter().enumerate() {
                self.sentences_with(section, opts, scratch, &mut |sentence| f(i, sentence));
            }
        });
    }

    fn sentences_with(
        &self,
        section: &Section,
        opts: AnalyzeOptions,
        scratch: &mut Scratch,
        f: &mut dyn FnMut(&SentenceRef<'_>),
    ) {
        let Scratch {
            stems,
            token_buf,
            stem_buf,
            stem_ids,
            word_ids,
        } = scratch;
        let want_stems = opts.stems || opts.keys;
        for block in &section.blocks {
            for range in self.splitter.split(&block.text) {
                let text = &block.text[range.clone()];
                token_buf.clear();
                stem_buf.clear();
                stem_ids.clear();
                word_ids.clear();
                if opts.tokens || want_stems {
                    for_each_word(text, |_, raw| {
                        let at = token_buf.text.len();
                        lowercase_push(raw, &mut token_buf.text);
                        if want_stems {
                            let keys = stems.entry(&self.stemmer, &token_buf.text[at..], opts.keys);
                            if opts.stems {
                                stem_buf.text.push_str(stems.stem(keys.entry));
                                stem_buf.ends.push(stem_buf.text.len() as u32);
                            }
                            if opts.keys {
                                stem_ids.push(keys.stem);
                                word_ids.push(keys.word);
                            }
                        }
                        if opts.tokens {
                            token_buf.ends.push(token_buf.text.len() as u32);
                        } else {
                            token_buf.text.truncate(at);
                        }
                    });
                }
                f(&SentenceRef {
                    text,
                    kind: block.kind,
                    block_links: &block.links,
                    start: range.start,
                    end: range.end,
                    tokens: token_buf.words(),
                    stems: stem_buf.words(),
                    stem_ids,
                    word_ids,
                    arena: &stems.arena,
                    folds: &stems.call_folds,
                    call_stems: &stems.call_stems,
                });
            }
        }
    }
}

#[cfg(test)]
/// Returns the links starting in `start..end`, relative to `start`, clipped to `end`.
fn clip_links(links: &[Link], start: usize, end: usize) -> Vec<Link> {
    links
        .iter()
        .filter(|link| (start..end).contains(&(link.start as usize)))
        .map(|link| Link {
            start: link.start - start as u32,
            end: (link.end as usize).min(end) as u32 - start as u32,
            target: link.target.clone(),
        })
        .collect()
}

/// Most words a stem cache holds before it is emptied.
const STEM_CACHE_CAPACITY: usize = 1 << 18;

/// Word -> stem for one language, with per-word keys for indexing.
#[derive(Default)]
struct StemCache {
    language: Option<Language>,
    map: HashMap<String, CacheEntry, BuildHasherDefault<FxHasher>>,
    /// Stem -> stem number (touched only when a word is first seen).
    stem_ids: HashMap<String, u32, BuildHasherDefault<FxHasher>>,
    /// Per stem number: the call it was last numbered in and its number there.
    stem_calls: Vec<(u32, u32)>,
    /// The stems and folded words, back to back.
    arena: String,
    /// The current call (1, 2, ...; an entry of call 0 was never numbered).
    call: u32,
    /// Per word numbered in the current call, its fold's range in `arena`.
    call_folds: Vec<(u32, u32)>,
    /// Per stem numbered in the current call, its range in `arena`.
    call_stems: Vec<(u32, u32)>,
}

/// What the cache knows of one word: ranges of [`StemCache::arena`].
#[derive(Clone, Copy)]
struct CacheEntry {
    stem_start: u32,
    stem_end: u32,
    stem_id: u32,
    /// The call the word was last numbered in, and its number and its
    /// stem's number there.
    word_call: u32,
    word_number: u32,
    stem_number: u32,
    /// The folded word; an empty range until asked for (`folded_start`
    /// is `u32::MAX` then).
    folded_start: u32,
    folded_end: u32,
}

/// A word's keys in the current call: its entry and the numbers of the
/// word and of its stem (0 for a call without keys).
struct WordKeys {
    entry: CacheEntry,
    word: u32,
    stem: u32,
}

impl StemCache {
    /// Starts a call: empties the cache if it is full or holds another
    /// language's stems, and starts numbering words and stems from 0.
    fn prepare(&mut self, language: Language) {
        if self.call == u32::MAX
            || self.language != Some(language)
            || self.map.len() >= STEM_CACHE_CAPACITY
            || self.arena.len() >= STEM_CACHE_CAPACITY * 64
        {
            self.map.clear();
            self.stem_ids.clear();
            self.stem_calls.clear();
            self.arena.clear();
            self.call = 0;
            self.language = Some(language);
        }
        self.call += 1;
        self.call_folds.clear();
        self.call_stems.clear();
    }

    /// The entry of `word` (one hash lookup when cached), with its folded
    /// form filled in and the word and its stem numbered when `keys` is set.
    fn entry(&mut self, stemmer: &Stemmer, word: &str, keys: bool) -> WordKeys {
        let entry = match self.map.get_mut(word) {
            Some(entry) => entry,
            None => {
                let stem = stemmer.stem(word);
                let stem_id = match self.stem_ids.get(stem.as_ref()) {
                    Some(&id) => id,
                    None => {
                        let id = self.stem_ids.len() as u32;
                        self.stem_ids.insert(stem.as_ref().to_owned(), id);
                        self.stem_calls.push((0, 0));
                        id
                    }
                };
                let stem_start = self.arena.len() as u32;
                self.arena.push_str(&stem);
                let stem_end = self.arena.len() as u32;
                let entry = CacheEntry {
                    stem_start,
                    stem_end,
                    stem_id,
                    word_call: 0,
                    word_number: 0,
                    stem_number: 0,
                    folded_start: u32::MAX,
                    folded_end: u32::MAX,
                };
                self.map.entry(word.to_owned()).or_insert(entry)
            }
        };
        if !keys {
            return WordKeys {
                entry: *entry,
                word: 0,
                stem: 0,
            };
        }
        // A word seen before in this call keeps its numbers: only its first
        // occurrence numbers it (and its stem, unless another word did).
        if entry.word_call != self.call {
            if entry.folded_start == u32::MAX {
                (entry.folded_start, entry.folded_end) = push_folded(&mut self.arena, word);
            }
            entry.word_call = self.call;
            entry.word_number = self.call_folds.len() as u32;
            self.call_folds.push((entry.folded_start, entry.folded_end));
            let stem = &mut self.stem_calls[entry.stem_id as usize];
            if stem.0 != self.call {
                *stem = (self.call, self.call_stems.len() as u32);
                self.call_stems.push((entry.stem_start, entry.stem_end));
            }
            entry.stem_number = stem.1;
        }
        WordKeys {
            entry: *entry,
            word: entry.word_number,
            stem: entry.stem_number,
        }
    }

    fn stem(&self, entry: CacheEntry) -> &str {
        &self.arena[entry.stem_start as usize..entry.stem_end as usize]
    }
}

/// Appends `fold(word)` to `arena`; returns its range.
fn push_folded(arena: &mut String, word: &str) -> (u32, u32) {
    let start = arena.len() as u32;
    crate::normalize::fold_into(word, arena);
    (start, arena.len() as u32)
}

/// The Fx hash (rustc's): fast for short keys; the cache needs no DoS resistance.
#[derive(Default)]
struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(buf));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Parser, ParserConfig};

    fn analyze(wikitext: &str, opts: AnalyzeOptions) -> AnalyzedArticle {
        let parser = Parser::new(&ParserConfig::english());
        let (article, warnings) = parser.parse("Albedo", wikitext);
        assert!(warnings.is_empty(), "{warnings:?}");
        Analyzer::new(Language::English).analyze(&article, opts)
    }

    #[test]
    fn splits_tokens_and_stems() {
        let analyzed = analyze(
            "'''Albedo''' is the [[diffuse reflection|diffuse reflectivity]] of surfaces. \
             It is measured by [[Mr. Smith]]. Fresh snow reflects.\n\n== Terrestrial albedo ==\n\
             * Snow reflects most light.",
            AnalyzeOptions::ALL,
        );
        let lead = &analyzed.sections[0];
        let texts: Vec<&str> = lead.sentences.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Albedo is the diffuse reflectivity of surfaces.",
                "It is measured by Mr. Smith.",
                "Fresh snow reflects."
            ]
        );
        let first = &lead.sentences[0];
        assert_eq!(
            first.tokens,
            [
                "albedo",
                "is",
                "the",
                "diffuse",
                "reflectivity",
                "of",
                "surfaces"
            ]
        );
        assert_eq!(
            first.stems,
            ["albedo", "is", "the", "diffus", "reflect", "of", "surfac"]
        );
        let link = &first.links[0];
        assert_eq!(
            &first.text[link.start as usize..link.end as usize],
            "diffuse reflectivity"
        );
        let second = &lead.sentences[1];
        assert_eq!(second.links.len(), 1);
        assert_eq!(
            &second.text[second.links[0].start as usize..second.links[0].end as usize],
            "Mr. Smith"
        );
        assert_eq!(analyzed.sections[1].heading, "Terrestrial albedo");
        assert_eq!(analyzed.sections[1].sentences[0].kind, BlockKind::ListItem);
        assert!(
            analyzed
                .entities
                .iter()
                .any(|e| e.target == "Albedo" && e.kind == crate::EntityKind::SelfMention)
        );
    }

    #[test]
    fn options_select_outputs() {
        let text = "Snow is white. Coal is black.";
        let only_sentences = analyze(text, AnalyzeOptions::SENTENCES);
        let sentence = &only_sentences.sections[0].sentences[1];
        assert_eq!(sentence.text, "Coal is black.");
        assert!(sentence.tokens.is_empty() && sentence.stems.is_empty());
        let stems_only = analyze(
            text,
            AnalyzeOptions {
                tokens: false,
                stems: true,
                keys: false,
            },
        );
        let sentence = &stems_only.sections[0].sentences[0];
        assert!(sentence.tokens.is_empty());
        assert_eq!(sentence.stems, ["snow", "is", "white"]);
    }

    /// The keys of one sentence: word numbers, stem numbers, and the folds
    /// and stems lent by those numbers.
    type SentenceKeys = (Vec<u32>, Vec<u32>, Vec<String>, Vec<String>);

    fn keys_of(sentence: &SentenceRef<'_>) -> SentenceKeys {
        (
            sentence.word_ids().to_vec(),
            sentence.stem_ids().to_vec(),
            (sentence.word_ids().iter())
                .map(|&id| sentence.folded_word(id).to_owned())
                .collect(),
            (sentence.stem_ids().iter())
                .map(|&id| sentence.stem(id).to_owned())
                .collect(),
        )
    }

    /// Checks the keys of every sentence of `article`: the folded words are
    /// `fold` of the tokens (and joined, of the joined tokens), word and
    /// stem numbers match words and stems one to one, the stem lent by a
    /// number is the word's stem, and [`AnalyzeOptions::INDEX`] (no token
    /// or stem strings) gives the same keys.
    fn check_keys(analyzer: &Analyzer, article: &Article) {
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut stems_of: HashMap<u32, String> = HashMap::new();
        let mut word_ids: HashMap<String, u32> = HashMap::new();
        let mut words_of: HashMap<u32, String> = HashMap::new();
        let mut keys: Vec<SentenceKeys> = Vec::new();
        let everything = AnalyzeOptions {
            tokens: true,
            stems: true,
            keys: true,
        };
        analyzer.for_each_sentence_of(&article.sections, everything, |_, sentence| {
            keys.push(keys_of(sentence));
            let tokens: Vec<&str> = sentence.tokens().iter().collect();
            let folded: Vec<&str> = sentence
                .word_ids()
                .iter()
                .map(|&id| sentence.folded_word(id))
                .collect();
            assert_eq!(folded.len(), tokens.len());
            let joined: Vec<&str> = folded.iter().copied().filter(|f| !f.is_empty()).collect();
            assert_eq!(
                joined.join(" "),
                crate::fold(&tokens.join(" ")),
                "{tokens:?}"
            );
            assert_eq!(sentence.stem_ids().len(), sentence.stems().len());
            for (stem, &id) in sentence.stems().iter().zip(sentence.stem_ids()) {
                // Numbered in order of first occurrence.
                assert!(id as usize <= ids.len(), "{stem} {id}");
                assert_eq!(id as usize == ids.len(), !ids.contains_key(stem), "{stem}");
                assert_eq!(*ids.entry(stem.to_owned()).or_insert(id), id, "{stem}");
                assert_eq!(stems_of.entry(id).or_insert(stem.to_owned()), stem);
                assert_eq!(sentence.stem(id), stem);
            }
            assert_eq!(sentence.word_ids().len(), tokens.len());
            for ((token, &id), fold) in tokens.iter().zip(sentence.word_ids()).zip(&folded) {
                assert_eq!(
                    id as usize == word_ids.len(),
                    !word_ids.contains_key(*token),
                    "{token}"
                );
                assert_eq!(
                    *word_ids.entry(token.to_string()).or_insert(id),
                    id,
                    "{token}"
                );
                assert_eq!(words_of.entry(id).or_insert(token.to_string()), token);
                assert_eq!(*fold, crate::fold(token));
            }
        });
        let mut index_keys = Vec::new();
        analyzer.for_each_sentence_of(&article.sections, AnalyzeOptions::INDEX, |_, sentence| {
            assert!(sentence.tokens().is_empty() && sentence.stems().is_empty());
            index_keys.push(keys_of(sentence));
        });
        assert_eq!(index_keys, keys);
        let n = keys.len();
        let expected: usize = analyzer
            .analyze(article, AnalyzeOptions::SENTENCES)
            .sections
            .iter()
            .map(|s| s.sentences.len())
            .sum();
        assert_eq!(n, expected);
    }

    #[test]
    fn keys_match_folded_tokens_and_stems() {
        let parser = Parser::new(&ParserConfig::english());
        let analyzer = Analyzer::new(Language::English);
        for text in [
            "'''Albedo''' is the [[diffuse reflection|diffuse reflectivity]] of surfaces. \
             Fresh snow reflects; snowy fields reflect.",
            "Straße ΣΟΦΟΣ σοφός Éire foo_bar _x_ __ a\u{301}b \u{1100}\u{1161} x\u{200d}y Ǆemal.",
            "Ａｂｃ ﬁne İstanbul ǅ 3.14 it's l'été",
        ] {
            let (article, _) = parser.parse("T", text);
            check_keys(&analyzer, &article);
        }
    }

    proptest::proptest! {
        #[test]
        fn keys_hold_on_any_text(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "Z", " ", "_", "\u{a0}", "\t", "é", "e\u{301}", "\u{301}", "ß", "Σ", "σ",
                "ς", "İ", "ǅ", "\u{1100}", "\u{1161}", "\u{200d}", "'", ".", "3", "ﬁ", "Ａ",
                "_a", "ΣΑ", "x", "\u{345}", " \u{345} ",
            ]), 0..40)
        ) {
            let parser = Parser::new(&ParserConfig::english());
            let analyzer = Analyzer::new(Language::English);
            let (article, _) = parser.parse("T", &parts.concat());
            check_keys(&analyzer, &article);
        }
    }

    #[test]
    fn clips_links_crossing_a_boundary() {
        let links = [
            Link {
                start: 2,
                end: 12,
                target: "A".into(),
            },
            Link {
                start: 14,
                end: 16,
                target: "B".into(),
            },
        ];
        let clipped = clip_links(&links, 0, 10);
        assert_eq!(
            clipped,
            [Link {
                start: 2,
                end: 10,
                target: "A".into()
            }]
        );
        let second = clip_links(&links, 11, 20);
        assert_eq!(
            second,
            [Link {
                start: 3,
                end: 5,
                target: "B".into()
            }]
        );
    }

    #[test]
    fn is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Analyzer>();
        assert_send_sync::<Parser>();
    }
}
