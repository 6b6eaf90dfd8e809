//! `fraser build` and `fraser merge`: a dump to an index directory.
//!
//! One streaming pass: the shared pipeline parses and analyses pages in
//! parallel and hands [`BuildItem`]s, in dump order, to the index writer on
//! this thread, so the index bytes do not depend on the thread count.
//!
//! With `--part I/N` the expensive half (decompression, parsing, analysis) of
//! one byte range of a multistream dump is done and its items are written to a
//! part file instead; `fraser merge` replays the parts, in order, into one index
//! writer. The writer sees the same items in the same order as in a single
//! build, so the merged index is byte-identical to it.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::args::{BuildArgs, MergeArgs};
use crate::parts::{PartHeader, PartReader, PartWriter};
use crate::pipeline;
use crate::progress::Reporter;

/// What one page contributes to an index.
// Most items are articles, so boxing the larger variant would only add an
// allocation per article.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize, Deserialize)]
pub enum BuildItem {
    /// An article with the inputs the index writer needs.
    Article {
        /// The stored record, encoded (on the worker that built it).
        record: index::EncodedRecord,
        /// The title as written (for error messages).
        title: String,
        /// `nlp::fold` of the title.
        title_key: String,
        /// The article's distinct stems with the sentences holding each.
        terms: ArticleTerms,
        /// The article's folded sentences as a table of distinct words.
        words: ArticleWords,
        /// (folded anchor, folded target title) per link.
        anchors: ArticleAnchors,
    },
    /// A redirect page.
    Redirect {
        /// The redirect's title as written.
        title: String,
        /// `nlp::fold` of the title.
        key: String,
        /// `nlp::fold` of the target title.
        target_key: String,
    },
}

/// Batches of pages analysed at once: twice the pipeline's default, because
/// the index writer on this thread has work of its own per batch
/// (compressing records, gathering postings) during which the workers would
/// otherwise run out of batches (about 3% more throughput on 2 cores, for a
/// few MiB more in flight).
const BATCHES_MAPPING: usize = 2 * pipeline::BATCHES_MAPPING;

