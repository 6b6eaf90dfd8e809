//! The article records stored in shards.
//!
//! A shard stores a record as the postcard encoding of its stored form, which
//! is [`ArticleRecord`] with each link written as (start minus the previous
//! link's end in the sentence, end minus start, both zigzag; target), the
//! target shortened when the anchor text gives it (see [`encode_target`]).
//! The field order is part of the on-disk format: postcard encodes fields in
//! declaration order without names, so adding, removing or reordering a field
//! needs a new [`crate::FORMAT_VERSION`].

use std::borrow::Cow;

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
        let bytes = postcard::to_stdvec(&stored(record)).map_err(|e| {
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
pub(crate) mod bytes {
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer, T: AsRef<[u8]>>(
        bytes: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes.as_ref())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
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

/// A link target equal to its anchor text is stored as "".
const TARGET_IS_ANCHOR: &str = "";
/// A link target equal to its anchor text with the first letter in upper
/// case (`[[political philosophy]]` -> "Political philosophy") is stored as this.
const TARGET_IS_UPPER_ANCHOR: &str = "\u{1}";
/// Any other target that is empty or starts with `\0` or `\1` is stored with
/// this in front.
const TARGET_ESCAPE: char = '\0';

/// The anchor text a link's span gives (empty if the span is not one).
fn anchor(text: &str, start: u32, end: u32) -> &str {
    text.get(start as usize..end as usize).unwrap_or_default()
}

/// `text` with its first character in upper case.
fn upper_first(text: &str, out: &mut String) {
    out.clear();
    let mut chars = text.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_uppercase());
        out.push_str(chars.as_str());
    }
}

/// The stored form of a link target (see the constants above).
fn encode_target<'a>(target: &'a str, anchor: &str, scratch: &mut String) -> Cow<'a, str> {
    if target == anchor {
        return Cow::Borrowed(TARGET_IS_ANCHOR);
    }
    upper_first(anchor, scratch);
    if !anchor.is_empty() && target == scratch {
        return Cow::Borrowed(TARGET_IS_UPPER_ANCHOR);
    }
    if target.is_empty() || target.starts_with(['\0', '\u{1}']) {
        let mut escaped = String::with_capacity(target.len() + 1);
        escaped.push(TARGET_ESCAPE);
        escaped.push_str(target);
        return Cow::Owned(escaped);
    }
    Cow::Borrowed(target)
}

/// The target a stored link target stands for.
fn decode_target(stored: String, anchor: &str) -> String {
    if stored == TARGET_IS_ANCHOR {
        anchor.to_string()
    } else if stored == TARGET_IS_UPPER_ANCHOR {
        let mut out = String::new();
        upper_first(anchor, &mut out);
        out
    } else if let Some(rest) = stored.strip_prefix(TARGET_ESCAPE) {
        rest.to_string()
    } else {
        stored
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// The stored form of a record, borrowing from it.
#[derive(Serialize)]
struct StoredRecord<'a> {
    id: u64,
    title: &'a str,
    sections: Vec<StoredSection<'a>>,
    bold: &'a [String],
    n_sentences: u32,
    n_links: u32,
}

#[derive(Serialize)]
struct StoredSection<'a> {
    heading: &'a str,
    level: u8,
    sentences: Vec<StoredSentence<'a>>,
}

#[derive(Serialize)]
struct StoredSentence<'a> {
    text: &'a str,
    kind: u8,
    links: Vec<(u64, u64, Cow<'a, str>)>,
}

/// The stored form of `record`.
fn stored(record: &ArticleRecord) -> StoredRecord<'_> {
    let mut scratch = String::new();
    StoredRecord {
        id: record.id,
        title: &record.title,
        sections: record
            .sections
            .iter()
            .map(|section| StoredSection {
                heading: &section.heading,
                level: section.level,
                sentences: section
                    .sentences
                    .iter()
                    .map(|sentence| {
                        let mut last_end = 0u32;
                        let links = sentence
                            .links
                            .iter()
                            .map(|link| {
                                let start = i64::from(link.start) - i64::from(last_end);
                                let len = i64::from(link.end) - i64::from(link.start);
                                last_end = link.end;
                                let anchor = anchor(&sentence.text, link.start, link.end);
                                (
                                    zigzag(start),
                                    zigzag(len),
                                    encode_target(&link.target, anchor, &mut scratch),
                                )
                            })
                            .collect();
                        StoredSentence {
                            text: &sentence.text,
                            kind: sentence.kind,
                            links,
                        }
                    })
                    .collect(),
            })
            .collect(),
        bold: &record.bold,
        n_sentences: record.n_sentences,
        n_links: record.n_links,
    }
}

