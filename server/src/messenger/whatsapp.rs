//! The WhatsApp Cloud API adapter, plus the Meta webhook parts Facebook Messenger
//! shares (`X-Hub-Signature-256`, the `hub.challenge` subscription check, Graph API
//! error codes).
//!
//! Inbound: `POST /webhooks/whatsapp` with `object: whatsapp_business_account`; text,
//! reply-button and list replies, and template quick-reply buttons become messages;
//! statuses, reactions, media and the like do not. A group the business created
//! (`group_create`) is greeted with `/start`. Outbound: `POST /{phone_number_id}/messages`
//! with a text body, or reply buttons when the reply has buttons.

use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::common::{
    ApiClient, ApiResponse, Env, Limiter, Secret, SendLimits, SettingsError, all_or_none,
    constant_time_eq, decode_hex, required_header, transport_failure, verify_hmac_sha256,
};
use super::{
    AuthError, Inbound, Messenger, ParseError, PlatformAdapter, SendOutcome, WebhookResponse,
};
use crate::model::{Button, ChatAddress, InboundMessage, Reply, Timestamp};
use crate::store::BoxFuture;

/// The platform name (`/webhooks/whatsapp`).
pub const PLATFORM: &str = "whatsapp";

/// The Graph API base URL used unless `FRASER_WHATSAPP_API_URL` says otherwise.
pub const DEFAULT_API_URL: &str = "https://graph.facebook.com/v23.0";

/// The longest text message WhatsApp accepts, in characters.
pub const MAX_LEN: usize = 4096;

/// The longest body of an interactive (reply-button) message, in characters (spec:
/// `BodyObject.text.maxLength`). Longer replies go as plain text without buttons.
pub const MAX_BUTTON_BODY: usize = 1024;

/// At most this many reply buttons per message.
pub const MAX_BUTTONS: usize = 3;

/// The longest reply-button title, in characters.
pub const MAX_BUTTON_TITLE: usize = 20;

/// WhatsApp's documented send limits (Meta's "Throughput" page; the OpenAPI spec has
/// no numbers): 80 messages per second per business number, and a pair rate of one
/// message per 6 s to one user (10 per minute, bursts allowed). The pair rate is below
/// the 1/s granularity of `per_chat`, so this adapter applies `per_group_minute` to
/// every chat, direct or group.
pub const DEFAULT_LIMITS: SendLimits = SendLimits {
    per_chat: None,
    per_group_minute: Some(10),
    global: Some(80),
};

/// The WhatsApp adapter's settings.
#[derive(Debug, Clone)]
pub struct WhatsAppSettings {
    /// `FRASER_WHATSAPP_TOKEN`: a (system user) access token with
    /// `whatsapp_business_messaging`.
    pub token: Secret,
    /// `FRASER_WHATSAPP_APP_SECRET`: the Meta app secret that signs webhooks.
    pub app_secret: Secret,
    /// `FRASER_WHATSAPP_VERIFY_TOKEN`: the verify token entered in the app dashboard.
    pub verify_token: Secret,
    /// `FRASER_WHATSAPP_API_URL`: the Graph API base URL, without a trailing slash.
    pub api_url: String,
    /// Send limits; `per_group_minute` applies to every chat (see [`DEFAULT_LIMITS`]).
    pub limits: SendLimits,
}

impl WhatsAppSettings {
    /// Reads the settings; `Ok(None)` when none of the secrets is set.
    pub fn from_env(env: &Env) -> Result<Option<WhatsAppSettings>, SettingsError> {
        let names = [
            "FRASER_WHATSAPP_TOKEN",
            "FRASER_WHATSAPP_APP_SECRET",
            "FRASER_WHATSAPP_VERIFY_TOKEN",
        ];
        let Some([token, app_secret, verify_token]) = all_or_none(env, PLATFORM, names)? else {
            return Ok(None);
        };
        Ok(Some(WhatsAppSettings {
            token,
            app_secret,
            verify_token,
            api_url: env.api_url("FRASER_WHATSAPP_API_URL", DEFAULT_API_URL)?,
            limits: env.send_limits("WHATSAPP", DEFAULT_LIMITS)?,
        }))
    }
}

