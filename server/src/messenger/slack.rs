//! Slack: the Events API (signed JSON event callbacks) and interactivity (signed form
//! posts of Block Kit button clicks) in, `chat.postMessage` out.
//!
//! Requests are signed with `X-Slack-Signature: v0=<hex HMAC-SHA256("v0:{ts}:{body}")>`
//! under the app's signing secret and `X-Slack-Request-Timestamp` must be within five
//! minutes of now. Slack retries an event (with `X-Slack-Retry-Num`) when it got no 200
//! in 3 s; the inbox ignores the repeated message id.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::common::{
    ApiClient, ApiResponse, Env, Limiter, Secret, SendLimits, SettingsError, all_or_none,
    decode_hex, required_header, transport_failure, verify_hmac_sha256,
};
use super::{
    AuthError, Inbound, Messenger, ParseError, PlatformAdapter, SendOutcome, WebhookResponse,
};
use crate::model::{ChatAddress, InboundMessage, Reply, Timestamp};
use crate::store::BoxFuture;

/// The platform name.
pub const PLATFORM: &str = "slack";
/// The Web API base URL used unless `FRASER_SLACK_API_URL` says otherwise.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";
/// The longest reply sent in one message (Slack truncates `text` after 40,000
/// characters and recommends at most 4,000).
pub const MAX_LEN: usize = 4000;
/// How far a request timestamp may be from now (Slack's replay window).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// Block Kit's limit on the text of one section block.
const SECTION_MAX: usize = 3000;
/// Block Kit's limits on buttons: per actions block, label, value, action id.
const MAX_BUTTONS: usize = 25;
const LABEL_MAX: usize = 75;
const VALUE_MAX: usize = 2000;
const ACTION_ID_MAX: usize = 255;
const FORM: &str = "application/x-www-form-urlencoded";

/// `chat.postMessage` errors that retrying cannot fix (the rest are retried).
const PERMANENT_ERRORS: &[&str] = &[
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "msg_too_long",
    "no_text",
    "too_many_attachments",
    "invalid_blocks",
    "invalid_blocks_format",
    "invalid_arguments",
    "invalid_arg_name",
    "invalid_array_arg",
    "invalid_charset",
    "invalid_form_data",
    "invalid_post_type",
    "missing_post_type",
    "cannot_reply_to_message",
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
    "restricted_action_non_threadable_channel",
    "not_authed",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "missing_scope",
    "not_allowed_token_type",
    "team_access_not_granted",
    "ekm_access_denied",
];

/// The Slack adapter's settings.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    /// The bot user OAuth token (`xoxb-...`, scope `chat:write`).
    pub bot_token: Secret,
    /// The app's signing secret (checks the webhook signatures).
    pub signing_secret: Secret,
    /// The Web API base URL, without a trailing slash.
    pub api_url: String,
    /// Send limits; [`SlackSettings::DEFAULT_LIMITS`] unless switched off (tests).
    pub limits: SendLimits,
}

impl SlackSettings {
    /// `chat.postMessage` allows about one message per second per channel.
    pub const DEFAULT_LIMITS: SendLimits = SendLimits {
        per_chat: Some(1),
        per_group_minute: None,
        global: None,
    };
}

type Now = Box<dyn Fn() -> i64 + Send + Sync>;

/// The Slack adapter: webhook handler and sender.
pub struct Slack {
    bot_token: Secret,
    signing_secret: Secret,
    client: ApiClient,
    limiter: Limiter,
    now: Now,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slack")
            .field("api_url", &self.client.base())
            .finish_non_exhaustive()
    }
}

impl Slack {
    /// Creates the adapter; request timestamps are checked against the system clock.
    pub fn new(settings: SlackSettings) -> Slack {
        Slack {
            bot_token: settings.bot_token,
            signing_secret: settings.signing_secret,
            client: ApiClient::new(settings.api_url),
            limiter: Limiter::new(settings.limits),
            now: Box::new(unix_now),
        }
    }

