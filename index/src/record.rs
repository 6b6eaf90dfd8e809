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

use crate::footer::put_varint;

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
        EncodedRecord::from_bytes(
            record.id,
            record.n_sentences,
            record.n_links,
            u32::try_from(record.sentences().count()).unwrap_or(u32::MAX),
            bytes,
        )
    }

    /// The encoded record of the given fields and bytes; errors when it is
    /// larger than a block may be.
    fn from_bytes(
        id: u64,
        n_sentences: u32,
        n_links: u32,
        sentences: u32,
        bytes: Vec<u8>,
    ) -> crate::Result<EncodedRecord> {
        if bytes.len() > crate::block::MAX_BLOCK_LEN as usize {
            return Err(crate::Error::invalid(format!(
                "article {id}: record of {} bytes is too large",
                bytes.len()
            )));
        }
        Ok(EncodedRecord {
            id,
            n_sentences,
            n_links,
            sentences,
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

/// Writes an [`EncodedRecord`] from borrowed parts, in order, with the same
/// bytes as [`EncodedRecord::new`] of the [`ArticleRecord`] they make, and
/// without building that record: no string is copied but into the output.
///
/// Call [`RecordEncoder::section`] for every section in order (the number
/// given to [`RecordEncoder::new`]), each followed by its sentences
/// ([`RecordEncoder::sentence`]), then [`RecordEncoder::finish`]. The
/// record's `n_sentences` and `n_links` are the counts of what was given.
///
/// ```
/// let mut encoder = index::RecordEncoder::new(7, "Albedo", 1);
/// encoder.section("", 1);
/// encoder.sentence("Albedo is reflectivity.", 0, [(10, 22, "Reflectivity")]);
/// let record = index::ArticleRecord {
///     id: 7,
///     title: "Albedo".into(),
///     sections: vec![index::SectionRecord {
///         heading: String::new(),
///         level: 1,
///         sentences: vec![index::SentenceRecord {
///             text: "Albedo is reflectivity.".into(),
///             kind: 0,
///             links: vec![index::LinkRecord { start: 10, end: 22, target: "Reflectivity".into() }],
///         }],
///     }],
///     bold: vec!["Albedo".into()],
///     n_sentences: 1,
///     n_links: 1,
/// };
/// assert_eq!(
///     encoder.finish(&["Albedo".to_string()]).unwrap(),
///     index::EncodedRecord::new(&record).unwrap()
/// );
/// ```
#[derive(Debug)]
pub struct RecordEncoder {
    id: u64,
    /// The record so far: the fields before the sections, then each
    /// section once the next one starts.
    out: Vec<u8>,
    /// The sections announced and the sections started.
    n_sections: usize,
    sections: usize,
    /// The current section's heading and level, and its sentences so far.
    heading: Vec<u8>,
    sentences: Vec<u8>,
    section_sentences: u64,
    n_sentences: u32,
    n_links: u32,
    /// The current sentence's links.
    links: Vec<u8>,
    scratch: String,
}

impl RecordEncoder {
    /// Starts the record of article `id` titled `title`, with `n_sections` sections.
    pub fn new(id: u64, title: &str, n_sections: usize) -> RecordEncoder {
        let mut out = Vec::new();
        put_varint(&mut out, id);
        put_str(&mut out, title);
        put_varint(&mut out, n_sections as u64);
        RecordEncoder {
            id,
            out,
            n_sections,
            sections: 0,
            heading: Vec::new(),
            sentences: Vec::new(),
            section_sentences: 0,
            n_sentences: 0,
            n_links: 0,
            links: Vec::new(),
            scratch: String::new(),
        }
    }

    /// Starts the next section.
    pub fn section(&mut self, heading: &str, level: u8) {
        self.end_section();
        self.sections += 1;
        put_str(&mut self.heading, heading);
        self.heading.push(level);
    }

    /// Appends a sentence to the current section, with its links as
    /// (start, end, target), as in [`LinkRecord`].
    pub fn sentence<'l>(
        &mut self,
        text: &str,
        kind: u8,
        links: impl IntoIterator<Item = (u32, u32, &'l str)>,
    ) {
        // The links go to a buffer first: their number comes before them.
        self.links.clear();
        let mut n_links = 0u64;
        let mut last_end = 0u32;
        for (start, end, target) in links {
            let out = &mut self.links;
            put_varint(out, zigzag(i64::from(start) - i64::from(last_end)));
            put_varint(out, zigzag(i64::from(end) - i64::from(start)));
            last_end = end;
            let anchor = anchor(text, start, end);
            put_str(out, &encode_target(target, anchor, &mut self.scratch));
            n_links += 1;
        }
        let out = &mut self.sentences;
        put_str(out, text);
        out.push(kind);
        put_varint(out, n_links);
        out.extend_from_slice(&self.links);
        self.section_sentences += 1;
        self.n_sentences = self.n_sentences.saturating_add(1);
        self.n_links = self
            .n_links
            .saturating_add(u32::try_from(n_links).unwrap_or(u32::MAX));
    }

    /// Ends the record with the article's bold names. Errors with
    /// [`crate::Error::InvalidInput`] when a sentence came before the first
    /// section, the number of sections is not the one announced, or the
    /// record is larger than a block may be.
    pub fn finish(mut self, bold: &[String]) -> crate::Result<EncodedRecord> {
        if self.sections == 0 && self.section_sentences > 0 {
            return Err(crate::Error::invalid(format!(
                "article {}: a sentence before the first section",
                self.id
            )));
        }
        self.end_section();
        if self.sections != self.n_sections {
            return Err(crate::Error::invalid(format!(
                "article {}: {} sections announced, {} given",
                self.id, self.n_sections, self.sections
            )));
        }
        let out = &mut self.out;
        put_varint(out, bold.len() as u64);
        for name in bold {
            put_str(out, name);
        }
        put_varint(out, u64::from(self.n_sentences));
        put_varint(out, u64::from(self.n_links));
        EncodedRecord::from_bytes(
            self.id,
            self.n_sentences,
            self.n_links,
            self.n_sentences,
            self.out,
        )
    }

    /// Moves the current section, if any, into the output.
    fn end_section(&mut self) {
        if self.sections == 0 {
            return;
        }
        self.out.append(&mut self.heading);
        put_varint(&mut self.out, self.section_sentences);
        self.out.append(&mut self.sentences);
        self.section_sentences = 0;
    }
}

/// Writes `text` as postcard does: its length (varint), then its bytes.
fn put_str(out: &mut Vec<u8>, text: &str) {
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
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

    /// Encodes `record` with a [`RecordEncoder`].
    fn encode_in_parts(record: &ArticleRecord) -> crate::Result<EncodedRecord> {
        let mut encoder = RecordEncoder::new(record.id, &record.title, record.sections.len());
        for section in &record.sections {
            encoder.section(&section.heading, section.level);
            for sentence in &section.sentences {
                let links = (sentence.links.iter()).map(|l| (l.start, l.end, l.target.as_str()));
                encoder.sentence(&sentence.text, sentence.kind, links);
            }
        }
        encoder.finish(&record.bold)
    }

    fn arb_text() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::collection::vec(
            proptest::sample::select(vec!["", "a", "B", " ", "É", "é", "\0", "\u{1}", "ß", "x y"]),
            0..6,
        )
        .prop_map(|parts| parts.concat())
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_encoder_writes_what_postcard_writes(
            id in any::<u64>(),
            title in arb_text(),
            sections in proptest::collection::vec(
                (arb_text(), any::<u8>(), proptest::collection::vec(
                    (arb_text(), any::<u8>(), proptest::collection::vec(
                        (0u32..12, 0u32..12, arb_text(), any::<bool>()), 0..4)),
                    0..4)),
                0..4),
            bold in proptest::collection::vec(arb_text(), 0..3),
        ) {
            let mut n_links = 0;
            let sections: Vec<SectionRecord> = sections
                .into_iter()
                .map(|(heading, level, sentences)| SectionRecord {
                    heading,
                    level,
                    sentences: sentences
                        .into_iter()
                        .map(|(text, kind, links)| SentenceRecord {
                            links: links
                                .into_iter()
                                .map(|(start, end, target, from_anchor)| {
                                    n_links += 1;
                                    // Targets the stored form shortens: the anchor
                                    // itself, or with its first letter in upper case.
                                    let target = match (from_anchor, anchor(&text, start, end)) {
                                        (true, a) if target.is_empty() => a.to_string(),
                                        (true, a) => {
                                            let mut upper = String::new();
                                            upper_first(a, &mut upper);
                                            upper
                                        }
                                        (false, _) => target,
                                    };
                                    LinkRecord { start, end, target }
                                })
                                .collect(),
                            text,
                            kind,
                        })
                        .collect(),
                })
                .collect();
            let record = ArticleRecord {
                id,
                title,
                n_sentences: sections.iter().map(|s| s.sentences.len() as u32).sum(),
                sections,
                bold,
                n_links,
            };
            let expected = EncodedRecord::new(&record).unwrap();
            prop_assert_eq!(encode_in_parts(&record).unwrap(), expected);
        }
    }

    #[test]
    fn the_encoder_rejects_a_wrong_number_of_sections() {
        let mut encoder = RecordEncoder::new(1, "T", 2);
        encoder.section("", 1);
        assert!(encoder.finish(&[]).is_err());
        let mut encoder = RecordEncoder::new(1, "T", 0);
        encoder.sentence("A sentence.", 0, []);
        assert!(encoder.finish(&[]).is_err());
        let mut encoder = RecordEncoder::new(1, "T", 1);
        encoder.section("", 1);
        encoder.section("B", 2);
        assert!(encoder.finish(&[]).is_err());
    }
}
