//! The LINE Messaging API adapter.
//!
//! - Webhooks carry `x-line-signature`: Base64 of HMAC-SHA256 over the raw body under
//!   the channel secret. One POST batches several events; the console's "Verify"
//!   button posts an empty `events` list (200, no turn).
//! - Text messages and postbacks become turns; `join` (bot added to a group or room)
//!   and `follow` (added as a friend) become `/start`; everything else is ignored.
//! - Replies go through the reply API while the event's single-use reply token is
//!   fresh, else (or when LINE refuses the token) through the push API with an
//!   `X-Line-Retry-Key` derived from the event and the text, so a retried push is
//!   delivered once. Buttons become quick replies. Text is sent as plain text (LINE
//!   text messages have no markup to escape).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::common::{
    ApiClient, ApiResponse, Env, Limiter, Secret, SendLimits, SettingsError, all_or_none,
    required_header, transport_failure, verify_hmac_sha256,
};
use super::{
    AuthError, Inbound, Messenger, ParseError, PlatformAdapter, RegisterError, SendOutcome,
};
use crate::model::{ChatAddress, InboundMessage, Reply, Timestamp};
use crate::store::BoxFuture;

/// The platform name (`/webhooks/line`).
pub const PLATFORM: &str = "line";
/// The channel access token (long-lived, or any valid channel access token).
pub const TOKEN_VAR: &str = "FRASER_LINE_CHANNEL_TOKEN";
/// The channel secret, which signs the webhooks.
pub const SECRET_VAR: &str = "FRASER_LINE_CHANNEL_SECRET";
/// The API base URL setting.
pub const API_URL_VAR: &str = "FRASER_LINE_API_URL";
/// The default API base URL.
pub const DEFAULT_API_URL: &str = "https://api.line.me";
/// The longest text message LINE accepts, in characters.
pub const MAX_LEN: usize = 5000;
/// LINE's documented rate limit for the reply and push endpoints: 2,000 requests per
/// second per channel; no per-chat limit is documented.
pub const DEFAULT_LIMITS: SendLimits = SendLimits {
    per_chat: None,
    per_group_minute: None,
    global: Some(2000),
};
/// How long after the event its reply token is still used. LINE says tokens expire
/// "after a certain period" (reported: about a minute); a token refused anyway falls
/// back to push.
pub const DEFAULT_REPLY_WINDOW: Duration = Duration::from_secs(50);
/// The wait after a 429 that carries no `Retry-After` (LINE sends none).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

const SIGNATURE_HEADER: &str = "x-line-signature";
const RETRY_KEY_HEADER: &str = "X-Line-Retry-Key";
const MAX_MESSAGES: usize = 5;
const MAX_TEXT_UNITS: usize = 5000;
const MAX_QUICK_REPLIES: usize = 13;
const MAX_LABEL_UNITS: usize = 20;
const MAX_ACTION_TEXT_UNITS: usize = 300;
const USED_TOKENS_KEPT: usize = 1024;

/// The LINE adapter's settings.
#[derive(Debug, Clone)]
pub struct LineSettings {
    /// Channel access token (`Authorization: Bearer`).
    pub channel_token: Secret,
    /// Channel secret (webhook signatures).
    pub channel_secret: Secret,
    /// API base URL without a trailing slash, e.g. [`DEFAULT_API_URL`].
    pub api_url: String,
    /// Send limits ([`DEFAULT_LIMITS`]; `SendLimits::default()` switches them off).
    pub limits: SendLimits,
    /// How long after an event its reply token is used ([`DEFAULT_REPLY_WINDOW`]).
    pub reply_window: Duration,
}

impl LineSettings {
    /// Settings with the default limits and reply window.
    pub fn new(channel_token: Secret, channel_secret: Secret, api_url: &str) -> LineSettings {
        LineSettings {
            channel_token,
            channel_secret,
            api_url: api_url.trim_end_matches('/').to_string(),
            limits: DEFAULT_LIMITS,
            reply_window: DEFAULT_REPLY_WINDOW,
        }
    }
}

