//! The Telegram Bot API adapter.
//!
//! - Webhook: Telegram posts one JSON `Update` per request with the header
//!   `X-Telegram-Bot-Api-Secret-Token` set to the `secret_token` given to `setWebhook`
//!   (no body signature); [`verify_secret`] compares it in constant time.
//! - Turns: text messages, inline-button presses (`callback_query`, text = the button's
//!   `callback_data`) and the bot being added to a group (`my_chat_member`, text
//!   `/start`). The de-duplication key is the `update_id`.
//! - Replies: `sendMessage` as plain text (no `parse_mode`, so nothing needs escaping),
//!   with an inline keyboard for buttons, in the forum topic of the message answered.
//!   Button presses are answered in the webhook response (`answerCallbackQuery`).

use std::time::Duration;

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::common::{
    ApiClient, ApiResponse, Env, Limiter, Secret, SendLimits, SettingsError, all_or_none,
    constant_time_eq, required_header, transport_failure,
};
use super::{
    AuthError, Inbound, Messenger, ParseError, PlatformAdapter, RegisterError, SendOutcome,
    WebhookResponse,
};
use crate::model::{ChatAddress, InboundMessage, Reply, Timestamp};
use crate::store::BoxFuture;

/// The platform name.
pub const PLATFORM: &str = "telegram";
/// The bot token from @BotFather (secret).
pub const TOKEN_VAR: &str = "FRASER_TELEGRAM_TOKEN";
/// The webhook secret token (secret): 1-256 characters of `A-Z a-z 0-9 _ -`.
pub const WEBHOOK_SECRET_VAR: &str = "FRASER_TELEGRAM_WEBHOOK_SECRET";
/// The Bot API base URL.
pub const API_URL_VAR: &str = "FRASER_TELEGRAM_API_URL";
/// The Bot API base URL unless [`API_URL_VAR`] is set.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// The header carrying the webhook secret token.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";
/// The longest `sendMessage` text.
pub const MAX_LEN: usize = 4096;
/// The update kinds requested from `setWebhook`.
pub const ALLOWED_UPDATES: [&str; 3] = ["message", "callback_query", "my_chat_member"];
/// Telegram's documented limits (Bot FAQ): 1 message/s per chat, 20/min per group,
/// 30/s overall.
pub const DEFAULT_LIMITS: SendLimits = SendLimits {
    per_chat: Some(1),
    per_group_minute: Some(20),
    global: Some(30),
};

/// The longest `callback_data` Telegram accepts, in bytes.
const MAX_CALLBACK_DATA: usize = 64;
/// Inline keyboard buttons per row.
const BUTTONS_PER_ROW: usize = 3;

/// The Telegram adapter's settings.
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    /// The bot token (goes into the API path `/bot{token}/...`).
    pub token: Secret,
    /// The webhook secret token Telegram sends back in [`SECRET_HEADER`].
    pub webhook_secret: Secret,
    /// The Bot API base URL, without a trailing slash.
    pub api_url: String,
    /// Send limits ([`DEFAULT_LIMITS`] unless changed; `SendLimits::default()` is none).
    pub limits: SendLimits,
}

impl TelegramSettings {
    /// Settings for the public Bot API with the documented limits.
    pub fn new(token: Secret, webhook_secret: Secret) -> TelegramSettings {
        TelegramSettings {
            token,
            webhook_secret,
            api_url: DEFAULT_API_URL.to_string(),
            limits: DEFAULT_LIMITS,
        }
    }
}

/// Builds the Telegram adapter when [`TOKEN_VAR`] and [`WEBHOOK_SECRET_VAR`] are set
/// (`Ok(None)` when neither is, an error when only one is or the secret token has
/// characters Telegram refuses).
pub fn from_env(env: &Env) -> Result<Option<PlatformAdapter>, SettingsError> {
    let Some([token, webhook_secret]) =
        all_or_none(env, PLATFORM, [TOKEN_VAR, WEBHOOK_SECRET_VAR])?
    else {
        return Ok(None);
    };
    if !valid_secret_token(webhook_secret.expose()) {
        return Err(SettingsError(format!(
            "{WEBHOOK_SECRET_VAR} must be 1-256 characters of A-Z, a-z, 0-9, _ and - \
             (Telegram refuses others)"
        )));
    }
    let mut settings = TelegramSettings {
        api_url: env.api_url(API_URL_VAR, DEFAULT_API_URL)?,
        ..TelegramSettings::new(token, webhook_secret)
    };
    settings.limits = env.send_limits("TELEGRAM", settings.limits)?;
    Ok(Some(PlatformAdapter::new(Telegram::new(settings))))
}