/// The stored form as decoded.
#[derive(Deserialize)]
struct OwnedStoredRecord {
    id: u64,
    title: String,
    sections: Vec<OwnedStoredSection>,
    bold: Vec<String>,
    n_sentences: u32,
    n_links: u32,
}

#[derive(Deserialize)]
struct OwnedStoredSection {
    heading: String,
    level: u8,
    sentences: Vec<OwnedStoredSentence>,
}

#[derive(Deserialize)]
struct OwnedStoredSentence {
    text: String,
    kind: u8,
    links: Vec<(u64, u64, String)>,
}

/// Decodes a record as a shard stores it; `None` if the bytes are not one.
pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<ArticleRecord, String> {
    let stored: OwnedStoredRecord = postcard::from_bytes(bytes).map_err(|e| e.to_string())?;
    let bad = || "a link span is out of range".to_string();
    let mut sections = Vec::with_capacity(stored.sections.len());
    for section in stored.sections {
        let mut sentences = Vec::with_capacity(section.sentences.len());
        for sentence in section.sentences {
            let mut links = Vec::with_capacity(sentence.links.len());
            let mut last_end = 0u32;
            for (start, len, target) in sentence.links {
                let start =
                    u32::try_from(i64::from(last_end) + unzigzag(start)).map_err(|_| bad())?;
                let end = u32::try_from(i64::from(start) + unzigzag(len)).map_err(|_| bad())?;
                last_end = end;
                let target = decode_target(target, anchor(&sentence.text, start, end));
                links.push(LinkRecord { start, end, target });
            }
            sentences.push(SentenceRecord {
                text: sentence.text,
                kind: sentence.kind,
                links,
            });
        }
        sections.push(SectionRecord {
            heading: section.heading,
            level: section.level,
            sentences,
        });
    }
    Ok(ArticleRecord {
        id: stored.id,
        title: stored.title,
        sections,
        bold: stored.bold,
        n_sentences: stored.n_sentences,
        n_links: stored.n_links,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_links_round_trip() {
        let text = "Anarchism is a political philosophy of Éire and x.";
        let links = vec![
            (15u32, 35u32, "Political philosophy"),
            (15, 35, "political philosophy"),
            (39, 44, "Éire"),
            (39, 44, "ÉIRE"),
            (0, 9, ""),
            (0, 9, "\u{1}"),
            (0, 9, "\0x"),
            (10, 3, "Backwards"),
            (48, 200, "Out of range"),
            (48, 200, ""),
            (1, 2, "\u{1}"),
            (u32::MAX, 0, "Far"),
            (0, 0, ""),
            (0, 0, "\u{1}"),
        ];
        let record = ArticleRecord {
            id: 3,
            title: "Anarchism".into(),
            sections: vec![SectionRecord {
                heading: String::new(),
                level: 1,
                sentences: vec![SentenceRecord {
                    text: text.into(),
                    kind: 2,
                    links: links
                        .iter()
                        .map(|&(start, end, target)| LinkRecord {
                            start,
                            end,
                            target: target.into(),
                        })
                        .collect(),
                }],
            }],
            bold: vec!["Anarchism".into()],
            n_sentences: 1,
            n_links: links.len() as u32,
        };
        let encoded = EncodedRecord::new(&record).unwrap();
        assert_eq!(decode(encoded.bytes()).unwrap(), record);
        assert!(encoded.bytes().len() < postcard::to_stdvec(&record).unwrap().len());
        assert!(decode(&encoded.bytes()[..10]).is_err());
    }
}