/// Builds the WhatsApp adapter when its settings are in `env`.
pub fn from_env(env: &Env) -> Result<Option<PlatformAdapter>, SettingsError> {
    Ok(WhatsAppSettings::from_env(env)?
        .map(|settings| PlatformAdapter::new(WhatsApp::new(settings))))
}

/// The WhatsApp Cloud API adapter (both sides).
#[derive(Debug)]
pub struct WhatsApp {
    settings: WhatsAppSettings,
    client: ApiClient,
    limiter: Limiter,
}

impl WhatsApp {
    /// Creates the adapter.
    pub fn new(settings: WhatsAppSettings) -> WhatsApp {
        WhatsApp {
            client: ApiClient::new(settings.api_url.clone()),
            limiter: Limiter::new(settings.limits),
            settings,
        }
    }
}

impl Messenger for WhatsApp {
    fn platform(&self) -> &str {
        PLATFORM
    }

    fn max_len(&self) -> usize {
        MAX_LEN
    }

    fn send<'a>(&'a self, chat: &'a ChatAddress, reply: &'a Reply) -> BoxFuture<'a, SendOutcome> {
        Box::pin(async move {
            let Some(phone_number_id) = chat
                .reply_context
                .get("phone_number_id")
                .and_then(Value::as_str)
                .filter(|id| is_path_segment(id))
            else {
                return SendOutcome::Failed {
                    permanent: true,
                    reason: "the reply context has no valid phone_number_id".into(),
                };
            };
            // The pair rate limit holds for every chat: limit all as "groups".
            let pair = ChatAddress {
                is_group: true,
                ..chat.clone()
            };
            if let Err(wait) = self.limiter.check(&pair) {
                return SendOutcome::RetryAfter(wait);
            }
            let path = format!("/{phone_number_id}/messages");
            graph_post(
                &self.client,
                &self.settings.token,
                &path,
                &render_message(chat, reply),
            )
            .await
        })
    }
}

