//! The multistream index: one line `offset:page_id:title` per page, where
//! `offset` is the byte offset of the bz2 stream holding the page.
//!
//! Wikimedia ships it bz2-compressed next to the dump
//! (`X-pages-articles-multistream-index.txt.bz2`); a plain text index is
//! accepted too.

use std::fs::File;
use std::io::{BufRead, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bz2;
use crate::error::{Error, Result};
use crate::progress::ProgressInner;
use crate::source::{StreamSource, XmlSource};

/// One line of a multistream index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Byte offset of the bz2 stream that holds the page.
    pub offset: u64,
    /// Page id.
    pub page_id: u64,
    /// Page title (may contain `:`).
    pub title: String,
}

/// Splits an index line on its first two colons.
pub(crate) fn parse_index_line(line: &str) -> std::result::Result<IndexEntry, String> {
    let mut parts = line.splitn(3, ':');
    let (Some(offset), Some(page_id), Some(title)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("expected offset:page_id:title, got {line:?}"));
    };
    let offset = offset
        .parse()
        .map_err(|_| format!("stream offset {offset:?} is not a number"))?;
    let page_id = page_id
        .parse()
        .map_err(|_| format!("page id {page_id:?} is not a number"))?;
    Ok(IndexEntry {
        offset,
        page_id,
        title: title.to_owned(),
    })
}

/// The entries of a multistream index, read lazily.
///
/// Made by [`read_multistream_index`]. The whole English index has over 20
/// million lines, so it is streamed rather than collected.
pub struct MultistreamIndex {
    lines: Box<dyn XmlSource>,
    path: PathBuf,
    line_no: u64,
    line: Vec<u8>,
    last_offset: u64,
    failed: bool,
}

impl std::fmt::Debug for MultistreamIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultistreamIndex")
            .field("path", &self.path)
            .field("line_no", &self.line_no)
            .finish_non_exhaustive()
    }
}

impl Iterator for MultistreamIndex {
    type Item = Result<IndexEntry>;

    fn next(&mut self) -> Option<Result<IndexEntry>> {
        if self.failed {
            return None;
        }
        let result = self.next_entry().transpose();
        if matches!(result, Some(Err(_))) {
            self.failed = true;
        }
        result
    }
}

impl MultistreamIndex {
    fn next_entry(&mut self) -> Result<Option<IndexEntry>> {
        loop {
            self.line.clear();
            let n = match self.lines.read_until(b'\n', &mut self.line) {
                Ok(n) => n,
                Err(source) => {
                    return Err(self
                        .lines
                        .take_error()
                        .unwrap_or_else(|| Error::io(self.path.display().to_string(), source)));
                }
            };
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            let line =
                std::str::from_utf8(&self.line).map_err(|error| self.invalid(error.to_string()))?;
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                continue;
            }
            let entry = parse_index_line(line).map_err(|reason| self.invalid(reason))?;
            if entry.offset < self.last_offset {
                return Err(self.invalid(format!(
                    "offset {} comes after {}: offsets must ascend",
                    entry.offset, self.last_offset
                )));
            }
            self.last_offset = entry.offset;
            return Ok(Some(entry));
        }
    }

    fn invalid(&self, reason: String) -> Error {
        Error::Index {
            path: self.path.clone(),
            line: self.line_no,
            reason,
        }
    }

    /// The distinct stream offsets, ascending.
    pub(crate) fn stream_offsets(self) -> impl Iterator<Item = Result<u64>> + Send {
        let mut last = None;
        self.filter_map(move |entry| match entry {
            Ok(entry) if last == Some(entry.offset) => None,
            Ok(entry) => {
                last = Some(entry.offset);
                Some(Ok(entry.offset))
            }
            Err(error) => Some(Err(error)),
        })
    }
}

