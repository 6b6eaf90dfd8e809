//! The seams to chat platforms: [`Messenger`] sends replies, [`Inbound`] turns a
//! webhook request into [`InboundMessage`]s. One adapter per platform implements both
//! (the real adapters live in their own files behind cargo features); `web.rs` is the
//! built-in web chat and `fake.rs` serves tests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;

use crate::model::{ChatAddress, InboundMessage, Reply};
use crate::store::BoxFuture;

pub mod botframework;
pub mod common;
pub mod discord;
pub mod facebook;
#[cfg(any(test, feature = "testing"))]
pub(crate) mod fake;
pub mod line;
pub mod slack;
pub mod telegram;
pub mod viber;
pub(crate) mod web;
pub mod whatsapp;

#[cfg(any(test, feature = "testing"))]
pub use fake::{FakeBehaviour, FakeMessenger, FakeSend};
pub use web::WebMessenger;

/// The result of one send attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The platform accepted the message.
    Sent,
    /// The platform rate-limited us (HTTP 429 and the like): try again after this long.
    /// Does not count towards the dead-letter limit.
    RetryAfter(Duration),
    /// The send failed. `permanent` failures (blocked bot, deleted chat, invalid
    /// payload) go to the dead letters at once; others are retried with backoff.
    /// Transport errors and timeouts are `permanent: false`.
    Failed {
        /// Whether retrying cannot help.
        permanent: bool,
        /// What went wrong, for logs and the outbox row (no secrets).
        reason: String,
    },
}

/// Sends replies to one platform.
///
/// Contract:
/// - `send` delivers one reply whose text is at most [`max_len`](Messenger::max_len)
///   characters (the sender splits longer replies at sentence boundaries first).
/// - `send` may be called again for a reply that was already delivered (at-least-once:
///   a sender that died after sending and before recording it); adapters pass an
///   idempotency key to the platform where it has one.
/// - `send` should return within the configured send timeout; the sender abandons it
///   after that and counts a retryable failure.
pub trait Messenger: Send + Sync {
    /// The platform name, the key of [`InboundMessage::platform`].
    fn platform(&self) -> &str;

    /// The longest text the platform accepts in one message, in characters.
    fn max_len(&self) -> usize;

    /// Sends one reply to `chat`.
    fn send<'a>(&'a self, chat: &'a ChatAddress, reply: &'a Reply) -> BoxFuture<'a, SendOutcome>;
}

/// The signature of a webhook request is missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook authentication failed: {0}")]
pub struct AuthError(pub String);

/// A webhook body that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed webhook body: {0}")]
pub struct ParseError(pub String);

/// A response an adapter wants sent instead of the plain acknowledgement (URL
/// verification challenges, interaction PINGs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// HTTP status.
    pub status: u16,
    /// Content type of `body`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

/// Turns one platform's webhook requests into inbound messages.
///
/// The HTTP layer calls, in order: [`verify`](Inbound::verify) on the raw bytes (401
/// and nothing stored on failure), [`handshake`](Inbound::handshake) (if it answers,
/// that answer is sent and nothing is stored), [`parse`](Inbound::parse) (400 on
/// failure), then stores every message before answering 200.
pub trait Inbound: Send + Sync {
    /// The platform name (the `{platform}` in `/webhooks/{platform}`).
    fn platform(&self) -> &str;

    /// Checks the request signature over the exact raw body (constant-time compare).
    fn verify(&self, headers: &HeaderMap, raw_body: &[u8]) -> Result<(), AuthError>;

    /// Parses the body into messages; updates that carry no message give an empty list.
    fn parse(
        &self,
        headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<Vec<InboundMessage>, ParseError>;

    /// Answers a platform handshake carried in a (verified) POST, if this is one.
    fn handshake(&self, _headers: &HeaderMap, _raw_body: &[u8]) -> Option<WebhookResponse> {
        None
    }

    /// Answers a subscription check sent as GET with a query string, if supported.
    fn verify_subscription(&self, _query: &str) -> Option<WebhookResponse> {
        None
    }

    /// The content types the platform posts (compared without parameters, ignoring
    /// case); any other answers 415 before the signature is checked.
    fn content_types(&self) -> &'static [&'static str] {
        &["application/json"]
    }

    /// The answer to a webhook once its messages are stored, instead of the plain
    /// `{"ok":true}` (e.g. Discord's deferred interaction response, Telegram's
    /// `answerCallbackQuery` in the webhook reply).
    fn acknowledge(
        &self,
        _headers: &HeaderMap,
        _raw_body: &[u8],
        _messages: &[InboundMessage],
    ) -> Option<WebhookResponse> {
        None
    }

