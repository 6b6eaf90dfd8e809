//! Discord over the HTTP interactions endpoint.
//!
//! Discord posts no free text here, only signed interactions (Ed25519 over
//! `X-Signature-Timestamp` + body): slash commands (`/play`, `/guess`, `/hint`,
//! `/skip`, `/score`) and presses of the buttons we sent. Each is stored, then
//! acknowledged with a deferred response (Discord wants an answer within 3 s); the reply
//! comes later from the queue as a follow-up on the interaction token, or as a plain
//! channel message once that token (valid 15 minutes) has expired. Webhook events
//! (`APPLICATION_AUTHORIZED`) posted to the same URL make the bot greet a new server.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use ed25519_dalek::{Signature, VerifyingKey};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::common::{
    self, ApiClient, ApiResponse, Env, Limiter, Secret, SendLimits, SettingsError,
};
use super::{
    AuthError, Inbound, Messenger, ParseError, PlatformAdapter, RegisterError, SendOutcome,
    WebhookResponse,
};
use crate::model::{Button, ChatAddress, InboundMessage, Reply, Timestamp};
use crate::store::BoxFuture;

/// The platform name.
pub const PLATFORM: &str = "discord";
/// The application's public key (hex), from the developer portal.
pub const ENV_PUBLIC_KEY: &str = "FRASER_DISCORD_PUBLIC_KEY";
/// The application id.
pub const ENV_APP_ID: &str = "FRASER_DISCORD_APP_ID";
/// The bot token.
pub const ENV_BOT_TOKEN: &str = "FRASER_DISCORD_BOT_TOKEN";
/// Overrides the API base URL.
pub const ENV_API_URL: &str = "FRASER_DISCORD_API_URL";
/// The API base URL.
pub const DEFAULT_API_URL: &str = "https://discord.com/api/v10";
/// The longest message content Discord accepts, in characters.
pub const MAX_LEN: usize = 2000;
/// How long after the interaction its token is used for follow-ups: tokens live 15
/// minutes; one is kept for clock skew and the request itself.
pub const FOLLOW_UP_WINDOW: Duration = Duration::from_secs(14 * 60);

const SIGNATURE_HEADER: &str = "X-Signature-Ed25519";
const TIMESTAMP_HEADER: &str = "X-Signature-Timestamp";
/// Snowflakes count milliseconds from 2015-01-01T00:00:00Z.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
const INTERACTION_PING: i64 = 1;
const INTERACTION_COMMAND: i64 = 2;
const INTERACTION_COMPONENT: i64 = 3;
const EVENT_PING: i64 = 0;
const CONTEXT_PRIVATE_CHANNEL: i64 = 2;
const CALLBACK_PONG: i64 = 1;
const CALLBACK_DEFERRED_MESSAGE: i64 = 5;
const CALLBACK_DEFERRED_UPDATE: i64 = 6;

/// The Discord adapter's settings.
#[derive(Debug, Clone)]
pub struct DiscordSettings {
    /// The application's Ed25519 public key, hex (not a secret, but required).
    pub public_key: String,
    /// The application id (a snowflake).
    pub application_id: String,
    /// The bot token, for channel messages and registration.
    pub bot_token: Secret,
    /// The API base URL, without a trailing slash.
    pub api_url: String,
    /// Send limits (Discord documents 50 requests per second per bot).
    pub limits: SendLimits,
}

impl DiscordSettings {
    /// Discord's documented global limit: 50 requests per second per bot. Per-route
    /// buckets are only announced in answers; their 429s are obeyed.
    pub const DEFAULT_LIMITS: SendLimits = SendLimits {
        per_chat: None,
        per_group_minute: None,
        global: Some(50),
    };
}

/// The Discord adapter: interactions endpoint and sender.
#[derive(Debug)]
pub struct Discord {
    key: VerifyingKey,
    application_id: String,
    bot_token: Secret,
    api: ApiClient,
    limiter: Limiter,
}

impl Discord {
    /// Creates the adapter; fails when the public key or application id is malformed.
    pub fn new(settings: DiscordSettings) -> Result<Discord, SettingsError> {
        let key = common::decode_hex(settings.public_key.trim())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
            .ok_or_else(|| {
                SettingsError(format!(
                    "{ENV_PUBLIC_KEY} must be the application's public key: 64 hex digits"
                ))
            })?;
        let application_id = settings.application_id.trim().to_string();
        if !is_snowflake(&application_id) {
            return Err(SettingsError(format!(
                "{ENV_APP_ID} must be the numeric application id"
            )));
        }
        Ok(Discord {
            key,
            application_id,
            bot_token: settings.bot_token,
            api: ApiClient::new(settings.api_url),
            limiter: Limiter::new(settings.limits),
        })
    }