impl Inbound for WhatsApp {
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

/// Parses a WhatsApp webhook body into messages (empty for statuses, reactions, media,
/// other objects...). `Err` only when the body is not a JSON object.
pub fn parse_webhook(raw_body: &[u8]) -> Result<Vec<InboundMessage>, ParseError> {
    let body = json_object(raw_body)?;
    let mut messages = Vec::new();
    if body.get("object").and_then(Value::as_str) != Some("whatsapp_business_account") {
        return Ok(messages);
    }
    for change in items(&body, "entry").flat_map(|entry| items(entry, "changes")) {
        let Some(value) = change.get("value") else {
            continue;
        };
        let Some(phone_number_id) = json_id(value.pointer("/metadata/phone_number_id")) else {
            continue;
        };
        let context = json!({ "phone_number_id": phone_number_id });
        match change.get("field").and_then(Value::as_str) {
            Some("messages") | None => messages.extend(
                items(value, "messages")
                    .filter_map(|message| parse_message(message, value, &context)),
            ),
            // The field decides: the spec's own "Group Remove Participants" example
            // says `group_create` under `group_participants_update`.
            Some("group_lifecycle_update") => messages
                .extend(items(value, "groups").filter_map(|event| greet_group(event, &context))),
            Some(_) => {}
        }
    }
    Ok(messages)
}

/// One entry of `value.messages[]`, when it carries text or a button press.
fn parse_message(message: &Value, value: &Value, context: &Value) -> Option<InboundMessage> {
    let text = match message.get("type").and_then(Value::as_str)? {
        "text" => text_at(message, "/text/body"),
        "interactive" => text_at(message, "/interactive/button_reply/id")
            .or_else(|| text_at(message, "/interactive/list_reply/id")),
        "button" => {
            text_at(message, "/button/payload").or_else(|| text_at(message, "/button/text"))
        }
        _ => None,
    }?;
    let message_id = json_id(message.get("id"))?;
    let sender_id =
        json_id(message.get("from")).or_else(|| json_id(message.get("from_user_id")))?;
    let group_id = json_id(message.get("group_id"));
    let sender_name = items(value, "contacts")
        .find(|contact| {
            [contact.get("wa_id"), contact.get("user_id")]
                .into_iter()
                .any(|id| json_id(id).as_deref() == Some(sender_id.as_str()))
        })
        .and_then(|contact| text_at(contact, "/profile/name"))
        .unwrap_or_default();
    Some(InboundMessage {
        platform: PLATFORM.into(),
        chat_id: group_id.clone().unwrap_or_else(|| sender_id.clone()),
        sender_id,
        sender_name: sender_name.into(),
        text: text.into(),
        message_id,
        is_group: group_id.is_some(),
        reply_context: context.clone(),
        received_at: Timestamp(0),
    })
}

/// A `group_create` event (the business created a group): greet it with `/start`.
fn greet_group(event: &Value, context: &Value) -> Option<InboundMessage> {
    if event.get("type").and_then(Value::as_str) != Some("group_create") {
        return None;
    }
    Some(InboundMessage {
        platform: PLATFORM.into(),
        chat_id: json_id(event.get("group_id"))?,
        sender_id: String::new(),
        sender_name: String::new(),
        text: "/start".into(),
        message_id: json_id(event.get("request_id"))?,
        is_group: true,
        reply_context: context.clone(),
        received_at: Timestamp(0),
    })
}

/// The body of `POST /{phone_number_id}/messages` for `reply`: reply buttons when the
/// reply has buttons and its text fits an interactive body, else a text message.
pub fn render_message(chat: &ChatAddress, reply: &Reply) -> Value {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": if chat.is_group { "group" } else { "individual" },
        "to": chat.chat_id,
    });
    let buttons = render_buttons(&reply.buttons);
    if !buttons.is_empty() && reply.text.chars().count() <= MAX_BUTTON_BODY {
        body["type"] = json!("interactive");
        body["interactive"] = json!({
            "type": "button",
            "body": { "text": escaped_within(&reply.text, MAX_BUTTON_BODY) },
            "action": { "buttons": buttons },
        });
    } else {
        body["type"] = json!("text");
        body["text"] =
            json!({ "body": escaped_within(&reply.text, MAX_LEN), "preview_url": false });
    }
    body
}

/// Reply buttons: at most three, titles cut to 20 characters and unique, ids = commands.
fn render_buttons(buttons: &[Button]) -> Vec<Value> {
    let mut titles: Vec<String> = Vec::new();
    let mut rendered = Vec::new();
    for button in buttons {
        let label = if button.label.trim().is_empty() {
            &button.command
        } else {
            &button.label
        };
        let title: String = label.trim().chars().take(MAX_BUTTON_TITLE).collect();
        let id = button.command.trim();
        if title.is_empty() || id.is_empty() || id.len() > 256 || titles.contains(&title) {
            continue;
        }
        rendered.push(json!({ "type": "reply", "reply": { "id": id, "title": title } }));
        titles.push(title);
        if rendered.len() == MAX_BUTTONS {
            break;
        }
    }
    rendered
}

/// [`escape_formatting`] unless that makes the text longer than `limit` characters (the
/// markers then stay as they are rather than the text being refused).
fn escaped_within(text: &str, limit: usize) -> String {
    let escaped = escape_formatting(text);
    if escaped.chars().count() <= limit {
        escaped
    } else {
        text.to_string()
    }
}

