//! A bzip2 block decoder tuned for the dump reader: table-driven Huffman
//! decoding from a bit register, move-to-front in a 128-bit register for
//! small indices, an inverse BWT that walks several arcs of the cycle at
//! once (the walk is bound by cache misses, not instructions), reused
//! per-thread work buffers and a slice-by-8 CRC.
//!
//! It decodes well-formed blocks only. Anything it does not accept (a
//! randomised block, an unusual code table, a CRC mismatch, bits left over)
//! makes it return [`Unsupported`]; the caller then decodes the same bytes
//! with libbz2, which reports the canonical error, so results and error
//! messages do not depend on this decoder.

use std::cell::RefCell;

use super::bits::{BLOCK_MAGIC, EOS_MAGIC};

/// The fast path declined the input; decode it with libbz2 instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsupported;

type Result<T> = std::result::Result<T, Unsupported>;

const MAX_GROUPS: usize = 6;
const MAX_ALPHA: usize = 258;
const MAX_CODE_LEN: u32 = 20;
const MAX_SELECTORS: usize = 18002;
const GROUP_SIZE: usize = 50;
/// Bits resolved by one table lookup.
const LOOKUP_BITS: u32 = 10;

/// MSB-first bit reader over a byte slice; reads past the end give zeros
/// (the callers check the final position).
struct Bits<'a> {
    data: &'a [u8],
    pos: u64,
}

impl<'a> Bits<'a> {
    /// The next 64 bits at `pos`, MSB first (the low `pos % 8` bits are junk-free zeros
    /// only when the data ends; callers use at most 57 bits).
    #[inline(always)]
    fn peek57(&self) -> u64 {
        let byte = (self.pos / 8) as usize;
        let shift = (self.pos % 8) as u32;
        let word = match self.data.get(byte..byte + 8) {
            Some(bytes) => u64::from_be_bytes(bytes.try_into().unwrap_or([0; 8])),
            None => {
                let mut buf = [0u8; 8];
                if byte < self.data.len() {
                    let rest = &self.data[byte..];
                    buf[..rest.len()].copy_from_slice(rest);
                }
                u64::from_be_bytes(buf)
            }
        };
        word << shift
    }

    #[inline(always)]
    fn read(&mut self, n: u32) -> u32 {
        debug_assert!(n > 0 && n <= 32);
        let value = (self.peek57() >> (64 - n)) as u32;
        self.pos += u64::from(n);
        value
    }

    #[inline(always)]
    fn bit(&mut self) -> bool {
        self.read(1) == 1
    }
}

/// Decoding tables of one Huffman group.
struct Table {
    /// `sym | len << 9` for codes of at most `LOOKUP_BITS` bits; 0 where a
    /// longer code (or no code) starts.
    fast: [u16; 1 << LOOKUP_BITS],
    /// Longest code value of each length (`-1` when there is none).
    limit: [i32; MAX_CODE_LEN as usize + 2],
    /// Index into `perm` of the first code of each length, minus that code.
    base: [i32; MAX_CODE_LEN as usize + 2],
    perm: [u16; MAX_ALPHA],
    max_len: u32,
}

impl Table {
    fn new() -> Table {
        Table {
            fast: [0; 1 << LOOKUP_BITS],
            limit: [-1; MAX_CODE_LEN as usize + 2],
            base: [0; MAX_CODE_LEN as usize + 2],
            perm: [0; MAX_ALPHA],
            max_len: 0,
        }
    }

