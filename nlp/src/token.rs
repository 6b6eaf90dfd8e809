//! Word tokens (UAX #29 word boundaries).

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// A word of a text: its byte range and its lowercase form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Token {
    /// Byte offset of the first byte of the word in the text.
    pub start: u32,
    /// Byte offset just past the word.
    pub end: u32,
    /// The word, case-folded to lowercase.
    pub text: String,
}

/// Splits a text into words (UAX #29 word boundaries), keeping the words that
/// hold at least one alphanumeric character, lowercased.
///
/// ```
/// let words: Vec<String> = nlp::tokenize("Hello, World! It's 3.14.")
///     .into_iter()
///     .map(|t| t.text)
///     .collect();
/// assert_eq!(words, ["hello", "world", "it's", "3.14"]);
/// ```
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for_each_word(text, |start, word| {
        tokens.push(Token {
            start: start as u32,
            end: (start + word.len()) as u32,
            text: lowercase(word),
        });
    });
    tokens
}

/// Appends the words of `text` as [`tokenize`] gives them (lowercased) to
/// `out`, joined by single spaces, without allocating per word.
///
/// ```
/// let mut out = String::from("x|");
/// nlp::push_tokens_joined("Hello, World! It's 3.14.", &mut out);
/// assert_eq!(out, "x|hello world it's 3.14");
/// ```
pub fn push_tokens_joined(text: &str, out: &mut String) {
    let mut first = true;
    for_each_word(text, |_, word| {
        if !first {
            out.push(' ');
        }
        first = false;
        if word.is_ascii() {
            let at = out.len();
            out.push_str(word);
            out[at..].make_ascii_lowercase();
        } else {
            // As `lowercase`: the whole word, for the final-sigma rule.
            out.push_str(&word.to_lowercase());
        }
    });
}

/// Calls `f(byte_offset, word)` for every word of `text` (not lowercased).
///
/// Text in alphabetic scripts (Latin, Greek, Cyrillic, Armenian) goes through
/// a direct scanner implementing the UAX #29 rules that matter there (WB5-WB13:
/// letters and digits join; `'` `’` `.` `:` `·` join letters; `.` `,` `;` `'`
/// join digits; `_` joins anything), several times faster than the general
/// segmenter. Other scripts (CJK, Thai, Indic, Hebrew, Arabic...) use the
/// full UAX #29 implementation of `unicode-segmentation`.
pub(crate) fn for_each_word(text: &str, mut f: impl FnMut(usize, &str)) {
    if needs_full_segmenter(text) {
        for (start, word) in text.split_word_bound_indices() {
            if is_word(word) {
                f(start, word);
            }
        }
        return;
    }
    let mut word_start: Option<usize> = None;
    let mut last = Class::Other;
    let mut last_end = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let class = classify(c);
        if class == Class::Single {
            if let Some(start) = word_start.take() {
                emit(text, start, last_end, &mut f);
            }
            emit(text, i, i + c.len_utf8(), &mut f);
            continue;
        }
        if class != Class::Other {
            word_start.get_or_insert(i);
            last = class;
            last_end = i + c.len_utf8();
            continue;
        }
        let Some(start) = word_start else {
            continue;
        };
        let next = chars.peek().map_or(Class::Other, |&(_, n)| classify(n));
        let joins = match c {
            '\'' | '’' | '.' => last == next && matches!(next, Class::Letter | Class::Digit),
            ':' | '·' => last == Class::Letter && next == Class::Letter,
            ',' | ';' => last == Class::Digit && next == Class::Digit,
            _ => false,
        };
        if !joins {
            emit(text, start, last_end, &mut f);
            word_start = None;
        }
    }
    if let Some(start) = word_start {
        emit(text, start, last_end, &mut f);
    }
}

