//! Streaming reader for MediaWiki XML dumps.
//!
//! [`open`] takes a dump as Wikimedia publishes it (`pages-articles` XML,
//! plain, `.bz2` single-stream or multistream, `.gz`, `.zst`, or stdin),
//! detects the format from its first bytes, reads the `<siteinfo>` header
//! and returns a [`DumpReader`] that yields one [`Page`] at a time with its
//! latest revision. Memory stays bounded whatever the size of the dump.
//!
//! Layers, bottom up:
//! - decompression: gzip and zstd with their streaming decoders; bz2 with a
//!   parallel decoder of our own (`bz2`) that decodes blocks (or, with a
//!   multistream index, whole streams) on all cores and hands out the bytes
//!   in order;
//! - XML: a quick-xml pull parser (`reader`) that keeps only what a [`Page`]
//!   needs;
//! - batching: [`DumpReader::into_batches`] moves the reader to a thread and
//!   sends `Vec<Page>` batches through a bounded channel.
//!
//! Multistream dumps can also be read in parts: [`multistream_parts`] cuts
//! a dump into byte ranges by its index, and [`OpenOptions::range`] reads
//! the pages of one range.
//!
//! # Example
//!
//! ```
//! # fn main() -> dump::Result<()> {
//! let input = dump::Input::parse("../../data/simplewiki-2019-sample-7pages.xml.bz2");
//! let mut reader = dump::open(&input, &dump::OpenOptions::default())?;
//! assert_eq!(reader.siteinfo().dbname.as_deref(), Some("simplewiki"));
//! while let Some(page) = reader.next_page()? {
//!     println!("{} {} ({} bytes)", page.id, page.title, page.text.len());
//! }
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod bz2;
mod error;
mod index;
mod page;
mod progress;
mod reader;
mod source;

use std::fs::File;
use std::io::{self, BufRead, Cursor, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{Error, Position, Result};
pub use index::{
    IndexEntry, MultistreamIndex, multistream_parts, read_multistream_index, sibling_index_path,
};
pub use page::{Page, SiteInfo};
pub use progress::Progress;
pub use reader::{Batches, DumpReader};

use source::{CountingReader, PrefixedSource, StreamSource, XmlSource};

/// Bytes looked at to detect the format (and whether a bz2 file has more
/// than one stream).
const PEEK_BYTES: usize = 1 << 20;

/// Where a dump comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file.
    Path(PathBuf),
    /// Standard input.
    Stdin,
}

impl Input {
    /// Parses a command-line argument: `-` is stdin, anything else a path.
    pub fn parse(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }

    /// Returns the name used in messages: the path, or `<stdin>`.
    pub fn display_name(&self) -> String {
        match self {
            Input::Path(path) => path.display().to_string(),
            Input::Stdin => "<stdin>".to_owned(),
        }
    }
}

/// The format of a dump, detected from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Plain XML.
    Xml,
    /// bzip2 with a single stream (or with more streams than one, when the
    /// second one starts too far into the file to be seen when opening).
    Bzip2,
    /// bzip2 with several streams, as Wikimedia's `-multistream` dumps.
    Bzip2Multistream,
    /// gzip (one or more members).
    Gzip,
    /// zstd (one or more frames).
    Zstd,
}

impl Format {
    fn detect(peek: &[u8]) -> Option<Format> {
        if bz2::is_stream_header(peek) {
            return Some(if bz2::looks_multistream(peek) {
                Format::Bzip2Multistream
            } else {
                Format::Bzip2
            });
        }
        if peek.starts_with(&[0x1f, 0x8b]) {
            return Some(Format::Gzip);
        }
        if peek.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            return Some(Format::Zstd);
        }
        let text = peek.strip_prefix(b"\xef\xbb\xbf").unwrap_or(peek);
        let first = text.iter().find(|b| !b.is_ascii_whitespace());
        (first == Some(&b'<')).then_some(Format::Xml)
    }

    fn is_bzip2(self) -> bool {
        matches!(self, Format::Bzip2 | Format::Bzip2Multistream)
    }
}