    /// Builds the canonical code of `lens` (one length per symbol).
    fn build(&mut self, lens: &[u8]) -> Result<()> {
        let mut count = [0u32; MAX_CODE_LEN as usize + 2];
        for &len in lens {
            count[usize::from(len)] += 1;
        }
        let min_len = (1..=MAX_CODE_LEN)
            .find(|&l| count[l as usize] > 0)
            .ok_or(Unsupported)?;
        let max_len = (1..=MAX_CODE_LEN)
            .rev()
            .find(|&l| count[l as usize] > 0)
            .ok_or(Unsupported)?;
        // Symbols ordered by (length, index).
        let mut n = 0usize;
        for len in min_len..=max_len {
            for (sym, &l) in lens.iter().enumerate() {
                if u32::from(l) == len {
                    self.perm[n] = sym as u16;
                    n += 1;
                }
            }
        }
        // Canonical codes; the code must be complete (what bzip2 writes).
        let mut code: i64 = 0;
        let mut index = 0i64;
        self.limit = [-1; MAX_CODE_LEN as usize + 2];
        for len in 1..=MAX_CODE_LEN {
            let c = i64::from(count[len as usize]);
            self.base[len as usize] = (index - code) as i32;
            code += c;
            index += c;
            if code > 1 << len {
                return Err(Unsupported);
            }
            self.limit[len as usize] = (code - 1) as i32;
            code <<= 1;
        }
        if code != 1 << (MAX_CODE_LEN + 1) {
            return Err(Unsupported);
        }
        self.fast = [0; 1 << LOOKUP_BITS];
        let mut code = 0u32;
        let mut i = 0usize;
        for len in 1..=max_len {
            for _ in 0..count[len as usize] {
                if len <= LOOKUP_BITS {
                    let entry = self.perm[i] | (len as u16) << 9;
                    let shift = LOOKUP_BITS - len;
                    let from = (code << shift) as usize;
                    let to = ((code + 1) << shift) as usize;
                    self.fast[from..to].fill(entry);
                }
                code += 1;
                i += 1;
            }
            code <<= 1;
        }
        self.max_len = max_len;
        Ok(())
    }

    /// Decodes the symbol at the top of `word` (MSB first, at least
    /// `MAX_CODE_LEN` valid bits); returns it with its code length.
    #[inline(always)]
    fn decode(&self, word: u64) -> Result<(u16, u32)> {
        let entry = self.fast[(word >> (64 - LOOKUP_BITS)) as usize];
        if entry != 0 {
            return Ok((entry & 0x1ff, u32::from(entry >> 9)));
        }
        self.decode_long(word)
    }

    /// [`Table::decode`] for codes longer than `LOOKUP_BITS`.
    #[inline(never)]
    fn decode_long(&self, word: u64) -> Result<(u16, u32)> {
        for len in LOOKUP_BITS + 1..=self.max_len {
            let code = (word >> (64 - len)) as i32;
            if code <= self.limit[len as usize] {
                let index = self.base[len as usize] + code;
                let sym = self.perm.get(index as usize).copied().ok_or(Unsupported)?;
                return Ok((sym, len));
            }
        }
        Err(Unsupported)
    }
}

/// Per-thread buffers reused across blocks.
struct Work {
    tt: Vec<u32>,
    raw: Vec<u8>,
    selectors: Vec<u8>,
    tables: Vec<Table>,
    walk: Walk,
}

thread_local! {
    static WORK: RefCell<Option<Work>> = const { RefCell::new(None) };
}

fn with_work<T>(f: impl FnOnce(&mut Work) -> T) -> T {
    WORK.with(|cell| {
        let mut slot = cell.borrow_mut();
        let work = slot.get_or_insert_with(|| Work {
            tt: Vec::new(),
            raw: Vec::new(),
            selectors: Vec::with_capacity(MAX_SELECTORS),
            tables: (0..MAX_GROUPS).map(|_| Table::new()).collect(),
            walk: Walk::default(),
        });
        f(work)
    })
}

/// Decodes the block whose magic starts at bit `start` of `data` and appends
/// its bytes to `out`. Returns the bit after the block and its stored CRC
/// (already checked against the output).
fn decode_block(data: &[u8], start: u64, level: u8, out: &mut Vec<u8>) -> Result<(u64, u32)> {
    with_work(|work| decode_block_with(work, data, start, level, out))
}

