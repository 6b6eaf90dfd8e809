//! Test harness shared by the end-to-end tests: sample data paths, running
//! `fraser` subcommands in-process, comparing directories byte for byte.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

/// The English Wikipedia sample (206 pages, single bz2 stream).
pub const ENWIKI: &str = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2";
/// The Simple English Wikipedia sample (7 pages).
pub const SIMPLEWIKI: &str = "simplewiki-2019-sample-7pages.xml.bz2";
/// The Greek Wikivoyage multistream sample (its index sits next to it).
pub const ELWIKIVOYAGE: &str = "elwikivoyage-pages-articles-multistream-p2566p2583.xml.bz2";

/// Returns the path of a file under the workspace `data/` folder.
pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(name)
}

/// Runs `fraser ARGS...` in-process and returns its exit code.
pub fn fraser(args: &[&str]) -> anyhow_like::Result<ExitCode> {
    let argv = std::iter::once("fraser").chain(args.iter().copied());
    let matches = fraser_cli::args::Cli::command()
        .try_get_matches_from(argv)
        .map_err(|e| e.to_string())?;
    let cli = fraser_cli::args::Cli::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    fraser_cli::run(cli, &matches).map_err(|e| format!("{e:#}"))
}

/// A tiny error alias so tests can print the command's error chain.
pub mod anyhow_like {
    /// The result of an in-process command: the error is its printed chain.
    pub type Result<T> = std::result::Result<T, String>;
}

/// Runs `fraser ARGS...` and panics with the error chain unless it exits 0.
pub fn fraser_ok(args: &[&str]) {
    match fraser(args) {
        Ok(code) if code == ExitCode::SUCCESS => {}
        Ok(code) => panic!("fraser {args:?} exited with {code:?}"),
        Err(error) => panic!("fraser {args:?} failed: {error}"),
    }
}

/// Builds the index of the sample dump `name` (see [`data_path`]) into `out` with
/// default settings.
pub fn build_index(name: &str, out: &Path) {
    let input = data_path(name);
    fraser_ok(&[
        "-q",
        "build",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
}

/// Builds the index of the sample dump `name` into `dir/index` and returns that path.
pub fn build_sample_index(name: &str, dir: &Path) -> PathBuf {
    let index_dir = dir.join("index");
    build_index(name, &index_dir);
    index_dir
}

/// Reads every file under `dir` (relative path -> bytes).
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(rel, std::fs::read(&path).expect("readable file"));
            }
        }
    }
    files
}

/// Asserts two directories hold the same files with the same bytes.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let (left, right) = (read_tree(a), read_tree(b));
    let names = |t: &BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&left),
        names(&right),
        "{} and {} hold different files",
        a.display(),
        b.display()
    );
    for (name, bytes) in &left {
        assert!(
            bytes == &right[name],
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// Decompresses a bz2 sample into memory.
pub fn sample_xml(name: &str) -> String {
    let mut xml = String::new();
    bzip2::read::MultiBzDecoder::new(std::fs::File::open(data_path(name)).unwrap())
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// Recompresses a sample as a Wikimedia-style multistream file (header stream,
/// `pages_per_stream` pages per stream, footer stream) plus its index, into
/// `dir`, and returns the dump path.
pub fn make_multistream(name: &str, dir: &Path, pages_per_stream: usize) -> PathBuf {
    let xml = sample_xml(name);
    let first = xml.find("  <page>").expect("a page");
    let end = xml.rfind("</page>").expect("a page") + "</page>\n".len();
    let (header, body, footer) = (&xml[..first], &xml[first..end], &xml[end..]);
    let pages: Vec<&str> = body
        .split_inclusive("</page>\n")
        .filter(|p| p.contains("<page>"))
        .collect();
    let compress = |text: &str| {
        let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    };
    let mut out = compress(header);
    let mut index = String::new();
    for chunk in pages.chunks(pages_per_stream) {
        let offset = out.len();
        for page in chunk {
            let id = between(page, "<id>", "</id>");
            let title = between(page, "<title>", "</title>");
            index.push_str(&format!("{offset}:{id}:{title}\n"));
        }
        out.extend(compress(&chunk.concat()));
    }
    out.extend(compress(footer));
    let dump = dir.join("sample-pages-articles-multistream.xml.bz2");
    std::fs::write(&dump, out).unwrap();
    std::fs::write(
        dir.join("sample-pages-articles-multistream-index.txt.bz2"),
        compress(&index),
    )
    .unwrap();
    dump
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).unwrap() + open.len();
    let len = text[start..].find(close).unwrap();
    &text[start..start + len]
}