/// Keeps WhatsApp from formatting `*bold*`, `_italic_`, `~strike~` and `` `code` ``:
/// WhatsApp has no escape character, so a zero-width space goes after every marker
/// that could open a formatted span (at a word start, before a non-space).
pub fn escape_formatting(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        let opens = matches!(c, '*' | '_' | '~' | '`')
            && previous.is_none_or(|p| !p.is_alphanumeric())
            && chars.peek().is_some_and(|next| !next.is_whitespace());
        if opens {
            out.push('\u{200B}');
        }
        previous = Some(c);
    }
    out
}

// ---------------------------------------------------------------------------------
// Meta parts shared with Facebook Messenger (facebook.rs).

/// The header Meta signs webhook bodies with: `sha256=<hex HMAC-SHA256(body, app secret)>`.
pub(crate) const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Checks `X-Hub-Signature-256` over the raw body, in constant time.
pub(crate) fn verify_signature(
    headers: &HeaderMap,
    raw_body: &[u8],
    app_secret: &Secret,
) -> Result<(), AuthError> {
    let value = required_header(headers, SIGNATURE_HEADER)?;
    let signature = value
        .trim()
        .strip_prefix("sha256=")
        .and_then(decode_hex)
        .ok_or_else(|| AuthError(format!("{SIGNATURE_HEADER} is not sha256=<hex>")))?;
    if verify_hmac_sha256(app_secret.expose().as_bytes(), &[raw_body], &signature) {
        Ok(())
    } else {
        Err(AuthError(format!(
            "{SIGNATURE_HEADER} does not match the body"
        )))
    }
}

/// Answers Meta's subscription check `?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`
/// with the challenge as plain text when the token matches (constant time).
pub(crate) fn answer_subscription(query: &str, verify_token: &Secret) -> Option<WebhookResponse> {
    let url = reqwest::Url::parse(&format!("http://localhost/?{query}")).ok()?;
    let (mut mode, mut token, mut challenge) = (None, None, None);
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "hub.mode" => mode = Some(value.into_owned()),
            "hub.verify_token" => token = Some(value.into_owned()),
            "hub.challenge" => challenge = Some(value.into_owned()),
            _ => {}
        }
    }
    let token_matches = token
        .is_some_and(|token| constant_time_eq(token.as_bytes(), verify_token.expose().as_bytes()));
    let challenge = challenge.filter(|challenge| !challenge.is_empty())?;
    (mode.as_deref() == Some("subscribe") && token_matches).then(|| WebhookResponse {
        status: 200,
        content_type: "text/plain; charset=utf-8",
        body: challenge.into_bytes(),
    })
}

/// Graph API error codes that mean "rate limited", with the wait used when the answer
/// has no `Retry-After` (Meta gives none in the body): 4 app, 17 user, 32 page,
/// 613 call rate, 80006 Messenger, 80007 WhatsApp account, 130429 throughput,
/// 131048 spam rate, 131056 pair rate (one message per 6 s to one user).
const RATE_LIMIT_CODES: [(i64, u64); 9] = [
    (4, 60),
    (17, 60),
    (32, 60),
    (613, 60),
    (80006, 60),
    (80007, 60),
    (130429, 1),
    (131048, 60),
    (131056, 6),
];

/// Graph API error codes that are temporary ("please retry"), besides `is_transient`.
const TRANSIENT_CODES: [i64; 6] = [1, 2, 1200, 131000, 131016, 131057];

