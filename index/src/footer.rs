//! The raw frame shared by every index file: an 8-byte magic naming the file's
//! kind and a `u32` format version in front, and a footer with the CRC32 of
//! everything before it at the end (tantivy's `footer.rs`).
//!
//! ```text
//! offset 0       magic      8 bytes   e.g. "FRASERSH"
//! offset 8       version    u32 LE    the kind's version (FileKind::version)
//! offset 12      body       ...       kind-specific
//! len - 8        crc32      u32 LE    CRC32 (IEEE) of bytes [0, len - 8)
//! len - 4        tag        4 bytes   "FEND"
//! ```

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::storage::Storage;

/// The format version of an index directory (its `manifest.json`) that this
/// release writes and reads; bumped whenever any file's layout changes. Each
/// file also carries its own kind's version ([`FileKind::version`]).
pub const FORMAT_VERSION: u32 = 3;
/// Length of the header (magic + version).
pub(crate) const HEADER_LEN: u64 = 12;
/// Length of the footer (crc + tag).
pub(crate) const FOOTER_LEN: u64 = 8;
const FOOTER_TAG: [u8; 4] = *b"FEND";

/// The kinds of files in an index directory; each has its own magic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Shard,
    Titles,
    Redirects,
    Aliases,
    Terms,
    RedirectsIn,
    Ids,
    Inlinks,
    Dictionary,
}

impl FileKind {
    pub(crate) fn magic(self) -> [u8; 8] {
        match self {
            FileKind::Shard => *b"FRASERSH",
            FileKind::Titles => *b"FRASERTI",
            FileKind::Redirects => *b"FRASERRD",
            FileKind::Aliases => *b"FRASERAL",
            FileKind::Terms => *b"FRASERTM",
            FileKind::RedirectsIn => *b"FRASERRI",
            FileKind::Ids => *b"FRASERID",
            FileKind::Inlinks => *b"FRASERIL",
            FileKind::Dictionary => *b"FRASERDC",
        }
    }

    /// The layout version of this kind of file, written after the magic;
    /// bumped when the kind's layout changes.
    pub(crate) fn version(self) -> u32 {
        match self {
            FileKind::Terms => 3,
            FileKind::Shard => 2,
            FileKind::Titles
            | FileKind::Redirects
            | FileKind::Aliases
            | FileKind::RedirectsIn
            | FileKind::Ids
            | FileKind::Inlinks
            | FileKind::Dictionary => 1,
        }
    }
}

/// Writes a framed file, hashing every byte on the way.
pub(crate) struct FileWriter<W: Write> {
    out: W,
    hasher: crc32fast::Hasher,
    written: u64,
}

impl FileWriter<BufWriter<File>> {
    /// Creates `path` and writes the header of a `kind` file.
    pub(crate) fn create(path: &Path, kind: FileKind) -> Result<FileWriter<BufWriter<File>>> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        FileWriter::new(BufWriter::with_capacity(1 << 16, file), kind)
            .map_err(|e| Error::io(path, e))
    }

    /// Writes the footer, flushes and fsyncs; returns the file size and its CRC.
    pub(crate) fn finish_file(self, path: &Path) -> Result<(u64, u32)> {
        let (out, size, crc) = self.finish().map_err(|e| Error::io(path, e))?;
        let file = out
            .into_inner()
            .map_err(|e| Error::io(path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
        Ok((size, crc))
    }
}

impl<W: Write> FileWriter<W> {
    /// Writes the header of a `kind` file to `out`.
    pub(crate) fn new(out: W, kind: FileKind) -> io::Result<FileWriter<W>> {
        let mut writer = FileWriter {
            out,
            hasher: crc32fast::Hasher::new(),
            written: 0,
        };
        writer.write_all(&kind.magic())?;
        writer.write_all(&kind.version().to_le_bytes())?;
        Ok(writer)
    }

    /// Bytes written so far, header included (the offset of the next byte).
    pub(crate) fn position(&self) -> u64 {
        self.written
    }

    /// Appends bytes to the body.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes the footer; returns the sink, the file size and the file's CRC.
    pub(crate) fn finish(mut self) -> io::Result<(W, u64, u32)> {
        let crc = self.hasher.clone().finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.write_all(&FOOTER_TAG)?;
        self.out.flush()?;
        Ok((self.out, self.written + FOOTER_LEN, crc))
    }
}

/// What [`check_frame`] learnt about a file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    /// Offset of the first body byte.
    pub(crate) body_start: u64,
    /// Offset one past the last body byte (where the footer starts).
    pub(crate) body_end: u64,
    /// The CRC recorded in the footer.
    pub(crate) crc: u32,
}

