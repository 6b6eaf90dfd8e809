//! Global lexicon files: an fst map from a byte key to a `u64`, optionally with
//! a postings section of checksummed lists that the values point into.
//!
//! ```text
//! header    magic (titles, redirects, aliases, terms or redirects-in), version u32
//! postings  postings_len bytes: lists, each  len u32, crc32 u32 (of the payload), payload
//! fst       fst_len bytes: key -> value (an id, or a list's offset in the postings section)
//! trailer   postings_len u64, fst_len u64, meta_crc u32 (CRC32 of the fst bytes and the two lengths)
//! footer    crc32 u32 of everything before, "FEND"
//! ```
//!
//! Opening checks the frame and the fst's CRC (the fst is small next to the
//! postings); each list's CRC is checked when the list is read.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::footer::{FileKind, FileWriter, LeReader, check_frame, crc32};
use crate::storage::{Bytes, Storage};

const TRAILER_LEN: u64 = 20;
const LIST_HEADER_LEN: u64 = 8;
/// Upper bound on one list's payload; protects readers from damaged lengths.
const MAX_LIST_LEN: u64 = 1 << 32;

/// Writes a lexicon file; keys must arrive in strictly increasing byte order.
pub(crate) struct LexiconWriter {
    path: PathBuf,
    fst_path: PathBuf,
    out: FileWriter<BufWriter<File>>,
    map: fst::MapBuilder<BufWriter<File>>,
    n_keys: u64,
}

impl LexiconWriter {
    /// Creates `path`; the fst is built beside it in `<path>.fst-part` and
    /// appended after the postings by `finish`.
    pub(crate) fn create(path: &Path, kind: FileKind) -> Result<LexiconWriter> {
        let out = FileWriter::create(path, kind)?;
        let fst_path = path.with_extension("fst-part");
        let file = File::create(&fst_path).map_err(|e| Error::io(&fst_path, e))?;
        let map = fst::MapBuilder::new(BufWriter::with_capacity(1 << 16, file))
            .map_err(|e| fst_error(&fst_path, e))?;
        Ok(LexiconWriter {
            path: path.to_path_buf(),
            fst_path,
            out,
            map,
            n_keys: 0,
        })
    }

    /// Maps `key` to `value` directly.
    pub(crate) fn insert(&mut self, key: &[u8], value: u64) -> Result<()> {
        self.map
            .insert(key, value)
            .map_err(|e| fst_error(&self.path, e))?;
        self.n_keys += 1;
        Ok(())
    }

    /// Appends `payload` as a list to the postings and maps `key` to it.
    pub(crate) fn insert_list(&mut self, key: &[u8], payload: &[u8]) -> Result<()> {
        let offset = self.out.position() - crate::footer::HEADER_LEN;
        self.insert(key, offset)?;
        let io = |e| Error::io(&self.path, e);
        self.out
            .write_all(&(payload.len() as u32).to_le_bytes())
            .map_err(io)?;
        self.out
            .write_all(&crc32(payload).to_le_bytes())
            .map_err(io)?;
        self.out.write_all(payload).map_err(io)
    }

    /// Number of keys inserted.
    pub(crate) fn len(&self) -> u64 {
        self.n_keys
    }

    /// Appends the fst and the trailer, writes the footer and fsyncs; returns
    /// (size, crc, number of keys).
    pub(crate) fn finish(mut self) -> Result<(u64, u32, u64)> {
        self.map
            .finish()
            .map_err(|e| fst_error(&self.fst_path, e))?;
        let postings_len = self.out.position() - crate::footer::HEADER_LEN;
        let mut fst_file = File::open(&self.fst_path).map_err(|e| Error::io(&self.fst_path, e))?;
        let mut meta_hasher = crc32fast::Hasher::new();
        let mut fst_len = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = fst_file
                .read(&mut buf)
                .map_err(|e| Error::io(&self.fst_path, e))?;
            if n == 0 {
                break;
            }
            meta_hasher.update(&buf[..n]);
            self.out
                .write_all(&buf[..n])
                .map_err(|e| Error::io(&self.path, e))?;
            fst_len += n as u64;
        }
        drop(fst_file);
        std::fs::remove_file(&self.fst_path).map_err(|e| Error::io(&self.fst_path, e))?;
        let mut trailer = Vec::with_capacity(TRAILER_LEN as usize);
        trailer.extend_from_slice(&postings_len.to_le_bytes());
        trailer.extend_from_slice(&fst_len.to_le_bytes());
        meta_hasher.update(&trailer);
        trailer.extend_from_slice(&meta_hasher.finalize().to_le_bytes());
        self.out
            .write_all(&trailer)
            .map_err(|e| Error::io(&self.path, e))?;
        let (size, crc) = self.out.finish_file(&self.path)?;
        Ok((size, crc, self.n_keys))
    }
}

