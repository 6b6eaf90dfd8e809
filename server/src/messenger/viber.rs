//! Viber REST Bot API: signed JSON callbacks in, `send_message` out, `set_webhook` to
//! register.
//!
//! Callbacks carry `X-Viber-Content-Signature: <hex HMAC-SHA256(body, auth token)>`.
//! Viber bots talk 1:1 only, so the chat id is the user id. A user who opens the chat
//! (`conversation_started`) is not subscribed yet and cannot be sent to; the only
//! message allowed then is the welcome message in the callback's answer, which
//! [`Inbound::acknowledge`] gives (with a Start button sending `/start`).

use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::common::{
    ApiClient, ApiResponse, Env, Limiter, Secret, SendLimits, SettingsError, all_or_none,
    decode_hex, required_header, transport_failure, verify_hmac_sha256,
};
use super::{
    AuthError, Inbound, Messenger, ParseError, PlatformAdapter, RegisterError, SendOutcome,
    WebhookResponse,
};
use crate::model::{Button, ChatAddress, InboundMessage, Reply, Timestamp};
use crate::store::BoxFuture;

/// The platform name.
pub const PLATFORM: &str = "viber";
/// The API base URL used unless `FRASER_VIBER_API_URL` says otherwise.
pub const DEFAULT_API_URL: &str = "https://chatapi.viber.com/pa";
/// The sender name used unless `FRASER_VIBER_BOT_NAME` says otherwise.
pub const DEFAULT_BOT_NAME: &str = "Fraser";
/// The longest text of one message, in characters.
pub const MAX_LEN: usize = 7000;
/// Viber's limit on `sender.name`.
pub const MAX_NAME_LEN: usize = 28;
/// How long to wait after status 12 ("too many requests": at most 100 messages to a
/// user per hour without an answer from them; Viber gives no retry time).
pub const TOO_MANY_REQUESTS_WAIT: Duration = Duration::from_secs(60);
/// The optional callbacks `set_webhook` subscribes (`message`, `subscribed` and
/// `unsubscribed` always come).
pub const EVENT_TYPES: [&str; 1] = ["conversation_started"];
/// The welcome message's text unless the settings say otherwise.
pub const DEFAULT_WELCOME: &str = "Hello! Tap Start or send /start to play.";

/// The Viber adapter's settings.
#[derive(Debug, Clone)]
pub struct ViberSettings {
    /// The bot's authentication token (signs callbacks, authorises API calls).
    pub token: Secret,
    /// The sender name shown with every message (at most 28 characters).
    pub bot_name: String,
    /// The API base URL, without a trailing slash.
    pub api_url: String,
    /// The text answered to `conversation_started` (a Start button comes with it).
    pub welcome: String,
    /// Send limits. Viber documents no per-second limit for `send_message` (its cap of
    /// 100 unanswered messages per user per hour comes back as status 12), so none by
    /// default.
    pub limits: SendLimits,
}

/// The Viber adapter: webhook handler and sender.
#[derive(Debug)]
pub struct Viber {
    token: Secret,
    bot_name: String,
    welcome: String,
    client: ApiClient,
    limiter: Limiter,
}

impl Viber {
    /// Creates the adapter.
    pub fn new(settings: ViberSettings) -> Viber {
        Viber {
            token: settings.token,
            bot_name: settings.bot_name,
            welcome: settings.welcome,
            client: ApiClient::new(settings.api_url),
            limiter: Limiter::new(settings.limits),
        }
    }

    async fn call(&self, path: &str, body: &Value) -> Result<ApiResponse, String> {
        self.client
            .post_json(path, &[("X-Viber-Auth-Token", self.token.expose())], body)
            .await
    }
}

/// Builds the Viber adapter when `FRASER_VIBER_TOKEN` is set (`FRASER_VIBER_BOT_NAME`
/// and `FRASER_VIBER_API_URL` optional).
pub fn from_env(env: &Env) -> Result<Option<PlatformAdapter>, SettingsError> {
    let Some([token]) = all_or_none(env, PLATFORM, ["FRASER_VIBER_TOKEN"])? else {
        return Ok(None);
    };
    let bot_name = env.get("FRASER_VIBER_BOT_NAME").map_or_else(
        || DEFAULT_BOT_NAME.to_string(),
        |name| name.trim().to_string(),
    );
    if bot_name.chars().count() > MAX_NAME_LEN {
        return Err(SettingsError(format!(
            "FRASER_VIBER_BOT_NAME must be at most {MAX_NAME_LEN} characters"
        )));
    }
    let api_url = env.api_url("FRASER_VIBER_API_URL", DEFAULT_API_URL)?;
    Ok(Some(PlatformAdapter::new(Viber::new(ViberSettings {
        token,
        bot_name,
        api_url,
        welcome: DEFAULT_WELCOME.into(),
        limits: env.send_limits("VIBER", SendLimits::default())?,
    }))))
}

