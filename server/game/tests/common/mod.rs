//! Test support: reads the real English sample dump into a [`MemoryCorpus`].
//!
//! The XML slicer is deliberately tiny (no regex, no XML crate): it cuts
//! `<page>` elements and reads `<title>`, `<ns>`, the page `<id>`,
//! `<redirect title=".."/>` and `<text ...>...</text>`, decoding the five
//! XML entities. It is enough for MediaWiki export files, which escape
//! everything else.

#![allow(dead_code)] // each test binary uses a different part

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use game::{MemoryCorpus, Page};

/// The bundled English sample (206 pages, 106 articles).
pub fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
}

/// The sample as a corpus, built once per test binary.
pub fn sample_corpus() -> Arc<MemoryCorpus> {
    static CORPUS: OnceLock<Arc<MemoryCorpus>> = OnceLock::new();
    CORPUS
        .get_or_init(|| {
            let path = sample_path();
            let file = std::fs::File::open(&path)
                .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
            let mut xml = String::new();
            bzip2::read::MultiBzDecoder::new(file)
                .read_to_string(&mut xml)
                .expect("decompressing the sample dump");
            Arc::new(MemoryCorpus::from_pages(pages(&xml)))
        })
        .clone()
}

/// The main-namespace pages of a MediaWiki XML export.
pub fn pages(xml: &str) -> Vec<Page> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<page>") {
        let Some(len) = rest[start..].find("</page>") else {
            break;
        };
        let page = &rest[start..start + len];
        rest = &rest[start + len + "</page>".len()..];
        let ns = between(page, "<ns>", "</ns>").unwrap_or("0");
        if ns.trim() != "0" {
            continue;
        }
        let (Some(title), Some(id)) = (
            between(page, "<title>", "</title>"),
            between(page, "<id>", "</id>"),
        ) else {
            continue;
        };
        let Ok(id) = id.trim().parse::<u64>() else {
            continue;
        };
        let redirect = between(page, "<redirect title=\"", "\"").map(decode);
        let text = match page.find("<text") {
            Some(open) => {
                let tag_end = page[open..].find('>').map(|i| open + i);
                match tag_end {
                    Some(end) if page[..end].ends_with('/') => String::new(),
                    Some(end) => page[end + 1..]
                        .find("</text>")
                        .map(|close| decode(&page[end + 1..end + 1 + close]))
                        .unwrap_or_default(),
                    None => String::new(),
                }
            }
            None => String::new(),
        };
        out.push((id, decode(title), redirect, text));
    }
    out
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