/// Whether `secret` is a `secret_token` that `setWebhook` accepts.
pub fn valid_secret_token(secret: &str) -> bool {
    (1..=256).contains(&secret.len())
        && secret
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// The Telegram adapter: webhook handler and sender.
#[derive(Debug)]
pub struct Telegram {
    settings: TelegramSettings,
    client: ApiClient,
    limiter: Limiter,
}

impl Telegram {
    /// Creates the adapter.
    pub fn new(settings: TelegramSettings) -> Telegram {
        Telegram {
            client: ApiClient::new(settings.api_url.clone()),
            limiter: Limiter::new(settings.limits),
            settings,
        }
    }

    /// Calls Bot API `method` with a JSON body.
    async fn call(&self, method: &str, body: &Value) -> Result<ApiResponse, String> {
        let path = format!("/bot{}/{method}", self.settings.token.expose());
        self.client.post_json(&path, &[], body).await
    }
}

impl Messenger for Telegram {
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
            match self.call("sendMessage", &render_message(chat, reply)).await {
                Ok(response) => send_outcome(&response),
                Err(reason) => transport_failure(reason),
            }
        })
    }
}

impl Inbound for Telegram {
    fn platform(&self) -> &str {
        PLATFORM
    }

    fn verify(&self, headers: &HeaderMap, _raw_body: &[u8]) -> Result<(), AuthError> {
        verify_secret(headers, &self.settings.webhook_secret)
    }

    fn parse(
        &self,
        _headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<Vec<InboundMessage>, ParseError> {
        parse_update(raw_body)
    }

    fn acknowledge(
        &self,
        _headers: &HeaderMap,
        raw_body: &[u8],
        _messages: &[InboundMessage],
    ) -> Option<WebhookResponse> {
        callback_answer(raw_body)
    }

    fn register_webhook<'a>(
        &'a self,
        url: &'a str,
    ) -> BoxFuture<'a, Result<String, RegisterError>> {
        Box::pin(async move {
            let body = json!({
                "url": url,
                "secret_token": self.settings.webhook_secret.expose(),
                "allowed_updates": ALLOWED_UPDATES,
            });
            let response = self
                .call("setWebhook", &body)
                .await
                .map_err(|reason| RegisterError(format!("setWebhook: {reason}")))?;
            let answer = response.json().unwrap_or(Value::Null);
            let description = answer.get("description").and_then(Value::as_str);
            if response.is_success() && answer.get("ok") == Some(&Value::Bool(true)) {
                Ok(description.unwrap_or("webhook set").to_string())
            } else {
                Err(RegisterError(format!(
                    "setWebhook failed: {}",
                    description.map_or_else(|| response.describe(), str::to_string)
                )))
            }
        })
    }
}

/// Checks that [`SECRET_HEADER`] equals `secret` (constant time: both sides are hashed
/// first, so not even the length leaks). The error never holds either value.
pub fn verify_secret(headers: &HeaderMap, secret: &Secret) -> Result<(), AuthError> {
    let given = required_header(headers, SECRET_HEADER)?;
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(secret.expose().as_bytes());
    if constant_time_eq(&given, &expected) {
        Ok(())
    } else {
        Err(AuthError(format!("{SECRET_HEADER} does not match")))
    }
}

/// What [`send`](Messenger::send) needs to answer in place, kept in
/// [`InboundMessage::reply_context`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyContext {
    /// The forum topic (`message_thread_id`) of the message answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<i64>,
    /// The message to reply to (in groups, so players see whose guess is answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<i64>,
}

impl ReplyContext {
    fn into_value(self) -> Value {
        if self == ReplyContext::default() {
            Value::Null
        } else {
            serde_json::to_value(self).unwrap_or(Value::Null)
        }
    }
}