fn decode_block_with(
    work: &mut Work,
    data: &[u8],
    start: u64,
    level: u8,
    out: &mut Vec<u8>,
) -> Result<(u64, u32)> {
    let mut bits = Bits { data, pos: start };
    let magic = (u64::from(bits.read(24)) << 24) | u64::from(bits.read(24));
    if magic != BLOCK_MAGIC {
        return Err(Unsupported);
    }
    let stored_crc = bits.read(32);
    if bits.bit() {
        // Randomised blocks (bzip2 0.9.0 and older) are left to libbz2.
        return Err(Unsupported);
    }
    let orig_ptr = bits.read(24) as usize;

    // Symbol map.
    let in_use16 = bits.read(16);
    let mut seq_to_unseq = [0u8; 256];
    let mut n_in_use = 0usize;
    for i in 0..16 {
        if in_use16 & (0x8000 >> i) != 0 {
            let word = bits.read(16);
            for j in 0..16 {
                if word & (0x8000 >> j) != 0 {
                    seq_to_unseq[n_in_use] = (i * 16 + j) as u8;
                    n_in_use += 1;
                }
            }
        }
    }
    if n_in_use == 0 {
        return Err(Unsupported);
    }
    let alpha_size = n_in_use + 2;

    // Selectors.
    let n_groups = bits.read(3) as usize;
    if !(2..=MAX_GROUPS).contains(&n_groups) {
        return Err(Unsupported);
    }
    let n_selectors = bits.read(15) as usize;
    if n_selectors == 0 || n_selectors > MAX_SELECTORS {
        return Err(Unsupported);
    }
    let mut mtf_groups = [0u8, 1, 2, 3, 4, 5];
    work.selectors.clear();
    for _ in 0..n_selectors {
        let mut j = 0usize;
        while bits.bit() {
            j += 1;
            if j >= n_groups {
                return Err(Unsupported);
            }
        }
        let group = mtf_groups[j];
        mtf_groups.copy_within(0..j, 1);
        mtf_groups[0] = group;
        work.selectors.push(group);
    }

    // Code lengths.
    let mut lens = [0u8; MAX_ALPHA];
    for table in work.tables.iter_mut().take(n_groups) {
        let mut len = bits.read(5) as i32;
        for slot in lens.iter_mut().take(alpha_size) {
            loop {
                if !(1..=MAX_CODE_LEN as i32).contains(&len) {
                    return Err(Unsupported);
                }
                if !bits.bit() {
                    break;
                }
                if bits.bit() {
                    len -= 1;
                } else {
                    len += 1;
                }
            }
            *slot = len as u8;
        }
        table.build(&lens[..alpha_size])?;
    }

    // Huffman + RUNA/RUNB + move-to-front into the low bytes of `tt`.
    let max_block = usize::from(level) * 100_000;
    let tt = &mut work.tt;
    if tt.len() < max_block {
        tt.resize(max_block, 0);
    }
    let eob = (n_in_use + 1) as u16;
    let mut mtf = [0u8; 256];
    for (i, slot) in mtf.iter_mut().enumerate() {
        *slot = i as u8;
    }
    let mut counts = [0u32; 256];
    let mut nblock = 0usize;
    let mut run = 0usize;
    let mut run_bit = 1usize;
    let mut selector = 0usize;
    let mut left = 0usize;
    let mut table = &work.tables[0];
    // The bits from `bits.pos` on, MSB first: `avail` of them are valid.
    let mut word = 0u64;
    let mut avail = 0u32;
    loop {
        if left == 0 {
            let group = *work.selectors.get(selector).ok_or(Unsupported)?;
            table = &work.tables[usize::from(group)];
            selector += 1;
            left = GROUP_SIZE;
        }
        left -= 1;
        if avail < MAX_CODE_LEN {
            word = bits.peek57();
            avail = 57;
        }
        let (sym, len) = table.decode(word)?;
        word <<= len;
        avail -= len;
        bits.pos += u64::from(len);
        if sym <= 1 {
            // RUNA adds 1 * run_bit, RUNB 2 * run_bit.
            if run_bit > max_block {
                return Err(Unsupported);
            }
            run += run_bit << sym;
            run_bit <<= 1;
            continue;
        }
        if run > 0 {
            if run > max_block - nblock {
                return Err(Unsupported);
            }
            let byte = seq_to_unseq[usize::from(mtf[0])];
            counts[usize::from(byte)] += run as u32;
            tt[nblock..nblock + run].fill(u32::from(byte));
            nblock += run;
            run = 0;
            run_bit = 1;
        }
        if sym == eob {
            break;
        }
        if nblock >= max_block {
            return Err(Unsupported);
        }
        let value = move_to_front(&mut mtf, usize::from(sym - 1));
        let byte = seq_to_unseq[usize::from(value)];
        counts[usize::from(byte)] += 1;
        tt[nblock] = u32::from(byte);
        nblock += 1;
    }
    if orig_ptr >= nblock {
        return Err(Unsupported);
    }

    // Inverse BWT: tt[i] = next index << 8 | byte.
    let mut starts = [0u32; 256];
    let mut sum = 0u32;
    for (start, &count) in starts.iter_mut().zip(&counts) {
        *start = sum;
        sum += count;
    }
    let tt = &mut tt[..nblock];
    for i in 0..nblock {
        let byte = (tt[i] & 0xff) as usize;
        let slot = starts[byte] as usize;
        starts[byte] += 1;
        // In bounds: the counts add up to `nblock`.
        tt[slot] |= (i as u32) << 8;
    }
    let raw = &mut work.raw;
    raw.clear();
    raw.reserve(nblock);
    inverse_bwt(tt, orig_ptr, raw, &mut work.walk)?;

    // Undo the initial run-length coding.
    let out_start = out.len();
    unrle(raw, out);
    if crc32(&out[out_start..]) != stored_crc {
        out.truncate(out_start);
        return Err(Unsupported);
    }
    Ok((bits.pos, stored_crc))
}

