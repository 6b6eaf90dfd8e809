//! `fraser query` and `fraser verify`: lookups in an index directory.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

use crate::args::{Query, QueryArgs, VerifyArgs};
use crate::cmd::build::phrase_key;

/// Sentences of an article printed by `query title` without `--full`.
const PREVIEW_SENTENCES: usize = 3;

/// Runs `fraser query`: prints JSON, exit code 1 when nothing is found.
pub fn run(args: &QueryArgs) -> anyhow::Result<ExitCode> {
    let options = index::OpenOptions {
        mmap: !args.no_mmap,
        ..Default::default()
    };
    let idx = index::Index::open_with(&args.dir, options)
        .with_context(|| format!("failed to open the index {}", args.dir.display()))?;
    let result = query(&idx, &args.query)?;
    let found = match &result {
        Value::Null => false,
        Value::Array(items) => !items.is_empty(),
        _ => true,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    serde_json::to_writer_pretty(&mut out, &result)?;
    out.write_all(b"\n")?;
    Ok(if found {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn query(idx: &index::Index, query: &Query) -> anyhow::Result<Value> {
    Ok(match query {
        Query::Title { text, full } => match idx.title(&nlp::fold(text))? {
            Some(id) => article_json(idx, id, *full)?,
            None => Value::Null,
        },
        Query::Fuzzy {
            text,
            distance,
            limit,
        } => {
            let hits = idx.fuzzy(&nlp::fold(text), (*distance).min(2), *limit)?;
            Value::Array(
                hits.into_iter()
                    .map(|(key, id, distance)| json!({"key": key, "id": id, "distance": distance, "title": title_of(idx, id)}))
                    .collect(),
            )
        }
        Query::Prefix { text, limit } => {
            let hits = idx.prefix(&nlp::fold(text), *limit)?;
            Value::Array(
                hits.into_iter()
                    .map(|(key, id)| json!({"key": key, "id": id, "title": title_of(idx, id)}))
                    .collect(),
            )
        }
        Query::Search { text, limit } => {
            let lang = idx.manifest().metadata["source"]["lang"]
                .as_str()
                .unwrap_or("en");
            let stemmer = nlp::Stemmer::new(nlp::Language::from_code(lang));
            let stem_all = |text: &str| -> Vec<String> {
                nlp::tokenize(text)
                    .iter()
                    .map(|t| stemmer.stem(&t.text).into_owned())
                    .collect()
            };
            let stems = stem_all(text);
            let hits = idx.search(&stems, *limit, stem_all)?;
            let mut items = Vec::new();
            for hit in hits {
                let article = idx.article(hit.id)?;
                let sentence = article
                    .as_ref()
                    .and_then(|a| a.sentence(hit.sentence))
                    .map(|s| s.text.clone());
                items.push(json!({
                    "id": hit.id,
                    "title": article.as_ref().map(|a| a.title.clone()),
                    "sentence": hit.sentence,
                    "score": hit.score,
                    "text": sentence,
                }));
            }
            Value::Array(items)
        }
        Query::Link { text } => {
            let tokens: Vec<String> = nlp::tokenize(text)
                .into_iter()
                .map(|t| phrase_key(&t.text))
                .collect();
            let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
            let mentions = idx.link(&refs)?;
            Value::Array(
                mentions
                    .into_iter()
                    .map(|m| {
                        let candidates: Vec<Value> = m
                            .candidates
                            .iter()
                            .map(|c| json!({"id": c.id, "title": title_of(idx, c.id), "count": c.count, "prior": c.prior, "link_prob": c.link_prob}))
                            .collect();
                        json!({
                            "mention": tokens[m.start_token..m.end_token].join(" "),
                            "start_token": m.start_token,
                            "end_token": m.end_token,
                            "link_prob": m.link_prob,
                            "candidates": candidates,
                        })
                    })
                    .collect(),
            )
        }
        Query::Random {
            seed,
            min_sentences,
            min_inlinks,
        } => {
            let filter = index::RandomFilter {
                min_sentences: *min_sentences,
                min_inlinks: *min_inlinks,
                max_inlinks: None,
            };
            match idx.random(*seed, &filter)? {
                Some(id) => article_json(idx, id, false)?,
                None => Value::Null,
            }
        }
        Query::Stats => {
            let manifest = idx.manifest();
            json!({
                "format_version": manifest.format_version,
                "metadata": manifest.metadata,
                "counts": manifest.counts,
                "shards": manifest.shards.len(),
                "bytes": manifest.shards.iter().chain(&manifest.files).map(|f| f.size).sum::<u64>(),
            })
        }
    })
}

fn title_of(idx: &index::Index, id: u64) -> Option<String> {
    idx.article(id).ok().flatten().map(|a| a.title.clone())
}

fn article_json(idx: &index::Index, id: u64, full: bool) -> anyhow::Result<Value> {
    let Some(article) = idx.article(id)? else {
        return Ok(Value::Null);
    };
    let redirects = idx.redirects_to(id)?;
    let inlinks = idx.inlinks(id)?;
    let mut value = json!({
        "id": article.id,
        "title": article.title,
        "redirects": redirects,
        "inlinks": inlinks,
        "bold": article.bold,
        "sentences": article.n_sentences,
        "links": article.n_links,
    });
    if full {
        value["sections"] = serde_json::to_value(&article.sections)?;
    } else {
        let lead: Vec<&str> = article
            .sentences()
            .take(PREVIEW_SENTENCES)
            .map(|s| s.text.as_str())
            .collect();
        value["lead"] = json!(lead);
    }
    Ok(value)
}

/// Runs `fraser verify`.
pub fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let idx = index::Index::open(&args.dir)
        .with_context(|| format!("failed to open the index {}", args.dir.display()))?;
    let report = idx
        .verify()
        .with_context(|| format!("index {} is damaged", args.dir.display()))?;
    println!(
        "{}",
        json!({"ok": true, "files": report.files, "bytes": report.bytes})
    );
    Ok(ExitCode::SUCCESS)
}
