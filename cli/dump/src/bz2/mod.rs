//! Parallel bzip2 decoding with ordered output and bounded memory.
//!
//! ```text
//! producer thread          workers (n threads)          consumer (the XML thread)
//! read input, cut it  -->  decode each job (`fast`, -->  take results in input order,
//! into jobs                libbz2 as the fallback)      check stream CRCs, hand out bytes
//! ```
//!
//! Each job is decoded by the decoder of [`fast`] (about twice as fast as
//! libbz2, mostly because its inverse BWT keeps many cache misses in flight);
//! whatever it declines is decoded again with libbz2 (bzip2 crate), so errors
//! and unusual inputs behave as libbz2 says.
//!
//! There are two ways to cut the input into jobs:
//! - **blocks** ([`Split::Blocks`]): find every block magic at any bit offset
//!   ([`bits::MagicScanner`]) and decode each block on its own (libbz2
//!   gets it re-wrapped into a one-block stream, [`bits::wrap_block`]). This works for
//!   single-stream and multistream files alike, without an index. A magic
//!   that appears by chance inside compressed data (a false positive, about
//!   once per 2^48 bits) cuts a block in two; both halves then fail to
//!   decode, and the consumer merges the failed job with the following ones
//!   and decodes again before it reports an error.
//! - **streams** ([`Split::Streams`]): byte offsets of whole streams, from a
//!   multistream index. Each job is one or more complete streams, decoded
//!   with a plain decoder.
//!
//! Memory stays bounded: the producer waits while `2 * threads + 2` jobs are
//! in flight. Each job holds at most one compressed block (about 1 MB) and its
//! output (at most 900 kB for real dumps).

pub(crate) mod bits;
mod fast;

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;

use bzip2::{Decompress, Status};
use crossbeam_channel::{Receiver, Sender, bounded};

use crate::error::{Error, Position};
use crate::progress::ProgressInner;
use crate::source::XmlSource;
use bits::{Magic, MagicScanner};

/// Read size of the producer.
const READ_CHUNK: usize = 1 << 20;
/// Longest run of compressed bytes without a magic that is still accepted.
/// A real block compresses at most 900 kB of input and can only grow by a
/// little, so anything much longer is garbage.
const MAX_SEGMENT_BYTES: u64 = 8 << 20;
/// Longest single job in stream mode (a stream of a real multistream dump is
/// 100 pages, a few MB at most).
const MAX_STREAM_JOB_BYTES: u64 = 256 << 20;
/// How many following segments a failed block is merged with before the
/// failure is reported.
const MAX_MERGE: usize = 3;

/// How the input is cut into jobs.
pub(crate) enum Split {
    /// Scan for block magics.
    Blocks {
        /// Absolute byte offset of the first byte the reader yields.
        base: u64,
        /// Stop before the first stream whose header starts at or after
        /// this absolute offset.
        end: Option<u64>,
    },
    /// Whole streams starting at these absolute offsets (ascending): job
    /// `i` is `[starts[i], starts[i + 1])`. The last job ends at the first
    /// start at or after `end`, or else at the end of the input. The reader
    /// yields bytes from `starts[0]`.
    Streams {
        /// Ascending stream offsets.
        starts: Box<dyn Iterator<Item = Result<u64, Error>> + Send>,
        /// Absolute offset where reading stops.
        end: Option<u64>,
    },
}

/// A failure found by the producer or a worker, before it gets the name of
/// the input attached.
#[derive(Debug)]
enum Failure {
    Io(io::Error),
    Truncated { offset: u64 },
    Corrupt { offset: u64, reason: String },
    Other(Error),
}

