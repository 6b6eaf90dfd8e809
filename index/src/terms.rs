//! `terms.lex`: stem -> postings, as a sorted table of entries cut into zstd
//! blocks (an sstable), written in one streaming pass.
//!
//! ```text
//! header    "FRASERTM", version u32
//! blocks    zstd frames back to back from offset 12: the entry stream, cut into blocks
//! meta      block table   n_blocks x (offset u64, compressed_len u32, uncompressed_len u32, crc32 u32)
//!           start table   n_starts x (block u32, entry_offset u32, key_end u32)
//!           start keys    the key of the first entry starting in each start block, back to back
//! trailer   meta_offset u64, n_blocks u32, n_starts u32, keys_len u64, n_terms u64,
//!           meta_crc u32 (CRC32 of the meta section and the trailer bytes before it)
//! footer
//! ```
//!
//! The entry stream holds, per stem in byte order: the length of the prefix it
//! shares with the previous stem (varint; 0 for the first entry starting in a
//! block), the suffix length (varint) and bytes, then the postings as chunks,
//! each `len << 1 | last` (varint) and `len` bytes. Chunks let a list of any
//! length be written while it is merged, without knowing its length first.
//! Blocks are closed only between chunks, so a long list continues in the next
//! blocks; every other block boundary falls between entries.
//!
//! The postings (the chunk payloads back to back) are, per article in id
//! order: the article's row in `ids.tbl` (varint; absolute for the first,
//! then the gap minus one) and
//! the number of the article's sentences holding the stem, minus one (varint).
//! Which sentences hold it is not stored: a search finds them again in the
//! article's text.
//!
//! A lookup binary-searches the start keys for the last block whose first key
//! is not above the stem, decompresses that block (its CRC checked first) and
//! scans its entries; the stem can only be there.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::block::{
    BLOCK_ENTRY_LEN, BlockEntry, Compressor, MAX_BLOCK_LEN, read_block, read_block_table,
    read_meta, read_trailer,
};
use crate::error::{Error, Result};
use crate::footer::{FileKind, FileWriter, LeReader, check_frame, crc32, put_varint};
use crate::storage::{Bytes, Storage};

/// Size of the trailer.
const TRAILER_LEN: u64 = 36;
/// Size of one start table entry.
const START_ENTRY_LEN: usize = 12;
/// Postings bytes buffered before a chunk is emitted.
const CHUNK_LEN: usize = 4 << 10;
/// Longest stem accepted.
const MAX_KEY_LEN: usize = 1 << 16;

/// One term's postings: (article id, number of sentences holding the term)
/// in id order.
pub(crate) type Postings = Vec<(u64, u32)>;

/// Streams `terms.lex`: `start_term`, any number of `add`, then the next
/// `start_term` or `finish`. Memory: one block and one chunk, whatever the
/// list lengths.
pub(crate) struct TermsWriter {
    path: PathBuf,
    out: FileWriter<BufWriter<File>>,
    compressor: Compressor,
    block_size: usize,
    block: Vec<u8>,
    n_blocks: u32,
    /// Side files for the block table, the start table and the start keys,
    /// appended after the blocks by `finish`.
    side: Vec<(PathBuf, BufWriter<File>)>,
    n_starts: u32,
    keys_len: u64,
    block_has_start: bool,
    prev_key: Vec<u8>,
    in_term: bool,
    chunk: Vec<u8>,
    // the term being written
    last_id: Option<u64>,
    n_terms: u64,
    n_postings: u64,
}

impl TermsWriter {
    pub(crate) fn create(path: &Path, zstd_level: i32, block_size: usize) -> Result<TermsWriter> {
        let out = FileWriter::create(path, FileKind::Terms)?;
        let side = |ext: &str| -> Result<(PathBuf, BufWriter<File>)> {
            let side_path = path.with_extension(ext);
            let file = File::create(&side_path).map_err(|e| Error::io(&side_path, e))?;
            Ok((side_path, BufWriter::with_capacity(1 << 16, file)))
        };
        Ok(TermsWriter {
            path: path.to_path_buf(),
            out,
            compressor: Compressor::new(zstd_level, None).map_err(|e| Error::io(path, e))?,
            block_size: block_size.max(1),
            block: Vec::new(),
            n_blocks: 0,
            side: vec![
                side("blocks-part")?,
                side("starts-part")?,
                side("keys-part")?,
            ],
            n_starts: 0,
            keys_len: 0,
            block_has_start: false,
            prev_key: Vec::new(),
            in_term: false,
            chunk: Vec::new(),
            last_id: None,
            n_terms: 0,
            n_postings: 0,
        })
    }

