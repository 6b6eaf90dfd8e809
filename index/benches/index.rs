//! Reader latencies on a synthetic index built in a temporary directory.
//!
//! Targets (p50, 2-core machine): exact title <= 2 us, cached article <= 5 us,
//! uncached article from the OS page cache <= 100 us, linking a 20-word
//! message <= 50 us, `Index::open` <= 10 ms whether 1 or 1,000 shards;
//! full-text search for a rare stem, and for it with a common one.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use index::{
    ArticleInput, ArticleRecord, Index, IndexBuilder, LinkRecord, OpenOptions, SectionRecord,
    SentenceRecord,
};

const WORDS: [&str; 32] = [
    "river",
    "city",
    "mountain",
    "king",
    "queen",
    "battle",
    "church",
    "village",
    "university",
    "railway",
    "station",
    "island",
    "castle",
    "bridge",
    "harbour",
    "market",
    "forest",
    "valley",
    "empire",
    "republic",
    "museum",
    "theatre",
    "garden",
    "tower",
    "abbey",
    "canal",
    "lake",
    "province",
    "district",
    "coast",
    "desert",
    "festival",
];

/// The stems of a sentence as [`article`] makes them.
fn stem_sentence(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['.', ','], "")
        .split(' ')
        .map(str::to_string)
        .collect()
}

/// A record with its title key, stems, folded sentences and anchors.
type Synthetic = (
    ArticleRecord,
    String,
    Vec<Vec<String>>,
    Vec<String>,
    Vec<(String, String)>,
);

fn title(i: u64) -> String {
    let a = WORDS[(i % 32) as usize];
    let b = WORDS[((i / 32) % 32) as usize];
    format!("{a} {b} {i}")
}

fn article(i: u64, n: u64) -> Synthetic {
    let own = title(i);
    let mut sentences = Vec::new();
    let mut anchors = Vec::new();
    for s in 0..8u64 {
        let target = title((i * 31 + s * 17 + 1) % n);
        let filler: Vec<&str> = (0..12)
            .map(|w| WORDS[((i + s * 7 + w * 3) % 32) as usize])
            .collect();
        let text = format!(
            "The {own} has a {} near the {target} and {}.",
            filler[0],
            filler[1..].join(" ")
        );
        let start = text.find(&target).unwrap() as u32;
        anchors.push((target.clone(), target.clone()));
        sentences.push(SentenceRecord {
            links: vec![LinkRecord {
                start,
                end: start + target.len() as u32,
                target,
            }],
            kind: 0,
            text,
        });
    }
    let folded: Vec<String> = sentences
        .iter()
        .map(|s| s.text.to_lowercase().replace(['.', ','], ""))
        .collect();
    let stems = folded
        .iter()
        .map(|s| s.split(' ').map(str::to_string).collect())
        .collect();
    let record = ArticleRecord {
        id: i + 1,
        title: own.clone(),
        sections: vec![SectionRecord {
            heading: String::new(),
            level: 1,
            sentences,
        }],
        bold: vec![own.clone()],
        n_sentences: 8,
        n_links: 8,
    };
    (record, own, stems, folded, anchors)
}

fn build(path: &Path, n: u64, shard_size: u64, block_size: u64, term_block_size: u64) {
    let mut writer = IndexBuilder::new(path)
        .shard_size(shard_size)
        .block_size(block_size)
        .term_block_size(term_block_size)
        .start()
        .unwrap();
    for i in 0..n {
        let (record, key, stems, folded, anchors) = article(i, n);
        writer
            .add_article(ArticleInput {
                record: &record,
                title_key: &key,
                sentence_stems: &stems,
                folded_sentences: &folded,
                anchors: &anchors,
            })
            .unwrap();
    }
    writer.finish().unwrap();
}

