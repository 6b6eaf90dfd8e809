//! Masking the answer out of a sentence, and rendering the masked sentence.
//!
//! A [`Masker`] holds the names of an answer as stem sequences (phrases:
//! the title, its redirects, aliases and bold names, with and without a
//! parenthetical disambiguator) and as single words (the words of 4+
//! letters of the title and bold names, "Lincoln" for "Abraham Lincoln").
//! A word of a sentence is masked when it is part of a phrase match (same
//! stems, so inflected forms match), when it has the stem of a single word,
//! or when it starts with all but the last letter of a single word of 6+
//! letters ("Alabamian" for "Alabama").

use std::collections::HashMap;

use crate::corpus::ArticleView;
use crate::text::{self, Text, Word};

/// What a masked word is replaced with.
pub(crate) const MASK: &str = "___";

/// Finds the words of a sentence that give an answer away.
#[derive(Debug, Clone, Default)]
pub(crate) struct Masker {
    /// Phrases as stem sequences, keyed by their first stem.
    phrases: HashMap<String, Vec<Vec<String>>>,
    /// Single words: (folded word, stem).
    words: Vec<(String, String)>,
}

impl Masker {
    /// Builds a masker from names masked as whole phrases and names whose
    /// words are masked on their own too.
    pub(crate) fn new<'a>(
        text: &Text,
        phrases: impl IntoIterator<Item = &'a str>,
        word_sources: impl IntoIterator<Item = &'a str>,
    ) -> Masker {
        let mut masker = Masker::default();
        for phrase in phrases {
            masker.add_phrase(text, phrase);
            let stripped = text::strip_disambiguator(phrase);
            if stripped != phrase {
                masker.add_phrase(text, stripped);
            }
        }
        for source in word_sources {
            for word in text.words(text::strip_disambiguator(source)) {
                if text::letters(&word.key) >= 4
                    && !text::is_function_word(&word.key)
                    && !masker.words.iter().any(|(key, _)| *key == word.key)
                {
                    masker.words.push((word.key, word.stem));
                }
            }
        }
        masker
    }

    /// The masker of an article's own names: title, redirects, aliases and
    /// bold names as phrases; title and bold words on their own.
    pub(crate) fn for_article(text: &Text, view: &ArticleView) -> Masker {
        let phrases = std::iter::once(view.title.as_str())
            .chain(view.redirects.iter().map(String::as_str))
            .chain(view.aliases.iter().map(String::as_str))
            .chain(view.bold.iter().map(String::as_str));
        let word_sources =
            std::iter::once(view.title.as_str()).chain(view.bold.iter().map(String::as_str));
        Masker::new(text, phrases, word_sources)
    }

    fn add_phrase(&mut self, text: &Text, phrase: &str) {
        let words = text.words(phrase);
        let skip = usize::from(words.len() > 1 && text::is_leading_article(&words[0].key));
        let stems: Vec<String> = words[skip..].iter().map(|w| w.stem.clone()).collect();
        let Some(first) = stems.first() else {
            return;
        };
        let list = self.phrases.entry(first.clone()).or_default();
        if !list.contains(&stems) {
            list.push(stems);
        }
    }

    /// Returns, for each word, whether it is masked.
    pub(crate) fn masked(&self, words: &[Word]) -> Vec<bool> {
        let mut masked = vec![false; words.len()];
        for (i, word) in words.iter().enumerate() {
            if let Some(list) = self.phrases.get(&word.stem) {
                for phrase in list {
                    let end = i + phrase.len();
                    if end <= words.len()
                        && words[i..end]
                            .iter()
                            .zip(phrase)
                            .all(|(w, stem)| w.stem == *stem)
                    {
                        masked[i..end].iter_mut().for_each(|m| *m = true);
                    }
                }
            }
            if !masked[i] && self.masks_word(word) {
                masked[i] = true;
            }
        }
        masked
    }

    fn masks_word(&self, word: &Word) -> bool {
        self.words.iter().any(|(key, stem)| {
            if word.stem == *stem || word.key == *key {
                return true;
            }
            let n = key.chars().count();
            n >= 6 && {
                let prefix: String = key.chars().take(n - 1).collect();
                word.key.starts_with(&prefix)
            }
        })
    }
}

/// A sentence with words masked (and optionally one span blanked out),
/// ready to show.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Masked {
    /// The text to show.
    pub(crate) text: String,
    /// Number of words in the sentence.
    pub(crate) n_words: usize,
    /// Number of masked words (blank included).
    pub(crate) n_masked: usize,
    /// Number of words in the blank.
    pub(crate) n_blank: usize,
    /// Number of unmasked words of 4+ letters.
    pub(crate) n_content: usize,
    /// Whether the blank survived (it is not inside a dropped parenthesis).
    pub(crate) blank_kept: bool,
}