    /// Starts the entry of `key`, which must sort after the previous key.
    pub(crate) fn start_term(&mut self, key: &[u8]) -> Result<()> {
        self.end_term()?;
        if self.n_terms > 0 && key <= self.prev_key.as_slice() {
            return Err(Error::invalid(format!(
                "terms out of order: {:?} after {:?}",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(&self.prev_key)
            )));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(Error::invalid(format!(
                "stem of {} bytes is too long",
                key.len()
            )));
        }
        let prefix = if self.block_has_start {
            key.iter()
                .zip(&self.prev_key)
                .take_while(|(a, b)| a == b)
                .count()
        } else {
            // The first entry starting in a block is found by binary search and
            // decoded without its predecessor.
            let side_path = self.side[1].0.clone();
            let io = |e| Error::io(&side_path, e);
            let entry_offset = self.block.len() as u32;
            self.keys_len += key.len() as u64;
            let key_end = u32::try_from(self.keys_len)
                .map_err(|_| Error::invalid("term block keys exceed 4 GiB"))?;
            let starts = &mut self.side[1].1;
            starts.write_all(&self.n_blocks.to_le_bytes()).map_err(io)?;
            starts.write_all(&entry_offset.to_le_bytes()).map_err(io)?;
            starts.write_all(&key_end.to_le_bytes()).map_err(io)?;
            self.side[2]
                .1
                .write_all(key)
                .map_err(|e| Error::io(&self.side[2].0, e))?;
            self.n_starts += 1;
            self.block_has_start = true;
            0
        };
        put_varint(&mut self.block, prefix as u64);
        put_varint(&mut self.block, (key.len() - prefix) as u64);
        self.block.extend_from_slice(&key[prefix..]);
        self.prev_key.clear();
        self.prev_key.extend_from_slice(key);
        self.in_term = true;
        self.n_terms += 1;
        self.last_id = None;
        Ok(())
    }

    /// Adds the posting (article `id`, held by `sentences` of its sentences)
    /// to the current term; ids must arrive in ascending order and
    /// `sentences` must not be 0.
    pub(crate) fn add(&mut self, id: u64, sentences: u32) -> Result<()> {
        if !self.in_term {
            return Err(Error::invalid("posting added before any term"));
        }
        if sentences == 0 {
            return Err(Error::invalid("posting with no sentence"));
        }
        match self.last_id {
            None => put_varint(&mut self.chunk, id),
            Some(last) if last < id => put_varint(&mut self.chunk, id - last - 1),
            Some(_) => return Err(Error::invalid("postings out of order")),
        }
        self.last_id = Some(id);
        put_varint(&mut self.chunk, u64::from(sentences - 1));
        self.n_postings += 1;
        if self.chunk.len() >= CHUNK_LEN {
            self.emit_chunk(false)?;
        }
        Ok(())
    }

    fn emit_chunk(&mut self, last: bool) -> Result<()> {
        put_varint(
            &mut self.block,
            ((self.chunk.len() as u64) << 1) | u64::from(last),
        );
        self.block.extend_from_slice(&self.chunk);
        self.chunk.clear();
        if self.block.len() >= self.block_size {
            self.flush_block()?;
        }
        Ok(())
    }

    fn end_term(&mut self) -> Result<()> {
        if !self.in_term {
            return Ok(());
        }
        self.emit_chunk(true)?;
        self.in_term = false;
        Ok(())
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        if self.block.len() > MAX_BLOCK_LEN as usize {
            return Err(Error::invalid("term block too large"));
        }
        let io = |e| Error::io(&self.path, e);
        let compressed = self.compressor.compress(&self.block).map_err(io)?;
        let entry = BlockEntry {
            offset: self.out.position(),
            compressed_len: u32::try_from(compressed.len())
                .map_err(|_| Error::invalid("term block too large"))?,
            uncompressed_len: self.block.len() as u32,
            crc: crc32(&compressed),
        };
        self.out.write_all(&compressed).map_err(io)?;
        let mut table = Vec::with_capacity(BLOCK_ENTRY_LEN);
        entry.write(&mut table);
        self.side[0]
            .1
            .write_all(&table)
            .map_err(|e| Error::io(&self.side[0].0, e))?;
        self.n_blocks = self
            .n_blocks
            .checked_add(1)
            .ok_or_else(|| Error::invalid("too many term blocks"))?;
        self.block.clear();
        self.block_has_start = false;
        Ok(())
    }