/// Builds the LINE adapter when `FRASER_LINE_CHANNEL_TOKEN` and
/// `FRASER_LINE_CHANNEL_SECRET` are set; `Ok(None)` when neither is.
pub fn from_env(env: &Env) -> Result<Option<PlatformAdapter>, SettingsError> {
    let Some([token, secret]) = all_or_none(env, PLATFORM, [TOKEN_VAR, SECRET_VAR])? else {
        return Ok(None);
    };
    let api_url = env.api_url(API_URL_VAR, DEFAULT_API_URL)?;
    let mut settings = LineSettings::new(token, secret, &api_url);
    settings.limits = env.send_limits("LINE", settings.limits)?;
    Ok(Some(PlatformAdapter::new(Line::new(settings))))
}

/// The LINE adapter: webhook verification and parsing, and sending.
#[derive(Debug)]
pub struct Line {
    settings: LineSettings,
    client: ApiClient,
    limiter: Limiter,
    /// Reply tokens already used by this process (a multi-part reply uses the token
    /// once, then push): saves a refused reply call.
    used_tokens: Mutex<VecDeque<String>>,
}

impl Line {
    /// Creates the adapter.
    pub fn new(settings: LineSettings) -> Line {
        Line {
            client: ApiClient::new(settings.api_url.clone()),
            limiter: Limiter::new(settings.limits),
            settings,
            used_tokens: Mutex::new(VecDeque::new()),
        }
    }

    fn authorization(&self) -> String {
        format!("Bearer {}", self.settings.channel_token.expose())
    }

    fn token_used(&self, token: &str) -> bool {
        self.used_tokens
            .lock()
            .is_ok_and(|used| used.iter().any(|seen| seen == token))
    }

    fn remember_token(&self, token: &str) {
        if let Ok(mut used) = self.used_tokens.lock() {
            if used.len() >= USED_TOKENS_KEPT {
                used.pop_front();
            }
            used.push_back(token.to_string());
        }
    }

    async fn deliver(&self, chat: &ChatAddress, reply: &Reply) -> SendOutcome {
        if let Err(wait) = self.limiter.check(chat) {
            return SendOutcome::RetryAfter(wait);
        }
        let messages = render_messages(reply);
        let authorization = self.authorization();
        let now = unix_millis(SystemTime::now());
        let token = fresh_reply_token(&chat.reply_context, now, self.settings.reply_window)
            .filter(|token| !self.token_used(token));
        if let Some(token) = token {
            let body = json!({ "replyToken": token, "messages": messages });
            let headers = [("authorization", authorization.as_str())];
            match self
                .client
                .post_json("/v2/bot/message/reply", &headers, &body)
                .await
            {
                Err(error) => return transport_failure(error),
                Ok(response) if invalid_reply_token(&response) => {
                    self.remember_token(token);
                }
                Ok(response) => {
                    if response.is_success() {
                        self.remember_token(token);
                    }
                    return send_outcome(&response);
                }
            }
        }
        let body = json!({ "to": chat.chat_id, "messages": messages });
        let key =
            event_id(&chat.reply_context).map(|event| retry_key(event, &chat.chat_id, &reply.text));
        let mut headers = vec![("authorization", authorization.as_str())];
        if let Some(key) = &key {
            headers.push((RETRY_KEY_HEADER, key.as_str()));
        }
        match self
            .client
            .post_json("/v2/bot/message/push", &headers, &body)
            .await
        {
            Err(error) => transport_failure(error),
            // The retry key was seen: this push was delivered before.
            Ok(response) if response.status == 409 && key.is_some() => SendOutcome::Sent,
            Ok(response) => send_outcome(&response),
        }
    }

