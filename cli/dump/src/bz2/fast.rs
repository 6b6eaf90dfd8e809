//! A bzip2 block decoder tuned for the dump reader: table-driven Huffman
//! decoding, reused per-thread work buffers and a slice-by-8 CRC.
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

    /// Decodes one symbol.
    #[inline(always)]
    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16> {
        let word = bits.peek57();
        let entry = self.fast[(word >> (64 - LOOKUP_BITS)) as usize];
        if entry != 0 {
            bits.pos += u64::from(entry >> 9);
            return Ok(entry & 0x1ff);
        }
        for len in LOOKUP_BITS + 1..=self.max_len {
            let code = (word >> (64 - len)) as i32;
            if code <= self.limit[len as usize] {
                bits.pos += u64::from(len);
                let index = self.base[len as usize] + code;
                return self.perm.get(index as usize).copied().ok_or(Unsupported);
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
    loop {
        if left == 0 {
            let group = *work.selectors.get(selector).ok_or(Unsupported)?;
            table = &work.tables[usize::from(group)];
            selector += 1;
            left = GROUP_SIZE;
        }
        left -= 1;
        let sym = table.decode(&mut bits)?;
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
        let index = usize::from(sym - 1);
        let value = mtf[index];
        mtf.copy_within(0..index, 1);
        mtf[0] = value;
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
    let mut pos = tt[orig_ptr] >> 8;
    for _ in 0..nblock {
        // Every stored index is below `nblock`.
        let entry = tt[pos as usize];
        raw.push(entry as u8);
        pos = entry >> 8;
    }

    // Undo the initial run-length coding.
    let out_start = out.len();
    unrle(raw, out);
    if crc32(&out[out_start..]) != stored_crc {
        out.truncate(out_start);
        return Err(Unsupported);
    }
    Ok((bits.pos, stored_crc))
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
