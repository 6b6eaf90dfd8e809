//! The article records stored in shards (postcard-encoded).
//!
//! The field order is part of the on-disk format: postcard encodes fields in
//! declaration order without names, so adding, removing or reordering a field
//! needs a new [`crate::FORMAT_VERSION`].

use serde::{Deserialize, Serialize};

/// One article as stored in a shard.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleRecord {
    /// The page id from the dump; unique in an index.
    pub id: u64,
    /// The title as written.
    pub title: String,
    /// The sections in document order (the lead section first, with an empty heading).
    pub sections: Vec<SectionRecord>,
    /// The article's own bold names (usually the title and its variants in the lead).
    pub bold: Vec<String>,
    /// Number of sentences over all sections.
    pub n_sentences: u32,
    /// Number of links over all sentences.
    pub n_links: u32,
}

/// One section of an article.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionRecord {
    /// The heading text (empty for the lead).
    pub heading: String,
    /// The heading level (1 for the lead, 2 for `== h ==`, ...).
    pub level: u8,
    /// The sentences in document order.
    pub sentences: Vec<SentenceRecord>,
}

/// One sentence with its links.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceRecord {
    /// The clean text.
    pub text: String,
    /// 0 paragraph, 1 list item, 2 caption, 3 table cell.
    pub kind: u8,
    /// The links, as byte spans of `text`.
    pub links: Vec<LinkRecord>,
}

/// A link inside a sentence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRecord {
    /// Start byte offset of the anchor in the sentence text.
    pub start: u32,
    /// End byte offset (exclusive) of the anchor in the sentence text.
    pub end: u32,
    /// The target title as written (the caller folds it for lookups).
    pub target: String,
}

impl ArticleRecord {
    /// Iterates over the sentences of all sections in document order; the
    /// position in this iteration is the sentence ordinal used by [`crate::Hit`].
    pub fn sentences(&self) -> impl Iterator<Item = &SentenceRecord> {
        self.sections
            .iter()
            .flat_map(|section| section.sentences.iter())
    }

    /// Returns the sentence with the given ordinal.
    pub fn sentence(&self, ordinal: u32) -> Option<&SentenceRecord> {
        self.sentences().nth(ordinal as usize)
    }
}