    /// Registers `url` as the webhook with the platform's own API (Telegram
    /// `setWebhook`, Viber `set_webhook`, Discord slash commands...). Returns what was
    /// done, for the operator.
    fn register_webhook<'a>(
        &'a self,
        _url: &'a str,
    ) -> BoxFuture<'a, Result<String, RegisterError>> {
        let platform = self.platform().to_string();
        Box::pin(async move {
            Err(RegisterError(format!(
                "{platform} has no webhook registration API: enter the URL in the platform's \
                 developer console (see the README)"
            )))
        })
    }
}

/// Registering a webhook with a platform failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RegisterError(pub String);

/// One platform's adapter, registered as both its sender and its webhook handler.
#[derive(Clone)]
pub struct PlatformAdapter {
    /// The sender.
    pub messenger: Arc<dyn Messenger>,
    /// The webhook handler.
    pub inbound: Arc<dyn Inbound>,
}

impl PlatformAdapter {
    /// Wraps an adapter that implements both sides.
    pub fn new<T: Messenger + Inbound + 'static>(adapter: T) -> PlatformAdapter {
        let adapter = Arc::new(adapter);
        PlatformAdapter {
            messenger: adapter.clone(),
            inbound: adapter,
        }
    }

    /// The platform name.
    pub fn platform(&self) -> &str {
        self.inbound.platform()
    }
}

impl std::fmt::Debug for PlatformAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformAdapter")
            .field("platform", &self.platform())
            .finish()
    }
}

type Builder = fn(&common::Env) -> Result<Option<PlatformAdapter>, common::SettingsError>;

/// The names of every platform adapter, in the order [`from_env`] reads them.
pub const PLATFORMS: [&str; 8] = [
    "telegram",
    "whatsapp",
    "slack",
    "line",
    "discord",
    "messenger",
    "viber",
    "botframework",
];

/// Builds the adapters of every platform whose secrets `env` sets (see the README:
/// `FRASER_TELEGRAM_TOKEN`, ...). A half-configured platform is an error that names
/// the missing variables.
pub fn from_env(env: &common::Env) -> Result<Vec<PlatformAdapter>, common::SettingsError> {
    let builders: [Builder; 8] = [
        telegram::from_env,
        whatsapp::from_env,
        slack::from_env,
        line::from_env,
        discord::from_env,
        facebook::from_env,
        viber::from_env,
        botframework::from_env,
    ];
    let mut adapters = Vec::new();
    for build in builders {
        if let Some(adapter) = build(env)? {
            adapters.push(adapter);
        }
    }
    Ok(adapters)
}

/// The enabled platforms: senders by platform name, webhook adapters by platform name.
#[derive(Clone, Default)]
pub struct Messengers {
    outbound: HashMap<String, Arc<dyn Messenger>>,
    inbound: HashMap<String, Arc<dyn Inbound>>,
}

impl Messengers {
    /// Creates an empty registry.
    pub fn new() -> Messengers {
        Messengers::default()
    }

    /// Registers a sender (replacing one of the same platform).
    pub fn with_messenger(mut self, messenger: Arc<dyn Messenger>) -> Messengers {
        self.outbound
            .insert(messenger.platform().to_string(), messenger);
        self
    }

    /// Registers both sides of a platform adapter.
    pub fn with_platform(self, adapter: PlatformAdapter) -> Messengers {
        self.with_messenger(adapter.messenger)
            .with_inbound(adapter.inbound)
    }

    /// Registers a webhook adapter (replacing one of the same platform).
    pub fn with_inbound(mut self, inbound: Arc<dyn Inbound>) -> Messengers {
        self.inbound.insert(inbound.platform().to_string(), inbound);
        self
    }

    /// Returns the sender of `platform`.
    pub fn messenger(&self, platform: &str) -> Option<&Arc<dyn Messenger>> {
        self.outbound.get(platform)
    }

    /// Returns the webhook adapter of `platform`.
    pub fn inbound(&self, platform: &str) -> Option<&Arc<dyn Inbound>> {
        self.inbound.get(platform)
    }

    /// Returns the names of the platforms with a sender, sorted.
    pub fn platforms(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.outbound.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

impl std::fmt::Debug for Messengers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut inbound: Vec<&str> = self.inbound.keys().map(String::as_str).collect();
        inbound.sort_unstable();
        f.debug_struct("Messengers")
            .field("outbound", &self.platforms())
            .field("inbound", &inbound)
            .finish()
    }
}
