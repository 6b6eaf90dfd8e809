//! Answer matching: is a chat message the answer, close to it, or neither?
//!
//! Every accepted name of the answer (title, title without disambiguator,
//! redirects, aliases, bold names, and for "fill the blank" the anchor text)
//! becomes a key: its folded words (case, accents and punctuation gone,
//! a leading "the"/"a"/"an" dropped). A guess, normalised the same way and
//! with a leading "is it", "maybe", "I think it's"... dropped, is
//!
//! - **correct** when it equals a key word for word, letter for letter
//!   ignoring spaces ("acdc" for "AC/DC"), stem for stem ("Lincolns"), stem
//!   for stem in any order ("Lincoln, Abraham"), or is within
//!   [`allowed_typos`] edits of a key (0 up to 4 letters, 1 for 5 to 8,
//!   2 above; a typo is an insertion, deletion, substitution or swap of two
//!   neighbouring letters; the digits must be the same, so "Apollo" is not
//!   "Apollo 8");
//! - **close** when its words are a part of a key's words holding a word of
//!   4+ letters ("Lincoln" for "Abraham Lincoln"; a part is never correct,
//!   even when the missing word is short enough to pass as typos:
//!   "Aberdeen" is not "Aberdeen F.C."; only middle initials may be left
//!   out: "John Bull" for "John S. Bull"), when it is within [`close_typos`]
//!   edits of a key, or when it is a key's words plus at most two more;
//! - **wrong** otherwise.
//!
//! The surname case: "Lincoln" alone is *close*, not correct, for "Abraham
//! Lincoln" unless "Lincoln" is itself a redirect or alias of the article
//! (on the full English index it is an alias, because so many links read
//! `[[Abraham Lincoln|Lincoln]]`). The index decides, not a rule about names.

use crate::text::{self, Text, allowed_typos, close_typos, edit_distance};

/// How a guess compares to the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The guess is the answer.
    Correct,
    /// The guess is near the answer (say "close!").
    Close,
    /// The guess is something else.
    Wrong,
}

#[derive(Debug, Clone)]
struct Key {
    /// Folded words joined by spaces.
    spaced: String,
    /// The same without spaces, as chars.
    compact: Vec<char>,
    /// Stems of the words.
    stems: Vec<String>,
    /// Stems sorted (order-insensitive comparison).
    sorted: Vec<String>,
}

/// The accepted names of one answer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Matcher {
    keys: Vec<Key>,
}

/// Guesses longer than this many words are chat, not answers.
const MAX_GUESS_WORDS: usize = 12;

impl Matcher {
    /// Builds a matcher from the accepted names (disambiguators are also
    /// tried stripped).
    pub(crate) fn new<'a>(text: &Text, names: impl IntoIterator<Item = &'a str>) -> Matcher {
        let mut matcher = Matcher::default();
        for name in names {
            matcher.add(text, name);
            let stripped = text::strip_disambiguator(name);
            if stripped != name {
                matcher.add(text, stripped);
            }
        }
        matcher
    }

    fn add(&mut self, text: &Text, name: &str) {
        let words = text.words(name);
        let skip = usize::from(words.len() > 1 && text::is_leading_article(&words[0].key));
        let Some(key) = key_of(&words[skip..]) else {
            return;
        };
        if !self.keys.iter().any(|k| k.spaced == key.spaced) {
            self.keys.push(key);
        }
    }

    /// Tells whether the matcher has any accepted name.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Judges a guess.
    pub(crate) fn judge(&self, text: &Text, guess: &str) -> Verdict {
        let words = text.words(guess);
        if words.is_empty() || words.len() > MAX_GUESS_WORDS + 4 {
            return Verdict::Wrong;
        }
        let mut rest = &words[strip_filler(&words)..];
        if rest.len() > 1 && text::is_leading_article(&rest[0].key) {
            rest = &rest[1..];
        }
        if rest.len() > MAX_GUESS_WORDS {
            return Verdict::Wrong;
        }
        let Some(guess) = key_of(rest) else {
            return Verdict::Wrong;
        };
        let mut verdict = Verdict::Wrong;
        for key in &self.keys {
            match judge_key(&guess, key) {
                Verdict::Correct => return Verdict::Correct,
                Verdict::Close => verdict = Verdict::Close,
                Verdict::Wrong => {}
            }
        }
        verdict
    }
}