/// A run of compressed bits between two magics (blocks mode) or a run of
/// whole streams (streams mode).
#[derive(Debug)]
struct Segment {
    kind: SegmentKind,
    /// The bytes covering the bits, starting at absolute byte `first_byte`.
    bytes: Vec<u8>,
    first_byte: u64,
    /// Absolute bit offsets.
    start_bit: u64,
    end_bit: u64,
    /// Block size level (1..=9) of the stream the segment is in.
    level: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SegmentKind {
    Block,
    /// End-of-stream marker; `problem` says why the bytes after it do not
    /// look like a stream boundary.
    EndOfStream {
        problem: Option<String>,
    },
    Streams,
}

impl Segment {
    fn offset(&self) -> u64 {
        self.start_bit / 8
    }

    fn end_offset(&self) -> u64 {
        self.end_bit.div_ceil(8)
    }

    /// Decodes the segment (a block or whole streams).
    fn decode(&self) -> Result<Vec<u8>, Failure> {
        match self.kind {
            SegmentKind::Block => {
                let offset = self.first_byte * 8;
                if let Ok(out) = fast::decode_segment(
                    &self.bytes,
                    self.start_bit - offset,
                    self.end_bit - offset,
                    self.level,
                ) {
                    return Ok(out);
                }
                let wrapped = bits::wrap_block(
                    &self.bytes,
                    self.start_bit - self.first_byte * 8,
                    self.end_bit - self.start_bit,
                    self.level,
                );
                let mut out = Vec::with_capacity(usize::from(self.level) * 100_000 + 4096);
                decode_stream(&wrapped, &mut out).map_err(|(_, reason)| Failure::Corrupt {
                    offset: self.offset(),
                    reason: reason.unwrap_or_else(|| "block ends early".to_owned()),
                })?;
                Ok(out)
            }
            SegmentKind::Streams => fast::decode_streams(&self.bytes)
                .or_else(|_| decode_streams(&self.bytes, self.first_byte)),
            SegmentKind::EndOfStream { .. } => Ok(Vec::new()),
        }
    }

    /// The block CRC stored after the block magic, or the combined CRC
    /// stored after the end-of-stream magic.
    fn stored_crc(&self) -> u32 {
        bits::read_bits(&self.bytes, self.start_bit - self.first_byte * 8 + 48, 32) as u32
    }

    /// Joins the bits of `self` and the segment that follows it.
    fn merge(&self, next: &Segment) -> Segment {
        debug_assert_eq!(self.end_bit, next.start_bit);
        let keep = (self.end_bit / 8 - self.first_byte) as usize;
        let mut bytes = Vec::with_capacity(keep + next.bytes.len());
        bytes.extend_from_slice(&self.bytes[..keep]);
        bytes.extend_from_slice(&next.bytes);
        Segment {
            kind: SegmentKind::Block,
            bytes,
            first_byte: self.first_byte,
            start_bit: self.start_bit,
            end_bit: next.end_bit,
            level: self.level,
        }
    }
}

/// Decodes one complete stream at the start of `input` and appends it to
/// `out`. Returns the number of bytes the stream took, or
/// `(bytes consumed, reason)` where `reason` is `None` when the input ended
/// before the stream did.
fn decode_stream(input: &[u8], out: &mut Vec<u8>) -> Result<usize, (usize, Option<String>)> {
    let mut decoder = Decompress::new(false);
    loop {
        if out.capacity() - out.len() < 64 * 1024 {
            out.reserve(out.len().max(1 << 20));
        }
        let consumed = decoder.total_in() as usize;
        let produced = decoder.total_out();
        match decoder.decompress_vec(&input[consumed..], out) {
            Ok(Status::StreamEnd) => return Ok(decoder.total_in() as usize),
            Ok(_) => {
                let no_progress =
                    decoder.total_in() as usize == consumed && decoder.total_out() == produced;
                if no_progress {
                    return Err((consumed, None));
                }
            }
            Err(error) => return Err((decoder.total_in() as usize, Some(error.to_string()))),
        }
    }
}

/// Decodes a run of complete streams that starts at absolute offset `base`.
fn decode_streams(input: &[u8], base: u64) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::with_capacity(input.len() * 5);
    let mut pos = 0;
    while pos < input.len() {
        let rest = &input[pos..];
        let offset = base + pos as u64;
        if !is_stream_header(rest) {
            return Err(
                if rest.len() < 4 && b"BZh".starts_with(&rest[..rest.len().min(3)]) {
                    Failure::Truncated { offset }
                } else {
                    Failure::Corrupt {
                        offset,
                        reason: "no bzip2 stream starts here (does the index belong to this dump?)"
                            .to_owned(),
                    }
                },
            );
        }
        match decode_stream(rest, &mut out) {
            Ok(used) => pos += used,
            Err((_, None)) => return Err(Failure::Truncated { offset }),
            Err((_, Some(reason))) => return Err(Failure::Corrupt { offset, reason }),
        }
    }
    Ok(out)
}

