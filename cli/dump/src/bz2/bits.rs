//! Bit-level pieces of the bzip2 format: finding the 48-bit block and
//! end-of-stream magics at any bit offset, and re-wrapping one block into a
//! standalone one-block stream.
//!
//! A bzip2 stream is `BZh` + level digit, then blocks, each starting with the
//! magic `0x314159265359` and its 32-bit CRC, then the end-of-stream magic
//! `0x177245385090` and the 32-bit combined CRC, then zero bits up to a byte
//! boundary. Blocks are not byte-aligned, so block boundaries can only be
//! found by looking for the magics at every bit offset (as lbzip2 and
//! pbzip2 do).

/// Magic that starts every block (BCD pi).
pub(crate) const BLOCK_MAGIC: u64 = 0x3141_5926_5359;
/// Magic that ends every stream (BCD sqrt(pi)).
pub(crate) const EOS_MAGIC: u64 = 0x1772_4538_5090;
const MASK48: u64 = (1 << 48) - 1;

/// Which magic was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Magic {
    Block,
    EndOfStream,
}

/// `CANDIDATE[b]` is true when byte `b` can be the second-to-last byte of a
/// window holding a magic at some bit shift. Whatever the shift (0..8), the
/// magic covers all 8 bits of that byte, so a lookup rejects about 15 of
/// 16 positions before the 16 comparisons.
const CANDIDATE: [bool; 256] = {
    let mut table = [false; 256];
    let mut shift = 0;
    while shift < 8 {
        table[(((BLOCK_MAGIC << shift) >> 8) & 0xff) as usize] = true;
        table[(((EOS_MAGIC << shift) >> 8) & 0xff) as usize] = true;
        shift += 1;
    }
    table
};

/// Incremental search for magics at any bit offset of a byte stream.
#[derive(Debug, Default)]
pub(crate) struct MagicScanner {
    /// The last 8 bytes seen, most recent in the low byte.
    window: u64,
    /// Number of bytes fed so far.
    bytes_seen: u64,
}

impl MagicScanner {
    /// Feeds `data` (the bytes that follow everything fed before) and calls
    /// `found(bit_offset, magic)` for every magic that ends in it, in
    /// ascending order. Offsets count bits from the first byte ever fed.
    pub(crate) fn feed(&mut self, data: &[u8], mut found: impl FnMut(u64, Magic)) {
        let mut window = self.window;
        for (i, &byte) in data.iter().enumerate() {
            let prev = (window & 0xff) as u8;
            window = (window << 8) | u64::from(byte);
            if !CANDIDATE[prev as usize] {
                continue;
            }
            let end_bit = (self.bytes_seen + i as u64 + 1) * 8;
            for shift in (0..8u64).rev() {
                if end_bit < 48 + shift {
                    continue;
                }
                let value = (window >> shift) & MASK48;
                let magic = if value == BLOCK_MAGIC {
                    Magic::Block
                } else if value == EOS_MAGIC {
                    Magic::EndOfStream
                } else {
                    continue;
                };
                found(end_bit - shift - 48, magic);
            }
        }
        self.window = window;
        self.bytes_seen += data.len() as u64;
    }
}

/// Reads `n` (at most 57) bits starting at bit `bit` of `bytes`, most
/// significant bit first; bits past the end read as zero.
pub(crate) fn read_bits(bytes: &[u8], bit: u64, n: u32) -> u64 {
    debug_assert!(n <= 57);
    let mut value = 0u64;
    let first = (bit / 8) as usize;
    let skip = (bit % 8) as u32;
    let needed = (skip + n).div_ceil(8) as usize;
    for k in 0..needed {
        value = (value << 8) | u64::from(bytes.get(first + k).copied().unwrap_or(0));
    }
    let total = needed as u32 * 8;
    (value >> (total - skip - n)) & ((1u64 << n) - 1)
}

/// Appends bits to a byte vector, most significant bit first.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n_acc: u32,
}

impl BitWriter {
    fn put(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 32);
        if n == 0 {
            return;
        }
        self.acc = (self.acc << n) | (value & ((1u64 << n) - 1));
        self.n_acc += n;
        while self.n_acc >= 8 {
            self.n_acc -= 8;
            self.out.push((self.acc >> self.n_acc) as u8);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n_acc > 0 {
            let pad = 8 - self.n_acc;
            self.put(0, pad);
        }
        self.out
    }
}

