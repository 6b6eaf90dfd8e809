//! Languages and Snowball stemmers.

use std::borrow::Cow;

use rust_stemmers::Algorithm;
use serde::{Deserialize, Serialize};

/// A text language: picks the stemmer and the sentence rules.
///
/// Every Snowball algorithm that `rust-stemmers` ships has a variant;
/// [`Language::Other`] means "no stemmer" (a stem is the token itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Language {
    /// Arabic (`ar`).
    Arabic,
    /// Danish (`da`).
    Danish,
    /// Dutch (`nl`).
    Dutch,
    /// English (`en`, also Simple English `simple`); the default.
    #[default]
    English,
    /// Finnish (`fi`).
    Finnish,
    /// French (`fr`).
    French,
    /// German (`de`).
    German,
    /// Greek (`el`).
    Greek,
    /// Hungarian (`hu`).
    Hungarian,
    /// Italian (`it`).
    Italian,
    /// Norwegian (`no`, `nb`, `nn`).
    Norwegian,
    /// Portuguese (`pt`).
    Portuguese,
    /// Romanian (`ro`).
    Romanian,
    /// Russian (`ru`).
    Russian,
    /// Spanish (`es`).
    Spanish,
    /// Swedish (`sv`).
    Swedish,
    /// Tamil (`ta`).
    Tamil,
    /// Turkish (`tr`).
    Turkish,
    /// No stemmer: the stem of a token is the token (code `und`).
    Other,
}

/// Wikimedia project suffixes of database names (`enwiki`, `elwikivoyage`).
const PROJECT_SUFFIXES: &[&str] = &[
    "wikivoyage",
    "wiktionary",
    "wikibooks",
    "wikinews",
    "wikiquote",
    "wikisource",
    "wikiversity",
    "wiki",
];

impl Language {
    /// Every language, in declaration order.
    pub const ALL: [Language; 19] = [
        Language::Arabic,
        Language::Danish,
        Language::Dutch,
        Language::English,
        Language::Finnish,
        Language::French,
        Language::German,
        Language::Greek,
        Language::Hungarian,
        Language::Italian,
        Language::Norwegian,
        Language::Portuguese,
        Language::Romanian,
        Language::Russian,
        Language::Spanish,
        Language::Swedish,
        Language::Tamil,
        Language::Turkish,
        Language::Other,
    ];

    /// Maps a wiki language code (`en`, `simple`, `el`, `de`, `pt-br`...) to a language.
    ///
    /// The code is matched case-insensitively on its primary subtag.
    /// `und` gives [`Language::Other`].
    /// Any other unknown code falls back to [`Language::English`]: English rules
    /// (abbreviations, the Porter2 stemmer) leave words of other scripts unchanged,
    /// which is the most useful default for a dump whose language has no stemmer.
    pub fn from_code(code: &str) -> Language {
        let code = code.trim().to_ascii_lowercase();
        let primary = code.split(['-', '_']).next().unwrap_or("");
        match primary {
            "ar" | "arz" => Language::Arabic,
            "da" => Language::Danish,
            "nl" | "li" => Language::Dutch,
            "en" | "simple" => Language::English,
            "fi" => Language::Finnish,
            "fr" => Language::French,
            "de" | "als" | "bar" => Language::German,
            "el" => Language::Greek,
            "hu" => Language::Hungarian,
            "it" => Language::Italian,
            "no" | "nb" | "nn" => Language::Norwegian,
            "pt" => Language::Portuguese,
            "ro" | "mo" => Language::Romanian,
            "ru" => Language::Russian,
            "es" => Language::Spanish,
            "sv" => Language::Swedish,
            "ta" => Language::Tamil,
            "tr" => Language::Turkish,
            "und" => Language::Other,
            _ => Language::English,
        }
    }

    /// Maps a Wikimedia database name (`enwiki`, `simplewiki`, `elwikivoyage`) to a language.
    ///
    /// The project suffix is removed and underscores become hyphens
    /// (`zh_min_nanwiki` is `zh-min-nan`), then [`Language::from_code`] decides.
    pub fn from_dbname(dbname: &str) -> Language {
        Language::from_code(&dbname_code(dbname))
    }

