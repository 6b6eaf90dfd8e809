//! A quality check of the games over any [`Corpus`]: many seeded rounds are
//! played and each one is checked the way a player would notice a fault.
//!
//! - No clue, context or sentence hint shows a name of the answer (its title
//!   with or without the disambiguator, its redirects, for a blank the
//!   anchor text) as whole words; letter and word hints may.
//! - The answer is accepted as typed, lowercased, without accents and (for
//!   answers of 6+ letters) with one typo, in a group and a direct chat.
//! - A guess that merely shares a word with a multi-word answer is rejected.
//!
//! [`check_quality`] is pure: it only drives [`Games::step`] and reads the
//! corpus, so it runs the same over a [`crate::MemoryCorpus`] in unit tests
//! and over a real index.

use std::collections::BTreeSet;
use std::fmt;

use crate::{ChatState, Corpus, GameKind, Games, Hint, Level, Message, Round, Step};

/// How many hints a round is asked for at most (rounds run out sooner).
const MAX_HINTS: usize = 12;

/// What [`check_quality`] played and checked, and what it found wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QualityReport {
    /// Rounds started.
    pub rounds: usize,
    /// Of them, "guess the article" rounds.
    pub guess_rounds: usize,
    /// Of them, "fill the blank" rounds.
    pub blank_rounds: usize,
    /// Distinct articles the rounds were about.
    pub articles: usize,
    /// Clue and context texts checked for names of the answer.
    pub clues_checked: usize,
    /// Hints taken (sentence hints are checked for names of the answer).
    pub hints_checked: usize,
    /// Forms of the answer (exact, lowercase, unaccented, one typo) tried.
    pub accepted_forms: usize,
    /// Wrong guesses sharing a word with the answer tried.
    pub shared_word_guesses: usize,
    /// One line per fault found, naming the round (kind, level, seed, title).
    pub violations: Vec<String>,
}

impl fmt::Display for QualityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "quality: {} rounds ({} guess, {} blank) over {} articles; {} clue texts and {} hints checked; \
             {} accepted-answer forms and {} shared-word guesses tried; {} violations",
            self.rounds,
            self.guess_rounds,
            self.blank_rounds,
            self.articles,
            self.clues_checked,
            self.hints_checked,
            self.accepted_forms,
            self.shared_word_guesses,
            self.violations.len()
        )
    }
}

/// Plays `seeds_per_combo` rounds for each game kind and level (guess and
/// blank, easy and hard: four times as many rounds in all), each combination
/// in one chat so the recently-played list is exercised, and checks every
/// round (see the module docs).
///
/// `corpus` must be the corpus `games` was built over: it is read for the
/// names of each answer (title, redirects, aliases, bold names).
pub fn check_quality(games: &Games, corpus: &dyn Corpus, seeds_per_combo: u64) -> QualityReport {
    let stemmer = nlp::Stemmer::new(nlp::Language::from_code(&games.settings().language));
    let mut report = QualityReport::default();
    let mut articles = BTreeSet::new();
    let combos = [
        (GameKind::Guess, Level::Easy),
        (GameKind::Guess, Level::Hard),
        (GameKind::Blank, Level::Easy),
        (GameKind::Blank, Level::Hard),
    ];
    for (kind, level) in combos {
        let mut state = ChatState::default();
        for seed in 0..seeds_per_combo {
            // One new game per seed, in the same chat.
            let start = games.step(&state, &msg(&play_command(kind, level), false), 0, seed);
            let Some(round) = start.state.round().cloned() else {
                report
                    .violations
                    .push(format!("{kind:?} {level:?} seed {seed}: no round"));
                continue;
            };
            report.rounds += 1;
            match kind {
                GameKind::Guess => report.guess_rounds += 1,
                GameKind::Blank => report.blank_rounds += 1,
            }
            articles.insert(round.source_id);
            let label = format!("{kind:?} {level:?} seed {seed} ({})", round.title);
            check_round(
                games,
                corpus,
                &stemmer,
                &start,
                &round,
                kind,
                seed,
                &label,
                &mut report,
            );
            // Next seed in the same chat: end this round.
            state = games
                .step(&start.state, &msg("/stop", false), 3_000, seed)
                .state;
        }
    }
    report.articles = articles.len();
    report
}

