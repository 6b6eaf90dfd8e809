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
    if s.is_ascii() {
        for b in s.bytes() {
            push(out, char::from(b.to_ascii_lowercase()));
        }
        return;
    }
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
