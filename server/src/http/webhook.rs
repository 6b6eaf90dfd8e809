//! `POST /webhooks/{platform}`: verify the signature on the raw body, parse, store every
//! message in the inbox, then answer 200. Nothing is answered 200 unless stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::error::AppError;
use crate::messenger::WebhookResponse;
use crate::store::Enqueued;

fn unknown_platform(platform: &str) -> AppError {
    AppError::NotFound {
        code: "unknown_platform",
        message: format!("no enabled platform named {platform:?}"),
    }
}

pub(super) async fn receive(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AppError> {
    let inbound = state
        .messengers
        .inbound(&platform)
        .ok_or_else(|| unknown_platform(&platform))?;
    check_content_type(&headers, inbound.content_types())?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::bad_request("malformed_body", rejection.body_text())
        }
    })?;
    if let Err(error) = inbound.verify(&headers, &body) {
        tracing::info!(%platform, %error, "webhook rejected");
        return Err(AppError::Unauthorized);
    }
    if let Some(answer) = inbound.handshake(&headers, &body) {
        return Ok(webhook_response(answer));
    }
    let messages = inbound
        .parse(&headers, &body)
        .map_err(|error| AppError::bad_request("malformed_body", error.0))?;
    let now = state.clock.now();
    let mut messages = messages;
    for message in &mut messages {
        // The route decides the platform: an adapter cannot write into another's chats.
        message.platform.clone_from(&platform);
        if message.received_at.as_millis() == 0 {
            message.received_at = now;
        }
    }
    // One commit shared with concurrent requests; answered once it is durable.
    let (messages, outcomes) = state.inbox.enqueue(messages).await?;
    let mut stored = 0;
    for enqueued in outcomes {
        state
            .metrics
            .message_received(enqueued == Enqueued::Duplicate);
        stored += usize::from(enqueued == Enqueued::New);
    }
    tracing::debug!(%platform, stored, "webhook stored");
    if let Some(answer) = inbound.acknowledge(&headers, &body, &messages) {
        return Ok(webhook_response(answer));
    }
    Ok(Json(json!({ "ok": true })).into_response())
}

/// 415 unless the request's media type (without parameters) is one the platform posts.
fn check_content_type(headers: &HeaderMap, accepted: &[&str]) -> Result<(), AppError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let essence = given.split(';').next().unwrap_or("").trim();
    if accepted
        .iter()
        .any(|media_type| media_type.eq_ignore_ascii_case(essence))
    {
        return Ok(());
    }
    Err(AppError::UnsupportedMediaType(format!(
        "expected {}, got {:?}",
        accepted.join(" or "),
        given
    )))
}

pub(super) async fn subscription(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let inbound = state
        .messengers
        .inbound(&platform)
        .ok_or_else(|| unknown_platform(&platform))?;
    inbound
        .verify_subscription(query.as_deref().unwrap_or(""))
        .map(webhook_response)
        .ok_or(AppError::Unauthorized)
}

fn webhook_response(answer: WebhookResponse) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    (
        status,
        [(header::CONTENT_TYPE, answer.content_type)],
        answer.body,
    )
        .into_response()
}