/// Checks one started round: clues, hints, accepted answers, shared words.
#[allow(clippy::too_many_arguments)] // one round's context, passed as is
fn check_round(
    games: &Games,
    corpus: &dyn Corpus,
    stemmer: &nlp::Stemmer,
    start: &Step,
    round: &Round,
    kind: GameKind,
    seed: u64,
    label: &str,
    report: &mut QualityReport,
) {
    // 1. No clue (shown or held back) and no context shows a name.
    let forbidden = forbidden_names(corpus, round);
    let mut texts: Vec<&str> = round.clues.iter().map(String::as_str).collect();
    texts.push(&round.context);
    for text in &texts {
        report.clues_checked += 1;
        for name in &forbidden {
            if reveals(text, name) {
                report
                    .violations
                    .push(format!("{label}: {name:?} shown in {text:?}"));
            }
        }
    }
    let first_clue = round.clues.first().map_or("", String::as_str);
    match start.replies.last() {
        Some(reply) if reply.text.contains(first_clue) => {}
        _ => report
            .violations
            .push(format!("{label}: first reply lacks the clue")),
    }

    // 2. Every hint: sentence hints show a checked clue; only letter and
    // word hints may show letters of the answer.
    let mut hinted = start.state.clone();
    for _ in 0..MAX_HINTS {
        let step = games.step(&hinted, &msg("/hint", false), 1_000, seed);
        let Some(after) = step.state.round() else {
            report
                .violations
                .push(format!("{label}: /hint ended the round"));
            break;
        };
        let before = hinted.round().map_or(0, |r| r.hints.len());
        if after.hints.len() == before {
            break; // no hint left
        }
        report.hints_checked += 1;
        let text = step.replies.first().map_or("", |r| r.text.as_str());
        if after.hints.last() == Some(&Hint::Sentence) {
            let shown = (after.shown as usize)
                .checked_sub(1)
                .and_then(|i| after.clues.get(i));
            match shown {
                Some(shown) if text.contains(shown.as_str()) => {}
                Some(_) => report
                    .violations
                    .push(format!("{label}: hint reply lacks its clue")),
                None => report
                    .violations
                    .push(format!("{label}: sentence hint without a shown clue")),
            }
            let clue_part = text.split_once('\n').map_or("", |(_, clue)| clue);
            for name in &forbidden {
                if reveals(clue_part, name) {
                    report
                        .violations
                        .push(format!("{label}: hint shows {name:?}: {text:?}"));
                }
            }
        }
        hinted = step.state;
    }

    // 3. The answer counts as typed, lowercased, without accents and with
    // one typo; in a group too.
    let mut good = vec![
        round.answer.clone(),
        round.answer.to_lowercase(),
        nlp::fold(&round.answer),
    ];
    if round.answer.chars().filter(|c| c.is_alphanumeric()).count() >= 6 {
        good.extend(typos(&round.answer));
    }
    if kind == GameKind::Guess {
        good.push(round.title.clone());
    }
    for (n, guess) in good.iter().enumerate() {
        report.accepted_forms += 1;
        // Group and direct chats judge alike; check both on the first.
        let modes: &[bool] = if n == 0 { &[false, true] } else { &[false] };
        for &is_group in modes {
            let step = games.step(&start.state, &msg(guess, is_group), 2_000, seed);
            if !won(&step) {
                report.violations.push(format!(
                    "{label}: {guess:?} not accepted (group {is_group})"
                ));
            }
        }
    }

    // 4. Sharing a word is not enough. A word that is itself a name of the
    // answer, or an inflection of one ("statistical" for "Statistics"), is an
    // answer, not a shared word.
    let accepted: Vec<String> = accepted_names(corpus, round)
        .iter()
        .flat_map(|n| [stems(stemmer, n), stems(stemmer, strip_disambiguator(n))])
        .collect();
    let answer_words: Vec<&str> = round.answer.split_whitespace().collect();
    if answer_words.len() >= 2 {
        for word in answer_words {
            let word = word.trim_matches(|c: char| !c.is_alphanumeric());
            if word.chars().count() < 4 || accepted.contains(&stems(stemmer, word)) {
                continue;
            }
            for guess in [word.to_owned(), format!("{word} banana")] {
                report.shared_word_guesses += 1;
                let step = games.step(&start.state, &msg(&guess, true), 2_000, seed);
                if won(&step) {
                    report
                        .violations
                        .push(format!("{label}: {guess:?} accepted"));
                }
            }
        }
    }
}