    async fn register(&self, url: &str) -> Result<String, RegisterError> {
        let body = json!({ "endpoint": url });
        let set = self
            .client
            .request(reqwest::Method::PUT, "/v2/bot/channel/webhook/endpoint")
            .header("authorization", self.authorization())
            .json(&body);
        let response = self.client.send(set).await.map_err(RegisterError)?;
        if !response.is_success() {
            return Err(RegisterError(format!(
                "LINE refused the webhook endpoint: {}",
                response.describe()
            )));
        }
        let test = self
            .client
            .request(reqwest::Method::POST, "/v2/bot/channel/webhook/test")
            .header("authorization", self.authorization())
            .json(&body);
        let verdict = match self.client.send(test).await {
            Err(error) => format!("LINE's test call could not be made ({error})"),
            Ok(response) => describe_test(&response),
        };
        Ok(format!(
            "webhook endpoint set to {url}; {verdict}. Turn on \"Use webhook\" in the LINE \
             Developers Console if it is off."
        ))
    }
}

impl Messenger for Line {
    fn platform(&self) -> &str {
        PLATFORM
    }

    fn max_len(&self) -> usize {
        MAX_LEN
    }

    fn send<'a>(&'a self, chat: &'a ChatAddress, reply: &'a Reply) -> BoxFuture<'a, SendOutcome> {
        Box::pin(self.deliver(chat, reply))
    }
}

impl Inbound for Line {
    fn platform(&self) -> &str {
        PLATFORM
    }

    fn verify(&self, headers: &HeaderMap, raw_body: &[u8]) -> Result<(), AuthError> {
        verify_signature(&self.settings.channel_secret, headers, raw_body)
    }

