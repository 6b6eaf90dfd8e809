//! Storage that reads with positioned reads (`pread`), for filesystems where
//! memory maps are unsafe (a file truncated under a map raises SIGBUS) or slow.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{Bytes, Storage, checked_range};
use crate::error::{Error, Result};

/// A file read with `pread`; each read allocates its own buffer.
#[derive(Debug)]
pub(crate) struct PreadStorage {
    path: PathBuf,
    file: File,
    len: u64,
}

impl PreadStorage {
    /// Opens `path` and records its length.
    pub(crate) fn open(path: PathBuf) -> Result<PreadStorage> {
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        Ok(PreadStorage { path, file, len })
    }
}

impl Storage for PreadStorage {
    fn path(&self) -> &Path {
        &self.path
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn read(&self, offset: u64, len: u64) -> Result<Bytes> {
        let range = checked_range(&self.path, self.len, offset, len)?;
        let mut buf = vec![0u8; range.len()];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(Bytes::from_vec(buf))
    }
}
