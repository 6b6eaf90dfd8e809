//! Throughput of the nlp path on the English Wikipedia sample.
//!
//! Reports MB/s of wikitext for parsing alone and for parsing plus analysis
//! (sentences, tokens, stems, entities), the per-core work of a dump build.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nlp::{AnalyzeOptions, Analyzer, Language, Parser, ParserConfig, entities};

#[path = "../tests/common/mod.rs"]
mod common;

fn bench(c: &mut Criterion) {
    let xml = common::read_xml(common::ENWIKI);
    let pages: Vec<common::Page> = common::pages(&xml)
        .into_iter()
        .filter(|p| p.ns == 0 && !p.text.is_empty())
        .collect();
    let bytes: usize = pages.iter().map(|p| p.text.len()).sum();
    let parser = Parser::new(&ParserConfig::english());
    let analyzer = Analyzer::new(Language::English);

    let mut group = c.benchmark_group("enwiki-sample");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    group.bench_function("parse", |b| {
        b.iter(|| {
            for page in &pages {
                black_box(parser.parse(&page.title, &page.text));
            }
        })
    });
    group.bench_function("parse+analyze", |b| {
        b.iter(|| {
            for page in &pages {
                let (article, _) = parser.parse(&page.title, &page.text);
                black_box(analyzer.analyze(&article, AnalyzeOptions::ALL));
            }
        })
    });
    group.bench_function("parse+analyze+entities", |b| {
        b.iter(|| {
            for page in &pages {
                let (article, _) = parser.parse(&page.title, &page.text);
                black_box(analyzer.analyze(&article, AnalyzeOptions::ALL));
                black_box(entities(&article, &page.title));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
