//! `fraser extract`: a dump to JSON lines of clean text.
//!
//! Pipeline: the dump reader thread decodes and parses XML into bounded batches
//! of pages; each batch is turned into output lines in parallel on a rayon pool
//! and written in input order, so the bytes do not depend on the thread count.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::args::{ExtractArgs, ExtractFormat};
use crate::output::Output;
use crate::pipeline;
use crate::progress::Reporter;

/// Runs `fraser extract`.
pub fn run(args: &ExtractArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let input = dump::Input::parse(&args.dump);
    let name = input.display_name();
    let options = dump::OpenOptions {
        threads: args.threads,
        multistream_index: args.multistream_index.clone(),
        ..Default::default()
    };
    let reader = dump::open(&input, &options).with_context(|| format!("failed to open {name}"))?;
    let site = reader.siteinfo().clone();
    let lang = args
        .lang
        .clone()
        .or_else(|| site.lang.clone())
        .unwrap_or_else(|| "en".to_owned());
    let url_base = site.base.as_deref().map(url_base).unwrap_or_default();
    let parser = nlp::Parser::new(&nlp::ParserConfig::from_namespaces(&lang, &site.namespaces))
        .with_timeout(Duration::from_secs_f64(args.page_timeout.max(0.001)));
    let analyzer = nlp::Analyzer::new(nlp::Language::from_code(&lang));
    let job = Job {
        args,
        parser: &parser,
        analyzer: &analyzer,
        url_base: &url_base,
    };
    let pool = pipeline::pool(args.threads, "extract")?;
    tracing::info!(
        input = %name,
        format = ?reader.format(),
        dbname = site.dbname.as_deref().unwrap_or("-"),
        lang = %lang,
        threads = pool.current_num_threads(),
        "extracting"
    );

    let progress = reader.progress();
    let mut reporter = Reporter::new("extract", progress.total_bytes(), quiet);
    let mut out = Output::create(args.output.as_deref())?;
    let mut stats = Stats::default();
    pipeline::run(
        reader,
        &name,
        &pool,
        &mut reporter,
        |page| job.render(page),
        |_page, item| {
            stats.pages += 1;
            let Some(line) = item.line else {
                stats.skipped += 1;
                return Ok(());
            };
            out.write_all(&line).context("failed to write output")?;
            stats.written += 1;
            stats.sentences += item.sentences;
            for warning in item.warnings {
                stats.warnings += 1;
                match warning {
                    nlp::Warning::Timeout { .. } | nlp::Warning::TooDeep { .. } => {
                        stats.timeouts += 1;
                        tracing::warn!(warning = ?warning, "page skipped");
                    }
                    // Parser recoveries (e.g. a malformed heading read as text) are
                    // normal on real pages; they are counted, and shown with RUST_LOG=debug.
                    _ => tracing::debug!(warning = ?warning, "parser recovered"),
                }
            }
            Ok(())
        },
    )?;
    out.commit()?;
    let elapsed = reporter.finish().as_secs_f64().max(1e-9);
    let bytes = progress.bytes_read();
    let xml_bytes = progress.xml_bytes();
    if !quiet {
        tracing::info!(
            pages = stats.pages,
            written = stats.written,
            skipped = stats.skipped,
            sentences = stats.sentences,
            skipped_pages = stats.timeouts,
            warnings = stats.warnings,
            seconds = format!("{elapsed:.2}"),
            input_mb_per_sec = format!("{:.1}", bytes as f64 / elapsed / 1e6),
            xml_mb_per_sec = format!("{:.1}", xml_bytes as f64 / elapsed / 1e6),
            "done"
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Default)]
struct Stats {
    pages: u64,
    written: u64,
    skipped: u64,
    sentences: u64,
    timeouts: u64,
    warnings: u64,
}

/// One page's output: its JSON line (None when the page is filtered out).
struct Rendered {
    line: Option<Vec<u8>>,
    sentences: u64,
    warnings: Vec<nlp::Warning>,
}

struct Job<'a> {
    args: &'a ExtractArgs,
    parser: &'a nlp::Parser,
    analyzer: &'a nlp::Analyzer,
    url_base: &'a str,
}

/// WikiExtractor's `--json` record: the same keys in the same order.
#[derive(Serialize)]
struct WikiExtractorRecord<'a> {
    id: String,
    revid: String,
    url: String,
    title: &'a str,
    text: String,
}

/// The rich record: structure, sentences, tokens, stems, links and entities.
#[derive(Serialize)]
struct RichRecord<'a> {
    id: u64,
    revid: Option<u64>,
    ns: i32,
    title: &'a str,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect: Option<&'a str>,
    timestamp: Option<&'a str>,
    bold: &'a [String],
    sections: &'a [nlp::AnalyzedSection],
    entities: &'a [nlp::Entity],
}

impl Job<'_> {
    fn render(&self, page: &dump::Page) -> anyhow::Result<Rendered> {
        let skip = Rendered {
            line: None,
            sentences: 0,
            warnings: Vec::new(),
        };
        if !self.args.namespaces.contains(&page.ns) {
            return Ok(skip);
        }
        if page.redirect.is_some() && !self.args.redirects {
            return Ok(skip);
        }
        let (article, warnings) = self.parser.parse(&page.title, &page.text);
        let url = format!("{}?curid={}", self.url_base, page.id);
        let mut line = Vec::with_capacity(page.text.len() / 2 + 256);
        let sentences;
        match self.args.format {
            ExtractFormat::Wikiextractor => {
                sentences = 0;
                let record = WikiExtractorRecord {
                    id: page.id.to_string(),
                    revid: page.revid.map(|r| r.to_string()).unwrap_or_default(),
                    url,
                    title: &page.title,
                    text: article.wikiextractor_text(),
                };
                serde_json::to_writer(&mut line, &record)?;
            }
            ExtractFormat::Rich => {
                let options = nlp::AnalyzeOptions {
                    tokens: !self.args.no_tokens,
                    stems: !self.args.no_stems,
                };
                let analyzed = self.analyzer.analyze(&article, options);
                let entities = nlp::entities(&article, &page.title);
                sentences = analyzed
                    .sections
                    .iter()
                    .map(|s| s.sentences.len() as u64)
                    .sum();
                let record = RichRecord {
                    id: page.id,
                    revid: page.revid,
                    ns: page.ns,
                    title: &page.title,
                    url,
                    redirect: page.redirect.as_deref(),
                    timestamp: page.timestamp.as_deref(),
                    bold: &article.bold,
                    sections: &analyzed.sections,
                    entities: &entities,
                };
                serde_json::to_writer(&mut line, &record)?;
            }
        }
        line.push(b'\n');
        Ok(Rendered {
            line: Some(line),
            sentences,
            warnings,
        })
    }
}

/// WikiExtractor's URL base: the siteinfo base URL up to its last `/`
/// (`https://en.wikipedia.org/wiki/Main_Page` -> `https://en.wikipedia.org/wiki`).
fn url_base(base: &str) -> String {
    match base.rfind('/') {
        Some(i) => base[..i].to_owned(),
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_base_cuts_the_page_name() {
        assert_eq!(
            url_base("https://en.wikipedia.org/wiki/Main_Page"),
            "https://en.wikipedia.org/wiki"
        );
        assert_eq!(url_base("nohost"), "nohost");
    }
}
