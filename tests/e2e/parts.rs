//! `fraser build --part I/N` + `fraser merge` give the bytes of a single build.

use integration_tests::{ENWIKI, assert_same_tree, fraser, fraser_ok, make_multistream};

#[test]
fn merged_parts_equal_a_single_build() {
    let dir = tempfile::tempdir().unwrap();
    let dump = make_multistream(ENWIKI, dir.path(), 20);
    let dump = dump.to_str().unwrap();
    let single = dir.path().join("single");
    fraser_ok(&["-q", "build", dump, "--out", single.to_str().unwrap()]);
    let mut parts = Vec::new();
    for i in 1..=3 {
        let part = dir.path().join(format!("part-{i}.fpart"));
        fraser_ok(&[
            "-q",
            "build",
            dump,
            "--part",
            &format!("{i}/3"),
            "--out",
            part.to_str().unwrap(),
        ]);
        parts.push(part.to_str().unwrap().to_owned());
    }
    let merged = dir.path().join("merged");
    // Parts may be given in any order.
    let mut args = vec!["-q", "merge", "--out", merged.to_str().unwrap()];
    args.extend([parts[2].as_str(), parts[0].as_str(), parts[1].as_str()]);
    fraser_ok(&args);
    assert_same_tree(&single, &merged);

    // A missing part is refused.
    let incomplete = dir.path().join("incomplete");
    let error = fraser(&[
        "-q",
        "merge",
        "--out",
        incomplete.to_str().unwrap(),
        &parts[0],
        &parts[2],
    ])
    .expect_err("a missing part must be refused");
    assert!(error.contains("part"), "{error}");
    assert!(!incomplete.exists());
}
