//! The error type of the crate.

use std::fmt;
use std::path::PathBuf;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in a dump an error happened.
///
/// Every error that comes from the content of a dump carries one, so that a
/// message can name the byte to look at and the last page that was read
/// correctly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// Byte offset in the compressed input (for plain XML, in the file);
    /// for bz2 input, the start of the block or stream that failed.
    pub compressed_offset: Option<u64>,
    /// Byte offset in the decompressed XML.
    pub xml_offset: Option<u64>,
    /// The last page read completely before the error: (id, title).
    pub last_page: Option<(u64, String)>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(offset) = self.compressed_offset {
            parts.push(format!("compressed byte offset {offset}"));
        }
        if let Some(offset) = self.xml_offset {
            parts.push(format!("XML byte offset {offset}"));
        }
        match &self.last_page {
            Some((id, title)) => parts.push(format!("after page {id} {title:?}")),
            None => parts.push("before the first page".to_owned()),
        }
        f.write_str(&parts.join(", "))
    }
}

/// Everything that can go wrong while reading a dump.
///
/// Errors about the content of a dump (corrupt or truncated compressed data,
/// malformed XML, bad UTF-8) name the input and a [`Position`]. They are not
/// recoverable for the stream at hand: the reader stops after returning one.
/// Re-download the dump, or, for a multistream dump, skip the damaged
/// part with [`crate::OpenOptions::range`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input (or its multistream index) could not be opened or read.
    #[error("failed to read {name}: {source}")]
    Io {
        /// Display name of the input.
        name: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The first bytes match no supported format.
    #[error("unknown format of {name}: first bytes {magic:02x?} are not XML, bz2, gzip or zstd")]
    UnknownFormat {
        /// Display name of the input.
        name: String,
        /// The first bytes of the input.
        magic: Vec<u8>,
    },
    /// The compressed data ends in the middle of a block or stream.
    #[error("truncated {format} data in {name} at {position}")]
    Truncated {
        /// Display name of the input.
        name: String,
        /// The compression format ("bz2", "gzip", "zstd").
        format: &'static str,
        /// Where the data ended.
        position: Box<Position>,
    },
    /// The compressed data does not decode (bad block, CRC mismatch).
    #[error("corrupt {format} data in {name} at {position}: {reason}")]
    Corrupt {
        /// Display name of the input.
        name: String,
        /// The compression format ("bz2", "gzip", "zstd").
        format: &'static str,
        /// Where the corrupt data starts.
        position: Box<Position>,
        /// What the decoder reported.
        reason: String,
    },
    /// The decompressed data is not well-formed XML, or not a MediaWiki
    /// export (a page without an id, an id that is not a number).
    #[error("malformed XML in {name} at {position}: {reason}")]
    Xml {
        /// Display name of the input.
        name: String,
        /// Where the parser stopped.
        position: Box<Position>,
        /// What the parser reported.
        reason: String,
    },
    /// The decompressed data is not UTF-8 (MediaWiki dumps always are).
    #[error("invalid UTF-8 in {name} at {position}: {reason}")]
    Utf8 {
        /// Display name of the input.
        name: String,
        /// Where the bad bytes are.
        position: Box<Position>,
        /// What the decoder reported.
        reason: String,
    },
    /// A line of a multistream index is not `offset:page_id:title`, or the
    /// offsets are not ascending.
    #[error("invalid multistream index {path} line {line}: {reason}")]
    Index {
        /// Path of the index file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong with the line.
        reason: String,
    },
    /// The options do not fit the input (a byte range of stdin, an index
    /// for a file that is not bz2).
    #[error("invalid options for {name}: {reason}")]
    Options {
        /// Display name of the input.
        name: String,
        /// What does not fit.
        reason: String,
    },
}

impl Error {
    /// The position in the dump, for errors about its content.
    pub fn position(&self) -> Option<&Position> {
        match self {
            Error::Truncated { position, .. }
            | Error::Corrupt { position, .. }
            | Error::Xml { position, .. }
            | Error::Utf8 { position, .. } => Some(position),
            _ => None,
        }
    }

    pub(crate) fn io(name: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            name: name.into(),
            source,
        }
    }

    /// Fills in the parts of the position that only the XML layer knows.
    pub(crate) fn with_xml_context(
        mut self,
        xml_offset: u64,
        last_page: &Option<(u64, String)>,
    ) -> Error {
        if let Some(position) = self.position_mut() {
            if position.xml_offset.is_none() {
                position.xml_offset = Some(xml_offset);
            }
            if position.last_page.is_none() {
                position.last_page.clone_from(last_page);
            }
        }
        self
    }

    fn position_mut(&mut self) -> Option<&mut Position> {
        match self {
            Error::Truncated { position, .. }
            | Error::Corrupt { position, .. }
            | Error::Xml { position, .. }
            | Error::Utf8 { position, .. } => Some(position),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_names_offsets_and_page() {
        let position = Position {
            compressed_offset: Some(10),
            xml_offset: Some(20),
            last_page: Some((12, "Anarchism".to_owned())),
        };
        assert_eq!(
            position.to_string(),
            "compressed byte offset 10, XML byte offset 20, after page 12 \"Anarchism\""
        );
        assert_eq!(Position::default().to_string(), "before the first page");
    }
}