    /// Replaces the clock (Unix seconds) that request timestamps are checked against.
    pub fn with_clock(mut self, now: impl Fn() -> i64 + Send + Sync + 'static) -> Slack {
        self.now = Box::new(now);
        self
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// Builds the Slack adapter when `FRASER_SLACK_BOT_TOKEN` and
/// `FRASER_SLACK_SIGNING_SECRET` are set (`FRASER_SLACK_API_URL` optional).
pub fn from_env(env: &Env) -> Result<Option<PlatformAdapter>, SettingsError> {
    let Some([bot_token, signing_secret]) = all_or_none(
        env,
        PLATFORM,
        ["FRASER_SLACK_BOT_TOKEN", "FRASER_SLACK_SIGNING_SECRET"],
    )?
    else {
        return Ok(None);
    };
    let api_url = env.api_url("FRASER_SLACK_API_URL", DEFAULT_API_URL)?;
    Ok(Some(PlatformAdapter::new(Slack::new(SlackSettings {
        bot_token,
        signing_secret,
        api_url,
        limits: env.send_limits("SLACK", SlackSettings::DEFAULT_LIMITS)?,
    }))))
}

/// Checks a request signature: `signature` must be `v0=` and the hex HMAC-SHA256 of
/// `v0:{timestamp}:{body}` under `secret`, and `timestamp` (Unix seconds) within
/// [`MAX_CLOCK_SKEW`] of `now`.
pub fn verify_signature(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), AuthError> {
    let seconds: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| AuthError("X-Slack-Request-Timestamp is not a number of seconds".into()))?;
    let skew = now.abs_diff(seconds);
    if skew > MAX_CLOCK_SKEW.as_secs() {
        return Err(AuthError(format!(
            "X-Slack-Request-Timestamp is {skew} s away from now (at most {} s allowed)",
            MAX_CLOCK_SKEW.as_secs()
        )));
    }
    let mac = signature
        .trim()
        .strip_prefix("v0=")
        .and_then(decode_hex)
        .ok_or_else(|| AuthError("X-Slack-Signature is not v0=<hex>".into()))?;
    if verify_hmac_sha256(secret, &[b"v0:", timestamp.as_bytes(), b":", body], &mac) {
        Ok(())
    } else {
        Err(AuthError(
            "X-Slack-Signature does not match the body".into(),
        ))
    }
}

/// The challenge of a `url_verification` request body, if it is one.
pub fn url_verification_challenge(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    if value.get("type")?.as_str()? != "url_verification" {
        return None;
    }
    Some(value.get("challenge")?.as_str()?.to_string())
}

/// Parses an Events API body. `event_callback`s carrying a `message` without subtype
/// and without `bot_id`, an `app_mention`, or `member_joined_channel` of the bot itself
/// (a greeting: text `/start`) give one message; everything else none.
///
/// Messages are keyed `{channel}:{ts}` (Slack's own message identity) rather than by
/// `event_id`: a retried event keeps both, and a mention in a channel that also
/// subscribes `message.channels` arrives as two events with different ids but is one
/// turn.
pub fn parse_events(body: &[u8]) -> Result<Vec<InboundMessage>, ParseError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| ParseError(format!("not JSON: {error}")))?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ParseError("no `type`".into()))?;
    if kind != "event_callback" {
        tracing::debug!(kind, "slack: ignoring a non-event callback");
        return Ok(Vec::new());
    }
    let event = value
        .get("event")
        .filter(|event| event.is_object())
        .ok_or_else(|| ParseError("event_callback without `event`".into()))?;
    let text = |key: &str| event.get(key).and_then(Value::as_str);
    let message = match text("type") {
        Some("message" | "app_mention")
            if event.get("subtype").is_none() && event.get("bot_id").is_none() =>
        {
            user_message(event)
        }
        Some("member_joined_channel") if is_bot_user(&value, text("user")) => {
            let (Some(channel), Some(event_id)) = (
                text("channel"),
                value.get("event_id").and_then(Value::as_str),
            ) else {
                return Ok(Vec::new());
            };
            let sender = text("inviter").or(text("user")).unwrap_or_default();
            Some(inbound(
                channel,
                sender,
                "",
                "/start".into(),
                format!("join:{event_id}"),
                true,
                None,
            ))
        }
        _ => None,
    };
    Ok(message.into_iter().collect())
}

