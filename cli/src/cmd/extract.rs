//! `fraser extract`: a dump to JSON lines of clean text.
//!
//! Pipeline: the dump reader thread decodes and parses XML into bounded batches
//! of pages; each batch is turned into output lines in parallel on a rayon pool
//! and written in input order, so the bytes do not depend on the thread count.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::args::{ExtractArgs, ExtractFormat};
use crate::json;
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
        pipeline::BATCHES_MAPPING,
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
        let sentences = match self.args.format {
            ExtractFormat::Wikiextractor => {
                write_wikiextractor(&mut line, page, &url, &article.wikiextractor_text());
                0
            }
            ExtractFormat::Rich => {
                let options = nlp::AnalyzeOptions {
                    tokens: !self.args.no_tokens,
                    stems: !self.args.no_stems,
                    keys: false,
                };
                write_rich(&mut line, page, &url, &article, self.analyzer, options)
            }
        };
        line.push(b'\n');
        Ok(Rendered {
            line: Some(line),
            sentences,
            warnings,
        })
    }
}

/// Writes WikiExtractor's `--json` record: `{id, revid, url, title, text}`,
/// ids as strings, in that order (what `serde_json` wrote for the struct
/// this replaces; the tests keep that struct as the reference).
fn write_wikiextractor(line: &mut Vec<u8>, page: &dump::Page, url: &str, text: &str) {
    line.reserve(text.len() + page.title.len() + url.len() + 64);
    line.extend_from_slice(b"{\"id\":\"");
    json::push_u64(line, page.id);
    line.extend_from_slice(b"\",\"revid\":\"");
    if let Some(revid) = page.revid {
        json::push_u64(line, revid);
    }
    line.extend_from_slice(b"\",\"url\":");
    json::push_str(line, url);
    line.extend_from_slice(b",\"title\":");
    json::push_str(line, &page.title);
    line.extend_from_slice(b",\"text\":");
    json::push_str(line, text);
    line.push(b'}');
}

/// Writes the rich record: structure, sentences, tokens, stems, links and
/// entities, with the keys and layout `serde_json` gave the derived record
/// (`nlp::AnalyzedSection`, `nlp::Sentence`, `nlp::Entity`); sentences come
/// from [`nlp::Analyzer::for_each_sentence`] without being collected.
/// Returns the number of sentences.
fn write_rich(
    line: &mut Vec<u8>,
    page: &dump::Page,
    url: &str,
    article: &nlp::Article,
    analyzer: &nlp::Analyzer,
    options: nlp::AnalyzeOptions,
) -> u64 {
    line.extend_from_slice(b"{\"id\":");
    json::push_u64(line, page.id);
    line.extend_from_slice(b",\"revid\":");
    push_opt_u64(line, page.revid);
    line.extend_from_slice(b",\"ns\":");
    json::push_i64(line, i64::from(page.ns));
    line.extend_from_slice(b",\"title\":");
    json::push_str(line, &page.title);
    line.extend_from_slice(b",\"url\":");
    json::push_str(line, url);
    if let Some(redirect) = &page.redirect {
        line.extend_from_slice(b",\"redirect\":");
        json::push_str(line, redirect);
    }
    line.extend_from_slice(b",\"timestamp\":");
    match &page.timestamp {
        Some(timestamp) => json::push_str(line, timestamp),
        None => line.extend_from_slice(b"null"),
    }
    line.extend_from_slice(b",\"bold\":");
    json::push_str_array(line, article.bold.iter().map(String::as_str));
    line.extend_from_slice(b",\"sections\":[");
    let mut sentences = 0u64;
    for (i, section) in article.sections.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        line.extend_from_slice(b"{\"heading\":");
        json::push_str(line, &section.heading);
        line.extend_from_slice(b",\"level\":");
        json::push_u64(line, u64::from(section.level));
        line.extend_from_slice(b",\"sentences\":[");
        let mut first = true;
        analyzer.for_each_sentence(section, options, |sentence| {
            if !first {
                line.push(b',');
            }
            first = false;
            sentences += 1;
            write_sentence(line, sentence);
        });
        line.extend_from_slice(b"]}");
    }
    line.extend_from_slice(b"],\"entities\":[");
    for (i, entity) in nlp::entities(article, &page.title).iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        line.extend_from_slice(b"{\"target\":");
        json::push_str(line, &entity.target);
        line.extend_from_slice(b",\"anchors\":[");
        for (j, (anchor, count)) in entity.anchors.iter().enumerate() {
            if j > 0 {
                line.push(b',');
            }
            line.push(b'[');
            json::push_str(line, anchor);
            line.push(b',');
            json::push_u64(line, u64::from(*count));
            line.push(b']');
        }
        line.extend_from_slice(b"],\"count\":");
        json::push_u64(line, u64::from(entity.count));
        line.extend_from_slice(b",\"kind\":");
        json::push_str(line, entity_kind_name(entity.kind));
        line.push(b'}');
    }
    line.extend_from_slice(b"]}");
    sentences
}

