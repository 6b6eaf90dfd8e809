//! Sentence boundaries: UAX #29 sentence breaks corrected by language rules.
//!
//! Unicode sentence segmentation (UAX #29, from `unicode-segmentation`)
//! proposes the boundaries. It breaks after every `.` followed by a capital
//! letter, so each proposal after a `.`, `!` or `?` is checked against the
//! text around it and dropped when the dot belongs to an abbreviation
//! (`Mr.`, `e.g.`, `No. 5`, `U.S. Government`), an initial (`J. R. R. Tolkien`)
//! or an ellipsis, or when a `!` is part of a name (`Yahoo! in`).
//! Abbreviations that can also end a sentence (`etc.`, `Inc.`, `U.S.`) end
//! one only when the next word is a common sentence starter (`The`, `It`,
//! `However`...), the rule of pySBD/Pragmatic Segmenter.

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

use crate::stem::Language;

/// Closing punctuation that may follow a sentence's final period.
const CLOSERS: &[char] = &['"', '\'', '”', '’', '»', ')', ']', '}', '›'];

/// Opening punctuation that may precede a sentence's first word.
const OPENERS: &[char] = &['"', '\'', '“', '‘', '«', '(', '[', '{', '‹', '¿', '¡'];

/// Splits text into sentences with language-specific rules.
#[derive(Debug, Clone)]
pub struct SentenceSplitter {
    /// Titles that precede a name and never end a sentence (`mr`, `dr`).
    titles: HashSet<&'static str>,
    /// Abbreviations that never end a sentence (`e.g`, `cf`).
    always: HashSet<&'static str>,
    /// Abbreviations that precede a number (`no`, `fig`, `jan`).
    numeric: HashSet<&'static str>,
    /// Abbreviations that may end a sentence (`etc`, `inc`).
    ambiguous: HashSet<&'static str>,
    /// Words that often start a sentence (`The`, `However`), case-sensitive.
    starters: HashSet<&'static str>,
    /// Whether `19.` is an ordinal (German, Danish...) rather than a sentence end.
    ordinal_dots: bool,
}

const EN_TITLES: &[&str] = &[
    "mr", "mrs", "ms", "messrs", "mme", "mlle", "dr", "prof", "st", "mt", "ft", "gen", "col", "lt",
    "maj", "sgt", "capt", "cpt", "cmdr", "adm", "brig", "rev", "fr", "sen", "rep", "gov", "pres",
    "hon", "supt", "insp", "det", "sr", "rt", "esq", "mssrs", "gov", "atty", "ave", "blvd", "hr",
    "lieut", "cmdt", "revd", "hon",
];

const EN_ALWAYS: &[&str] = &[
    "e.g", "i.e", "vs", "viz", "cf", "approx", "incl", "esp", "resp", "appx", "ibid", "ca", "c",
    "b", "d", "fl", "r", "nos", "figs", "pp", "vols", "eds", "trans", "orig", "var", "ssp",
    "subsp", "spp", "sp", "aka", "a.k.a",
];

const EN_NUMERIC: &[&str] = &[
    "no", "nr", "vol", "fig", "p", "ch", "chap", "art", "sec", "op", "ed", "ref", "eq", "tab",
    "pl", "para", "pt", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "est", "pop", "ver", "vers", "n°", "nº", "mk", "rte", "hwy", "ser",
];

const EN_AMBIGUOUS: &[&str] = &[
    "etc", "inc", "ltd", "co", "corp", "jr", "bros", "al", "llc", "plc", "dept", "univ", "assn",
    "intl", "govt", "mfg", "lb", "lbs",
];