/// Reads a Graph API answer: 2xx sent; HTTP 429 or a rate-limit error code retry
/// after `Retry-After` (or the code's usual wait); 5xx, 408, 409 and transient errors
/// retryable; other errors (invalid recipient, outside the messaging window, bad
/// token...) permanent.
pub(crate) fn graph_outcome(response: &ApiResponse) -> SendOutcome {
    if response.is_success() {
        return SendOutcome::Sent;
    }
    let error = response.json().and_then(|body| body.get("error").cloned());
    let code = error
        .as_ref()
        .and_then(|error| error.get("code"))
        .and_then(Value::as_i64);
    if let Some(&(_, seconds)) = RATE_LIMIT_CODES
        .iter()
        .find(|(known, _)| Some(*known) == code)
    {
        return SendOutcome::RetryAfter(
            response.retry_after.unwrap_or(Duration::from_secs(seconds)),
        );
    }
    let transient = code.is_some_and(|code| TRANSIENT_CODES.contains(&code))
        || error
            .as_ref()
            .and_then(|error| error.get("is_transient"))
            .and_then(Value::as_bool)
            == Some(true);
    match response.outcome() {
        SendOutcome::Failed { reason, .. } if transient => SendOutcome::Failed {
            permanent: false,
            reason,
        },
        outcome => outcome,
    }
}

/// POSTs `body` to the Graph API with the token as a Bearer header (never in the URL).
pub(crate) async fn graph_post(
    client: &ApiClient,
    token: &Secret,
    path: &str,
    body: &Value,
) -> SendOutcome {
    let authorization = format!("Bearer {}", token.expose());
    match client
        .post_json(path, &[("authorization", &authorization)], body)
        .await
    {
        Ok(response) => graph_outcome(&response),
        Err(reason) => transport_failure(reason),
    }
}

/// The body as a JSON object.
pub(crate) fn json_object(raw_body: &[u8]) -> Result<Value, ParseError> {
    let body: Value = serde_json::from_slice(raw_body)
        .map_err(|error| ParseError(format!("not JSON: {error}")))?;
    if body.is_object() {
        Ok(body)
    } else {
        Err(ParseError("not a JSON object".into()))
    }
}