/// Runs `fraser build`.
pub fn run(args: &BuildArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let input = dump::Input::parse(&args.dump);
    let name = input.display_name();
    let mut options = dump::OpenOptions {
        threads: args.threads,
        multistream_index: args.multistream_index.clone(),
        ..Default::default()
    };
    let part = args.part.as_deref().map(parse_part).transpose()?;
    if let Some((i, n)) = part {
        let dump::Input::Path(path) = &input else {
            bail!("--part needs a multistream dump file, not stdin");
        };
        let index_path = match &args.multistream_index {
            Some(p) => p.clone(),
            None => dump::sibling_index_path(path).with_context(|| {
                format!(
                    "--part needs the multistream index of {}; give it with --multistream-index",
                    path.display()
                )
            })?,
        };
        let ranges = dump::multistream_parts(&index_path, n as usize)
            .with_context(|| format!("failed to read {}", index_path.display()))?;
        let range = ranges
            .get(i as usize - 1)
            .cloned()
            .with_context(|| format!("the dump has fewer than {n} streams to split"))?;
        options.multistream_index = Some(index_path);
        options.range = Some(range);
    }
    let reader = dump::open(&input, &options).with_context(|| format!("failed to open {name}"))?;
    let site = reader.siteinfo().clone();
    let lang = args
        .lang
        .clone()
        .or_else(|| site.lang.clone())
        .unwrap_or_else(|| "en".to_owned());
    let metadata = metadata(&input, &site, &lang);
    let analysis = Analysis {
        parser: nlp::Parser::new(&nlp::ParserConfig::from_namespaces(&lang, &site.namespaces))
            .with_timeout(Duration::from_secs_f64(args.page_timeout.max(0.001))),
        analyzer: nlp::Analyzer::new(nlp::Language::from_code(&lang)),
    };
    let pool = pipeline::pool(args.threads, "build")?;
    tracing::info!(
        input = %name,
        out = %args.out.display(),
        part = args.part.as_deref().unwrap_or("-"),
        lang = %lang,
        threads = pool.current_num_threads(),
        "building"
    );
    let progress = reader.progress();
    let mut reporter = Reporter::new("build", progress.total_bytes(), quiet);
    let mut sink = match part {
        Some((i, n)) => Sink::Part(PartWriter::create(
            &args.out,
            &PartHeader {
                part: i,
                parts: n,
                metadata: metadata.clone(),
            },
        )?),
        None => Sink::Index(Box::new(
            builder(&args.out, args.shard_size, args.memory, metadata)
                .threads(args.threads)
                .start()
                .with_context(|| format!("failed to start the index at {}", args.out.display()))?,
        )),
    };
    let mut stats = PageStats::default();
    pipeline::run(
        reader,
        &name,
        &pool,
        &mut reporter,
        BATCHES_MAPPING,
        |page| analysis.item(page),
        |page, (item, skipped)| {
            if skipped {
                stats.skipped += 1;
                tracing::warn!(page = page.id, title = %page.title, "page skipped: parse timed out");
            }
            match item {
                Some(item) => sink.add(item),
                None => Ok(()),
            }
        },
    )?;
    let elapsed = reporter.finish();
    let xml_bytes = progress.xml_bytes();
    match sink {
        Sink::Part(writer) => {
            let items = writer.finish()?;
            if !quiet {
                tracing::info!(part = %args.out.display(), items, seconds = format!("{:.2}", elapsed.as_secs_f64()), "part written");
            }
        }
        Sink::Index(writer) => {
            let summary = writer.finish().context("failed to finish the index")?;
            if !quiet {
                report(&summary, xml_bytes, progress.bytes_read(), stats.skipped);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `fraser merge`.
pub fn merge(args: &MergeArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let mut readers = args
        .parts
        .iter()
        .map(|path| PartReader::open(path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    readers.sort_by_key(|r| r.header().part);
    let n = readers
        .first()
        .context("no part files given")?
        .header()
        .parts;
    let metadata = readers[0].header().metadata.clone();
    for (expected, reader) in (1..).zip(&readers) {
        let header = reader.header();
        if header.parts != n || header.part != expected {
            bail!(
                "{}: part {}/{} does not fit: expected part {expected} of {n} (give every part exactly once)",
                reader.path().display(),
                header.part,
                header.parts
            );
        }
        if header.metadata != metadata {
            bail!(
                "{}: comes from another dump or other options than {}",
                reader.path().display(),
                readers[0].path().display()
            );
        }
    }
    if readers.len() as u32 != n {
        bail!(
            "{} part files given, the parts say there are {n}",
            readers.len()
        );
    }
    let mut writer = builder(&args.out, args.shard_size, args.memory, metadata)
        .start()
        .with_context(|| format!("failed to start the index at {}", args.out.display()))?;
    let mut items = 0u64;
    for reader in &mut readers {
        while let Some(item) = reader.next_item()? {
            add(&mut writer, item)?;
            items += 1;
        }
    }
    let summary = writer.finish().context("failed to finish the index")?;
    if !quiet {
        tracing::info!(parts = n, items, "parts merged");
        report(&summary, 0, 0, 0);
    }
    Ok(ExitCode::SUCCESS)
}

fn builder(
    out: &Path,
    shard_size: u64,
    memory: u64,
    metadata: serde_json::Value,
) -> index::IndexBuilder {
    index::IndexBuilder::new(out)
        .shard_size(shard_size)
        .memory_budget(memory)
        .metadata(metadata)
}

fn report(summary: &index::BuildSummary, xml_bytes: u64, input_bytes: u64, skipped: u64) {
    let seconds = summary.seconds.max(1e-9);
    tracing::info!(
        out = %summary.path.display(),
        articles = summary.counts.articles,
        redirects = summary.counts.redirects,
        shards = summary.counts.shards,
        bytes = summary.bytes,
        skipped_pages = skipped,
        input_bytes,
        seconds = format!("{seconds:.2}"),
        xml_mb_per_sec = format!("{:.1}", xml_bytes as f64 / seconds / 1e6),
        "index built"
    );
}

/// The build metadata written into the manifest (no timestamps: builds are reproducible).
fn metadata(input: &dump::Input, site: &dump::SiteInfo, lang: &str) -> serde_json::Value {
    let (file, size) = match input {
        dump::Input::Path(path) => (
            path.file_name().map(|n| n.to_string_lossy().into_owned()),
            std::fs::metadata(path).ok().map(|m| m.len()),
        ),
        dump::Input::Stdin => (None, None),
    };
    serde_json::json!({
        "source": {
            "file": file,
            "size": size,
            "dbname": site.dbname,
            "sitename": site.sitename,
            "base": site.base,
            "generator": site.generator,
            "lang": lang,
        },
        "producer": concat!("fraser ", env!("CARGO_PKG_VERSION")),
    })
}

/// Parses `I/N` (1-based).
fn parse_part(text: &str) -> anyhow::Result<(u32, u32)> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?)));
    match parsed {
        Some((i, n)) if i >= 1 && i <= n => Ok((i, n)),
        _ => bail!("--part must be I/N with 1 <= I <= N (e.g. 3/8), got {text:?}"),
    }
}

enum Sink {
    Index(Box<index::IndexWriter>),
    Part(PartWriter),
}

impl Sink {
    fn add(&mut self, item: BuildItem) -> anyhow::Result<()> {
        match self {
            Sink::Index(writer) => add(writer, item),
            Sink::Part(writer) => writer.push(&item),
        }
    }
}

fn add(writer: &mut index::IndexWriter, item: BuildItem) -> anyhow::Result<()> {
    match item {
        BuildItem::Article {
            record,
            title,
            title_key,
            terms,
            words,
            anchors,
        } => {
            let id = record.id();
            writer
                .add_article_flat(index::FlatArticleInput {
                    record,
                    title_key: &title_key,
                    terms: terms.counts(),
                    folded_sentences: words.sentences(),
                    anchors: anchors.pairs(),
                })
                .with_context(|| format!("failed to add article {id} ({title})"))
        }
        BuildItem::Redirect {
            title,
            key,
            target_key,
        } => writer
            .add_redirect(&title, &key, &target_key)
            .with_context(|| format!("failed to add redirect {title}")),
    }
}

#[derive(Default)]
struct PageStats {
    skipped: u64,
}

struct Analysis {
    parser: nlp::Parser,
    analyzer: nlp::Analyzer,
}

impl Analysis {
    /// Turns one page into its build item (None for pages outside namespace 0);
    /// the flag says the page timed out and was stored empty.
    fn item(&self, page: &dump::Page) -> anyhow::Result<(Option<BuildItem>, bool)> {
        if page.ns != 0 {
            return Ok((None, false));
        }
        if let Some(target) = &page.redirect {
            let item = BuildItem::Redirect {
                title: page.title.clone(),
                key: nlp::fold(&page.title),
                target_key: nlp::fold(target),
            };
            return Ok((Some(item), false));
        }
        let (article, warnings) = self.parser.parse(&page.title, &page.text);
        let skipped = warnings.iter().any(|w| {
            matches!(
                w,
                nlp::Warning::Timeout { .. } | nlp::Warning::TooDeep { .. }
            )
        });
        Ok((Some(self.article_item(page, &article)?), skipped))
    }

    /// The build item of an article: the sentences are borrowed from the
    /// analyzer one by one with the numbers of their words and stems, which
    /// count the stems (on this worker thread, so the index writer sees each
    /// distinct stem once) and number the article's distinct folded words
    /// without a lookup per word; nothing is allocated per word.
    fn article_item(&self, page: &dump::Page, article: &nlp::Article) -> anyhow::Result<BuildItem> {
        let mut anchors = ArticleAnchors::default();
        let mut anchor_joined = String::new();
        // The record is encoded as the sentences come, section by section
        // (those without sentences too).
        let sections = &article.sections;
        let mut record = index::RecordEncoder::new(page.id, &page.title, sections.len());
        let mut next_section = 0;
        let mut start_sections_to = |record: &mut index::RecordEncoder, end: usize| {
            for section in sections.get(next_section..end).unwrap_or_default() {
                record.section(&section.heading, section.level);
            }
            next_section = next_section.max(end);
        };
        let mut stems = StemCounter::default();
        let mut words = WordTable::default();
        self.analyzer.for_each_sentence_of(
            sections,
            nlp::AnalyzeOptions::INDEX,
            |section, sentence| {
                start_sections_to(&mut record, section + 1);
                for link in sentence.links() {
                    let anchor = sentence
                        .text
                        .get(link.start as usize..link.end as usize)
                        .unwrap_or_default();
                    anchors.push(anchor, link.target, &mut anchor_joined);
                }
                words.add_sentence(sentence);
                stems.add_sentence(sentence);
                record.sentence(
                    sentence.text,
                    block_kind(sentence.kind),
                    sentence
                        .links()
                        .map(|link| (link.start, link.end, link.target)),
                );
            },
        );
        start_sections_to(&mut record, sections.len());
        let record = record
            .finish(&article.bold)
            .with_context(|| format!("failed to add article {} ({})", page.id, page.title))?;
        Ok(BuildItem::Article {
            record,
            title: page.title.clone(),
            title_key: nlp::fold(&page.title),
            terms: stems.terms,
            words: words.table,
            anchors,
        })
    }
}

/// An article's links as (folded anchor, folded target title) pairs in one
/// buffer: what [`index::AnchorPairs`] borrows.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ArticleAnchors {
    /// Anchor, target, anchor, target... back to back.
    text: String,
    /// The end offset of each anchor and target in `text`.
    ends: Vec<u32>,
}

impl ArticleAnchors {
    /// Appends a link: the alias key of its anchor text and the fold of its
    /// target (`joined` is scratch space).
    fn push(&mut self, anchor: &str, target: &str, joined: &mut String) {
        phrase_key_into(anchor, joined, &mut self.text);
        self.ends.push(self.text.len() as u32);
        nlp::fold_into(target, &mut self.text);
        self.ends.push(self.text.len() as u32);
    }

    fn pairs(&self) -> index::AnchorPairs<'_> {
        index::AnchorPairs {
            text: &self.text,
            ends: &self.ends,
        }
    }
}