/// Moves `mtf[index]` to the front and returns it. Most indices are small:
/// those below 16 move in one 128-bit register instead of a `memmove` call.
#[inline(always)]
fn move_to_front(mtf: &mut [u8; 256], index: usize) -> u8 {
    if index < 16 {
        let mut head = [0u8; 16];
        head.copy_from_slice(&mtf[..16]);
        let word = u128::from_le_bytes(head);
        let value = (word >> (8 * index)) as u8;
        // Bytes 0..=index shift up by one; the ones above stay.
        let moved = (2u128 << (8 * index + 7)).wrapping_sub(1);
        let word = (word & !moved) | ((word << 8) & moved) | u128::from(value);
        mtf[..16].copy_from_slice(&word.to_le_bytes());
        value
    } else {
        let value = mtf[index];
        mtf.copy_within(0..index, 1);
        mtf[0] = value;
        value
    }
}

/// Walks of the inverse BWT that run interleaved: each step of a walk is a
/// load from `tt` that misses the cache (the table is 3.6 MB for a 900 kB
/// block), so one walk waits on memory at every step, while several
/// independent walks keep that many loads in flight.
const LANES: usize = 16;
/// Average length aimed at for one arc of the walk.
const ARC_LEN: usize = 4096;
/// Blocks shorter than this are walked in one piece.
const MIN_SPLIT_BLOCK: usize = 4 * LANES * ARC_LEN;
/// Marks a `tt` entry where an arc ends (indices take bits 8..28).
const MARK: u32 = 1 << 31;

/// Scratch space of the interleaved walk, reused across blocks.
#[derive(Default)]
struct Walk {
    /// Sorted `tt` indices where arcs start (and end).
    markers: Vec<u32>,
    /// One per marker, same order.
    arcs: Vec<ArcSpan>,
    /// Output of each lane: its arcs back to back.
    lanes: [Vec<u8>; LANES],
}

/// Where the output of the arc starting at a marker went.
#[derive(Clone, Copy, Default)]
struct ArcSpan {
    lane: u8,
    offset: u32,
    len: u32,
    /// The marker the arc ends at (inclusive).
    end: u32,
}

