//! `/healthz` (the process answers), `/readyz` (store reachable and the readiness hook
//! true) and `/metrics` (Prometheus text).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;

use super::AppState;
use crate::error::AppError;

/// How long a health or metrics probe waits for the store.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

pub(super) async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    if !(state.ready)() {
        return Err(AppError::NotReady);
    }
    match tokio::time::timeout(PROBE_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => Ok(Json(
            json!({ "status": "ready", "store": state.store.kind() }),
        )),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: store check failed");
            Err(AppError::StoreUnavailable)
        }
        Err(_) => Err(AppError::StoreUnavailable),
    }
}

pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let stats = match tokio::time::timeout(PROBE_TIMEOUT, state.store.stats()).await {
        Ok(Ok(stats)) => Some(stats),
        _ => None,
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(stats),
    )
}
