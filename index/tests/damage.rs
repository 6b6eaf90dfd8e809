//! Damaged, truncated, foreign and unfinished index directories give errors
//! that name the file, never panics or wrong data.

mod common;

use std::path::Path;

use common::{build, corpus, fold, id_of, siblings, write};
use index::{ArticleInput, Error, Index, IndexBuilder, OpenOptions, RandomFilter};

/// Everything a reader can be asked, as comparable text; `Err` where a query failed.
fn answers(index: &Index, n: usize) -> Vec<Result<String, String>> {
    let mut out = Vec::new();
    let mut push = |r: Result<String, Error>| out.push(r.map_err(|e| e.to_string()));
    for article in corpus(n) {
        let id = article.record.id;
        push(index.article(id).map(|a| format!("{a:?}")));
        push(index.title(&article.key).map(|a| format!("{a:?}")));
        push(index.redirects_to(id).map(|a| format!("{a:?}")));
        push(index.inlinks(id).map(|a| format!("{a:?}")));
        push(index.aliases(&article.key).map(|a| format!("{a:?}")));
        push(
            index
                .search(&article.stems[2][..4], 5, common::stem_sentence)
                .map(|a| format!("{a:?}")),
        );
    }
    for key in ["nyc", "big apple", "ghost"] {
        push(index.title(key).map(|a| format!("{a:?}")));
    }
    push(index.prefix("b", 10).map(|a| format!("{a:?}")));
    push(index.fuzzy("pariss", 2, 10).map(|a| format!("{a:?}")));
    push(
        index
            .random(7, &RandomFilter::default())
            .map(|a| format!("{a:?}")),
    );
    let text = fold("from New York City to Berlin and the big apple");
    let tokens: Vec<&str> = text.split(' ').collect();
    push(index.link(&tokens).map(|a| format!("{a:?}")));
    out
}

fn error_names(error: &Error, name: &str) -> bool {
    error.path().is_some_and(|p| p.ends_with(name)) && error.to_string().contains(name)
}

#[test]
fn a_flipped_byte_in_any_file_is_an_error_never_wrong_data() {
    let dir = tempfile::tempdir().unwrap();
    let good_path = dir.path().join("good");
    // Several shards and a dictionary, so that every file kind is present.
    write(
        IndexBuilder::new(&good_path)
            .block_size(1024)
            .term_block_size(512)
            .shard_size(128 << 10),
        &corpus(1200),
    );
    let good = Index::open(&good_path).unwrap();
    assert!(good.manifest().dictionary.is_some());
    let expected = answers(&good, 24);
    assert!(expected.iter().all(|a| a.is_ok()));
    let mut names: Vec<String> = good
        .manifest()
        .files
        .iter()
        .map(|f| f.name.clone())
        .collect();
    names.push(good.manifest().shards[0].name.clone());
    names.push(
        good.manifest()
            .dictionary
            .as_ref()
            .unwrap()
            .file
            .name
            .clone(),
    );
    assert_eq!(names.len(), 9);

    for name in &names {
        let bytes = std::fs::read(good_path.join(name)).unwrap();
        let len = bytes.len();
        let positions = [
            0,
            9,
            13,
            len / 3,
            len / 2,
            len * 2 / 3,
            len - 30,
            len - 9,
            len - 5,
            len - 1,
        ];
        let mut noticed = 0;
        for position in positions {
            let bad_path = dir.path().join("bad");
            let _ = std::fs::remove_dir_all(&bad_path);
            std::fs::create_dir(&bad_path).unwrap();
            for entry in std::fs::read_dir(&good_path).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), bad_path.join(entry.file_name())).unwrap();
            }
            let mut bad = bytes.clone();
            bad[position] ^= 0x20;
            std::fs::write(bad_path.join(name), &bad).unwrap();

            for mmap in [true, false] {
                let index = Index::open_with(
                    &bad_path,
                    OpenOptions {
                        mmap,
                        cache_capacity: 0,
                    },
                )
                .unwrap();
                let got = answers(&index, 24);
                for (got, want) in got.iter().zip(&expected) {
                    if let Ok(got) = got {
                        assert_eq!(
                            Ok(got),
                            want.as_ref(),
                            "{name} byte {position}: wrong answer"
                        );
                    }
                }
                if got.iter().any(|a| a.is_err()) {
                    noticed += 1;
                }
                let error = index.verify().unwrap_err();
                assert!(error_names(&error, name), "{name} byte {position}: {error}");
            }
        }
        assert!(noticed > 0, "no query noticed damage to {name}");
    }
}

#[test]
fn truncated_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    build(&path, 40);
    for name in ["shard-00000.fsh", "titles.fst", "ids.tbl", "terms.lex"] {
        let file = path.join(name);
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() - 10]).unwrap();
        let index = Index::open(&path).unwrap();
        let error = match name {
            "shard-00000.fsh" | "ids.tbl" => index.article(id_of(3)).unwrap_err(),
            "titles.fst" => index.title("paris").unwrap_err(),
            _ => index
                .search(&["trains".into()], 3, common::stem_sentence)
                .unwrap_err(),
        };
        assert!(matches!(error, Error::Corrupt { .. }), "{error}");
        assert!(error_names(&error, name), "{error}");
        assert!(error_names(&index.verify().unwrap_err(), name));
        std::fs::write(&file, &bytes).unwrap();
    }
    Index::open(&path).unwrap().verify().unwrap();
}

