//! Sample paths and re-encodings of the samples shared by the tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use dump::{Input, OpenOptions, Page};

pub const ENWIKI: &str = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2";
pub const SIMPLEWIKI: &str = "simplewiki-2019-sample-7pages.xml.bz2";
pub const ELWIKIVOYAGE: &str = "elwikivoyage-pages-articles-multistream-p2566p2583.xml.bz2";
pub const ELWIKIVOYAGE_INDEX: &str =
    "elwikivoyage-pages-articles-multistream-index-p2566p2583.txt.bz2";

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
}

/// All bz2 streams of a file, decoded with the bzip2 crate's sequential
/// multistream decoder (the reference).
pub fn bunzip(path: &Path) -> Vec<u8> {
    let file = std::fs::File::open(path).unwrap();
    let mut out = Vec::new();
    bzip2::read::MultiBzDecoder::new(file)
        .read_to_end(&mut out)
        .unwrap();
    out
}

pub fn bzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub fn enwiki_xml() -> Vec<u8> {
    bunzip(&data(ENWIKI))
}

pub fn read_all(input: &Input, opts: &OpenOptions) -> Vec<Page> {
    let reader = dump::open(input, opts).unwrap();
    reader.map(|page| page.unwrap()).collect()
}

pub fn path_input(path: &Path) -> Input {
    Input::Path(path.to_owned())
}

/// The fields that must agree between formats (offsets differ between a
/// whole dump and one of its byte ranges).
/// (id, ns, title, redirect, revid, text) of one page.
pub type Summary = (u64, i32, String, Option<String>, Option<u64>, String);

pub fn summary(pages: &[Page]) -> Vec<Summary> {
    pages
        .iter()
        .map(|page| {
            (
                page.id,
                page.ns,
                page.title.clone(),
                page.redirect.clone(),
                page.revid,
                page.text.clone(),
            )
        })
        .collect()
}

fn unescape(title: &str) -> String {
    title
        .replace("&quot;", "\"")
        .replace("&#039;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).unwrap() + open.len();
    let end = start + text[start..].find(close).unwrap();
    &text[start..end]
}

/// Re-compresses a dump as Wikimedia's multistream files: the header in
/// stream 0, `per_stream` pages per stream, the footer in a stream of its
/// own. Returns the compressed bytes and the index text.
pub fn multistream(xml: &[u8], per_stream: usize) -> (Vec<u8>, String) {
    let xml = std::str::from_utf8(xml).unwrap();
    let first_page = xml.find("  <page>").unwrap();
    let footer_at = xml.rfind("</mediawiki>").unwrap();
    let header = &xml[..first_page];
    let body = &xml[first_page..footer_at];
    let mut pages = Vec::new();
    let mut rest = body;
    while let Some(end) = rest.find("</page>\n") {
        let (page, tail) = rest.split_at(end + "</page>\n".len());
        pages.push(page);
        rest = tail;
    }
    assert!(rest.trim().is_empty());
    let mut out = bzip(header.as_bytes());
    let mut index = String::new();
    for chunk in pages.chunks(per_stream) {
        let offset = out.len();
        for page in chunk {
            let id = between(page, "<id>", "</id>");
            let title = unescape(between(page, "<title>", "</title>"));
            index.push_str(&format!("{offset}:{id}:{title}\n"));
        }
        out.extend(bzip(chunk.concat().as_bytes()));
    }
    out.extend(bzip(&xml.as_bytes()[footer_at..]));
    (out, index)
}

/// Writes the enwiki sample as a multistream file (100 pages per stream)
/// and its bz2 index, with Wikimedia's names, into `dir`.
pub fn write_enwiki_multistream(dir: &Path) -> (PathBuf, PathBuf) {
    let (compressed, index) = multistream(&enwiki_xml(), 100);
    let dump = dir.join("enwiki-test-pages-articles-multistream.xml.bz2");
    let index_path = dir.join("enwiki-test-pages-articles-multistream-index.txt.bz2");
    std::fs::write(&dump, compressed).unwrap();
    std::fs::write(&index_path, bzip(index.as_bytes())).unwrap();
    (dump, index_path)
}