/// Decodes `&lt; &gt; &quot; &apos; &amp;` (in one pass, so "&amp;lt;" stays "&lt;").
pub fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let entities = [
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&apos;", '\''),
            ("&amp;", '&'),
        ];
        match entities.iter().find(|(name, _)| rest.starts_with(name)) {
            Some((name, c)) => {
                out.push(*c);
                rest = &rest[name.len()..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A small hand-made corpus: Abraham Lincoln, the Emancipation
/// Proclamation, Mercury the planet and the element.
pub fn small_corpus() -> Arc<MemoryCorpus> {
    use game::{ArticleView, SentenceView};
    let s = |text: &str, section: &str, links: &[(&str, &str)]| {
        let links = links
            .iter()
            .map(|(anchor, target)| {
                let start = text.find(anchor).expect("anchor in sentence");
                (
                    start as u32,
                    (start + anchor.len()) as u32,
                    (*target).to_owned(),
                )
            })
            .collect();
        SentenceView {
            text: text.to_owned(),
            section: section.to_owned(),
            links,
        }
    };
    let lincoln = ArticleView {
        id: 1,
        title: "Abraham Lincoln".to_owned(),
        redirects: vec!["Honest Abe".to_owned(), "Abe Lincoln".to_owned()],
        bold: vec!["Abraham Lincoln".to_owned()],
        aliases: vec!["President Lincoln".to_owned()],
        inlinks: 900,
        sentences: vec![
            s(
                "Abraham Lincoln was an American lawyer and statesman who served as the 16th president of the United States.",
                "",
                &[("United States", "United States")],
            ),
            s(
                "Lincoln led the nation through the American Civil War and abolished slavery.",
                "",
                &[("American Civil War", "American Civil War")],
            ),
            s(
                "Lincoln was born in a one-room log cabin on Sinking Spring Farm in Kentucky.",
                "Early life",
                &[("Kentucky", "Kentucky")],
            ),
            s(
                "As a young man he worked as a shopkeeper, a surveyor and a postmaster in New Salem.",
                "Early life",
                &[],
            ),
            s(
                "In 1863 the president issued the Emancipation Proclamation, which declared the slaves in the rebel states free.",
                "Presidency",
                &[("Emancipation Proclamation", "Emancipation Proclamation")],
            ),
            s(
                "His short speech at Gettysburg became one of the best-known speeches in American history.",
                "Presidency",
                &[("Gettysburg", "Gettysburg Address")],
            ),
            s(
                "John Wilkes Booth shot Lincoln at Ford's Theatre in Washington on April 14, 1865.",
                "Assassination",
                &[("Ford's Theatre", "Ford's Theatre")],
            ),
            s(
                "His body was carried by train in a grand funeral procession through several states.",
                "Assassination",
                &[],
            ),
        ],
    };
    let proclamation = ArticleView {
        id: 2,
        title: "Emancipation Proclamation".to_owned(),
        redirects: vec!["Proclamation 95".to_owned()],
        bold: vec!["Emancipation Proclamation".to_owned()],
        inlinks: 300,
        aliases: Vec::new(),
        sentences: vec![
            s(
                "The Emancipation Proclamation was a presidential proclamation and executive order issued by Abraham Lincoln.",
                "",
                &[("Abraham Lincoln", "Abraham Lincoln")],
            ),
            s(
                "It changed the legal status of more than three million enslaved people in the Confederate states.",
                "",
                &[],
            ),
            s(
                "The order was issued on January 1, 1863, during the third year of the war.",
                "History",
                &[],
            ),
            s(
                "Critics at the time said that the order freed only the slaves the government could not reach.",
                "Reception",
                &[],
            ),
        ],
    };
    let planet = ArticleView {
        id: 3,
        title: "Mercury (planet)".to_owned(),
        bold: vec!["Mercury".to_owned()],
        redirects: Vec::new(),
        aliases: Vec::new(),
        inlinks: 400,
        sentences: vec![
            s(
                "Mercury is the smallest planet in the Solar System and the closest to the Sun.",
                "",
                &[("Sun", "Sun")],
            ),
            s(
                "Its orbit around the Sun takes 87.97 Earth days, the shortest of all the planets.",
                "Orbit",
                &[],
            ),
            s(
                "The surface temperature varies widely between the day side and the night side.",
                "Surface",
                &[],
            ),
            s(
                "Two spacecraft have visited the planet so far, and a third one is on its way there.",
                "Exploration",
                &[],
            ),
        ],
    };
    let element = ArticleView {
        id: 4,
        title: "Mercury (element)".to_owned(),
        bold: vec!["Mercury".to_owned(), "quicksilver".to_owned()],
        redirects: Vec::new(),
        aliases: Vec::new(),
        inlinks: 380,
        sentences: vec![
            s(
                "Mercury is a chemical element with the symbol Hg and atomic number 80 in the periodic table.",
                "",
                &[],
            ),
            s(
                "It is the only metallic element that is liquid at standard conditions for temperature.",
                "",
                &[],
            ),
            s(
                "The metal was once widely used in thermometers, barometers and other scientific instruments.",
                "Uses",
                &[],
            ),
        ],
    };
    Arc::new(MemoryCorpus::new([lincoln, proclamation, planet, element]))
}

/// Settings for the small corpus.
pub fn small_settings() -> game::Settings {
    game::Settings {
        easy: game::InlinkRange {
            min: 350,
            max: None,
        },
        hard: game::InlinkRange {
            min: 0,
            max: Some(349),
        },
        min_sentences: 3,
        ..game::Settings::default()
    }
}