/// Inverse BWT: follows `tt` (`next index << 8 | byte`) from `orig_ptr` and
/// appends the `tt.len()` bytes to `raw`.
///
/// The cycle is cut at evenly spaced markers into arcs (an arc runs from
/// the entry after one marker up to and including the next marker). Up to
/// [`LANES`] arcs are walked at once, each into its lane buffer, and the
/// arcs are then copied out in cycle order, starting after `orig_ptr`.
/// Damaged data (a permutation of several cycles) is declined: the arcs
/// from `orig_ptr` must come back to it after exactly `tt.len()` bytes.
fn inverse_bwt(tt: &mut [u32], orig_ptr: usize, raw: &mut Vec<u8>, walk: &mut Walk) -> Result<()> {
    let nblock = tt.len();
    if nblock < MIN_SPLIT_BLOCK {
        let mut pos = tt[orig_ptr] >> 8;
        for _ in 0..nblock {
            // Every stored index is below `nblock`.
            let entry = tt[pos as usize];
            raw.push(entry as u8);
            pos = entry >> 8;
        }
        return Ok(());
    }
    let markers = &mut walk.markers;
    markers.clear();
    markers.extend((0..nblock).step_by(ARC_LEN).map(|i| i as u32));
    let origin = orig_ptr as u32;
    if let Err(at) = markers.binary_search(&origin) {
        markers.insert(at, origin);
    }
    for &marker in markers.iter() {
        tt[marker as usize] |= MARK;
    }
    let arcs = &mut walk.arcs;
    arcs.clear();
    arcs.resize(markers.len(), ArcSpan::default());
    for lane in &mut walk.lanes {
        lane.clear();
    }
    let lanes = &mut walk.lanes;
    // Per lane: the current index and its arc (`usize::MAX`: idle).
    let mut pos = [0u32; LANES];
    let mut arc_of = [usize::MAX; LANES];
    let mut next_arc = 0usize;
    let mut start = |lane: usize,
                     pos: &mut [u32; LANES],
                     arc_of: &mut [usize; LANES],
                     lanes: &mut [Vec<u8>; LANES],
                     arcs: &mut [ArcSpan]| {
        if next_arc < markers.len() {
            let marker = markers[next_arc];
            arcs[next_arc] = ArcSpan {
                lane: lane as u8,
                offset: lanes[lane].len() as u32,
                len: 0,
                end: 0,
            };
            pos[lane] = (tt[marker as usize] & !MARK) >> 8;
            arc_of[lane] = next_arc;
            next_arc += 1;
        } else {
            arc_of[lane] = usize::MAX;
        }
    };
    for lane in 0..LANES {
        start(lane, &mut pos, &mut arc_of, lanes, arcs);
    }
    let mut active = arc_of.iter().filter(|&&arc| arc != usize::MAX).count();
    while active > 0 {
        for lane in 0..LANES {
            let arc = arc_of[lane];
            if arc == usize::MAX {
                continue;
            }
            let at = pos[lane];
            let entry = tt[at as usize];
            lanes[lane].push(entry as u8);
            if entry & MARK == 0 {
                pos[lane] = entry >> 8;
                continue;
            }
            let span = &mut arcs[arc];
            span.len = lanes[lane].len() as u32 - span.offset;
            span.end = at;
            start(lane, &mut pos, &mut arc_of, lanes, arcs);
            if arc_of[lane] == usize::MAX {
                active -= 1;
            }
        }
    }
    // Copy the arcs out in cycle order.
    let out_start = raw.len();
    let mut at = markers.binary_search(&origin).map_err(|_| Unsupported)?;
    for _ in 0..markers.len() {
        let span = arcs[at];
        let lane = &lanes[usize::from(span.lane)];
        let bytes = lane
            .get(span.offset as usize..(span.offset + span.len) as usize)
            .ok_or(Unsupported)?;
        raw.extend_from_slice(bytes);
        if span.end == origin {
            break;
        }
        at = markers.binary_search(&span.end).map_err(|_| Unsupported)?;
    }
    if raw.len() - out_start != nblock {
        return Err(Unsupported);
    }
    Ok(())
}

/// Undoes bzip2's first stage: four equal bytes are followed by a count of
/// further repeats.
fn unrle(raw: &[u8], out: &mut Vec<u8>) {
    out.reserve(raw.len() + raw.len() / 8);
    let mut i = 0;
    let n = raw.len();
    while i < n {
        // Copy up to the next run of four equal bytes.
        let from = i;
        while i + 3 < n {
            let b = raw[i];
            if raw[i + 1] == b && raw[i + 2] == b && raw[i + 3] == b {
                break;
            }
            i += 1;
        }
        if i + 3 >= n {
            out.extend_from_slice(&raw[from..]);
            return;
        }
        let b = raw[i];
        out.extend_from_slice(&raw[from..i + 4]);
        i += 4;
        if i < n {
            let extra = usize::from(raw[i]);
            out.resize(out.len() + extra, b);
            i += 1;
        }
    }
}