fn user_message(event: &Value) -> Option<InboundMessage> {
    let text = |key: &str| event.get(key).and_then(Value::as_str);
    let (channel, user, ts) = (text("channel")?, text("user")?, text("ts")?);
    let said = plain_text(text("text")?);
    if said.is_empty() {
        return None;
    }
    let is_group = match text("channel_type") {
        Some(kind) => !matches!(kind, "im" | "app_home"),
        None => !channel.starts_with('D'),
    };
    let profile = event.get("user_profile");
    let name = ["display_name", "real_name", "name"]
        .iter()
        .filter_map(|key| profile?.get(*key)?.as_str())
        .find(|name| !name.trim().is_empty())
        .unwrap_or(user);
    Some(inbound(
        channel,
        user,
        name,
        said,
        format!("{channel}:{ts}"),
        is_group,
        text("thread_ts"),
    ))
}

/// Whether `user` is the bot this event was delivered to (`authorizations[].user_id`
/// with `is_bot`, or the older `authed_users`).
fn is_bot_user(wrapper: &Value, user: Option<&str>) -> bool {
    let Some(user) = user else {
        return false;
    };
    if let Some(authorizations) = wrapper.get("authorizations").and_then(Value::as_array) {
        return authorizations.iter().any(|authorization| {
            authorization.get("is_bot").and_then(Value::as_bool) == Some(true)
                && authorization.get("user_id").and_then(Value::as_str) == Some(user)
        });
    }
    wrapper
        .get("authed_users")
        .and_then(Value::as_array)
        .is_some_and(|users| users.iter().any(|id| id.as_str() == Some(user)))
}

/// Parses an interactivity body (`payload=<json>`): each button of a `block_actions`
/// payload gives a message whose text is the button's `value` (the command).
pub fn parse_interaction(body: &[u8]) -> Result<Vec<InboundMessage>, ParseError> {
    let payload =
        form_field(body, "payload").ok_or_else(|| ParseError("no `payload` form field".into()))?;
    let value: Value = serde_json::from_str(&payload)
        .map_err(|error| ParseError(format!("payload is not JSON: {error}")))?;
    if value.get("type").and_then(Value::as_str) != Some("block_actions") {
        return Ok(Vec::new());
    }
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
    let (Some(channel), Some(user)) = (
        text("/channel/id").or(text("/container/channel_id")),
        text("/user/id"),
    ) else {
        return Ok(Vec::new());
    };
    let name = ["/user/name", "/user/username"]
        .iter()
        .filter_map(|pointer| text(pointer))
        .find(|name| !name.is_empty())
        .unwrap_or(user);
    let thread_ts = text("/message/thread_ts").or(text("/container/thread_ts"));
    let key = text("/trigger_id").unwrap_or_default();
    let actions = value.get("actions").and_then(Value::as_array);
    Ok(actions
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, action)| {
            let command = action.get("value")?.as_str()?.trim();
            if command.is_empty() {
                return None;
            }
            let action_ts = action.get("action_ts").and_then(Value::as_str);
            Some(inbound(
                channel,
                user,
                name,
                command.to_string(),
                format!("action:{channel}:{}:{index}", action_ts.unwrap_or(key)),
                !channel.starts_with('D'),
                thread_ts,
            ))
        })
        .collect())
}

fn inbound(
    channel: &str,
    sender: &str,
    name: &str,
    text: String,
    message_id: String,
    is_group: bool,
    thread_ts: Option<&str>,
) -> InboundMessage {
    let mut reply_context = json!({ "channel": channel });
    if let Some(thread_ts) = thread_ts {
        reply_context["thread_ts"] = json!(thread_ts);
    }
    InboundMessage {
        platform: PLATFORM.into(),
        chat_id: channel.into(),
        sender_id: sender.into(),
        sender_name: name.into(),
        text,
        message_id,
        is_group,
        reply_context,
        received_at: Timestamp(0),
    }
}