    /// Calls the API; `bot` adds `Authorization: Bot <token>`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        bot: bool,
    ) -> Result<ApiResponse, String> {
        let mut request = self.api.request(method, path).json(body);
        if bot {
            let mut value = HeaderValue::from_str(&format!("Bot {}", self.bot_token.expose()))
                .map_err(|_| format!("{ENV_BOT_TOKEN} is not a valid header value"))?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        self.api.send(request).await
    }
}

/// Builds the Discord adapter when its settings are in `env`.
pub fn from_env(env: &Env) -> Result<Option<PlatformAdapter>, SettingsError> {
    let Some([public_key, application_id, bot_token]) =
        common::all_or_none(env, PLATFORM, [ENV_PUBLIC_KEY, ENV_APP_ID, ENV_BOT_TOKEN])?
    else {
        return Ok(None);
    };
    let settings = DiscordSettings {
        public_key: public_key.expose().to_string(),
        application_id: application_id.expose().to_string(),
        bot_token,
        api_url: env.api_url(ENV_API_URL, DEFAULT_API_URL)?,
        limits: env.send_limits("DISCORD", DiscordSettings::DEFAULT_LIMITS)?,
    };
    Ok(Some(PlatformAdapter::new(Discord::new(settings)?)))
}

/// Checks Discord's Ed25519 signature (`signature_hex`) over `timestamp` + `body`.
pub fn verify_signature(
    key: &VerifyingKey,
    signature_hex: &str,
    timestamp: &str,
    body: &[u8],
) -> Result<(), AuthError> {
    let signature = common::decode_hex(signature_hex.trim())
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or_else(|| AuthError(format!("{SIGNATURE_HEADER} is not a hex signature")))?;
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    key.verify_strict(&message, &signature)
        .map_err(|_| AuthError("the Ed25519 signature does not match".into()))
}

/// An interaction, or a webhook event (`event` set).
#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: i64,
    id: Option<String>,
    application_id: Option<String>,
    token: Option<String>,
    channel_id: Option<String>,
    guild_id: Option<String>,
    context: Option<i64>,
    member: Option<Member>,
    user: Option<User>,
    data: Option<Data>,
    event: Option<Event>,
}

#[derive(Debug, Deserialize)]
struct Member {
    user: Option<User>,
}

#[derive(Debug, Deserialize)]
struct User {
    id: String,
    username: Option<String>,
    global_name: Option<String>,
}

impl User {
    fn display_name(&self) -> String {
        self.global_name
            .as_deref()
            .or(self.username.as_deref())
            .unwrap_or(&self.id)
            .to_string()
    }
}