const EN_STARTERS: &[&str] = &[
    "A",
    "After",
    "All",
    "Also",
    "Although",
    "An",
    "And",
    "Another",
    "As",
    "At",
    "Because",
    "Before",
    "Being",
    "Both",
    "But",
    "By",
    "Despite",
    "Did",
    "During",
    "Each",
    "Even",
    "Every",
    "Following",
    "For",
    "From",
    "He",
    "Her",
    "Here",
    "His",
    "How",
    "However",
    "I",
    "If",
    "In",
    "Instead",
    "It",
    "Its",
    "Later",
    "Many",
    "Meanwhile",
    "Millions",
    "More",
    "Moreover",
    "Most",
    "My",
    "Nevertheless",
    "No",
    "Not",
    "Now",
    "Of",
    "On",
    "One",
    "Only",
    "Other",
    "Our",
    "Several",
    "She",
    "Since",
    "So",
    "Some",
    "Such",
    "That",
    "The",
    "Their",
    "Then",
    "There",
    "These",
    "They",
    "This",
    "Those",
    "Thus",
    "Today",
    "Two",
    "Under",
    "Unlike",
    "We",
    "What",
    "When",
    "Where",
    "Which",
    "While",
    "Who",
    "Why",
    "With",
    "You",
    "Your",
];

/// Abbreviations of the language lists that often end a sentence ("etc.").
const MAY_END: &[&str] = &[
    "etc", "usw", "κλπ", "κ.λπ", "κ.λ.π", "κ.ο.κ", "κ.ά", "enz", "ecc", "u.ä", "o.ä",
];

const DE_ABBREVIATIONS: &[&str] = &[
    "z.b", "usw", "bzw", "vgl", "nr", "str", "geb", "gest", "evtl", "u.a", "d.h", "s.o", "s.u",
    "jh", "jhd", "mio", "mrd", "bspw", "sog", "insb", "hrsg", "ggf", "inkl", "z.t", "u.ä", "o.ä",
    "ca", "dt", "engl", "frz", "lat", "griech", "urspr", "abs", "bd", "nr",
];

const DE_STARTERS: &[&str] = &[
    "Der", "Die", "Das", "Er", "Sie", "Es", "Im", "In", "Am", "Nach", "Seit", "Bei", "Mit", "Ein",
    "Eine", "Als", "Auch", "Diese", "Dieser", "Dieses", "So", "Zu", "Von", "Aus", "Da", "Dort",
    "Heute", "Wir", "Ich", "Nachdem", "Während",
];

const FR_ABBREVIATIONS: &[&str] = &[
    "m", "mm", "mme", "mlle", "mgr", "av", "apr", "j.-c", "env", "éd", "coll", "vol", "p", "cf",
    "etc", "n°", "st", "ste", "bd", "r",
];

const FR_STARTERS: &[&str] = &[
    "Le", "La", "Les", "Il", "Elle", "Ils", "Elles", "Un", "Une", "En", "Au", "Aux", "Dans", "Ce",
    "Cette", "Ces", "Depuis", "Pour", "Par", "Sur", "Mais", "Après", "Avant", "On",
];

const EL_ABBREVIATIONS: &[&str] = &[
    "π.χ", "κ.λπ", "κλπ", "κ.λ.π", "δηλ", "κ.ά", "μ.χ", "π.χ", "χλμ", "τ.μ", "αι", "κ", "κα", "βλ",
    "σελ", "χιλ", "εκ", "αρ", "π.κ", "κ.ο.κ", "ο.π", "μ.μ", "π.μ", "τηλ", "οδ", "λεωφ", "αγ",
    "μτφ", "εκατ", "δισ", "περ", "π", "μ",
];

const EL_STARTERS: &[&str] = &[
    "Ο",
    "Η",
    "Το",
    "Οι",
    "Τα",
    "Στο",
    "Στη",
    "Στην",
    "Στον",
    "Στα",
    "Από",
    "Με",
    "Σε",
    "Για",
    "Μετά",
    "Κατά",
    "Αυτό",
    "Αυτή",
    "Ένα",
    "Μια",
    "Είναι",
    "Υπάρχει",
    "Υπάρχουν",
    "Εκεί",
];

const ES_ABBREVIATIONS: &[&str] = &[
    "sr", "sra", "srta", "dña", "pág", "núm", "etc", "ud", "uds", "av", "avda", "dr", "dra",
    "p.ej", "aprox", "s", "ss",
];

const IT_ABBREVIATIONS: &[&str] = &[
    "sig", "sigg", "dott", "prof", "ecc", "pag", "n", "s", "ss", "d.c", "a.c", "vol",
];