/// An article's distinct stems (in order of first occurrence) with the
/// number of sentences holding each: what [`index::TermCounts`] borrows.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ArticleTerms {
    /// The stems, back to back.
    text: String,
    /// The end offset of each stem in `text`.
    ends: Vec<u32>,
    /// Per stem, the number of sentences holding it.
    sentences: Vec<u32>,
}

impl ArticleTerms {
    fn counts(&self) -> index::TermCounts<'_> {
        index::TermCounts {
            text: &self.text,
            ends: &self.ends,
            sentences: &self.sentences,
        }
    }
}

/// An article's folded sentences as a table of its distinct non-empty
/// folded words and each sentence as indexes into it: what
/// [`index::FoldedSentences`] borrows.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ArticleWords {
    /// The words, back to back.
    words: String,
    /// The end offset of each word in `words`.
    word_ends: Vec<u32>,
    /// The words of every sentence, in order, as indexes into `word_ends`.
    sequence: Vec<u32>,
    /// The length of `sequence` up to and including each sentence.
    sentence_ends: Vec<u32>,
}

impl ArticleWords {
    fn sentences(&self) -> index::FoldedSentences<'_> {
        index::FoldedSentences {
            words: &self.words,
            word_ends: &self.word_ends,
            sequence: &self.sequence,
            sentence_ends: &self.sentence_ends,
        }
    }
}