/// Slash command data (`name`, `options`) or component data (`custom_id`).
#[derive(Debug, Deserialize)]
struct Data {
    name: Option<String>,
    options: Option<Vec<CommandOption>>,
    custom_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CommandOption {
    name: String,
    value: Option<Value>,
    options: Option<Vec<CommandOption>>,
}

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    timestamp: Option<String>,
    data: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Authorized {
    user: Option<User>,
    #[serde(default)]
    scopes: Vec<String>,
    guild: Option<Guild>,
}

#[derive(Debug, Deserialize)]
struct Guild {
    id: String,
    system_channel_id: Option<String>,
}

/// Parses an interaction or webhook event into the messages to play: a slash command
/// becomes `name value...` (`/guess answer:Paris` -> `guess Paris`), a button press its
/// `custom_id`, the bot being added to a server `/start` in its system channel.
/// `application_id` stands in for the payload's when it has none.
pub fn parse_body(body: &[u8], application_id: &str) -> Result<Vec<InboundMessage>, ParseError> {
    let payload: Payload = serde_json::from_slice(body)
        .map_err(|error| ParseError(format!("not a Discord interaction: {error}")))?;
    if let Some(event) = &payload.event {
        return parse_event(event);
    }
    let text = match (payload.kind, &payload.data) {
        (
            INTERACTION_COMMAND,
            Some(Data {
                name: Some(name),
                options,
                ..
            }),
        ) => {
            let mut words = vec![name.clone()];
            option_words(options.as_deref().unwrap_or_default(), &mut words);
            words.join(" ")
        }
        (
            INTERACTION_COMPONENT,
            Some(Data {
                custom_id: Some(id),
                ..
            }),
        ) => id.clone(),
        (INTERACTION_COMMAND | INTERACTION_COMPONENT, _) => {
            return Err(ParseError("interaction without command data".into()));
        }
        // PING is answered by the handshake; autocomplete and modals are never asked for.
        _ => return Ok(Vec::new()),
    };
    Ok(vec![interaction_message(&payload, text, application_id)?])
}

/// Appends option values (and subcommand names) in order.
fn option_words(options: &[CommandOption], words: &mut Vec<String>) {
    for option in options {
        match &option.value {
            Some(Value::String(text)) if !text.trim().is_empty() => {
                words.push(text.trim().to_string());
            }
            Some(Value::String(_)) => {}
            Some(value) => words.push(value.to_string()),
            None => {
                words.push(option.name.clone());
                option_words(option.options.as_deref().unwrap_or_default(), words);
            }
        }
    }
}

fn interaction_message(
    payload: &Payload,
    text: String,
    application_id: &str,
) -> Result<InboundMessage, ParseError> {
    let missing = |what: &str| ParseError(format!("interaction without {what}"));
    let id = payload
        .id
        .as_deref()
        .filter(|id| is_snowflake(id))
        .ok_or_else(|| missing("an id"))?;
    let channel = payload
        .channel_id
        .as_deref()
        .filter(|id| is_snowflake(id))
        .ok_or_else(|| missing("a channel_id"))?;
    let token = payload.token.as_deref().ok_or_else(|| missing("a token"))?;
    let user = payload
        .member
        .as_ref()
        .and_then(|member| member.user.as_ref())
        .or(payload.user.as_ref())
        .ok_or_else(|| missing("a user"))?;
    Ok(InboundMessage {
        platform: PLATFORM.into(),
        chat_id: channel.into(),
        sender_id: user.id.clone(),
        sender_name: user.display_name(),
        text,
        message_id: id.into(),
        // A server channel, or a group DM / DM between users (user-installed app).
        is_group: payload.guild_id.is_some() || payload.context == Some(CONTEXT_PRIVATE_CHANNEL),
        reply_context: json!({
            "application_id": payload.application_id.as_deref().unwrap_or(application_id),
            "token": token,
            "channel_id": channel,
            "interaction_ms": snowflake_ms(id),
        }),
        received_at: Timestamp(0),
    })
}

/// `APPLICATION_AUTHORIZED` for a server with the `bot` scope greets its system
/// channel; every other event carries nothing to play.
fn parse_event(event: &Event) -> Result<Vec<InboundMessage>, ParseError> {
    if event.kind != "APPLICATION_AUTHORIZED" {
        return Ok(Vec::new());
    }
    let Some(data) = &event.data else {
        return Ok(Vec::new());
    };
    let authorized = Authorized::deserialize(data)
        .map_err(|error| ParseError(format!("malformed APPLICATION_AUTHORIZED: {error}")))?;
    let (Some(guild), Some(user)) = (authorized.guild, authorized.user) else {
        return Ok(Vec::new());
    };
    let channel = guild.system_channel_id.filter(|id| is_snowflake(id));
    let Some(channel) = channel.filter(|_| authorized.scopes.iter().any(|s| s == "bot")) else {
        return Ok(Vec::new());
    };
    Ok(vec![InboundMessage {
        platform: PLATFORM.into(),
        chat_id: channel.clone(),
        sender_id: user.id.clone(),
        sender_name: user.display_name(),
        text: "/start".into(),
        // Redeliveries of the event repeat its timestamp.
        message_id: format!(
            "authorized-{}-{}",
            guild.id,
            event.timestamp.as_deref().unwrap_or("")
        ),
        is_group: true,
        reply_context: json!({ "channel_id": channel }),
        received_at: Timestamp(0),
    }])
}

/// Answers the endpoint checks: an interaction PING with PONG, a webhook event PING
/// with 204.
pub fn handshake_response(body: &[u8]) -> Option<WebhookResponse> {
    let payload: Value = serde_json::from_slice(body).ok()?;
    match payload.get("type").and_then(Value::as_i64)? {
        INTERACTION_PING if payload.get("event").is_none() => {
            Some(json_response(&json!({ "type": CALLBACK_PONG })))
        }
        EVENT_PING if payload.get("token").is_none() => Some(no_content()),
        _ => None,
    }
}

/// The answer after storing: a deferred message for slash commands (Discord shows
/// "thinking..." until the first follow-up replaces it), a deferred update for button
/// presses (no placeholder; the reply comes as a new message below), 204 for events.
pub fn acknowledgement(body: &[u8]) -> Option<WebhookResponse> {
    let payload: Value = serde_json::from_slice(body).ok()?;
    if payload.get("event").is_some() {
        return Some(no_content());
    }
    let callback = match payload.get("type").and_then(Value::as_i64)? {
        INTERACTION_COMMAND => CALLBACK_DEFERRED_MESSAGE,
        INTERACTION_COMPONENT => CALLBACK_DEFERRED_UPDATE,
        _ => return None,
    };
    Some(json_response(&json!({ "type": callback })))
}

fn json_response(body: &Value) -> WebhookResponse {
    WebhookResponse {
        status: 200,
        content_type: "application/json",
        body: body.to_string().into_bytes(),
    }
}

fn no_content() -> WebhookResponse {
    WebhookResponse {
        status: 204,
        content_type: "application/json",
        body: Vec::new(),
    }
}

/// The message body for a follow-up or a channel message: escaped content (plain when
/// escaping would pass [`MAX_LEN`]), no mentions, buttons as one action row per five.
pub fn render_message(reply: &Reply) -> Value {
    let escaped = escape_markdown(&reply.text);
    let content = if escaped.chars().count() <= MAX_LEN {
        escaped
    } else {
        reply.text.clone()
    };
    let mut body = json!({
        "content": content,
        "allowed_mentions": { "parse": [] },
    });
    let rows = button_rows(&reply.buttons);
    if !rows.is_empty() {
        body["components"] = Value::Array(rows);
    }
    body
}

fn button_rows(buttons: &[Button]) -> Vec<Value> {
    let buttons: Vec<Value> = buttons
        .iter()
        .filter(|button| (1..=100).contains(&button.command.chars().count()))
        .take(25)
        .enumerate()
        .map(|(index, button)| {
            let label = if button.label.trim().is_empty() {
                &button.command
            } else {
                &button.label
            };
            json!({
                "type": 2,
                // The first button is the primary action, the rest secondary.
                "style": if index == 0 { 1 } else { 2 },
                "label": label.chars().take(80).collect::<String>(),
                "custom_id": button.command,
            })
        })
        .collect();
    buttons
        .chunks(5)
        .map(|row| json!({ "type": 1, "components": row }))
        .collect()
}

/// Escapes Discord markdown so text shows as written: a backslash before inline
/// markers everywhere and before block markers (`#`, `>`, `-`, `+`, `1.`) that start
/// a line. Discord hides a backslash before any punctuation.
pub fn escape_markdown(text: &str) -> String {
    const INLINE: [char; 8] = ['\\', '*', '_', '~', '`', '|', '[', '<'];
    let mut out = String::with_capacity(text.len() + 8);
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let rest = line.trim_start_matches([' ', '\t']);
        out.push_str(&line[..line.len() - rest.len()]);
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let rest = if digits > 0 && rest[digits..].starts_with('.') {
            out.push_str(&rest[..digits]);
            out.push('\\');
            &rest[digits..]
        } else {
            if rest.starts_with(['#', '>', '-', '+']) {
                out.push('\\');
            }
            rest
        };
        for ch in rest.chars() {
            if INLINE.contains(&ch) {
                out.push('\\');
            }
            out.push(ch);
        }
    }
    out
}

