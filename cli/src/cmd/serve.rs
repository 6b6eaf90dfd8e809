//! `fraser serve`: the chat bot server over an index directory.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

/// Loads the settings, opens the index and runs the server until SIGTERM/SIGINT.
pub fn run(matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let config = server::Config::from_matches(matches).context("invalid server settings")?;
    let index_dir = config.index.clone().context(
        "no index: give --index DIR (or FRASER_INDEX); build one with `fraser build DUMP --out DIR`",
    )?;
    let platforms = server::messenger::from_env(&server::messenger::common::Env::process())
        .context("invalid messenger settings")?;
    let opened = open_index(&index_dir)?;
    let reload_every = Duration::from_secs(config.index_reload_secs);
    let game = Arc::new(server::WordGames::over_opened(opened));
    let ready: server::ReadinessHook = Arc::new(|| true);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()
        .context("failed to start the async runtime")?;
    // Ends with the runtime when the server stops.
    runtime.spawn(server::watch_index(
        Arc::clone(&game),
        index_dir,
        reload_every,
    ));
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

/// Opens an index directory for serving (every file opened and checked) with a
/// clear error.
pub fn open_index(dir: &Path) -> anyhow::Result<server::OpenedIndex> {
    let opened = server::open_index(dir).with_context(|| {
        format!(
            "failed to open the index {} (build one with `fraser build DUMP --out {}`)",
            dir.display(),
            dir.display()
        )
    })?;
    let index = &opened.index;
    tracing::info!(
        index = %index.path().display(),
        build = %opened.build,
        articles = index.manifest().counts.articles,
        shards = index.manifest().shards.len(),
        "index opened"
    );
    Ok(opened)
}
