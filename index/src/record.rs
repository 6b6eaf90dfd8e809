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

/// An [`ArticleRecord`] encoded as its shard stores it, with the few fields
/// the writer reads besides the bytes.
///
/// Made with [`EncodedRecord::new`] where the record is built (a worker
/// thread), so that the record's many strings are freed where they were
/// allocated and the index writer only moves bytes. Serializable, so that it
/// can travel in a part file; a deserialized value is trusted to be what
/// `new` made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodedRecord {
    id: u64,
    /// `n_sentences` and `n_links` as the record states them.
    n_sentences: u32,
    n_links: u32,
    /// The number of sentences the record holds.
    sentences: u32,
    #[serde(with = "bytes")]
    bytes: Vec<u8>,
}

impl EncodedRecord {
    /// Encodes `record`; errors with [`crate::Error::InvalidInput`] when it
    /// is larger than a block may be.
    pub fn new(record: &ArticleRecord) -> crate::Result<EncodedRecord> {
        let bytes = postcard::to_stdvec(record).map_err(|e| {
            crate::Error::invalid(format!("article {}: encoding failed: {e}", record.id))
        })?;
        if bytes.len() > crate::block::MAX_BLOCK_LEN as usize {
            return Err(crate::Error::invalid(format!(
                "article {}: record of {} bytes is too large",
                record.id,
                bytes.len()
            )));
        }
        Ok(EncodedRecord {
            id: record.id,
            n_sentences: record.n_sentences,
            n_links: record.n_links,
            sentences: u32::try_from(record.sentences().count()).unwrap_or(u32::MAX),
            bytes,
        })
    }

    /// The article's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The record's `n_sentences` field.
    pub fn n_sentences(&self) -> u32 {
        self.n_sentences
    }

    /// The record's `n_links` field.
    pub fn n_links(&self) -> u32 {
        self.n_links
    }

    /// The number of sentences the record holds.
    pub(crate) fn sentence_count(&self) -> usize {
        self.sentences as usize
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Serde of a byte vector as bytes (not as a sequence of numbers).
mod bytes {
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        deserializer.deserialize_byte_buf(Visitor)
    }
}
