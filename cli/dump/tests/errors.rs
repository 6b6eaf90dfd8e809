//! Bad input gives an error that names the file, a byte offset and the
//! last page read, and never a panic.

mod common;

use std::io::{Cursor, Write};
use std::path::Path;

use common::*;
use dump::{Error, Input, OpenOptions};

/// Reads everything; returns the pages read before the error and the error.
fn read_until_error(input: &Input, opts: &OpenOptions) -> (usize, Error) {
    let mut reader = match dump::open(input, opts) {
        Ok(reader) => reader,
        Err(error) => return (0, error),
    };
    let mut count = 0;
    loop {
        match reader.next_page() {
            Ok(Some(_)) => count += 1,
            Ok(None) => panic!("{}: no error after {count} pages", input.display_name()),
            Err(error) => {
                // Nothing comes after an error.
                assert!(reader.next_page().unwrap().is_none());
                return (count, error);
            }
        }
    }
}

fn assert_explained(error: &Error, path: &Path, pages_before: usize) {
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("byte offset"), "{message}");
    let position = error
        .position()
        .unwrap_or_else(|| panic!("no position in {message}"));
    if pages_before > 0 {
        assert!(position.last_page.is_some(), "{message}");
        assert!(message.contains("after page"), "{message}");
    } else {
        assert!(message.contains("before the first page"), "{message}");
    }
}

#[test]
fn truncated_bz2() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data(ENWIKI)).unwrap();
    let path = dir.path().join("half.xml.bz2");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    for threads in [1, 2] {
        let opts = OpenOptions {
            threads,
            ..OpenOptions::default()
        };
        let (pages, error) = read_until_error(&path_input(&path), &opts);
        assert!(matches!(error, Error::Truncated { .. }), "{error}");
        assert!(pages > 0);
        assert_explained(&error, &path, pages);
        let offset = error.position().unwrap().compressed_offset.unwrap();
        assert!(offset < bytes.len() as u64 / 2);
    }
}

#[test]
fn truncated_multistream_with_index() {
    let dir = tempfile::tempdir().unwrap();
    let (multi, _) = write_enwiki_multistream(dir.path());
    let bytes = std::fs::read(&multi).unwrap();
    std::fs::write(&multi, &bytes[..bytes.len() * 3 / 4]).unwrap();
    let (pages, error) = read_until_error(&path_input(&multi), &OpenOptions::default());
    assert!(matches!(error, Error::Truncated { .. }), "{error}");
    assert_explained(&error, &multi, pages);
}

#[test]
fn corrupt_bz2_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(data(ENWIKI)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    let path = dir.path().join("corrupt.bz2");
    std::fs::write(&path, &bytes).unwrap();
    let (pages, error) = read_until_error(&path_input(&path), &OpenOptions::default());
    assert!(matches!(error, Error::Corrupt { .. }), "{error}");
    assert!(pages > 0);
    assert_explained(&error, &path, pages);
    let offset = error.position().unwrap().compressed_offset.unwrap();
    assert!(offset <= middle as u64);
}

#[test]
fn corrupt_multistream_stream() {
    let dir = tempfile::tempdir().unwrap();
    let (multi, _) = write_enwiki_multistream(dir.path());
    let mut bytes = std::fs::read(&multi).unwrap();
    let middle = bytes.len() * 2 / 3;
    bytes[middle] ^= 0xff;
    std::fs::write(&multi, &bytes).unwrap();
    let (pages, error) = read_until_error(&path_input(&multi), &OpenOptions::default());
    assert!(matches!(error, Error::Corrupt { .. }), "{error}");
    assert_explained(&error, &multi, pages);
}

#[test]
fn malformed_xml() {
    let dir = tempfile::tempdir().unwrap();
    let xml = enwiki_xml();
    let text = String::from_utf8(xml.clone()).unwrap();
    let cut = text.find("<title>Autism</title>").unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // Unclosed tags: the file ends inside a page.
        ("unclosed.xml", xml[..cut].to_vec()),
        // A closing tag that does not match.
        (
            "mismatch.xml",
            format!("{}</revision></page>", &text[..cut]).into_bytes(),
        ),
        // Garbage markup.
        (
            "garbage.xml",
            format!("{}<<<&&&>>>", &text[..cut]).into_bytes(),
        ),
        // Complete pages, but no </mediawiki>.
        (
            "noend.xml",
            text.as_bytes()[..text.rfind("</mediawiki>").unwrap()].to_vec(),
        ),
        // An id that is not a number.
        (
            "badid.xml",
            text.replacen("<id>12</id>", "<id>twelve</id>", 1)
                .into_bytes(),
        ),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (pages, error) = read_until_error(&path_input(&path), &OpenOptions::default());
        assert!(matches!(error, Error::Xml { .. }), "{name}: {error}");
        assert_explained(&error, &path, pages);
        assert!(error.position().unwrap().xml_offset.is_some());
    }
}

