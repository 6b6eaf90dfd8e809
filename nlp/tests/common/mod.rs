//! Reads pages from the bz2 dump samples in `../data` (test and bench helper).

use std::io::Read;
use std::path::PathBuf;

/// One page of a dump sample.
#[allow(dead_code)]
pub struct Page {
    pub title: String,
    pub ns: i32,
    pub text: String,
}

/// Returns the path of a file in the workspace `data/` directory.
pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("data")
        .join(name)
}

/// The English Wikipedia sample.
pub const ENWIKI: &str = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2";

/// The Greek Wikivoyage multistream sample.
#[allow(dead_code)]
pub const ELWIKIVOYAGE: &str = "elwikivoyage-pages-articles-multistream-p2566p2583.xml.bz2";

/// Decompresses a sample (all bz2 streams) into a string.
pub fn read_xml(name: &str) -> String {
    let file = std::fs::File::open(data_path(name)).expect("open dump sample");
    let mut xml = String::new();
    bzip2::read::MultiBzDecoder::new(file)
        .read_to_string(&mut xml)
        .expect("decompress dump sample");
    xml
}

/// Splits dump XML into pages (a minimal reader for the known samples).
pub fn pages(xml: &str) -> Vec<Page> {
    let mut pages = Vec::new();
    for chunk in xml.split("<page>").skip(1) {
        let title = between(chunk, "<title>", "</title>").unwrap_or_default();
        let ns = between(chunk, "<ns>", "</ns>")
            .and_then(|ns| ns.trim().parse().ok())
            .unwrap_or(0);
        let text = chunk
            .find("<text")
            .and_then(|start| {
                let rest = &chunk[start..];
                let open_end = rest.find('>')?;
                if rest[..open_end].ends_with('/') {
                    return Some("");
                }
                let body = &rest[open_end + 1..];
                Some(&body[..body.find("</text>")?])
            })
            .unwrap_or_default();
        pages.push(Page {
            title: unescape(title),
            ns,
            text: unescape(text),
        });
    }
    pages
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some(&s[start..end])
}

/// Decodes the five XML entities (the dump's only escapes).
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
