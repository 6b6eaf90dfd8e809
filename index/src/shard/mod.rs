//! One immutable shard: a zstd doc store of article records plus an fst map
//! from folded title key to record ordinal.
//!
//! ```text
//! header        "FRASERSH", version u32
//! blocks        zstd frames, each holding whole encoded records (`record.rs`)
//! meta section  block table    n_blocks  x (offset u64, compressed_len u32, uncompressed_len u32, crc32 u32)
//!               record table   n_records x (block u32, offset_in_block u32, len u32)
//!               fst map        fst_len bytes: folded title key -> ordinal
//! trailer       meta_offset u64, n_blocks u32, n_records u32, fst_len u64,
//!               dictionary_id u32 (0: none), meta_crc u32 (CRC32 of the meta
//!               section and the trailer bytes before meta_crc)
//! footer        crc32 u32 of everything before, "FEND"
//! ```
//!
//! Opening a shard checks the frame, the trailer, the meta CRC and every block
//! entry's bounds; reading a record checks its block's CRC. So every byte of the
//! file is covered by a check on the path that reads it, without hashing the
//! whole file on open (that is [`Shard::verify`]).

mod reader;
mod writer;

pub use reader::Shard;
pub(crate) use writer::ShardWriter;

/// Size of the fixed trailer.
pub(crate) const TRAILER_LEN: u64 = 32;
/// Size of one record table entry.
pub(crate) const RECORD_ENTRY_LEN: u64 = 12;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::record::{ArticleRecord, LinkRecord, SectionRecord, SentenceRecord};

    fn record(id: u64, title: &str, sentences: &[&str]) -> ArticleRecord {
        ArticleRecord {
            id,
            title: title.to_string(),
            sections: vec![SectionRecord {
                heading: String::new(),
                level: 1,
                sentences: sentences
                    .iter()
                    .map(|s| SentenceRecord {
                        text: s.to_string(),
                        kind: 0,
                        links: vec![LinkRecord {
                            start: 0,
                            end: 1,
                            target: "X".into(),
                        }],
                    })
                    .collect(),
            }],
            bold: vec![title.to_string()],
            n_sentences: sentences.len() as u32,
            n_links: sentences.len() as u32,
        }
    }

    fn build(records: &[(ArticleRecord, String)], block_size: usize) -> Vec<u8> {
        let mut writer = ShardWriter::new(Vec::new(), 3, block_size, None, 0).unwrap();
        for (rec, key) in records {
            let encoded = crate::record::EncodedRecord::new(rec).unwrap();
            writer.add(encoded.bytes(), key).unwrap();
        }
        writer.finish().unwrap().0
    }

    #[test]
    fn shard_round_trip() {
        let records: Vec<_> = (0..50)
            .map(|i| {
                (
                    record(i, &format!("Title {i}"), &["One.", "Two."]),
                    format!("title {i}"),
                )
            })
            .collect();
        let bytes = build(&records, 256);
        let shard = Shard::from_bytes(bytes).unwrap();
        assert_eq!(shard.len(), 50);
        assert!(shard.n_blocks() > 1);
        for (i, (rec, key)) in records.iter().enumerate() {
            assert_eq!(shard.ordinal(key), Some(i as u32));
            assert_eq!(&shard.record(i as u32).unwrap(), rec);
        }
        assert_eq!(shard.ordinal("missing"), None);
        assert!(shard.record(50).is_err());
        shard.verify().unwrap();
    }

    #[test]
    fn empty_shard() {
        let shard = Shard::from_bytes(build(&[], 1024)).unwrap();
        assert_eq!(shard.len(), 0);
        assert!(shard.record(0).is_err());
    }

    #[test]
    fn duplicate_keys_keep_the_first() {
        let records = vec![
            (record(1, "A", &["a"]), "a".to_string()),
            (record(2, "A", &["b"]), "a".to_string()),
        ];
        let shard = Shard::from_bytes(build(&records, 1024)).unwrap();
        assert_eq!(shard.ordinal("a"), Some(0));
    }

    #[test]
    fn every_corrupt_byte_is_an_error() {
        let records: Vec<_> = (0..6)
            .map(|i| {
                (
                    record(i, &format!("T{i}"), &["Some text here."]),
                    format!("t{i}"),
                )
            })
            .collect();
        let good = build(&records, 200);
        let crc = Shard::from_bytes(good.clone()).unwrap().crc();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            let result = Shard::from_bytes_checked(bad, Some(crc)).and_then(|shard| {
                for ordinal in 0..shard.len() as u32 {
                    let rec = shard.record(ordinal)?;
                    assert_eq!(
                        rec, records[ordinal as usize].0,
                        "wrong data after flipping byte {i}"
                    );
                }
                for (_, key) in &records {
                    shard.ordinal(key);
                }
                Ok(())
            });
            assert!(result.is_err(), "flipping byte {i} went unnoticed");
        }
    }

    fn arb_record() -> impl Strategy<Value = ArticleRecord> {
        let link = (any::<u32>(), any::<u32>(), ".{0,12}")
            .prop_map(|(start, end, target)| LinkRecord { start, end, target });
        let sentence = (".{0,80}", 0u8..4, proptest::collection::vec(link, 0..3))
            .prop_map(|(text, kind, links)| SentenceRecord { text, kind, links });
        let section = (".{0,20}", 1u8..6, proptest::collection::vec(sentence, 0..5)).prop_map(
            |(heading, level, sentences)| SectionRecord {
                heading,
                level,
                sentences,
            },
        );
        (
            any::<u64>(),
            ".{0,30}",
            proptest::collection::vec(section, 0..4),
            proptest::collection::vec(".{0,10}", 0..3),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(
                |(id, title, sections, bold, n_sentences, n_links)| ArticleRecord {
                    id,
                    title,
                    sections,
                    bold,
                    n_sentences,
                    n_links,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn records_round_trip_through_blocks(records in proptest::collection::vec(arb_record(), 0..40), block_size in 1usize..4096) {
            let keyed: Vec<_> = records.iter().enumerate().map(|(i, r)| (r.clone(), format!("{i:04}"))).collect();
            let shard = Shard::from_bytes(build(&keyed, block_size)).unwrap();
            prop_assert_eq!(shard.len(), records.len());
            for (i, rec) in records.iter().enumerate() {
                prop_assert_eq!(&shard.record(i as u32).unwrap(), rec);
                prop_assert_eq!(shard.ordinal(&format!("{i:04}")), Some(i as u32));
            }
        }
    }
}
