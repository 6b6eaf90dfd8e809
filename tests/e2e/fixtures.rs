//! The committed fixtures under `data/fixtures/` are what the current code
//! produces; `scripts/regen-fixtures.sh` rewrites them after a deliberate change.

use integration_tests::{SIMPLEWIKI, assert_same_tree, data_path, fraser_ok};

#[test]
fn committed_fixtures_are_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let input = data_path(SIMPLEWIKI);
    let input = input.to_str().unwrap();
    let index = dir.path().join("simplewiki-index");
    fraser_ok(&["-q", "build", input, "--out", index.to_str().unwrap()]);
    let hint = "stale fixtures: run scripts/regen-fixtures.sh and commit data/fixtures";
    let committed = data_path("fixtures/simplewiki-index");
    assert!(committed.is_dir(), "{hint}");
    assert_same_tree(&committed, &index);
    for format in ["wikiextractor", "rich"] {
        let out = dir.path().join(format!("simplewiki.{format}.jsonl"));
        fraser_ok(&[
            "-q",
            "extract",
            input,
            "--format",
            format,
            "-o",
            out.to_str().unwrap(),
        ]);
        let expected = std::fs::read(data_path(&format!("fixtures/simplewiki.{format}.jsonl")))
            .unwrap_or_default();
        assert!(
            std::fs::read(&out).unwrap() == expected,
            "{hint} ({format})"
        );
    }
}