const PT_ABBREVIATIONS: &[&str] = &[
    "sr", "sra", "dr", "dra", "pág", "n", "nº", "etc", "av", "a.c", "d.c", "vol",
];

const NL_ABBREVIATIONS: &[&str] = &[
    "bijv", "blz", "d.w.z", "e.a", "enz", "jl", "m.a.w", "nr", "o.a", "ca", "v.chr", "n.chr",
];

impl SentenceSplitter {
    /// Creates a splitter with the rules of `lang` (English rules for
    /// languages without a list of their own).
    pub fn new(lang: Language) -> Self {
        let set = |items: &[&'static str]| items.iter().copied().collect::<HashSet<_>>();
        let mut splitter = SentenceSplitter {
            titles: set(EN_TITLES),
            always: set(EN_ALWAYS),
            numeric: set(EN_NUMERIC),
            ambiguous: set(EN_AMBIGUOUS),
            starters: set(EN_STARTERS),
            ordinal_dots: false,
        };
        let (extra, starters): (&[&'static str], Option<&[&'static str]>) = match lang {
            Language::German => (DE_ABBREVIATIONS, Some(DE_STARTERS)),
            Language::French => (FR_ABBREVIATIONS, Some(FR_STARTERS)),
            Language::Greek => (EL_ABBREVIATIONS, Some(EL_STARTERS)),
            Language::Spanish => (ES_ABBREVIATIONS, None),
            Language::Italian => (IT_ABBREVIATIONS, None),
            Language::Portuguese => (PT_ABBREVIATIONS, None),
            Language::Dutch => (NL_ABBREVIATIONS, None),
            _ => (&[], None),
        };
        for abbreviation in extra {
            if MAY_END.contains(abbreviation) {
                splitter.ambiguous.insert(abbreviation);
            } else {
                splitter.always.insert(abbreviation);
            }
        }
        if let Some(starters) = starters {
            splitter.starters.extend(starters.iter().copied());
        }
        splitter.ordinal_dots = matches!(
            lang,
            Language::German
                | Language::Danish
                | Language::Norwegian
                | Language::Finnish
                | Language::Hungarian
                | Language::Turkish
        );
        splitter
    }

    /// Splits `text` into sentences and returns their byte ranges.
    ///
    /// The ranges are in order, do not overlap, lie on char boundaries, are
    /// trimmed of whitespace, and together cover every non-whitespace char;
    /// no range is only punctuation (such text joins the sentence before it).
    pub fn split(&self, text: &str) -> Vec<Range<usize>> {
        let mut out: Vec<Range<usize>> = Vec::new();
        // Fast path: UAX #29 breaks only after terminators or separators.
        if !text
            .bytes()
            .any(|b| matches!(b, b'.' | b'!' | b'?' | b'\n' | b'\r') || b >= 0x80)
        {
            if text.bytes().any(|b| b.is_ascii_alphanumeric()) {
                push_trimmed(text, 0..text.len(), &mut out);
            }
            return out;
        }
        let mut bounds: Vec<usize> = if needs_full_segmenter(text) {
            text.split_sentence_bound_indices()
                .map(|(start, _)| start)
                .collect()
        } else {
            proposed_breaks(text)
        };
        if bounds.first() != Some(&0) {
            bounds.insert(0, 0);
        }
        bounds.push(text.len());
        let mut pending: Option<Range<usize>> = None;
        for (i, pair) in bounds.windows(2).enumerate() {
            let (start, end) = (pair[0], pair[1]);
            if start >= end {
                continue;
            }
            let range = match pending.take() {
                Some(open) => open.start..end,
                None => start..end,
            };
            let merge = match bounds.get(i + 2) {
                Some(&next_end) => self.continues(&text[range.clone()], &text[end..next_end]),
                None => false,
            };
            if merge {
                pending = Some(range);
            } else {
                push_trimmed(text, range, &mut out);
            }
        }
        if let Some(range) = pending {
            push_trimmed(text, range, &mut out);
        }
        if let [only] = out.as_slice()
            && !text[only.clone()].chars().any(char::is_alphanumeric)
        {
            out.clear();
        }
        out
    }

    /// Tells whether the sentence `before` goes on into `next` (a break proposed
    /// by UAX #29 is wrong).
    fn continues(&self, before: &str, next: &str) -> bool {
        let body = before.trim_end();
        let core = body.trim_end_matches(CLOSERS);
        let next_word = first_word(next);
        let Some(next_first) = next_word.chars().next() else {
            // The next segment holds no word: it is punctuation and joins later.
            return false;
        };
        let Some(last) = core.chars().next_back() else {
            return false;
        };
        match last {
            '!' | '?' => next_first.is_lowercase(),
            '.' => {
                let dots = trailing_dots(core);
                if dots >= 4 {
                    return false;
                }
                if dots == 3 {
                    return true;
                }
                if next_first.is_lowercase() {
                    return true;
                }
                let stem = &core[..core.len() - 1];
                let word = last_word(stem);
                self.abbreviation_continues(word, next_word, next)
            }
            _ => false,
        }
    }

    /// Decides a break after `word.` followed by `next_word` (capitalized or a digit).
    fn abbreviation_continues(&self, word: &str, next_word: &str, next: &str) -> bool {
        if word.is_empty() {
            return false;
        }
        let lower = word.to_lowercase();
        let lower = lower.as_str();
        let next_is_digit = next_word.starts_with(|c: char| c.is_ascii_digit());
        if self.titles.contains(lower) {
            return true;
        }
        let mut chars = word.chars();
        let first = chars.next();
        let single = chars.next().is_none();
        if single && first.is_some_and(char::is_uppercase) {
            // An initial: J. R. R. Tolkien, George W. Bush; but "World War I. The".
            return is_initial_ahead(next) || !self.starters.contains(next_word);
        }
        if self.always.contains(lower) {
            return true;
        }
        if self.numeric.contains(lower) && next_is_digit {
            return true;
        }
        if self.ambiguous.contains(lower) || is_acronym(word) {
            return !self.starters.contains(next_word);
        }
        if self.ordinal_dots && word.bytes().all(|b| b.is_ascii_digit()) && word.len() <= 4 {
            return !self.starters.contains(next_word);
        }
        false
    }
}

/// Splits English text into sentences (see [`SentenceSplitter`]).
///
/// ```
/// let text = "Mr. J. R. R. Tolkien wrote it. It sold 1.5 million copies in the U.S. Fine!";
/// let sentences: Vec<&str> = nlp::split_sentences(text).into_iter().map(|r| &text[r]).collect();
/// assert_eq!(
///     sentences,
///     ["Mr. J. R. R. Tolkien wrote it.", "It sold 1.5 million copies in the U.S. Fine!"]
/// );
/// ```
pub fn split_sentences(text: &str) -> Vec<Range<usize>> {
    use std::sync::OnceLock;
    static ENGLISH: OnceLock<SentenceSplitter> = OnceLock::new();
    ENGLISH
        .get_or_init(|| SentenceSplitter::new(Language::English))
        .split(text)
}

/// Trims `range` and appends it, or joins it to the previous sentence when it
/// holds no letter or digit.
fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let slice = &text[range.clone()];
    let trimmed_start = slice.trim_start();
    let start = range.start + (slice.len() - trimmed_start.len());
    let end = start + trimmed_start.trim_end().len();
    if start == end {
        return;
    }
    if !text[start..end].chars().any(char::is_alphanumeric)
        && let Some(last) = out.last_mut()
    {
        last.end = end;
        return;
    }
    if let Some(last) = out.last()
        && !text[last.clone()].chars().any(char::is_alphanumeric)
    {
        let first = out.pop().map_or(start, |r| r.start);
        out.push(first..end);
        return;
    }
    out.push(start..end);
}

