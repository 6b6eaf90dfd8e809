//! The Facebook Messenger adapter (platform name `messenger`).
//!
//! Inbound: `POST /webhooks/messenger` with `object: page`; text messages, quick-reply
//! taps and postbacks (button taps, "Get Started") become messages; echoes of the
//! page's own sends, deliveries, reads, reactions and attachments do not. Messenger
//! chats are one person with one Page, so there are no groups. Outbound:
//! `POST /me/messages` (Send API, `messaging_type: RESPONSE`) with the Page token as a
//! Bearer header, buttons as quick replies. Webhook verification (signature and the
//! `hub.challenge` GET) is Meta's, shared with WhatsApp.

use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::common::{ApiClient, Env, Limiter, Secret, SendLimits, SettingsError, all_or_none};
use super::whatsapp::{
    answer_subscription, graph_post, items, json_id, json_object, text_at, verify_signature,
};
use super::{
    AuthError, Inbound, Messenger, ParseError, PlatformAdapter, SendOutcome, WebhookResponse,
};
use crate::model::{Button, ChatAddress, InboundMessage, Reply, Timestamp};
use crate::store::BoxFuture;

/// The platform name (`/webhooks/messenger`).
pub const PLATFORM: &str = "messenger";

/// The Graph API base URL used unless `FRASER_MESSENGER_API_URL` says otherwise.
pub const DEFAULT_API_URL: &str = "https://graph.facebook.com/v23.0";

/// The longest text message Messenger accepts, in characters.
pub const MAX_LEN: usize = 2000;

/// At most this many quick replies per message.
pub const MAX_QUICK_REPLIES: usize = 13;

/// The longest quick-reply title, in characters.
pub const MAX_TITLE: usize = 20;

/// The longest quick-reply payload, in characters.
pub const MAX_PAYLOAD: usize = 1000;

/// Messenger's documented Send API limit: 300 calls per second per Page for text
/// messages. Meta names no per-thread number ("may be rate limited if too many
/// messages are sent to a single thread"), so none is set.
pub const DEFAULT_LIMITS: SendLimits = SendLimits {
    per_chat: None,
    per_group_minute: None,
    global: Some(300),
};

/// The Messenger adapter's settings.
#[derive(Debug, Clone)]
pub struct FacebookSettings {
    /// `FRASER_MESSENGER_PAGE_TOKEN`: the Page access token (`pages_messaging`).
    pub page_token: Secret,
    /// `FRASER_MESSENGER_APP_SECRET`: the Meta app secret that signs webhooks.
    pub app_secret: Secret,
    /// `FRASER_MESSENGER_VERIFY_TOKEN`: the verify token entered in the app dashboard.
    pub verify_token: Secret,
    /// `FRASER_MESSENGER_API_URL`: the Graph API base URL, without a trailing slash.
    pub api_url: String,
    /// Send limits.
    pub limits: SendLimits,
}

impl FacebookSettings {
    /// Reads the settings; `Ok(None)` when none of the secrets is set.
    pub fn from_env(env: &Env) -> Result<Option<FacebookSettings>, SettingsError> {
        let names = [
            "FRASER_MESSENGER_PAGE_TOKEN",
            "FRASER_MESSENGER_APP_SECRET",
            "FRASER_MESSENGER_VERIFY_TOKEN",
        ];
        let Some([page_token, app_secret, verify_token]) = all_or_none(env, PLATFORM, names)?
        else {
            return Ok(None);
        };
        Ok(Some(FacebookSettings {
            page_token,
            app_secret,
            verify_token,
            api_url: env.api_url("FRASER_MESSENGER_API_URL", DEFAULT_API_URL)?,
            limits: env.send_limits("MESSENGER", DEFAULT_LIMITS)?,
        }))
    }
}

/// Builds the Messenger adapter when its settings are in `env`.
pub fn from_env(env: &Env) -> Result<Option<PlatformAdapter>, SettingsError> {
    Ok(FacebookSettings::from_env(env)?
        .map(|settings| PlatformAdapter::new(Facebook::new(settings))))
}

/// The Facebook Messenger adapter (both sides).
#[derive(Debug)]
pub struct Facebook {
    settings: FacebookSettings,
    client: ApiClient,
    limiter: Limiter,
}

impl Facebook {
    /// Creates the adapter.
    pub fn new(settings: FacebookSettings) -> Facebook {
        Facebook {
            client: ApiClient::new(settings.api_url.clone()),
            limiter: Limiter::new(settings.limits),
            settings,
        }
    }
}