/// Whether `bytes` starts with `BZh` and a level digit.
pub(crate) fn is_stream_header(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && &bytes[..3] == b"BZh" && (b'1'..=b'9').contains(&bytes[3])
}

/// Decodes the first stream of `input` (for the siteinfo header of a
/// multistream file) and returns its bytes.
pub(crate) fn decode_first_stream(input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match decode_stream(input, &mut out) {
        Ok(_) => Ok(out),
        Err((_, Some(reason))) => Err(reason),
        Err((_, None)) => Err("the first stream is truncated".to_owned()),
    }
}

/// Looks at the start of a bz2 file and tells whether another stream
/// follows the first one within `peek`.
pub(crate) fn looks_multistream(peek: &[u8]) -> bool {
    let mut scanner = MagicScanner::default();
    let mut first_eos = None;
    scanner.feed(peek, |bit, magic| {
        if magic == Magic::EndOfStream && first_eos.is_none() {
            first_eos = Some(bit);
        }
    });
    let Some(eos) = first_eos else {
        return false;
    };
    let next = (eos + 80).div_ceil(8) as usize;
    peek.len() > next && is_stream_header(&peek[next..])
}

/// One job in input order, as the consumer sees it.
struct Item {
    segment: Arc<Segment>,
    result: Option<Receiver<Result<Vec<u8>, Failure>>>,
}

/// Message from the producer to the consumer.
enum Message {
    Item(Item),
    Failed(Failure),
}

/// Starts the producer and the workers and returns the ordered reader.
pub(crate) fn spawn(
    input: Box<dyn Read + Send>,
    split: Split,
    threads: usize,
    name: String,
    progress: Arc<ProgressInner>,
    progress_base: u64,
) -> Bz2Reader {
    let threads = threads.max(1);
    let (order_tx, order_rx) = bounded::<Message>(2 * threads + 2);
    let (work_tx, work_rx) = bounded::<(Arc<Segment>, Sender<Result<Vec<u8>, Failure>>)>(threads);
    for index in 0..threads {
        let work_rx = work_rx.clone();
        let spawned = thread::Builder::new()
            .name(format!("dump-bz2-{index}"))
            .spawn(move || {
                for (segment, result_tx) in work_rx {
                    // The consumer may be gone; then the result is not needed.
                    let _ = result_tx.send(segment.decode());
                }
            });
        if let Err(error) = spawned {
            let _ = order_tx.send(Message::Failed(Failure::Io(error)));
        }
    }
    let producer_order_tx = order_tx.clone();
    let spawned = thread::Builder::new()
        .name("dump-bz2-reader".to_owned())
        .spawn(move || {
            let mut emit = |segment: Segment| -> bool {
                let segment = Arc::new(segment);
                let result =
                    if segment.kind == SegmentKind::Block || segment.kind == SegmentKind::Streams {
                        let (tx, rx) = bounded(1);
                        if work_tx.send((Arc::clone(&segment), tx)).is_err() {
                            return false;
                        }
                        Some(rx)
                    } else {
                        None
                    };
                producer_order_tx
                    .send(Message::Item(Item { segment, result }))
                    .is_ok()
            };
            let outcome = match split {
                Split::Blocks { base, end } => produce_blocks(input, base, end, &mut emit),
                Split::Streams { starts, end } => produce_streams(input, starts, end, &mut emit),
            };
            if let Err(failure) = outcome {
                let _ = producer_order_tx.send(Message::Failed(failure));
            }
        });
    if let Err(error) = spawned {
        let _ = order_tx.send(Message::Failed(Failure::Io(error)));
    }
    drop(order_tx);
    Bz2Reader {
        name,
        order_rx,
        pending: VecDeque::new(),
        chunk: Vec::new(),
        pos: 0,
        chunk_offset: progress_base,
        combined_crc: 0,
        progress,
        progress_base,
        error: None,
        failed: false,
        done: false,
    }
}