/// Non-ASCII sentence terminators and separators (UAX #29 STerm/ATerm/Sep).
const OTHER_TERMINATORS: &[char] = &[
    '\u{85}', '\u{589}', '\u{55c}', '\u{55e}', '\u{61f}', '\u{6d4}', '\u{700}', '\u{701}',
    '\u{702}', '\u{964}', '\u{965}', '\u{104a}', '\u{104b}', '\u{1362}', '\u{1367}', '\u{1368}',
    '\u{166e}', '\u{203c}', '\u{203d}', '\u{2047}', '\u{2048}', '\u{2049}', '\u{2029}', '\u{2e2e}',
    '\u{3002}', '\u{fe52}', '\u{fe56}', '\u{fe57}', '\u{ff01}', '\u{ff0e}', '\u{ff1f}', '\u{ff61}',
];

/// Tells whether `text` needs the full UAX #29 segmenter: line breaks or
/// terminators other than ASCII `.` `!` `?`.
fn needs_full_segmenter(text: &str) -> bool {
    text.bytes().any(|b| b == b'\n' || b == b'\r')
        || (!text.is_ascii() && text.chars().any(|c| OTHER_TERMINATORS.contains(&c)))
}

/// Proposes sentence breaks for text whose only terminators are ASCII
/// `.` `!` `?`, following UAX #29 rules SB6-SB11: a break comes after a run
/// of terminators, closing punctuation and spaces, except when no space
/// follows (`3.14`, `U.S`), or, after `.`, when a lowercase word or `,;:`
/// comes next. Returns the start offsets of the sentences after the first.
fn proposed_breaks(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut breaks = Vec::new();
    let mut i = 0;
    while let Some(found) = bytes[i..]
        .iter()
        .position(|b| matches!(b, b'.' | b'!' | b'?'))
    {
        let mut j = i + found;
        let mut dots_only = true;
        while j < bytes.len() && matches!(bytes[j], b'.' | b'!' | b'?') {
            dots_only &= bytes[j] == b'.';
            j += 1;
        }
        let rest = &text[j..];
        let after_closers = rest.trim_start_matches(CLOSERS);
        let next = after_closers.trim_start();
        i = j;
        if next.is_empty() || next.len() == after_closers.len() {
            // End of text, or no space after the terminator.
            continue;
        }
        if dots_only && continues_after_dot(next) {
            continue;
        }
        let start = text.len() - next.len();
        breaks.push(start);
        i = start;
    }
    breaks
}

