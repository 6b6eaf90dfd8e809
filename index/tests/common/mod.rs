//! A small synthetic corpus with links, redirects (a chain, a loop, a missing
//! target, one shadowed by an article) and the expected in-link counts.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use index::{
    ArticleInput, ArticleRecord, BuildSummary, IndexBuilder, LinkRecord, SectionRecord,
    SentenceRecord,
};

pub const CITIES: [&str; 40] = [
    "Paris",
    "London",
    "Berlin",
    "Rome",
    "Madrid",
    "Vienna",
    "Prague",
    "Warsaw",
    "Lisbon",
    "Dublin",
    "Oslo",
    "Helsinki",
    "Athens",
    "Budapest",
    "Brussels",
    "Amsterdam",
    "Copenhagen",
    "Stockholm",
    "Bern",
    "Riga",
    "Tallinn",
    "Vilnius",
    "Sofia",
    "Bucharest",
    "Zagreb",
    "Ljubljana",
    "Belgrade",
    "Sarajevo",
    "Skopje",
    "Tirana",
    "New York City",
    "New York",
    "Los Angeles",
    "San Francisco",
    "Chicago",
    "Boston",
    "Seattle",
    "Denver",
    "Houston",
    "Phoenix",
];

pub const REDIRECTS: [(&str, &str); 7] = [
    ("NYC", "new york city"),
    ("Big Apple", "nyc"),
    ("LA", "los angeles"),
    ("Ghost", "atlantis"),
    ("Paris", "london"),
    ("Loop1", "loop2"),
    ("Loop2", "loop1"),
];

/// The stems of a sentence as the corpus makes them (for `Index::search`).
pub fn stem_sentence(text: &str) -> Vec<String> {
    fold(text).split(' ').map(str::to_string).collect()
}

pub fn fold(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn id_of(i: usize) -> u64 {
    // Ids are not added in id order, to exercise the sorted id table.
    100_000 - (i as u64) * 7
}

pub struct Article {
    pub record: ArticleRecord,
    pub key: String,
    pub stems: Vec<Vec<String>>,
    pub folded: Vec<String>,
    pub anchors: Vec<(String, String)>,
}

/// Article `i` links to `i+1` and `i+7` (by title), to "Atlantis" (missing),
/// and the even ones to "NYC" through the anchor "the big apple".
pub fn article(i: usize, n: usize) -> Article {
    let title = CITIES[i % CITIES.len()].to_string();
    let title = if i < CITIES.len() {
        title
    } else {
        format!("{title} {i}")
    };
    let next = CITIES[(i + 1) % n.min(CITIES.len())];
    let far = CITIES[(i + 7) % n.min(CITIES.len())];
    let mut sentences = vec![
        (
            format!("{title} is a capital city near {next}."),
            vec![(next.to_string(), next.to_string())],
        ),
        (
            format!("Trains run from {title} to {far} and to Atlantis."),
            vec![
                (far.to_string(), far.to_string()),
                ("Atlantis".to_string(), "Atlantis".to_string()),
            ],
        ),
        (
            format!("Sentence number {i} mentions river {} only.", i % 5),
            vec![],
        ),
    ];
    if i.is_multiple_of(2) {
        sentences.push((
            "Visitors also like the big apple.".to_string(),
            vec![("the big apple".to_string(), "NYC".to_string())],
        ));
    }
    let mut anchors = Vec::new();
    let mut n_links = 0;
    let sentence_records: Vec<SentenceRecord> = sentences
        .iter()
        .map(|(text, links)| SentenceRecord {
            text: text.clone(),
            kind: 0,
            links: links
                .iter()
                .map(|(anchor, target)| {
                    n_links += 1;
                    anchors.push((fold(anchor), fold(target)));
                    let start = text.find(anchor.as_str()).unwrap_or(0) as u32;
                    LinkRecord {
                        start,
                        end: start + anchor.len() as u32,
                        target: target.clone(),
                    }
                })
                .collect(),
        })
        .collect();
    let stems = sentences
        .iter()
        .map(|(text, _)| fold(text).split(' ').map(str::to_string).collect())
        .collect();
    let folded = sentences.iter().map(|(text, _)| fold(text)).collect();
    let record = ArticleRecord {
        id: id_of(i),
        title: title.clone(),
        sections: vec![
            SectionRecord {
                heading: String::new(),
                level: 1,
                sentences: sentence_records[..2].to_vec(),
            },
            SectionRecord {
                heading: "More".into(),
                level: 2,
                sentences: sentence_records[2..].to_vec(),
            },
        ],
        bold: vec![title.clone()],
        n_sentences: sentences.len() as u32,
        n_links,
    };
    Article {
        key: fold(&title),
        record,
        stems,
        folded,
        anchors,
    }
}

pub fn corpus(n: usize) -> Vec<Article> {
    (0..n).map(|i| article(i, n)).collect()
}

pub fn write(builder: IndexBuilder, articles: &[Article]) -> BuildSummary {
    let mut writer = builder
        .metadata(serde_json::json!({"dbname": "testwiki", "date": "20260101", "lang": "en"}))
        .start()
        .unwrap();
    for (n, article) in articles.iter().enumerate() {
        writer
            .add_article(ArticleInput {
                record: &article.record,
                title_key: &article.key,
                sentence_stems: &article.stems,
                folded_sentences: &article.folded,
                anchors: &article.anchors,
            })
            .unwrap();
        if n == articles.len() / 2 {
            for (from, to) in REDIRECTS {
                writer.add_redirect(from, &fold(from), to).unwrap();
            }
        }
    }
    writer.finish().unwrap()
}

pub fn build(path: &Path, n: usize) -> BuildSummary {
    write(IndexBuilder::new(path), &corpus(n))
}

/// Expected in-links: distinct source articles per resolved target.
pub fn expected_inlinks(articles: &[Article]) -> BTreeMap<u64, u32> {
    let by_key: BTreeMap<String, u64> = articles
        .iter()
        .rev()
        .map(|a| (a.key.clone(), a.record.id))
        .collect();
    let mut sources: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for article in articles {
        for (_, target) in &article.anchors {
            let target = if target == "nyc" {
                "new york city"
            } else {
                target.as_str()
            };
            if let Some(&id) = by_key.get(target) {
                sources.entry(id).or_default().insert(article.record.id);
            }
        }
    }
    articles
        .iter()
        .map(|a| {
            (
                a.record.id,
                sources.get(&a.record.id).map_or(0, |s| s.len() as u32),
            )
        })
        .collect()
}

/// Every file of a directory with its bytes, sorted by name.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

pub fn siblings(path: &Path) -> Vec<PathBuf> {
    let parent = path.parent().unwrap();
    let mut out: Vec<PathBuf> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}