#[derive(Debug, Deserialize)]
struct Update {
    update_id: i64,
    message: Option<Message>,
    callback_query: Option<CallbackQuery>,
    my_chat_member: Option<ChatMemberUpdated>,
}

#[derive(Debug, Deserialize)]
struct Message {
    message_id: i64,
    chat: Chat,
    from: Option<User>,
    sender_chat: Option<Chat>,
    text: Option<String>,
    message_thread_id: Option<i64>,
    #[serde(default)]
    is_topic_message: bool,
    #[serde(default)]
    is_automatic_forward: bool,
}

#[derive(Debug, Deserialize)]
struct Chat {
    id: i64,
    #[serde(rename = "type", default)]
    kind: String,
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
struct User {
    id: i64,
    #[serde(default)]
    first_name: String,
    last_name: Option<String>,
    username: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    from: User,
    message: Option<Message>,
    data: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChatMemberUpdated {
    chat: Chat,
    from: User,
    old_chat_member: ChatMember,
    new_chat_member: ChatMember,
}

#[derive(Debug, Deserialize)]
struct ChatMember {
    status: String,
    #[serde(default)]
    is_member: bool,
}

impl ChatMember {
    fn is_in_chat(&self) -> bool {
        matches!(self.status.as_str(), "creator" | "administrator" | "member")
            || (self.status == "restricted" && self.is_member)
    }
}

impl Chat {
    fn is_group(&self) -> bool {
        matches!(self.kind.as_str(), "group" | "supergroup")
    }
}

impl User {
    fn display_name(&self) -> String {
        let name = match &self.last_name {
            Some(last) => format!("{} {last}", self.first_name),
            None => self.first_name.clone(),
        };
        let name = name.trim();
        if !name.is_empty() {
            name.to_string()
        } else {
            self.username.clone().unwrap_or_else(|| self.id.to_string())
        }
    }
}

/// Parses one webhook `Update`. Turns come from text messages, button presses and the
/// bot joining a group; every other update (edits, channel posts, media without
/// text, service messages, inline queries...) gives no message.
pub fn parse_update(raw_body: &[u8]) -> Result<Vec<InboundMessage>, ParseError> {
    let update: Update = serde_json::from_slice(raw_body)
        .map_err(|error| ParseError(format!("not a Telegram Update: {error}")))?;
    let Some(turn) = turn(&update) else {
        return Ok(Vec::new());
    };
    Ok(vec![InboundMessage {
        platform: PLATFORM.to_string(),
        chat_id: turn.chat.id.to_string(),
        sender_id: turn.sender_id,
        sender_name: turn.sender_name,
        text: turn.text,
        message_id: update.update_id.to_string(),
        is_group: turn.chat.is_group(),
        reply_context: turn.context.into_value(),
        received_at: Timestamp(0),
    }])
}

/// What one update asks the game to play.
struct Turn<'a> {
    chat: &'a Chat,
    sender_id: String,
    sender_name: String,
    text: String,
    context: ReplyContext,
}

/// Real updates carry exactly one kind; the first one played with wins.
fn turn(update: &Update) -> Option<Turn<'_>> {
    if let Some(message) = &update.message {
        let text = message
            .text
            .as_deref()
            .filter(|text| !text.trim().is_empty())?;
        if message.is_automatic_forward {
            return None;
        }
        let (sender_id, sender_name) = match (&message.sender_chat, &message.from) {
            // Anonymous admins and linked channels: `from` is a placeholder user.
            (Some(chat), _) => (chat.id.to_string(), chat.title.clone().unwrap_or_default()),
            (None, Some(user)) => (user.id.to_string(), user.display_name()),
            (None, None) => return None,
        };
        return Some(Turn {
            chat: &message.chat,
            sender_id,
            sender_name,
            text: strip_command_mention(text),
            context: ReplyContext {
                thread_id: topic(message),
                reply_to: message.chat.is_group().then_some(message.message_id),
            },
        });
    }
    if let Some(query) = &update.callback_query {
        // Presses on inline-mode messages carry no chat: nothing to answer in.
        let message = query.message.as_ref()?;
        return Some(Turn {
            chat: &message.chat,
            sender_id: query.from.id.to_string(),
            sender_name: query.from.display_name(),
            text: query.data.clone()?,
            context: ReplyContext {
                thread_id: topic(message),
                reply_to: None,
            },
        });
    }
    let member = update.my_chat_member.as_ref()?;
    let joined = !member.old_chat_member.is_in_chat() && member.new_chat_member.is_in_chat();
    (joined && member.chat.is_group()).then(|| Turn {
        chat: &member.chat,
        sender_id: member.from.id.to_string(),
        sender_name: member.from.display_name(),
        text: "/start".to_string(),
        context: ReplyContext::default(),
    })
}

