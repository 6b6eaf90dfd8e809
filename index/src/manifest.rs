//! `manifest.json`: what an index holds and the checksums of its files.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The manifest's file name; it is written last, so an index directory without
/// it is incomplete.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The contents of `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// The format version of every file in the directory ([`crate::FORMAT_VERSION`]).
    pub format_version: u32,
    /// The library that wrote the index (`index <crate version>`).
    pub generator: String,
    /// Source metadata supplied by the caller (e.g. dbname, date, lang,
    /// generator, input file name and size, build time if wanted).
    pub metadata: serde_json::Value,
    /// The options the index was built with.
    pub options: BuildOptions,
    /// What the index holds.
    pub counts: Counts,
    /// The zstd dictionary shared by the shards, when one was used.
    pub dictionary: Option<DictionaryEntry>,
    /// The shards, in order (article records are numbered by shard and ordinal).
    pub shards: Vec<FileEntry>,
    /// The global files.
    pub files: Vec<FileEntry>,
}

/// Options that shape the files (the memory budget does not, and is not recorded).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BuildOptions {
    /// A shard is closed once its uncompressed record bytes reach this size.
    pub shard_size: u64,
    /// Target uncompressed size of one zstd block of article records.
    pub block_size: u64,
    /// Target uncompressed size of one zstd block of `terms.lex`. Absent from
    /// the manifests of earlier builds, whose term blocks were `block_size`
    /// (16 KiB by default), and read as 16 KiB there.
    #[serde(default = "earlier_term_block_size")]
    pub term_block_size: u64,
    /// zstd compression level.
    pub zstd_level: i32,
    /// Whether a dictionary was allowed (it is used only when it helps).
    pub dictionary: bool,
    /// Mentions whose link probability is below this are not linked by `Index::link`.
    pub min_link_prob: f64,
    /// Alias candidates whose prior probability is below this are dropped.
    pub min_prior_prob: f64,
    /// Aliases longer than this many tokens are dropped.
    pub max_mention_len: u32,
    /// Redirect chains are followed at most this many hops.
    pub max_redirect_hops: u32,
}

fn earlier_term_block_size() -> u64 {
    16 << 10
}

impl Default for BuildOptions {
    fn default() -> BuildOptions {
        BuildOptions {
            shard_size: 64 << 20,
            block_size: 16 << 10,
            term_block_size: 4 << 10,
            zstd_level: 3,
            dictionary: true,
            min_link_prob: 0.2,
            min_prior_prob: 0.01,
            max_mention_len: 20,
            max_redirect_hops: 4,
        }
    }
}

/// Counts of what the index holds and what the build dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Counts {
    /// Articles stored (distinct ids).
    pub articles: u64,
    /// Articles dropped because their id was already added.
    pub duplicate_ids: u64,
    /// Articles whose title key was already taken (their record is stored, but
    /// the title resolves to the first article).
    pub duplicate_titles: u64,
    /// Redirects stored (resolved to an existing article).
    pub redirects: u64,
    /// Redirects dropped: target missing, chain too long or a loop.
    pub redirects_dropped: u64,
    /// Redirects dropped because an article has the same title key.
    pub redirects_shadowed: u64,
    /// Shards written.
    pub shards: u64,
    /// Sentences over all articles (from the records' `n_sentences`).
    pub sentences: u64,
    /// Links given as anchors.
    pub links: u64,
    /// Links whose target resolved to an article.
    pub links_resolved: u64,
    /// Keys in the alias lexicon.
    pub aliases: u64,
    /// Keys in the term lexicon.
    pub terms: u64,
    /// (article, sentence) postings over all terms.
    pub postings: u64,
}

/// One file named by the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileEntry {
    /// File name inside the index directory.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// The CRC32 stored in the file's footer.
    pub crc32: u32,
    /// Records (shards), keys (lexicons) or rows (tables).
    pub items: u64,
}

/// The shared zstd dictionary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DictionaryEntry {
    /// The file holding it.
    pub file: FileEntry,
    /// The id the shards' trailers refer to.
    pub id: u32,
    /// Measured saving on the sample blocks, in per mille of the size without it.
    pub saving_per_mille: u32,
}

impl Manifest {
    /// Reads and parses `dir/manifest.json`, checking the format version.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let version: Version = serde_json::from_slice(&bytes)
            .map_err(|e| Error::corrupt(&path, format!("not a manifest: {e}")))?;
        if version.format_version != crate::FORMAT_VERSION {
            return Err(Error::FormatVersion {
                path,
                expected: crate::FORMAT_VERSION,
                found: version.format_version,
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::corrupt(&path, format!("not a manifest: {e}")))
    }

    /// Finds a global file by name.
    pub fn file(&self, name: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.name == name)
    }

    /// Writes `dir/manifest.json` atomically: a temporary file, fsync, rename, fsync of the directory.
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MANIFEST_FILE);
        let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::invalid(format!("encoding manifest: {e}")))?;
        bytes.push(b'\n');
        let mut file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        file.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        sync_dir(dir)
    }
}

/// Fsyncs a directory so that renames inside it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_of_earlier_builds_read_with_their_term_block_size() {
        let mut json = serde_json::to_value(BuildOptions::default()).unwrap();
        assert_eq!(json["term_block_size"], 4096);
        json.as_object_mut().unwrap().remove("term_block_size");
        let options: BuildOptions = serde_json::from_value(json).unwrap();
        assert_eq!(options.term_block_size, 16 << 10);
    }
}
