//! Writes one shard file (see the module docs of `shard` for the layout).

use std::io::{self, Write};

use crate::block::{BlockEntry, Compressor, MAX_BLOCK_LEN};
use crate::error::{Error, Result};
use crate::footer::{FileKind, FileWriter, crc32};

/// What a finished shard holds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ShardStats {
    pub(crate) n_records: u32,
    pub(crate) n_blocks: u32,
    pub(crate) uncompressed_bytes: u64,
}

/// Streams records into a shard: blocks are compressed and written as they
/// fill; the block table, record table and key map are held until `finish`.
pub(crate) struct ShardWriter<W: Write> {
    out: FileWriter<W>,
    compressor: Compressor,
    block_size: usize,
    dictionary_id: u32,
    block: Vec<u8>,
    blocks: Vec<BlockEntry>,
    records: Vec<(u32, u32, u32)>,
    keys: Vec<(String, u32)>,
    uncompressed_bytes: u64,
}

impl<W: Write> ShardWriter<W> {
    /// Starts a shard on `out`. `dictionary` is the raw zstd dictionary (if any)
    /// and `dictionary_id` its id, recorded in the trailer.
    pub(crate) fn new(
        out: W,
        level: i32,
        block_size: usize,
        dictionary: Option<&[u8]>,
        dictionary_id: u32,
    ) -> io::Result<ShardWriter<W>> {
        Ok(ShardWriter {
            out: FileWriter::new(out, FileKind::Shard)?,
            compressor: Compressor::new(level, dictionary)?,
            block_size: block_size.max(1),
            dictionary_id,
            block: Vec::new(),
            blocks: Vec::new(),
            records: Vec::new(),
            keys: Vec::new(),
            uncompressed_bytes: 0,
        })
    }

    /// Number of records added so far.
    pub(crate) fn len(&self) -> u32 {
        self.records.len() as u32
    }

    /// Adds one encoded record under the folded title `key`; returns its ordinal.
    pub(crate) fn add(&mut self, encoded: &[u8], key: &str) -> Result<u32> {
        if encoded.len() > MAX_BLOCK_LEN as usize {
            return Err(Error::invalid(format!(
                "record of {} bytes exceeds the {MAX_BLOCK_LEN}-byte limit",
                encoded.len()
            )));
        }
        if !self.block.is_empty() && self.block.len() + encoded.len() > self.block_size {
            self.flush_block().map_err(|e| Error::io("<shard>", e))?;
        }
        let ordinal = self.len();
        self.records.push((
            self.blocks.len() as u32,
            self.block.len() as u32,
            encoded.len() as u32,
        ));
        self.keys.push((key.to_string(), ordinal));
        self.block.extend_from_slice(encoded);
        self.uncompressed_bytes += encoded.len() as u64;
        Ok(ordinal)
    }

    fn flush_block(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let compressed = self.compressor.compress(&self.block)?;
        let entry = BlockEntry {
            offset: self.out.position(),
            compressed_len: u32::try_from(compressed.len()).map_err(io::Error::other)?,
            uncompressed_len: self.block.len() as u32,
            crc: crc32(&compressed),
        };
        self.out.write_all(&compressed)?;
        self.blocks.push(entry);
        self.block.clear();
        Ok(())
    }

    /// Writes the last block, the tables, the key map, the trailer and the
    /// footer; returns the sink, the file size, the file CRC and the stats.
    pub(crate) fn finish(mut self) -> Result<(W, u64, u32, ShardStats)> {
        let io_err = |e: io::Error| Error::io("<shard>", e);
        self.flush_block().map_err(io_err)?;
        let meta_offset = self.out.position();
        let mut meta = Vec::with_capacity(self.blocks.len() * 20 + self.records.len() * 12);
        for entry in &self.blocks {
            entry.write(&mut meta);
        }
        for &(block, offset, len) in &self.records {
            meta.extend_from_slice(&block.to_le_bytes());
            meta.extend_from_slice(&offset.to_le_bytes());
            meta.extend_from_slice(&len.to_le_bytes());
        }
        // fst needs sorted, unique keys: the first record with a key keeps it.
        self.keys.sort();
        self.keys.dedup_by(|later, earlier| later.0 == earlier.0);
        let mut map = fst::MapBuilder::memory();
        for (key, ordinal) in &self.keys {
            map.insert(key, u64::from(*ordinal))
                .map_err(|e| Error::invalid(format!("building shard key map: {e}")))?;
        }
        let fst_bytes = map
            .into_inner()
            .map_err(|e| Error::invalid(format!("building shard key map: {e}")))?;
        meta.extend_from_slice(&fst_bytes);
        meta.extend_from_slice(&meta_offset.to_le_bytes());
        meta.extend_from_slice(&(self.blocks.len() as u32).to_le_bytes());
        meta.extend_from_slice(&self.len().to_le_bytes());
        meta.extend_from_slice(&(fst_bytes.len() as u64).to_le_bytes());
        meta.extend_from_slice(&self.dictionary_id.to_le_bytes());
        let meta_crc = crc32(&meta);
        meta.extend_from_slice(&meta_crc.to_le_bytes());
        self.out.write_all(&meta).map_err(io_err)?;
        let stats = ShardStats {
            n_records: self.len(),
            n_blocks: self.blocks.len() as u32,
            uncompressed_bytes: self.uncompressed_bytes,
        };
        let (out, size, crc) = self.out.finish().map_err(io_err)?;
        Ok((out, size, crc, stats))
    }
}
