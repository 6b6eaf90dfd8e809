//! Building rounds: picking the article, the clue sentences (guess) or the
//! blanked link (blank), and the hints.
//!
//! Clue sentences must read as prose (start with a capital or digit, end
//! with `.`, `!` or `?`, no markup left, not mostly digits: that rules out
//! table cells and list fragments), come from a section that is not a
//! reference list, have 8+ words, keep at least 4 unmasked words of 4+
//! letters and have at most `Settings::max_masked_percent` of their words
//! masked. A blank sentence has at most one masked word besides the
//! blank. The first clue comes from deep in the article, later ones from
//! earlier parts (one per stretch of the article, preferring sentences that
//! mention the subject), the last one from the lead.

use crate::corpus::{ArticleFilter, ArticleView, Corpus};
use crate::games::Settings;
use crate::mask::{Masker, mask_sentence};
use crate::rng::{Rng, derive};
use crate::state::{GameKind, Hint, Level, Round};
use crate::text::{self, Text};

/// What a round is built from.
pub(crate) struct Builder<'a> {
    pub(crate) corpus: &'a dyn Corpus,
    pub(crate) settings: &'a Settings,
    pub(crate) text: &'a Text,
}

/// Lead sentences tried for the last clue.
const LAST_CLUE_TRIES: usize = 12;
/// Sentences tried per stretch of the article (preferring one that
/// mentions the subject).
const STRETCH_TRIES: usize = 6;

/// Sections whose sentences are never clues.
fn skipped_section(heading: &str) -> bool {
    const SKIPPED: &[&str] = &[
        "bibliography",
        "citations",
        "external links",
        "footnotes",
        "further reading",
        "gallery",
        "notes",
        "notes and references",
        "primary sources",
        "references",
        "secondary sources",
        "see also",
        "sources",
        "works cited",
    ];
    SKIPPED.contains(&nlp::fold(heading).as_str())
}

/// Tells whether a sentence reads as prose of a reasonable length.
pub(crate) fn looks_like_prose(sentence: &str, min_chars: usize, max_chars: usize) -> bool {
    let n_chars = sentence.chars().count();
    if n_chars < min_chars || n_chars > max_chars {
        return false;
    }
    let Some(first) = sentence.chars().next() else {
        return false;
    };
    if !(first.is_uppercase()
        || first.is_numeric()
        || matches!(first, '"' | '\u{201C}' | '\'' | '\u{2018}'))
    {
        return false;
    }
    let body = sentence.trim_end_matches(['"', '\u{201D}', '\'', '\u{2019}', ')']);
    if !body.ends_with(['.', '!', '?']) {
        return false;
    }
    const MARKUP: &[&str] = &[
        "|", "{", "}", "[[", "]]", "<", ">", "=", "http", "www.", "\t", "\n",
    ];
    if MARKUP.iter().any(|m| sentence.contains(m)) {
        return false;
    }
    let alnum = sentence.chars().filter(|c| c.is_alphanumeric()).count();
    let digits = sentence.chars().filter(char::is_ascii_digit).count();
    digits * 10 <= alnum * 3
}