    /// Number of terms started.
    pub(crate) fn n_terms(&self) -> u64 {
        self.n_terms
    }

    /// Number of (term, article) postings added.
    pub(crate) fn n_postings(&self) -> u64 {
        self.n_postings
    }

    /// Writes the last block, the meta section, the trailer and the footer,
    /// and fsyncs; returns (size, crc, number of terms).
    pub(crate) fn finish(mut self) -> Result<(u64, u32, u64)> {
        self.end_term()?;
        self.flush_block()?;
        let meta_offset = self.out.position();
        let mut meta_hasher = crc32fast::Hasher::new();
        let side = std::mem::take(&mut self.side);
        let mut buf = vec![0u8; 1 << 16];
        for (side_path, writer) in side {
            let file = writer
                .into_inner()
                .map_err(|e| Error::io(&side_path, e.into_error()))?;
            drop(file);
            let mut file = File::open(&side_path).map_err(|e| Error::io(&side_path, e))?;
            loop {
                let n = file.read(&mut buf).map_err(|e| Error::io(&side_path, e))?;
                if n == 0 {
                    break;
                }
                meta_hasher.update(&buf[..n]);
                self.out
                    .write_all(&buf[..n])
                    .map_err(|e| Error::io(&self.path, e))?;
            }
            drop(file);
            std::fs::remove_file(&side_path).map_err(|e| Error::io(&side_path, e))?;
        }
        let mut trailer = Vec::with_capacity(TRAILER_LEN as usize);
        trailer.extend_from_slice(&meta_offset.to_le_bytes());
        trailer.extend_from_slice(&self.n_blocks.to_le_bytes());
        trailer.extend_from_slice(&self.n_starts.to_le_bytes());
        trailer.extend_from_slice(&self.keys_len.to_le_bytes());
        trailer.extend_from_slice(&self.n_terms.to_le_bytes());
        meta_hasher.update(&trailer);
        trailer.extend_from_slice(&meta_hasher.finalize().to_le_bytes());
        self.out
            .write_all(&trailer)
            .map_err(|e| Error::io(&self.path, e))?;
        let n_terms = self.n_terms;
        let (size, crc) = self.out.finish_file(&self.path)?;
        Ok((size, crc, n_terms))
    }
}

/// An open `terms.lex`.
pub(crate) struct Terms {
    storage: Arc<dyn Storage>,
    blocks: Vec<BlockEntry>,
    starts: Bytes,
    keys: Bytes,
}

