//! Builds small indexes through the public API and queries them.

mod common;

use std::path::Path;

use common::{build, corpus, expected_inlinks, files, fold, id_of, siblings, stem_sentence, write};
use index::{Error, Index, IndexBuilder, OpenOptions, RandomFilter};

fn open_both(path: &Path) -> Vec<Index> {
    vec![
        Index::open(path).unwrap(),
        Index::open_with(
            path,
            OpenOptions {
                mmap: false,
                cache_capacity: 4,
            },
        )
        .unwrap(),
        Index::open_with(
            path,
            OpenOptions {
                mmap: true,
                cache_capacity: 0,
            },
        )
        .unwrap(),
    ]
}

fn check_all_lookups(index: &Index, n: usize) {
    let articles = corpus(n);
    let nyc = id_of(30);
    // Articles by id.
    for article in &articles {
        let got = index.article(article.record.id).unwrap().unwrap();
        assert_eq!(*got, article.record);
        assert_eq!(index.title(&article.key).unwrap(), Some(article.record.id));
    }
    assert_eq!(index.article(1).unwrap(), None);
    // Redirects: direct, chained, to a missing page, looping, shadowed by an article.
    assert_eq!(index.title("nyc").unwrap(), Some(nyc));
    assert_eq!(index.title("big apple").unwrap(), Some(nyc));
    assert_eq!(index.title("la").unwrap(), Some(id_of(32)));
    assert_eq!(index.title("ghost").unwrap(), None);
    assert_eq!(index.title("loop1").unwrap(), None);
    assert_eq!(index.title("paris").unwrap(), Some(id_of(0)));
    assert_eq!(index.title("atlantis").unwrap(), None);
    assert_eq!(
        index.redirects_to(nyc).unwrap(),
        vec!["Big Apple".to_string(), "NYC".to_string()]
    );
    assert_eq!(index.redirects_to(id_of(0)).unwrap(), Vec::<String>::new());
    // Prefix and fuzzy.
    let prefix = index.prefix("new", 10).unwrap();
    assert_eq!(
        prefix,
        vec![
            ("new york".to_string(), id_of(31)),
            ("new york city".to_string(), nyc)
        ]
    );
    assert_eq!(index.prefix("new", 1).unwrap().len(), 1);
    assert!(index.prefix("zzz", 10).unwrap().is_empty());
    let fuzzy = index.fuzzy("pariss", 1, 5).unwrap();
    assert_eq!(fuzzy[0], ("paris".to_string(), id_of(0), 1));
    let fuzzy = index.fuzzy("berni", 2, 10).unwrap();
    assert_eq!(fuzzy[0], ("bern".to_string(), id_of(18), 1));
    assert!(fuzzy.iter().any(|(k, _, d)| k == "berlin" && *d == 2));
    assert!(fuzzy.windows(2).all(|w| w[0].2 <= w[1].2));
    assert_eq!(
        index.fuzzy("oslo", 0, 5).unwrap(),
        vec![("oslo".to_string(), id_of(10), 0)]
    );
    assert!(matches!(
        index.fuzzy("oslo", 3, 5),
        Err(Error::InvalidInput { .. })
    ));
    // In-links.
    for (id, count) in expected_inlinks(&articles) {
        assert_eq!(index.inlinks(id).unwrap(), count, "in-links of {id}");
    }
    assert!(index.inlinks(nyc).unwrap() >= (n / 2) as u32);
    assert_eq!(index.inlinks(1).unwrap(), 0);
    // Random picks: deterministic, filtered.
    let any = RandomFilter::default();
    let pick = index.random(42, &any).unwrap().unwrap();
    assert_eq!(index.random(42, &any).unwrap(), Some(pick));
    let picks: std::collections::BTreeSet<u64> = (0..50)
        .map(|s| index.random(s, &any).unwrap().unwrap())
        .collect();
    assert!(picks.len() > 10);
    let popular = RandomFilter {
        min_sentences: 4,
        min_inlinks: 10,
        max_inlinks: None,
    };
    for seed in 0..20 {
        let id = index.random(seed, &popular).unwrap().unwrap();
        assert_eq!(id, nyc);
    }
    let impossible = RandomFilter {
        min_sentences: 0,
        min_inlinks: 5,
        max_inlinks: Some(4),
    };
    assert_eq!(index.random(1, &impossible).unwrap(), None);
    // Full-text search: AND over stems.
    let hits = index
        .search(&["trains".into(), "atlantis".into()], 100, stem_sentence)
        .unwrap();
    assert_eq!(hits.len(), n);
    assert!(hits.iter().all(|h| h.sentence == 1));
    let hits = index
        .search(&["river".into(), "3".into()], 100, stem_sentence)
        .unwrap();
    let expected: Vec<u64> = (0..n).filter(|i| i % 5 == 3).map(id_of).collect();
    let mut got: Vec<u64> = hits.iter().map(|h| h.id).collect();
    got.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(got, expected);
    assert!(hits.iter().all(|h| h.sentence == 2));
    assert!(
        index
            .search(&["trains".into(), "nowhere".into()], 10, stem_sentence)
            .unwrap()
            .is_empty()
    );
    assert!(index.search(&[], 10, stem_sentence).unwrap().is_empty());
    assert_eq!(
        index
            .search(&["trains".into()], 3, stem_sentence)
            .unwrap()
            .len(),
        3
    );
    // Aliases and entity linking.
    let candidates = index.aliases("the big apple").unwrap();
    assert_eq!(candidates.len(), 1);
    assert_eq!(candidates[0].id, nyc);
    assert_eq!(candidates[0].prior, 1.0);
    assert!(candidates[0].link_prob > 0.9, "{candidates:?}");
    let berlin = index.aliases("berlin").unwrap();
    assert_eq!(berlin[0].id, id_of(2));
    assert!(berlin[0].count >= 2);
    assert!(berlin[0].link_prob > 0.0 && berlin[0].link_prob <= 1.0);
    assert!(index.aliases("no such alias").unwrap().is_empty());
    let text = fold("Tomorrow I fly from New York City to Berlin and the big apple");
    let tokens: Vec<&str> = text.split(' ').collect();
    let mentions = index.link(&tokens).unwrap();
    let spans: Vec<(usize, usize, u64)> = mentions
        .iter()
        .map(|m| (m.start_token, m.end_token, m.candidates[0].id))
        .collect();
    assert_eq!(spans, vec![(4, 7, nyc), (8, 9, id_of(2)), (10, 13, nyc)]);
    // Manifest.
    let manifest = index.manifest();
    assert_eq!(manifest.counts.articles, n as u64);
    assert_eq!(manifest.counts.redirects, 3);
    assert_eq!(manifest.counts.redirects_dropped, 3);
    assert_eq!(manifest.counts.redirects_shadowed, 1);
    assert_eq!(manifest.metadata["dbname"], "testwiki");
    assert!(manifest.counts.aliases > n as u64);
    assert!(manifest.counts.terms > 10);
    let report = index.verify().unwrap();
    assert_eq!(
        report.files,
        manifest.shards.len() + manifest.files.len() + usize::from(manifest.dictionary.is_some())
    );
}