    /// Returns the language code (`en`, `el`, ...; `und` for [`Language::Other`]).
    pub fn code(&self) -> &'static str {
        match self {
            Language::Arabic => "ar",
            Language::Danish => "da",
            Language::Dutch => "nl",
            Language::English => "en",
            Language::Finnish => "fi",
            Language::French => "fr",
            Language::German => "de",
            Language::Greek => "el",
            Language::Hungarian => "hu",
            Language::Italian => "it",
            Language::Norwegian => "no",
            Language::Portuguese => "pt",
            Language::Romanian => "ro",
            Language::Russian => "ru",
            Language::Spanish => "es",
            Language::Swedish => "sv",
            Language::Tamil => "ta",
            Language::Turkish => "tr",
            Language::Other => "und",
        }
    }

    fn algorithm(&self) -> Option<Algorithm> {
        Some(match self {
            Language::Arabic => Algorithm::Arabic,
            Language::Danish => Algorithm::Danish,
            Language::Dutch => Algorithm::Dutch,
            Language::English => Algorithm::English,
            Language::Finnish => Algorithm::Finnish,
            Language::French => Algorithm::French,
            Language::German => Algorithm::German,
            Language::Greek => Algorithm::Greek,
            Language::Hungarian => Algorithm::Hungarian,
            Language::Italian => Algorithm::Italian,
            Language::Norwegian => Algorithm::Norwegian,
            Language::Portuguese => Algorithm::Portuguese,
            Language::Romanian => Algorithm::Romanian,
            Language::Russian => Algorithm::Russian,
            Language::Spanish => Algorithm::Spanish,
            Language::Swedish => Algorithm::Swedish,
            Language::Tamil => Algorithm::Tamil,
            Language::Turkish => Algorithm::Turkish,
            Language::Other => return None,
        })
    }
}

/// Returns the language code part of a database name (`elwikivoyage` -> `el`).
pub(crate) fn dbname_code(dbname: &str) -> String {
    let name = dbname.trim();
    let stem = PROJECT_SUFFIXES
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name);
    stem.replace('_', "-")
}

/// A Snowball stemmer for one language.
///
/// Input words should be lowercase (as [`crate::tokenize`] makes them).
/// The stemmer is `Send + Sync`, so one instance serves all threads.
pub struct Stemmer {
    inner: Option<rust_stemmers::Stemmer>,
    language: Language,
}

impl Stemmer {
    /// Creates the stemmer of `lang` ([`Language::Other`] returns words unchanged).
    pub fn new(lang: Language) -> Self {
        Stemmer {
            inner: lang.algorithm().map(rust_stemmers::Stemmer::create),
            language: lang,
        }
    }

    /// Returns the language this stemmer was made for.
    pub fn language(&self) -> Language {
        self.language
    }

    /// Stems one lowercase word.
    pub fn stem<'a>(&self, word: &'a str) -> Cow<'a, str> {
        match &self.inner {
            Some(stemmer) => stemmer.stem(word),
            None => Cow::Borrowed(word),
        }
    }
}

impl std::fmt::Debug for Stemmer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stemmer")
            .field("language", &self.language)
            .finish()
    }
}

impl Clone for Stemmer {
    fn clone(&self) -> Self {
        Stemmer::new(self.language)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let cases = [
            ("en", Language::English),
            ("simple", Language::English),
            ("EL", Language::Greek),
            ("de", Language::German),
            ("pt-br", Language::Portuguese),
            ("nb", Language::Norwegian),
            ("und", Language::Other),
            ("ja", Language::English),
            ("", Language::English),
        ];
        for (code, expected) in cases {
            assert_eq!(Language::from_code(code), expected, "{code}");
        }
    }

    #[test]
    fn dbnames() {
        let cases = [
            ("enwiki", Language::English),
            ("simplewiki", Language::English),
            ("elwikivoyage", Language::Greek),
            ("dewiktionary", Language::German),
            ("frwikisource", Language::French),
            ("zh_min_nanwiki", Language::English),
        ];
        for (dbname, expected) in cases {
            assert_eq!(Language::from_dbname(dbname), expected, "{dbname}");
        }
        assert_eq!(dbname_code("zh_min_nanwiki"), "zh-min-nan");
    }

    #[test]
    fn code_round_trips() {
        for lang in Language::ALL {
            assert_eq!(Language::from_code(lang.code()), lang);
        }
    }

    #[test]
    fn stems() {
        let cases = [
            (Language::English, "running", "run"),
            (Language::English, "philosophies", "philosophi"),
            (Language::German, "häuser", "haus"),
            (Language::Greek, "επαρχίες", "επαρχι"),
            (Language::Other, "running", "running"),
        ];
        for (lang, word, expected) in cases {
            assert_eq!(Stemmer::new(lang).stem(word), expected, "{lang:?} {word}");
        }
    }
}
