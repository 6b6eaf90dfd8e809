//! Hand-written JSON output for the hot paths of `fraser extract`: strings
//! escaped exactly as `serde_json` escapes them (compact form), and integers,
//! appended to a byte buffer without going through `serde` and `io::Write`.
//! Tests compare every helper with `serde_json` on the same values.

/// What a byte turns into inside a JSON string: 0 (itself), a letter for a
/// short escape (`\n`...), or `u` for `\u00XX`. The same table as `serde_json`.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string (quoted, escaped).
#[inline]
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    if is_plain(s) {
        out.extend_from_slice(s.as_bytes());
    } else {
        push_escaped(out, s.as_bytes());
    }
    out.push(b'"');
}

/// Whether `s` goes into a JSON string as it is (no byte to escape).
#[inline]
pub fn is_plain(s: &str) -> bool {
    let mut chunks = s.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        if let Ok(chunk) = <[u8; 8]>::try_from(chunk)
            && needs_escape(u64::from_le_bytes(chunk))
        {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&byte| ESCAPE[usize::from(byte)] == 0)
}

/// Appends the escaped contents of a JSON string.
#[cold]
fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPE[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if escape == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Whether any of the eight bytes of `word` is below 0x20, `"` or `\\`
/// (exact: the classic "has a byte less than n" and "has a zero byte" tests).
#[inline(always)]
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let quote = has_zero(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(word ^ (ONES * u64::from(b'\\')));
    (below_space | quote | backslash) != 0
}

/// Appends an unsigned integer.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends a signed integer.
#[inline]
pub fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Appends `s` as a JSON array of strings.
pub fn push_str_array<'a>(out: &mut Vec<u8>, items: impl IntoIterator<Item = &'a str>) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, item);
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_str(s: &str) -> String {
        let mut out = Vec::new();
        push_str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_escape_like_serde_json() {
        let mut every_char: String = (0u8..=0x7f).map(char::from).collect();
        every_char.push_str("é ü \u{2028} \u{7f} 日本 \u{10ffff} \u{fffd}");
        let samples = [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "\n\r\t\u{8}\u{c}\u{0}\u{1f}",
            every_char.as_str(),
        ];
        for s in samples {
            assert_eq!(json_str(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn plain_means_nothing_to_escape() {
        for s in ["", "abc", "abcdefghijklmnop", "é日本 words: 1.5, it's"] {
            assert!(is_plain(s), "{s:?}");
        }
        for s in ["\"", "abcdefgh\\", "abc\tdefghijk", "abcdefghijklmno\u{1}"] {
            assert!(!is_plain(s), "{s:?}");
        }
    }

    #[test]
    fn escapes_at_every_position() {
        for special in ['"', '\\', '\n', '\u{0}', '\u{1f}', '\u{7f}', 'é'] {
            for at in 0..20 {
                let mut s: String = "abcdefghijklmnopqrstuvwx".to_owned();
                s.insert(at, special);
                assert_eq!(json_str(&s), serde_json::to_string(&s).unwrap(), "{s:?}");
            }
        }
    }

    #[test]
    fn integers_format_like_serde_json() {
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            100,
            12345,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, serde_json::to_vec(&n).unwrap());
        }
        for n in [0i64, -1, 7, -12345, i64::from(i32::MIN), i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            push_i64(&mut out, n);
            assert_eq!(out, serde_json::to_vec(&n).unwrap());
        }
    }

    #[test]
    fn arrays_format_like_serde_json() {
        let items = ["a", "b\"c", ""];
        let mut out = Vec::new();
        push_str_array(&mut out, items);
        assert_eq!(out, serde_json::to_vec(&items).unwrap());
        let mut out = Vec::new();
        push_str_array(&mut out, []);
        assert_eq!(out, b"[]");
    }
}