/// Slack message text as the player typed it: user mentions (`<@U…>`) dropped, links
/// and channels shown as their labels, `&amp;` `&lt;` `&gt;` decoded, whitespace
/// collapsed.
pub fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('<') {
        out.push_str(before);
        let Some((inner, tail)) = after.split_once('>') else {
            out.push('<');
            rest = after;
            continue;
        };
        rest = tail;
        let (target, label) = match inner.split_once('|') {
            Some((target, label)) => (target, Some(label)),
            None => (inner, None),
        };
        if target.starts_with('@') {
            out.push(' ');
        } else if let Some(label) = label {
            if target.starts_with('#') {
                out.push('#');
            }
            out.push_str(label);
        } else if let Some(special) = target.strip_prefix('!') {
            out.push('@');
            out.push_str(special);
        } else {
            out.push_str(target);
        }
    }
    out.push_str(rest);
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes field `name` of an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    body.split(|byte| *byte == b'&').find_map(|pair| {
        let mut parts = pair.splitn(2, |byte| *byte == b'=');
        let key = percent_decode(parts.next()?)?;
        (key == name).then(|| percent_decode(parts.next().unwrap_or_default()))?
    })
}

fn percent_decode(bytes: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut iter = bytes.iter();
    while let Some(&byte) = iter.next() {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let high = hex_digit(*iter.next()?)?;
                let low = hex_digit(*iter.next()?)?;
                out.push(high << 4 | low);
            }
            _ => out.push(byte),
        }
    }
    String::from_utf8(out).ok()
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

/// Escapes Slack's control characters: `&`, `<` and `>` as HTML entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        out.push_str(escape_char(ch).unwrap_or(ch.encode_utf8(&mut [0; 4])));
    }
    out
}

