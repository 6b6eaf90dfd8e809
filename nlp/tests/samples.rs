//! Runs the whole pipeline over every page of the bundled dump samples.

mod common;

use std::time::Duration;

use nlp::{AnalyzeOptions, Analyzer, Language, Parser, ParserConfig, Warning};

/// Markup that must never reach block text.
const LEFTOVERS: &[&str] = &[
    "[[", "]]", "{{", "}}", "'''", "<ref", "</ref", "&lt;", "&amp;", "__TOC__", "<!--",
];

fn leftovers(text: &str) -> Vec<&'static str> {
    LEFTOVERS
        .iter()
        .copied()
        .filter(|m| text.contains(m))
        .collect()
}

#[test]
fn enwiki_sample_parses_cleanly() {
    let xml = common::read_xml(common::ENWIKI);
    let pages = common::pages(&xml);
    assert_eq!(pages.len(), 206);
    let parser = Parser::new(&ParserConfig::english()).with_timeout(Duration::from_secs(20));
    let analyzer = Analyzer::new(Language::English);
    let mut n_blocks = 0;
    let mut bad = Vec::new();
    for page in &pages {
        let (article, warnings) = parser.parse(&page.title, &page.text);
        for warning in &warnings {
            assert!(
                !matches!(
                    warning,
                    Warning::Timeout { .. } | Warning::TooDeep { .. } | Warning::DepthLimit { .. }
                ),
                "{}: {warning:?}",
                page.title
            );
        }
        for block in article.blocks() {
            n_blocks += 1;
            let found = leftovers(&block.text);
            if !found.is_empty() {
                bad.push(format!("{}: {found:?} in {:?}", page.title, block.text));
            }
            for link in &block.links {
                assert!(
                    block
                        .text
                        .get(link.start as usize..link.end as usize)
                        .is_some_and(|a| !a.is_empty()),
                    "{}: bad link {link:?}",
                    page.title
                );
            }
            assert!(
                !block.text.is_empty() && block.text.trim() == block.text,
                "{}: untrimmed {:?}",
                page.title,
                block.text
            );
        }
        let analyzed = analyzer.analyze(&article, AnalyzeOptions::ALL);
        for section in &analyzed.sections {
            for sentence in &section.sentences {
                assert_eq!(sentence.tokens.len(), sentence.stems.len());
            }
        }
    }
    for line in &bad {
        println!("{line}");
    }
    println!("{} blocks, {} with leftover markup", n_blocks, bad.len());
    assert!(bad.is_empty(), "{} blocks with leftover markup", bad.len());
}

#[test]
fn elwikivoyage_sample_parses_cleanly() {
    let xml = common::read_xml(common::ELWIKIVOYAGE);
    let pages = common::pages(&xml);
    assert_eq!(pages.len(), 17);
    let namespaces = [
        (6, "Αρχείο"),
        (6, "Εικόνα"),
        (14, "Κατηγορία"),
        (10, "Πρότυπο"),
    ]
    .map(|(id, name)| (id, name.to_owned()));
    let parser = Parser::new(&ParserConfig::from_namespaces("el", &namespaces));
    let analyzer = Analyzer::new(Language::from_dbname("elwikivoyage"));
    let mut n_sentences = 0;
    for page in &pages {
        let (article, warnings) = parser.parse(&page.title, &page.text);
        assert!(
            !warnings
                .iter()
                .any(|w| matches!(w, Warning::Timeout { .. })),
            "{}",
            page.title
        );
        for block in article.blocks() {
            assert!(
                leftovers(&block.text).is_empty(),
                "{}: {:?}",
                page.title,
                block.text
            );
        }
        let analyzed = analyzer.analyze(&article, AnalyzeOptions::ALL);
        n_sentences += analyzed
            .sections
            .iter()
            .map(|s| s.sentences.len())
            .sum::<usize>();
    }
    assert!(n_sentences > 20, "{n_sentences} sentences");
}
