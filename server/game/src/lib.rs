//! Fraser's word games as pure state transitions.
//!
//! Layers, from the outside in:
//!
//! - [`Games`] is the entry point: [`Games::step`] takes a chat's
//!   [`ChatState`] and one [`Message`] and returns a [`Step`] (the new state,
//!   the [`Reply`]s to send and the points won); [`Games::tick`] times out
//!   idle rounds. Nothing here does IO, reads a clock or draws randomness:
//!   `now_ms` and a `seed` come in, so every turn can be replayed and every
//!   rule is a unit test.
//! - [`Corpus`] is the seam to the index: random articles by filter,
//!   articles by id, name lookup. [`MemoryCorpus`] implements it in memory
//!   (from [`ArticleView`]s or straight from wikitext pages).
//! - [`check_quality`] plays many seeded rounds over any [`Corpus`] and
//!   reports every clue that gives the answer away, every fair answer that
//!   is refused and every wrong one that is accepted ([`QualityReport`]).
//! - Inside: rounds (clue choice, blanks, hints), masking of the answer out
//!   of clue sentences, answer matching, command parsing and all the wording.
//!
//! The games: "guess the article" (masked sentences, deepest first, the lead
//! last), "fill the blank" (a linked entity blanked out of a sentence) and
//! "ask" ("who is X" answers with the article's first sentences).
//!
//! ```
//! use std::sync::Arc;
//! use game::{ArticleView, ChatState, Games, MemoryCorpus, Message, SentenceView, Settings};
//!
//! let sentence = |text: &str, section: &str| SentenceView {
//!     text: text.to_owned(),
//!     section: section.to_owned(),
//!     links: Vec::new(),
//! };
//! let albedo = ArticleView {
//!     id: 1,
//!     title: "Albedo".to_owned(),
//!     sentences: vec![
//!         sentence("Albedo is the measure of the diffuse reflection of solar radiation.", ""),
//!         sentence("Snow and fresh ice reflect most of the sunlight that reaches their surface.", "Examples"),
//!         sentence("Climate scientists track the albedo of the polar regions with satellites.", "Climate"),
//!     ],
//!     ..ArticleView::default()
//! };
//! let settings = Settings { min_sentences: 1, ..Settings::default() };
//! let games = Games::new(Arc::new(MemoryCorpus::new([albedo])), settings);
//! let player = |text: &str| Message {
//!     sender_id: "42".to_owned(),
//!     sender_name: "Ana".to_owned(),
//!     text: text.to_owned(),
//!     is_group: false,
//!     platform: "web".to_owned(),
//! };
//!
//! let step = games.step(&ChatState::default(), &player("/play"), 0, 7);
//! assert!(step.replies[0].text.contains("Climate scientists track the ___ of"));
//! let step = games.step(&step.state, &player("albedo"), 1_000, 8);
//! assert!(step.replies[0].text.starts_with("Ana got it: Albedo!"));
//! assert_eq!(step.scores, [("42".to_owned(), 10)]);
//! ```

#![warn(missing_docs)]

mod command;
mod corpus;
mod games;
mod mask;
mod matcher;
pub mod quality;
mod rng;
mod round;
mod state;
mod text;
mod wording;

pub use crate::{
    corpus::{ArticleFilter, ArticleView, Candidate, Corpus, MemoryCorpus, Page, SentenceView},
    games::{Button, Games, InlinkRange, Message, Prize, Reply, Settings, Step},
    quality::{QualityReport, check_quality},
    state::{ChatState, GameKind, GameState, Hint, Level, PlayerScore, Round, STATE_VERSION},
};
