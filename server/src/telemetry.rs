//! Logging set-up for the binaries (libraries only emit events and spans).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The filter when `RUST_LOG` is unset.
pub const DEFAULT_LOG_FILTER: &str = "server=info,tower_http=info";

/// Installs the global subscriber: `RUST_LOG` filtering (default
/// [`DEFAULT_LOG_FILTER`]), human or JSON lines on stderr. Returns false if a
/// subscriber was already installed.
pub fn init_tracing(format: LogFormat) -> bool {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.try_init().is_ok(),
        LogFormat::Json => builder.json().flatten_event(true).try_init().is_ok(),
    }
}
