//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// A specialised `Result` whose error defaults to [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while building or reading an index.
///
/// Every variant that concerns a file names it, so that an operator can tell
/// which file to restore. Recovery: a [`Error::FormatVersion`] means the index
/// was written by another release and must be rebuilt (or read with a matching
/// release); [`Error::Checksum`] and [`Error::Corrupt`] mean the file was damaged
/// after it was written and the index must be rebuilt or copied again;
/// [`Error::Io`] carries the operating system's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating system call on `path` failed.
    #[error("io error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A file was written in a format version this release does not read.
    #[error(
        "unsupported format version in {path}: this release reads version {expected}, found {found}"
    )]
    FormatVersion {
        /// The file.
        path: PathBuf,
        /// The version this release reads.
        expected: u32,
        /// The version found in the file.
        found: u32,
    },
    /// A checksum stored in a file (or in the manifest) does not match the bytes.
    #[error("checksum mismatch in {path}: expected {expected:#010x}, found {found:#010x}")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The checksum that was recorded.
        expected: u32,
        /// The checksum of the bytes that were read.
        found: u32,
    },
    /// A file is structurally invalid (bad magic, truncated, offsets out of range).
    #[error("corrupt file {path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The caller passed arguments the writer or a query cannot accept.
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// What was wrong.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Error {
        Error::InvalidInput {
            reason: reason.into(),
        }
    }

    /// Returns the file this error is about, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Error::Io { path, .. }
            | Error::FormatVersion { path, .. }
            | Error::Checksum { path, .. }
            | Error::Corrupt { path, .. } => Some(path),
            Error::InvalidInput { .. } => None,
        }
    }
}