    fn parse(
        &self,
        _headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<Vec<InboundMessage>, ParseError> {
        parse_callback(raw_body)
    }

    fn register_webhook<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<String, RegisterError>> {
        Box::pin(self.register(url))
    }
}

/// Checks `x-line-signature` (Base64 HMAC-SHA256 of `raw_body` under the channel
/// secret), in constant time.
pub fn verify_signature(
    secret: &Secret,
    headers: &HeaderMap,
    raw_body: &[u8],
) -> Result<(), AuthError> {
    let given = required_header(headers, SIGNATURE_HEADER)?;
    let given = BASE64
        .decode(given.trim())
        .map_err(|_| AuthError(format!("{SIGNATURE_HEADER} is not Base64")))?;
    if verify_hmac_sha256(secret.expose().as_bytes(), &[raw_body], &given) {
        Ok(())
    } else {
        Err(AuthError(format!(
            "{SIGNATURE_HEADER} does not match the body"
        )))
    }
}

#[derive(Deserialize)]
struct Callback {
    events: Vec<Event>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    mode: Option<String>,
    timestamp: Option<i64>,
    source: Option<Source>,
    reply_token: Option<String>,
    webhook_event_id: Option<String>,
    message: Option<MessageContent>,
    postback: Option<Postback>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Source {
    #[serde(rename = "type")]
    kind: String,
    user_id: Option<String>,
    group_id: Option<String>,
    room_id: Option<String>,
}

#[derive(Deserialize)]
struct MessageContent {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    text: Option<String>,
}

#[derive(Deserialize)]
struct Postback {
    data: String,
}

/// Parses a webhook body (`{"destination", "events": [...]}`) into one message per
/// text message, postback (its `data` is the command), `join` and `follow` (`/start`).
/// Other events, events in standby mode and events without a chat give nothing.
pub fn parse_callback(raw_body: &[u8]) -> Result<Vec<InboundMessage>, ParseError> {
    let callback: Callback =
        serde_json::from_slice(raw_body).map_err(|error| ParseError(error.to_string()))?;
    Ok(callback.events.into_iter().filter_map(to_message).collect())
}

fn to_message(event: Event) -> Option<InboundMessage> {
    if event.mode.as_deref() == Some("standby") {
        return None;
    }
    let text = match event.kind.as_str() {
        "message" => event
            .message
            .as_ref()
            .filter(|message| message.kind == "text")
            .and_then(|message| message.text.clone()),
        "postback" => event
            .postback
            .as_ref()
            .map(|postback| postback.data.clone()),
        "join" | "follow" => Some("/start".to_string()),
        _ => None,
    }?;
    let source = event.source.as_ref()?;
    let (chat_id, is_group) = match source.kind.as_str() {
        "user" => (source.user_id.clone()?, false),
        "group" => (source.group_id.clone()?, true),
        "room" => (source.room_id.clone()?, true),
        _ => return None,
    };
    let sender_id = source.user_id.clone().unwrap_or_else(|| chat_id.clone());
    // `webhookEventId` is the documented de-duplication key; older payloads without it
    // fall back to the message id (unique across chats) or the event's chat and time.
    let message_id = event
        .webhook_event_id
        .clone()
        .or_else(|| {
            event
                .message
                .as_ref()
                .and_then(|message| message.id.clone())
        })
        .unwrap_or_else(|| {
            format!(
                "{}:{chat_id}:{}",
                event.kind,
                event.timestamp.unwrap_or_default()
            )
        });
    let mut reply_context = json!({ "eventId": message_id });
    if let Some(token) = &event.reply_token {
        reply_context["replyToken"] = json!(token);
    }
    if let Some(timestamp) = event.timestamp {
        reply_context["timestamp"] = json!(timestamp);
    }
    Some(InboundMessage {
        platform: PLATFORM.to_string(),
        chat_id,
        sender_name: sender_id.clone(),
        sender_id,
        text,
        message_id,
        is_group,
        reply_context,
        received_at: Timestamp(0),
    })
}

/// The reply token of `reply_context` if the event is less than `window` old at
/// `now_ms` (events without a timestamp count as fresh).
pub fn fresh_reply_token(reply_context: &Value, now_ms: i64, window: Duration) -> Option<&str> {
    let token = reply_context.get("replyToken")?.as_str()?;
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    match reply_context.get("timestamp").and_then(Value::as_i64) {
        Some(sent) if now_ms.saturating_sub(sent) >= window_ms => None,
        _ => Some(token),
    }
}

fn event_id(reply_context: &Value) -> Option<&str> {
    reply_context.get("eventId")?.as_str()
}

/// The `X-Line-Retry-Key` of a push: a UUID (RFC 9562 version 8, name-based) from
/// SHA-256 of the inbound event id, the chat and the text, so a retried send of the
/// same reply carries the same key.
pub fn retry_key(event_id: &str, chat_id: &str, text: &str) -> String {
    let mut hash = Sha256::new();
    for part in ["fraser-line-retry-key", event_id, chat_id, text] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    for (byte, value) in bytes.iter_mut().zip(digest.iter()) {
        *byte = *value;
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = super::common::encode_hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The message objects of one reply: plain text messages (split if the text exceeds
/// LINE's 5,000 UTF-16 units, at most 5), the buttons as quick replies on the last.
pub fn render_messages(reply: &Reply) -> Vec<Value> {
    let mut messages: Vec<Value> = split_utf16(&reply.text, MAX_TEXT_UNITS)
        .into_iter()
        .take(MAX_MESSAGES)
        .map(|text| json!({ "type": "text", "text": text }))
        .collect();
    let items: Vec<Value> = reply
        .buttons
        .iter()
        .filter(|button| {
            !button.command.is_empty() && utf16_len(&button.command) <= MAX_ACTION_TEXT_UNITS
        })
        .take(MAX_QUICK_REPLIES)
        .map(|button| {
            let label = truncate_utf16(&button.label, MAX_LABEL_UNITS).trim_end();
            let label = if label.is_empty() {
                truncate_utf16(&button.command, MAX_LABEL_UNITS)
            } else {
                label
            };
            json!({
                "type": "action",
                "action": { "type": "message", "label": label, "text": button.command },
            })
        })
        .collect();
    if !items.is_empty()
        && let Some(last) = messages.last_mut()
    {
        last["quickReply"] = json!({ "items": items });
    }
    messages
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

fn truncate_utf16(text: &str, limit: usize) -> &str {
    let mut units = 0;
    for (index, ch) in text.char_indices() {
        units += ch.len_utf16();
        if units > limit {
            return text.get(..index).unwrap_or(text);
        }
    }
    text
}

/// Splits `text` into pieces of at most `limit` UTF-16 units (at least one piece).
fn split_utf16(text: &str, limit: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    loop {
        let piece = truncate_utf16(rest, limit);
        if piece.len() == rest.len() || piece.is_empty() {
            pieces.push(rest);
            return pieces;
        }
        pieces.push(piece);
        rest = rest.get(piece.len()..).unwrap_or_default();
    }
}

fn error_message(response: &ApiResponse) -> String {
    response
        .json()
        .and_then(|body| body.get("message")?.as_str().map(str::to_lowercase))
        .unwrap_or_default()
}

/// LINE answers `400 {"message":"Invalid reply token"}` for used or expired tokens.
fn invalid_reply_token(response: &ApiResponse) -> bool {
    response.status == 400 && error_message(response).contains("reply token")
}

/// A send answer: 429 waits for `Retry-After` (or [`DEFAULT_RETRY_AFTER`]) unless it
/// is the monthly message quota, which no retry soon can help; the rest as usual.
fn send_outcome(response: &ApiResponse) -> SendOutcome {
    if response.status == 429 {
        if error_message(response).contains("monthly limit") {
            return SendOutcome::Failed {
                permanent: true,
                reason: response.describe(),
            };
        }
        return SendOutcome::RetryAfter(response.retry_after.unwrap_or(DEFAULT_RETRY_AFTER));
    }
    response.outcome()
}

fn describe_test(response: &ApiResponse) -> String {
    let body = response.json().unwrap_or(Value::Null);
    let success = body.get("success").and_then(Value::as_bool);
    let status = body.get("statusCode").and_then(Value::as_i64);
    let reason = body.get("reason").and_then(Value::as_str).unwrap_or("");
    let detail = body.get("detail").and_then(Value::as_str).unwrap_or("");
    match (response.is_success(), success) {
        (true, Some(true)) => format!(
            "LINE's test call reached it (HTTP {})",
            status.unwrap_or_default()
        ),
        (true, _) => format!(
            "LINE's test call failed: {reason} {detail} (HTTP {}; is the server running?)",
            status.unwrap_or_default()
        ),
        (false, _) => format!("LINE's test call was refused: {}", response.describe()),
    }
}

fn unix_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Button;

    fn headers(signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
        headers
    }

    #[test]
    fn verifies_the_sdk_vector_and_rejects_the_rest() {
        // line-bot-sdk-java's test vector: secret `SECRET`, body `{}`.
        let secret = Secret::new("SECRET");
        let good = headers("3q8QXTAGaey18yL8FWTqdVlbMr6hcuNvM4tefa0o9nA=");
        assert!(verify_signature(&secret, &good, b"{}").is_ok());
        assert!(verify_signature(&Secret::new("OTHER"), &good, b"{}").is_err());
        assert!(verify_signature(&secret, &good, b"{ }").is_err());
        assert!(verify_signature(&secret, &headers("not base64!"), b"{}").is_err());
        let error = verify_signature(&secret, &HeaderMap::new(), b"{}").unwrap_err();
        assert!(error.0.contains("missing x-line-signature"), "{error}");
        assert!(!error.0.contains("SECRET"));
    }

    fn event(body: Value) -> Vec<InboundMessage> {
        parse_callback(
            json!({ "destination": "U0", "events": [body] })
                .to_string()
                .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn parses_text_in_user_group_and_room_chats() {
        let user = event(json!({
            "type": "message", "mode": "active", "timestamp": 5, "replyToken": "rt",
            "webhookEventId": "01HEVENT", "deliveryContext": {"isRedelivery": false},
            "source": {"type": "user", "userId": "U1"},
            "message": {"type": "text", "id": "9", "text": "hint", "quoteToken": "q"}
        }));
        assert_eq!(user.len(), 1);
        let message = &user[0];
        assert_eq!(
            (message.chat_id.as_str(), message.sender_id.as_str()),
            ("U1", "U1")
        );
        assert_eq!(
            (message.text.as_str(), message.message_id.as_str()),
            ("hint", "01HEVENT")
        );
        assert!(!message.is_group);
        assert_eq!(
            message.reply_context,
            json!({"eventId": "01HEVENT", "replyToken": "rt", "timestamp": 5})
        );
        for (source, chat) in [
            (
                json!({"type": "group", "groupId": "C1", "userId": "U2"}),
                "C1",
            ),
            (
                json!({"type": "room", "roomId": "R1", "userId": "U2"}),
                "R1",
            ),
        ] {
            let parsed = event(json!({
                "type": "message", "mode": "active", "timestamp": 5, "source": source,
                "message": {"type": "text", "id": "10", "text": "skip"}
            }));
            assert_eq!(parsed[0].chat_id, chat);
            assert_eq!(parsed[0].sender_id, "U2");
            assert!(parsed[0].is_group);
            // Without `webhookEventId` the message id is the key.
            assert_eq!(parsed[0].message_id, "10");
        }
    }

    #[test]
    fn greets_on_join_and_follow_and_ignores_the_rest() {
        let join = event(json!({
            "type": "join", "mode": "active", "timestamp": 7, "replyToken": "rt",
            "source": {"type": "group", "groupId": "C1"}
        }));
        assert_eq!(join[0].text, "/start");
        assert_eq!(join[0].sender_id, "C1");
        assert_eq!(join[0].message_id, "join:C1:7");
        let postback = event(json!({
            "type": "postback", "mode": "active", "timestamp": 7,
            "source": {"type": "user", "userId": "U1"}, "postback": {"data": "skip"}
        }));
        assert_eq!(postback[0].text, "skip");
        for ignored in [
            json!({"type": "unfollow", "mode": "active", "timestamp": 1,
                   "source": {"type": "user", "userId": "U1"}}),
            json!({"type": "message", "mode": "active", "timestamp": 1,
                   "source": {"type": "user", "userId": "U1"},
                   "message": {"type": "sticker", "id": "1", "packageId": "1", "stickerId": "2"}}),
            json!({"type": "message", "mode": "standby", "timestamp": 1,
                   "source": {"type": "user", "userId": "U1"},
                   "message": {"type": "text", "id": "1", "text": "hi"}}),
            json!({"type": "message", "mode": "active", "timestamp": 1,
                   "message": {"type": "text", "id": "1", "text": "no source"}}),
        ] {
            assert!(event(ignored).is_empty());
        }
        assert!(
            parse_callback(br#"{"destination":"U0","events":[]}"#)
                .unwrap()
                .is_empty()
        );
        assert!(parse_callback(b"{}").is_err());
        assert!(parse_callback(b"[1]").is_err());
    }

    #[test]
    fn reply_tokens_are_used_while_fresh() {
        let window = Duration::from_secs(50);
        let context = json!({"replyToken": "rt", "timestamp": 1_000});
        assert_eq!(
            fresh_reply_token(&context, 1_000 + 49_999, window),
            Some("rt")
        );
        assert_eq!(fresh_reply_token(&context, 1_000 + 50_000, window), None);
        assert_eq!(
            fresh_reply_token(&json!({"replyToken": "rt"}), 9, window),
            Some("rt")
        );
        assert_eq!(fresh_reply_token(&json!({"eventId": "e"}), 9, window), None);
        assert_eq!(fresh_reply_token(&Value::Null, 9, window), None);
    }

    #[test]
    fn retry_keys_are_stable_uuids() {
        let key = retry_key("01HEVENT", "U1", "#1: hello");
        assert_eq!(key, retry_key("01HEVENT", "U1", "#1: hello"));
        assert_ne!(key, retry_key("01HEVENT", "U1", "#1: hello!"));
        assert_ne!(key, retry_key("01HEVENT2", "U1", "#1: hello"));
        let groups: Vec<usize> = key.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(key.chars().nth(14), Some('8'), "version 8: {key}");
        assert!(matches!(key.chars().nth(19), Some('8' | '9' | 'a' | 'b')));
    }

    #[test]
    fn renders_plain_text_and_quick_replies() {
        let reply = Reply {
            text: "*not bold* <b>".into(),
            buttons: vec![
                Button {
                    label: "Hint".into(),
                    command: "hint".into(),
                },
                Button {
                    label: "A label much longer than twenty".into(),
                    command: "skip".into(),
                },
            ],
        };
        let messages = render_messages(&reply);
        assert_eq!(
            messages,
            [json!({
                "type": "text",
                "text": "*not bold* <b>",
                "quickReply": {"items": [
                    {"type": "action", "action": {"type": "message", "label": "Hint", "text": "hint"}},
                    {"type": "action", "action": {"type": "message", "label": "A label much longer", "text": "skip"}},
                ]}
            })]
        );
        assert_eq!(
            render_messages(&Reply::text("x")),
            [json!({"type": "text", "text": "x"})]
        );
    }

    #[test]
    fn long_texts_split_by_utf16_units() {
        let text = "😀".repeat(MAX_LEN);
        let messages = render_messages(&Reply::text(text.clone()));
        assert_eq!(messages.len(), 2);
        let joined: String = messages
            .iter()
            .map(|message| message["text"].as_str().unwrap())
            .collect();
        assert_eq!(joined, text);
        assert_eq!(truncate_utf16("a😀", 2), "a");
        assert_eq!(split_utf16("", 5), [""]);
        assert_eq!(split_utf16("abcdef", 3), ["abc", "def"]);
    }

    #[test]
    fn from_env_needs_both_secrets() {
        assert!(
            from_env(&Env::from_map::<&str, &str>([]))
                .unwrap()
                .is_none()
        );
        let error = from_env(&Env::from_map([(TOKEN_VAR, "token")])).unwrap_err();
        assert!(error.0.contains(SECRET_VAR), "{error}");
        assert!(!error.0.contains("token\""), "{error}");
        let error = from_env(&Env::from_map([(SECRET_VAR, "secret")])).unwrap_err();
        assert!(error.0.contains(TOKEN_VAR), "{error}");
        let env = Env::from_map([(TOKEN_VAR, "token"), (SECRET_VAR, "secret")]);
        let adapter = from_env(&env).unwrap().unwrap();
        assert_eq!(adapter.platform(), "line");
        assert_eq!(adapter.messenger.max_len(), MAX_LEN);
        let bad_url = Env::from_map([
            (TOKEN_VAR, "token"),
            (SECRET_VAR, "secret"),
            (API_URL_VAR, "ftp://x"),
        ]);
        assert!(from_env(&bad_url).is_err());
    }

    #[test]
    fn rate_limits_and_quota() {
        let response = |status, retry_after, body: &str| ApiResponse {
            status,
            retry_after,
            body: body.as_bytes().to_vec(),
        };
        let limited = r#"{"message":"The API rate limit has been exceeded. Try again later."}"#;
        assert_eq!(
            send_outcome(&response(429, None, limited)),
            SendOutcome::RetryAfter(DEFAULT_RETRY_AFTER)
        );
        assert_eq!(
            send_outcome(&response(429, Some(Duration::from_secs(9)), limited)),
            SendOutcome::RetryAfter(Duration::from_secs(9))
        );
        let quota = r#"{"message":"You have reached your monthly limit."}"#;
        assert!(matches!(
            send_outcome(&response(429, None, quota)),
            SendOutcome::Failed {
                permanent: true,
                ..
            }
        ));
        assert!(invalid_reply_token(&response(
            400,
            None,
            r#"{"message":"Invalid reply token"}"#
        )));
        assert!(!invalid_reply_token(&response(
            400,
            None,
            r#"{"message":"The request body has 1 error(s)"}"#
        )));
    }
}