fn fst_error(path: &Path, e: fst::Error) -> Error {
    match e {
        fst::Error::Io(source) => Error::io(path, source),
        other => Error::invalid(format!("building {}: {other}", path.display())),
    }
}

/// An open lexicon file.
pub(crate) struct Lexicon {
    storage: Arc<dyn Storage>,
    map: fst::Map<Bytes>,
    postings_len: u64,
}

impl Lexicon {
    /// Opens a lexicon, checking the frame (and the manifest's CRC) and the fst's CRC.
    pub(crate) fn open(
        storage: Arc<dyn Storage>,
        kind: FileKind,
        expected_crc: Option<u32>,
    ) -> Result<Lexicon> {
        let frame = check_frame(&*storage, kind, expected_crc)?;
        let path = storage.path().to_path_buf();
        if frame.body_end - frame.body_start < TRAILER_LEN {
            return Err(Error::corrupt(&path, "lexicon too short for its trailer"));
        }
        let trailer_start = frame.body_end - TRAILER_LEN;
        let trailer = storage.read(trailer_start, TRAILER_LEN)?;
        let mut reader = LeReader::new(&trailer, &path);
        let postings_len = reader.u64()?;
        let fst_len = reader.u64()?;
        let meta_crc = reader.u32()?;
        if frame
            .body_start
            .checked_add(postings_len)
            .and_then(|x| x.checked_add(fst_len))
            != Some(trailer_start)
        {
            return Err(Error::corrupt(
                &path,
                "lexicon section lengths do not add up",
            ));
        }
        let fst_start = frame.body_start + postings_len;
        let meta = storage.read(fst_start, fst_len + TRAILER_LEN - 4)?;
        let found = crc32(&meta);
        if found != meta_crc {
            return Err(Error::Checksum {
                path,
                expected: meta_crc,
                found,
            });
        }
        let fst_bytes = meta.get(0..fst_len as usize).expect("length checked");
        let map =
            fst::Map::new(fst_bytes).map_err(|e| Error::corrupt(&path, format!("bad fst: {e}")))?;
        Ok(Lexicon {
            storage,
            map,
            postings_len,
        })
    }

    /// The fst map.
    pub(crate) fn map(&self) -> &fst::Map<Bytes> {
        &self.map
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        self.storage.path()
    }

    /// Reads the list at `offset` in the postings section and checks its CRC.
    pub(crate) fn list(&self, offset: u64) -> Result<Bytes> {
        let path = self.path();
        if offset
            .checked_add(LIST_HEADER_LEN)
            .is_none_or(|end| end > self.postings_len)
        {
            return Err(Error::corrupt(
                path,
                format!("list offset {offset} out of range"),
            ));
        }
        let start = crate::footer::HEADER_LEN + offset;
        let header = self.storage.read(start, LIST_HEADER_LEN)?;
        let mut reader = LeReader::new(&header, path);
        let len = u64::from(reader.u32()?);
        let crc = reader.u32()?;
        if len > MAX_LIST_LEN || offset + LIST_HEADER_LEN + len > self.postings_len {
            return Err(Error::corrupt(
                path,
                format!("list at offset {offset} runs past the postings section"),
            ));
        }
        let payload = self.storage.read(start + LIST_HEADER_LEN, len)?;
        let found = crc32(&payload);
        if found != crc {
            return Err(Error::Checksum {
                path: path.to_path_buf(),
                expected: crc,
                found,
            });
        }
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Access, open};

    #[test]
    fn lexicon_round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("terms.lex");
        let mut writer = LexiconWriter::create(&path, FileKind::Terms).unwrap();
        writer.insert_list(b"alpha", b"one").unwrap();
        writer.insert_list(b"beta", b"").unwrap();
        writer.insert_list(b"gamma", b"three").unwrap();
        assert!(writer.insert_list(b"aaa", b"out of order").is_err());
        let (size, crc, n) = writer.finish().unwrap();
        assert_eq!(n, 3);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
        assert!(!path.with_extension("fst-part").exists());

        for access in [Access::Mmap, Access::Pread] {
            let lex =
                Lexicon::open(open(&path, access).unwrap(), FileKind::Terms, Some(crc)).unwrap();
            let offset = lex.map().get("gamma").unwrap();
            assert_eq!(&*lex.list(offset).unwrap(), b"three");
            assert_eq!(&*lex.list(lex.map().get("beta").unwrap()).unwrap(), b"");
            assert!(lex.list(1 << 40).is_err());
        }
        assert!(
            Lexicon::open(open(&path, Access::Mmap).unwrap(), FileKind::Aliases, None).is_err()
        );