/// Cuts the input at every block and end-of-stream magic.
fn produce_blocks(
    mut input: Box<dyn Read + Send>,
    base: u64,
    end: Option<u64>,
    emit: &mut dyn FnMut(Segment) -> bool,
) -> Result<(), Failure> {
    // `buf[0]` is absolute byte `buf_start`.
    let mut buf: Vec<u8> = Vec::with_capacity(2 * READ_CHUNK);
    let mut buf_start = base;
    let mut scanner = MagicScanner::default();
    let mut level = 0u8;
    // The segment being read: (kind, absolute start bit).
    let mut open: Option<(Magic, u64)> = None;
    let mut eof = false;
    let mut stop = false;
    let mut found: Vec<(u64, Magic)> = Vec::new();
    while !eof && !stop {
        let old_len = buf.len();
        buf.resize(old_len + READ_CHUNK, 0);
        let n = loop {
            match input.read(&mut buf[old_len..]) {
                Ok(n) => break n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(Failure::Io(error)),
            }
        };
        buf.truncate(old_len + n);
        if n == 0 {
            eof = true;
        }
        found.clear();
        scanner.feed(&buf[old_len..], |bit, magic| {
            found.push((base * 8 + bit, magic))
        });
        if level == 0 {
            if buf.len() < 4 && !eof {
                continue;
            }
            if !is_stream_header(&buf) {
                return Err(if buf.len() < 4 {
                    Failure::Truncated { offset: base }
                } else {
                    Failure::Corrupt {
                        offset: base,
                        reason: "no bzip2 stream header (BZh1..BZh9) here".to_owned(),
                    }
                });
            }
            level = buf[3] - b'0';
        }
        for &(bit, magic) in &found {
            match open {
                None => {
                    if bit != base * 8 + 32 {
                        return Err(Failure::Corrupt {
                            offset: base,
                            reason: "bzip2 header is not followed by a block".to_owned(),
                        });
                    }
                }
                Some((kind, start_bit)) => {
                    let mut kind = match kind {
                        Magic::Block => SegmentKind::Block,
                        Magic::EndOfStream => SegmentKind::EndOfStream { problem: None },
                    };
                    let mut end_bit = bit;
                    let segment_level = level;
                    if let SegmentKind::EndOfStream { problem } = &mut kind {
                        let stream_end = (start_bit + 80).div_ceil(8) * 8;
                        let header_at = (bit / 8).saturating_sub(4);
                        let header = header_at
                            .checked_sub(buf_start)
                            .and_then(|i| buf.get(i as usize..i as usize + 4));
                        match header {
                            Some(header)
                                if bit % 8 == 0
                                    && stream_end + 32 == bit
                                    && is_stream_header(header) =>
                            {
                                level = header[3] - b'0';
                                if end.is_some_and(|end| header_at >= end) {
                                    end_bit = header_at * 8;
                                    stop = true;
                                }
                            }
                            _ => {
                                *problem =
                                    Some("unexpected data after the end of a stream".to_owned())
                            }
                        }
                    }
                    let first_byte = start_bit / 8;
                    let from = (first_byte - buf_start) as usize;
                    let to = (end_bit.div_ceil(8) - buf_start) as usize;
                    let segment = Segment {
                        kind,
                        bytes: buf[from..to].to_vec(),
                        first_byte,
                        start_bit,
                        end_bit,
                        level: segment_level,
                    };
                    if !emit(segment) {
                        return Ok(());
                    }
                    if stop {
                        return Ok(());
                    }
                }
            }
            open = Some((magic, bit));
        }
        // Drop bytes before the open segment, keeping 4 bytes for the
        // stream header check.
        let keep_from = match open {
            Some((_, start_bit)) => (start_bit / 8).saturating_sub(4).max(buf_start),
            None => buf_start,
        };
        let drop = (keep_from - buf_start) as usize;
        if drop > buf.len() / 2 {
            buf.drain(..drop);
            buf_start = keep_from;
        }
        let open_start = open.map_or(base * 8, |(_, start)| start);
        if (buf_start + buf.len() as u64) * 8 - open_start > MAX_SEGMENT_BYTES * 8 {
            return Err(Failure::Corrupt {
                offset: open_start / 8,
                reason: format!("no bzip2 block boundary within {MAX_SEGMENT_BYTES} bytes"),
            });
        }
    }
    if stop {
        return Ok(());
    }
    let eof_bit = (buf_start + buf.len() as u64) * 8;
    match open {
        None => Err(if buf.len() < 10 {
            Failure::Truncated { offset: base }
        } else {
            Failure::Corrupt {
                offset: base,
                reason: "no bzip2 block found".to_owned(),
            }
        }),
        Some((Magic::Block, start_bit)) => Err(Failure::Truncated {
            offset: start_bit / 8,
        }),
        Some((Magic::EndOfStream, start_bit)) => {
            if start_bit + 80 > eof_bit {
                return Err(Failure::Truncated {
                    offset: start_bit / 8,
                });
            }
            let stream_end = (start_bit + 80).div_ceil(8);
            let trailing = (eof_bit / 8).saturating_sub(stream_end);
            if trailing > 0 {
                tracing::warn!(
                    offset = stream_end,
                    trailing,
                    "ignoring trailing bytes after the last bzip2 stream"
                );
            }
            let first_byte = start_bit / 8;
            let from = (first_byte - buf_start) as usize;
            let to = (stream_end - buf_start) as usize;
            emit(Segment {
                kind: SegmentKind::EndOfStream { problem: None },
                bytes: buf[from..to].to_vec(),
                first_byte,
                start_bit,
                end_bit: stream_end * 8,
                level,
            });
            Ok(())
        }
    }
}