/// Options of [`open`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Decoding threads for bz2 input; 0 means one per core.
    pub threads: usize,
    /// The multistream index of a bz2 dump. When `None`, a file named as
    /// Wikimedia names the index of the dump (see [`sibling_index_path`])
    /// is used if it exists.
    pub multistream_index: Option<PathBuf>,
    /// Reads only the pages whose bz2 stream starts in this byte range of
    /// a multistream dump (see [`multistream_parts`]). The siteinfo header
    /// is read from the start of the file in any case.
    pub range: Option<Range<u64>>,
}

pub(crate) fn resolve_threads(threads: usize) -> usize {
    if threads > 0 {
        return threads;
    }
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Opens a dump and reads it up to the first `<page>`, so that
/// [`DumpReader::siteinfo`] is known.
pub fn open(input: &Input, opts: &OpenOptions) -> Result<DumpReader> {
    let name = input.display_name();
    match input {
        Input::Stdin => {
            if opts.range.is_some() {
                return Err(Error::Options {
                    name,
                    reason: "a byte range needs a file, not stdin".to_owned(),
                });
            }
            open_stream(Box::new(io::stdin()), name, None, opts, None)
        }
        Input::Path(path) => {
            let file = File::open(path).map_err(|source| Error::io(&name, source))?;
            let size = file
                .metadata()
                .map_err(|source| Error::io(&name, source))?
                .len();
            match &opts.range {
                Some(range) => open_range(file, size, path, range.clone(), name, opts),
                None => open_stream(Box::new(file), name, Some(size), opts, Some(path)),
            }
        }
    }
}

/// Opens a dump from any reader (this is what [`open`] does for stdin).
pub fn open_reader(reader: Box<dyn Read + Send>, name: &str) -> Result<DumpReader> {
    open_reader_with_options(reader, name, &OpenOptions::default())
}

/// Opens a dump from any reader, with options (a byte range needs a file
/// and is refused here).
pub fn open_reader_with_options(
    reader: Box<dyn Read + Send>,
    name: &str,
    opts: &OpenOptions,
) -> Result<DumpReader> {
    if opts.range.is_some() {
        return Err(Error::Options {
            name: name.to_owned(),
            reason: "a byte range needs a file, not a reader".to_owned(),
        });
    }
    open_stream(reader, name.to_owned(), None, opts, None)
}

/// Decompressed bytes of a dump, without XML parsing; made by
/// [`open_decompressed`].
///
/// A decoding error comes out as an `io::Error` whose inner error
/// (`get_ref()`) is the crate's [`Error`] with its position.
pub struct Decompressed {
    source: Box<dyn XmlSource>,
    format: Format,
    progress: Progress,
}

impl std::fmt::Debug for Decompressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressed")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Decompressed {
    /// Returns the detected input format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Returns a handle on the progress counters (pages stay 0).
    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }

    fn convert(&mut self, error: io::Error) -> io::Error {
        match self.source.take_error() {
            Some(error) => io::Error::other(error),
            None => error,
        }
    }
}

impl Read for Decompressed {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self.source.read(out) {
            Ok(n) => Ok(n),
            Err(error) => Err(self.convert(error)),
        }
    }
}

impl BufRead for Decompressed {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // Check first, then borrow: the error path needs `&mut self`.
        if let Err(error) = self.source.fill_buf() {
            return Err(self.convert(error));
        }
        self.source.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.source.consume(amount);
    }
}

/// Opens a dump and returns its decompressed bytes (XML), decoded as
/// [`open`] decodes them.
pub fn open_decompressed(input: &Input, opts: &OpenOptions) -> Result<Decompressed> {
    let name = input.display_name();
    let (reader, size, path): (Box<dyn Read + Send>, _, _) = match input {
        Input::Stdin => (Box::new(io::stdin()), None, None),
        Input::Path(path) => {
            let file = File::open(path).map_err(|source| Error::io(&name, source))?;
            let size = file
                .metadata()
                .map_err(|source| Error::io(&name, source))?
                .len();
            (Box::new(file), Some(size), Some(path.as_path()))
        }
    };
    let (source, format, progress) = decompress(reader, name, size, opts, path)?;
    Ok(Decompressed {
        source,
        format,
        progress,
    })
}

fn open_stream(
    reader: Box<dyn Read + Send>,
    name: String,
    size: Option<u64>,
    opts: &OpenOptions,
    path: Option<&Path>,
) -> Result<DumpReader> {
    let (source, format, progress) = decompress(reader, name.clone(), size, opts, path)?;
    DumpReader::new(source, name, format, progress, false)
}