#[test]
fn build_and_query_through_mmap_and_pread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    let summary = build(&path, 40);
    assert_eq!(summary.counts.articles, 40);
    assert_eq!(summary.counts.shards, 1);
    assert!(summary.bytes > 0);
    for index in open_both(&path) {
        check_all_lookups(&index, 40);
    }
    assert_eq!(
        siblings(&path),
        vec![path.clone()],
        "no temporary directories left behind"
    );
}

#[test]
fn several_shards_open_lazily() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    let summary = write(
        IndexBuilder::new(&path).shard_size(600).block_size(256),
        &corpus(40),
    );
    assert!(
        summary.counts.shards >= 10,
        "{} shards",
        summary.counts.shards
    );
    for index in open_both(&path) {
        assert_eq!(index.stats().shards_open, 0);
        index.article(id_of(39)).unwrap().unwrap();
        assert_eq!(index.stats().shards_open, 1);
        check_all_lookups(&index, 40);
        assert_eq!(index.stats().shards_open as u64, summary.counts.shards);
    }
}

#[test]
fn article_cache_serves_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    build(&path, 40);
    let index = Index::open_with(
        &path,
        OpenOptions {
            mmap: true,
            cache_capacity: 8,
        },
    )
    .unwrap();
    for _ in 0..3 {
        for i in 0..4 {
            index.article(id_of(i)).unwrap().unwrap();
        }
    }
    let stats = index.stats();
    assert_eq!(
        (stats.cache_misses, stats.cache_hits, stats.cache_entries),
        (4, 8, 4)
    );
    for i in 0..40 {
        index.article(id_of(i)).unwrap().unwrap();
    }
    assert_eq!(index.stats().cache_entries, 8);
}

