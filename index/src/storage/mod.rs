//! Bytes of one immutable file: memory-mapped, read with `pread`, or held in memory.
//!
//! Every reader in the crate goes through [`Storage`], so the same parsing code
//! serves the mmap default, the `pread` mode for filesystems where mmap is unsafe
//! or slow, and in-memory bytes for tests and fuzzing (tantivy's `RamDirectory`).
//!
//! Data contract: a storage never changes its bytes after it is created (index
//! files are immutable once the manifest names them), `len()` is fixed, and
//! `read` either returns exactly the requested range or an error naming the file.

mod mem;
mod mmap;
mod pread;

use std::fmt;
use std::ops::{Deref, Range};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) use mem::MemStorage;
pub(crate) use mmap::MmapStorage;
pub(crate) use pread::PreadStorage;

use crate::error::{Error, Result};

/// A cheap-to-clone, immutable byte range that keeps its owner (a memory map or
/// a buffer) alive.
#[derive(Clone)]
pub(crate) struct Bytes {
    owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
    start: usize,
    end: usize,
}

impl Bytes {
    /// Wraps a whole owner.
    pub(crate) fn new(owner: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Bytes {
        let end = (*owner).as_ref().len();
        Bytes {
            owner,
            start: 0,
            end,
        }
    }

    /// Wraps an owned vector.
    pub(crate) fn from_vec(bytes: Vec<u8>) -> Bytes {
        Bytes::new(Arc::new(bytes))
    }

    /// Returns a sub-range, or `None` if it does not lie inside these bytes.
    pub(crate) fn get(&self, range: Range<usize>) -> Option<Bytes> {
        if range.start > range.end || range.end > self.len() {
            return None;
        }
        Some(Bytes {
            owner: Arc::clone(&self.owner),
            start: self.start + range.start,
            end: self.start + range.end,
        })
    }
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.start..self.end]
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.len())
    }
}

/// Read access to the bytes of one immutable file.
pub(crate) trait Storage: Send + Sync + fmt::Debug {
    /// The file's path, for error messages.
    fn path(&self) -> &Path;

    /// The file's length in bytes.
    fn len(&self) -> u64;

    /// Reads `len` bytes at `offset`; errors with [`Error::Corrupt`] when the
    /// range does not lie inside the file.
    fn read(&self, offset: u64, len: u64) -> Result<Bytes>;
}

/// Checks that `offset..offset+len` lies inside a file of `file_len` bytes and
/// returns it as a `usize` range.
pub(crate) fn checked_range(
    path: &Path,
    file_len: u64,
    offset: u64,
    len: u64,
) -> Result<Range<usize>> {
    let end = offset.checked_add(len).filter(|&end| end <= file_len).ok_or_else(|| {
        Error::corrupt(path, format!("range of {len} bytes at offset {offset} runs past the end of the file ({file_len} bytes)"))
    })?;
    let start = usize::try_from(offset)
        .map_err(|_| Error::corrupt(path, "offset does not fit in memory"))?;
    let end =
        usize::try_from(end).map_err(|_| Error::corrupt(path, "offset does not fit in memory"))?;
    Ok(start..end)
}

/// How files are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Mmap,
    Pread,
}

/// Opens a file for reading in the given access mode.
pub(crate) fn open(path: &Path, access: Access) -> Result<Arc<dyn Storage>> {
    let path: PathBuf = path.to_path_buf();
    Ok(match access {
        Access::Mmap => Arc::new(MmapStorage::open(path)?),
        Access::Pread => Arc::new(PreadStorage::open(path)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_get_checks_bounds() {
        let bytes = Bytes::from_vec(vec![1, 2, 3, 4]);
        assert_eq!(&*bytes.get(1..3).unwrap(), &[2, 3]);
        assert!(bytes.get(3..5).is_none());
        assert!(bytes.get(1..3).unwrap().get(0..3).is_none());
    }

    #[test]
    fn checked_range_rejects_overflow() {
        let path = Path::new("f");
        assert_eq!(checked_range(path, 10, 2, 8).unwrap(), 2..10);
        assert!(checked_range(path, 10, 2, 9).is_err());
        assert!(checked_range(path, 10, u64::MAX, 2).is_err());
    }

    #[test]
    fn storages_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello world").unwrap();
        let mem = MemStorage::new(path.clone(), b"hello world".to_vec());
        for storage in [
            open(&path, Access::Mmap).unwrap(),
            open(&path, Access::Pread).unwrap(),
            Arc::new(mem) as Arc<dyn Storage>,
        ] {
            assert_eq!(storage.len(), 11);
            assert_eq!(&*storage.read(6, 5).unwrap(), b"world");
            assert!(storage.read(6, 6).is_err());
        }
    }
}