/// Checks `signature` (hex) against the HMAC-SHA256 of `body` under the auth token.
pub fn verify_signature(token: &[u8], signature: &str, body: &[u8]) -> Result<(), AuthError> {
    let mac = decode_hex(signature.trim())
        .ok_or_else(|| AuthError("X-Viber-Content-Signature is not hex".into()))?;
    if verify_hmac_sha256(token, &[body], &mac) {
        Ok(())
    } else {
        Err(AuthError(
            "X-Viber-Content-Signature does not match the body".into(),
        ))
    }
}

/// Parses a callback: a `message` of type `text` gives one message (keyboard button
/// presses arrive this way, their text being the button's command); `webhook`,
/// `conversation_started` (answered by the welcome message), `subscribed`,
/// `unsubscribed`, `delivered`, `seen`, `failed` and other message types give none.
pub fn parse_callback(body: &[u8]) -> Result<Vec<InboundMessage>, ParseError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| ParseError(format!("not JSON: {error}")))?;
    let event = value
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| ParseError("no `event`".into()))?;
    if event != "message" {
        tracing::debug!(event, "viber: callback without a message");
        return Ok(Vec::new());
    }
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
    if text("/message/type") != Some("text") {
        return Ok(Vec::new());
    }
    let (Some(sender), Some(said)) = (text("/sender/id"), text("/message/text")) else {
        return Ok(Vec::new());
    };
    let token = match value.get("message_token") {
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(token)) => token.clone(),
        _ => return Err(ParseError("message without `message_token`".into())),
    };
    let said = said.trim();
    if said.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![InboundMessage {
        platform: PLATFORM.into(),
        chat_id: sender.into(),
        sender_id: sender.into(),
        sender_name: text("/sender/name").unwrap_or_default().into(),
        text: said.into(),
        message_id: token,
        is_group: false,
        reply_context: Value::Null,
        received_at: Timestamp(0),
    }])
}

/// A reply keyboard: one row of buttons (up to six share the row's six columns; more
/// wrap), each sending its command as the user's message.
pub fn keyboard(buttons: &[Button]) -> Value {
    let columns = 6 / buttons.len().clamp(1, 6);
    let buttons: Vec<Value> = buttons
        .iter()
        .map(|button| {
            json!({
                "Columns": columns,
                "Rows": 1,
                "ActionType": "reply",
                "ActionBody": button.command,
                "Text": button.label,
            })
        })
        .collect();
    json!({"Type": "keyboard", "DefaultHeight": false, "Buttons": buttons})
}

/// The message fields shared by `send_message` and the welcome message: sender name,
/// plain text (Viber has no markup in text messages), a keyboard for buttons.
fn message(bot_name: &str, text: &str, buttons: &[Button]) -> Value {
    let mut body = json!({
        "min_api_version": 1,
        "sender": {"name": bot_name},
        "type": "text",
        "text": text,
    });
    if !buttons.is_empty() {
        body["keyboard"] = keyboard(buttons);
    }
    body
}

/// The `send_message` body of `reply` to the user `receiver`.
pub fn render(bot_name: &str, receiver: &str, reply: &Reply) -> Value {
    let mut body = message(bot_name, &reply.text, &reply.buttons);
    body["receiver"] = json!(receiver);
    body
}

/// Reads a `send_message` answer (HTTP 200 with a `status` for every outcome).
///
/// Status 0 is sent; 12 (too many requests) waits [`TOO_MANY_REQUESTS_WAIT`]; 1-11, 13
/// and 14 are permanent: invalid URL, invalid auth token, bad or missing data, receiver
/// not registered or not subscribed, bot blocked, not found or suspended, webhook not
/// set, receiver has no suitable device, API version unsupported or incompatible.
/// Any other status (general error) and HTTP 5xx are retried.
pub fn outcome(response: &ApiResponse) -> SendOutcome {
    if !response.is_success() {
        return response.outcome();
    }
    let Some(body) = response.json() else {
        return SendOutcome::Failed {
            permanent: false,
            reason: format!("viber answered no JSON: {}", response.describe()),
        };
    };
    let status = body.get("status").and_then(Value::as_i64);
    let message = body
        .get("status_message")
        .and_then(Value::as_str)
        .unwrap_or("");
    match status {
        Some(0) => SendOutcome::Sent,
        Some(12) => SendOutcome::RetryAfter(TOO_MANY_REQUESTS_WAIT),
        Some(status) => SendOutcome::Failed {
            permanent: matches!(status, 1..=11 | 13 | 14),
            reason: format!("viber status {status}: {message}"),
        },
        None => SendOutcome::Failed {
            permanent: false,
            reason: format!("viber answered no status: {}", response.describe()),
        },
    }
}

