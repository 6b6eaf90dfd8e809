//! `fraser build`, `query` and `verify` on the real samples.

use integration_tests::{ENWIKI, assert_same_tree, data_path, fraser, fraser_ok};

fn build(sample: &str, out: &std::path::Path, threads: &str) {
    build_with(sample, out, &["-j", threads]);
}

fn build_with(sample: &str, out: &std::path::Path, options: &[&str]) {
    let input = data_path(sample);
    let mut args = vec![
        "-q",
        "build",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(options);
    fraser_ok(&args);
}

#[test]
fn enwiki_index_is_deterministic_queryable_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    build(ENWIKI, &one, "1");
    build(ENWIKI, &two, "2");
    assert_same_tree(&one, &two);
    // A memory setting so small that every sorted run spills, many times over.
    let tiny = dir.path().join("tiny");
    build_with(ENWIKI, &tiny, &["-j", "2", "--memory", "16KiB"]);
    assert_same_tree(&one, &tiny);

    let idx = index::Index::open(&one).unwrap();
    assert_eq!(idx.manifest().counts.articles, 106);
    let lincoln = idx
        .title(&nlp::fold("abraham_LINCOLN"))
        .unwrap()
        .expect("found");
    let article = idx.article(lincoln).unwrap().unwrap();
    assert_eq!(article.title, "Abraham Lincoln");
    assert!(article.n_sentences > 100);
    // Redirects are followed.
    let redirected = idx.title(&nlp::fold("AccessibleComputing")).unwrap();
    if let Some(id) = redirected {
        assert!(idx.article(id).unwrap().is_some());
    }
    // Fuzzy and prefix.
    let fuzzy = idx.fuzzy(&nlp::fold("Abrahm Lincon"), 2, 5).unwrap();
    assert!(fuzzy.iter().any(|(_, id, _)| *id == lincoln));
    let prefix = idx.prefix("abra", 5).unwrap();
    assert!(prefix.iter().any(|(_, id)| *id == lincoln));
    // Full-text search over stems.
    let stemmer = nlp::Stemmer::new(nlp::Language::from_code("en"));
    let stem_all = |text: &str| -> Vec<String> {
        nlp::tokenize(text)
            .iter()
            .map(|t| stemmer.stem(&t.text).into_owned())
            .collect()
    };
    let hits = idx.search(&["assassin".to_owned()], 5, stem_all).unwrap();
    assert!(!hits.is_empty());
    // Each hit's sentence holds the stem.
    for hit in &hits {
        let article = idx.article(hit.id).unwrap().unwrap();
        let sentence = article.sentence(hit.sentence).unwrap();
        assert!(stem_all(&sentence.text).iter().any(|s| s == "assassin"));
    }

    let path = one.to_str().unwrap();
    fraser_ok(&["verify", path]);
    assert_eq!(
        fraser(&["query", path, "title", "No Such Article Anywhere"]).unwrap(),
        std::process::ExitCode::from(1)
    );
}

#[test]
fn damaged_index_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("idx");
    build(integration_tests::SIMPLEWIKI, &out, "2");
    let shard = out.join("shard-00000.fsh");
    let mut bytes = std::fs::read(&shard).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&shard, bytes).unwrap();
    let error = fraser(&["verify", out.to_str().unwrap()]).expect_err("damage must be found");
    assert!(error.contains("shard-00000.fsh"), "{error}");
}

#[test]
fn failed_build_leaves_the_previous_index() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("idx");
    build(integration_tests::SIMPLEWIKI, &out, "2");
    let before = integration_tests::read_tree(&out);
    let bytes = std::fs::read(data_path(ENWIKI)).unwrap();
    let broken = dir.path().join("broken.xml.bz2");
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();
    let result = fraser(&[
        "-q",
        "build",
        broken.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(result.is_err());
    assert_eq!(
        integration_tests::read_tree(&out),
        before,
        "old index kept intact"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "only the old index and the input remain: {leftovers:?}"
    );
}
