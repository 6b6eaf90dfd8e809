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
    let mut pending_space = false;
    let mut push = |out: &mut String, c: char| {
        if c.is_whitespace() || c == '_' {
            pending_space = !out.is_empty();
            return;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    };
    if s.is_ascii() {
        for b in s.bytes() {
            push(&mut out, char::from(b.to_ascii_lowercase()));
        }
        return out;
    }
    let lowered: String = s.nfc().flat_map(char::to_lowercase).collect();
    for c in lowered.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'ß' => {
                push(&mut out, 's');
                push(&mut out, 's');
            }
            'ς' => push(&mut out, 'σ'),
            _ => push(&mut out, c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn is_idempotent() {
        for s in ["Ζηλανδία_(επαρχία)", "Éire", "Straße  X", "İstanbul"] {
            let once = fold(s);
            assert_eq!(fold(&once), once, "{s}");
        }
    }
}
