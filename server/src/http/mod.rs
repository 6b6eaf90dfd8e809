//! The HTTP surface: health, metrics, the web chat and messenger webhooks.
//!
//! Handlers verify, enqueue and answer; no handler waits for a game turn.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use tokio::sync::{Notify, watch};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::AppError;
use crate::game::Game;
use crate::messenger::{Inbound, Messenger, Messengers, WebMessenger};
use crate::metrics::Metrics;
use crate::store::Store;

pub(crate) mod batcher;
mod health;
mod webchat;
mod webhook;

/// Tells whether the server can serve games (e.g. "the index is open"). `/readyz`
/// answers 503 while it returns false.
pub type ReadinessHook = Arc<dyn Fn() -> bool + Send + Sync>;

/// Returns a readiness hook that is always ready.
pub fn always_ready() -> ReadinessHook {
    Arc::new(|| true)
}

/// Everything the handlers, workers and senders share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The configuration.
    pub config: Arc<Config>,
    /// The store (PostgreSQL or SQLite).
    pub store: Arc<dyn Store>,
    /// The game rules.
    pub game: Arc<dyn Game>,
    /// Enabled platforms.
    pub messengers: Messengers,
    /// The clock passed into turns and queue decisions.
    pub clock: Arc<dyn Clock>,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// The readiness hook.
    pub ready: ReadinessHook,
    web_delivered: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
    inbox: Arc<batcher::InboxBatcher>,
}

impl AppState {
    /// Creates the state with the web chat messenger registered, the system clock,
    /// and an always-true readiness hook.
    pub fn new(config: Config, store: Arc<dyn Store>, game: Arc<dyn Game>) -> AppState {
        let web = WebMessenger::new(Arc::clone(&store));
        let web_delivered = web.delivered();
        let messengers = Messengers::new().with_messenger(Arc::new(web));
        // A receiver whose sender is gone reads `false` forever: "not shutting down".
        let (_, shutdown) = watch::channel(false);
        let inbox = Arc::new(batcher::InboxBatcher::new(Arc::clone(&store)));
        AppState {
            config: Arc::new(config),
            store,
            game,
            messengers,
            clock: Arc::new(SystemClock),
            metrics: Arc::new(Metrics::new()),
            ready: always_ready(),
            web_delivered,
            shutdown,
            inbox,
        }
    }

    /// Registers a platform's sender.
    pub fn with_messenger(mut self, messenger: Arc<dyn Messenger>) -> AppState {
        self.messengers = self.messengers.with_messenger(messenger);
        self
    }

    /// Registers a platform's webhook adapter.
    pub fn with_inbound(mut self, inbound: Arc<dyn Inbound>) -> AppState {
        self.messengers = self.messengers.with_inbound(inbound);
        self
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> AppState {
        self.clock = clock;
        self
    }

    /// Replaces the readiness hook.
    pub fn with_ready(mut self, ready: ReadinessHook) -> AppState {
        self.ready = ready;
        self
    }

    /// Ends long polls early when `shutdown` turns true.
    pub fn with_shutdown(mut self, shutdown: watch::Receiver<bool>) -> AppState {
        self.shutdown = shutdown;
        self
    }
}

/// How long any request may take (long polls wait at most 20 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the router: `/healthz`, `/readyz`, `/metrics`, the web chat (`/`,
/// `/api/chat/...`) when enabled, and `/webhooks/{platform}`.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", axum::routing::get(health::healthz))
        .route("/readyz", axum::routing::get(health::readyz))
        .route("/metrics", axum::routing::get(health::metrics))
        .route(
            "/webhooks/{platform}",
            axum::routing::post(webhook::receive).get(webhook::subscription),
        );
    if state.config.web_chat {
        router = router.merge(webchat::router());
    }
    let body_limit = state.config.max_body_bytes;
    router
        .fallback(|| async {
            AppError::NotFound {
                code: "not_found",
                message: "no such route".into(),
            }
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                        let request_id = request
                            .headers()
                            .get("x-request-id")
                            .and_then(|value| value.to_str().ok())
                            .unwrap_or("");
                        tracing::info_span!(
                            "request",
                            method = %request.method(),
                            path = %request.uri().path(),
                            request_id,
                        )
                    }),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    REQUEST_TIMEOUT,
                )),
        )
        .with_state(state)
}
