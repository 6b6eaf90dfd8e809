//! The built-in web chat: a page at `/` and a small JSON API under `/api/chat/{chat_id}`.
//! Messages enter the same inbox as any platform's (platform `web`); replies come back
//! through the [`WebMessenger`](crate::WebMessenger) into the store, where the page
//! polls them by cursor, so any server of a deployment can answer any poll.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::error::AppError;
use crate::messenger::web::WEB_PLATFORM;
use crate::model::InboundMessage;
use crate::store::{Enqueued, WebReply};

const PAGE: &str = include_str!("page.html");
/// Longest wait of a long poll.
const MAX_WAIT: Duration = Duration::from_secs(20);
/// How often a long poll re-reads the store (replies delivered by other servers).
const POLL_EVERY: Duration = Duration::from_millis(500);
const MAX_TEXT_CHARS: usize = 2000;
const MAX_NAME_CHARS: usize = 64;
const MAX_ID_CHARS: usize = 128;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/api/chat/{chat_id}/messages", post(post_message))
        .route("/api/chat/{chat_id}/replies", get(replies))
}

async fn page() -> impl IntoResponse {
    (
        [
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
            ),
        ],
        Html(PAGE),
    )
}

/// Body of `POST /api/chat/{chat_id}/messages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostMessage {
    sender_name: String,
    text: String,
    /// Client-chosen id; a retried POST with the same id is stored once.
    #[serde(default)]
    message_id: Option<String>,
    /// Stable player id (the page keeps a random one per browser); defaults to the name.
    #[serde(default)]
    sender_id: Option<String>,
    #[serde(default)]
    is_group: bool,
}

#[derive(Debug, Serialize)]
struct Posted {
    message_id: String,
    duplicate: bool,
}

fn validate_chat_id(chat_id: &str) -> Result<(), AppError> {
    let valid = (1..=64).contains(&chat_id.len())
        && chat_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if valid {
        Ok(())
    } else {
        Err(AppError::bad_request(
            "invalid_chat_id",
            "chat ids are 1-64 of A-Z a-z 0-9 _ -",
        ))
    }
}

fn bounded(field: &str, value: &str, max_chars: usize) -> Result<String, AppError> {
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > max_chars {
        return Err(AppError::bad_request(
            "invalid_message",
            format!("{field} must be 1 to {max_chars} characters"),
        ));
    }
    Ok(trimmed.to_string())
}

async fn post_message(
    State(state): State<AppState>,
    Path(chat_id): Path<String>,
    body: Result<Json<PostMessage>, JsonRejection>,
) -> Result<impl IntoResponse, AppError> {
    validate_chat_id(&chat_id)?;
    let Json(body) = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::bad_request("malformed_body", rejection.body_text())
        }
    })?;
    let sender_name = bounded("sender_name", &body.sender_name, MAX_NAME_CHARS)?;
    let text = bounded("text", &body.text, MAX_TEXT_CHARS)?;
    let message_id = match body.message_id {
        Some(id) => bounded("message_id", &id, MAX_ID_CHARS)?,
        None => format!("{:032x}", rand::random::<u128>()),
    };
    let sender_id = match body.sender_id {
        Some(id) => bounded("sender_id", &id, MAX_ID_CHARS)?,
        None => sender_name.clone(),
    };
    let message = InboundMessage {
        platform: WEB_PLATFORM.to_string(),
        // Web message ids are only unique per browser, so scope them by chat.
        message_id: format!("{chat_id}/{message_id}"),
        chat_id,
        sender_id,
        sender_name,
        text,
        is_group: body.is_group,
        reply_context: serde_json::Value::Null,
        received_at: state.clock.now(),
    };
    let (_, outcomes) = state.inbox.enqueue(vec![message]).await?;
    let duplicate = outcomes.first() == Some(&Enqueued::Duplicate);
    state.metrics.message_received(duplicate);
    Ok((
        StatusCode::ACCEPTED,
        Json(Posted {
            message_id,
            duplicate,
        }),
    ))
}

/// Query of `GET /api/chat/{chat_id}/replies`.
#[derive(Debug, Deserialize)]
struct RepliesQuery {
    /// Cursor: the last reply id seen (0 for all).
    #[serde(default)]
    after: i64,
    /// Seconds to wait for a reply when there is none yet (0 to 20).
    #[serde(default)]
    wait: u64,
}

#[derive(Debug, Serialize)]
struct Replies {
    replies: Vec<WebReply>,
    /// The cursor for the next poll.
    next: i64,
}

async fn replies(
    State(state): State<AppState>,
    Path(chat_id): Path<String>,
    query: Result<Query<RepliesQuery>, QueryRejection>,
) -> Result<impl IntoResponse, AppError> {
    validate_chat_id(&chat_id)?;
    let Query(query) = query
        .map_err(|rejection| AppError::bad_request("malformed_body", rejection.body_text()))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(query.wait).min(MAX_WAIT);
    let mut shutdown = state.shutdown.clone();
    loop {
        let delivered = state.web_delivered.notified();
        tokio::pin!(delivered);
        delivered.as_mut().enable();
        let replies = state.store.web_replies(&chat_id, query.after, 100).await?;
        let now = tokio::time::Instant::now();
        if !replies.is_empty() || now >= deadline || *shutdown.borrow() {
            let next = replies.last().map_or(query.after, |reply| reply.id);
            return Ok(Json(Replies { replies, next }));
        }
        tokio::select! {
            _ = &mut delivered => {}
            _ = tokio::time::sleep(POLL_EVERY.min(deadline - now)) => {}
            _ = shutdown.changed() => {}
        }
    }
}