/// Builds an article's [`ArticleWords`] by the word numbers of
/// [`nlp::SentenceRef::word_ids`] (0, 1, ... in order of first occurrence),
/// folding nothing itself: a new word's fold comes from the analyzer.
#[derive(Default)]
struct WordTable {
    table: ArticleWords,
    /// Per word number, its index in the table, or [`FOLDS_TO_NOTHING`].
    index_of: Vec<u32>,
}

/// [`WordTable::index_of`] of a word whose fold is empty (left out, as
/// joining the folds of a sentence leaves it out).
const FOLDS_TO_NOTHING: u32 = u32::MAX;

impl WordTable {
    /// Appends a sentence's words.
    fn add_sentence(&mut self, sentence: &nlp::SentenceRef<'_>) {
        for &id in sentence.word_ids() {
            self.add(id, || sentence.folded_word(id));
        }
        self.table
            .sentence_ends
            .push(self.table.sequence.len() as u32);
    }

    /// Appends word number `id` to the current sentence; `fold` gives its
    /// fold if the word is new.
    fn add<'f>(&mut self, id: u32, fold: impl FnOnce() -> &'f str) {
        let table = &mut self.table;
        let index = match self.index_of.get(id as usize) {
            Some(&index) => index,
            None => {
                // A new word: numbers come in order of first occurrence.
                debug_assert_eq!(id as usize, self.index_of.len());
                let folded = fold();
                let index = if folded.is_empty() {
                    FOLDS_TO_NOTHING
                } else {
                    table.words.push_str(folded);
                    table.word_ends.push(table.words.len() as u32);
                    table.word_ends.len() as u32 - 1
                };
                self.index_of.push(index);
                index
            }
        };
        if index != FOLDS_TO_NOTHING {
            table.sequence.push(index);
        }
    }
}

/// Counts in how many sentences of an article each distinct stem occurs, by
/// the stem numbers of [`nlp::SentenceRef::stem_ids`] (0, 1, ... in order of
/// first occurrence, so a stem's number is its slot): what
/// [`index::TermCounter`] gives, with no lookup per word.
#[derive(Default)]
struct StemCounter {
    terms: ArticleTerms,
    /// Per slot, the last sentence (1-based) the stem was counted in.
    seen_in: Vec<u32>,
    sentence: u32,
}

impl StemCounter {
    /// Counts a sentence's stems.
    fn add_sentence(&mut self, sentence: &nlp::SentenceRef<'_>) {
        for &id in sentence.stem_ids() {
            self.add(id, || sentence.stem(id));
        }
        self.sentence += 1;
    }