fn topic(message: &Message) -> Option<i64> {
    message
        .message_thread_id
        .filter(|_| message.is_topic_message)
}

/// Drops the bot name from a leading command: `/hint@FraserBot now` -> `/hint now`
/// (group members pick commands from the menu in that form).
pub fn strip_command_mention(text: &str) -> String {
    if !text.starts_with('/') {
        return text.to_string();
    }
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    let Some((command, rest)) = text.split_at_checked(end) else {
        return text.to_string();
    };
    match command.split_once('@') {
        Some((command, _bot)) => format!("{command}{rest}"),
        None => text.to_string(),
    }
}

/// The webhook answer to a button press: Telegram runs the `answerCallbackQuery` it
/// finds in the response body, which stops the button's spinner without an API call.
pub fn callback_answer(raw_body: &[u8]) -> Option<WebhookResponse> {
    let update: Value = serde_json::from_slice(raw_body).ok()?;
    let id = update.pointer("/callback_query/id")?.as_str()?;
    let body = json!({"method": "answerCallbackQuery", "callback_query_id": id});
    Some(WebhookResponse {
        status: 200,
        content_type: "application/json",
        body: body.to_string().into_bytes(),
    })
}

/// The `sendMessage` body for `reply` to `chat`: plain text, the topic and message
/// of the reply context, buttons as an inline keyboard whose `callback_data` is the
/// command (buttons whose command is empty or over 64 bytes are left out).
pub fn render_message(chat: &ChatAddress, reply: &Reply) -> Value {
    let context: ReplyContext =
        serde_json::from_value(chat.reply_context.clone()).unwrap_or_default();
    let chat_id = chat
        .chat_id
        .parse::<i64>()
        .map_or_else(|_| json!(chat.chat_id), |id| json!(id));
    let mut body = json!({ "chat_id": chat_id, "text": reply.text });
    if let Some(thread_id) = context.thread_id {
        body["message_thread_id"] = json!(thread_id);
    }
    if let Some(message_id) = context.reply_to {
        body["reply_parameters"] = json!({
            "message_id": message_id,
            "allow_sending_without_reply": true,
        });
    }
    let buttons: Vec<Value> = reply
        .buttons
        .iter()
        .filter(|button| (1..=MAX_CALLBACK_DATA).contains(&button.command.len()))
        .map(|button| json!({"text": button.label, "callback_data": button.command}))
        .collect();
    if !buttons.is_empty() {
        let rows: Vec<&[Value]> = buttons.chunks(BUTTONS_PER_ROW).collect();
        body["reply_markup"] = json!({ "inline_keyboard": rows });
    }
    body
}