impl Builder<'_> {
    fn filter(&self, level: Level, relaxed: bool) -> ArticleFilter {
        let range = match level {
            Level::Easy => &self.settings.easy,
            Level::Hard => &self.settings.hard,
        };
        if relaxed {
            return ArticleFilter {
                min_sentences: self.settings.min_sentences,
                min_inlinks: 0,
                max_inlinks: None,
            };
        }
        ArticleFilter {
            min_sentences: self.settings.min_sentences,
            min_inlinks: range.min,
            max_inlinks: range.max,
        }
    }

    /// Builds a new round: picks articles with the level's filter (then,
    /// if none works, with no in-link bounds) until one gives a playable
    /// round. `None` when the corpus has nothing playable.
    pub(crate) fn round(
        &self,
        kind: GameKind,
        level: Level,
        seed: u64,
        recent: &[u64],
        now_ms: i64,
    ) -> Option<Round> {
        let mut exclude: Vec<u64> = recent.to_vec();
        let attempts = self.settings.attempts.max(1);
        for attempt in 0..attempts * 2 {
            let relaxed = attempt >= attempts;
            let filter = self.filter(level, relaxed);
            let article_seed = derive(seed, u64::from(attempt));
            let Some(id) = self.corpus.random_article(article_seed, &filter, &exclude) else {
                continue;
            };
            if exclude.contains(&id) && !recent.contains(&id) {
                // The corpus came back to an article that already failed.
                continue;
            }
            exclude.push(id);
            let Some(view) = self.corpus.article(id) else {
                continue;
            };
            let mut rng = Rng::new(derive(article_seed, 0xC1E5));
            let round = match kind {
                GameKind::Guess => self.guess_round(&view, &mut rng),
                GameKind::Blank => self.blank_round(&view, level, &mut rng),
            };
            if let Some(mut round) = round {
                round.started_ms = now_ms;
                round.last_ms = now_ms;
                round.shown = 1;
                return Some(round);
            }
        }
        None
    }

    fn guess_round(&self, view: &ArticleView, rng: &mut Rng) -> Option<Round> {
        let answer = text::strip_disambiguator(&view.title);
        if text::letters(answer) < 3 {
            // "A", "Pi": masking every "a" makes no puzzle.
            return None;
        }
        let masker = Masker::for_article(self.text, view);
        let clues = self.guess_clues(view, &masker, rng);
        if clues.len() < self.settings.min_clues.max(1) {
            return None;
        }
        Some(Round {
            answer_id: Some(view.id),
            source_id: view.id,
            title: view.title.clone(),
            answer: answer.to_owned(),
            clues,
            ..Round::default()
        })
    }

    /// A masked sentence if it makes a good clue.
    fn clue(&self, masker: &Masker, sentence: &str, lead: bool) -> Option<(String, bool)> {
        let settings = self.settings;
        let max_chars = if lead {
            settings.lead_clue_max_chars
        } else {
            settings.clue_max_chars
        };
        if !looks_like_prose(sentence, settings.clue_min_chars, max_chars) {
            return None;
        }
        let masked = mask_sentence(self.text, masker, sentence, None);
        let ok = masked.n_words >= 8
            && masked.n_masked * 100 <= masked.n_words * settings.max_masked_percent
            && masked.n_content >= 4
            && masked.text.chars().count() >= settings.clue_min_chars;
        ok.then_some((masked.text, masked.n_masked > 0))
    }

    /// Picks the clues lazily: a cheap prose filter first, then masking
    /// only the sentences actually tried (an article can have a thousand).
    fn guess_clues(&self, view: &ArticleView, masker: &Masker, rng: &mut Rng) -> Vec<String> {
        let settings = self.settings;
        let prose: Vec<usize> = view
            .sentences
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                let max = if s.section.is_empty() {
                    settings.lead_clue_max_chars
                } else {
                    settings.clue_max_chars
                };
                !skipped_section(&s.section)
                    && looks_like_prose(&s.text, settings.clue_min_chars, max)
            })
            .map(|(i, _)| i)
            .collect();
        let clue_at = |i: usize| {
            self.clue(
                masker,
                &view.sentences[i].text,
                view.sentences[i].section.is_empty(),
            )
        };
        // The last clue: the first good lead sentence (the definition), or
        // failing that the first good sentence at all.
        let lead = prose
            .iter()
            .take_while(|&&i| view.sentences[i].section.is_empty());
        let Some((last_index, last)) = lead
            .chain(prose.iter())
            .take(LAST_CLUE_TRIES)
            .find_map(|&i| clue_at(i).map(|(clue, _)| (i, clue)))
        else {
            return Vec::new();
        };
        let rest: Vec<usize> = prose.into_iter().filter(|&i| i != last_index).collect();
        let wanted = settings.max_clues.saturating_sub(1).min(rest.len());
        // One clue per stretch of the article, deepest stretch first.
        let mut clues: Vec<String> = Vec::with_capacity(wanted + 1);
        for bucket in (0..wanted).rev() {
            let from = bucket * rest.len() / wanted;
            let to = (bucket + 1) * rest.len() / wanted;
            let mut stretch: Vec<usize> = rest[from..to].to_vec();
            for k in (1..stretch.len()).rev() {
                stretch.swap(k, rng.below(k + 1));
            }
            stretch.truncate(STRETCH_TRIES);
            let mut fallback = None;
            for i in stretch {
                match clue_at(i) {
                    Some((clue, true)) => {
                        fallback = Some(clue);
                        break;
                    }
                    Some((clue, false)) => {
                        fallback.get_or_insert(clue);
                    }
                    None => {}
                }
            }
            if let Some(clue) = fallback
                && !clues.contains(&clue)
                && clue != last
            {
                clues.push(clue);
            }
        }
        clues.push(last);
        clues
    }

    fn blank_round(&self, view: &ArticleView, level: Level, rng: &mut Rng) -> Option<Round> {
        let settings = self.settings;
        let own_title = nlp::fold(&view.title);
        // (sentence index, link index), cheap checks only: this runs over
        // every link of the article.
        let mut links: Vec<(usize, usize)> = Vec::new();
        for (i, sentence) in view.sentences.iter().enumerate() {
            if skipped_section(&sentence.section)
                || !looks_like_prose(
                    &sentence.text,
                    settings.clue_min_chars,
                    settings.clue_max_chars,
                )
            {
                continue;
            }
            for (j, (start, end, target)) in sentence.links.iter().enumerate() {
                let Some(anchor) = sentence.text.get(*start as usize..*end as usize) else {
                    continue;
                };
                let n_words = anchor.split_whitespace().count();
                let good = (1..=4).contains(&n_words)
                    && text::letters(anchor) >= 3
                    && anchor.chars().any(char::is_alphabetic)
                    && !target.contains(':');
                if good {
                    links.push((i, j));
                }
            }
        }
        if links.is_empty() {
            return None;
        }
        for k in (1..links.len()).rev() {
            links.swap(k, rng.below(k + 1));
        }
        // The finer checks, until enough candidates are found.
        let redirects: Vec<String> = view.redirects.iter().map(|r| nlp::fold(r)).collect();
        let mut scored: Vec<((usize, usize), Option<u64>, u32)> = links
            .into_iter()
            .filter(|&(i, j)| {
                let (start, end, target) = &view.sentences[i].links[j];
                let anchor = &view.sentences[i].text[*start as usize..*end as usize];
                let first = anchor
                    .split_whitespace()
                    .next()
                    .map(nlp::fold)
                    .unwrap_or_default();
                let target_key = nlp::fold(target);
                !text::is_function_word(&first)
                    && !text::is_leading_article(&first)
                    && target_key != own_title
                    && !redirects.contains(&target_key)
            })
            // A bounded sample: each candidate costs an article read.
            .take(settings.blank_candidates.max(1))
            .map(|(i, j)| {
                let target = &view.sentences[i].links[j].2;
                let id = self.corpus.resolve(target);
                let inlinks = id
                    .and_then(|id| self.corpus.article(id))
                    .map_or(0, |v| v.inlinks);
                ((i, j), id, inlinks)
            })
            .collect();
        // Easy: the best-known third of the targets; hard: the rest.
        scored.sort_by_key(|candidate| std::cmp::Reverse(candidate.2));
        let split = scored.len().div_ceil(3);
        let (known, rest) = scored.split_at(split);
        let pool = match level {
            Level::Easy => known,
            Level::Hard if rest.is_empty() => known,
            Level::Hard => rest,
        };
        let mut order: Vec<usize> = (0..pool.len()).collect();
        for k in (1..order.len()).rev() {
            order.swap(k, rng.below(k + 1));
        }
        for k in order {
            let ((i, j), target_id, _) = pool[k];
            if let Some(round) = self.blank_from(view, i, j, target_id) {
                return Some(round);
            }
        }
        None
    }

    fn blank_from(
        &self,
        view: &ArticleView,
        i: usize,
        j: usize,
        target_id: Option<u64>,
    ) -> Option<Round> {
        let settings = self.settings;
        let sentence = &view.sentences[i];
        let (start, end, target) = &sentence.links[j];
        let anchor = sentence.text.get(*start as usize..*end as usize)?.trim();
        let target_view = target_id.and_then(|id| self.corpus.article(id));
        let mut phrases: Vec<&str> = vec![target.as_str(), anchor];
        let mut word_sources: Vec<&str> = vec![target.as_str(), anchor];
        if let Some(tv) = &target_view {
            phrases.push(&tv.title);
            phrases.extend(tv.redirects.iter().map(String::as_str));
            phrases.extend(tv.aliases.iter().map(String::as_str));
            phrases.extend(tv.bold.iter().map(String::as_str));
            word_sources.push(&tv.title);
        }
        let masker = Masker::new(self.text, phrases, word_sources);
        let masked = mask_sentence(
            self.text,
            &masker,
            &sentence.text,
            Some((*start as usize, *end as usize)),
        );
        // Besides the blank, at most one masked word: a sentence full of
        // masks ("between ___ (normal) ___ and breathy ___") is no puzzle.
        let ok = masked.blank_kept
            && masked.n_masked <= masked.n_blank + 1
            && masked.n_words >= 8
            && masked.n_masked * 100 <= masked.n_words * settings.max_masked_percent
            && masked.n_content >= 4;
        if !ok {
            return None;
        }
        let mut clues = vec![masked.text];
        // A second clue: the first good lead sentence of the target article.
        if let Some(tv) = &target_view
            && let Some(definition) = tv
                .sentences
                .iter()
                .filter(|s| s.section.is_empty())
                .find_map(|s| self.clue(&masker, &s.text, true))
        {
            clues.push(definition.0);
        }
        let title_words = self.text.words(&view.title);
        let context = if masker.masked(&title_words).iter().any(|&m| m) {
            String::new()
        } else {
            view.title.clone()
        };
        Some(Round {
            answer_id: target_view.as_ref().map(|tv| tv.id),
            source_id: view.id,
            title: target_view
                .as_ref()
                .map_or_else(|| target.clone(), |tv| tv.title.clone()),
            answer: anchor.to_owned(),
            context,
            clues,
            ..Round::default()
        })
    }
}

