//! Fraser's immutable index directory: the on-disk format, the writer and the
//! lazy reader.
//!
//! The crate knows nothing of wikitext, HTTP or SQL: it stores the article
//! records it is given, under keys the caller has already folded, and builds
//! cross-article lookups (titles, redirects, in-links, aliases, terms).
//!
//! Layers (fst/tantivy style):
//! - raw format: `footer` (magic, version, CRC32 footer), `block` (zstd blocks
//!   with CRCs), `storage` (mmap, pread or memory);
//! - files: [`Shard`] (records + title fst), lexicons (fst + checksummed lists),
//!   tables (`ids`, `inlinks`);
//! - [`Index`] (reader: a manifest plus lazily opened files) and
//!   [`IndexBuilder`]/[`IndexWriter`] (writer with bounded-memory sorted runs).
//!
//! The format is specified in the "On-disk format" section of the workspace `ARCHITECTURE.md`.
//!
//! ```
//! use index::{ArticleInput, ArticleRecord, Index, IndexBuilder, SectionRecord, SentenceRecord};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("idx");
//! let mut writer = IndexBuilder::new(&path).start()?;
//! let record = ArticleRecord {
//!     id: 7,
//!     title: "Ada Lovelace".into(),
//!     sections: vec![SectionRecord {
//!         heading: String::new(),
//!         level: 1,
//!         sentences: vec![SentenceRecord { text: "Ada Lovelace was a mathematician.".into(), kind: 0, links: vec![] }],
//!     }],
//!     bold: vec!["Ada Lovelace".into()],
//!     n_sentences: 1,
//!     n_links: 0,
//! };
//! writer.add_article(ArticleInput {
//!     record: &record,
//!     title_key: "ada lovelace",
//!     sentence_stems: &[vec!["ada".into(), "lovelac".into(), "mathematician".into()]],
//!     folded_sentences: &["ada lovelace was a mathematician".into()],
//!     anchors: &[],
//! })?;
//! writer.add_redirect("Lady Lovelace", "lady lovelace", "ada lovelace")?;
//! writer.finish()?;
//!
//! let index = Index::open(&path)?;
//! assert_eq!(index.title("lady lovelace")?, Some(7));
//! assert_eq!(index.article(7)?.unwrap().title, "Ada Lovelace");
//! let stem = |text: &str| -> Vec<String> {
//!     text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
//!         .map(|w| w.strip_suffix('e').unwrap_or(w).to_string()).collect()
//! };
//! let hits = index.search(&["mathematician".into()], 10, stem)?;
//! assert_eq!((hits[0].id, hits[0].sentence), (7, 0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

mod block;
mod cache;
mod error;
mod footer;
mod index;
mod intern;
mod lexicon;
mod manifest;
mod postings;
mod record;
mod shard;
mod spill;
mod storage;
mod table;
mod terms;
mod writer;

pub use error::{Error, Result};
pub use footer::FORMAT_VERSION;
pub use index::{Candidate, Hit, Index, Mention, OpenOptions, RandomFilter, Stats, VerifyReport};
pub use manifest::{BuildOptions, Counts, DictionaryEntry, FileEntry, MANIFEST_FILE, Manifest};
pub use record::{
    ArticleRecord, EncodedRecord, LinkRecord, RecordEncoder, SectionRecord, SentenceRecord,
};
pub use shard::Shard;
pub use writer::{
    AnchorPairs, ArticleInput, BuildSummary, FlatArticleInput, FoldedSentences, IndexBuilder,
    IndexWriter, TermCounter, TermCounts,
};
