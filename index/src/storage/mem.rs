//! In-memory storage, for tests and for parsing bytes that are already loaded.

use std::path::{Path, PathBuf};

use super::{Bytes, Storage, checked_range};
use crate::error::Result;

/// A file held in memory.
#[derive(Debug)]
pub(crate) struct MemStorage {
    path: PathBuf,
    bytes: Bytes,
}

impl MemStorage {
    /// Wraps `bytes`, reporting errors under the name `path`.
    pub(crate) fn new(path: PathBuf, bytes: Vec<u8>) -> MemStorage {
        MemStorage {
            path,
            bytes: Bytes::from_vec(bytes),
        }
    }
}

impl Storage for MemStorage {
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
