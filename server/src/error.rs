//! HTTP errors: a stable machine `code` per user error, an opaque 500 otherwise.
//!
//! | status | code                | when                                              |
//! |--------|---------------------|---------------------------------------------------|
//! | 400    | `malformed_body`    | the body is not what the route expects            |
//! | 400    | `invalid_chat_id`   | chat ids are 1-64 of `A-Z a-z 0-9 _ -`            |
//! | 400    | `invalid_message`   | empty or over-long text, name or message id       |
//! | 401    | `invalid_signature` | a webhook's signature check failed                |
//! | 404    | `not_found`         | no such route (or the web chat is disabled)       |
//! | 404    | `unknown_platform`  | no enabled webhook adapter of that name           |
//! | 413    | `payload_too_large` | the body is over the configured limit             |
//! | 415    | `unsupported_media_type` | a webhook body of a type the platform never sends |
//! | 503    | `store_unavailable` | the database cannot be reached: retry later       |
//! | 503    | `not_ready`         | the server is starting (index not open yet)       |
//! | 500    | `internal`          | a bug; details are logged, not returned           |

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// 400 with a machine code.
    #[error("{message}")]
    BadRequest {
        /// Stable machine code.
        code: &'static str,
        /// Human explanation.
        message: String,
    },
    /// 401: the webhook signature is missing or wrong.
    #[error("invalid webhook signature")]
    Unauthorized,
    /// 404 with a machine code.
    #[error("{message}")]
    NotFound {
        /// Stable machine code.
        code: &'static str,
        /// Human explanation.
        message: String,
    },
    /// 413: the body is over the limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415: the webhook's content type is not one the platform sends.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// 503: the store cannot be reached.
    #[error("store unavailable")]
    StoreUnavailable,
    /// 503: the readiness hook says no.
    #[error("not ready")]
    NotReady,
    /// 500: the detail is logged, the client sees an opaque message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// Creates a 400 error.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// Returns the HTTP status and the stable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "invalid_signature"),
            AppError::NotFound { code, .. } => (StatusCode::NOT_FOUND, code),
            AppError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AppError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            AppError::StoreUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            AppError::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> AppError {
        if error.is_unavailable() {
            tracing::warn!(%error, "store unavailable");
            AppError::StoreUnavailable
        } else {
            AppError::Internal(format!(
                "{error:#}: {:?}",
                std::error::Error::source(&error)
            ))
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            AppError::Internal(detail) => {
                // Runs inside the request's span, so the log line carries the request id.
                tracing::error!(%detail, "internal error");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut response = (
            status,
            Json(json!({ "error": { "code": code, "message": message } })),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        let cases = [
            (
                AppError::bad_request("invalid_chat_id", "x"),
                400,
                "invalid_chat_id",
            ),
            (AppError::Unauthorized, 401, "invalid_signature"),
            (AppError::PayloadTooLarge, 413, "payload_too_large"),
            (AppError::StoreUnavailable, 503, "store_unavailable"),
            (AppError::NotReady, 503, "not_ready"),
            (AppError::Internal("secret detail".into()), 500, "internal"),
        ];
        for (error, status, code) in cases {
            assert_eq!(
                error.status_and_code(),
                (StatusCode::from_u16(status).unwrap(), code)
            );
        }
    }
}
