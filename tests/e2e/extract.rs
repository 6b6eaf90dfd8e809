//! `fraser extract` on the real samples.

use integration_tests::{ELWIKIVOYAGE, ENWIKI, SIMPLEWIKI, data_path, fraser, fraser_ok};

fn extract(sample: &str, extra: &[&str], out: &std::path::Path) -> String {
    let input = data_path(sample);
    let mut args = vec![
        "-q",
        "extract",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    fraser_ok(&args);
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn wikiextractor_format_has_wikiextractor_keys_and_skips_redirects() {
    let dir = tempfile::tempdir().unwrap();
    let text = extract(ENWIKI, &[], &dir.path().join("out.jsonl"));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 106, "206 pages less 100 redirects");
    let first = &lines[0];
    // WikiExtractor's keys, in its order.
    let raw = text.lines().next().unwrap();
    let positions: Vec<usize> = [
        "\"id\":",
        "\"revid\":",
        "\"url\":",
        "\"title\":",
        "\"text\":",
    ]
    .iter()
    .map(|key| raw.find(key).unwrap_or_else(|| panic!("missing {key}")))
    .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "key order: {positions:?}"
    );
    assert_eq!(first.as_object().unwrap().len(), 5);
    assert_eq!(first["id"], "12");
    assert_eq!(first["title"], "Anarchism");
    assert_eq!(first["url"], "https://en.wikipedia.org/wiki?curid=12");
    let body = first["text"].as_str().unwrap();
    assert!(
        body.contains("Anarchism is a political philosophy"),
        "{}",
        &body[..200]
    );
    for line in &lines {
        let body = line["text"].as_str().unwrap();
        for markup in ["[[", "]]", "{{", "}}", "'''", "<ref"] {
            assert!(!body.contains(markup), "{} has {markup}", line["title"]);
        }
    }
}

#[test]
fn output_does_not_depend_on_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["wikiextractor", "rich"] {
        let one = extract(
            SIMPLEWIKI,
            &["--format", format, "-j", "1"],
            &dir.path().join("1.jsonl"),
        );
        let three = extract(
            SIMPLEWIKI,
            &["--format", format, "-j", "3"],
            &dir.path().join("3.jsonl"),
        );
        assert_eq!(
            one, three,
            "{format} output differs between 1 and 3 threads"
        );
        assert!(!one.is_empty());
    }
}

#[test]
fn rich_format_has_sentences_tokens_stems_and_entities() {
    let dir = tempfile::tempdir().unwrap();
    let text = extract(
        SIMPLEWIKI,
        &["--format", "rich"],
        &dir.path().join("rich.jsonl"),
    );
    let april: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(april["title"], "April");
    let sentence = &april["sections"][0]["sentences"][0];
    assert!(sentence["text"].as_str().unwrap().starts_with("April"));
    assert!(!sentence["tokens"].as_array().unwrap().is_empty());
    assert_eq!(sentence["tokens"][0], "april");
    assert!(!april["entities"].as_array().unwrap().is_empty());
}

#[test]
fn greek_multistream_is_read_with_greek_rules() {
    let dir = tempfile::tempdir().unwrap();
    let text = extract(
        ELWIKIVOYAGE,
        &["--format", "rich"],
        &dir.path().join("el.jsonl"),
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 16);
    // The URL base comes from the dump's own siteinfo.
    assert_eq!(
        lines[0]["url"],
        "http://localhost/elwv/index.php?curid=2566"
    );
    assert_eq!(lines[0]["title"], "Ζηλανδία (επαρχία)");
}

#[test]
fn corrupt_dump_fails_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data_path(ENWIKI)).unwrap();
    let truncated = dir.path().join("truncated.xml.bz2");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let out = dir.path().join("out.jsonl");
    let error = fraser(&[
        "-q",
        "extract",
        truncated.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ])
    .expect_err("a truncated dump must fail");
    assert!(error.contains("truncated.xml.bz2"), "{error}");
    assert!(error.contains("offset"), "{error}");
    assert!(!out.exists(), "no output file after a failure");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
}