/// Checks the magic, the version and the footer tag of a file, and, when the
/// manifest recorded one, that the footer's CRC is the one the manifest expects.
/// Does not hash the body (see [`verify_crc`]).
pub(crate) fn check_frame(
    storage: &dyn Storage,
    kind: FileKind,
    expected_crc: Option<u32>,
) -> Result<Frame> {
    let path = storage.path();
    let len = storage.len();
    if len < HEADER_LEN + FOOTER_LEN {
        return Err(Error::corrupt(
            path,
            format!("file is {len} bytes, shorter than a header and a footer"),
        ));
    }
    let header = storage.read(0, HEADER_LEN)?;
    let magic = kind.magic();
    if header[..8] != magic {
        return Err(Error::corrupt(
            path,
            format!(
                "bad magic: expected {:?}, found {:?}",
                String::from_utf8_lossy(&magic),
                String::from_utf8_lossy(&header[..8])
            ),
        ));
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if version != kind.version() {
        return Err(Error::FormatVersion {
            path: path.to_path_buf(),
            expected: kind.version(),
            found: version,
        });
    }
    let footer = storage.read(len - FOOTER_LEN, FOOTER_LEN)?;
    if footer[4..8] != FOOTER_TAG {
        return Err(Error::corrupt(path, "bad footer tag (truncated file?)"));
    }
    let crc = u32::from_le_bytes(footer[..4].try_into().expect("4 bytes"));
    if let Some(expected) = expected_crc
        && expected != crc
    {
        return Err(Error::Checksum {
            path: path.to_path_buf(),
            expected,
            found: crc,
        });
    }
    Ok(Frame {
        body_start: HEADER_LEN,
        body_end: len - FOOTER_LEN,
        crc,
    })
}

/// Hashes every byte before the footer and compares with the footer's CRC.
pub(crate) fn verify_crc(storage: &dyn Storage, frame: &Frame) -> Result<()> {
    let found = crc_of(storage, 0, frame.body_end)?;
    if found != frame.crc {
        return Err(Error::Checksum {
            path: storage.path().to_path_buf(),
            expected: frame.crc,
            found,
        });
    }
    Ok(())
}

/// CRC32 of a byte range, read in chunks so pread mode does not load the whole file.
pub(crate) fn crc_of(storage: &dyn Storage, start: u64, end: u64) -> Result<u32> {
    const CHUNK: u64 = 1 << 22;
    let mut hasher = crc32fast::Hasher::new();
    let mut pos = start;
    while pos < end {
        let n = CHUNK.min(end - pos);
        hasher.update(&storage.read(pos, n)?);
        pos += n;
    }
    Ok(hasher.finalize())
}

/// CRC32 of a slice.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// A bounds-checked little-endian reader over a byte slice; every short read is
/// an [`Error::Corrupt`] naming the file.
pub(crate) struct LeReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> LeReader<'a> {
    pub(crate) fn new(bytes: &'a [u8], path: &'a Path) -> LeReader<'a> {
        LeReader {
            bytes,
            pos: 0,
            path,
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(Error::corrupt(
                self.path,
                format!(
                    "unexpected end of data at byte {} (wanted {n} more)",
                    self.pos
                ),
            ));
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// Reads an unsigned LEB128 varint.
    pub(crate) fn varint(&mut self) -> Result<u64> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Error::corrupt(self.path, "varint longer than 10 bytes"))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.path.to_path_buf()
    }
}

/// Appends an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemStorage;

    fn framed(kind: FileKind, body: &[u8]) -> Vec<u8> {
        let mut writer = FileWriter::new(Vec::new(), kind).unwrap();
        writer.write_all(body).unwrap();
        writer.finish().unwrap().0
    }

    fn mem(bytes: Vec<u8>) -> MemStorage {
        MemStorage::new(PathBuf::from("test.bin"), bytes)
    }

    #[test]
    fn frame_round_trip() {
        let bytes = framed(FileKind::Titles, b"body");
        assert_eq!(bytes.len(), 12 + 4 + 8);
        let storage = mem(bytes);
        let frame = check_frame(&storage, FileKind::Titles, None).unwrap();
        assert_eq!((frame.body_start, frame.body_end), (12, 16));
        verify_crc(&storage, &frame).unwrap();
        check_frame(&storage, FileKind::Titles, Some(frame.crc)).unwrap();
    }

    #[test]
    fn frame_errors_name_the_file() {
        let good = framed(FileKind::Ids, b"0123456789");
        let wrong_kind = check_frame(&mem(good.clone()), FileKind::Titles, None).unwrap_err();
        assert!(matches!(wrong_kind, Error::Corrupt { .. }), "{wrong_kind}");
        assert!(wrong_kind.to_string().contains("test.bin"));

        let mut version = good.clone();
        version[8] = 9;
        match check_frame(&mem(version), FileKind::Ids, None).unwrap_err() {
            Error::FormatVersion {
                expected, found, ..
            } => assert_eq!((expected, found), (FileKind::Ids.version(), 9)),
            other => panic!("{other}"),
        }

        let truncated = good[..good.len() - 3].to_vec();
        assert!(matches!(
            check_frame(&mem(truncated), FileKind::Ids, None),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(
            check_frame(&mem(vec![1, 2, 3]), FileKind::Ids, None),
            Err(Error::Corrupt { .. })
        ));

        for i in 12..good.len() - 8 {
            let mut flipped = good.clone();
            flipped[i] ^= 0x40;
            let storage = mem(flipped);
            let frame = check_frame(&storage, FileKind::Ids, None).unwrap();
            assert!(matches!(
                verify_crc(&storage, &frame),
                Err(Error::Checksum { .. })
            ));
        }
        let storage = mem(good);
        assert!(matches!(
            check_frame(&storage, FileKind::Ids, Some(1)),
            Err(Error::Checksum { expected: 1, .. })
        ));
    }

    #[test]
    fn varints_round_trip() {
        let values = [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX];
        let mut out = Vec::new();
        for &v in &values {
            put_varint(&mut out, v);
        }
        let path = PathBuf::from("v");
        let mut reader = LeReader::new(&out, &path);
        for &v in &values {
            assert_eq!(reader.varint().unwrap(), v);
        }
        assert!(reader.is_empty());
        assert!(reader.varint().is_err());
        let bad = [0xffu8; 11];
        assert!(LeReader::new(&bad, &path).varint().is_err());
    }
}