/// Cuts the input at the given stream offsets.
fn produce_streams(
    mut input: Box<dyn Read + Send>,
    mut starts: Box<dyn Iterator<Item = Result<u64, Error>> + Send>,
    end: Option<u64>,
    emit: &mut dyn FnMut(Segment) -> bool,
) -> Result<(), Failure> {
    let Some(first) = starts.next() else {
        return Ok(());
    };
    let mut start = first.map_err(Failure::Other)?;
    loop {
        let next = starts.next().transpose().map_err(Failure::Other)?;
        let limit = match next {
            Some(next) => next.checked_sub(start).ok_or_else(|| Failure::Corrupt {
                offset: next,
                reason: "stream offsets are not ascending".to_owned(),
            })?,
            None => MAX_STREAM_JOB_BYTES + 1,
        };
        let mut bytes = Vec::new();
        (&mut input)
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(Failure::Io)?;
        let len = bytes.len() as u64;
        if next.is_none() && len > MAX_STREAM_JOB_BYTES {
            return Err(Failure::Corrupt {
                offset: start,
                reason: format!(
                    "more than {MAX_STREAM_JOB_BYTES} bytes after the last indexed stream (is the index complete?)"
                ),
            });
        }
        if next.is_some() && len < limit {
            return Err(Failure::Truncated {
                offset: start + len,
            });
        }
        let segment = Segment {
            kind: SegmentKind::Streams,
            bytes,
            first_byte: start,
            start_bit: start * 8,
            end_bit: (start + len) * 8,
            level: 9,
        };
        if !emit(segment) {
            return Ok(());
        }
        match next {
            Some(next) if end.is_none_or(|end| next < end) => start = next,
            _ => return Ok(()),
        }
    }
}

