//! Installs the `tracing` subscriber for the binary.

use tracing_subscriber::EnvFilter;

use crate::args::LogFormat;

/// Installs a stderr subscriber filtered by `RUST_LOG` (default: info for Fraser's crates).
pub fn init(format: LogFormat, quiet: bool) {
    let default = if quiet {
        "warn"
    } else {
        "fraser=info,fraser_cli=info,dump=info,index=info,server=info,tower_http=info,warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