/// The creation time of a snowflake id, in milliseconds since the Unix epoch.
pub fn snowflake_ms(id: &str) -> Option<u64> {
    id.parse::<u64>()
        .ok()
        .map(|id| (id >> 22) + DISCORD_EPOCH_MS)
}

fn is_snowflake(text: &str) -> bool {
    !text.is_empty() && text.len() <= 20 && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// The follow-up path `/webhooks/{application}/{token}` while the interaction token of
/// `context` is younger than [`FOLLOW_UP_WINDOW`] at `now_ms`; `None` otherwise.
pub fn follow_up_path(context: &Value, now_ms: u64) -> Option<String> {
    let application = context
        .get("application_id")?
        .as_str()
        .filter(|id| is_snowflake(id))?;
    let token = context
        .get("token")?
        .as_str()
        .filter(|token| !token.is_empty())?;
    let created = context.get("interaction_ms")?.as_u64()?;
    let window = u64::try_from(FOLLOW_UP_WINDOW.as_millis()).unwrap_or(u64::MAX);
    (now_ms.saturating_sub(created) < window)
        .then(|| format!("/webhooks/{application}/{}", path_segment(token)))
}

/// Percent-encodes everything but unreserved characters.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Reads an answer: 429 waits for the body's `retry_after` (seconds, fractional) or
/// else the `Retry-After` header; the rest as [`ApiResponse::outcome`] (5xx retryable,
/// 401/403/404 permanent).
pub fn send_outcome(response: &ApiResponse) -> SendOutcome {
    if response.status != 429 {
        return response.outcome();
    }
    let from_body = response
        .json()
        .and_then(|body| body.get("retry_after")?.as_f64())
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .map(|seconds| Duration::from_secs_f64(seconds.min(3600.0)));
    SendOutcome::RetryAfter(
        from_body
            .or(response.retry_after)
            .unwrap_or(Duration::from_secs(1)),
    )
}

/// The five slash commands, for a bulk overwrite of the global commands.
pub fn slash_commands() -> Value {
    let string_option = |name: &str, description: &str, required: bool| json!({ "type": 3, "name": name, "description": description, "required": required });
    let command = |name: &str, description: &str, options: Vec<Value>| json!({ "type": 1, "name": name, "description": description, "options": options });
    json!([
        command(
            "play",
            "Start a new round",
            vec![string_option(
                "kind",
                "Which game: guess or blank, optionally easy or hard",
                false
            )]
        ),
        command(
            "guess",
            "Guess the answer",
            vec![string_option("answer", "Your answer", true)]
        ),
        command("hint", "Get a hint (lowers the prize)", Vec::new()),
        command("skip", "Give up this round and see the answer", Vec::new()),
        command("score", "Show the scores in this channel", Vec::new()),
    ])
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

impl Messenger for Discord {
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
            let mut body = render_message(reply);
            if let Some(path) = follow_up_path(&chat.reply_context, now_ms()) {
                match self.call(Method::POST, &path, &body, false).await {
                    // The token expired early (clock skew) or is unknown: post instead.
                    Ok(response) if matches!(response.status, 401 | 404) => {
                        tracing::debug!(status = response.status, "follow-up refused");
                    }
                    Ok(response) => return send_outcome(&response),
                    Err(error) => return common::transport_failure(error),
                }
            }
            if !is_snowflake(&chat.chat_id) {
                return SendOutcome::Failed {
                    permanent: true,
                    reason: "the chat id is not a Discord channel id".into(),
                };
            }
            // A nonce lets Discord drop a second copy of a reply sent again after a crash.
            let digest = Sha256::new()
                .chain_update(chat.chat_id.as_bytes())
                .chain_update(chat.reply_context.to_string().as_bytes())
                .chain_update(reply.text.as_bytes())
                .finalize();
            let nonce: String = common::encode_hex(&digest).chars().take(25).collect();
            body["nonce"] = Value::String(nonce);
            body["enforce_nonce"] = Value::Bool(true);
            let path = format!("/channels/{}/messages", chat.chat_id);
            match self.call(Method::POST, &path, &body, true).await {
                Ok(response) => send_outcome(&response),
                Err(error) => common::transport_failure(error),
            }
        })
    }
}

