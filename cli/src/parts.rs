//! Part files: the build items of one part of a dump, for `fraser merge`.
//!
//! Layout: the 8 magic bytes `FRSRPART`, a u32 format version (little endian),
//! a u32 header length and the header as JSON, then one zstd frame (with its
//! content checksum) holding the items, each a u32 length and its postcard
//! bytes, closed by a zero length and the u64 item count. A part file without
//! that closing record is truncated and is rejected.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::cmd::build::BuildItem;

const MAGIC: &[u8; 8] = b"FRSRPART";
const VERSION: u32 = 5;
/// Items larger than this are refused on read (a corrupt length).
const MAX_ITEM_LEN: u32 = 256 << 20;

/// What a part file says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartHeader {
    /// This part's number, 1-based.
    pub part: u32,
    /// How many parts the dump was split into.
    pub parts: u32,
    /// The index metadata (source dump, language) every part must share.
    pub metadata: serde_json::Value,
}

/// Writes a part file under a temporary name; [`PartWriter::finish`] renames it.
pub struct PartWriter {
    encoder: Option<zstd::Encoder<'static, BufWriter<File>>>,
    temp: PathBuf,
    path: PathBuf,
    items: u64,
    buf: Vec<u8>,
}

impl PartWriter {
    /// Creates `path` (through a temporary file next to it) and writes the header.
    pub fn create(path: &Path, header: &PartHeader) -> anyhow::Result<PartWriter> {
        let temp = path.with_extension("fpart.tmp");
        let file =
            File::create(&temp).with_context(|| format!("failed to create {}", temp.display()))?;
        let mut out = BufWriter::new(file);
        let header_json = serde_json::to_vec(header)?;
        out.write_all(MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        out.write_all(&(header_json.len() as u32).to_le_bytes())?;
        out.write_all(&header_json)?;
        let mut encoder = zstd::Encoder::new(out, 3)?;
        encoder.include_checksum(true)?;
        Ok(PartWriter {
            encoder: Some(encoder),
            temp,
            path: path.to_path_buf(),
            items: 0,
            buf: Vec::new(),
        })
    }

    /// Appends one item.
    pub fn push(&mut self, item: &BuildItem) -> anyhow::Result<()> {
        self.buf.clear();
        let bytes = postcard::to_extend(item, std::mem::take(&mut self.buf))
            .context("failed to encode a build item")?;
        let encoder = self
            .encoder
            .as_mut()
            .context("part file already finished")?;
        encoder.write_all(&(bytes.len() as u32).to_le_bytes())?;
        encoder.write_all(&bytes)?;
        self.buf = bytes;
        self.items += 1;
        Ok(())
    }

    /// Writes the closing record, syncs and renames the file into place;
    /// returns the number of items.
    pub fn finish(mut self) -> anyhow::Result<u64> {
        let mut encoder = self.encoder.take().context("part file already finished")?;
        encoder.write_all(&0u32.to_le_bytes())?;
        encoder.write_all(&self.items.to_le_bytes())?;
        let out = encoder.finish()?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
            .with_context(|| format!("failed to sync {}", self.temp.display()))?;
        std::fs::rename(&self.temp, &self.path)
            .with_context(|| format!("failed to rename {}", self.temp.display()))?;
        Ok(self.items)
    }
}

impl Drop for PartWriter {
    fn drop(&mut self) {
        if self.encoder.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Reads a part file written by [`PartWriter`].
pub struct PartReader {
    path: PathBuf,
    header: PartHeader,
    decoder: zstd::Decoder<'static, BufReader<BufReader<File>>>,
    items: u64,
    done: bool,
    buf: Vec<u8>,
}

impl PartReader {
    /// Opens a part file and reads its header.
    pub fn open(path: &Path) -> anyhow::Result<PartReader> {
        let file =
            File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
        let mut input = BufReader::new(file);
        let mut magic = [0u8; 8];
        let mut word = [0u8; 4];
        input
            .read_exact(&mut magic)
            .and_then(|_| input.read_exact(&mut word))
            .with_context(|| format!("{}: not a part file (too short)", path.display()))?;
        if &magic != MAGIC {
            bail!("{}: not a part file (bad magic bytes)", path.display());
        }
        let version = u32::from_le_bytes(word);
        if version != VERSION {
            bail!(
                "{}: part format version {version}, this fraser reads version {VERSION}",
                path.display()
            );
        }
        input
            .read_exact(&mut word)
            .with_context(|| format!("{}: truncated header", path.display()))?;
        let len = u32::from_le_bytes(word);
        if len > 1 << 20 {
            bail!("{}: corrupt header length {len}", path.display());
        }
        let mut header = vec![0u8; len as usize];
        input
            .read_exact(&mut header)
            .with_context(|| format!("{}: truncated header", path.display()))?;
        let header: PartHeader = serde_json::from_slice(&header)
            .with_context(|| format!("{}: corrupt header", path.display()))?;
        let decoder = zstd::Decoder::new(input)?;
        Ok(PartReader {
            path: path.to_path_buf(),
            header,
            decoder,
            items: 0,
            done: false,
            buf: Vec::new(),
        })
    }

    /// The part's header.
    pub fn header(&self) -> &PartHeader {
        &self.header
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the next item; `None` after the closing record.
    pub fn next_item(&mut self) -> anyhow::Result<Option<BuildItem>> {
        if self.done {
            return Ok(None);
        }
        let path = &self.path;
        let corrupt = |what: &str| format!("{}: {what} after {} items", path.display(), self.items);
        let mut word = [0u8; 4];
        self.decoder
            .read_exact(&mut word)
            .with_context(|| corrupt("truncated or corrupt part file"))?;
        let len = u32::from_le_bytes(word);
        if len == 0 {
            let mut count = [0u8; 8];
            self.decoder
                .read_exact(&mut count)
                .with_context(|| corrupt("truncated closing record"))?;
            let count = u64::from_le_bytes(count);
            if count != self.items {
                bail!(corrupt(&format!("closing record says {count} items")));
            }
            // Reading to the end makes zstd check the frame checksum.
            let mut rest = Vec::new();
            self.decoder
                .read_to_end(&mut rest)
                .with_context(|| corrupt("corrupt end of part file"))?;
            if !rest.is_empty() {
                bail!(corrupt("unexpected bytes after the closing record"));
            }
            self.done = true;
            return Ok(None);
        }
        if len > MAX_ITEM_LEN {
            bail!(corrupt(&format!("corrupt item length {len}")));
        }
        self.buf.resize(len as usize, 0);
        self.decoder
            .read_exact(&mut self.buf)
            .with_context(|| corrupt("truncated item"))?;
        let item = postcard::from_bytes(&self.buf).with_context(|| corrupt("corrupt item"))?;
        self.items += 1;
        Ok(Some(item))
    }
}