/// Builds a standalone one-block bzip2 stream from the bits
/// `[bit_start, bit_start + n_bits)` of `bytes`, which must begin with the
/// block magic and its CRC: header `BZh` + `level`, the block bits, the
/// end-of-stream magic, and the combined CRC, which for a single block is
/// the block CRC.
pub(crate) fn wrap_block(bytes: &[u8], bit_start: u64, n_bits: u64, level: u8) -> Vec<u8> {
    let block_crc = read_bits(bytes, bit_start + 48, 32);
    let mut out = Vec::with_capacity((n_bits / 8) as usize + 16);
    out.extend_from_slice(b"BZh");
    out.push(b'0' + level);
    let first = (bit_start / 8) as usize;
    let shift = (bit_start % 8) as u32;
    let whole_bytes = (n_bits / 8) as usize;
    if shift == 0 {
        out.extend_from_slice(&bytes[first..first + whole_bytes]);
    } else {
        let source = &bytes[first..];
        out.extend(
            source
                .windows(2)
                .take(whole_bytes)
                .map(|pair| (pair[0] << shift) | (pair[1] >> (8 - shift))),
        );
        // The bits lie inside `bytes` and `shift > 0`, so the last whole
        // output byte still has a following source byte: `windows(2)` is
        // long enough.
        debug_assert_eq!(out.len(), 4 + whole_bytes);
    }
    let rest = (n_bits % 8) as u32;
    let mut writer = BitWriter {
        out,
        acc: 0,
        n_acc: 0,
    };
    writer.put(
        read_bits(bytes, bit_start + 8 * whole_bytes as u64, rest),
        rest,
    );
    writer.put(EOS_MAGIC >> 24, 24);
    writer.put(EOS_MAGIC & 0xff_ffff, 24);
    writer.put(block_crc, 32);
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `value` (n bits) at bit `at` of a zeroed buffer.
    fn with_bits_at(len: usize, at: u64, value: u64, n: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; len];
        for k in 0..n as u64 {
            if (value >> (n as u64 - 1 - k)) & 1 == 1 {
                let bit = at + k;
                bytes[(bit / 8) as usize] |= 0x80 >> (bit % 8);
            }
        }
        bytes
    }

    #[test]
    fn finds_magics_at_every_bit_offset() {
        for at in 0..40u64 {
            for (magic, kind) in [(BLOCK_MAGIC, Magic::Block), (EOS_MAGIC, Magic::EndOfStream)] {
                let bytes = with_bits_at(16, at, magic, 48);
                // Feed in two pieces to cross a chunk boundary.
                let mut scanner = MagicScanner::default();
                let mut hits = Vec::new();
                scanner.feed(&bytes[..5], |bit, m| hits.push((bit, m)));
                scanner.feed(&bytes[5..], |bit, m| hits.push((bit, m)));
                assert_eq!(hits, vec![(at, kind)], "offset {at}");
            }
        }
    }

    #[test]
    fn read_bits_reads_msb_first() {
        let bytes = [0b1010_1100, 0b0101_0011];
        assert_eq!(read_bits(&bytes, 0, 4), 0b1010);
        assert_eq!(read_bits(&bytes, 6, 4), 0b0001);
        assert_eq!(read_bits(&bytes, 12, 8), 0b0011_0000);
    }

    #[test]
    fn wrap_copies_shifted_bits() {
        // A fake "block": the magic, a CRC and 13 payload bits at offset 3.
        let crc = 0xdead_beef_u64;
        let mut bytes = with_bits_at(20, 3, BLOCK_MAGIC, 48);
        let tail = with_bits_at(20, 51, crc, 32);
        let payload = with_bits_at(20, 83, 0b1_0110_1110_0101, 13);
        for k in 0..20 {
            bytes[k] |= tail[k] | payload[k];
        }
        let wrapped = wrap_block(&bytes, 3, 48 + 32 + 13, 9);
        assert_eq!(&wrapped[..4], b"BZh9");
        assert_eq!(read_bits(&wrapped, 32, 48), BLOCK_MAGIC);
        assert_eq!(read_bits(&wrapped, 80, 32), crc);
        assert_eq!(read_bits(&wrapped, 112, 13), 0b1_0110_1110_0101);
        assert_eq!(read_bits(&wrapped, 125, 48), EOS_MAGIC);
        assert_eq!(read_bits(&wrapped, 173, 32), crc);
        assert_eq!(wrapped.len(), (173 + 32usize).div_ceil(8));
    }
}