impl Terms {
    /// Opens the file, checking the frame (and the manifest's CRC), the meta
    /// CRC and that the sections add up.
    pub(crate) fn open(storage: Arc<dyn Storage>, expected_crc: Option<u32>) -> Result<Terms> {
        let frame = check_frame(&*storage, FileKind::Terms, expected_crc)?;
        let path = storage.path().to_path_buf();
        let trailer = read_trailer(&*storage, &frame, TRAILER_LEN, "terms file")?;
        let trailer_start = frame.body_end - TRAILER_LEN;
        let mut reader = LeReader::new(&trailer, &path);
        let meta_offset = reader.u64()?;
        let n_blocks = reader.u32()?;
        let n_starts = reader.u32()?;
        let keys_len = reader.u64()?;
        let _n_terms = reader.u64()?;
        let meta_crc = reader.u32()?;
        let tables_len = u64::from(n_blocks) * BLOCK_ENTRY_LEN as u64
            + u64::from(n_starts) * START_ENTRY_LEN as u64;
        if meta_offset < frame.body_start
            || meta_offset
                .checked_add(tables_len)
                .and_then(|end| end.checked_add(keys_len))
                != Some(trailer_start)
        {
            return Err(Error::corrupt(&path, "terms sections do not add up"));
        }
        let meta = read_meta(&*storage, &frame, meta_offset, meta_crc)?;
        let blocks_len = n_blocks as usize * BLOCK_ENTRY_LEN;
        let blocks = read_block_table(
            &path,
            &meta[..blocks_len],
            n_blocks,
            frame.body_start,
            meta_offset,
            "term block",
        )?;
        let starts_end = blocks_len + n_starts as usize * START_ENTRY_LEN;
        let starts = meta.get(blocks_len..starts_end).expect("length checked");
        let keys = meta
            .get(starts_end..starts_end + keys_len as usize)
            .expect("length checked");
        Ok(Terms {
            storage,
            blocks,
            starts,
            keys,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        self.storage.path()
    }

    fn n_starts(&self) -> usize {
        self.starts.len() / START_ENTRY_LEN
    }

    /// (block, entry offset, key) of start `i`.
    fn start(&self, i: usize) -> Result<(u32, u32, &[u8])> {
        let at = i * START_ENTRY_LEN;
        let field = |k: usize| {
            u32::from_le_bytes(
                self.starts[at + 4 * k..at + 4 * k + 4]
                    .try_into()
                    .expect("4 bytes"),
            )
        };
        let key_start = if i == 0 {
            0
        } else {
            u32::from_le_bytes(self.starts[at - 4..at].try_into().expect("4 bytes"))
        } as usize;
        let key_end = field(2) as usize;
        if key_start > key_end || key_end > self.keys.len() {
            return Err(Error::corrupt(self.path(), "term start key out of range"));
        }
        Ok((field(0), field(1), &self.keys[key_start..key_end]))
    }

    fn block(&self, n: u32) -> Result<Vec<u8>> {
        let entry = self.blocks.get(n as usize).ok_or_else(|| {
            Error::corrupt(
                self.path(),
                format!("term start points at missing block {n}"),
            )
        })?;
        read_block(&*self.storage, entry, None)
    }

    /// The postings of `stem`, or `None` if it is not in the file.
    pub(crate) fn postings(&self, stem: &[u8]) -> Result<Option<Postings>> {
        // The last start whose key is <= stem.
        let (mut lo, mut hi) = (0usize, self.n_starts());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.start(mid)?.2 <= stem {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            return Ok(None);
        }
        let (mut block_no, offset, _) = self.start(lo - 1)?;
        let path = self.path().to_path_buf();
        let corrupt = |what: &str| Error::corrupt(&path, format!("term block {what}"));
        let mut block = self.block(block_no)?;
        let mut pos = offset as usize;
        let mut key: Vec<u8> = Vec::new();
        let mut first = true;
        loop {
            if pos >= block.len() {
                // Entries after this block start in a later start block, whose
                // key is above `stem`.
                return if pos == block.len() {
                    Ok(None)
                } else {
                    Err(corrupt("entry offset out of range"))
                };
            }
            let mut reader = LeReader::new(&block[pos..], &path);
            let prefix = reader.varint()? as usize;
            let suffix_len = reader.varint()? as usize;
            if (first && prefix != 0) || prefix > key.len() || suffix_len > MAX_KEY_LEN {
                return Err(corrupt("entry has a bad key"));
            }
            first = false;
            key.truncate(prefix);
            key.extend_from_slice(reader.take(suffix_len)?);
            pos = block.len() - reader.remaining();
            let wanted = match key.as_slice().cmp(stem) {
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal => true,
                std::cmp::Ordering::Greater => return Ok(None),
            };
            // The chunks, possibly running on into the next blocks.
            let mut list = Vec::new();
            loop {
                if pos == block.len() {
                    if !wanted {
                        return Ok(None);
                    }
                    block_no += 1;
                    block = self.block(block_no)?;
                    pos = 0;
                }
                let mut reader = LeReader::new(&block[pos..], &path);
                let header = reader.varint()?;
                let len = usize::try_from(header >> 1).map_err(|_| corrupt("chunk too long"))?;
                let bytes = reader.take(len)?;
                if wanted {
                    list.extend_from_slice(bytes);
                }
                pos = block.len() - reader.remaining();
                if header & 1 == 1 {
                    break;
                }
            }
            if wanted {
                return decode_postings(&list, &path).map(Some);
            }
        }
    }
}

/// Decodes the postings bytes of one term (see the module docs).
pub(crate) fn decode_postings(bytes: &[u8], path: &Path) -> Result<Postings> {
    let mut reader = LeReader::new(bytes, path);
    let corrupt = || Error::corrupt(path, "postings list is malformed");
    let mut docs: Postings = Vec::new();
    let mut last_id: Option<u64> = None;
    while !reader.is_empty() {
        let value = reader.varint()?;
        let id = match last_id {
            None => value,
            Some(last) => last
                .checked_add(value)
                .and_then(|x| x.checked_add(1))
                .ok_or_else(corrupt)?,
        };
        last_id = Some(id);
        let sentences = u32::try_from(reader.varint()?)
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or_else(corrupt)?;
        docs.push((id, sentences));
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Access, MemStorage, open};

    fn write(path: &Path, terms: &[(String, Postings)], block_size: usize) -> (u64, u32) {
        let mut writer = TermsWriter::create(path, 3, block_size).unwrap();
        for (key, postings) in terms {
            writer.start_term(key.as_bytes()).unwrap();
            for &(id, sentences) in postings {
                writer.add(id, sentences).unwrap();
            }
        }
        let (size, crc, n) = writer.finish().unwrap();
        assert_eq!(n, terms.len() as u64);
        (size, crc)
    }

    fn sample() -> Vec<(String, Postings)> {
        let mut terms = Vec::new();
        for i in 0..600u64 {
            let key = format!("t{:04}{}", i * 7 % 1000, "x".repeat((i % 5) as usize));
            let docs = (0..(i % 9 + 1))
                .map(|d| (d * 1000 + i, (d % 4 + 1) as u32 * 3))
                .collect();
            terms.push((key, docs));
        }
        // A list long enough to run over many chunks and blocks.
        terms.push((
            "zz-long".to_string(),
            (0..20_000u64).map(|d| (d * 3, 1 << 20)).collect(),
        ));
        terms.sort();
        terms.dedup_by(|a, b| a.0 == b.0);
        terms
    }

    #[test]
    fn round_trip_in_small_and_large_blocks() {
        let terms = sample();
        for block_size in [64, 1000, 16 << 10, 1 << 20] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("terms.lex");
            let (size, crc) = write(&path, &terms, block_size);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
            for access in [Access::Mmap, Access::Pread] {
                let reader = Terms::open(open(&path, access).unwrap(), Some(crc)).unwrap();
                for (key, postings) in &terms {
                    let got = reader.postings(key.as_bytes()).unwrap();
                    assert_eq!(got.as_ref(), Some(postings), "{key} at {block_size}");
                    let mut missing = key.clone().into_bytes();
                    missing.push(b'!');
                    assert_eq!(reader.postings(&missing).unwrap(), None);
                }
                for missing in ["", "a", "t0000a", "zzz"] {
                    assert_eq!(reader.postings(missing.as_bytes()).unwrap(), None);
                }
            }
        }
    }

    #[test]
    fn empty_file_and_order_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terms.lex");
        let (_, crc) = write(&path, &[], 100);
        let reader = Terms::open(open(&path, Access::Mmap).unwrap(), Some(crc)).unwrap();
        assert_eq!(reader.postings(b"x").unwrap(), None);

        let mut writer = TermsWriter::create(&path, 3, 100).unwrap();
        assert!(writer.add(1, 1).is_err());
        writer.start_term(b"b").unwrap();
        assert!(writer.add(4, 0).is_err());
        writer.add(5, 2).unwrap();
        assert!(writer.add(5, 1).is_err());
        assert!(writer.add(4, 9).is_err());
        assert!(writer.start_term(b"a").is_err());
        assert!(writer.start_term(b"b").is_err());
    }