        let good = std::fs::read(&path).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x04;
            let storage = Arc::new(crate::storage::MemStorage::new(path.clone(), bad));
            let result = Lexicon::open(storage, FileKind::Terms, Some(crc)).and_then(|lex| {
                for key in ["alpha", "beta", "gamma"] {
                    let offset = lex
                        .map()
                        .get(key)
                        .ok_or_else(|| Error::corrupt("x", "key lost"))?;
                    lex.list(offset)?;
                }
                Ok(())
            });
            assert!(result.is_err(), "flipping byte {i} went unnoticed");
        }
    }
}

/// Walks `map` over `tokens[start..]` joined by single spaces and returns, for
/// every `end` (at most `max_tokens` tokens after `start`) such that
/// `tokens[start..end].join(" ")` is a key, the pair `(end, value)`, shortest first.
pub(crate) fn token_prefix_matches<D: AsRef<[u8]>>(
    map: &fst::Map<D>,
    tokens: &[&str],
    start: usize,
    max_tokens: usize,
) -> Vec<(usize, u64)> {
    let mut out = Vec::new();
    for_each_token_prefix_match(map, tokens, start, max_tokens, |end, value| {
        out.push((end, value));
    });
    out
}

/// Calls `f(end, value)` for each match [`token_prefix_matches`] returns, in
/// the same order, without collecting them.
pub(crate) fn for_each_token_prefix_match<D: AsRef<[u8]>, T: AsRef<[u8]>>(
    map: &fst::Map<D>,
    tokens: &[T],
    start: usize,
    max_tokens: usize,
    f: impl FnMut(usize, u64),
) {
    let Some(first) = tokens.get(start) else {
        return;
    };
    if let Some(state) = walk_first_token(map, first.as_ref()) {
        continue_token_prefix_match(map, tokens, start, max_tokens, state, f);
    }
}

/// Where a key's walk stands after one token: (node address, output so far).
pub(crate) type TokenState = (fst::raw::CompiledAddr, u64);

/// The state after walking `token` from the root, or `None` when no key
/// starts with it (or it is empty). Depends only on the token, so callers
/// scanning much text may remember it per distinct token.
pub(crate) fn walk_first_token<D: AsRef<[u8]>>(
    map: &fst::Map<D>,
    token: &[u8],
) -> Option<TokenState> {
    if token.is_empty() {
        return None;
    }
    let fst = map.as_fst();
    let mut node = fst.root();
    let mut output = fst::raw::Output::zero();
    for &byte in token {
        let i = node.find_input(byte)?;
        let transition = node.transition(i);
        output = output.cat(transition.out);
        node = fst.node(transition.addr);
    }
    Some((node.addr(), output.value()))
}

/// [`for_each_token_prefix_match`] from the state `walk_first_token` gave
/// for `tokens[start]`.
pub(crate) fn continue_token_prefix_match<D: AsRef<[u8]>, T: AsRef<[u8]>>(
    map: &fst::Map<D>,
    tokens: &[T],
    start: usize,
    max_tokens: usize,
    state: TokenState,
    mut f: impl FnMut(usize, u64),
) {
    let fst = map.as_fst();
    let mut node = fst.node(state.0);
    let mut output = fst::raw::Output::new(state.1);
    if node.is_final() {
        f(start + 1, output.cat(node.final_output()).value());
    }
    let end_limit = tokens.len().min(start.saturating_add(max_tokens));
    'tokens: for (end, token) in tokens.iter().enumerate().take(end_limit).skip(start + 1) {
        match node.find_input(b' ') {
            Some(i) => {
                let transition = node.transition(i);
                output = output.cat(transition.out);
                node = fst.node(transition.addr);
            }
            None => break,
        }
        let token = token.as_ref();
        if token.is_empty() {
            break;
        }
        for &byte in token {
            match node.find_input(byte) {
                Some(i) => {
                    let transition = node.transition(i);
                    output = output.cat(transition.out);
                    node = fst.node(transition.addr);
                }
                None => break 'tokens,
            }
        }
        if node.is_final() {
            f(end + 1, output.cat(node.final_output()).value());
        }
    }
}

#[cfg(test)]
mod match_tests {
    use super::*;

    #[test]
    fn token_prefixes() {
        let map = fst::Map::from_iter([
            ("new", 1u64),
            ("new york", 2),
            ("new york city", 3),
            ("york", 4),
        ])
        .unwrap();
        let tokens = ["new", "york", "city", "hall"];
        assert_eq!(
            token_prefix_matches(&map, &tokens, 0, 20),
            vec![(1, 1), (2, 2), (3, 3)]
        );
        assert_eq!(
            token_prefix_matches(&map, &tokens, 0, 2),
            vec![(1, 1), (2, 2)]
        );
        assert_eq!(token_prefix_matches(&map, &tokens, 1, 20), vec![(2, 4)]);
        assert_eq!(token_prefix_matches(&map, &tokens, 3, 20), vec![]);
        assert_eq!(token_prefix_matches(&map, &["newyork"], 0, 20), vec![]);
    }
}