    /// Counts stem number `id` in the current sentence; `stem` gives its
    /// text if the number is new.
    fn add<'s>(&mut self, id: u32, stem: impl FnOnce() -> &'s str) {
        let sentence = self.sentence + 1;
        let slot = id as usize;
        let terms = &mut self.terms;
        if slot < terms.sentences.len() {
            if self.seen_in[slot] != sentence {
                self.seen_in[slot] = sentence;
                terms.sentences[slot] += 1;
            }
        } else {
            // A new stem: numbers come in order of first occurrence.
            debug_assert_eq!(slot, terms.sentences.len());
            terms.sentences.push(1);
            self.seen_in.push(sentence);
            terms.text.push_str(stem());
            terms.ends.push(terms.text.len() as u32);
        }
    }
}

/// The folded form of a phrase used for aliases: its tokens, folded, joined by spaces.
pub fn phrase_key(text: &str) -> String {
    let mut joined = String::new();
    let mut key = String::new();
    phrase_key_into(text, &mut joined, &mut key);
    key
}

/// Appends [`phrase_key`]`(text)` to `out`, with `joined` as scratch space
/// (cleared first), so that a key costs no allocation beyond `out`'s.
pub fn phrase_key_into(text: &str, joined: &mut String, out: &mut String) {
    // Most anchors are ASCII letters and digits between spaces: then the
    // words are the runs between spaces (a run of ASCII letters and digits
    // is one word by UAX #29) and folding only lowercases them.
    if text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ') {
        for (i, word) in text.split_ascii_whitespace().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let at = out.len();
            out.push_str(word);
            out[at..].make_ascii_lowercase();
        }
        return;
    }
    joined.clear();
    nlp::push_tokens_joined(text, joined);
    nlp::fold_into(joined, out);
}

fn block_kind(kind: nlp::BlockKind) -> u8 {
    match kind {
        nlp::BlockKind::Paragraph => 0,
        nlp::BlockKind::ListItem => 1,
        nlp::BlockKind::Caption => 2,
        nlp::BlockKind::TableCell => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_parse() {
        assert_eq!(parse_part("3/8").unwrap(), (3, 8));
        assert!(parse_part("0/8").is_err());
        assert!(parse_part("9/8").is_err());
        assert!(parse_part("x").is_err());
    }

    #[test]
    fn stem_counter_counts_as_the_term_counter_does() {
        let stems = ["snow", "is", "white", "coal", "black", "the"];
        let mut seed = 11u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        for round in 0..50 {
            // Stems are numbered in order of first occurrence in each
            // article, as the analyzer numbers them.
            let mut counter = StemCounter::default();
            let mut numbers: Vec<usize> = Vec::new();
            let mut expected = index::TermCounter::new();
            for _ in 0..next(8) {
                for _ in 0..next(10) {
                    let k = next(stems.len());
                    let id = match numbers.iter().position(|&n| n == k) {
                        Some(id) => id,
                        None => {
                            numbers.push(k);
                            numbers.len() - 1
                        }
                    };
                    counter.add(id as u32, || stems[k]);
                    expected.add(stems[k]);
                }
                counter.sentence += 1;
                expected.end_sentence();
            }
            let ArticleTerms {
                text,
                ends,
                sentences,
            } = counter.terms;
            assert_eq!((text, ends, sentences), expected.take(), "round {round}");
        }
    }

    #[test]
    fn phrase_keys_of_plain_ascii_take_the_short_way_to_the_same_key() {
        let alphabet = [
            "a", "Z", "0", "9", " ", "  ", "Ab", "x1", "1x", "42", "é", "-",
        ];
        let mut seed = 5u64;
        for _ in 0..2000 {
            let mut text = String::new();
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            for _ in 0..(seed >> 60) {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                // Mostly the plain-ASCII alphabet, sometimes a character that
                // takes the long way.
                let n = if seed >> 63 == 0 { 10 } else { alphabet.len() };
                text.push_str(alphabet[(seed >> 33) as usize % n]);
            }
            let tokens: Vec<String> = nlp::tokenize(&text).into_iter().map(|t| t.text).collect();
            assert_eq!(phrase_key(&text), nlp::fold(&tokens.join(" ")), "{text:?}");
        }
    }

    #[test]
    fn phrase_keys_match_folded_sentences() {
        assert_eq!(
            phrase_key("Abraham  Lincoln's"),
            nlp::fold("abraham lincoln's")
        );
        assert_eq!(phrase_key("Éire"), "eire");
        let mut joined = String::from("stale");
        let mut out = String::from("x|");
        phrase_key_into("Abraham  Lincoln's", &mut joined, &mut out);
        assert_eq!(out, format!("x|{}", phrase_key("Abraham  Lincoln's")));
    }
}