    #[test]
    fn every_flipped_byte_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terms.lex");
        let terms: Vec<(String, Postings)> = sample().into_iter().take(80).collect();
        let _ = write(&path, &terms, 300);
        let good = std::fs::read(&path).unwrap();
        for i in 0..good.len() - 8 {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            let storage = Arc::new(MemStorage::new(path.clone(), bad));
            // Without the manifest's CRC, every read must still fail or be right.
            let result = Terms::open(storage, None).and_then(|reader| {
                for (key, postings) in &terms {
                    if reader.postings(key.as_bytes())?.as_ref() != Some(postings) {
                        return Ok(false);
                    }
                }
                Ok(true)
            });
            assert!(
                !matches!(result, Ok(false)),
                "flipping byte {i} gave wrong data"
            );
            assert!(result.is_err(), "flipping byte {i} went unnoticed");
        }
    }

    #[test]
    fn malformed_postings_are_errors() {
        let path = Path::new("p");
        assert!(decode_postings(&[5], path).is_err());
        assert!(decode_postings(&[0xff], path).is_err());
        assert!(decode_postings(&[5, 0xff, 0xff, 0xff, 0xff, 0x0f], path).is_err());
        assert_eq!(decode_postings(&[], path).unwrap(), vec![]);
        assert_eq!(
            decode_postings(&[5, 1, 0, 6], path).unwrap(),
            vec![(5, 2), (6, 7)]
        );
    }
}
