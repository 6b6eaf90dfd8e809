//! Makes a large test dump from the enwiki sample by repeating its pages
//! with new ids and titles, for benchmarks.
//!
//! ```text
//! cargo run --release -p dump --example makebig -- OUT_DIR [MEGABYTES]
//! bzip2 -k -9 OUT_DIR/bigwiki-pages-articles.xml      # the single-stream file
//! ```
//! Writes `bigwiki-pages-articles.xml` (about MEGABYTES MB, default 120)
//! and, as Wikimedia does, `bigwiki-pages-articles-multistream.xml.bz2`
//! (100 pages per stream, header and footer in streams of their own) with
//! its `bigwiki-pages-articles-multistream-index.txt.bz2`.

use std::io::{Read, Write};
use std::path::PathBuf;

use rayon::prelude::*;

const SAMPLE: &str = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2";

fn bzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    encoder.write_all(data).expect("in-memory write");
    encoder.finish().expect("in-memory write")
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<(usize, &'a str)> {
    let start = text.find(open)? + open.len();
    let end = start + text[start..].find(close)?;
    Some((start, &text[start..end]))
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out_dir = PathBuf::from(args.next().expect("usage: makebig OUT_DIR [MEGABYTES]"));
    let megabytes: usize = args
        .next()
        .map_or(120, |arg| arg.parse().expect("MEGABYTES is a number"));
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(SAMPLE);
    let mut xml = String::new();
    bzip2::read::MultiBzDecoder::new(std::fs::File::open(sample)?).read_to_string(&mut xml)?;

    let first_page = xml.find("  <page>").expect("sample has pages");
    let footer_at = xml.rfind("</mediawiki>").expect("sample has a footer");
    let header = &xml[..first_page];
    let footer = &xml[footer_at..];
    let mut originals = Vec::new();
    let mut rest = &xml[first_page..footer_at];
    while let Some(end) = rest.find("</page>\n") {
        let (page, tail) = rest.split_at(end + "</page>\n".len());
        originals.push(page);
        rest = tail;
    }

    // Round r gives page id `id + r * 1_000_000` and title "Title (r)".
    let mut pages: Vec<(u64, String, String)> = Vec::new();
    let mut size = header.len() + footer.len();
    let mut round = 0u64;
    while size < megabytes * 1_000_000 {
        for page in &originals {
            let (id_at, id) = between(page, "<id>", "</id>").expect("page id");
            let id = id.parse::<u64>().expect("numeric id") + round * 1_000_000;
            let (title_at, title) = between(page, "<title>", "</title>").expect("title");
            let title = if round == 0 {
                title.to_owned()
            } else {
                format!("{title} ({round})")
            };
            let title_end = title_at + page[title_at..].find("</title>").expect("title end");
            let id_end = id_at + page[id_at..].find("</id>").expect("id end");
            let text = format!(
                "{}{title}{}{id}{}",
                &page[..title_at],
                &page[title_end..id_at],
                &page[id_end..]
            );
            size += text.len();
            pages.push((id, title, text));
        }
        round += 1;
    }

    std::fs::create_dir_all(&out_dir)?;
    let mut plain = std::io::BufWriter::new(std::fs::File::create(
        out_dir.join("bigwiki-pages-articles.xml"),
    )?);
    plain.write_all(header.as_bytes())?;
    for (_, _, text) in &pages {
        plain.write_all(text.as_bytes())?;
    }
    plain.write_all(footer.as_bytes())?;
    plain.flush()?;

    let streams: Vec<Vec<u8>> = pages
        .par_chunks(100)
        .map(|chunk| {
            bzip(
                chunk
                    .iter()
                    .map(|(_, _, text)| text.as_str())
                    .collect::<String>()
                    .as_bytes(),
            )
        })
        .collect();
    let mut multi = bzip(header.as_bytes());
    let mut index = String::new();
    for (chunk, stream) in pages.chunks(100).zip(&streams) {
        let offset = multi.len();
        for (id, title, _) in chunk {
            let title = title.replace("&quot;", "\"").replace("&amp;", "&");
            index.push_str(&format!("{offset}:{id}:{title}\n"));
        }
        multi.extend_from_slice(stream);
    }
    multi.extend(bzip(footer.as_bytes()));
    std::fs::write(
        out_dir.join("bigwiki-pages-articles-multistream.xml.bz2"),
        multi,
    )?;
    std::fs::write(
        out_dir.join("bigwiki-pages-articles-multistream-index.txt.bz2"),
        bzip(index.as_bytes()),
    )?;
    println!("{} pages, {:.1} MB of XML", pages.len(), size as f64 / 1e6);
    Ok(())
}
