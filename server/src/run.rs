//! Starting and stopping a server: migrations, workers, senders, HTTP, shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::config::Config;
use crate::game::Game;
use crate::http::{AppState, ReadinessHook, app};
use crate::messenger::{Inbound, Messenger};
use crate::queue::{Sender, Worker};
use crate::store::{StoreError, StoreOptions, open_store, redact_url};

/// Errors that stop a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The store cannot be opened or migrated.
    #[error("failed to open the store at {url}")]
    Store {
        /// The database URL without its password.
        url: String,
        /// The cause.
        #[source]
        source: StoreError,
    },
    /// The listen address cannot be bound.
    #[error("failed to listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("http server failed")]
    Serve(#[source] std::io::Error),
}

/// A server with its store open (migrations applied) and its port bound, not yet
/// serving. Use it to learn the bound address (port 0 in tests) before [`Server::run`].
pub struct Server {
    listener: TcpListener,
    state: AppState,
    shutdown_tx: watch::Sender<bool>,
}

impl Server {
    /// Opens the store (applying migrations) and binds the listen address.
    pub async fn bind(
        config: Config,
        game: Arc<dyn Game>,
        ready: ReadinessHook,
    ) -> Result<Server, RunError> {
        let url = config.database_url.clone();
        tracing::info!(database = %redact_url(&url), "opening store");
        let options = StoreOptions {
            max_connections: config.db_max_connections,
            ..StoreOptions::default()
        };
        let store = open_store(&url, &options)
            .await
            .map_err(|source| RunError::Store {
                url: redact_url(&url),
                source,
            })?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| RunError::Bind {
                addr: config.listen,
                source,
            })?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let state = AppState::new(config, store, game)
            .with_ready(ready)
            .with_shutdown(shutdown_rx);
        Ok(Server {
            listener,
            state,
            shutdown_tx,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.config.listen)
    }

    /// The shared state (store, metrics...).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Registers a platform's sender.
    pub fn with_messenger(mut self, messenger: Arc<dyn Messenger>) -> Server {
        self.state = self.state.with_messenger(messenger);
        self
    }

    /// Registers both sides of a platform adapter.
    pub fn with_platform(mut self, adapter: crate::messenger::PlatformAdapter) -> Server {
        self.state = self
            .state
            .with_messenger(adapter.messenger)
            .with_inbound(adapter.inbound);
        self
    }

    /// Registers a platform's webhook adapter.
    pub fn with_inbound(mut self, inbound: Arc<dyn Inbound>) -> Server {
        self.state = self.state.with_inbound(inbound);
        self
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Server {
        self.state = self.state.with_clock(clock);
        self
    }

    /// Serves until `shutdown` completes, then stops accepting connections, lets
    /// in-flight requests, turns and sends finish (up to the configured grace period)
    /// and closes the store. Work not started stays in the queue for other servers.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RunError> {
        let Server {
            listener,
            state,
            shutdown_tx,
        } = self;
        let config = Arc::clone(&state.config);
        let addr = listener.local_addr().unwrap_or(config.listen);
        let settings = config.queue_settings();
        let instance = format!(
            "{}-{:06x}",
            std::process::id(),
            rand::random::<u32>() & 0xff_ffff
        );
        let shutdown_rx = shutdown_tx.subscribe();

        let mut tasks = JoinSet::new();
        for index in 0..config.workers {
            let worker = Worker::new(
                format!("{instance}-w{index}"),
                Arc::clone(&state.store),
                Arc::clone(&state.game),
                Arc::clone(&state.clock),
                Arc::clone(&state.metrics),
                settings.clone(),
            );
            tasks.spawn(worker.run(shutdown_rx.clone()));
        }
        for index in 0..config.senders {
            let sender = Sender::new(
                format!("{instance}-s{index}"),
                Arc::clone(&state.store),
                state.messengers.clone(),
                Arc::clone(&state.clock),
                Arc::clone(&state.metrics),
                settings.clone(),
            );
            tasks.spawn(sender.run(shutdown_rx.clone()));
        }
        tasks.spawn(purge_loop(state.clone(), shutdown_rx.clone()));
        tracing::info!(
            %addr,
            store = state.store.kind(),
            workers = config.workers,
            senders = config.senders,
            platforms = ?state.messengers.platforms(),
            "serving"
        );

        let shutdown_tx = Arc::new(shutdown_tx);
        let signal_tx = Arc::clone(&shutdown_tx);
        let graceful = async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, finishing in-flight work");
            let _ = signal_tx.send(true);
        };
        let served = axum::serve(listener, app(state.clone()))
            .with_graceful_shutdown(graceful)
            .await
            .map_err(RunError::Serve);
        // Also stop the queue when the HTTP server ended on its own.
        let _ = shutdown_tx.send(true);

        let grace = Duration::from_secs(config.shutdown_grace_secs);
        let drained = tokio::time::timeout(grace, async {
            while let Some(joined) = tasks.join_next().await {
                if let Err(error) = joined {
                    tracing::error!(%error, "queue task failed");
                }
            }
        })
        .await;
        if drained.is_err() {
            // Their leases expire and other servers take the work over.
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "grace period over; abandoning work"
            );
            tasks.abort_all();
        }
        state.store.close().await;
        tracing::info!("stopped");
        served
    }
}

/// Deletes finished rows older than the retention period, hourly.
async fn purge_loop(state: AppState, mut shutdown: watch::Receiver<bool>) {
    const EVERY: Duration = Duration::from_secs(3600);
    let retention = Duration::from_secs(state.config.retention_days.saturating_mul(86_400));
    loop {
        let before = state
            .clock
            .now()
            .as_millis()
            .saturating_sub(retention.as_millis() as i64);
        match state.store.purge(crate::model::Timestamp(before)).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "purged finished rows"),
            Err(error) => tracing::warn!(%error, "purge failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}

/// Runs a server until `shutdown` completes (see [`Server::run`]): applies the
/// migrations, starts `config.workers` workers and `config.senders` senders, and
/// serves HTTP on `config.listen`.
pub async fn run(
    config: Config,
    game: Arc<dyn Game>,
    ready: ReadinessHook,
    platforms: Vec<crate::messenger::PlatformAdapter>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let mut server = Server::bind(config, game, ready).await?;
    for adapter in platforms {
        server = server.with_platform(adapter);
    }
    server.run(shutdown).await
}

/// Completes on SIGTERM or SIGINT (Ctrl-C); pass it to [`run`].
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