fn write_sentence(line: &mut Vec<u8>, sentence: &nlp::SentenceRef<'_>) {
    line.extend_from_slice(b"{\"text\":");
    json::push_str(line, sentence.text);
    line.extend_from_slice(b",\"kind\":");
    json::push_str(line, block_kind_name(sentence.kind));
    line.extend_from_slice(b",\"links\":[");
    for (i, link) in sentence.links().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        line.extend_from_slice(b"{\"start\":");
        json::push_u64(line, u64::from(link.start));
        line.extend_from_slice(b",\"end\":");
        json::push_u64(line, u64::from(link.end));
        line.extend_from_slice(b",\"target\":");
        json::push_str(line, link.target);
        line.push(b'}');
    }
    line.extend_from_slice(b"],\"tokens\":");
    push_words(line, sentence.tokens());
    line.extend_from_slice(b",\"stems\":");
    push_words(line, sentence.stems());
    line.push(b'}');
}

/// Writes words as a JSON array of strings. Words almost never hold a
/// character to escape: one check over all of them, then plain copies.
fn push_words(line: &mut Vec<u8>, words: nlp::Words<'_>) {
    if !json::is_plain(words.joined()) {
        json::push_str_array(line, words.iter());
        return;
    }
    line.reserve(words.joined().len() + 3 * words.len() + 2);
    line.push(b'[');
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        line.push(b'"');
        line.extend_from_slice(word.as_bytes());
        line.push(b'"');
    }
    line.push(b']');
}

fn push_opt_u64(line: &mut Vec<u8>, value: Option<u64>) {
    match value {
        Some(value) => json::push_u64(line, value),
        None => line.extend_from_slice(b"null"),
    }
}

/// The serde name of a block kind (a unit variant serializes as its name).
fn block_kind_name(kind: nlp::BlockKind) -> &'static str {
    match kind {
        nlp::BlockKind::Paragraph => "Paragraph",
        nlp::BlockKind::ListItem => "ListItem",
        nlp::BlockKind::Caption => "Caption",
        nlp::BlockKind::TableCell => "TableCell",
    }
}