/// Reads up to `limit` bytes from the start of `reader`.
fn peek(reader: &mut dyn Read, limit: usize, name: &str) -> Result<Vec<u8>> {
    let mut peeked = Vec::with_capacity(limit.min(64 * 1024));
    reader
        .take(limit as u64)
        .read_to_end(&mut peeked)
        .map_err(|source| Error::io(name, source))?;
    Ok(peeked)
}

/// Detects the format and builds the decoding pipeline.
fn decompress(
    mut reader: Box<dyn Read + Send>,
    name: String,
    size: Option<u64>,
    opts: &OpenOptions,
    path: Option<&Path>,
) -> Result<(Box<dyn XmlSource>, Format, Progress)> {
    let head = peek(&mut reader, PEEK_BYTES, &name)?;
    let mut format = Format::detect(&head).ok_or_else(|| Error::UnknownFormat {
        name: name.clone(),
        magic: head.iter().take(8).copied().collect(),
    })?;
    let index_path = index_for(format, opts, path, &name)?;
    let progress = Progress::new(size);
    let rejoined: Box<dyn Read + Send> = Box::new(Cursor::new(head).chain(reader));
    let threads = resolve_threads(opts.threads);
    let source: Box<dyn XmlSource> = match format {
        Format::Xml | Format::Gzip | Format::Zstd => {
            let (counting, count) = CountingReader::new(rejoined, Arc::clone(&progress.inner));
            let (decoded, label): (Box<dyn Read + Send>, _) = match format {
                Format::Gzip => (
                    Box::new(flate2::read::MultiGzDecoder::new(counting)),
                    Some("gzip"),
                ),
                Format::Zstd => {
                    let decoder = zstd::stream::read::Decoder::new(counting)
                        .map_err(|source| Error::io(&name, source))?;
                    (Box::new(decoder), Some("zstd"))
                }
                _ => (Box::new(counting), None),
            };
            Box::new(StreamSource::new(decoded, name.clone(), label, count))
        }
        Format::Bzip2 | Format::Bzip2Multistream => {
            let split = match &index_path {
                Some(index_path) => {
                    format = Format::Bzip2Multistream;
                    let offsets = read_multistream_index(index_path, 1)?.stream_offsets();
                    let starts = std::iter::once(Ok(0))
                        .chain(offsets.filter(|offset| !matches!(offset, Ok(0))));
                    bz2::Split::Streams {
                        starts: Box::new(starts),
                        end: None,
                    }
                }
                None => bz2::Split::Blocks { base: 0, end: None },
            };
            Box::new(bz2::spawn(
                rejoined,
                split,
                threads,
                name.clone(),
                Arc::clone(&progress.inner),
                0,
            ))
        }
    };
    Ok((source, format, progress))
}

/// The multistream index to use: the explicit one, or the sibling file.
fn index_for(
    format: Format,
    opts: &OpenOptions,
    path: Option<&Path>,
    name: &str,
) -> Result<Option<PathBuf>> {
    if let Some(index) = &opts.multistream_index {
        if !format.is_bzip2() {
            return Err(Error::Options {
                name: name.to_owned(),
                reason: format!(
                    "a multistream index was given, but the input is {format:?}, not bz2"
                ),
            });
        }
        return Ok(Some(index.clone()));
    }
    if !format.is_bzip2() {
        return Ok(None);
    }
    Ok(path
        .and_then(sibling_index_path)
        .filter(|index| index.is_file()))
}

