//! Arbitrary UTF-8 through the whole nlp path: it must never panic.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use nlp::{
    AnalyzeOptions, Analyzer, Language, Parser, ParserConfig, SentenceSplitter, entities, fold,
    tokenize,
};

struct Tools {
    parser: Parser,
    analyzer: Analyzer,
    splitter: SentenceSplitter,
}

fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| Tools {
        parser: Parser::new(&ParserConfig::english()).with_timeout(Duration::from_secs(1)),
        analyzer: Analyzer::new(Language::English),
        splitter: SentenceSplitter::new(Language::Greek),
    })
}

fuzz_target!(|wikitext: &str| {
    let tools = tools();
    let (article, _warnings) = tools.parser.parse("Fuzz", wikitext);
    let analyzed = tools.analyzer.analyze(&article, AnalyzeOptions::ALL);
    for block in article.blocks() {
        for link in &block.links {
            assert!(block.text.get(link.start as usize..link.end as usize).is_some());
        }
    }
    drop(analyzed);
    drop(entities(&article, wikitext));
    let _ = article.wikiextractor_text();
    for range in tools.splitter.split(wikitext) {
        assert!(wikitext.get(range).is_some());
    }
    let _ = tokenize(wikitext);
    let _ = fold(wikitext);
});
