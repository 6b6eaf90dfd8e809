//! Replacing the index under a running server.
//!
//! `fraser build --out DIR` over a served directory renames the finished build over
//! `DIR` (the old directory is renamed aside, then removed), and a deployment may
//! instead point a symlink at a new build. [`watch_index`] notices either within a few
//! seconds by polling the identity of `DIR/manifest.json` (the file a build writes
//! last), opens the new index with [`open_index`] and swaps it into the
//! [`WordGames`] with [`WordGames::replace_index`]; no restart.
//!
//! Rules:
//! - A turn reads one index from start to end: it takes an `Arc` of the current games
//!   when it starts, so a swap never changes the index under a turn in flight.
//! - [`open_index`] resolves symlinks and opens every file at once
//!   ([`index::Index::open_all`]), so an open index no longer depends on the
//!   directory's path: the next replacement cannot pull files from under it.
//! - A new directory that does not open, lacks a file, fails a checksum or answers a
//!   probe wrongly is refused with one warning, and the current index stays; the
//!   watcher tries again while the manifest differs from the served one.
//! - Rounds in flight keep working on the new index: a round holds its answer's title
//!   and its clues, and the games trust an article of the new index only when it has
//!   the round's title (an id may name another article in another build).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::Digest;

use crate::wordgames::WordGames;

/// The manifest's file name (written last by a build).
const MANIFEST: &str = "manifest.json";

/// Why a directory cannot be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenIndexError {
    /// The directory or its manifest cannot be read.
    #[error("failed to read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The index does not open (missing or damaged file, other format version).
    #[error("failed to open the index {path}")]
    Index {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: index::Error,
    },
    /// The index opens but does not answer as an index of articles should.
    #[error("the index {path} fails its probe: {reason}")]
    Probe {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// An index ready to serve, with what identifies its build.
pub struct OpenedIndex {
    /// The index, every file open.
    pub index: Arc<index::Index>,
    /// The build id: the first 12 hex digits of the SHA-256 of `manifest.json`.
    pub build: String,
}

/// Opens an index directory for serving: resolves symlinks, reads the manifest,
/// opens every file (checking each as its first use would) and probes it (a random
/// article reads and is found again by its title).
pub fn open_index(dir: &Path) -> Result<OpenedIndex, OpenIndexError> {
    let real = std::fs::canonicalize(dir).map_err(|source| OpenIndexError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let manifest_path = real.join(MANIFEST);
    let bytes = std::fs::read(&manifest_path).map_err(|source| OpenIndexError::Io {
        path: manifest_path,
        source,
    })?;
    let index_error = |source| OpenIndexError::Index {
        path: real.clone(),
        source,
    };
    let index = index::Index::open(&real).map_err(index_error)?;
    index.open_all().map_err(index_error)?;
    probe(&index).map_err(|reason| OpenIndexError::Probe {
        path: real.clone(),
        reason,
    })?;
    Ok(OpenedIndex {
        index: Arc::new(index),
        build: build_id(&bytes),
    })
}

fn build_id(manifest: &[u8]) -> String {
    let digest = sha2::Sha256::digest(manifest);
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn probe(index: &index::Index) -> Result<(), String> {
    if index.manifest().counts.articles == 0 {
        return Err("it holds no article".into());
    }
    let filter = index::RandomFilter::default();
    let id = index
        .random(0x5eed, &filter)
        .map_err(|e| e.to_string())?
        .ok_or("no random article")?;
    let article = index
        .article(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("article {id} is listed but missing"))?;
    let found = index
        .title(&nlp::fold(&article.title))
        .map_err(|e| e.to_string())?;
    if found.is_none() {
        return Err(format!("the title {:?} is not found", article.title));
    }
    Ok(())
}

/// What the watcher compares: where the path leads and the manifest file's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    real: PathBuf,
    file: (u64, u64, i64, i64, u64),
}

fn identity(dir: &Path) -> std::io::Result<Identity> {
    let real = std::fs::canonicalize(dir)?;
    let meta = std::fs::metadata(real.join(MANIFEST))?;
    #[cfg(unix)]
    let file = {
        use std::os::unix::fs::MetadataExt;
        (
            meta.dev(),
            meta.ino(),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.len(),
        )
    };
    #[cfg(not(unix))]
    let file = {
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default();
        (
            0,
            0,
            modified.as_secs() as i64,
            i64::from(modified.subsec_nanos()),
            meta.len(),
        )
    };
    Ok(Identity { real, file })
}

/// Polls `dir` every `every` and swaps a new build into `games` (see the module
/// docs). Runs until the process ends; returns at once when `every` is zero.
pub async fn watch_index(games: Arc<WordGames>, dir: PathBuf, every: Duration) {
    if every.is_zero() {
        return;
    }
    let mut served = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || identity(&dir).ok())
            .await
            .ok()
            .flatten()
    };
    let mut last_error: Option<String> = None;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let games = Arc::clone(&games);
        let dir_now = dir.clone();
        let seen = served.clone();
        let checked = tokio::task::spawn_blocking(move || check(&games, &dir_now, seen)).await;
        match checked {
            Ok(Ok(Some(identity))) => {
                served = Some(identity);
                last_error = None;
            }
            Ok(Ok(None)) => {}
            Ok(Err(error)) => {
                // Logged once per distinct error: a directory being copied into place
                // fails the same way every few seconds until it is complete.
                if last_error.as_deref() != Some(error.as_str()) {
                    tracing::warn!(index = %dir.display(), %error, "new index refused; still serving the current one");
                    last_error = Some(error);
                }
            }
            Err(error) => tracing::warn!(%error, "index check failed"),
        }
    }
}

/// One poll: `Ok(Some(identity))` after a swap (or when only the file's identity
/// changed), `Ok(None)` when nothing changed, `Err` when the new directory was refused.
fn check(
    games: &WordGames,
    dir: &Path,
    served: Option<Identity>,
) -> Result<Option<Identity>, String> {
    let now = match identity(dir) {
        Ok(now) => now,
        // Between the two renames of a rebuild the path is briefly missing.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("{}: {error}", dir.display())),
    };
    if served.as_ref() == Some(&now) {
        return Ok(None);
    }
    let opened = open_index(dir).map_err(|error| DisplayChain(&error).to_string())?;
    if games.build().as_deref() == Some(opened.build.as_str()) {
        // The same bytes (the manifest was copied or touched): keep the open index.
        return Ok(Some(now));
    }
    let articles = opened.index.manifest().counts.articles;
    let generation = games.replace_index(opened.index, opened.build.clone());
    tracing::info!(
        index = %now.real.display(),
        build = %opened.build,
        generation,
        articles,
        "index replaced"
    );
    Ok(Some(now))
}

/// Formats an error with its sources, `a: b: c`.
struct DisplayChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}