fn key_of(words: &[text::Word]) -> Option<Key> {
    if words.is_empty() {
        return None;
    }
    let spaced = words
        .iter()
        .map(|w| w.key.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let compact: Vec<char> = spaced.chars().filter(|c| c.is_alphanumeric()).collect();
    if compact.is_empty() {
        return None;
    }
    let stems: Vec<String> = words.iter().map(|w| w.stem.clone()).collect();
    let mut sorted = stems.clone();
    sorted.sort();
    Some(Key {
        spaced,
        compact,
        stems,
        sorted,
    })
}

fn judge_key(guess: &Key, key: &Key) -> Verdict {
    if guess.spaced == key.spaced
        || guess.compact == key.compact
        || guess.stems == key.stems
        || (key.stems.len() > 1 && guess.sorted == key.sorted)
    {
        return Verdict::Correct;
    }
    // Part of the key's words ("Lincoln", "Aberdeen" for "Aberdeen F.C."):
    // close at best, even when dropping a short word is within the typos.
    let part_of_key =
        guess.stems.len() < key.stems.len() && guess.stems.iter().all(|s| key.stems.contains(s));
    if part_of_key && !only_middle_initials_left_out(guess, key) {
        let has_content_word = guess
            .spaced
            .split(' ')
            .any(|w| text::letters(w) >= 4 && !text::is_function_word(w));
        return if has_content_word {
            Verdict::Close
        } else {
            Verdict::Wrong
        };
    }
    let letters = key.compact.len();
    let close = close_typos(letters);
    // Numbers are not typos: "Apollo 8" is not "Apollo" or "Apollo 11".
    let same_digits = guess
        .compact
        .iter()
        .filter(|c| c.is_numeric())
        .eq(key.compact.iter().filter(|c| c.is_numeric()));
    if let Some(d) = edit_distance(&guess.compact, &key.compact, close) {
        return if d <= allowed_typos(letters) && same_digits {
            Verdict::Correct
        } else {
            Verdict::Close
        };
    }
    // The key plus a little ("Abraham Lincoln High School").
    let key_plus = key.stems.len() < guess.stems.len()
        && guess.stems.len() <= key.stems.len() + 2
        && key.stems.iter().all(|s| guess.stems.contains(s));
    if key_plus {
        Verdict::Close
    } else {
        Verdict::Wrong
    }
}

/// Whether the words of `key` missing from `guess` are all one-letter words
/// inside the name (middle initials: "John Bull" for "John S. Bull"), which
/// the typo rules may then forgive; "Malcolm" for "Malcolm X" stays close.
fn only_middle_initials_left_out(guess: &Key, key: &Key) -> bool {
    let words: Vec<&str> = key.spaced.split(' ').collect();
    if words.len() != key.stems.len() {
        return false;
    }
    let last = words.len() - 1;
    let missing: Vec<usize> = (0..words.len())
        .filter(|&i| !guess.stems.contains(&key.stems[i]))
        .collect();
    guess.stems.len() + missing.len() == key.stems.len()
        && missing
            .iter()
            .all(|&i| i > 0 && i < last && words[i].chars().count() == 1)
}

/// Number of leading filler words of a guess ("is it", "maybe", "I think it's").
fn strip_filler(words: &[text::Word]) -> usize {
    const FILLERS: &[&[&str]] = &[
        &["i", "think", "it", "is"],
        &["i", "think", "it's"],
        &["i", "think", "its"],
        &["i", "think"],
        &["i", "guess"],
        &["the", "answer", "is"],
        &["answer", "is"],
        &["is", "it"],
        &["it", "is"],
        &["it's"],
        &["its"],
        &["maybe"],
        &["answer"],
        &["guess"],
        &["who", "is"],
        &["what", "is"],
    ];
    let mut skipped = 0;
    // Allow two fillers in a row ("maybe it's ...").
    for _ in 0..2 {
        let rest = &words[skipped..];
        let Some(filler) = FILLERS
            .iter()
            .find(|f| f.len() < rest.len() && rest.iter().zip(f.iter()).all(|(w, f)| w.key == *f))
        else {
            break;
        };
        skipped += filler.len();
    }
    skipped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(names: &[&str], guess: &str) -> Verdict {
        let text = Text::new("en");
        Matcher::new(&text, names.iter().copied()).judge(&text, guess)
    }

    use Verdict::{Close, Correct, Wrong};

    #[test]
    fn exact_and_normalised_answers() {
        let names = ["Abraham Lincoln", "Abe Lincoln"];
        assert_eq!(judge(&names, "Abraham Lincoln"), Correct);
        assert_eq!(judge(&names, "abraham lincoln"), Correct);
        assert_eq!(judge(&names, "  ABRAHAM   LINCOLN!! "), Correct);
        assert_eq!(judge(&names, "abe lincoln"), Correct);
        assert_eq!(judge(&names, "Lincoln, Abraham"), Correct);
        assert_eq!(judge(&names, "is it abraham lincoln?"), Correct);
        assert_eq!(judge(&names, "maybe it's Abraham Lincoln"), Correct);
        assert_eq!(judge(&["Éire"], "eire"), Correct);
        assert_eq!(judge(&["AC/DC"], "acdc"), Correct);
        assert_eq!(judge(&["The Beatles"], "beatles"), Correct);
        assert_eq!(judge(&["Beatles"], "the beatles"), Correct);
        assert_eq!(judge(&["Mercury (planet)"], "mercury"), Correct);
        assert_eq!(judge(&["Mercury (planet)"], "Mercury (planet)"), Correct);
        assert_eq!(judge(&["Anarchism"], "anarchisms"), Correct);
    }

    #[test]
    fn typos_scale_with_length() {
        // 4 letters: no typo.
        assert_eq!(judge(&["Iran"], "Iraq"), Close);
        assert_eq!(judge(&["Iran"], "Iram"), Close);
        assert_eq!(judge(&["Oslo"], "Olso"), Close);
        // 5 to 8: one typo.
        assert_eq!(judge(&["Albedo"], "Albeda"), Correct);
        assert_eq!(judge(&["Albedo"], "Ablbedo"), Correct);
        assert_eq!(judge(&["Albedo"], "Alebdo"), Correct);
        assert_eq!(judge(&["Albedo"], "Albdeox"), Close);
        assert_eq!(judge(&["Alabama"], "Alabamma"), Correct);
        // Digits are not typos.
        assert_eq!(judge(&["Apollo 8"], "Apollo"), Close);
        assert_eq!(judge(&["Apollo 8"], "Apollo 9"), Close);
        assert_eq!(judge(&["Apollo 8"], "Apolo 8"), Correct);
        // 9+: two typos.
        assert_eq!(judge(&["Abraham Lincoln"], "Abraham Lincon"), Correct);
        assert_eq!(judge(&["Abraham Lincoln"], "Abrahm Lincon"), Correct);
        assert_eq!(judge(&["Abraham Lincoln"], "Abrhm Lincon"), Close);
        assert_eq!(judge(&["Abraham Lincoln"], "Abrhm Lincn xyz"), Wrong);
    }

    #[test]
    fn sharing_a_word_is_not_enough() {
        let names = ["Abraham Lincoln"];
        assert_eq!(judge(&names, "Lincoln"), Close);
        assert_eq!(judge(&names, "Abraham"), Close);
        assert_eq!(judge(&names, "Lincoln Nebraska"), Wrong);
        assert_eq!(judge(&names, "Abraham Lincoln High School"), Close);
        // A surname counts when the index says it is a name of the article.
        assert_eq!(judge(&["Abraham Lincoln", "Lincoln"], "lincoln"), Correct);
        assert_eq!(judge(&["History of Alabama"], "of"), Wrong);
        assert_eq!(judge(&["History of Alabama"], "alabama"), Close);
        // Dropping a short word is not a typo.
        assert_eq!(judge(&["Aberdeen F.C."], "Aberdeen"), Close);
        assert_eq!(judge(&["J. R. Moehringer"], "Moehringer"), Close);
        assert_eq!(judge(&["J. R. Moehringer"], "J R Moehringer"), Correct);
        assert_eq!(judge(&["J. R. Moehringer"], "JR Moehringer"), Correct);
        // Middle initials may be left out, other one-letter words not.
        assert_eq!(judge(&["John S. Bull"], "John Bull"), Correct);
        assert_eq!(judge(&["Malcolm X"], "Malcolm"), Close);
    }

    #[test]
    fn chat_is_wrong() {
        let names = ["Albedo"];
        assert_eq!(judge(&names, "lol"), Wrong);
        assert_eq!(judge(&names, ""), Wrong);
        assert_eq!(judge(&names, "?!"), Wrong);
        assert_eq!(
            judge(
                &names,
                "this one is hard, I have no idea what it could be at all honestly"
            ),
            Wrong
        );
        assert_eq!(judge(&["A"], "a"), Correct);
        assert_eq!(judge(&["A"], "b"), Wrong);
    }
}