/// Opens the pages whose stream starts in `range` of a multistream file.
fn open_range(
    mut file: File,
    size: u64,
    path: &Path,
    range: Range<u64>,
    name: String,
    opts: &OpenOptions,
) -> Result<DumpReader> {
    let head = peek(&mut file, PEEK_BYTES, &name)?;
    let format = Format::detect(&head);
    if !format.is_some_and(Format::is_bzip2) {
        return Err(Error::Options {
            name,
            reason: "a byte range needs a bz2 multistream file".to_owned(),
        });
    }
    let index_path = index_for(Format::Bzip2, opts, Some(path), &name)?;
    let end = range.end.min(size);
    let progress = Progress::new(Some(end.saturating_sub(range.start)));
    // The siteinfo header (stream 0), up to its first page if it has any.
    let mut prefix = Vec::new();
    if range.start > 0 {
        prefix = bz2::decode_first_stream(&head).map_err(|reason| Error::Corrupt {
            name: name.clone(),
            format: "bz2",
            position: Box::new(Position {
                compressed_offset: Some(0),
                ..Position::default()
            }),
            reason,
        })?;
        if let Some(at) = find(&prefix, b"<page") {
            prefix.truncate(at);
        }
    }
    let threads = resolve_threads(opts.threads);
    let first_stream = match &index_path {
        Some(index_path) => {
            let mut offsets = read_multistream_index(index_path, 1)?
                .stream_offsets()
                .peekable();
            // Skip to the first stream at or after the start.
            let mut first = if range.start == 0 { Some(0) } else { None };
            while first.is_none() {
                match offsets.next().transpose()? {
                    Some(offset) if offset >= range.start => first = Some(offset),
                    Some(_) => {}
                    None => break,
                }
            }
            match first {
                Some(first) if first < end => {
                    let rest = offsets.filter(|offset| !matches!(offset, Ok(0)));
                    let starts = std::iter::once(Ok(first)).chain(rest);
                    let split = bz2::Split::Streams {
                        starts: Box::new(starts),
                        end: Some(range.end),
                    };
                    Some((first, split))
                }
                _ => None,
            }
        }
        None => {
            let start = find_stream_start(&mut file, range.start, end, &name)?;
            start.map(|start| {
                (
                    start,
                    bz2::Split::Blocks {
                        base: start,
                        end: Some(range.end),
                    },
                )
            })
        }
    };
    let inner: Option<Box<dyn XmlSource>> = match first_stream {
        Some((start, split)) => {
            file.seek(SeekFrom::Start(start))
                .map_err(|source| Error::io(&name, source))?;
            Some(Box::new(bz2::spawn(
                Box::new(file),
                split,
                threads,
                name.clone(),
                Arc::clone(&progress.inner),
                range.start,
            )))
        }
        None => None,
    };
    let source = Box::new(PrefixedSource::new(prefix, inner));
    DumpReader::new(source, name, Format::Bzip2Multistream, progress, true)
}

/// Finds the first stream header (`BZh` + level digit + a block or
/// end-of-stream magic, byte-aligned) at or after `start` and before `end`.
fn find_stream_start(file: &mut File, start: u64, end: u64, name: &str) -> Result<Option<u64>> {
    const WINDOW: usize = 1 << 20;
    let mut at = start;
    while at < end {
        file.seek(SeekFrom::Start(at))
            .map_err(|source| Error::io(name, source))?;
        let window = peek(file, WINDOW + 9, name)?;
        for i in 0..window.len().saturating_sub(9).min(WINDOW) {
            if at + i as u64 >= end {
                return Ok(None);
            }
            let candidate = &window[i..];
            if bz2::is_stream_header(candidate) {
                let magic = bz2::bits::read_bits(candidate, 32, 48);
                if magic == bz2::bits::BLOCK_MAGIC || magic == bz2::bits::EOS_MAGIC {
                    return Ok(Some(at + i as u64));
                }
            }
        }
        if window.len() < WINDOW + 9 {
            return Ok(None);
        }
        at += WINDOW as u64;
    }
    Ok(None)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_by_magic() {
        assert_eq!(Format::detect(b"<mediawiki>"), Some(Format::Xml));
        assert_eq!(
            Format::detect(b"\xef\xbb\xbf\n  <?xml version=\"1.0\"?>"),
            Some(Format::Xml)
        );
        assert_eq!(Format::detect(&[0x1f, 0x8b, 8, 0]), Some(Format::Gzip));
        assert_eq!(
            Format::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(Format::Zstd)
        );
        assert_eq!(
            Format::detect(b"BZh9\x31\x41\x59\x26\x53\x59"),
            Some(Format::Bzip2)
        );
        assert_eq!(Format::detect(b"hello"), None);
        assert_eq!(Format::detect(b""), None);
    }

    #[test]
    fn parses_stdin_dash() {
        assert_eq!(Input::parse("-"), Input::Stdin);
        assert_eq!(Input::parse("a.xml"), Input::Path(PathBuf::from("a.xml")));
        assert_eq!(Input::Stdin.display_name(), "<stdin>");
    }
}