fn msg(text: &str, is_group: bool) -> Message {
    Message {
        sender_id: "u1".to_owned(),
        sender_name: "Ana".to_owned(),
        text: text.to_owned(),
        is_group,
        platform: "telegram".to_owned(),
    }
}

fn play_command(kind: GameKind, level: Level) -> String {
    let kind = match kind {
        GameKind::Guess => "guess",
        GameKind::Blank => "blank",
    };
    let level = match level {
        Level::Easy => "easy",
        Level::Hard => "hard",
    };
    format!("/play {kind} {level}")
}

/// Folded words of a text.
fn words(text: &str) -> Vec<String> {
    nlp::tokenize(text)
        .into_iter()
        .map(|t| {
            nlp::fold(&t.text)
                .replace('\u{2019}', "'")
                .trim_matches('\'')
                .to_owned()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `name` appears in `text` as whole words (case and accents ignored).
fn reveals(text: &str, name: &str) -> bool {
    let name = words(name);
    if name.is_empty() {
        return false;
    }
    words(text)
        .windows(name.len())
        .any(|w| w == name.as_slice())
}

/// The stems of a name's words, joined by spaces.
fn stems(stemmer: &nlp::Stemmer, name: &str) -> String {
    words(name)
        .iter()
        .map(|w| stemmer.stem(w).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn strip_disambiguator(title: &str) -> &str {
    match title.rfind(" (") {
        Some(i) if title.ends_with(')') && i > 0 => &title[..i],
        _ => title,
    }
}

/// The names a clue must not show: the title (with and without its
/// disambiguator), every redirect, and for a blank the anchor text.
fn forbidden_names(corpus: &dyn Corpus, round: &Round) -> Vec<String> {
    let mut names = vec![
        round.title.clone(),
        strip_disambiguator(&round.title).to_owned(),
        round.answer.clone(),
    ];
    if let Some(view) = round.answer_id.and_then(|id| corpus.article(id)) {
        names.push(view.title.clone());
        names.extend(view.redirects.iter().cloned());
    }
    names
}

/// All the names the answer may be given as.
fn accepted_names(corpus: &dyn Corpus, round: &Round) -> Vec<String> {
    let mut names = vec![round.title.clone(), round.answer.clone()];
    if let Some(view) = round.answer_id.and_then(|id| corpus.article(id)) {
        names.extend(view.redirects.iter().cloned());
        names.extend(view.aliases.iter().cloned());
        names.extend(view.bold.iter().cloned());
    }
    names
}

/// One-typo variants of an answer: substitution, deletion, swap, insertion
/// at a letter in the middle of its letters.
fn typos(answer: &str) -> Vec<String> {
    let chars: Vec<char> = answer.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_alphabetic())
        .collect();
    if letters.len() < 3 {
        return Vec::new();
    }
    let i = letters[letters.len() / 2];
    let j = letters[letters.len() / 2 + 1];
    let mut out = Vec::new();
    let mut substituted = chars.clone();
    substituted[i] = if chars[i].eq_ignore_ascii_case(&'x') {
        'q'
    } else {
        'x'
    };
    out.push(substituted.iter().collect());
    let mut deleted = chars.clone();
    deleted.remove(i);
    out.push(deleted.iter().collect());
    if j == i + 1 && !chars[i].eq_ignore_ascii_case(&chars[j]) {
        let mut swapped = chars.clone();
        swapped.swap(i, j);
        out.push(swapped.iter().collect());
    }
    let mut inserted = chars.clone();
    inserted.insert(i, 'k');
    out.push(inserted.iter().collect());
    out
}

fn won(step: &Step) -> bool {
    !step.scores.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reveals_whole_words_only() {
        assert!(reveals("The Émancipation order was read.", "emancipation"));
        assert!(!reveals("Emancipated people", "emancipation"));
        assert!(!reveals("anything", ""));
    }

    #[test]
    fn typos_change_one_letter() {
        let variants = typos("Lincoln");
        assert_eq!(variants, ["Linxoln", "Linoln", "Linocln", "Linkcoln"]);
        assert!(typos("Ox").is_empty());
    }
}