/// The consumer side: decoded bytes in input order.
pub(crate) struct Bz2Reader {
    name: String,
    order_rx: Receiver<Message>,
    /// Items taken from the channel ahead of time while merging.
    pending: VecDeque<Message>,
    chunk: Vec<u8>,
    pos: usize,
    chunk_offset: u64,
    combined_crc: u32,
    progress: Arc<ProgressInner>,
    progress_base: u64,
    error: Option<Error>,
    failed: bool,
    done: bool,
}

impl Bz2Reader {
    fn next_message(&mut self) -> Option<Message> {
        self.pending
            .pop_front()
            .or_else(|| self.order_rx.recv().ok())
    }

    fn error(&self, failure: Failure) -> Error {
        let name = self.name.clone();
        match failure {
            Failure::Io(source) => Error::Io { name, source },
            Failure::Truncated { offset } => Error::Truncated {
                name,
                format: "bz2",
                position: Box::new(Position {
                    compressed_offset: Some(offset),
                    ..Position::default()
                }),
            },
            Failure::Corrupt { offset, reason } => Error::Corrupt {
                name,
                format: "bz2",
                position: Box::new(Position {
                    compressed_offset: Some(offset),
                    ..Position::default()
                }),
                reason,
            },
            Failure::Other(error) => error,
        }
    }

    /// Fetches the next decoded chunk; `Ok(false)` at the end of input.
    fn next_chunk(&mut self) -> Result<bool, Failure> {
        loop {
            let Some(message) = self.next_message() else {
                return Ok(false);
            };
            let item = match message {
                Message::Item(item) => item,
                Message::Failed(failure) => return Err(failure),
            };
            let segment = item.segment;
            match &segment.kind {
                SegmentKind::EndOfStream { problem } => {
                    if let Some(problem) = problem {
                        return Err(Failure::Corrupt {
                            offset: segment.offset(),
                            reason: problem.clone(),
                        });
                    }
                    let stored = segment.stored_crc();
                    if stored != self.combined_crc {
                        return Err(Failure::Corrupt {
                            offset: segment.offset(),
                            reason: format!(
                                "stream CRC mismatch: stored {stored:08x}, computed {:08x}",
                                self.combined_crc
                            ),
                        });
                    }
                    self.combined_crc = 0;
                    self.set_progress(segment.end_offset());
                }
                SegmentKind::Streams => {
                    let result = receive(item.result);
                    self.chunk = result?;
                    self.pos = 0;
                    self.chunk_offset = segment.offset();
                    self.set_progress(segment.end_offset());
                    return Ok(true);
                }
                SegmentKind::Block => {
                    let result = receive(item.result);
                    let (chunk, block) = match result {
                        Ok(chunk) => (chunk, segment),
                        Err(failure) => self.retry_merged(&segment, failure)?,
                    };
                    self.combined_crc = self.combined_crc.rotate_left(1) ^ block.stored_crc();
                    self.chunk = chunk;
                    self.pos = 0;
                    self.chunk_offset = block.offset();
                    self.set_progress(block.end_offset());
                    return Ok(true);
                }
            }
        }
    }