impl Messenger for Facebook {
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
            let body = render_message(chat, reply);
            graph_post(
                &self.client,
                &self.settings.page_token,
                "/me/messages",
                &body,
            )
            .await
        })
    }
}

impl Inbound for Facebook {
    fn platform(&self) -> &str {
        PLATFORM
    }

    fn verify(&self, headers: &HeaderMap, raw_body: &[u8]) -> Result<(), AuthError> {
        verify_signature(headers, raw_body, &self.settings.app_secret)
    }

    fn parse(
        &self,
        _headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<Vec<InboundMessage>, ParseError> {
        parse_webhook(raw_body)
    }

    fn verify_subscription(&self, query: &str) -> Option<WebhookResponse> {
        answer_subscription(query, &self.settings.verify_token)
    }
}

/// Parses a Messenger webhook body into messages (empty for echoes, deliveries, reads,
/// reactions, attachments, other objects). `Err` only when the body is not a JSON object.
pub fn parse_webhook(raw_body: &[u8]) -> Result<Vec<InboundMessage>, ParseError> {
    let body = json_object(raw_body)?;
    if body.get("object").and_then(Value::as_str) != Some("page") {
        return Ok(Vec::new());
    }
    let mut messages = Vec::new();
    for entry in items(&body, "entry") {
        let page_id = json_id(entry.get("id"));
        messages.extend(
            items(entry, "messaging").filter_map(|event| parse_event(event, page_id.as_deref())),
        );
    }
    Ok(messages)
}

/// One `messaging[]` event, when it is a message with text, a quick reply or a postback.
fn parse_event(event: &Value, page_id: Option<&str>) -> Option<InboundMessage> {
    let sender_id = json_id(event.pointer("/sender/id"))?;
    let (text, message_id) = if let Some(message) = event.get("message") {
        if message.get("is_echo").and_then(Value::as_bool) == Some(true) {
            return None;
        }
        let text =
            text_at(message, "/quick_reply/payload").or_else(|| text_at(message, "/text"))?;
        (text, json_id(message.get("mid"))?)
    } else if let Some(postback) = event.get("postback") {
        let text = text_at(postback, "/payload")?;
        let message_id = json_id(postback.get("mid")).unwrap_or_else(|| {
            let timestamp = json_id(event.get("timestamp")).unwrap_or_default();
            format!("postback:{sender_id}:{timestamp}")
        });
        (text, message_id)
    } else {
        return None;
    };
    let page_id = page_id
        .map(str::to_string)
        .or_else(|| json_id(event.pointer("/recipient/id")));
    Some(InboundMessage {
        platform: PLATFORM.into(),
        chat_id: sender_id.clone(),
        sender_id,
        sender_name: String::new(),
        text: text.into(),
        message_id,
        is_group: false,
        reply_context: json!({ "page_id": page_id }),
        received_at: Timestamp(0),
    })
}

/// The body of `POST /me/messages` for `reply`: plain text (Messenger has no markup),
/// buttons as text quick replies whose payload is the command.
pub fn render_message(chat: &ChatAddress, reply: &Reply) -> Value {
    let mut message = json!({ "text": reply.text });
    let quick_replies = render_quick_replies(&reply.buttons);
    if !quick_replies.is_empty() {
        message["quick_replies"] = Value::Array(quick_replies);
    }
    json!({
        "recipient": { "id": chat.chat_id },
        "messaging_type": "RESPONSE",
        "message": message,
    })
}

fn render_quick_replies(buttons: &[Button]) -> Vec<Value> {
    buttons
        .iter()
        .filter_map(|button| {
            let label = if button.label.trim().is_empty() {
                &button.command
            } else {
                &button.label
            };
            let title: String = label.trim().chars().take(MAX_TITLE).collect();
            let payload = button.command.trim();
            let fits =
                !title.is_empty() && !payload.is_empty() && payload.chars().count() <= MAX_PAYLOAD;
            fits.then(|| json!({ "content_type": "text", "title": title, "payload": payload }))
        })
        .take(MAX_QUICK_REPLIES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(messaging: Value) -> Vec<u8> {
        json!({ "object": "page", "entry": [{ "id": "PAGE", "time": 1, "messaging": [messaging] }] })
            .to_string()
            .into_bytes()
    }

    fn event(kind: &str, body: Value) -> Vec<u8> {
        let mut event = json!({ "sender": { "id": "PSID" }, "recipient": { "id": "PAGE" }, "timestamp": 1458692752478_i64 });
        event[kind] = body;
        page(event)
    }

    #[test]
    fn texts_quick_replies_and_postbacks_become_messages() {
        let text =
            parse_webhook(&event("message", json!({ "mid": "m1", "text": "hello" }))).unwrap();
        assert_eq!(text.len(), 1);
        let m = &text[0];
        assert_eq!((m.chat_id.as_str(), m.sender_id.as_str()), ("PSID", "PSID"));
        assert_eq!((m.text.as_str(), m.message_id.as_str()), ("hello", "m1"));
        assert!(!m.is_group);
        assert_eq!(m.reply_context, json!({ "page_id": "PAGE" }));

        let quick = event(
            "message",
            json!({ "mid": "m2", "text": "Hint", "quick_reply": { "payload": "hint" } }),
        );
        assert_eq!(parse_webhook(&quick).unwrap()[0].text, "hint");

        let postback = event("postback", json!({ "title": "Skip", "payload": "skip" }));
        let m = &parse_webhook(&postback).unwrap()[0];
        assert_eq!(
            (m.text.as_str(), m.message_id.as_str()),
            ("skip", "postback:PSID:1458692752478")
        );
    }

    #[test]
    fn echoes_and_events_without_text_are_skipped() {
        for (kind, body) in [
            (
                "message",
                json!({ "mid": "m", "text": "sent by the page", "is_echo": true }),
            ),
            (
                "message",
                json!({ "mid": "m", "attachments": [{ "type": "image" }] }),
            ),
            ("delivery", json!({ "mids": ["m"], "watermark": 1 })),
            ("read", json!({ "watermark": 1 })),
            (
                "reaction",
                json!({ "mid": "m", "action": "react", "emoji": "x" }),
            ),
        ] {
            assert!(
                parse_webhook(&event(kind, body)).unwrap().is_empty(),
                "{kind}"
            );
        }
        assert!(
            parse_webhook(br#"{"object":"instagram","entry":[]}"#)
                .unwrap()
                .is_empty()
        );
        assert!(parse_webhook(b"{not json").is_err());
    }

    #[test]
    fn renders_text_with_quick_replies() {
        let chat = ChatAddress {
            platform: PLATFORM.into(),
            chat_id: "PSID".into(),
            is_group: false,
            reply_context: json!({ "page_id": "PAGE" }),
        };
        assert_eq!(
            render_message(&chat, &Reply::text("a *b*")),
            json!({ "recipient": { "id": "PSID" }, "messaging_type": "RESPONSE", "message": { "text": "a *b*" } })
        );
        let reply = Reply {
            text: "#1".into(),
            buttons: vec![
                Button {
                    label: "Hint".into(),
                    command: "hint".into(),
                },
                Button {
                    label: "A label longer than twenty".into(),
                    command: "skip".into(),
                },
            ],
        };
        let body = render_message(&chat, &reply);
        assert_eq!(
            body["message"]["quick_replies"],
            json!([
                { "content_type": "text", "title": "Hint", "payload": "hint" },
                { "content_type": "text", "title": "A label longer than ", "payload": "skip" }
            ])
        );
    }

    #[test]
    fn from_env_needs_all_three_secrets() {
        assert!(
            from_env(&Env::from_map([("FRASER_WHATSAPP_TOKEN", "x")]))
                .unwrap()
                .is_none()
        );
        let half = Env::from_map([("FRASER_MESSENGER_PAGE_TOKEN", "t")]);
        let error = from_env(&half).unwrap_err();
        assert!(error.0.contains("FRASER_MESSENGER_APP_SECRET"), "{error}");
        assert!(error.0.contains("FRASER_MESSENGER_VERIFY_TOKEN"), "{error}");
        let full = [
            ("FRASER_MESSENGER_PAGE_TOKEN", "t"),
            ("FRASER_MESSENGER_APP_SECRET", "s"),
            ("FRASER_MESSENGER_VERIFY_TOKEN", "v"),
        ];
        let settings = FacebookSettings::from_env(&Env::from_map(full))
            .unwrap()
            .unwrap();
        assert_eq!(
            (settings.api_url.as_str(), settings.limits),
            (DEFAULT_API_URL, DEFAULT_LIMITS)
        );
        let adapter = from_env(&Env::from_map(full)).unwrap().unwrap();
        assert_eq!(adapter.platform(), PLATFORM);
        assert_eq!(adapter.messenger.max_len(), MAX_LEN);
        let bad = Env::from_map(
            full.into_iter()
                .chain([("FRASER_MESSENGER_API_URL", "ftp://x")]),
        );
        assert!(from_env(&bad).is_err());
    }
}
