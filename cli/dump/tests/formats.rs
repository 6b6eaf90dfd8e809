//! Every input format gives the same pages, and the samples' headers read
//! correctly.

mod common;

use std::io::{Cursor, Read, Write};

use common::*;
use dump::{Format, Input, OpenOptions};

#[test]
fn every_format_gives_the_same_enwiki_pages() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = data(ENWIKI);
    let reference = read_all(&path_input(&shipped), &OpenOptions::default());
    assert_eq!(reference.len(), 206);
    let expected = summary(&reference);
    let xml = enwiki_xml();

    let plain = dir.path().join("enwiki.xml");
    std::fs::write(&plain, &xml).unwrap();

    let gz = dir.path().join("enwiki.xml.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&xml).unwrap();
    std::fs::write(&gz, encoder.finish().unwrap()).unwrap();

    let zst = dir.path().join("enwiki.xml.zst");
    std::fs::write(&zst, zstd::encode_all(&xml[..], 3).unwrap()).unwrap();

    // A misleading name: detection goes by magic bytes.
    let renamed = dir.path().join("enwiki.txt");
    std::fs::copy(&shipped, &renamed).unwrap();

    let (multi, _index) = write_enwiki_multistream(dir.path());
    let multi_no_index = dir.path().join("enwiki-copy.bz2");
    std::fs::copy(&multi, &multi_no_index).unwrap();

    let cases = [
        (plain.clone(), Format::Xml),
        (gz, Format::Gzip),
        (zst, Format::Zstd),
        (renamed, Format::Bzip2),
        (multi, Format::Bzip2Multistream),
        (multi_no_index, Format::Bzip2Multistream),
    ];
    for (path, format) in cases {
        let reader = dump::open(&path_input(&path), &OpenOptions::default()).unwrap();
        assert_eq!(reader.format(), format, "{}", path.display());
        assert_eq!(reader.siteinfo().dbname.as_deref(), Some("enwiki"));
        let pages: Vec<_> = reader.map(Result::unwrap).collect();
        assert_eq!(summary(&pages), expected, "{}", path.display());
    }

    // The reader behind stdin, with bz2 and with plain XML.
    for bytes in [std::fs::read(&shipped).unwrap(), xml.clone()] {
        let reader = dump::open_reader(Box::new(Cursor::new(bytes)), "<test>").unwrap();
        let pages: Vec<_> = reader.map(Result::unwrap).collect();
        assert_eq!(summary(&pages), expected);
    }

    // Offsets point at `<page>` in the XML.
    let from_plain = read_all(&path_input(&plain), &OpenOptions::default());
    for page in &from_plain {
        assert!(
            xml[page.offset as usize..].starts_with(b"<page>"),
            "page {}",
            page.id
        );
    }
    let offsets: Vec<_> = reference.iter().map(|page| page.offset).collect();
    assert_eq!(
        offsets,
        from_plain
            .iter()
            .map(|page| page.offset)
            .collect::<Vec<_>>()
    );
}

#[test]
fn enwiki_pages_and_redirects() {
    let pages = read_all(&path_input(&data(ENWIKI)), &OpenOptions::default());
    assert_eq!(pages.len(), 206);
    assert!(pages.windows(2).all(|pair| pair[0].id < pair[1].id));
    assert_eq!(
        (pages[0].id, pages[0].title.as_str()),
        (10, "AccessibleComputing")
    );
    assert_eq!(pages[0].redirect.as_deref(), Some("Computer accessibility"));
    let redirects: Vec<_> = pages
        .iter()
        .filter(|page| page.redirect.is_some())
        .collect();
    assert_eq!(redirects.len(), 100);
    assert!(
        redirects
            .iter()
            .all(|page| !page.redirect.as_deref().unwrap().is_empty())
    );
    assert_eq!(pages.iter().filter(|page| page.ns == 4).count(), 1);
    let anarchism = pages.iter().find(|page| page.title == "Anarchism").unwrap();
    assert_eq!(anarchism.id, 12);
    assert_eq!(anarchism.redirect, None);
    assert_eq!(anarchism.model.as_deref(), Some("wikitext"));
    assert_eq!(anarchism.format.as_deref(), Some("text/x-wiki"));
    assert!(anarchism.revid.is_some());
    assert!(anarchism.timestamp.as_deref().unwrap().starts_with("20"));
    // Entities come decoded: the raw XML has `&lt;ref&gt;`.
    assert!(anarchism.text.contains("<ref"));
    assert!(!anarchism.text.contains("&lt;"));
    let total: usize = pages.iter().map(|page| page.text.chars().count()).sum();
    assert!(
        (5_700_000..6_000_000).contains(&total),
        "{total} chars of wikitext"
    );
}