/// Masks a sentence: words the masker flags become [`MASK`], the byte range
/// `blank` (if any) becomes one [`MASK`] per word, and parentheses that hold
/// a masked word, no letter at all, or look like pronunciation or
/// foreign-script glosses (":" ";" "/" or non-Latin letters) are dropped.
pub(crate) fn mask_sentence(
    text: &Text,
    masker: &Masker,
    sentence: &str,
    blank: Option<(usize, usize)>,
) -> Masked {
    let words = text.words(sentence);
    let mut masked = masker.masked(&words);
    let mut in_blank = vec![false; words.len()];
    if let Some((start, end)) = blank {
        for (i, word) in words.iter().enumerate() {
            if word.start < end && word.end > start {
                in_blank[i] = true;
                masked[i] = false;
            }
        }
    }
    // Parentheses to drop.
    let mut removals: Vec<(usize, usize)> = Vec::new();
    for (open, close) in parentheses(sentence) {
        let inner = &sentence[open + 1..close];
        let holds_mask = words
            .iter()
            .zip(&masked)
            .any(|(w, &m)| m && w.start > open && w.end <= close);
        let no_letters = !inner.chars().any(char::is_alphanumeric);
        let gloss = inner.contains([':', ';', '/']) || inner.chars().any(is_foreign_letter);
        // A blank that straddles the parenthesis keeps it (dropping half
        // of the blank would leave the other half in view).
        let straddles = blank.is_some_and(|(start, end)| {
            let inside = |at: usize| at > open && at <= close;
            start < end && inside(start) != inside(end)
        });
        if (holds_mask || no_letters || gloss) && !straddles {
            // Take the space before the parenthesis with it.
            let start = sentence[..open].trim_end().len();
            removals.push((start, close + 1));
        }
    }
    let removed = |start: usize, end: usize| removals.iter().any(|&(s, e)| start >= s && end <= e);

    let mut edits: Vec<(usize, usize, String)> = removals
        .iter()
        .map(|&(s, e)| (s, e, String::new()))
        .collect();
    let mut n_masked = 0;
    let mut n_content = 0;
    let mut blank_words = 0;
    let mut blank_span: Option<(usize, usize)> = None;
    let mut blank_kept = blank.is_none();
    for (i, word) in words.iter().enumerate() {
        if in_blank[i] {
            n_masked += 1;
            blank_words += 1;
            let span = blank_span.get_or_insert((word.start, word.end));
            span.1 = word.end;
            continue;
        }
        if removed(word.start, word.end) {
            continue;
        }
        if masked[i] {
            n_masked += 1;
            edits.push((word.start, word.end, MASK.to_owned()));
        } else if text::letters(&word.key) >= 4 {
            n_content += 1;
        }
    }
    if let Some((start, end)) = blank_span
        && !removed(start, end)
    {
        let replacement = vec![MASK; blank_words].join(" ");
        edits.push((start, end, replacement));
        blank_kept = true;
    }
    edits.sort_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
    let mut out = String::with_capacity(sentence.len());
    let mut pos = 0;
    for (start, end, replacement) in edits {
        if start < pos {
            continue; // inside an earlier (larger) edit
        }
        out.push_str(&sentence[pos..start]);
        out.push_str(&replacement);
        pos = end;
    }
    out.push_str(&sentence[pos..]);
    Masked {
        text: tidy(&out),
        n_words: words.len(),
        n_masked,
        n_blank: blank_words,
        n_content,
        blank_kept,
    }
}

/// Drops the parentheses of a text that hold no letter ("( ; )" left over
/// from removed templates) and tidies the spacing; used for ask answers.
pub(crate) fn clean_sentence(sentence: &str) -> String {
    let mut out = String::with_capacity(sentence.len());
    let mut pos = 0;
    for (open, close) in parentheses(sentence) {
        if sentence[open + 1..close].chars().any(char::is_alphanumeric) {
            continue;
        }
        let start = sentence[..open].trim_end().len();
        if start < pos {
            continue;
        }
        out.push_str(&sentence[pos..start]);
        pos = close + 1;
    }
    out.push_str(&sentence[pos..]);
    tidy(&out)
}

/// Byte ranges `(open, close)` of the outermost balanced parentheses.
fn parentheses(text: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut depth = 0usize;
    let mut open = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => {
                if depth == 0 {
                    open = i;
                }
                depth += 1;
            }
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    found.push((open, i));
                }
            }
            _ => {}
        }
    }
    found
}