#[test]
fn unknown_versions_are_rejected_with_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    build(&path, 40);
    let file = path.join("titles.fst");
    let good = std::fs::read(&file).unwrap();
    let mut bad = good.clone();
    bad[8..12].copy_from_slice(&7u32.to_le_bytes());
    std::fs::write(&file, &bad).unwrap();
    match Index::open(&path).unwrap().title("paris").unwrap_err() {
        Error::FormatVersion {
            path,
            expected,
            found,
        } => {
            assert!(path.ends_with("titles.fst"));
            // Each file kind has its own layout version; titles.fst is at 1.
            assert_eq!((expected, found), (1, 7));
        }
        other => panic!("{other}"),
    }
    std::fs::write(&file, &good).unwrap();

    let manifest = path.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replacen(
            &format!("\"format_version\": {}", index::FORMAT_VERSION),
            "\"format_version\": 99",
            1,
        ),
    )
    .unwrap();
    match Index::open(&path).unwrap_err() {
        Error::FormatVersion {
            path,
            expected,
            found,
        } => {
            assert!(path.ends_with("manifest.json"));
            assert_eq!((expected, found), (index::FORMAT_VERSION, 99));
        }
        other => panic!("{other}"),
    }
    std::fs::write(&manifest, "{ not json").unwrap();
    assert!(matches!(
        Index::open(&path).unwrap_err(),
        Error::Corrupt { .. }
    ));
}

#[test]
fn a_missing_manifest_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    build(&path, 10);
    std::fs::remove_file(path.join("manifest.json")).unwrap();
    let error = Index::open(&path).unwrap_err();
    assert!(matches!(error, Error::Io { .. }));
    assert!(error.to_string().contains("manifest.json"), "{error}");
    assert!(Index::open(dir.path().join("nowhere")).is_err());
}

#[test]
fn an_unfinished_build_leaves_nothing_that_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    let articles = corpus(20);
    let mut writer = IndexBuilder::new(&path).shard_size(500).start().unwrap();
    for article in &articles[..10] {
        writer
            .add_article(ArticleInput {
                record: &article.record,
                title_key: &article.key,
                sentence_stems: &article.stems,
                folded_sentences: &[],
                anchors: &article.anchors,
            })
            .unwrap();
    }
    assert!(writer.build_dir().exists());
    // An error mid-way: stems for the wrong number of sentences.
    let article = &articles[10];
    let error = writer
        .add_article(ArticleInput {
            record: &article.record,
            title_key: &article.key,
            sentence_stems: &article.stems[..1],
            folded_sentences: &[],
            anchors: &[],
        })
        .unwrap_err();
    assert!(matches!(error, Error::InvalidInput { .. }));
    drop(writer);
    assert!(Index::open(&path).is_err());
    assert!(siblings(&path).is_empty(), "{:?}", siblings(&path));
}

#[test]
fn rebuilding_replaces_an_index_only_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    build(&path, 10);
    let articles = corpus(40);

    let mut writer = IndexBuilder::new(&path).start().unwrap();
    for article in &articles {
        writer
            .add_article(ArticleInput {
                record: &article.record,
                title_key: &article.key,
                sentence_stems: &[],
                folded_sentences: &[],
                anchors: &[],
            })
            .unwrap();
    }
    drop(writer);
    let index = Index::open(&path).unwrap();
    assert_eq!(index.manifest().counts.articles, 10);
    assert_eq!(index.title(&fold("Phoenix")).unwrap(), None);
    drop(index);

    build(&path, 40);
    let index = Index::open(&path).unwrap();
    assert_eq!(index.manifest().counts.articles, 40);
    assert_eq!(index.title(&fold("Phoenix")).unwrap(), Some(id_of(39)));
    index.verify().unwrap();
    assert_eq!(siblings(&path), vec![path.clone()]);
}

#[test]
fn index_is_send_and_sync_and_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Index>();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    write(IndexBuilder::new(&path).shard_size(600), &corpus(40));
    let index = std::sync::Arc::new(
        Index::open_with(
            &path,
            OpenOptions {
                mmap: true,
                cache_capacity: 5,
            },
        )
        .unwrap(),
    );
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let index = index.clone();
            std::thread::spawn(move || {
                for round in 0..50 {
                    let i = (t * 13 + round * 7) % 40;
                    assert_eq!(index.article(id_of(i)).unwrap().unwrap().id, id_of(i));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let _ = Path::new(".");
}

#[test]
fn a_reader_that_opened_all_files_survives_a_rebuild_over_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    build(&path, 10);
    let old = Index::open(&path).unwrap();
    old.open_all().unwrap();
    let lazy = Index::open(&path).unwrap();

    build(&path, 40);
    // The old reader answers from the files it opened, which the rebuild unlinked.
    assert_eq!(old.title(&fold("Phoenix")).unwrap(), None);
    let id = old.title(&fold("Paris")).unwrap().unwrap();
    assert_eq!(old.article(id).unwrap().unwrap().title, "Paris");
    old.redirects_to(id).unwrap();
    assert!(old.random(7, &RandomFilter::default()).unwrap().is_some());
    // A reader that opened nothing reaches the new files and sees they are not its own.
    assert!(lazy.article(id).is_err());
    let new = Index::open(&path).unwrap();
    new.open_all().unwrap();
    assert_eq!(new.title(&fold("Phoenix")).unwrap(), Some(id_of(39)));
}

#[test]
fn open_all_names_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    build(&path, 10);
    std::fs::remove_file(path.join("inlinks.tbl")).unwrap();
    let index = Index::open(&path).unwrap();
    let error = index.open_all().unwrap_err();
    assert!(error.to_string().contains("inlinks.tbl"), "{error}");
}