#[test]
fn siteinfo_of_the_samples() {
    let reader = dump::open(&path_input(&data(ENWIKI)), &OpenOptions::default()).unwrap();
    let info = reader.siteinfo();
    assert_eq!(info.sitename.as_deref(), Some("Wikipedia"));
    assert_eq!(info.dbname.as_deref(), Some("enwiki"));
    assert_eq!(
        info.base.as_deref(),
        Some("https://en.wikipedia.org/wiki/Main_Page")
    );
    assert_eq!(info.generator.as_deref(), Some("MediaWiki 1.27.0-wmf.22"));
    assert_eq!(info.case.as_deref(), Some("first-letter"));
    assert_eq!(info.lang.as_deref(), Some("en"));
    assert_eq!(info.schema_version.as_deref(), Some("0.10"));
    assert!(info.namespaces.windows(2).all(|pair| pair[0].0 < pair[1].0));
    assert_eq!(info.namespaces.first(), Some(&(-2, "Media".to_owned())));
    assert!(info.namespaces.contains(&(0, String::new())));
    assert!(info.namespaces.contains(&(4, "Wikipedia".to_owned())));
    assert!(
        info.namespaces
            .contains(&(2302, "Gadget definition".to_owned()))
    );

    let reader = dump::open(&path_input(&data(SIMPLEWIKI)), &OpenOptions::default()).unwrap();
    assert_eq!(reader.siteinfo().dbname.as_deref(), Some("simplewiki"));
    assert_eq!(reader.siteinfo().lang.as_deref(), Some("simple"));
    assert_eq!(reader.siteinfo().case.as_deref(), Some("first-letter"));
    let pages: Vec<_> = reader.map(Result::unwrap).collect();
    let ids: Vec<_> = pages.iter().map(|page| page.id).collect();
    assert_eq!(ids, [1, 2, 6, 8, 9, 11, 12]);
    assert_eq!(pages[0].title, "April");

    let reader = dump::open(&path_input(&data(ELWIKIVOYAGE)), &OpenOptions::default()).unwrap();
    let info = reader.siteinfo();
    assert_eq!(info.dbname.as_deref(), Some("elwikivoyage"));
    assert_eq!(info.sitename.as_deref(), Some("Βικιταξίδια"));
    assert_eq!(info.lang.as_deref(), Some("el"));
    assert_eq!(info.schema_version.as_deref(), Some("0.11"));
    assert!(info.namespaces.contains(&(14, "Κατηγορία".to_owned())));
}