/// Reads a Bot API answer: 429 waits `parameters.retry_after` from the body (else the
/// `Retry-After` header, else 1 s); a group upgraded to a supergroup
/// (`parameters.migrate_to_chat_id`) fails permanently and says so; otherwise
/// [`ApiResponse::outcome`] (403 blocked/kicked and 400 chat not found are permanent,
/// 5xx retryable).
pub fn send_outcome(response: &ApiResponse) -> SendOutcome {
    let body = response.json();
    let parameter = |name: &str| {
        body.as_ref()
            .and_then(|body| body.get("parameters"))
            .and_then(|parameters| parameters.get(name))
    };
    if response.status == 429 {
        let wait = parameter("retry_after")
            .and_then(Value::as_u64)
            .map(|seconds| Duration::from_secs(seconds.min(3600)))
            .or(response.retry_after)
            .unwrap_or(Duration::from_secs(1));
        return SendOutcome::RetryAfter(wait);
    }
    if let Some(new_id) = parameter("migrate_to_chat_id").and_then(Value::as_i64) {
        return SendOutcome::Failed {
            permanent: true,
            reason: format!(
                "the group was upgraded to a supergroup with chat id {new_id}; the old id \
                 no longer works ({})",
                response.describe()
            ),
        };
    }
    response.outcome()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Button;

    fn parse(value: Value) -> Vec<InboundMessage> {
        parse_update(value.to_string().as_bytes()).unwrap()
    }

    fn headers(secret: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(secret) = secret {
            headers.insert(SECRET_HEADER, secret.parse().unwrap());
        }
        headers
    }

    fn response(status: u16, body: Value) -> ApiResponse {
        ApiResponse {
            status,
            retry_after: None,
            body: body.to_string().into_bytes(),
        }
    }

    fn group_chat() -> Value {
        json!({"id": -1001234567890_i64, "type": "supergroup", "title": "Quiz night", "is_forum": true})
    }

    #[test]
    fn secret_header_must_match_exactly() {
        let secret = Secret::new("s3cret_token-1");
        assert_eq!(
            verify_secret(&headers(Some("s3cret_token-1")), &secret),
            Ok(())
        );
        for wrong in [
            Some("s3cret_token-2"),
            Some("s3cret_token-1x"),
            Some(""),
            None,
        ] {
            let error = verify_secret(&headers(wrong), &secret).unwrap_err();
            assert!(!error.0.contains("s3cret"), "{error}");
            assert!(error.0.contains(SECRET_HEADER), "{error}");
        }
    }

    #[test]
    fn secret_tokens_follow_telegram_rules() {
        assert!(valid_secret_token("abc_DEF-123"));
        assert!(valid_secret_token(&"a".repeat(256)));
        assert!(!valid_secret_token(""));
        assert!(!valid_secret_token(&"a".repeat(257)));
        assert!(!valid_secret_token("has space"));
        assert!(!valid_secret_token("colon:"));
    }

    #[test]
    fn group_text_keeps_topic_and_reply_target() {
        let messages = parse(json!({
            "update_id": 900,
            "message": {
                "message_id": 77, "date": 1, "chat": group_chat(),
                "message_thread_id": 5, "is_topic_message": true,
                "from": {"id": 42, "is_bot": false, "first_name": "Ada", "last_name": "Lovelace"},
                "text": "/hint@FraserBot please"
            }
        }));
        assert_eq!(messages.len(), 1);
        let message = &messages[0];
        assert_eq!(message.chat_id, "-1001234567890");
        assert_eq!(
            (message.sender_id.as_str(), message.sender_name.as_str()),
            ("42", "Ada Lovelace")
        );
        assert_eq!(message.text, "/hint please");
        assert_eq!(message.message_id, "900");
        assert!(message.is_group);
        assert_eq!(
            message.reply_context,
            json!({"thread_id": 5, "reply_to": 77})
        );
    }

    #[test]
    fn thread_ids_outside_topics_are_not_kept() {
        let messages = parse(json!({
            "update_id": 901,
            "message": {
                "message_id": 78, "date": 1,
                "chat": {"id": -55, "type": "group", "title": "g"},
                "message_thread_id": 60,
                "from": {"id": 42, "is_bot": false, "first_name": "", "username": "ada"},
                "text": "paris"
            }
        }));
        assert_eq!(messages[0].reply_context, json!({"reply_to": 78}));
        assert_eq!(messages[0].sender_name, "ada");
    }

    #[test]
    fn anonymous_admins_speak_for_the_group() {
        let messages = parse(json!({
            "update_id": 902,
            "message": {
                "message_id": 79, "date": 1, "chat": group_chat(),
                "from": {"id": 1087968824, "is_bot": true, "first_name": "Group", "username": "GroupAnonymousBot"},
                "sender_chat": group_chat(),
                "text": "skip"
            }
        }));
        assert_eq!(messages[0].sender_id, "-1001234567890");
        assert_eq!(messages[0].sender_name, "Quiz night");
    }

    #[test]
    fn updates_without_a_turn_give_nothing() {
        let private = json!({"id": 7, "type": "private", "first_name": "A"});
        let user = json!({"id": 7, "is_bot": false, "first_name": "A"});
        for update in [
            json!({"update_id": 1, "edited_message": {"message_id": 1, "date": 1, "chat": private, "text": "x"}}),
            json!({"update_id": 2, "channel_post": {"message_id": 1, "date": 1, "chat": {"id": -1, "type": "channel"}, "text": "x"}}),
            json!({"update_id": 3, "message": {"message_id": 1, "date": 1, "chat": private, "from": user, "sticker": {}}}),
            json!({"update_id": 4, "message": {"message_id": 1, "date": 1, "chat": private, "from": user, "text": "  "}}),
            json!({"update_id": 5, "message": {"message_id": 1, "date": 1, "chat": group_chat(), "from": user, "new_chat_members": [user]}}),
            json!({"update_id": 6, "message": {"message_id": 1, "date": 1, "chat": group_chat(), "is_automatic_forward": true, "sender_chat": {"id": -3, "type": "channel"}, "text": "post"}}),
            json!({"update_id": 7, "callback_query": {"id": "q", "from": user, "chat_instance": "c", "inline_message_id": "i", "data": "hint"}}),
            json!({"update_id": 8, "inline_query": {"id": "q", "from": user, "query": "x", "offset": ""}}),
            json!({"update_id": 9, "message_reaction": {"chat": private, "message_id": 1, "date": 1, "old_reaction": [], "new_reaction": []}}),
        ] {
            assert_eq!(parse(update.clone()), Vec::new(), "{update}");
        }
    }

    #[test]
    fn malformed_updates_are_errors() {
        assert!(parse_update(b"{not json").is_err());
        assert!(parse_update(b"{\"message\": {}}").is_err(), "no update_id");
        assert!(parse_update(b"[]").is_err());
    }

    fn member_update(old: &str, new: &str, chat: Value) -> Value {
        let bot = json!({"id": 999, "is_bot": true, "first_name": "Fraser"});
        json!({
            "update_id": 1000,
            "my_chat_member": {
                "chat": chat, "date": 1,
                "from": {"id": 42, "is_bot": false, "first_name": "Ada"},
                "old_chat_member": {"status": old, "user": bot},
                "new_chat_member": {"status": new, "user": bot}
            }
        })
    }

    #[test]
    fn the_bot_greets_a_group_that_adds_it() {
        let messages = parse(member_update("left", "member", group_chat()));
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].text, "/start");
        assert_eq!(messages[0].message_id, "1000");
        assert_eq!(messages[0].sender_name, "Ada");
        assert!(messages[0].is_group);
        assert_eq!(
            parse(member_update("kicked", "administrator", group_chat())).len(),
            1
        );
        // Promotion, removal and private chats are no greeting.
        assert!(parse(member_update("member", "administrator", group_chat())).is_empty());
        assert!(parse(member_update("member", "left", group_chat())).is_empty());
        let private = json!({"id": 42, "type": "private", "first_name": "Ada"});
        assert!(parse(member_update("kicked", "member", private)).is_empty());
    }

    #[test]
    fn commands_lose_the_bot_name_only() {
        assert_eq!(strip_command_mention("/start@FraserBot"), "/start");
        assert_eq!(strip_command_mention("/hint@FraserBot  x"), "/hint  x");
        assert_eq!(strip_command_mention("/score"), "/score");
        assert_eq!(
            strip_command_mention("mail@example.org"),
            "mail@example.org"
        );
        assert_eq!(strip_command_mention("/é@b ü"), "/é ü");
    }

    #[test]
    fn callback_queries_are_answered_in_the_webhook_response() {
        let answer = callback_answer(br#"{"update_id":1,"callback_query":{"id":"42ab"}}"#).unwrap();
        assert_eq!(answer.status, 200);
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(
            body,
            json!({"method": "answerCallbackQuery", "callback_query_id": "42ab"})
        );
        assert!(callback_answer(br#"{"update_id":1,"message":{}}"#).is_none());
        assert!(callback_answer(b"nonsense").is_none());
    }

    #[test]
    fn messages_render_as_plain_text_with_an_inline_keyboard() {
        let chat = ChatAddress {
            platform: PLATFORM.into(),
            chat_id: "-100123".into(),
            is_group: true,
            reply_context: json!({"thread_id": 5, "reply_to": 77}),
        };
        let reply = Reply {
            text: "<b>*bold*</b> & _x_".into(),
            buttons: vec![
                Button {
                    label: "Hint".into(),
                    command: "hint".into(),
                },
                Button {
                    label: "Too long".into(),
                    command: "x".repeat(65),
                },
                Button {
                    label: "Skip".into(),
                    command: "skip".into(),
                },
            ],
        };
        assert_eq!(
            render_message(&chat, &reply),
            json!({
                "chat_id": -100123,
                "text": "<b>*bold*</b> & _x_",
                "message_thread_id": 5,
                "reply_parameters": {"message_id": 77, "allow_sending_without_reply": true},
                "reply_markup": {"inline_keyboard": [[
                    {"text": "Hint", "callback_data": "hint"},
                    {"text": "Skip", "callback_data": "skip"}
                ]]}
            })
        );
        let direct = ChatAddress {
            chat_id: "@channel".into(),
            is_group: false,
            reply_context: Value::Null,
            ..chat
        };
        assert_eq!(
            render_message(&direct, &Reply::text("hi")),
            json!({"chat_id": "@channel", "text": "hi"})
        );
    }

    #[test]
    fn answers_map_to_outcomes() {
        assert_eq!(
            send_outcome(&response(200, json!({"ok": true}))),
            SendOutcome::Sent
        );
        let flood = json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 12", "parameters": {"retry_after": 12}});
        assert_eq!(
            send_outcome(&response(429, flood)),
            SendOutcome::RetryAfter(Duration::from_secs(12))
        );
        let header_only = ApiResponse {
            retry_after: Some(Duration::from_secs(3)),
            ..response(429, json!({"ok": false}))
        };
        assert_eq!(
            send_outcome(&header_only),
            SendOutcome::RetryAfter(Duration::from_secs(3))
        );
        let migrated = json!({"ok": false, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat", "parameters": {"migrate_to_chat_id": -100777}});
        match send_outcome(&response(400, migrated)) {
            SendOutcome::Failed {
                permanent: true,
                reason,
            } => {
                assert!(
                    reason.contains("supergroup with chat id -100777"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        for (status, permanent) in [(403, true), (400, true), (502, false)] {
            let outcome = send_outcome(&response(status, json!({"ok": false, "description": "x"})));
            assert!(
                matches!(outcome, SendOutcome::Failed { permanent: p, .. } if p == permanent),
                "{status}: {outcome:?}"
            );
        }
    }

    #[test]
    fn from_env_is_all_or_nothing() {
        assert!(
            from_env(&Env::from_map(Vec::<(String, String)>::new()))
                .unwrap()
                .is_none()
        );
        let error = from_env(&Env::from_map([(TOKEN_VAR, "1:abc")])).unwrap_err();
        assert!(error.0.contains(WEBHOOK_SECRET_VAR), "{error}");
        assert!(!error.0.contains("1:abc"), "{error}");
        let error = from_env(&Env::from_map([(WEBHOOK_SECRET_VAR, "s")])).unwrap_err();
        assert!(error.0.contains(TOKEN_VAR), "{error}");
        let adapter = from_env(&Env::from_map([
            (TOKEN_VAR, "1:abc"),
            (WEBHOOK_SECRET_VAR, "s_1"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(adapter.platform(), "telegram");
        assert_eq!(adapter.messenger.max_len(), 4096);
        let error = from_env(&Env::from_map([
            (TOKEN_VAR, "1:abc"),
            (WEBHOOK_SECRET_VAR, "not allowed!"),
        ]))
        .unwrap_err();
        assert!(
            error.0.contains(WEBHOOK_SECRET_VAR) && !error.0.contains("allowed!"),
            "{error}"
        );
        let error = from_env(&Env::from_map([
            (TOKEN_VAR, "1:abc"),
            (WEBHOOK_SECRET_VAR, "s_1"),
            (API_URL_VAR, "ftp://x"),
        ]))
        .unwrap_err();
        assert!(error.0.contains(API_URL_VAR), "{error}");
    }
}