/// The hint `/hint` gives next, if any is left.
///
/// Guess: sentence, letters, sentence, word, sentence, letters...;
/// blank: letters, sentence (the target's definition), word, letters...
/// A kind that is used up is replaced by the next one that is not.
pub(crate) fn next_hint(kind: GameKind, round: &Round) -> Option<Hint> {
    let sentence_left = (round.shown as usize) < round.clues.len();
    let letters_used = round.hints.iter().filter(|h| **h == Hint::Letters).count();
    let words_used = round.hints.iter().filter(|h| **h == Hint::Word).count();
    let n_words = round.answer.split_whitespace().count();
    let available = |hint: Hint| match hint {
        Hint::Sentence => sentence_left,
        Hint::Letters => letters_used < 3,
        Hint::Word => n_words >= 2 && words_used + 1 < n_words,
    };
    let plan: &[Hint] = match kind {
        GameKind::Guess => &[
            Hint::Sentence,
            Hint::Letters,
            Hint::Sentence,
            Hint::Word,
            Hint::Sentence,
            Hint::Letters,
        ],
        GameKind::Blank => &[Hint::Letters, Hint::Sentence, Hint::Word, Hint::Letters],
    };
    let preferred = plan[round.hints.len() % plan.len()];
    [preferred, Hint::Sentence, Hint::Letters, Hint::Word]
        .into_iter()
        .find(|&hint| available(hint))
}