#[test]
fn elwikivoyage_multistream_with_and_without_its_index() {
    let shipped = data(ELWIKIVOYAGE);
    let with_index = dump::open(&path_input(&shipped), &OpenOptions::default()).unwrap();
    assert_eq!(with_index.format(), Format::Bzip2Multistream);
    let progress = with_index.progress();
    let pages: Vec<_> = with_index.map(Result::unwrap).collect();
    assert_eq!(pages.len(), 17);
    assert_eq!(pages.iter().filter(|page| page.ns == 14).count(), 1);
    assert_eq!(progress.pages(), 17);
    assert_eq!(progress.bytes_read(), 15_476);
    assert_eq!(progress.total_bytes(), Some(15_476));

    // The index lists the same pages in the same order.
    let index: Vec<_> = dump::read_multistream_index(&data(ELWIKIVOYAGE_INDEX), 1)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let from_index: Vec<_> = index
        .iter()
        .map(|entry| (entry.page_id, entry.title.clone()))
        .collect();
    let from_dump: Vec<_> = pages
        .iter()
        .map(|page| (page.id, page.title.clone()))
        .collect();
    assert_eq!(from_index, from_dump);
    assert_eq!(index[0].offset, 718);

    // Explicit index, and no index at all (a copy under another name).
    let explicit = OpenOptions {
        multistream_index: Some(data(ELWIKIVOYAGE_INDEX)),
        ..OpenOptions::default()
    };
    assert_eq!(
        summary(&read_all(&path_input(&shipped), &explicit)),
        summary(&pages)
    );
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("voyage.bz2");
    std::fs::copy(&shipped, &copy).unwrap();
    let reader = dump::open(&path_input(&copy), &OpenOptions::default()).unwrap();
    assert_eq!(reader.format(), Format::Bzip2Multistream);
    let pages_no_index: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(summary(&pages_no_index), summary(&pages));
    assert_eq!(
        pages_no_index
            .iter()
            .map(|page| page.offset)
            .collect::<Vec<_>>(),
        pages.iter().map(|page| page.offset).collect::<Vec<_>>()
    );
}

#[test]
fn parallel_decoding_is_byte_identical_to_sequential() {
    let dir = tempfile::tempdir().unwrap();
    let voyage_copy = dir.path().join("voyage.bz2");
    std::fs::copy(data(ELWIKIVOYAGE), &voyage_copy).unwrap();
    // The enwiki sample is one stream of 7 blocks; the voyage copy (no
    // index beside it) is decoded block by block too.
    for (path, thread_counts) in [
        (data(ENWIKI), &[1, 2, 4][..]),
        (data(ELWIKIVOYAGE), &[2][..]),
        (voyage_copy, &[1, 2][..]),
    ] {
        let expected = bunzip(&path);
        for &threads in thread_counts {
            let opts = OpenOptions {
                threads,
                ..OpenOptions::default()
            };
            let mut decoded = Vec::new();
            dump::open_decompressed(&path_input(&path), &opts)
                .unwrap()
                .read_to_end(&mut decoded)
                .unwrap();
            assert!(
                decoded == expected,
                "{} with {threads} threads",
                path.display()
            );
        }
    }
}

#[test]
fn batches_hold_every_page_in_order() {
    let reference = read_all(&path_input(&data(ENWIKI)), &OpenOptions::default());
    let reader = dump::open(&path_input(&data(ENWIKI)), &OpenOptions::default()).unwrap();
    let batches = reader.into_batches(256 * 1024, 2);
    assert_eq!(batches.siteinfo().dbname.as_deref(), Some("enwiki"));
    let progress = batches.progress();
    let mut pages = Vec::new();
    let mut count = 0;
    for batch in batches {
        let batch = batch.unwrap();
        assert!(!batch.is_empty());
        count += 1;
        pages.extend(batch);
    }
    assert!(count > 10, "{count} batches");
    assert_eq!(summary(&pages), summary(&reference));
    assert_eq!(progress.pages(), 206);

    // Dropping the batches early stops the reader thread.
    let reader = dump::open(&path_input(&data(ENWIKI)), &OpenOptions::default()).unwrap();
    let mut batches = reader.into_batches(64 * 1024, 1);
    assert!(batches.next().unwrap().is_ok());
    drop(batches);
}

#[test]
fn stdin_argument_parses() {
    assert_eq!(Input::parse("-"), Input::Stdin);
    assert_eq!(Input::parse("-").display_name(), "<stdin>");
}