/// The elements of the array `value[key]`; none when absent or not an array.
pub(crate) fn items<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> + 'a {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// An id given as a string or a number, as text; `None` when absent or empty.
pub(crate) fn json_id(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The trimmed, non-empty string at `pointer`.
pub(crate) fn text_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

/// Whether `id` can go into a URL path as is (Graph ids are digits).
pub(crate) fn is_path_segment(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|byte| byte.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messenger::common::{encode_hex, hmac_sha256};

    fn settings() -> WhatsAppSettings {
        WhatsAppSettings {
            token: Secret::new("token"),
            app_secret: Secret::new("app-secret"),
            verify_token: Secret::new("verify me"),
            api_url: "http://127.0.0.1:9".into(),
            limits: SendLimits::default(),
        }
    }

    fn chat(id: &str, is_group: bool) -> ChatAddress {
        ChatAddress {
            platform: PLATFORM.into(),
            chat_id: id.into(),
            is_group,
            reply_context: json!({ "phone_number_id": "106540352242922" }),
        }
    }

    fn webhook(value: Value) -> Vec<u8> {
        json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "419561257915477", "changes": [{ "field": "messages", "value": value }] }]
        })
        .to_string()
        .into_bytes()
    }

    fn signed(body: &[u8], secret: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let signature = format!(
            "sha256={}",
            encode_hex(&hmac_sha256(secret.as_bytes(), &[body]))
        );
        headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
        headers
    }

    #[test]
    fn signatures_are_checked_over_the_raw_body() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let secret = Secret::new("app-secret");
        assert!(verify_signature(&signed(body, "app-secret"), body, &secret).is_ok());
        assert!(verify_signature(&signed(body, "other"), body, &secret).is_err());
        assert!(verify_signature(&signed(body, "app-secret"), b"{}", &secret).is_err());
        assert!(verify_signature(&HeaderMap::new(), body, &secret).is_err());
        let mut sha1 = HeaderMap::new();
        sha1.insert(SIGNATURE_HEADER, "sha1=00ff".parse().unwrap());
        let error = verify_signature(&sha1, body, &secret).unwrap_err();
        assert!(
            !error.0.contains("00ff") && !error.0.contains("app-secret"),
            "{error}"
        );
    }

    #[test]
    fn subscription_answers_the_challenge_only_for_the_token() {
        let token = Secret::new("verify me");
        let answer = answer_subscription(
            "hub.mode=subscribe&hub.verify_token=verify%20me&hub.challenge=1158201444",
            &token,
        )
        .unwrap();
        assert_eq!(
            (answer.status, answer.body.as_slice()),
            (200, &b"1158201444"[..])
        );
        assert!(answer.content_type.starts_with("text/plain"));
        for query in [
            "hub.mode=subscribe&hub.verify_token=verify+you&hub.challenge=1",
            "hub.mode=unsubscribe&hub.verify_token=verify+me&hub.challenge=1",
            "hub.mode=subscribe&hub.verify_token=verify+me",
            "hub.mode=subscribe&hub.challenge=1",
            "",
        ] {
            assert!(answer_subscription(query, &token).is_none(), "{query}");
        }
    }

    #[test]
    fn text_buttons_and_lists_become_messages() {
        let contacts = json!([{ "profile": { "name": "Sheena" }, "wa_id": "16505551234" }]);
        let metadata = json!({ "phone_number_id": "106540352242922" });
        let message = |extra: Value| {
            let mut message = json!({ "from": "16505551234", "id": "wamid.A", "timestamp": "1" });
            message
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            webhook(json!({ "metadata": metadata, "contacts": contacts, "messages": [message] }))
        };
        let cases = [
            (
                json!({ "type": "text", "text": { "body": " guess " } }),
                "guess",
            ),
            (
                json!({ "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "hint", "title": "Hint" } } }),
                "hint",
            ),
            (
                json!({ "type": "interactive", "interactive": { "type": "list_reply", "list_reply": { "id": "skip", "title": "Skip" } } }),
                "skip",
            ),
            (
                json!({ "type": "button", "button": { "payload": "play", "text": "Play" } }),
                "play",
            ),
        ];
        for (extra, text) in cases {
            let parsed = parse_webhook(&message(extra)).unwrap();
            assert_eq!(parsed.len(), 1);
            let m = &parsed[0];
            assert_eq!(m.text, text);
            assert_eq!(
                (m.chat_id.as_str(), m.sender_id.as_str()),
                ("16505551234", "16505551234")
            );
            assert_eq!(
                (m.sender_name.as_str(), m.message_id.as_str()),
                ("Sheena", "wamid.A")
            );
            assert!(!m.is_group);
            assert_eq!(
                m.reply_context,
                json!({ "phone_number_id": "106540352242922" })
            );
        }
        for extra in [
            json!({ "type": "image", "image": { "id": "1", "caption": "hint" } }),
            json!({ "type": "reaction", "reaction": { "message_id": "wamid.B", "emoji": "x" } }),
            json!({ "type": "text", "text": { "body": "  " } }),
            json!({ "type": "interactive" }),
        ] {
            assert!(parse_webhook(&message(extra)).unwrap().is_empty());
        }
    }

    #[test]
    fn group_messages_and_group_creation() {
        let body = webhook(json!({
            "metadata": { "phone_number_id": "106540352242922" },
            "contacts": [
                { "profile": { "name": "Other" }, "wa_id": "1" },
                { "profile": { "name": "Ana" }, "wa_id": "16505551234" }
            ],
            "messages": [{ "from": "16505551234", "group_id": "G1", "id": "wamid.G", "type": "text", "text": { "body": "hint" } }]
        }));
        let m = &parse_webhook(&body).unwrap()[0];
        assert_eq!(
            (
                m.chat_id.as_str(),
                m.sender_id.as_str(),
                m.sender_name.as_str()
            ),
            ("G1", "16505551234", "Ana")
        );
        assert!(m.is_group);

        let created = json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "1", "changes": [{ "field": "group_lifecycle_update", "value": {
                "metadata": { "phone_number_id": "106540352242922" },
                "groups": [
                    { "timestamp": 1, "group_id": "G2", "type": "group_create", "request_id": "R1" },
                    { "timestamp": 1, "group_id": "G2", "type": "group_delete", "request_id": "R2" }
                ]
            }}]}]
        });
        let greeting = parse_webhook(created.to_string().as_bytes()).unwrap();
        assert_eq!(greeting.len(), 1);
        let m = &greeting[0];
        assert_eq!(
            (m.text.as_str(), m.chat_id.as_str(), m.message_id.as_str()),
            ("/start", "G2", "R1")
        );
        assert!(m.is_group);
    }

    #[test]
    fn other_objects_and_bad_bodies() {
        assert!(
            parse_webhook(br#"{"object":"page","entry":[]}"#)
                .unwrap()
                .is_empty()
        );
        assert!(
            parse_webhook(br#"{"object":"whatsapp_business_account","entry":7}"#)
                .unwrap()
                .is_empty()
        );
        assert!(parse_webhook(b"{not json").is_err());
        assert!(parse_webhook(b"[]").is_err());
    }

    #[test]
    fn renders_text_and_reply_buttons() {
        let text = render_message(&chat("16505551234", false), &Reply::text("a *b* c"));
        assert_eq!(
            text,
            json!({
                "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
                "type": "text", "text": { "body": "a *\u{200B}b* c", "preview_url": false }
            })
        );
        let buttons = |labels: &[&str]| Reply {
            text: "#1: go".into(),
            buttons: labels
                .iter()
                .map(|label| Button {
                    label: (*label).into(),
                    command: label.to_lowercase(),
                })
                .collect(),
        };
        let body = render_message(
            &chat("G1", true),
            &buttons(&["Hint", "Skip", "A very long button label", "Four"]),
        );
        assert_eq!(body["recipient_type"], "group");
        assert_eq!(body["type"], "interactive");
        assert_eq!(body["interactive"]["body"]["text"], "#1: go");
        let rendered = body["interactive"]["action"]["buttons"].as_array().unwrap();
        assert_eq!(rendered.len(), 3);
        assert_eq!(
            rendered[0],
            json!({ "type": "reply", "reply": { "id": "hint", "title": "Hint" } })
        );
        assert_eq!(rendered[2]["reply"]["title"], "A very long button l");
        // Too long for an interactive body: plain text, buttons dropped.
        let mut long = buttons(&["Hint"]);
        long.text = "x".repeat(MAX_BUTTON_BODY + 1);
        assert_eq!(render_message(&chat("1", false), &long)["type"], "text");
    }

    #[test]
    fn formatting_markers_are_neutralised() {
        assert_eq!(escape_formatting("plain text"), "plain text");
        assert_eq!(
            escape_formatting("_x_ ~y~ `z`"),
            "_\u{200B}x_ ~\u{200B}y~ `\u{200B}z`"
        );
        assert_eq!(escape_formatting("snake_case 3 * 4"), "snake_case 3 * 4");
        // Escaping never pushes a text over the limit.
        let full = "*a".repeat(MAX_LEN / 2);
        assert_eq!(escaped_within(&full, MAX_LEN), full);
    }

    #[test]
    fn graph_errors_map_to_outcomes() {
        let answer = |status, retry_after: Option<u64>, body: Value| ApiResponse {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: body.to_string().into_bytes(),
        };
        let error = |code: i64| json!({ "error": { "code": code, "message": "m" } });
        assert_eq!(
            graph_outcome(&answer(200, None, json!({}))),
            SendOutcome::Sent
        );
        assert_eq!(
            graph_outcome(&answer(429, Some(7), error(130429))),
            SendOutcome::RetryAfter(Duration::from_secs(7))
        );
        assert_eq!(
            graph_outcome(&answer(400, None, error(131056))),
            SendOutcome::RetryAfter(Duration::from_secs(6))
        );
        assert_eq!(
            graph_outcome(&answer(400, None, error(80007))),
            SendOutcome::RetryAfter(Duration::from_secs(60))
        );
        assert_eq!(
            graph_outcome(&answer(429, None, json!({}))),
            SendOutcome::RetryAfter(Duration::from_secs(1))
        );
        let permanent = |outcome| {
            matches!(
                outcome,
                SendOutcome::Failed {
                    permanent: true,
                    ..
                }
            )
        };
        let retryable = |outcome| {
            matches!(
                outcome,
                SendOutcome::Failed {
                    permanent: false,
                    ..
                }
            )
        };
        assert!(
            permanent(graph_outcome(&answer(400, None, error(131026)))),
            "invalid recipient"
        );
        assert!(
            permanent(graph_outcome(&answer(401, None, error(190)))),
            "bad token"
        );
        assert!(retryable(graph_outcome(&answer(500, None, error(1)))));
        assert!(retryable(graph_outcome(&answer(400, None, error(131000)))));
        assert!(retryable(graph_outcome(&answer(
            400,
            None,
            json!({ "error": { "code": 100, "is_transient": true } })
        ))));
    }

    #[tokio::test]
    async fn sends_need_a_phone_number_id() {
        let adapter = WhatsApp::new(settings());
        let mut address = chat("1", false);
        address.reply_context = json!({ "phone_number_id": "../x" });
        let outcome = adapter.send(&address, &Reply::text("hi")).await;
        assert!(
            matches!(
                outcome,
                SendOutcome::Failed {
                    permanent: true,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn the_pair_rate_limit_holds_back_a_busy_chat() {
        let adapter = WhatsApp::new(WhatsAppSettings {
            limits: DEFAULT_LIMITS,
            ..settings()
        });
        // Fill the chat's burst (10 per minute) without calling the API.
        for _ in 0..10 {
            adapter.limiter.check(&chat("1", true)).unwrap();
        }
        let outcome = adapter.send(&chat("1", false), &Reply::text("hi")).await;
        assert!(
            matches!(outcome, SendOutcome::RetryAfter(wait) if wait > Duration::from_secs(1)),
            "{outcome:?}"
        );
    }

    #[test]
    fn from_env_needs_all_three_secrets() {
        assert!(
            from_env(&Env::from_map([("OTHER", "x")]))
                .unwrap()
                .is_none()
        );
        let half = Env::from_map([
            ("FRASER_WHATSAPP_TOKEN", "t"),
            ("FRASER_WHATSAPP_APP_SECRET", "s"),
        ]);
        let error = from_env(&half).unwrap_err();
        assert!(error.0.contains("FRASER_WHATSAPP_VERIFY_TOKEN"), "{error}");
        assert!(!error.0.contains("\"t\""), "{error}");
        let full = [
            ("FRASER_WHATSAPP_TOKEN", "t"),
            ("FRASER_WHATSAPP_APP_SECRET", "s"),
            ("FRASER_WHATSAPP_VERIFY_TOKEN", "v"),
        ];
        let settings = WhatsAppSettings::from_env(&Env::from_map(full))
            .unwrap()
            .unwrap();
        assert_eq!(settings.api_url, DEFAULT_API_URL);
        assert_eq!(settings.limits, DEFAULT_LIMITS);
        assert_eq!(settings.token.expose(), "t");
        let adapter = from_env(&Env::from_map(full)).unwrap().unwrap();
        assert_eq!(adapter.platform(), PLATFORM);
        assert_eq!(adapter.messenger.max_len(), MAX_LEN);
        let custom = Env::from_map(
            full.into_iter()
                .chain([("FRASER_WHATSAPP_API_URL", "http://127.0.0.1:1/")]),
        );
        assert_eq!(
            WhatsAppSettings::from_env(&custom)
                .unwrap()
                .unwrap()
                .api_url,
            "http://127.0.0.1:1"
        );
    }
}
