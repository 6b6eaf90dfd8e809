//! Memory-mapped storage (the default): reads are zero-copy slices of the map.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

use super::{Bytes, Storage, checked_range};
use crate::error::{Error, Result};

/// A file mapped read-only into memory.
#[derive(Debug)]
pub(crate) struct MmapStorage {
    path: PathBuf,
    bytes: Bytes,
}

impl MmapStorage {
    /// Maps `path` read-only.
    pub(crate) fn open(path: PathBuf) -> Result<MmapStorage> {
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        if len == 0 {
            // Mapping an empty file fails on some platforms; there is nothing to map.
            return Ok(MmapStorage {
                path,
                bytes: Bytes::from_vec(Vec::new()),
            });
        }
        // SAFETY: the map is read-only and index files are immutable once written:
        // the writer builds into a temporary directory and only renames complete
        // files into place, and never opens a published file for writing again.
        // A file truncated by a third party under the map would raise SIGBUS on
        // access; `OpenOptions::mmap(false)` (pread mode) exists for filesystems
        // where that can happen.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
        Ok(MmapStorage {
            path,
            bytes: Bytes::new(Arc::new(mmap)),
        })
    }
}

impl Storage for MmapStorage {
    fn path(&self) -> &Path {
        &self.path
    }

    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read(&self, offset: u64, len: u64) -> Result<Bytes> {
        let range = checked_range(&self.path, self.len(), offset, len)?;
        Ok(self
            .bytes
            .get(range)
            .expect("range checked against the length"))
    }
}