fn escape_char(ch: char) -> Option<&'static str> {
    match ch {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

/// Escapes `text` and cuts it into pieces of at most `max` characters, at whitespace
/// where possible and never inside an entity.
fn escaped_chunks(text: &str, max: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut count = 0;
    // Byte offset and character count just after the last whitespace in `current`.
    let mut cut: Option<(usize, usize)> = None;
    for ch in text.chars() {
        let mut buffer = [0; 4];
        let piece = escape_char(ch).unwrap_or(ch.encode_utf8(&mut buffer));
        let len = piece.chars().count();
        if count + len > max && count > 0 {
            match cut {
                Some((byte, chars)) if byte < current.len() => {
                    let tail = current.split_off(byte);
                    chunks.push(std::mem::replace(&mut current, tail));
                    count -= chars;
                }
                _ => {
                    chunks.push(std::mem::take(&mut current));
                    count = 0;
                }
            }
            cut = None;
        }
        current.push_str(piece);
        count += len;
        if ch.is_whitespace() {
            cut = Some((current.len(), count));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The `chat.postMessage` JSON body of `reply` to `chat`: escaped plain text (no
/// mrkdwn), `thread_ts` when the message being answered was in a thread, and for a
/// reply with buttons `blocks`: the text in section blocks, then an actions block whose
/// buttons carry the command as `value` and `action_id`.
pub fn render(chat: &ChatAddress, reply: &Reply) -> Value {
    let mut body = json!({
        "channel": chat.chat_id,
        "text": escape(&reply.text),
        "mrkdwn": false,
    });
    if let Some(thread_ts) = chat.reply_context.get("thread_ts").and_then(Value::as_str) {
        body["thread_ts"] = json!(thread_ts);
    }
    if !reply.buttons.is_empty() {
        let mut blocks: Vec<Value> = escaped_chunks(&reply.text, SECTION_MAX)
            .into_iter()
            .map(|text| json!({"type": "section", "text": {"type": "plain_text", "text": text}}))
            .collect();
        let mut action_ids: Vec<String> = Vec::new();
        let elements: Vec<Value> = reply
            .buttons
            .iter()
            .take(MAX_BUTTONS)
            .enumerate()
            .map(|(index, button)| {
                let mut action_id = truncate(&button.command, ACTION_ID_MAX);
                if action_id.is_empty() || action_ids.contains(&action_id) {
                    action_id = format!("{index}:{}", truncate(&button.command, 200));
                }
                action_ids.push(action_id.clone());
                json!({
                    "type": "button",
                    "text": {"type": "plain_text", "text": escape(&truncate(&button.label, LABEL_MAX))},
                    "action_id": action_id,
                    "value": truncate(&button.command, VALUE_MAX),
                })
            })
            .collect();
        blocks.push(json!({"type": "actions", "elements": elements}));
        body["blocks"] = Value::Array(blocks);
    }
    body
}

/// Reads a `chat.postMessage` answer: `ok: true` is sent; HTTP 429 or the error
/// `ratelimited` waits for `Retry-After`; the errors in the permanent list (unknown or
/// archived channel, bot not in the channel, bad token or scope, invalid message) are
/// permanent; everything else (5xx, `internal_error`, `fatal_error`...) is retried.
pub fn outcome(response: &ApiResponse) -> SendOutcome {
    if !response.is_success() {
        return response.outcome();
    }
    let Some(body) = response.json() else {
        return SendOutcome::Failed {
            permanent: false,
            reason: format!("slack answered no JSON: {}", response.describe()),
        };
    };
    if body.get("ok").and_then(Value::as_bool) == Some(true) {
        return SendOutcome::Sent;
    }
    let error = body
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("unknown_error");
    match error {
        "ratelimited" | "rate_limited" => {
            SendOutcome::RetryAfter(response.retry_after.unwrap_or(Duration::from_secs(1)))
        }
        _ => SendOutcome::Failed {
            permanent: PERMANENT_ERRORS.contains(&error),
            reason: format!("slack error {error}"),
        },
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(FORM))
}

impl Messenger for Slack {
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
            let request = self
                .client
                .request(reqwest::Method::POST, "/chat.postMessage")
                .bearer_auth(self.bot_token.expose())
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/json; charset=utf-8",
                )
                .body(render(chat, reply).to_string());
            match self.client.send(request).await {
                Ok(response) => outcome(&response),
                Err(error) => transport_failure(error),
            }
        })
    }
}

impl Inbound for Slack {
    fn platform(&self) -> &str {
        PLATFORM
    }

    fn verify(&self, headers: &HeaderMap, raw_body: &[u8]) -> Result<(), AuthError> {
        let timestamp = required_header(headers, "x-slack-request-timestamp")?;
        let signature = required_header(headers, "x-slack-signature")?;
        verify_signature(
            self.signing_secret.expose().as_bytes(),
            timestamp,
            signature,
            raw_body,
            (self.now)(),
        )
    }

    fn handshake(&self, headers: &HeaderMap, raw_body: &[u8]) -> Option<WebhookResponse> {
        if is_form(headers) {
            return None;
        }
        let challenge = url_verification_challenge(raw_body)?;
        Some(WebhookResponse {
            status: 200,
            content_type: "application/json",
            body: json!({ "challenge": challenge }).to_string().into_bytes(),
        })
    }

    fn parse(
        &self,
        headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<Vec<InboundMessage>, ParseError> {
        if is_form(headers) {
            parse_interaction(raw_body)
        } else {
            parse_events(raw_body)
        }
    }

    fn content_types(&self) -> &'static [&'static str] {
        &["application/json", FORM]
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::{encode_hex, hmac_sha256};
    use super::*;
    use crate::model::Button;

    /// Slack's published example (api.slack.com/authentication/verifying-requests-from-slack).
    const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TIMESTAMP: &str = "1531420618";
    const DOC_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const DOC_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn chat(reply_context: Value) -> ChatAddress {
        ChatAddress {
            platform: PLATFORM.into(),
            chat_id: "C1".into(),
            is_group: true,
            reply_context,
        }
    }

    #[test]
    fn the_documented_signature_verifies() {
        let now = 1_531_420_618 + 60;
        let verify = |secret: &str, signature: &str, body: &str, now: i64| {
            verify_signature(
                secret.as_bytes(),
                DOC_TIMESTAMP,
                signature,
                body.as_bytes(),
                now,
            )
        };
        assert_eq!(verify(DOC_SECRET, DOC_SIGNATURE, DOC_BODY, now), Ok(()));
        assert!(verify("other", DOC_SIGNATURE, DOC_BODY, now).is_err());
        assert!(
            verify(
                DOC_SECRET,
                DOC_SIGNATURE,
                &DOC_BODY.replace("text=", "text=x"),
                now
            )
            .is_err()
        );
        assert!(verify(DOC_SECRET, &DOC_SIGNATURE[3..], DOC_BODY, now).is_err());
        assert!(verify(DOC_SECRET, "v0=zz", DOC_BODY, now).is_err());
        let stale = verify(DOC_SECRET, DOC_SIGNATURE, DOC_BODY, now + 300).unwrap_err();
        assert!(stale.0.contains("360 s"), "{stale}");
        assert!(verify(DOC_SECRET, DOC_SIGNATURE, DOC_BODY, 1_531_420_618 - 301).is_err());
        // An independent computation of the same signature.
        let mac = hmac_sha256(
            DOC_SECRET.as_bytes(),
            &[format!("v0:{DOC_TIMESTAMP}:{DOC_BODY}").as_bytes()],
        );
        assert_eq!(format!("v0={}", encode_hex(&mac)), DOC_SIGNATURE);
    }

    #[test]
    fn errors_never_show_the_signature() {
        let error = verify_signature(b"s", "1", "v0=00ff", b"{}", 1).unwrap_err();
        assert!(!error.0.contains("00ff"), "{error}");
    }

    #[test]
    fn challenges_are_found_only_in_url_verification() {
        let body = br#"{"token":"t","challenge":"abc","type":"url_verification"}"#;
        assert_eq!(url_verification_challenge(body).as_deref(), Some("abc"));
        assert_eq!(
            url_verification_challenge(br#"{"type":"event_callback"}"#),
            None
        );
        assert_eq!(url_verification_challenge(b"payload=x"), None);
    }

    fn wrapper(event: Value) -> Vec<u8> {
        json!({
            "token": "t", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": "Ev1", "event_time": 1, "authed_users": ["UBOT"],
            "authorizations": [{"user_id": "UBOT", "is_bot": true, "team_id": "T1"}],
            "event": event,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn messages_mentions_and_joins_parse() {
        let messages = parse_events(&wrapper(json!({
            "type": "message", "channel": "C1", "channel_type": "channel", "user": "U1",
            "text": "<@UBOT>  Paris &amp; Rome", "ts": "1.2", "thread_ts": "1.0", "event_ts": "1.2",
            "user_profile": {"display_name": "", "real_name": "Ann"}
        })))
        .unwrap();
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
            ("C1", "U1", "Ann", "Paris & Rome", "C1:1.2", true)
        );
        assert_eq!(
            message.reply_context,
            json!({"channel": "C1", "thread_ts": "1.0"})
        );

        let mention = parse_events(&wrapper(json!({
            "type": "app_mention", "channel": "D1", "user": "U1", "text": "<@UBOT> hint",
            "ts": "1.2", "event_ts": "1.2"
        })))
        .unwrap();
        assert_eq!(mention[0].text, "hint");
        assert_eq!(mention[0].message_id, "D1:1.2");
        assert!(!mention[0].is_group, "D channels are direct");
        assert_eq!(mention[0].reply_context, json!({"channel": "D1"}));

        let join = parse_events(&wrapper(json!({
            "type": "member_joined_channel", "user": "UBOT", "channel": "C2",
            "channel_type": "C", "inviter": "U9", "event_ts": "1.3"
        })))
        .unwrap();
        assert_eq!(join.len(), 1);
        assert_eq!(
            (
                join[0].text.as_str(),
                join[0].chat_id.as_str(),
                join[0].sender_id.as_str()
            ),
            ("/start", "C2", "U9")
        );
        assert_eq!(join[0].message_id, "join:Ev1");
        assert!(join[0].is_group);
    }

    #[test]
    fn other_events_give_nothing() {
        for event in [
            json!({"type": "message", "subtype": "message_changed", "channel": "C1", "ts": "1", "event_ts": "1"}),
            json!({"type": "message", "subtype": "channel_join", "channel": "C1", "user": "U1", "text": "<@U1> has joined", "ts": "1", "event_ts": "1"}),
            json!({"type": "message", "bot_id": "B1", "channel": "C1", "user": "UBOT", "text": "#1: hi", "ts": "1", "event_ts": "1"}),
            json!({"type": "message", "channel": "C1", "user": "U1", "text": "<@UBOT>", "ts": "1", "event_ts": "1"}),
            json!({"type": "member_joined_channel", "user": "U5", "channel": "C2", "event_ts": "1"}),
            json!({"type": "reaction_added", "user": "U1", "reaction": "+1", "event_ts": "1"}),
        ] {
            assert_eq!(
                parse_events(&wrapper(event.clone())).unwrap(),
                vec![],
                "{event}"
            );
        }
        assert_eq!(
            parse_events(br#"{"type":"app_rate_limited"}"#).unwrap(),
            vec![]
        );
        assert!(parse_events(b"{").is_err());
        assert!(parse_events(b"[]").is_err());
        assert!(parse_events(br#"{"type":"event_callback"}"#).is_err());
    }

    #[test]
    fn slack_markup_becomes_plain_text() {
        assert_eq!(plain_text("<@U1|ann> hint"), "hint");
        assert_eq!(
            plain_text("see <https://x.org|x.org> in <#C1|general>"),
            "see x.org in #general"
        );
        assert_eq!(
            plain_text("<!here> a &lt;b&gt; &amp;amp;"),
            "@here a <b> &amp;"
        );
        assert_eq!(plain_text("1 < 2"), "1 < 2");
        assert_eq!(plain_text("<https://x.org>"), "https://x.org");
    }

    fn form(payload: &Value) -> Vec<u8> {
        let encoded: String = payload
            .to_string()
            .bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    char::from(byte).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{byte:02X}"),
            })
            .collect();
        format!("payload={encoded}").into_bytes()
    }

    #[test]
    fn button_clicks_parse_into_their_command() {
        let payload = json!({
            "type": "block_actions", "trigger_id": "123.456",
            "user": {"id": "U1", "username": "ann", "name": "ann"},
            "channel": {"id": "C1", "name": "general"},
            "container": {"type": "message", "channel_id": "C1", "message_ts": "5.6"},
            "message": {"ts": "5.6", "thread_ts": "5.0", "text": "#1: hi"},
            "actions": [{"type": "button", "action_id": "hint", "value": "hint", "action_ts": "7.8"}]
        });
        let messages = parse_interaction(&form(&payload)).unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].text, "hint");
        assert_eq!(messages[0].message_id, "action:C1:7.8:0");
        assert_eq!(messages[0].sender_name, "ann");
        assert_eq!(
            messages[0].reply_context,
            json!({"channel": "C1", "thread_ts": "5.0"})
        );
        let other = json!({"type": "view_submission", "user": {"id": "U1"}});
        assert_eq!(parse_interaction(&form(&other)).unwrap(), vec![]);
        assert!(parse_interaction(b"command=%2Fx&text=").is_err());
        assert!(parse_interaction(b"payload=%7B").is_err());
    }

    #[test]
    fn form_fields_decode() {
        assert_eq!(
            form_field(b"a=1&payload=x+y%26%7Bz%7D", "payload").as_deref(),
            Some("x y&{z}")
        );
        assert_eq!(form_field(b"payload", "payload").as_deref(), Some(""));
        assert_eq!(form_field(b"payload=%zz", "payload"), None);
        assert_eq!(form_field(b"a=1", "payload"), None);
    }

    #[test]
    fn replies_render_escaped_with_thread_and_buttons() {
        let plain = render(
            &chat(json!({"channel": "C1"})),
            &Reply::text("a < b & c > d *x*"),
        );
        assert_eq!(
            plain,
            json!({"channel": "C1", "text": "a &lt; b &amp; c &gt; d *x*", "mrkdwn": false})
        );
        let reply = Reply {
            text: "#1: <hi>".into(),
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
        let body = render(&chat(json!({"channel": "C1", "thread_ts": "1.0"})), &reply);
        assert_eq!(body["thread_ts"], "1.0");
        assert_eq!(
            body["blocks"],
            json!([
                {"type": "section", "text": {"type": "plain_text", "text": "#1: &lt;hi&gt;"}},
                {"type": "actions", "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Hint"}, "action_id": "hint", "value": "hint"},
                    {"type": "button", "text": {"type": "plain_text", "text": "Skip"}, "action_id": "skip", "value": "skip"}
                ]}
            ])
        );
    }

    #[test]
    fn long_texts_fill_several_sections() {
        let text = format!("{} {}", "a&b ".repeat(500), "c".repeat(3500));
        let chunks = escaped_chunks(&text, SECTION_MAX);
        assert!(
            chunks
                .iter()
                .all(|chunk| chunk.chars().count() <= SECTION_MAX)
        );
        assert_eq!(chunks.concat(), escape(&text));
        assert!(chunks[0].ends_with(' '), "cut at whitespace");
        assert_eq!(escaped_chunks("", 10), Vec::<String>::new());
        assert_eq!(escaped_chunks("&&&", 5), ["&amp;", "&amp;", "&amp;"]);
    }

    #[test]
    fn duplicate_commands_get_distinct_action_ids() {
        let button = Button {
            label: "Go".into(),
            command: "go".into(),
        };
        let reply = Reply {
            text: "x".into(),
            buttons: vec![button.clone(), button],
        };
        let body = render(&chat(Value::Null), &reply);
        assert_eq!(body["blocks"][1]["elements"][0]["action_id"], "go");
        assert_eq!(body["blocks"][1]["elements"][1]["action_id"], "1:go");
    }

    #[test]
    fn answers_map_to_outcomes() {
        let answer = |status: u16, body: &str, retry_after: Option<u64>| {
            outcome(&ApiResponse {
                status,
                retry_after: retry_after.map(Duration::from_secs),
                body: body.as_bytes().to_vec(),
            })
        };
        assert_eq!(answer(200, r#"{"ok":true}"#, None), SendOutcome::Sent);
        assert_eq!(
            answer(200, r#"{"ok":false,"error":"ratelimited"}"#, Some(3)),
            SendOutcome::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(
            answer(429, r#"{"ok":false,"error":"ratelimited"}"#, Some(9)),
            SendOutcome::RetryAfter(Duration::from_secs(9))
        );
        for (error, permanent) in [
            ("channel_not_found", true),
            ("not_in_channel", true),
            ("is_archived", true),
            ("invalid_auth", true),
            ("internal_error", false),
            ("fatal_error", false),
        ] {
            assert_eq!(
                answer(200, &format!(r#"{{"ok":false,"error":"{error}"}}"#), None),
                SendOutcome::Failed {
                    permanent,
                    reason: format!("slack error {error}")
                }
            );
        }
        assert!(matches!(
            answer(503, "", None),
            SendOutcome::Failed {
                permanent: false,
                ..
            }
        ));
        assert!(matches!(
            answer(200, "<html>", None),
            SendOutcome::Failed {
                permanent: false,
                ..
            }
        ));
    }

    #[test]
    fn from_env_needs_both_secrets() {
        assert!(
            from_env(&Env::from_map::<&str, &str>([]))
                .unwrap()
                .is_none()
        );
        let half = Env::from_map([("FRASER_SLACK_BOT_TOKEN", "xoxb-1")]);
        let error = from_env(&half).unwrap_err();
        assert!(error.0.contains("FRASER_SLACK_SIGNING_SECRET"), "{error}");
        assert!(!error.0.contains("xoxb-1"), "{error}");
        let full = Env::from_map([
            ("FRASER_SLACK_BOT_TOKEN", "xoxb-1"),
            ("FRASER_SLACK_SIGNING_SECRET", "s"),
            ("FRASER_SLACK_API_URL", "http://127.0.0.1:9/api/"),
        ]);
        let adapter = from_env(&full).unwrap().unwrap();
        assert_eq!(adapter.platform(), "slack");
        assert_eq!(adapter.messenger.max_len(), MAX_LEN);
        assert!(format!("{adapter:?}").contains("slack"));
        let bad_url = Env::from_map([
            ("FRASER_SLACK_BOT_TOKEN", "xoxb-1"),
            ("FRASER_SLACK_SIGNING_SECRET", "s"),
            ("FRASER_SLACK_API_URL", "slack.com"),
        ]);
        assert!(from_env(&bad_url).is_err());
    }
}