/// Opens a multistream index (bz2-compressed or plain text) and returns
/// its entries in file order.
///
/// A bz2 index is decoded with `threads` threads (0 = all cores).
pub fn read_multistream_index(path: &Path, threads: usize) -> Result<MultistreamIndex> {
    let name = path.display().to_string();
    let mut file = File::open(path).map_err(|source| Error::io(&name, source))?;
    let mut magic = [0u8; 4];
    let mut filled = 0;
    while filled < magic.len() {
        let n = file
            .read(&mut magic[filled..])
            .map_err(|source| Error::io(&name, source))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    let head = std::io::Cursor::new(magic[..filled].to_vec());
    let raw: Box<dyn Read + Send> = Box::new(head.chain(file));
    let lines: Box<dyn XmlSource> = if bz2::is_stream_header(&magic[..filled]) {
        let threads = crate::resolve_threads(threads);
        let progress = Arc::new(ProgressInner::default());
        Box::new(bz2::spawn(
            raw,
            bz2::Split::Blocks { base: 0, end: None },
            threads,
            name,
            progress,
            0,
        ))
    } else {
        let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
        Box::new(StreamSource::new(raw, name, None, count))
    };
    Ok(MultistreamIndex {
        lines,
        path: path.to_owned(),
        line_no: 0,
        line: Vec::new(),
        last_offset: 0,
        failed: false,
    })
}

/// Splits a multistream dump into `n` parts by its index: `n` contiguous
/// byte ranges that hold near-equal numbers of streams (100 pages each in
/// Wikimedia dumps).
///
/// Pass each range as [`crate::OpenOptions::range`]: a part yields exactly
/// the pages whose stream starts in its range, so the parts together yield
/// every page once, in order. The first range starts at 0 (the siteinfo
/// header) and the last one ends at `u64::MAX` (the end of the file). When
/// `n` exceeds the number of streams, the last ranges are empty.
pub fn multistream_parts(index_path: &Path, n: usize) -> Result<Vec<Range<u64>>> {
    let n = n.max(1);
    let offsets: Vec<u64> = read_multistream_index(index_path, 0)?
        .stream_offsets()
        .collect::<Result<_>>()?;
    let mut starts = Vec::with_capacity(n);
    starts.push(0);
    for part in 1..n {
        let start = offsets
            .get(part * offsets.len() / n)
            .copied()
            .unwrap_or(u64::MAX)
            .max(*starts.last().unwrap_or(&0));
        starts.push(start);
    }
    let mut parts = Vec::with_capacity(n);
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(u64::MAX);
        parts.push(start..end);
    }
    Ok(parts)
}

/// The index file Wikimedia publishes next to a multistream dump:
/// `X-pages-articles-multistream.xml.bz2` has
/// `X-pages-articles-multistream-index.txt.bz2`, and the chunked
/// `X-pages-articles-multistream1.xml-p1p41242.bz2` has
/// `X-pages-articles-multistream-index1.txt-p1p41242.bz2`.
pub fn sibling_index_path(dump_path: &Path) -> Option<PathBuf> {
    let file_name = dump_path.file_name()?.to_str()?;
    let at = file_name.rfind("multistream")?;
    let (head, tail) = file_name.split_at(at + "multistream".len());
    if tail.starts_with("-index") {
        return None;
    }
    let tail = tail.replacen(".xml", ".txt", 1);
    Some(dump_path.with_file_name(format!("{head}-index{tail}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_the_first_two_colons() {
        let entry = parse_index_line("718:2566:Ζηλανδία: (επαρχία)").unwrap();
        assert_eq!(entry.offset, 718);
        assert_eq!(entry.page_id, 2566);
        assert_eq!(entry.title, "Ζηλανδία: (επαρχία)");
        assert!(parse_index_line("718:x:T").is_err());
        assert!(parse_index_line("718").is_err());
    }

    #[test]
    fn sibling_names_follow_wikimedia() {
        let check = |dump: &str, index: &str| {
            assert_eq!(
                sibling_index_path(Path::new(dump)),
                Some(PathBuf::from(index))
            );
        };
        check(
            "/d/enwiki-20240101-pages-articles-multistream.xml.bz2",
            "/d/enwiki-20240101-pages-articles-multistream-index.txt.bz2",
        );
        check(
            "enwiki-20240101-pages-articles-multistream1.xml-p1p41242.bz2",
            "enwiki-20240101-pages-articles-multistream-index1.txt-p1p41242.bz2",
        );
        check(
            "elwikivoyage-pages-articles-multistream-p2566p2583.xml.bz2",
            "elwikivoyage-pages-articles-multistream-index-p2566p2583.txt.bz2",
        );
        assert_eq!(
            sibling_index_path(Path::new("enwiki-pages-articles.xml.bz2")),
            None
        );
    }
}