impl Inbound for Discord {
    fn platform(&self) -> &str {
        PLATFORM
    }

    fn verify(&self, headers: &HeaderMap, raw_body: &[u8]) -> Result<(), AuthError> {
        let signature = common::required_header(headers, SIGNATURE_HEADER)?;
        let timestamp = common::required_header(headers, TIMESTAMP_HEADER)?;
        verify_signature(&self.key, signature, timestamp, raw_body)
    }

    fn parse(
        &self,
        _headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<Vec<InboundMessage>, ParseError> {
        parse_body(raw_body, &self.application_id)
    }

    fn handshake(&self, _headers: &HeaderMap, raw_body: &[u8]) -> Option<WebhookResponse> {
        handshake_response(raw_body)
    }

    fn acknowledge(
        &self,
        _headers: &HeaderMap,
        raw_body: &[u8],
        _messages: &[InboundMessage],
    ) -> Option<WebhookResponse> {
        acknowledgement(raw_body)
    }

    /// Overwrites the global slash commands, then points the interactions endpoint and
    /// the `APPLICATION_AUTHORIZED` webhook events at `url` (Discord PINGs it first, so
    /// the server must already be running with these settings).
    fn register_webhook<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<String, RegisterError>> {
        Box::pin(async move {
            let check = |what: &str, answer: Result<ApiResponse, String>| match answer {
                Ok(response) if response.is_success() => Ok(()),
                Ok(response) => Err(RegisterError(format!("{what}: {}", response.describe()))),
                Err(error) => Err(RegisterError(format!("{what}: {error}"))),
            };
            let commands = slash_commands();
            let path = format!("/applications/{}/commands", self.application_id);
            check(
                "overwriting the slash commands",
                self.call(Method::PUT, &path, &commands, true).await,
            )?;
            let application = json!({
                "interactions_endpoint_url": url,
                "event_webhooks_url": url,
                "event_webhooks_status": 2,
                "event_webhooks_types": ["APPLICATION_AUTHORIZED"],
            });
            check(
                "setting the interactions endpoint URL",
                self.call(Method::PATCH, "/applications/@me", &application, true)
                    .await,
            )?;
            let count = commands.as_array().map_or(0, Vec::len);
            Ok(format!(
                "{count} slash commands registered; interactions and APPLICATION_AUTHORIZED \
                 events go to {url}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032, section 7.1, TEST 1: the empty message.
    const RFC_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const RFC_SIGNATURE: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

    fn rfc_key() -> VerifyingKey {
        let bytes: [u8; 32] = common::decode_hex(RFC_PUBLIC).unwrap().try_into().unwrap();
        VerifyingKey::from_bytes(&bytes).unwrap()
    }

    fn parse(body: Value) -> Vec<InboundMessage> {
        parse_body(body.to_string().as_bytes(), "999").unwrap()
    }

    fn command(name: &str, options: Value) -> Value {
        json!({
            "type": 2, "id": "1300000000000000000", "application_id": "42", "token": "tok",
            "channel_id": "7", "user": {"id": "5", "username": "ana", "global_name": null},
            "data": {"type": 1, "name": name, "options": options}
        })
    }

    #[test]
    fn signatures_follow_rfc_8032() {
        let key = rfc_key();
        // The signed message is timestamp + body: both empty here.
        assert!(verify_signature(&key, RFC_SIGNATURE, "", b"").is_ok());
        assert!(verify_signature(&key, &RFC_SIGNATURE.to_uppercase(), "", b"").is_ok());
        assert!(verify_signature(&key, RFC_SIGNATURE, "1", b"").is_err());
        assert!(verify_signature(&key, RFC_SIGNATURE, "", b"{}").is_err());
        let error = verify_signature(&key, "zz", "", b"").unwrap_err();
        assert!(!error.0.contains("zz"), "{error}");
        assert!(verify_signature(&key, &RFC_SIGNATURE[..64], "", b"").is_err());
    }

    #[test]
    fn slash_commands_become_game_text() {
        let text = |name, options| parse(command(name, options)).remove(0).text;
        assert_eq!(text("play", json!([])), "play");
        assert_eq!(
            text(
                "play",
                json!([{"name": "kind", "type": 3, "value": "blank "}])
            ),
            "play blank"
        );
        assert_eq!(
            text(
                "guess",
                json!([{"name": "answer", "type": 3, "value": "New York"}])
            ),
            "guess New York"
        );
        assert_eq!(text("hint", Value::Null), "hint");
        assert_eq!(text("skip", json!([])), "skip");
        assert_eq!(text("score", json!([])), "score");
        // Subcommands and non-string values flatten in order.
        assert_eq!(
            text(
                "game",
                json!([{"name": "new", "type": 1, "options": [
                    {"name": "n", "type": 4, "value": 3},
                    {"name": "empty", "type": 3, "value": ""}
                ]}])
            ),
            "game new 3"
        );
    }

    #[test]
    fn interactions_keep_what_the_reply_needs() {
        let message = parse(command("hint", json!([]))).remove(0);
        assert_eq!(message.platform, "discord");
        assert_eq!(message.chat_id, "7");
        assert_eq!(
            (message.sender_id.as_str(), message.sender_name.as_str()),
            ("5", "ana")
        );
        assert_eq!(message.message_id, "1300000000000000000");
        assert!(!message.is_group);
        assert_eq!(message.received_at, Timestamp(0));
        assert_eq!(
            message.reply_context,
            json!({"application_id": "42", "token": "tok", "channel_id": "7",
                   "interaction_ms": snowflake_ms("1300000000000000000")})
        );
        // Guild: the member's user, global name first; the configured id fills in.
        let mut guild = command("hint", json!([]));
        guild["guild_id"] = json!("8");
        guild["user"] = Value::Null;
        guild["application_id"] = Value::Null;
        guild["member"] = json!({"user": {"id": "6", "username": "bo", "global_name": "Bo B"}});
        let message = parse(guild).remove(0);
        assert!(message.is_group);
        assert_eq!(
            (message.sender_id.as_str(), message.sender_name.as_str()),
            ("6", "Bo B")
        );
        assert_eq!(message.reply_context["application_id"], "999");
        // A DM between users through a user-installed app is a group too.
        let mut private = command("hint", json!([]));
        private["context"] = json!(2);
        assert!(parse(private).remove(0).is_group);
    }

    #[test]
    fn button_presses_send_their_command() {
        let press = json!({
            "type": 3, "id": "1300000000000000001", "application_id": "42", "token": "t",
            "channel_id": "7", "user": {"id": "5", "username": "ana"},
            "message": {"id": "1", "content": "#1: hello"},
            "data": {"custom_id": "hint", "component_type": 2}
        });
        let message = parse(press).remove(0);
        assert_eq!(message.text, "hint");
        assert_eq!(message.message_id, "1300000000000000001");
    }

    #[test]
    fn pings_autocomplete_and_bad_interactions() {
        assert!(parse(json!({"type": 1, "id": "1", "token": "t"})).is_empty());
        assert!(parse(json!({"type": 4, "id": "1", "data": {"name": "guess"}})).is_empty());
        assert!(parse_body(b"{}", "1").is_err(), "no type");
        assert!(parse_body(b"[1]", "1").is_err());
        let mut no_channel = command("hint", json!([]));
        no_channel["channel_id"] = Value::Null;
        assert!(parse_body(no_channel.to_string().as_bytes(), "1").is_err());
        let no_data = json!({"type": 2, "id": "1", "token": "t", "channel_id": "7"});
        assert!(parse_body(no_data.to_string().as_bytes(), "1").is_err());
    }

    fn authorized(scopes: Value, system_channel: Value) -> Value {
        json!({
            "version": 1, "application_id": "42", "type": 1,
            "event": {"type": "APPLICATION_AUTHORIZED", "timestamp": "2024-10-18T14:42:53.064834",
                "data": {"integration_type": 0, "scopes": scopes,
                    "user": {"id": "5", "username": "ana"},
                    "guild": {"id": "8", "name": "Quiz", "system_channel_id": system_channel}}}
        })
    }

    #[test]
    fn being_added_to_a_server_greets_its_system_channel() {
        let message = parse(authorized(
            json!(["bot", "applications.commands"]),
            json!("9"),
        ))
        .remove(0);
        assert_eq!(message.text, "/start");
        assert_eq!(message.chat_id, "9");
        assert!(message.is_group);
        assert_eq!(message.sender_id, "5");
        assert_eq!(
            message.message_id,
            "authorized-8-2024-10-18T14:42:53.064834"
        );
        assert_eq!(message.reply_context, json!({"channel_id": "9"}));
        assert_eq!(follow_up_path(&message.reply_context, now_ms()), None);
        // Without the bot user or a system channel there is nowhere to greet.
        assert!(parse(authorized(json!(["applications.commands"]), json!("9"))).is_empty());
        assert!(parse(authorized(json!(["bot"]), Value::Null)).is_empty());
        let other = json!({"version": 1, "application_id": "42", "type": 1,
            "event": {"type": "ENTITLEMENT_CREATE", "timestamp": "x", "data": {"id": "1"}}});
        assert!(parse(other).is_empty());
    }

    #[test]
    fn handshakes_and_acknowledgements() {
        let pong = handshake_response(br#"{"type":1,"id":"1","token":"t","version":1}"#).unwrap();
        assert_eq!(
            (pong.status, pong.body.as_slice()),
            (200, br#"{"type":1}"#.as_slice())
        );
        let event_ping = handshake_response(br#"{"version":1,"application_id":"1","type":0}"#);
        assert_eq!(event_ping.map(|answer| answer.status), Some(204));
        assert!(handshake_response(command("hint", json!([])).to_string().as_bytes()).is_none());
        let event = authorized(json!(["bot"]), json!("9")).to_string();
        assert!(handshake_response(event.as_bytes()).is_none());

        let ack = |body: Value| acknowledgement(body.to_string().as_bytes());
        let deferred = ack(command("hint", json!([]))).unwrap();
        assert_eq!(deferred.body, br#"{"type":5}"#);
        let press = json!({"type": 3, "data": {"custom_id": "hint"}});
        assert_eq!(ack(press).unwrap().body, br#"{"type":6}"#);
        assert_eq!(ack(authorized(json!([]), Value::Null)).unwrap().status, 204);
        assert!(ack(json!({"type": 4})).is_none());
    }

    #[test]
    fn markdown_is_escaped() {
        assert_eq!(escape_markdown("#1: a*b_c~d`e|f"), r"\#1: a\*b\_c\~d\`e\|f");
        assert_eq!(
            escape_markdown("> q\n - x\n12. y\n[l](u) <@1>"),
            "\\> q\n \\- x\n12\\. y\n\\[l](u) \\<@1>"
        );
        assert_eq!(escape_markdown(r"a\b"), r"a\\b");
        assert_eq!(
            escape_markdown("Paris, 1900 - 2000."),
            "Paris, 1900 - 2000."
        );
        assert_eq!(escape_markdown("Zoë ☃"), "Zoë ☃");
    }

    #[test]
    fn messages_render_with_buttons_and_no_mentions() {
        let reply = Reply {
            text: "**hi** @everyone".into(),
            buttons: vec![
                Button {
                    label: "Hint".into(),
                    command: "hint".into(),
                },
                Button {
                    label: String::new(),
                    command: "skip".into(),
                },
                Button {
                    label: "bad".into(),
                    command: String::new(),
                },
            ],
        };
        assert_eq!(
            render_message(&reply),
            json!({
                "content": r"\*\*hi\*\* @everyone",
                "allowed_mentions": {"parse": []},
                "components": [{"type": 1, "components": [
                    {"type": 2, "style": 1, "label": "Hint", "custom_id": "hint"},
                    {"type": 2, "style": 2, "label": "skip", "custom_id": "skip"}
                ]}]
            })
        );
        let many: Vec<Button> = (0..7)
            .map(|n| Button {
                label: n.to_string(),
                command: n.to_string(),
            })
            .collect();
        let rows = render_message(&Reply {
            text: "x".into(),
            buttons: many,
        })["components"]
            .clone();
        assert_eq!(rows.as_array().map(Vec::len), Some(2));
        assert!(
            render_message(&Reply::text("x"))
                .get("components")
                .is_none()
        );
        // Escaping must not push a full-length text over the limit.
        let stars = "*".repeat(MAX_LEN);
        assert_eq!(
            render_message(&Reply::text(stars.clone()))["content"],
            stars
        );
    }

    #[test]
    fn follow_ups_while_the_token_lives() {
        let created = 1_800_000_000_000;
        let context = json!({"application_id": "42", "token": "a/b", "interaction_ms": created});
        assert_eq!(
            follow_up_path(&context, created + 1000).as_deref(),
            Some("/webhooks/42/a%2Fb")
        );
        assert_eq!(
            follow_up_path(&context, created - 5000).as_deref(),
            Some("/webhooks/42/a%2Fb")
        );
        let late = created + u64::try_from(FOLLOW_UP_WINDOW.as_millis()).unwrap();
        assert_eq!(follow_up_path(&context, late), None);
        assert_eq!(follow_up_path(&json!({"channel_id": "9"}), created), None);
        // The fixture's interaction was created 2020-12-08T23:18:04.500Z.
        assert_eq!(snowflake_ms("786008729715212338"), Some(1_607_469_484_500));
        assert_eq!(snowflake_ms("x"), None);
    }

    #[test]
    fn rate_limits_prefer_the_body() {
        let answer = |status, retry_after, body: &str| ApiResponse {
            status,
            retry_after,
            body: body.as_bytes().to_vec(),
        };
        let body = r#"{"message":"You are being rate limited.","retry_after":2.5,"global":false}"#;
        assert_eq!(
            send_outcome(&answer(429, Some(Duration::from_secs(3)), body)),
            SendOutcome::RetryAfter(Duration::from_millis(2500))
        );
        assert_eq!(
            send_outcome(&answer(429, Some(Duration::from_secs(3)), "")),
            SendOutcome::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(send_outcome(&answer(200, None, "{}")), SendOutcome::Sent);
        for status in [401, 403, 404] {
            assert!(matches!(
                send_outcome(&answer(status, None, "{}")),
                SendOutcome::Failed {
                    permanent: true,
                    ..
                }
            ));
        }
        assert!(matches!(
            send_outcome(&answer(502, None, "")),
            SendOutcome::Failed {
                permanent: false,
                ..
            }
        ));
    }

    #[test]
    fn from_env_needs_all_three_settings() {
        let full = [
            (ENV_PUBLIC_KEY, RFC_PUBLIC),
            (ENV_APP_ID, "42"),
            (ENV_BOT_TOKEN, "bot-token"),
        ];
        assert!(
            from_env(&Env::from_map(Vec::<(String, String)>::new()))
                .unwrap()
                .is_none()
        );
        let error = from_env(&Env::from_map(full[..2].to_vec())).unwrap_err();
        assert!(error.0.contains(ENV_BOT_TOKEN), "{error}");
        let adapter = from_env(&Env::from_map(full)).unwrap().unwrap();
        assert_eq!(adapter.platform(), "discord");
        assert_eq!(adapter.messenger.max_len(), 2000);
        let bad_key = Env::from_map([
            (ENV_PUBLIC_KEY, "abcd"),
            (ENV_APP_ID, "42"),
            (ENV_BOT_TOKEN, "t"),
        ]);
        assert!(from_env(&bad_key).unwrap_err().0.contains(ENV_PUBLIC_KEY));
        let bad_url = Env::from_map(full.into_iter().chain([(ENV_API_URL, "ftp://x")]));
        assert!(from_env(&bad_url).is_err());
        assert_eq!(DiscordSettings::DEFAULT_LIMITS.global, Some(50));
    }
}