/// A letter outside the Latin script (a gloss in Greek, Arabic, IPA...).
fn is_foreign_letter(c: char) -> bool {
    c.is_alphabetic() && !matches!(c as u32, 0..=0x024F | 0x1E00..=0x1EFF)
}

/// Collapses runs of spaces and removes spaces before closing punctuation.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            continue;
        }
        if matches!(c, ',' | '.' | ';' | ':' | ')' | '!' | '?') && out.ends_with(' ') {
            out.pop();
        }
        out.push(c);
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lincoln() -> ArticleView {
        ArticleView {
            id: 1,
            title: "Abraham Lincoln".to_owned(),
            redirects: vec!["Honest Abe".to_owned(), "Lincoln, Abraham".to_owned()],
            bold: vec!["Abraham Lincoln".to_owned()],
            aliases: vec!["President Lincoln".to_owned()],
            ..ArticleView::default()
        }
    }

    fn check(view: &ArticleView, sentence: &str, expected: &str) {
        let text = Text::new("en");
        let masker = Masker::for_article(&text, view);
        assert_eq!(mask_sentence(&text, &masker, sentence, None).text, expected);
    }

    #[test]
    fn masks_names_and_their_forms() {
        let view = lincoln();
        check(
            &view,
            "Abraham Lincoln (February 12, 1809 – April 15, 1865) was the 16th President.",
            "___ ___ (February 12, 1809 – April 15, 1865) was the 16th President.",
        );
        check(
            &view,
            "Lincoln's speech moved Honest Abe's critics.",
            "___ speech moved ___ ___ critics.",
        );
        check(
            &view,
            "ABRAHAM LINCOLN won; the Lincolns moved.",
            "___ ___ won; the ___ moved.",
        );
        check(
            &view,
            "Lincolnshire is far away from it.",
            "___ is far away from it.",
        );
        check(
            &view,
            "The speech at Gettysburg.",
            "The speech at Gettysburg.",
        );
    }

    #[test]
    fn strips_disambiguators_and_glosses() {
        let view = ArticleView {
            title: "Mercury (planet)".to_owned(),
            ..ArticleView::default()
        };
        check(
            &view,
            "Mercury is the smallest planet.",
            "___ is the smallest planet.",
        );
        let view = ArticleView {
            title: "Achilles".to_owned(),
            ..ArticleView::default()
        };
        check(
            &view,
            "In Greek mythology Achilles (Ancient Greek: Ἀχιλλεύς) was a hero ( ; ).",
            "In Greek mythology ___ was a hero.",
        );
        check(
            &view,
            "The Achillean heel (the tendon) hurts.",
            "The ___ heel (the tendon) hurts.",
        );
        check(&view, "He (Achilles) fought.", "He fought.");
    }

    #[test]
    fn masks_anarchism_stems() {
        let view = ArticleView {
            title: "Anarchism".to_owned(),
            ..ArticleView::default()
        };
        check(
            &view,
            "Anarchists reject anarchism's critics.",
            "___ reject ___ critics.",
        );
    }

    #[test]
    fn blanks_a_span() {
        let text = Text::new("en");
        let masker = Masker::new(&text, ["Paris", "City of Light"], ["Paris"]);
        let sentence = "The treaty was signed in Paris, the city of light, in 1783.";
        let start = sentence.find("Paris").unwrap();
        let got = mask_sentence(&text, &masker, sentence, Some((start, start + 5)));
        assert_eq!(
            got.text,
            "The treaty was signed in ___, the ___ ___ ___, in 1783."
        );
        assert!(got.blank_kept);
        assert_eq!(got.n_masked, 4);
    }

    #[test]
    fn a_blank_across_a_parenthesis_keeps_it() {
        let text = Text::new("en");
        let masker = Masker::new(&text, ["Foo Bar"], ["Foo Bar"]);
        let sentence = "It was named after the Foo (born 1900: a) Bar family of the old town.";
        let start = sentence.find("(born").unwrap() + 1;
        let end = sentence.find(" family").unwrap();
        let got = mask_sentence(&text, &masker, sentence, Some((start, end)));
        assert!(!got.text.contains("Bar"), "{}", got.text);
        assert!(got.blank_kept);
    }

    #[test]
    fn cleans_empty_parentheses() {
        assert_eq!(
            clean_sentence("Albedo ( ; ) is a measure ()."),
            "Albedo is a measure."
        );
        assert_eq!(clean_sentence("Albedo (white) is."), "Albedo (white) is.");
    }
}