/// UAX #29 SB8/SB8a: after `.`, the sentence goes on if `,;:` or another
/// terminator comes next, or if the next letter (past digits and
/// punctuation) is lowercase.
fn continues_after_dot(next: &str) -> bool {
    if next.starts_with([',', ';', ':', '.', '!', '?']) {
        return true;
    }
    for c in next.chars() {
        if matches!(c, '.' | '!' | '?') {
            return false;
        }
        if c.is_alphabetic() {
            return c.is_lowercase();
        }
    }
    false
}

/// Returns the first word of `text`, skipping whitespace and opening punctuation.
fn first_word(text: &str) -> &str {
    let text = text.trim_start().trim_start_matches(OPENERS);
    let end = text
        .char_indices()
        .find(|&(_, c)| !c.is_alphanumeric())
        .map_or(text.len(), |(i, _)| i);
    &text[..end]
}

/// Returns the word ending `text` (back to whitespace or opening punctuation).
fn last_word(text: &str) -> &str {
    let start = text
        .char_indices()
        .rev()
        .find(|&(_, c)| c.is_whitespace() || OPENERS.contains(&c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    &text[start..]
}

/// Counts the dots ending `text`, spaced (`. . .`) or not (`...`).
fn trailing_dots(text: &str) -> usize {
    let mut dots = 0;
    for c in text.chars().rev() {
        match c {
            '.' => dots += 1,
            ' ' if dots > 0 => {}
            _ => break,
        }
    }
    dots
}

/// Tells whether `next` starts with another initial (`R. Tolkien`).
fn is_initial_ahead(next: &str) -> bool {
    let mut chars = next.trim_start().chars();
    matches!(
        (chars.next(), chars.next()),
        (Some(c), Some('.')) if c.is_uppercase()
    )
}

/// Tells whether `word` is a dotted acronym such as `U.S`, `a.m` or `Ph.D`.
fn is_acronym(word: &str) -> bool {
    word.contains('.')
        && word.split('.').all(|part| {
            let n = part.chars().count();
            (1..=2).contains(&n) && part.chars().all(char::is_alphabetic)
        })
}