fn emit(text: &str, start: usize, end: usize, f: &mut impl FnMut(usize, &str)) {
    let word = &text[start..end];
    if is_word(word) {
        f(start, word);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    /// Superscripts, subscripts, fractions: a word of their own (UAX #29 "Other").
    Single,
    Other,
}

fn classify(c: char) -> Class {
    if c.is_ascii() {
        return match c {
            'a'..='z' | 'A'..='Z' | '_' => Class::Letter,
            '0'..='9' => Class::Digit,
            _ => Class::Other,
        };
    }
    if c.is_alphabetic() || ('\u{300}'..='\u{36f}').contains(&c) {
        Class::Letter
    } else if c.is_numeric() {
        let code = c as u32;
        let single = matches!(code, 0xB2 | 0xB3 | 0xB9 | 0xBC..=0xBE)
            || (0x2070..0x2190).contains(&code)
            || (0x2460..0x2800).contains(&code);
        if single { Class::Single } else { Class::Digit }
    } else {
        Class::Other
    }
}

/// Tells whether `text` holds a script the direct scanner does not handle.
fn needs_full_segmenter(text: &str) -> bool {
    !text.is_ascii()
        && text.chars().any(|c| {
            let code = c as u32;
            (0x0590..0x1E00).contains(&code) || code >= 0x2E80
        })
}

/// Tells whether a UAX #29 segment is a word: at least one alphanumeric char.
fn is_word(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    // Single ASCII bytes (spaces, punctuation) are the common non-words.
    if bytes.len() == 1 {
        return bytes[0].is_ascii_alphanumeric();
    }
    segment.chars().any(char::is_alphanumeric)
}

/// Lowercases a word, without a second pass for words already lowercase.
pub(crate) fn lowercase(word: &str) -> String {
    if word.is_ascii() {
        return word.to_ascii_lowercase();
    }
    word.to_lowercase()
}

/// Appends the lowercase form of `word` to `buf`.
pub(crate) fn lowercase_push(word: &str, buf: &mut String) {
    if word.is_ascii() {
        let at = buf.len();
        buf.push_str(word);
        buf[at..].make_ascii_lowercase();
    } else {
        buf.extend(word.chars().flat_map(char::to_lowercase));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn tokens_joined_match_tokenize() {
        for text in [
            "",
            "Hello, World! It's 3.14.",
            "ΟΔΥΣΣΕΥΣ Σ. Éire  Straße 東京タワー",
            " a  b ",
        ] {
            let mut out = String::new();
            push_tokens_joined(text, &mut out);
            let expected: Vec<String> = tokenize(text).into_iter().map(|t| t.text).collect();
            assert_eq!(out, expected.join(" "), "{text:?}");
        }
    }

    fn check(input: &str, expected: &[&str]) {
        let got: Vec<String> = tokenize(input).into_iter().map(|t| t.text).collect();
        assert_eq!(got, expected, "input {input:?}");
    }

    #[test]
    fn words() {
        check("", &[]);
        check("  ...  ", &[]);
        check(
            "Anarchism is a political philosophy.",
            &["anarchism", "is", "a", "political", "philosophy"],
        );
        check("U.S. state", &["u.s", "state"]);
        check("e-mail don't", &["e", "mail", "don't"]);
        check("1.5 million km²", &["1.5", "million", "km", "²"]);
        check("Ζηλανδία (επαρχία)", &["ζηλανδία", "επαρχία"]);
        check("ΟΔΟΣ", &["οδος"]);
        check("Tolkien's J. R. R.", &["tolkien's", "j", "r", "r"]);
    }

    #[test]
    fn scanner_agrees_with_uax29() {
        let texts = [
            "Anarchism is a political philosophy that advocates self-governed societies.",
            "It's 3.14, 8,175,133 people; U.S. e.g. Ph.D. 16th-century O'Brien's rock'n'roll",
            "Ζηλανδία (επαρχία) είναι μια από τις επαρχίες — Москва, Éire, naïve café",
            "x_y a:b 2001:db8 ½ ¾ km² H₂O 1,000.5 'quoted' “curly” ‘single’",
            "A.B.C. end. Next, a'b' 'c 5' 7'' 3.x a.1 1.a",
        ];
        for text in texts {
            let mut fast = Vec::new();
            for_each_word(text, |start, word| fast.push((start, word.to_owned())));
            let uax: Vec<(usize, String)> = text
                .split_word_bound_indices()
                .filter(|(_, w)| is_word(w))
                .map(|(s, w)| (s, w.to_owned()))
                .collect();
            assert_eq!(fast, uax, "text {text:?}");
        }
        check("日本語のテキスト", &["日", "本", "語", "の", "テキスト"]);
    }

    #[test]
    fn offsets_point_at_the_word() {
        let text = "Der Äther, das Σ-Wort";
        for token in tokenize(text) {
            let slice = &text[token.start as usize..token.end as usize];
            assert_eq!(slice.to_lowercase(), token.text);
        }
    }

    proptest! {
        #[test]
        fn tokens_are_in_order_on_char_boundaries(text in "\\PC*") {
            let mut last = 0;
            for token in tokenize(&text) {
                prop_assert!(token.start as usize >= last);
                prop_assert!(token.start < token.end);
                prop_assert!(text.is_char_boundary(token.start as usize));
                prop_assert!(text.is_char_boundary(token.end as usize));
                last = token.end as usize;
            }
        }
    }
}