#[test]
fn builds_are_deterministic_whatever_the_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let c = dir.path().join("c");
    build(&a, 40);
    build(&b, 40);
    assert_eq!(files(&a), files(&b));
    let small = write(IndexBuilder::new(&c).memory_budget(2048), &corpus(40));
    assert!(small.spill_runs > 20, "{} runs spilled", small.spill_runs);
    assert_eq!(files(&a), files(&c));

    // A budget so small that every sorter spills more runs than one merge
    // reads (64), so the runs are merged in levels.
    let d = dir.path().join("d");
    let e = dir.path().join("e");
    build(&d, 400);
    let tiny = write(IndexBuilder::new(&e).memory_budget(600), &corpus(400));
    assert!(tiny.spill_runs > 1000, "{} runs spilled", tiny.spill_runs);
    assert_eq!(files(&d), files(&e));
    // Nor on the threads of the parallel passes.
    for threads in [1, 3] {
        let f = dir.path().join(format!("threads-{threads}"));
        write(IndexBuilder::new(&f).threads(threads), &corpus(400));
        assert_eq!(files(&d), files(&f));
    }
}

/// An alias with more candidates than are held at once: candidates below the
/// prior threshold are dropped while the alias is merged, with the same result
/// as filtering at the end.
#[test]
fn aliases_with_many_candidates() {
    use index::{ArticleRecord, LinkRecord, SectionRecord, SentenceRecord};
    let n = 1000usize;
    let title = |i: usize| format!("Topic {i}");
    // Articles 0..400 link four popular targets (100 links each), the other
    // 600 link themselves: 604 candidates for the anchor "common".
    let target = |i: usize| if i < 400 { i % 4 } else { i };
    let articles: Vec<common::Article> = (0..n)
        .map(|i| {
            let text = "A common link.".to_string();
            let record = ArticleRecord {
                id: 1 + i as u64,
                title: title(i),
                sections: vec![SectionRecord {
                    heading: String::new(),
                    level: 1,
                    sentences: vec![SentenceRecord {
                        text,
                        kind: 0,
                        links: vec![LinkRecord {
                            start: 2,
                            end: 8,
                            target: title(target(i)),
                        }],
                    }],
                }],
                bold: vec![],
                n_sentences: 1,
                n_links: 1,
            };
            common::Article {
                key: fold(&title(i)),
                record,
                stems: vec![],
                folded: vec![fold("A common link.")],
                anchors: vec![("common".into(), fold(&title(target(i))))],
            }
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let filtered = dir.path().join("filtered");
    write(IndexBuilder::new(&filtered).memory_budget(4096), &articles);
    let index = Index::open(&filtered).unwrap();
    let candidates = index.aliases("common").unwrap();
    let got: Vec<(u64, u64)> = candidates.iter().map(|c| (c.id, c.count)).collect();
    assert_eq!(got, vec![(1, 100), (2, 100), (3, 100), (4, 100)]);
    assert!(
        candidates
            .iter()
            .all(|c| c.prior == 0.1 && c.link_prob == 1.0)
    );

    let all = dir.path().join("all");
    write(IndexBuilder::new(&all).min_prior_prob(0.0), &articles);
    let candidates = Index::open(&all).unwrap().aliases("common").unwrap();
    assert_eq!(candidates.len(), 604);
    assert_eq!(candidates[4].count, 1);
    assert_eq!(candidates[4].id, 401);
}

#[test]
fn dictionary_is_used_when_it_helps_small_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    // The dictionary is decided after 300 KiB, while articles are still being added.
    let summary = write(
        IndexBuilder::new(&path)
            .block_size(1024)
            .shard_size(256 << 10)
            .dictionary_sample(300 << 10),
        &corpus(2500),
    );
    assert!(
        summary.dictionary,
        "the dictionary was not used on 1 KiB blocks"
    );
    let index = Index::open_with(
        &path,
        OpenOptions {
            mmap: false,
            cache_capacity: 0,
        },
    )
    .unwrap();
    let dictionary = index.manifest().dictionary.clone().unwrap();
    assert!(dictionary.saving_per_mille >= 30);
    for i in (0..2500).step_by(97) {
        assert_eq!(index.article(id_of(i)).unwrap().unwrap().id, id_of(i));
    }
    index.verify().unwrap();
    let plain = dir.path().join("plain");
    let plain_summary = write(
        IndexBuilder::new(&plain)
            .block_size(1024)
            .shard_size(256 << 10)
            .dictionary(false),
        &corpus(2500),
    );
    assert!(!plain_summary.dictionary);
    let shard_bytes = |p: &Path| {
        Index::open(p)
            .unwrap()
            .manifest()
            .shards
            .iter()
            .map(|s| s.size)
            .sum::<u64>()
    };
    assert!(shard_bytes(&path) < shard_bytes(&plain));
}

#[test]
fn empty_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idx");
    IndexBuilder::new(&path).start().unwrap().finish().unwrap();
    let index = Index::open(&path).unwrap();
    assert_eq!(index.manifest().counts.articles, 0);
    assert_eq!(index.article(1).unwrap(), None);
    assert_eq!(index.title("x").unwrap(), None);
    assert_eq!(index.random(1, &RandomFilter::default()).unwrap(), None);
    assert!(index.link(&["a", "b"]).unwrap().is_empty());
    index.verify().unwrap();
}

