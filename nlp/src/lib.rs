//! Wikitext to clean text, sentences, tokens, stems and entities.
//!
//! A pure library: no IO, no global state, and no panic on any input. Where
//! something can go wrong a function returns its result together with a
//! `Vec<Warning>`.
//!
//! The layers, in pipeline order:
//!
//! - [`Parser`] (built from a [`ParserConfig`]) turns one page's wikitext into
//!   an [`Article`]: [`Section`]s of clean text [`Block`]s with wikilinks kept
//!   as [`Link`] spans and the lead's bold names in [`Article::bold`].
//! - [`SentenceSplitter`] / [`split_sentences`] find sentence boundaries,
//!   [`tokenize`] finds words, [`Stemmer`] stems them for a [`Language`].
//! - [`Analyzer`] runs the three over an article into an [`AnalyzedArticle`],
//!   and [`entities`] collects the pages an article mentions.
//! - [`fold`] makes keys for loose comparison of titles and answers.
//!
//! ```
//! use nlp::{AnalyzeOptions, Analyzer, Language, Parser, ParserConfig};
//!
//! let parser = Parser::new(&ParserConfig::english());
//! let wikitext = "'''Albedo''' is the [[diffuse reflection|diffuse reflectivity]] \
//!                 of a surface.<ref>{{cite book|title=Optics}}</ref> It is measured \
//!                 from 0 to 1.\n\n== Uses ==\nSnow has a high albedo.";
//! let (article, warnings) = parser.parse("Albedo", wikitext);
//! assert!(warnings.is_empty());
//! assert_eq!(article.bold, ["Albedo"]);
//! let lead = &article.sections[0].blocks[0];
//! assert_eq!(
//!     lead.text,
//!     "Albedo is the diffuse reflectivity of a surface. It is measured from 0 to 1."
//! );
//! assert_eq!(lead.links[0].target, "Diffuse reflection");
//!
//! let analyzed = Analyzer::new(Language::English).analyze(&article, AnalyzeOptions::ALL);
//! let first = &analyzed.sections[0].sentences[0];
//! assert_eq!(first.text, "Albedo is the diffuse reflectivity of a surface.");
//! assert_eq!(first.stems[3], "diffus");
//! assert_eq!(analyzed.sections[1].heading, "Uses");
//! ```

#![warn(missing_docs)]

mod analyze;
mod entity;
mod normalize;
mod sentence;
mod stem;
mod token;
mod wikitext;

pub use crate::{
    analyze::{
        AnalyzeOptions, AnalyzedArticle, AnalyzedSection, Analyzer, LinkRef, Sentence, SentenceRef,
        Words,
    },
    entity::{Entity, EntityKind, entities},
    normalize::{fold, fold_into},
    sentence::{SentenceSplitter, split_sentences},
    stem::{Language, Stemmer},
    token::{Token, push_tokens_joined, tokenize},
    wikitext::{Article, Block, BlockKind, Link, Parser, ParserConfig, Section, Warning},
};
