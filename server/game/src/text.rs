//! Text helpers shared by the masker and the matcher: words with their
//! folded and stemmed keys (over `nlp`), title clean-up and edit distance.

use nlp::{Language, Stemmer};

/// One word of a text: its byte range, its folded form and its stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// Byte offset of the word in the text.
    pub(crate) start: usize,
    /// Byte offset just past the word.
    pub(crate) end: usize,
    /// The word folded (lowercase, no accents, straight apostrophes).
    pub(crate) key: String,
    /// The stem of `key`.
    pub(crate) stem: String,
}

/// Splits texts into words and stems them, for one language.
#[derive(Debug, Clone)]
pub(crate) struct Text {
    stemmer: Stemmer,
}

impl Text {
    /// Creates the helpers for a language code (`en`, `de`...); an unknown
    /// code gets no stemmer (a stem is the word itself).
    pub(crate) fn new(language: &str) -> Text {
        Text {
            stemmer: Stemmer::new(Language::from_code(language)),
        }
    }

    /// Returns the words of `text` with their keys and stems.
    pub(crate) fn words(&self, text: &str) -> Vec<Word> {
        nlp::tokenize(text)
            .into_iter()
            .filter_map(|token| {
                let key = word_key(&token.text);
                if key.is_empty() {
                    return None;
                }
                let stem = self.stem(&key);
                Some(Word {
                    start: token.start as usize,
                    end: token.end as usize,
                    key,
                    stem,
                })
            })
            .collect()
    }

    /// Returns the stem of a folded word.
    pub(crate) fn stem(&self, key: &str) -> String {
        let stem = self.stemmer.stem(key);
        let stem = stem.trim_end_matches('\'');
        if stem.is_empty() {
            key.to_owned()
        } else {
            stem.to_owned()
        }
    }
}

/// Folds one token: [`nlp::fold`] plus straight apostrophes, and no
/// trailing apostrophe ("Jesus'" and "Jesus" are the same word).
fn word_key(token: &str) -> String {
    let folded = nlp::fold(token).replace(['\u{2019}', '\u{2018}', '`'], "'");
    let trimmed = folded.trim_matches('\'');
    if trimmed.len() == folded.len() {
        folded
    } else {
        trimmed.to_owned()
    }
}

/// Removes a trailing parenthetical disambiguator from a title:
/// "Mercury (planet)" -> "Mercury". Titles that are only a parenthesis stay.
pub(crate) fn strip_disambiguator(title: &str) -> &str {
    let trimmed = title.trim();
    if trimmed.ends_with(')')
        && let Some(open) = trimmed.rfind(" (")
    {
        let head = trimmed[..open].trim_end();
        if !head.is_empty() {
            return head;
        }
    }
    trimmed
}

/// How many typos an answer of `letters` letters may hold and still count:
/// 0 up to 4 letters, 1 for 5 to 8, 2 above.
pub(crate) fn allowed_typos(letters: usize) -> usize {
    match letters {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// How far (in edits) a guess of a key of `letters` letters may be to get a
/// "close!": a little beyond [`allowed_typos`]. Keys of 3 letters or fewer
/// are never "close".
pub(crate) fn close_typos(letters: usize) -> usize {
    if letters <= 3 {
        return 0;
    }
    allowed_typos(letters) + 1 + letters / 8
}

/// Optimal string alignment distance (Levenshtein plus adjacent
/// transpositions) between two char slices, or `None` when it is above `max`.
pub(crate) fn edit_distance(a: &[char], b: &[char], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    if a.is_empty() || b.is_empty() {
        let d = a.len().max(b.len());
        return (d <= max).then_some(d);
    }
    let width = b.len() + 1;
    let mut prev2 = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur = vec![0usize; width];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

/// Function words of four letters or more that are never masked on their
/// own, even when a title holds them ("Over the Rainbow" masks the whole
/// title, not every "over").
pub(crate) fn is_function_word(key: &str) -> bool {
    const WORDS: &[&str] = &[
        "about", "after", "also", "among", "before", "been", "being", "between", "both", "could",
        "does", "during", "each", "from", "have", "into", "more", "most", "much", "only", "onto",
        "other", "over", "some", "such", "than", "that", "their", "them", "then", "there", "these",
        "they", "this", "those", "through", "under", "upon", "very", "were", "what", "when",
        "where", "which", "while", "with", "within", "without", "would", "your",
    ];
    WORDS.binary_search(&key).is_ok()
}

/// Leading words dropped from answers and names before comparing them.
pub(crate) fn is_leading_article(key: &str) -> bool {
    matches!(key, "the" | "a" | "an")
}

/// Counts the letters and digits of a string.
pub(crate) fn letters(s: &str) -> usize {
    s.chars().filter(|c| c.is_alphanumeric()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(a: &str, b: &str) -> Option<usize> {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        edit_distance(&a, &b, 5)
    }

    #[test]
    fn edit_distances() {
        assert_eq!(dist("lincoln", "lincoln"), Some(0));
        assert_eq!(dist("lincoln", "lincon"), Some(1));
        assert_eq!(dist("lincoln", "lnicoln"), Some(1));
        assert_eq!(dist("lincoln", "lincolnx"), Some(1));
        assert_eq!(dist("lincoln", "kincoln"), Some(1));
        assert_eq!(dist("", "abc"), Some(3));
        assert_eq!(dist("abc", ""), Some(3));
        assert_eq!(dist("abraham lincoln", "lincoln"), None);
        assert_eq!(dist("kitten", "sitting"), Some(3));
    }

    #[test]
    fn function_words_are_sorted() {
        // `is_function_word` binary-searches the list.
        assert!(is_function_word("with"));
        assert!(is_function_word("about"));
        assert!(is_function_word("your"));
        assert!(!is_function_word("lincoln"));
    }

    #[test]
    fn thresholds() {
        assert_eq!(allowed_typos(4), 0);
        assert_eq!(allowed_typos(5), 1);
        assert_eq!(allowed_typos(6), 1);
        assert_eq!(allowed_typos(8), 1);
        assert_eq!(allowed_typos(9), 2);
        assert_eq!(close_typos(3), 0);
        assert_eq!(close_typos(4), 1);
        assert_eq!(close_typos(7), 2);
        assert_eq!(close_typos(16), 5);
    }

    #[test]
    fn disambiguators() {
        assert_eq!(strip_disambiguator("Mercury (planet)"), "Mercury");
        assert_eq!(strip_disambiguator("Mercury"), "Mercury");
        assert_eq!(
            strip_disambiguator("(I Can't Get No) Satisfaction"),
            "(I Can't Get No) Satisfaction"
        );
        assert_eq!(strip_disambiguator("(planet)"), "(planet)");
    }

    #[test]
    fn words_are_folded_and_stemmed() {
        let text = Text::new("en");
        let words = text.words("Lincoln’s Éire anarchists");
        let keys: Vec<&str> = words.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(keys, ["lincoln's", "eire", "anarchists"]);
        assert_eq!(words[0].stem, "lincoln");
        assert_eq!(text.stem("anarchists"), text.stem("anarchist"));
        assert_eq!(text.stem("anarchism"), "anarch");
    }
}