fn event(raw_body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(raw_body).ok()?;
    Some(value.get("event")?.as_str()?.to_string())
}

impl Messenger for Viber {
    fn platform(&self) -> &str {
        PLATFORM
    }

    fn max_len(&self) -> usize {
        MAX_LEN
    }

    fn send<'a>(&'a self, chat: &'a ChatAddress, reply: &'a Reply) -> BoxFuture<'a, SendOutcome> {
        Box::pin(async move {
            if let Err(wait) = self.limiter.check(chat) {
                return SendOutcome::RetryAfter(wait);
            }
            let body = render(&self.bot_name, &chat.chat_id, reply);
            match self.call("/send_message", &body).await {
                Ok(response) => outcome(&response),
                Err(error) => transport_failure(error),
            }
        })
    }
}

impl Inbound for Viber {
    fn platform(&self) -> &str {
        PLATFORM
    }

    fn verify(&self, headers: &HeaderMap, raw_body: &[u8]) -> Result<(), AuthError> {
        let signature = required_header(headers, "x-viber-content-signature")?;
        verify_signature(self.token.expose().as_bytes(), signature, raw_body)
    }

    fn parse(
        &self,
        _headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<Vec<InboundMessage>, ParseError> {
        parse_callback(raw_body)
    }

    fn acknowledge(
        &self,
        _headers: &HeaderMap,
        raw_body: &[u8],
        _messages: &[InboundMessage],
    ) -> Option<WebhookResponse> {
        if event(raw_body).as_deref() != Some("conversation_started") {
            return None;
        }
        let start = Button {
            label: "Start".into(),
            command: "/start".into(),
        };
        let welcome = message(&self.bot_name, &self.welcome, &[start]);
        Some(WebhookResponse {
            status: 200,
            content_type: "application/json",
            body: welcome.to_string().into_bytes(),
        })
    }

    fn register_webhook<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<String, RegisterError>> {
        Box::pin(async move {
            let body = json!({"url": url, "event_types": EVENT_TYPES, "send_name": true});
            let response = self
                .call("/set_webhook", &body)
                .await
                .map_err(|error| RegisterError(format!("viber set_webhook: {error}")))?;
            let answer = response.json().filter(|_| response.is_success());
            match answer
                .as_ref()
                .and_then(|answer| answer.get("status")?.as_i64())
            {
                Some(0) => Ok(format!(
                    "webhook set to {url} (events: message, subscribed, unsubscribed, {})",
                    EVENT_TYPES.join(", ")
                )),
                Some(status) => Err(RegisterError(format!(
                    "viber set_webhook failed with status {status}: {}",
                    answer
                        .as_ref()
                        .and_then(|answer| answer.get("status_message")?.as_str())
                        .unwrap_or("")
                ))),
                None => Err(RegisterError(format!(
                    "viber set_webhook failed: {}",
                    response.describe()
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::{encode_hex, hmac_sha256};
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_of_the_body() {
        let body = br#"{"event":"webhook","timestamp":1457764197627,"message_token":241256543215}"#;
        let signature = encode_hex(&hmac_sha256(b"token", &[body]));
        assert_eq!(verify_signature(b"token", &signature, body), Ok(()));
        assert_eq!(
            verify_signature(b"token", &signature.to_uppercase(), body),
            Ok(())
        );
        assert!(verify_signature(b"other", &signature, body).is_err());
        assert!(verify_signature(b"token", &signature, b"{}").is_err());
        let error = verify_signature(b"token", "nothex", body).unwrap_err();
        assert!(!error.0.contains("nothex"), "{error}");
    }

    #[test]
    fn text_messages_parse_and_the_rest_gives_nothing() {
        let body = json!({
            "event": "message", "timestamp": 1457764197627_u64, "message_token": 4912661846655238145_u64,
            "sender": {"id": "01234567890A=", "name": "Ann", "api_version": 2},
            "message": {"type": "text", "text": " hint "}, "silent": false
        });
        let messages = parse_callback(body.to_string().as_bytes()).unwrap();
        assert_eq!(messages.len(), 1);
        let message = &messages[0];
        assert_eq!(
            (
                message.chat_id.as_str(),
                message.sender_id.as_str(),
                message.sender_name.as_str(),
                message.text.as_str(),
                message.message_id.as_str(),
                message.is_group
            ),
            (
                "01234567890A=",
                "01234567890A=",
                "Ann",
                "hint",
                "4912661846655238145",
                false
            )
        );
        for event in [
            "webhook",
            "conversation_started",
            "subscribed",
            "unsubscribed",
            "delivered",
            "seen",
            "failed",
        ] {
            let body = json!({"event": event, "timestamp": 1, "message_token": 2, "user_id": "u"});
            assert_eq!(
                parse_callback(body.to_string().as_bytes()).unwrap(),
                vec![],
                "{event}"
            );
        }
        let sticker = json!({"event": "message", "message_token": 3, "sender": {"id": "u"}, "message": {"type": "sticker", "sticker_id": 46105}});
        assert_eq!(
            parse_callback(sticker.to_string().as_bytes()).unwrap(),
            vec![]
        );
        assert!(parse_callback(b"{").is_err());
        assert!(parse_callback(br#"{"no":"event"}"#).is_err());
        let tokenless = json!({"event": "message", "sender": {"id": "u"}, "message": {"type": "text", "text": "x"}});
        assert!(parse_callback(tokenless.to_string().as_bytes()).is_err());
    }

    #[test]
    fn replies_render_with_a_keyboard() {
        let reply = Reply {
            text: "#1: <b>".into(),
            buttons: vec![
                Button {
                    label: "Hint".into(),
                    command: "hint".into(),
                },
                Button {
                    label: "Skip".into(),
                    command: "skip".into(),
                },
            ],
        };
        assert_eq!(
            render("Fraser", "u1", &reply),
            json!({
                "receiver": "u1", "min_api_version": 1, "sender": {"name": "Fraser"},
                "type": "text", "text": "#1: <b>",
                "keyboard": {"Type": "keyboard", "DefaultHeight": false, "Buttons": [
                    {"Columns": 3, "Rows": 1, "ActionType": "reply", "ActionBody": "hint", "Text": "Hint"},
                    {"Columns": 3, "Rows": 1, "ActionType": "reply", "ActionBody": "skip", "Text": "Skip"}
                ]}
            })
        );
        assert!(
            render("F", "u1", &Reply::text("x"))
                .get("keyboard")
                .is_none()
        );
        let many = vec![
            Button {
                label: "x".into(),
                command: "x".into()
            };
            8
        ];
        assert_eq!(keyboard(&many)["Buttons"][7]["Columns"], 1);
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let answer = |status: u16, body: &str| {
            outcome(&ApiResponse {
                status,
                retry_after: None,
                body: body.as_bytes().to_vec(),
            })
        };
        assert_eq!(
            answer(200, r#"{"status":0,"status_message":"ok"}"#),
            SendOutcome::Sent
        );
        assert_eq!(
            answer(200, r#"{"status":12,"status_message":"tooManyRequests"}"#),
            SendOutcome::RetryAfter(TOO_MANY_REQUESTS_WAIT)
        );
        for (status, permanent) in [
            (2, true),
            (5, true),
            (6, true),
            (10, true),
            (13, true),
            (99, false),
        ] {
            match answer(
                200,
                &format!(r#"{{"status":{status},"status_message":"m"}}"#),
            ) {
                SendOutcome::Failed {
                    permanent: got,
                    reason,
                } => {
                    assert_eq!(got, permanent, "{status}");
                    assert_eq!(reason, format!("viber status {status}: m"));
                }
                other => panic!("{status}: {other:?}"),
            }
        }
        assert!(matches!(
            answer(502, ""),
            SendOutcome::Failed {
                permanent: false,
                ..
            }
        ));
        assert!(matches!(
            answer(200, "{}"),
            SendOutcome::Failed {
                permanent: false,
                ..
            }
        ));
    }

    #[test]
    fn from_env_needs_the_token() {
        assert!(
            from_env(&Env::from_map::<&str, &str>([]))
                .unwrap()
                .is_none()
        );
        // The bot name and API URL alone do not enable the platform.
        let half = Env::from_map([("FRASER_VIBER_BOT_NAME", "Quiz")]);
        assert!(from_env(&half).unwrap().is_none());
        let empty_token_file = Env::from_map([("FRASER_VIBER_TOKEN_FILE", "/nonexistent/viber")]);
        let error = from_env(&empty_token_file).unwrap_err();
        assert!(error.0.contains("FRASER_VIBER_TOKEN_FILE"), "{error}");
        let full = Env::from_map([
            ("FRASER_VIBER_TOKEN", "t"),
            ("FRASER_VIBER_BOT_NAME", "Quiz"),
        ]);
        let adapter = from_env(&full).unwrap().unwrap();
        assert_eq!(adapter.platform(), "viber");
        assert_eq!(adapter.messenger.max_len(), MAX_LEN);
        let long_name = Env::from_map([
            ("FRASER_VIBER_TOKEN", "t"),
            ("FRASER_VIBER_BOT_NAME", &*"n".repeat(29)),
        ]);
        assert!(
            from_env(&long_name)
                .unwrap_err()
                .0
                .contains("FRASER_VIBER_BOT_NAME")
        );
    }
}