/// bzip2's CRC-32 (MSB first, polynomial 0x04c11db7), slice-by-8.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let mut crc = !0u32;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let a = crc ^ u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let b = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        crc = t[7][(a >> 24) as usize]
            ^ t[6][((a >> 16) & 0xff) as usize]
            ^ t[5][((a >> 8) & 0xff) as usize]
            ^ t[4][(a & 0xff) as usize]
            ^ t[3][(b >> 24) as usize]
            ^ t[2][((b >> 16) & 0xff) as usize]
            ^ t[1][((b >> 8) & 0xff) as usize]
            ^ t[0][(b & 0xff) as usize];
    }
    for &byte in chunks.remainder() {
        crc = (crc << 8) ^ t[0][((crc >> 24) ^ u32::from(byte)) as usize];
    }
    !crc
}

static CRC_TABLES: [[u32; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
            k += 1;
        }
        tables[0][i] = crc;
        i += 1;
    }
    let mut t = 1;
    while t < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = tables[t - 1][i];
            tables[t][i] = (prev << 8) ^ tables[0][(prev >> 24) as usize];
            i += 1;
        }
        t += 1;
    }
    tables
}

/// Decodes one block segment: the bits `start..end` of `data` hold exactly
/// one block, starting with its magic.
pub(crate) fn decode_segment(data: &[u8], start: u64, end: u64, level: u8) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(usize::from(level) * 100_000 + usize::from(level) * 25_000);
    let (after, _) = decode_block(data, start, level, &mut out)?;
    if after != end {
        return Err(Unsupported);
    }
    Ok(out)
}

