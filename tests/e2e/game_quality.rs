//! The game quality check (`game::check_quality`) over the real index of the
//! English sample: the same targets as over the in-memory corpus, now with
//! the names, redirects and lookups the index gives.

use std::sync::Arc;

use integration_tests::{ENWIKI, build_sample_index};

#[test]
fn quality_over_many_seeded_rounds_over_the_enwiki_index() {
    let dir = tempfile::tempdir().unwrap();
    let index_dir = build_sample_index(ENWIKI, dir.path());
    let index = Arc::new(index::Index::open(&index_dir).unwrap());
    let corpus = Arc::new(server::IndexCorpus::new(index));
    // The index's own settings, with the levels of the in-memory check: the
    // sample's articles have 0 to 8 in-links, so easy is 1+ and hard is 0
    // (the index scales easy to 1+ but leaves hard open).
    let settings = game::Settings {
        easy: game::InlinkRange { min: 1, max: None },
        hard: game::InlinkRange {
            min: 0,
            max: Some(0),
        },
        min_sentences: 15,
        ..corpus.settings()
    };
    let games = game::Games::new(corpus.clone(), settings);
    // 4 combinations (guess/blank, easy/hard) x 260 seeds = 1,040 rounds.
    let report = game::check_quality(&games, corpus.as_ref(), 260);
    println!("{report}");
    assert!(
        report.violations.is_empty(),
        "{report}\n{}",
        report.violations.join("\n")
    );
    assert!(report.rounds >= 1000, "{report:?}");
    assert!(report.guess_rounds >= 500 && report.blank_rounds >= 500);
    assert!(report.hints_checked > 0 && report.accepted_forms > report.rounds);
    assert!(report.articles >= 60, "only {} articles", report.articles);
}
