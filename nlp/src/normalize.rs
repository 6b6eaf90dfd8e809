//! Folding of titles and answers into comparison keys.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Folds a string into a key for loose comparison of titles and answers.
///
/// The steps are: Unicode NFC; lowercase with the full case-fold special cases
/// `ß` -> `ss` and final `ς` -> `σ`; accents and other diacritics removed
/// (NFD, then combining marks dropped); underscores become spaces; runs of
/// whitespace collapse to one space; the result is trimmed.
///
/// ```
/// assert_eq!(nlp::fold("Ζηλανδία_(επαρχία)"), nlp::fold("ζηλανδια (επαρχια)"));
/// assert_eq!(nlp::fold("  Éire "), "eire");
/// ```
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// Appends [`fold`]`(s)` to `out`, without allocating when `s` is ASCII.
///
/// ```
/// let mut out = String::from("x|");
/// nlp::fold_into(" Éire_ ", &mut out);
/// assert_eq!(out, "x|eire");
/// ```
pub fn fold_into(s: &str, out: &mut String) {
    out.reserve(s.len());
    let base = out.len();
    if s.is_ascii() {
        fold_ascii_into(s, out);
        return;
    }
    let mut pending_space = false;
    let mut push = |out: &mut String, c: char| {
        if c.is_whitespace() || c == '_' {
            pending_space = out.len() > base;
            return;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    };
    let lowered: String = s.nfc().flat_map(char::to_lowercase).collect();
    for c in lowered.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'ß' => {
                push(out, 's');
                push(out, 's');
            }
            'ς' => push(out, 'σ'),
            _ => push(out, c),
        }
    }
}

/// [`fold_into`] of an ASCII `s`: lowercase, `_` and whitespace runs as one
/// space, trimmed; a run of word bytes is copied at a time.
fn fold_ascii_into(s: &str, out: &mut String) {
    // `char::is_whitespace` on ASCII, and `_`.
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b'_');
    let base = out.len();
    let bytes = s.as_bytes();
    let mut pending_space = false;
    let mut i = 0;
    while i < bytes.len() {
        if is_space(bytes[i]) {
            pending_space = out.len() > base;
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_space(bytes[i]) {
            i += 1;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        let at = out.len();
        out.push_str(&s[start..i]);
        out[at..].make_ascii_lowercase();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_fold_matches_the_char_by_char_rule() {
        // The rule of `fold_into` on ASCII, one char at a time.
        fn reference(s: &str) -> String {
            let mut out = String::new();
            let mut pending_space = false;
            for c in s.chars() {
                if c.is_whitespace() || c == '_' {
                    pending_space = !out.is_empty();
                    continue;
                }
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(c.to_ascii_lowercase());
            }
            out
        }
        let alphabet = [
            "a", "Z", " ", "_", "\t", "\n", "\x0b", "\x0c", "\r", "\x1f", "9", "'",
        ];
        let mut seed = 7u64;
        for _ in 0..5000 {
            let mut s = String::new();
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for k in 0..(seed >> 60) {
                s.push_str(alphabet[((seed >> (4 * k)) % alphabet.len() as u64) as usize]);
            }
            let mut out = String::from("x");
            fold_into(&s, &mut out);
            assert_eq!(out, format!("x{}", reference(&s)), "input {s:?}");
        }
    }

    fn check(input: &str, expected: &str) {
        assert_eq!(fold(input), expected, "input {input:?}");
    }

    #[test]
    fn folds() {
        check("Éire", "eire");
        check("Abraham_Lincoln", "abraham lincoln");
        check("  New \t  York\n", "new york");
        check("Ζηλανδία_(επαρχία)", "ζηλανδια (επαρχια)");
        check("ζηλανδια (επαρχια)", "ζηλανδια (επαρχια)");
        check("ΟΔΟΣ", "οδοσ");
        check("Straße", "strasse");
        check("Ångström", "angstrom");
        check("", "");
        check("___", "");
        check("e\u{301}", "e");
    }

    #[test]
    fn fold_into_appends_what_fold_returns() {
        for s in ["Éire", " _New  York_ ", "Straße  X", "", "___", "ΟΔΟΣ"] {
            let mut out = String::from("prefix ");
            fold_into(s, &mut out);
            assert_eq!(out, format!("prefix {}", fold(s)), "input {s:?}");
        }
    }

    #[test]
    fn is_idempotent() {
        for s in ["Ζηλανδία_(επαρχία)", "Éire", "Straße  X", "İstanbul"] {
            let once = fold(s);
            assert_eq!(fold(&once), once, "{s}");
        }
    }
}