/// Decodes a run of complete streams (each `BZh` + blocks + end-of-stream
/// marker + combined CRC, padded to a byte).
pub(crate) fn decode_streams(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() * 5);
    let mut byte = 0usize;
    while byte < data.len() {
        if !super::is_stream_header(&data[byte..]) {
            return Err(Unsupported);
        }
        let level = data[byte + 3] - b'0';
        let mut bits = Bits {
            data,
            pos: (byte as u64 + 4) * 8,
        };
        let mut combined = 0u32;
        loop {
            let magic = (u64::from(bits.read(24)) << 24) | u64::from(bits.read(24));
            if magic == EOS_MAGIC {
                if bits.read(32) != combined {
                    return Err(Unsupported);
                }
                break;
            }
            let (after, crc) = decode_block(data, bits.pos - 48, level, &mut out)?;
            bits.pos = after;
            combined = combined.rotate_left(1) ^ crc;
        }
        let end = bits.pos.div_ceil(8);
        if end > data.len() as u64 {
            return Err(Unsupported);
        }
        byte = end as usize;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::bz2::bits::{Magic, MagicScanner};

    fn compress(text: &[u8], level: u32) -> Vec<u8> {
        let mut compressed = Vec::new();
        bzip2::read::BzEncoder::new(text, bzip2::Compression::new(level))
            .read_to_end(&mut compressed)
            .unwrap();
        compressed
    }

    fn sample_text() -> Vec<u8> {
        let mut text = Vec::new();
        for i in 0..60_000u32 {
            text.extend_from_slice(format!("<p id=\"{i}\">line {} ", i * 7919 % 1000).as_bytes());
            // Runs of every length around the run-length threshold.
            text.extend(std::iter::repeat_n(b'=', (i % 300) as usize));
            text.push(b'\n');
        }
        text
    }

    #[test]
    fn move_to_front_matches_the_plain_loop() {
        let mut fast: [u8; 256] = std::array::from_fn(|i| (i * 37 % 256) as u8);
        let mut plain = fast;
        for step in 0..5000usize {
            let index = (step * 7919) % (if step % 3 == 0 { 256 } else { 17 });
            let value = plain[index];
            plain.copy_within(0..index, 1);
            plain[0] = value;
            assert_eq!(move_to_front(&mut fast, index), value);
            assert_eq!(fast, plain, "step {step}, index {index}");
        }
    }

    /// A table whose walk from `orig_ptr` visits `order` (a cycle over
    /// all entries when `order` is a permutation of `0..n`).
    fn walk_table(order: &[usize]) -> Vec<u32> {
        let n = order.len();
        let mut tt = vec![0u32; n];
        for k in 0..n {
            let (at, next) = (order[k], order[(k + 1) % n]);
            tt[at] = (next as u32) << 8 | (at as u32 * 31 % 251);
        }
        tt
    }

    #[test]
    fn split_walk_matches_the_plain_walk() {
        for n in [1000, MIN_SPLIT_BLOCK, MIN_SPLIT_BLOCK + 12_345, 900_000] {
            // A pseudo-random single cycle.
            let mut order: Vec<usize> = (0..n).collect();
            let mut x = 12345u64;
            for i in (1..n).rev() {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                order.swap(i, (x >> 33) as usize % (i + 1));
            }
            let tt = walk_table(&order);
            let orig_ptr = order[n - 1];
            let expected: Vec<u8> = (0..n).map(|k| tt[order[k]] as u8).collect();
            let mut raw = Vec::new();
            inverse_bwt(&mut tt.clone(), orig_ptr, &mut raw, &mut Walk::default()).unwrap();
            assert_eq!(raw, expected, "n = {n}");
        }
    }

    #[test]
    fn split_walk_declines_several_cycles() {
        // Two cycles: even entries and odd entries.
        let n = 2 * MIN_SPLIT_BLOCK;
        let mut tt: Vec<u32> = (0..n).map(|i| (((i + 2) % n) as u32) << 8).collect();
        tt[n - 1] = 1 << 8;
        let mut raw = Vec::new();
        assert_eq!(
            inverse_bwt(&mut tt, 0, &mut raw, &mut Walk::default()),
            Err(Unsupported)
        );
    }

    #[test]
    fn crc_matches_bzip2() {
        // The stored CRC of a one-block stream equals the block CRC.
        let text = b"The quick brown fox jumps over the lazy dog".repeat(5);
        let compressed = compress(&text, 9);
        let stored = crate::bz2::bits::read_bits(&compressed, 32 + 48, 32) as u32;
        assert_eq!(crc32(&text), stored);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn decodes_every_block_like_libbz2() {
        let text = sample_text();
        for level in [1, 9] {
            let compressed = compress(&text, level);
            let mut magics = Vec::new();
            MagicScanner::default().feed(&compressed, |bit, magic| magics.push((bit, magic)));
            let mut out = Vec::new();
            for pair in magics.windows(2) {
                if pair[0].1 == Magic::Block {
                    out.extend(
                        decode_segment(&compressed, pair[0].0, pair[1].0, level as u8).unwrap(),
                    );
                }
            }
            assert_eq!(out, text, "level {level}");
            let mut streams = compressed.clone();
            streams.extend_from_slice(&compress(b"tail", level));
            let mut expected = text.clone();
            expected.extend_from_slice(b"tail");
            assert_eq!(decode_streams(&streams).unwrap(), expected);
        }
    }

    #[test]
    fn declines_damaged_blocks() {
        let text = sample_text();
        let compressed = compress(&text, 9);
        let mut magics = Vec::new();
        MagicScanner::default().feed(&compressed, |bit, magic| magics.push((bit, magic)));
        let (start, end) = (magics[0].0, magics[1].0);
        // A wrong end, a flipped bit in the data, a flipped CRC bit.
        assert_eq!(
            decode_segment(&compressed, start, end - 1, 9),
            Err(Unsupported)
        );
        for bit in [start + 48, start + 2000, (start + end) / 2] {
            let mut damaged = compressed.clone();
            damaged[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
            assert!(
                decode_segment(&damaged, start, end, 9).is_err(),
                "bit {bit}"
            );
        }
        let mut truncated = compressed.clone();
        truncated.truncate(compressed.len() / 3);
        assert!(decode_streams(&truncated).is_err());
    }
}
