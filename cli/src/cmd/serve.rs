//! `fraser serve`: the chat bot server over an index directory.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

/// Loads the settings, opens the index and runs the server until SIGTERM/SIGINT.
pub fn run(matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let config = server::Config::from_matches(matches).context("invalid server settings")?;
    let index_dir = config.index.clone().context(
        "no index: give --index DIR (or FRASER_INDEX); build one with `fraser build DUMP --out DIR`",
    )?;
    let platforms = server::messenger::from_env(&server::messenger::common::Env::process())
        .context("invalid messenger settings")?;
    let index = open_index(&index_dir)?;
    let game = Arc::new(server::WordGames::over_index(Arc::clone(&index)));
    let ready: server::ReadinessHook = Arc::new(|| true);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()
        .context("failed to start the async runtime")?;
    runtime
        .block_on(server::run(
            config,
            game,
            ready,
            platforms,
            server::shutdown_signal(),
        ))
        .context("server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// Opens an index directory with a clear error.
pub fn open_index(dir: &Path) -> anyhow::Result<Arc<index::Index>> {
    let index = index::Index::open(dir).with_context(|| {
        format!(
            "failed to open the index {} (build one with `fraser build DUMP --out {}`)",
            dir.display(),
            dir.display()
        )
    })?;
    tracing::info!(
        index = %dir.display(),
        articles = index.manifest().counts.articles,
        shards = index.manifest().shards.len(),
        "index opened"
    );
    Ok(Arc::new(index))
}