/// Folded sentences as a table of distinct words and, per sentence, indexes
/// into it: (words, word ends, sequence, sentence ends). Each sentence is
/// split at spaces into words, except that with `whole` a sentence's last
/// two words stay one word holding a space.
fn word_table(sentences: &[String], whole: bool) -> (String, Vec<u32>, Vec<u32>, Vec<u32>) {
    let mut table: std::collections::HashMap<String, u32> = Default::default();
    let (mut words, mut word_ends, mut sequence, mut sentence_ends) =
        (String::new(), Vec::new(), Vec::new(), Vec::new());
    for sentence in sentences {
        let mut parts: Vec<String> = sentence.split(' ').map(str::to_owned).collect();
        if whole && parts.len() >= 2 {
            let last = parts.pop().unwrap();
            let before = parts.pop().unwrap();
            parts.push(format!("{before} {last}"));
        }
        for part in parts {
            let index = *table.entry(part.clone()).or_insert_with(|| {
                words.push_str(&part);
                word_ends.push(words.len() as u32);
                word_ends.len() as u32 - 1
            });
            sequence.push(index);
        }
        sentence_ends.push(sequence.len() as u32);
    }
    (words, word_ends, sequence, sentence_ends)
}

#[test]
fn flat_articles_give_the_same_bytes() {
    use index::{
        AnchorPairs, EncodedRecord, FlatArticleInput, FoldedSentences, TermCounter, TermCounts,
    };
    let dir = tempfile::tempdir().unwrap();
    let articles = corpus(300);
    let nested = dir.path().join("nested");
    write(IndexBuilder::new(&nested), &articles);
    let flat = dir.path().join("flat");
    let mut writer = IndexBuilder::new(&flat)
        .metadata(serde_json::json!({"dbname": "testwiki", "date": "20260101", "lang": "en"}))
        .start()
        .unwrap();
    for (n, article) in articles.iter().enumerate() {
        let mut counter = TermCounter::new();
        for sentence in &article.stems {
            for stem in sentence {
                counter.add(stem);
            }
            counter.end_sentence();
        }
        let folded = word_table(&article.folded, n % 2 == 1);
        let mut anchor_text = String::new();
        let mut anchor_ends = Vec::new();
        for (anchor, target) in &article.anchors {
            for part in [anchor, target] {
                anchor_text.push_str(part);
                anchor_ends.push(anchor_text.len() as u32);
            }
        }
        writer
            .add_article_flat(FlatArticleInput {
                record: EncodedRecord::new(&article.record).unwrap(),
                title_key: &article.key,
                terms: counter.terms(),
                folded_sentences: FoldedSentences {
                    words: &folded.0,
                    word_ends: &folded.1,
                    sequence: &folded.2,
                    sentence_ends: &folded.3,
                },
                anchors: AnchorPairs {
                    text: &anchor_text,
                    ends: &anchor_ends,
                },
            })
            .unwrap();
        if n == articles.len() / 2 {
            for (from, to) in common::REDIRECTS {
                writer.add_redirect(from, &fold(from), to).unwrap();
            }
        }
    }
    writer.finish().unwrap();
    assert_eq!(files(&nested), files(&flat));

    // Bad offsets are refused and add nothing.
    let bad = dir.path().join("bad");
    let mut writer = IndexBuilder::new(&bad).start().unwrap();
    let record = &articles[0].record;
    let n = record.n_sentences as usize;
    let too_many = n as u32 + 1;
    for (text, ends, sentences) in [
        ("ab", &[1u32, 3][..], &[1u32, 1][..]),
        ("ab", &[2, 1][..], &[1, 1][..]),
        ("ab", &[1][..], &[1][..]),
        ("ab", &[1, 2][..], &[1][..]),
        ("ab", &[1, 2][..], &[0, 1][..]),
        ("ab", &[1, 2][..], &[1, too_many][..]),
    ] {
        let input = FlatArticleInput {
            record: EncodedRecord::new(record).unwrap(),
            title_key: "x",
            terms: TermCounts {
                text,
                ends,
                sentences,
            },
            folded_sentences: FoldedSentences::default(),
            anchors: AnchorPairs::default(),
        };
        assert!(writer.add_article_flat(input).is_err());
    }
    // Anchors: one without a target, ends out of order or past the text,
    // text after the last target.
    for (text, ends) in [
        ("ab", &[1u32][..]),
        ("ab", &[2, 1][..]),
        ("ab", &[1, 3][..]),
        ("abc", &[1, 2][..]),
        ("é", &[1, 2][..]),
    ] {
        let input = FlatArticleInput {
            record: EncodedRecord::new(record).unwrap(),
            title_key: "x",
            terms: TermCounts::default(),
            folded_sentences: FoldedSentences::default(),
            anchors: AnchorPairs { text, ends },
        };
        assert!(writer.add_article_flat(input).is_err(), "{text:?} {ends:?}");
    }
    // Right, they are taken (another article).
    let input = FlatArticleInput {
        record: EncodedRecord::new(&articles[1].record).unwrap(),
        title_key: "y",
        terms: TermCounts::default(),
        folded_sentences: FoldedSentences::default(),
        anchors: AnchorPairs {
            text: "ab",
            ends: &[1, 2],
        },
    };
    writer.add_article_flat(input).unwrap();
    // Folded sentences: a word index out of range, sentence ends out of
    // order or past the sequence, words after the last sentence, one
    // sentence too many.
    let one_each: Vec<u32> = (1..=n as u32).collect();
    let zeros = vec![0u32; n];
    let mut past = zeros.clone();
    past[n - 1] = 1;
    let mut backwards = one_each.clone();
    backwards.swap(0, n - 1);
    let mut too_far = one_each.clone();
    too_far[n - 1] = n as u32 + 1;
    let extra: Vec<u32> = (1..=n as u32 + 1).collect();
    let input = |sequence, sentence_ends| FlatArticleInput {
        record: EncodedRecord::new(record).unwrap(),
        title_key: "x",
        terms: TermCounts::default(),
        folded_sentences: FoldedSentences {
            words: "a",
            word_ends: &[1],
            sequence,
            sentence_ends,
        },
        anchors: AnchorPairs::default(),
    };
    for (sequence, sentence_ends) in [
        (&past[..], &one_each[..]),
        (&zeros[..], &backwards[..]),
        (&zeros[..], &too_far[..]),
        (&[0u32; 1][..], &zeros[..]),
        (&zeros[..], &extra[..]),
    ] {
        assert!(
            writer
                .add_article_flat(input(sequence, sentence_ends))
                .is_err()
        );
    }
    // The same shapes, right, are taken.
    writer.add_article_flat(input(&zeros, &one_each)).unwrap();
    assert_eq!(writer.finish().unwrap().counts.articles, 2);
}