fn benches(c: &mut Criterion) {
    const N: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench");
    build(&path, N, 4 << 20, 16 << 10, 4 << 10);

    let index = Index::open(&path).unwrap();
    let keys: Vec<String> = (0..1024).map(|i| title(i * 19 % N)).collect();
    let mut k = 0;
    c.bench_function("title_exact", |b| {
        b.iter(|| {
            k = (k + 1) % keys.len();
            black_box(index.title(&keys[k]).unwrap())
        })
    });

    index.article(77).unwrap();
    c.bench_function("article_cached", |b| {
        b.iter(|| black_box(index.article(77).unwrap()))
    });

    let uncached = Index::open_with(
        &path,
        OpenOptions {
            mmap: true,
            cache_capacity: 0,
        },
    )
    .unwrap();
    for id in 1..=N {
        // Warm the OS page cache and the lazily opened files.
        uncached.article(id).unwrap();
    }
    let mut id = 0;
    c.bench_function("article_uncached_page_cache", |b| {
        b.iter(|| {
            id = (id + 7919) % N;
            black_box(uncached.article(id + 1).unwrap())
        })
    });

    let big_blocks = dir.path().join("bench-64k");
    // Also 16 KiB term blocks (the earlier default), for the search below.
    build(&big_blocks, N, 4 << 20, 64 << 10, 16 << 10);
    let uncached_64k = Index::open_with(
        &big_blocks,
        OpenOptions {
            mmap: true,
            cache_capacity: 0,
        },
    )
    .unwrap();
    for id in 1..=N {
        uncached_64k.article(id).unwrap();
    }
    c.bench_function("article_uncached_page_cache_64k_blocks", |b| {
        b.iter(|| {
            id = (id + 7919) % N;
            black_box(uncached_64k.article(id + 1).unwrap())
        })
    });
    let pread = Index::open_with(
        &path,
        OpenOptions {
            mmap: false,
            cache_capacity: 0,
        },
    )
    .unwrap();
    c.bench_function("article_uncached_pread", |b| {
        b.iter(|| {
            id = (id + 7919) % N;
            black_box(pread.article(id + 1).unwrap())
        })
    });
    let sizes = |p: &Path| {
        Index::open(p)
            .unwrap()
            .manifest()
            .shards
            .iter()
            .map(|s| s.size)
            .sum::<u64>()
    };
    eprintln!(
        "shard bytes: 16 KiB blocks {}, 64 KiB blocks {}",
        sizes(&path),
        sizes(&big_blocks)
    );

    let message = format!(
        "yesterday we walked from the {} to the {} and took a boat along the coast",
        title(12),
        title(4000)
    );
    let tokens: Vec<&str> = message.split(' ').collect();
    assert_eq!(tokens.len(), 20);
    assert!(!index.link(&tokens).unwrap().is_empty());
    c.bench_function("link_20_words", |b| {
        b.iter(|| black_box(index.link(&tokens).unwrap()))
    });

    // A rare stem (a title number: its article and the few linking to it)
    // and the same with a stem found in most articles.
    let rare = vec!["4000".to_string()];
    assert!(!index.search(&rare, 10, stem_sentence).unwrap().is_empty());
    c.bench_function("search_rare_stem", |b| {
        b.iter(|| black_box(index.search(&rare, 10, stem_sentence).unwrap()))
    });
    let big_term_blocks = Index::open(&big_blocks).unwrap();
    assert!(
        !big_term_blocks
            .search(&rare, 10, stem_sentence)
            .unwrap()
            .is_empty()
    );
    c.bench_function("search_rare_stem_16k_term_blocks", |b| {
        b.iter(|| black_box(big_term_blocks.search(&rare, 10, stem_sentence).unwrap()))
    });
    let terms_bytes = |index: &Index| {
        index
            .manifest()
            .files
            .iter()
            .find(|f| f.name == "terms.lex")
            .map_or(0, |f| f.size)
    };
    eprintln!(
        "terms.lex bytes: 4 KiB blocks {}, 16 KiB blocks {}",
        terms_bytes(&index),
        terms_bytes(&big_term_blocks)
    );
    let mixed = vec!["4000".to_string(), "river".to_string()];
    c.bench_function("search_rare_and_common_stem", |b| {
        b.iter(|| black_box(index.search(&mixed, 10, stem_sentence).unwrap()))
    });

    let one = dir.path().join("one-shard");
    build(&one, 1000, 1 << 30, 16 << 10, 4 << 10);
    let many = dir.path().join("thousand-shards");
    build(&many, 1000, 1, 16 << 10, 4 << 10);
    assert_eq!(Index::open(&many).unwrap().manifest().shards.len(), 1000);
    c.bench_function("open_1_shard", |b| {
        b.iter(|| black_box(Index::open(&one).unwrap()))
    });
    c.bench_function("open_1000_shards", |b| {
        b.iter(|| black_box(Index::open(&many).unwrap()))
    });
}

criterion_group!(index_benches, benches);
criterion_main!(index_benches);