/// The serde name of an entity kind.
fn entity_kind_name(kind: nlp::EntityKind) -> &'static str {
    match kind {
        nlp::EntityKind::Link => "Link",
        nlp::EntityKind::SelfMention => "SelfMention",
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
    use clap::Parser as _;
    use serde::Serialize;

    use super::*;
    use crate::args::{Cli, Command};

    #[test]
    fn url_base_cuts_the_page_name() {
        assert_eq!(
            url_base("https://en.wikipedia.org/wiki/Main_Page"),
            "https://en.wikipedia.org/wiki"
        );
        assert_eq!(url_base("nohost"), "nohost");
    }

    /// WikiExtractor's `--json` record as it was written with `serde_json`.
    #[derive(Serialize)]
    struct WikiExtractorRecord<'a> {
        id: String,
        revid: String,
        url: String,
        title: &'a str,
        text: String,
    }

    /// The rich record as it was written with `serde_json`.
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

    /// The line `serde_json` gives for a page that `job` does not skip.
    fn reference(job: &Job<'_>, page: &dump::Page) -> Vec<u8> {
        let (article, _) = job.parser.parse(&page.title, &page.text);
        let url = format!("{}?curid={}", job.url_base, page.id);
        let mut line = match job.args.format {
            ExtractFormat::Wikiextractor => serde_json::to_vec(&WikiExtractorRecord {
                id: page.id.to_string(),
                revid: page.revid.map(|r| r.to_string()).unwrap_or_default(),
                url,
                title: &page.title,
                text: article.wikiextractor_text(),
            }),
            ExtractFormat::Rich => {
                let options = nlp::AnalyzeOptions {
                    tokens: !job.args.no_tokens,
                    stems: !job.args.no_stems,
                    keys: false,
                };
                let analyzed = job.analyzer.analyze(&article, options);
                let entities = nlp::entities(&article, &page.title);
                serde_json::to_vec(&RichRecord {
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
                })
            }
        }
        .unwrap();
        line.push(b'\n');
        line
    }

    fn extract_args(argv: &[&str]) -> ExtractArgs {
        let cli = Cli::parse_from(["fraser", "extract"].iter().chain(argv));
        match cli.command {
            Command::Extract(args) => args,
            _ => unreachable!(),
        }
    }

    /// The hand-written JSON is byte for byte what `serde_json` wrote, on
    /// every page of every sample dump, in both formats and with the options
    /// that change the record.
    #[test]
    fn hand_written_json_matches_serde_json() {
        let mut samples: Vec<_> = std::fs::read_dir("../data")
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                name.ends_with(".bz2") && !name.contains("-index")
            })
            .collect();
        samples.sort();
        assert!(samples.len() >= 3, "{samples:?}");
        let variants: [&[&str]; 4] = [
            &[],
            &["--format", "rich"],
            &[
                "--format",
                "rich",
                "--no-stems",
                "--redirects",
                "--namespaces",
                "0,1,2,4,10,14",
            ],
            &["--format", "rich", "--no-tokens"],
        ];
        let mut pages = 0;
        for path in &samples {
            let input = dump::Input::Path(path.clone());
            let reader = dump::open(&input, &dump::OpenOptions::default()).unwrap();
            let site = reader.siteinfo().clone();
            let lang = site.lang.clone().unwrap_or_else(|| "en".to_owned());
            let url_base = site.base.as_deref().map(url_base).unwrap_or_default();
            let parser =
                nlp::Parser::new(&nlp::ParserConfig::from_namespaces(&lang, &site.namespaces));
            let analyzer = nlp::Analyzer::new(nlp::Language::from_code(&lang));
            let all: Vec<dump::Page> = reader.map(Result::unwrap).collect();
            for variant in variants {
                let mut argv = vec!["dump"];
                argv.extend_from_slice(variant);
                let args = extract_args(&argv);
                let job = Job {
                    args: &args,
                    parser: &parser,
                    analyzer: &analyzer,
                    url_base: &url_base,
                };
                for page in &all {
                    let Some(line) = job.render(page).unwrap().line else {
                        continue;
                    };
                    pages += 1;
                    assert_eq!(
                        String::from_utf8(line).unwrap(),
                        String::from_utf8(reference(&job, page)).unwrap(),
                        "{} page {} with {variant:?}",
                        path.display(),
                        page.id
                    );
                }
            }
        }
        assert!(pages > 400, "{pages} pages compared");
    }

    /// Quotes, backslashes and control characters in every field.
    #[test]
    fn hand_written_json_escapes_like_serde_json() {
        let parser = nlp::Parser::new(&nlp::ParserConfig::english());
        let analyzer = nlp::Analyzer::new(nlp::Language::English);
        let page = dump::Page {
            id: 7,
            ns: 0,
            title: "Quote \" and \\ and \u{1}".to_owned(),
            redirect: Some("Tab\there".to_owned()),
            revid: None,
            timestamp: None,
            text: "'''Bold \"q\"''' is [[Target\\x|a \"link\"]].\u{7} Second \u{1f} one.\n\n\
                   == H\"d ==\nText \\ here."
                .to_owned(),
            ..dump::Page::default()
        };
        for format in ["rich", "wikiextractor"] {
            let args = extract_args(&["dump", "--format", format, "--redirects"]);
            let job = Job {
                args: &args,
                parser: &parser,
                analyzer: &analyzer,
                url_base: "https://x.org/w\"i\\ki",
            };
            let line = job.render(&page).unwrap().line.unwrap();
            assert_eq!(
                String::from_utf8(line).unwrap(),
                String::from_utf8(reference(&job, &page)).unwrap()
            );
        }
    }
}