    /// A block failed to decode: it may have been cut short by a magic that
    /// appeared by chance in compressed data. Joins it with the segments that
    /// follow and tries again; reports the first failure if that does not
    /// help.
    fn retry_merged(
        &mut self,
        segment: &Arc<Segment>,
        failure: Failure,
    ) -> Result<(Vec<u8>, Arc<Segment>), Failure> {
        if matches!(failure, Failure::Io(_) | Failure::Other(_)) {
            return Err(failure);
        }
        let mut merged: Option<Segment> = None;
        let mut taken = Vec::new();
        for _ in 0..MAX_MERGE {
            let Some(message) = self.next_message() else {
                break;
            };
            let Message::Item(next) = &message else {
                taken.push(message);
                break;
            };
            let joined = merged
                .as_ref()
                .map_or_else(|| segment.merge(&next.segment), |m| m.merge(&next.segment));
            taken.push(message);
            if let Ok(chunk) = joined.decode() {
                // Everything taken is merged into this block.
                return Ok((chunk, Arc::new(joined)));
            }
            merged = Some(joined);
        }
        // Put back what was taken, so a later read sees the same input.
        for message in taken.into_iter().rev() {
            self.pending.push_front(message);
        }
        Err(failure)
    }

    fn set_progress(&self, end_offset: u64) {
        let consumed = end_offset.saturating_sub(self.progress_base);
        self.progress
            .bytes_read
            .fetch_max(consumed, Ordering::Relaxed);
    }
}

fn receive(result: Option<Receiver<Result<Vec<u8>, Failure>>>) -> Result<Vec<u8>, Failure> {
    match result.map(|rx| rx.recv()) {
        Some(Ok(result)) => result,
        Some(Err(_)) | None => Err(Failure::Io(io::Error::other("bz2 worker thread stopped"))),
    }
}

impl Read for Bz2Reader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Bz2Reader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.chunk.len() && !self.done {
            if self.failed {
                return Err(io::Error::other("bz2 decoding failed"));
            }
            match self.next_chunk() {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(failure) => {
                    self.error = Some(self.error(failure));
                    self.failed = true;
                    return Err(io::Error::other("bz2 decoding failed"));
                }
            }
        }
        Ok(&self.chunk[self.pos.min(self.chunk.len())..])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.chunk.len());
    }
}

impl XmlSource for Bz2Reader {
    fn compressed_offset(&self) -> Option<u64> {
        Some(self.chunk_offset)
    }

    fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_one_block_cut_from_a_stream() {
        let text: Vec<u8> = (0..300_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut compressed = Vec::new();
        let mut encoder = bzip2::read::BzEncoder::new(&text[..], bzip2::Compression::new(1));
        encoder.read_to_end(&mut compressed).unwrap();
        let mut scanner = MagicScanner::default();
        let mut magics = Vec::new();
        scanner.feed(&compressed, |bit, magic| magics.push((bit, magic)));
        assert!(magics.len() > 3, "level 1 gives several blocks");
        let mut out = Vec::new();
        for pair in magics.windows(2) {
            if pair[0].1 != Magic::Block {
                continue;
            }
            let segment = Segment {
                kind: SegmentKind::Block,
                bytes: compressed.clone(),
                first_byte: 0,
                start_bit: pair[0].0,
                end_bit: pair[1].0,
                level: 1,
            };
            out.extend(segment.decode().unwrap());
        }
        assert_eq!(out, text);
    }

    #[test]
    fn merged_halves_decode() {
        let text = b"hello hello hello world".repeat(1000);
        let mut compressed = Vec::new();
        let mut encoder = bzip2::read::BzEncoder::new(&text[..], bzip2::Compression::new(9));
        encoder.read_to_end(&mut compressed).unwrap();
        let mut magics = Vec::new();
        MagicScanner::default().feed(&compressed, |bit, magic| magics.push((bit, magic)));
        let (start, end) = (magics[0].0, magics[1].0);
        let cut = start + (end - start) / 2;
        let half = |from: u64, to: u64| Segment {
            kind: SegmentKind::Block,
            bytes: compressed[(from / 8) as usize..to.div_ceil(8) as usize].to_vec(),
            first_byte: from / 8,
            start_bit: from,
            end_bit: to,
            level: 9,
        };
        let first = half(start, cut);
        assert!(first.decode().is_err());
        let merged = first.merge(&half(cut, end));
        assert_eq!(merged.decode().unwrap(), text);
    }
}