#[test]
fn not_a_dump_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.bin");
    std::fs::write(&path, b"\x00\x01garbage, not xml").unwrap();
    let error = dump::open(&path_input(&path), &OpenOptions::default()).unwrap_err();
    assert!(matches!(error, Error::UnknownFormat { .. }), "{error}");
    assert!(error.to_string().contains("garbage.bin"));

    // bz2 magic followed by garbage.
    std::fs::write(
        &path,
        b"BZh9 this is not compressed data at all, really not",
    )
    .unwrap();
    let error = dump::open(&path_input(&path), &OpenOptions::default()).unwrap_err();
    assert!(matches!(error, Error::Corrupt { .. }), "{error}");
    assert_explained(&error, &path, 0);
}

#[test]
fn missing_and_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.xml.bz2");
    let error = dump::open(&path_input(&missing), &OpenOptions::default()).unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error}");
    assert!(error.to_string().contains("missing.xml.bz2"), "{error}");

    // A directory opens but cannot be read.
    let error = dump::open(&path_input(dir.path()), &OpenOptions::default()).unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains(&dir.path().display().to_string()),
        "{error}"
    );

    // A missing explicit index.
    let opts = OpenOptions {
        multistream_index: Some(dir.path().join("no-index.txt.bz2")),
        ..OpenOptions::default()
    };
    let error = dump::open(&path_input(&data(ELWIKIVOYAGE)), &opts).unwrap_err();
    assert!(error.to_string().contains("no-index.txt.bz2"), "{error}");
}

#[test]
fn non_utf8_text() {
    let dir = tempfile::tempdir().unwrap();
    let text_pages: Vec<String> = read_all(&path_input(&data(ENWIKI)), &OpenOptions::default())
        .into_iter()
        .map(|page| page.title)
        .collect();
    let text = String::from_utf8(enwiki_xml()).unwrap();
    let at = text.find("<title>Autism</title>").unwrap();
    let mut bytes = text.into_bytes();
    let inside = at + bytes[at..].windows(6).position(|w| w == b"<text ").unwrap() + 300;
    bytes[inside] = 0xff;
    bytes[inside + 1] = 0xfe;
    for compress in [false, true] {
        let path = dir
            .path()
            .join(if compress { "bad.xml.bz2" } else { "bad.xml" });
        std::fs::write(
            &path,
            if compress {
                bzip(&bytes)
            } else {
                bytes.clone()
            },
        )
        .unwrap();
        let (pages, error) = read_until_error(&path_input(&path), &OpenOptions::default());
        assert!(matches!(error, Error::Utf8 { .. }), "{error}");
        assert!(pages > 0);
        assert_explained(&error, &path, pages);
        // The last page read is the one before "Autism".
        let (_, title) = error.position().unwrap().last_page.clone().unwrap();
        let before = &text_pages[text_pages.iter().position(|t| t == "Autism").unwrap() - 1];
        assert_eq!(&title, before);
    }
}

#[test]
fn truncated_gzip_and_zstd() {
    let dir = tempfile::tempdir().unwrap();
    let xml = enwiki_xml();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&xml).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&xml[..], 1).unwrap();
    for (name, bytes) in [("cut.xml.gz", gz), ("cut.xml.zst", zst)] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let (pages, error) = read_until_error(&path_input(&path), &OpenOptions::default());
        assert!(matches!(error, Error::Truncated { .. }), "{name}: {error}");
        assert_explained(&error, &path, pages);
    }
}

/// Damage at many places must give an error or pages, never a panic.
#[test]
fn damaged_inputs_never_panic() {
    let bz2 = std::fs::read(data(SIMPLEWIKI)).unwrap();
    let voyage = std::fs::read(data(ELWIKIVOYAGE)).unwrap();
    let mut seed = 0x2545_f491_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for original in [&bz2, &voyage] {
        for _ in 0..40 {
            let mut bytes = original.clone();
            match next() % 3 {
                0 => {
                    let at = (next() % bytes.len() as u64) as usize;
                    bytes[at] = next() as u8;
                }
                1 => bytes.truncate((next() % bytes.len() as u64) as usize),
                _ => {
                    let at = (next() % bytes.len() as u64) as usize;
                    bytes.insert(at, next() as u8);
                }
            }
            if let Ok(reader) = dump::open_reader(Box::new(Cursor::new(bytes)), "<damaged>") {
                for page in reader {
                    if page.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

#[test]
fn options_that_do_not_fit() {
    let opts = OpenOptions {
        range: Some(0..100),
        ..OpenOptions::default()
    };
    let error = dump::open(&Input::Stdin, &opts).unwrap_err();
    assert!(matches!(error, Error::Options { .. }), "{error}");
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("a.xml");
    std::fs::write(&plain, b"<mediawiki></mediawiki>").unwrap();
    let error = dump::open(&path_input(&plain), &opts).unwrap_err();
    assert!(matches!(error, Error::Options { .. }), "{error}");
}
