//! Reads one shard file lazily: opening parses only the meta section.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zstd::dict::DecoderDictionary;

use super::{RECORD_ENTRY_LEN, TRAILER_LEN};
use crate::block::{
    BLOCK_ENTRY_LEN, BlockEntry, read_block, read_block_table, read_meta, read_trailer,
};
use crate::error::{Error, Result};
use crate::footer::{FileKind, LeReader, check_frame, verify_crc};
use crate::record::ArticleRecord;
use crate::storage::{Bytes, MemStorage, Storage};

/// An open, immutable shard of article records.
///
/// Opening reads the header, the trailer and the meta section (block table,
/// record table, key map) and checks them; records are decompressed on demand,
/// each block's CRC checked before it is decompressed.
pub struct Shard {
    storage: Arc<dyn Storage>,
    crc: u32,
    blocks: Vec<BlockEntry>,
    records: Bytes,
    keys: fst::Map<Bytes>,
    dictionary: Option<Arc<DecoderDictionary<'static>>>,
}

impl fmt::Debug for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shard")
            .field("path", &self.path())
            .field("records", &self.len())
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

impl Shard {
    /// Parses a shard held in memory (written without a dictionary).
    ///
    /// Arbitrary bytes give an error, never a panic.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Shard> {
        Shard::from_bytes_checked(bytes, None)
    }

    /// Parses a shard held in memory and checks its footer CRC against `expected_crc`.
    pub fn from_bytes_checked(bytes: Vec<u8>, expected_crc: Option<u32>) -> Result<Shard> {
        Shard::open(
            Arc::new(MemStorage::new(PathBuf::from("<memory>"), bytes)),
            expected_crc,
            None,
        )
    }

    /// Opens a shard on `storage`. `expected_crc` is the CRC the manifest
    /// recorded; `dictionary` must be given when the shard was written with one.
    pub(crate) fn open(
        storage: Arc<dyn Storage>,
        expected_crc: Option<u32>,
        dictionary: Option<(u32, Arc<DecoderDictionary<'static>>)>,
    ) -> Result<Shard> {
        let frame = check_frame(&*storage, FileKind::Shard, expected_crc)?;
        let path = storage.path().to_path_buf();
        let trailer = read_trailer(&*storage, &frame, TRAILER_LEN, "shard")?;
        let trailer_start = frame.body_end - TRAILER_LEN;
        let mut reader = LeReader::new(&trailer, &path);
        let meta_offset = reader.u64()?;
        let n_blocks = reader.u32()?;
        let n_records = reader.u32()?;
        let fst_len = reader.u64()?;
        let dictionary_id = reader.u32()?;
        let meta_crc = reader.u32()?;
        if meta_offset < frame.body_start || meta_offset > trailer_start {
            return Err(Error::corrupt(
                &path,
                format!("meta offset {meta_offset} out of range"),
            ));
        }
        let tables_len =
            u64::from(n_blocks) * BLOCK_ENTRY_LEN as u64 + u64::from(n_records) * RECORD_ENTRY_LEN;
        if meta_offset
            .checked_add(tables_len)
            .and_then(|end| end.checked_add(fst_len))
            != Some(trailer_start)
        {
            return Err(Error::corrupt(&path, "meta section lengths do not add up"));
        }
        let meta = read_meta(&*storage, &frame, meta_offset, meta_crc)?;
        let dictionary = match (dictionary_id, dictionary) {
            (0, _) => None,
            (id, Some((have, dict))) if id == have => Some(dict),
            (id, _) => {
                return Err(Error::corrupt(
                    &path,
                    format!(
                        "shard was written with zstd dictionary {id}, which the index does not provide"
                    ),
                ));
            }
        };
        let blocks_len = n_blocks as usize * BLOCK_ENTRY_LEN;
        let blocks = read_block_table(
            &path,
            &meta[..blocks_len],
            n_blocks,
            frame.body_start,
            meta_offset,
            "block",
        )?;
        let records_len = n_records as usize * RECORD_ENTRY_LEN as usize;
        let records = meta
            .get(blocks_len..blocks_len + records_len)
            .expect("length checked");
        let fst_bytes = meta
            .get(blocks_len + records_len..blocks_len + records_len + fst_len as usize)
            .expect("length checked");
        let keys = fst::Map::new(fst_bytes)
            .map_err(|e| Error::corrupt(&path, format!("bad key map: {e}")))?;
        Ok(Shard {
            storage,
            crc: frame.crc,
            blocks,
            records,
            keys,
            dictionary,
        })
    }

    /// The file this shard was read from.
    pub fn path(&self) -> &Path {
        self.storage.path()
    }

    /// The CRC recorded in the footer.
    pub fn crc(&self) -> u32 {
        self.crc
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len() / RECORD_ENTRY_LEN as usize
    }

    /// Whether the shard holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of compressed blocks.
    pub fn n_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Looks up the ordinal of a folded title key.
    pub fn ordinal(&self, key: &str) -> Option<u32> {
        self.keys.get(key).and_then(|v| u32::try_from(v).ok())
    }

    /// Returns every (key, ordinal) pair in key order.
    pub fn keys(&self) -> Vec<(String, u32)> {
        use fst::Streamer;
        let mut out = Vec::new();
        let mut stream = self.keys.stream();
        while let Some((key, value)) = stream.next() {
            out.push((String::from_utf8_lossy(key).into_owned(), value as u32));
        }
        out
    }

    /// Returns the stored bytes of record `ordinal` (its encoding, see `EncodedRecord`).
    pub fn record_bytes(&self, ordinal: u32) -> Result<Vec<u8>> {
        let path = self.path();
        let start = ordinal as usize * RECORD_ENTRY_LEN as usize;
        let Some(entry) = self.records.get(start..start + RECORD_ENTRY_LEN as usize) else {
            return Err(Error::corrupt(
                path,
                format!(
                    "record ordinal {ordinal} out of range ({} records)",
                    self.len()
                ),
            ));
        };
        let mut reader = LeReader::new(&entry, path);
        let (block, offset, len) = (reader.u32()?, reader.u32()?, reader.u32()?);
        let Some(block) = self.blocks.get(block as usize) else {
            return Err(Error::corrupt(
                path,
                format!("record {ordinal} points at missing block {block}"),
            ));
        };
        let end = u64::from(offset) + u64::from(len);
        if end > u64::from(block.uncompressed_len) {
            return Err(Error::corrupt(
                path,
                format!("record {ordinal} runs past the end of its block"),
            ));
        }
        let data = read_block(&*self.storage, block, self.dictionary.as_deref())?;
        Ok(data[offset as usize..end as usize].to_vec())
    }

    /// Decodes record `ordinal`.
    pub fn record(&self, ordinal: u32) -> Result<ArticleRecord> {
        let bytes = self.record_bytes(ordinal)?;
        crate::record::decode(&bytes).map_err(|e| {
            Error::corrupt(
                self.path(),
                format!("record {ordinal} does not decode: {e}"),
            )
        })
    }

    /// Hashes the whole file and compares with the footer CRC.
    pub fn verify(&self) -> Result<()> {
        let frame = check_frame(&*self.storage, FileKind::Shard, Some(self.crc))?;
        verify_crc(&*self.storage, &frame)
    }
}
