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
        Ok(Ok(())) => {
            let mut body = json!({ "status": "ready", "store": state.store.kind() });
            if let (serde_json::Value::Object(game), Some(body)) =
                (state.game.describe(), body.as_object_mut())
            {
                body.extend(game);
            }
            Ok(Json(body))
        }
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
        state.metrics.render(stats) + &index_metrics(&state.game.describe()),
    )
}

/// The served index as Prometheus gauges (empty when the game reads no index).
fn index_metrics(described: &serde_json::Value) -> String {
    let index = &described["index"];
    let Some(generation) = index["generation"].as_u64() else {
        return String::new();
    };
    let build = index["build"].as_str().unwrap_or_default();
    let articles = index["articles"].as_u64().unwrap_or_default();
    format!(
        "# HELP fraser_index_generation Index generation served (1 at start, +1 per replacement).\n\
         # TYPE fraser_index_generation gauge\n\
         fraser_index_generation{{build=\"{build}\"}} {generation}\n\
         # HELP fraser_index_articles Articles in the served index.\n\
         # TYPE fraser_index_articles gauge\n\
         fraser_index_articles {articles}\n"
    )
}