/// The answer with letters hidden per the hints taken: letter hints show
/// the first letter of each word, then a third, then two thirds (never a
/// whole word); word hints show whole words from the first. Word lengths
/// follow in parentheses.
pub(crate) fn shape(answer: &str, hints: &[Hint]) -> String {
    let level = hints.iter().filter(|h| **h == Hint::Letters).count().min(3);
    let whole_words = hints.iter().filter(|h| **h == Hint::Word).count();
    let mut shown = Vec::new();
    let mut lengths = Vec::new();
    for (w, word) in answer.split_whitespace().enumerate() {
        let len = word.chars().filter(|c| c.is_alphanumeric()).count();
        lengths.push(len.to_string());
        let reveal = if w < whole_words {
            len
        } else if level == 0 {
            0
        } else {
            (1 + (len.saturating_sub(1)) * (level - 1) / 3).min(len.saturating_sub(1).max(1))
        };
        let mut seen = 0;
        let word_shape: String = word
            .chars()
            .map(|c| {
                if !c.is_alphanumeric() {
                    return c;
                }
                seen += 1;
                if seen <= reveal { c } else { '_' }
            })
            .collect();
        shown.push(word_shape);
    }
    format!("{} ({})", shown.join(" "), lengths.join(", "))
}

/// Points for a correct answer after `hints` hints.
pub(crate) fn prize(settings: &Settings, kind: GameKind, level: Level, hints: usize) -> i64 {
    let prize = match kind {
        GameKind::Guess => &settings.guess_prize,
        GameKind::Blank => &settings.blank_prize,
    };
    let base = match level {
        Level::Easy => prize.easy,
        Level::Hard => prize.hard,
    };
    let hints = i64::try_from(hints).unwrap_or(i64::MAX);
    base.saturating_sub(prize.hint_cost.saturating_mul(hints))
        .max(prize.min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_filter() {
        let ok = |s: &str| looks_like_prose(s, 20, 300);
        assert!(ok(
            "Albedo is the measure of the diffuse reflection of light."
        ));
        assert!(ok(
            "\"Quoted\" sentences can start with a quote mark and end fine.\""
        ));
        assert!(!ok(
            "albedo is the measure of the diffuse reflection of light."
        ));
        assert!(!ok(
            "Albedo is the measure of the diffuse reflection of light"
        ));
        assert!(!ok("Year | 1999 | 2000 | 2001 | 2002 | 2003 | 2004."));
        assert!(!ok(
            "1999 2000 2001 2002 2003 2004 2005 2006 2007 were the years."
        ));
        assert!(!ok("Short one."));
        assert!(!ok("See http://example.org for the rest of the story."));
    }

    fn round(answer: &str, clues: usize, shown: u32, hints: &[Hint]) -> Round {
        Round {
            answer: answer.to_owned(),
            clues: vec!["x".to_owned(); clues],
            shown,
            hints: hints.to_vec(),
            ..Round::default()
        }
    }

    #[test]
    fn hint_plan() {
        use Hint::{Letters, Sentence, Word};
        let r = round("Abraham Lincoln", 3, 1, &[]);
        assert_eq!(next_hint(GameKind::Guess, &r), Some(Sentence));
        let r = round("Abraham Lincoln", 3, 2, &[Sentence]);
        assert_eq!(next_hint(GameKind::Guess, &r), Some(Letters));
        let r = round("Abraham Lincoln", 3, 3, &[Sentence, Letters, Sentence]);
        assert_eq!(next_hint(GameKind::Guess, &r), Some(Word));
        let r = round(
            "Abraham Lincoln",
            3,
            3,
            &[Sentence, Letters, Sentence, Word],
        );
        assert_eq!(next_hint(GameKind::Guess, &r), Some(Letters));
        let r = round(
            "Abraham Lincoln",
            3,
            3,
            &[Sentence, Letters, Sentence, Word, Letters, Letters],
        );
        assert_eq!(next_hint(GameKind::Guess, &r), None);
        let r = round("Albedo", 1, 1, &[Letters, Letters]);
        assert_eq!(next_hint(GameKind::Guess, &r), Some(Letters));
        let r = round("Albedo", 1, 1, &[Letters, Letters, Letters]);
        assert_eq!(next_hint(GameKind::Guess, &r), None);
        let r = round("Paris", 2, 1, &[]);
        assert_eq!(next_hint(GameKind::Blank, &r), Some(Letters));
        // A state with more shown clues than clues does not panic.
        let r = round("Paris", 1, 9, &[]);
        assert_eq!(next_hint(GameKind::Guess, &r), Some(Letters));
    }

    #[test]
    fn shapes() {
        use Hint::{Letters, Sentence, Word};
        assert_eq!(shape("Abraham Lincoln", &[]), "_______ _______ (7, 7)");
        assert_eq!(
            shape("Abraham Lincoln", &[Sentence, Letters]),
            "A______ L______ (7, 7)"
        );
        assert_eq!(
            shape("Abraham Lincoln", &[Letters, Letters]),
            "Abr____ Lin____ (7, 7)"
        );
        assert_eq!(
            shape("Abraham Lincoln", &[Letters, Letters, Letters]),
            "Abrah__ Linco__ (7, 7)"
        );
        assert_eq!(
            shape("Abraham Lincoln", &[Letters, Word]),
            "Abraham L______ (7, 7)"
        );
        assert_eq!(shape("AC/DC", &[Letters]), "A_/__ (4)");
        assert_eq!(shape("Io", &[Letters, Letters, Letters]), "I_ (2)");
    }

    #[test]
    fn prizes_drop_with_hints() {
        let settings = Settings::default();
        assert_eq!(prize(&settings, GameKind::Guess, Level::Easy, 0), 10);
        assert_eq!(prize(&settings, GameKind::Guess, Level::Easy, 2), 6);
        assert_eq!(prize(&settings, GameKind::Guess, Level::Hard, 0), 15);
        assert_eq!(prize(&settings, GameKind::Guess, Level::Easy, 100), 2);
        assert_eq!(prize(&settings, GameKind::Blank, Level::Easy, 0), 5);
        assert_eq!(prize(&settings, GameKind::Blank, Level::Easy, 9), 1);
    }
}
