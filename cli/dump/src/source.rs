//! Byte sources under the XML parser: plain, gzip, zstd and bz2 (see
//! [`crate::bz2`]), each a [`BufRead`] that remembers why it failed.

use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Position};
use crate::progress::ProgressInner;

/// Decompressed XML with enough context to explain a failure.
pub(crate) trait XmlSource: BufRead + Send {
    /// Compressed byte offset of the data being read now, when meaningful.
    fn compressed_offset(&self) -> Option<u64>;
    /// The error behind the last `io::Error` this source returned.
    fn take_error(&mut self) -> Option<Error>;
}

/// Counts the bytes read from the raw input.
pub(crate) struct CountingReader {
    inner: Box<dyn Read + Send>,
    progress: Arc<ProgressInner>,
    count: Arc<AtomicU64>,
}

impl CountingReader {
    pub(crate) fn new(
        inner: Box<dyn Read + Send>,
        progress: Arc<ProgressInner>,
    ) -> (CountingReader, Arc<AtomicU64>) {
        let count = Arc::new(AtomicU64::new(0));
        let reader = CountingReader {
            inner,
            progress,
            count: Arc::clone(&count),
        };
        (reader, count)
    }
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        self.progress
            .bytes_read
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Plain XML, or XML from a streaming decoder (gzip, zstd).
pub(crate) struct StreamSource {
    inner: BufReader<Box<dyn Read + Send>>,
    name: String,
    /// "gzip", "zstd", or `None` for plain XML.
    format: Option<&'static str>,
    raw_count: Arc<AtomicU64>,
    error: Option<Error>,
    failed: bool,
}

impl StreamSource {
    pub(crate) fn new(
        decoded: Box<dyn Read + Send>,
        name: String,
        format: Option<&'static str>,
        raw_count: Arc<AtomicU64>,
    ) -> StreamSource {
        StreamSource {
            inner: BufReader::with_capacity(256 * 1024, decoded),
            name,
            format,
            raw_count,
            error: None,
            failed: false,
        }
    }

    fn classify(&self, source: io::Error) -> Error {
        let name = self.name.clone();
        let Some(format) = self.format else {
            return Error::Io { name, source };
        };
        let position = Box::new(Position {
            compressed_offset: self.compressed_offset(),
            ..Position::default()
        });
        match source.kind() {
            io::ErrorKind::UnexpectedEof => Error::Truncated {
                name,
                format,
                position,
            },
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::Other => {
                let reason = source.to_string();
                if reason.contains("incomplete") || reason.contains("unexpected end") {
                    Error::Truncated {
                        name,
                        format,
                        position,
                    }
                } else {
                    Error::Corrupt {
                        name,
                        format,
                        position,
                        reason,
                    }
                }
            }
            _ => Error::Io { name, source },
        }
    }
}

impl Read for StreamSource {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for StreamSource {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.failed {
            return Err(io::Error::other("reading failed"));
        }
        // Borrow dance: classify needs `&self` while `inner` is borrowed.
        let failed = match self.inner.fill_buf() {
            Ok(_) => None,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => None,
            Err(error) => Some(error),
        };
        if let Some(error) = failed {
            self.error = Some(self.classify(error));
            self.failed = true;
            return Err(io::Error::other("reading failed"));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
    }
}

impl XmlSource for StreamSource {
    fn compressed_offset(&self) -> Option<u64> {
        self.format.map(|_| self.raw_count.load(Ordering::Relaxed))
    }

    fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }
}

/// Serves `prefix` (the siteinfo header of a multistream dump) before the
/// bytes of `inner` (a byte range of the same dump).
pub(crate) struct PrefixedSource {
    prefix: Cursor<Vec<u8>>,
    inner: Option<Box<dyn XmlSource>>,
}

impl PrefixedSource {
    pub(crate) fn new(prefix: Vec<u8>, inner: Option<Box<dyn XmlSource>>) -> PrefixedSource {
        PrefixedSource {
            prefix: Cursor::new(prefix),
            inner,
        }
    }

    fn prefix_left(&self) -> bool {
        (self.prefix.position() as usize) < self.prefix.get_ref().len()
    }
}

impl Read for PrefixedSource {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for PrefixedSource {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.prefix_left() {
            return self.prefix.fill_buf();
        }
        match &mut self.inner {
            Some(inner) => inner.fill_buf(),
            None => Ok(&[]),
        }
    }

    fn consume(&mut self, amount: usize) {
        if self.prefix_left() {
            self.prefix.consume(amount);
        } else if let Some(inner) = &mut self.inner {
            inner.consume(amount);
        }
    }
}

impl XmlSource for PrefixedSource {
    fn compressed_offset(&self) -> Option<u64> {
        self.inner
            .as_ref()
            .and_then(|inner| inner.compressed_offset())
    }

    fn take_error(&mut self) -> Option<Error> {
        self.inner.as_mut().and_then(|inner| inner.take_error())
    }
}
