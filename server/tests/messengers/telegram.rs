//! The Telegram adapter against the real payloads, the machine-readable Bot API spec
//! (`telegram-bot-api-spec.json`, read by a small checker below since it is not JSON
//! Schema) and a fake Bot API.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use server::messenger::PlatformAdapter;
use server::messenger::common::{Secret, SendLimits};
use server::messenger::telegram::{self, Telegram, TelegramSettings};
use server::testing::{FakePlatform, RecordedRequest, ScriptedResponse};
use server::{Button, ChatAddress, Reply, SendOutcome, Timestamp};

use crate::support::{self, Harness, Platform};

const TOKEN: &str = "123456:AAE-test_token";
const SECRET: &str = "webhook_secret-42";
const PATH: &str = "/webhooks/telegram";

// --- A checker for the Bot API spec --------------------------------------------------

/// Checks request bodies against `methods.<m>.fields[]` and `types.<T>` of the spec:
/// required fields present, no unknown fields, every value of one of the listed types
/// (`Integer`, `Float`, `String`, `Boolean`, `True`, `Array of X`, spec types, unions).
struct BotApi {
    spec: Value,
}

impl BotApi {
    fn load() -> BotApi {
        BotApi {
            spec: support::fixture_json("telegram", "telegram-bot-api-spec.json"),
        }
    }

    /// Every violation of `body` as the parameters of `method` (empty = valid).
    fn errors(&self, method: &str, body: &Value) -> Vec<String> {
        let fields = self.spec["methods"][method]["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("the spec has no method {method}"));
        self.check_fields(method, fields, body)
    }

    fn assert_valid(&self, method: &str, body: &Value) {
        let errors = self.errors(method, body);
        assert!(
            errors.is_empty(),
            "{body} is not valid for {method}:\n{}",
            errors.join("\n")
        );
    }

    fn check_fields(&self, path: &str, fields: &[Value], value: &Value) -> Vec<String> {
        let Some(object) = value.as_object() else {
            return vec![format!("{path}: expected an object, got {value}")];
        };
        let mut errors = Vec::new();
        for field in fields {
            let name = field["name"].as_str().unwrap();
            if field["required"] == json!(true) && !object.contains_key(name) {
                errors.push(format!("{path}: required field {name} is missing"));
            }
        }
        for (key, item) in object {
            let path = format!("{path}.{key}");
            let Some(field) = fields.iter().find(|field| field["name"] == json!(key)) else {
                errors.push(format!("{path}: unknown field"));
                continue;
            };
            let types: Vec<&str> = field["types"]
                .as_array()
                .unwrap()
                .iter()
                .map(|ty| ty.as_str().unwrap())
                .collect();
            let attempts: Vec<Vec<String>> = types
                .iter()
                .map(|ty| self.check_type(&path, ty, item))
                .collect();
            if attempts.iter().all(|errors| !errors.is_empty()) {
                errors.push(format!("{path}: {item} is none of {}", types.join(" or ")));
                errors.extend(attempts.into_iter().flatten());
            }
        }
        errors
    }

    fn check_type(&self, path: &str, ty: &str, value: &Value) -> Vec<String> {
        if let Some(inner) = ty.strip_prefix("Array of ") {
            let Some(items) = value.as_array() else {
                return vec![format!("{path}: expected an array, got {value}")];
            };
            return items
                .iter()
                .enumerate()
                .flat_map(|(i, item)| self.check_type(&format!("{path}[{i}]"), inner, item))
                .collect();
        }
        let ok = match ty {
            "Integer" => Some(value.is_i64() || value.is_u64()),
            "Float" => Some(value.is_number()),
            "String" => Some(value.is_string()),
            "Boolean" => Some(value.is_boolean()),
            "True" => Some(value == &json!(true)),
            _ => None,
        };
        if let Some(ok) = ok {
            return if ok {
                Vec::new()
            } else {
                vec![format!("{path}: expected {ty}, got {value}")]
            };
        }
        let definition = &self.spec["types"][ty];
        assert!(definition.is_object(), "the spec has no type {ty}");
        if let Some(subtypes) = definition["subtypes"].as_array() {
            let attempts: Vec<Vec<String>> = subtypes
                .iter()
                .map(|subtype| self.check_type(path, subtype.as_str().unwrap(), value))
                .collect();
            if attempts.iter().any(Vec::is_empty) {
                return Vec::new();
            }
            return vec![format!("{path}: {value} is no subtype of {ty}")];
        }
        let fields = definition["fields"].as_array().cloned().unwrap_or_default();
        self.check_fields(&format!("{path}<{ty}>"), &fields, value)
    }
}

#[test]
fn the_spec_checker_accepts_and_rejects() {
    let api = BotApi::load();
    let good = json!({
        "chat_id": -100123,
        "text": "hi",
        "message_thread_id": 5,
        "reply_markup": {"inline_keyboard": [[{"text": "Hint", "callback_data": "hint"}]]}
    });
    api.assert_valid("sendMessage", &good);
    api.assert_valid("sendMessage", &json!({"chat_id": "@channel", "text": "hi"}));
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut body = good.clone();
        change(&mut body);
        body
    };
    for (what, body) in [
        ("missing chat_id", json!({"text": "hi"})),
        (
            "unknown field",
            broken(&|body| body["parse_modes"] = json!("HTML")),
        ),
        ("text not a string", broken(&|body| body["text"] = json!(5))),
        (
            "chat_id a boolean",
            broken(&|body| body["chat_id"] = json!(true)),
        ),
        (
            "thread id a float",
            broken(&|body| body["message_thread_id"] = json!(1.5)),
        ),
        (
            "keyboard not nested",
            broken(&|body| {
                body["reply_markup"] =
                    json!({"inline_keyboard": [{"text": "Hint", "callback_data": "hint"}]})
            }),
        ),
        (
            "callback_data a number",
            broken(&|body| {
                body["reply_markup"] =
                    json!({"inline_keyboard": [[{"text": "Hint", "callback_data": 1}]]})
            }),
        ),
        (
            "button without text",
            broken(&|body| {
                body["reply_markup"] = json!({"inline_keyboard": [[{"callback_data": "hint"}]]})
            }),
        ),
    ] {
        assert!(
            !api.errors("sendMessage", &body).is_empty(),
            "{what} passed: {body}"
        );
    }
    // Subtypes: a ChatMember must be one of its six kinds.
    let user = json!({"id": 1, "is_bot": true, "first_name": "F"});
    let api_type = |value: &Value| api.check_type("m", "ChatMember", value);
    assert!(api_type(&json!({"status": "member", "user": user})).is_empty());
    assert!(!api_type(&json!({"status": "member"})).is_empty());
}

// --- The standard scenario ----------------------------------------------------------

struct TelegramPlatform;

fn settings(api_url: &str) -> TelegramSettings {
    TelegramSettings {
        api_url: api_url.to_string(),
        limits: SendLimits::default(),
        ..TelegramSettings::new(Secret::new(TOKEN), Secret::new(SECRET))
    }
}

fn adapter(api_url: &str) -> PlatformAdapter {
    PlatformAdapter::new(Telegram::new(settings(api_url)))
}

fn headers(secret: Option<&str>) -> Vec<(String, String)> {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(secret) = secret {
        headers.push((telegram::SECRET_HEADER.to_string(), secret.to_string()));
    }
    headers
}

fn private_text(update_id: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id % 1000,
            "date": 1_800_000_000,
            "from": {"id": 4242, "is_bot": false, "first_name": "Ada", "last_name": "Lovelace", "username": "ada"},
            "chat": {"id": 4242, "type": "private", "first_name": "Ada", "last_name": "Lovelace"},
            "text": text
        }
    })
}

fn group_chat() -> Value {
    json!({"id": -1001234567890_i64, "type": "supergroup", "title": "Quiz night", "is_forum": true})
}

async fn post(harness: &Harness, secret: Option<&str>, body: &[u8]) -> support::Answer {
    let headers = headers(secret);
    harness.post(PATH, &headers, body).await
}

fn ok() -> ScriptedResponse {
    ScriptedResponse::json(
        200,
        json!({"ok": true, "result": {"message_id": 1, "date": 1_800_000_000, "chat": {"id": 4242, "type": "private"}, "text": "sent"}}),
    )
}

fn error(status: u16, description: &str) -> ScriptedResponse {
    ScriptedResponse::json(
        status,
        json!({"ok": false, "error_code": status, "description": description}),
    )
}

fn sends(fake: &FakePlatform) -> Vec<RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|request| request.path.ends_with("/sendMessage"))
        .collect()
}

impl Platform for TelegramPlatform {
    fn adapter(&self, api_url: &str) -> PlatformAdapter {
        adapter(api_url)
    }

    fn signed_message(
        &self,
        text: &str,
        message_id: &str,
    ) -> (String, Vec<(String, String)>, Vec<u8>) {
        let digits: String = message_id.chars().filter(char::is_ascii_digit).collect();
        let update_id = 500_000 + digits.parse::<i64>().unwrap();
        let body = private_text(update_id, text).to_string().into_bytes();
        (PATH.to_string(), headers(Some(SECRET)), body)
    }

    fn is_send(&self, request: &RecordedRequest) -> bool {
        request.path.ends_with("/sendMessage")
    }

    fn sent_text(&self, request: &RecordedRequest) -> String {
        request.json()["text"].as_str().unwrap().to_string()
    }

    fn validate_send(&self, request: &RecordedRequest) {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, format!("/bot{TOKEN}/sendMessage"));
        assert_eq!(
            request.header("content-type"),
            Some("application/json"),
            "{request:?}"
        );
        BotApi::load().assert_valid("sendMessage", &request.json());
    }

    fn ok(&self) -> ScriptedResponse {
        ok()
    }

    fn rate_limited(&self, seconds: u64) -> ScriptedResponse {
        // Telegram puts the wait in the body only (no Retry-After header).
        ScriptedResponse::json(
            429,
            json!({
                "ok": false,
                "error_code": 429,
                "description": format!("Too Many Requests: retry after {seconds}"),
                "parameters": {"retry_after": seconds}
            }),
        )
    }
}

#[tokio::test]
async fn standard_end_to_end() {
    support::standard_end_to_end(&TelegramPlatform).await;
}

#[tokio::test]
async fn standard_bad_input() {
    support::standard_bad_input(&TelegramPlatform, |_body| {
        (PATH.to_string(), headers(Some(SECRET)))
    })
    .await;
}

// --- Parsing the real payloads ------------------------------------------------------

fn parse_fixture(name: &str) -> Vec<server::InboundMessage> {
    telegram::parse_update(&support::fixture("telegram", name))
        .unwrap_or_else(|error| panic!("{name}: {error}"))
}

#[test]
fn every_update_fixture_parses() {
    let messages = parse_fixture("update-private-text.json");
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.platform, "telegram");
    assert_eq!(message.chat_id, "12345678");
    assert_eq!(message.sender_id, "12345678");
    assert_eq!(message.sender_name, "FirstName LastName");
    assert_eq!(message.text, "Hi, world!");
    assert_eq!(message.message_id, "128526", "the update_id");
    assert!(!message.is_group);
    assert_eq!(
        message.reply_context,
        Value::Null,
        "nothing needed in private"
    );
    assert_eq!(message.received_at, Timestamp(0));

    for (name, text) in [
        ("update-reply-to-message.json", "Reply to quoted message"),
        ("update-forwarded-message.json", "message text"),
    ] {
        let messages = parse_fixture(name);
        assert_eq!(messages.len(), 1, "{name}");
        let message = &messages[0];
        assert_eq!(message.text, text, "{name}");
        assert_eq!(
            (message.chat_id.as_str(), message.sender_id.as_str()),
            ("12345678", "12345678")
        );
        assert_eq!(message.sender_name, "Name", "first name without last name");
        assert_eq!(message.message_id, "123456789");
        assert!(!message.is_group);
    }

    assert_eq!(
        parse_fixture("update-photo-with-caption.json"),
        Vec::new(),
        "a caption is not a guess"
    );

    // Several kinds at once (synthetic): the message is the turn; the edited channel
    // post, inline query and inline-mode button press are not.
    let messages = parse_fixture("update-multi-field-sample.json");
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.text, "Bold and italics");
    assert_eq!(message.chat_id, "1111111");
    assert_eq!(message.sender_name, "Test Firstname Test Lastname");
    assert_eq!(message.message_id, "10000");
    assert!(!message.is_group);

    // The error envelope is not an Update.
    assert!(
        telegram::parse_update(&support::fixture(
            "telegram",
            "error-response-retry-after.json"
        ))
        .is_err()
    );
}

#[tokio::test]
async fn fixtures_through_the_router_store_one_turn_per_update_id() {
    let fake = FakePlatform::start(ok()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    for name in [
        "update-private-text.json",
        "update-reply-to-message.json",
        // Same update_id as the reply (placeholder ids upstream): a duplicate.
        "update-forwarded-message.json",
        "update-photo-with-caption.json",
        "update-multi-field-sample.json",
    ] {
        let answer = post(&harness, Some(SECRET), &support::fixture("telegram", name)).await;
        assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.text());
    }
    assert_eq!(harness.inbox_pending().await, 3);
    assert_eq!(harness.run_turns().await, 3);
}

// --- The secret token ---------------------------------------------------------------

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_wrong_or_missing_secret_is_401_and_logged_without_secrets() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakePlatform::start(ok()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let body = private_text(1, "paris").to_string().into_bytes();
    let wrong = "webhook_secret-43";
    for secret in [
        Some(wrong),
        Some("webhook_secret-4"),
        Some("webhook_secret-422"),
        Some(""),
        None,
    ] {
        let answer = post(&harness, secret, &body).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{secret:?}");
    }
    // Telegram signs no body (no tampered-body case): any body needs the secret.
    let tampered = private_text(1, "london").to_string().into_bytes();
    assert_eq!(
        post(&harness, Some(wrong), &tampered).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(harness.inbox_pending().await, 0, "nothing stored");

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("webhook rejected"), "{text}");
    assert!(text.contains("X-Telegram-Bot-Api-Secret-Token"), "{text}");
    assert!(!text.contains(SECRET) && !text.contains(wrong), "{text}");
    assert!(!text.contains("webhook_secret"), "{text}");

    // The right secret (header names are case-insensitive) is accepted.
    let answer = harness
        .post(
            PATH,
            &[
                ("content-type", "application/json"),
                ("x-telegram-bot-api-secret-token", SECRET),
            ],
            &body,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"ok": true}));
    assert_eq!(harness.inbox_pending().await, 1);
}

#[tokio::test]
async fn there_is_no_get_handshake() {
    let fake = FakePlatform::start(ok()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    assert_eq!(
        harness.get("/webhooks/telegram?x=1").await.status,
        StatusCode::UNAUTHORIZED
    );
}

// --- Groups, buttons and the greeting -----------------------------------------------

#[tokio::test]
async fn a_button_press_is_its_command_and_is_answered_in_the_webhook() {
    let api = BotApi::load();
    let fake = FakePlatform::start(ok()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let press = json!({
        "update_id": 700,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": {"id": 42, "is_bot": false, "first_name": "Ada"},
            "chat_instance": "-8877",
            "data": "hint",
            "message": {
                "message_id": 12, "date": 1_800_000_000, "chat": group_chat(),
                "message_thread_id": 5, "is_topic_message": true,
                "from": {"id": 999, "is_bot": true, "first_name": "Fraser"},
                "text": "#1: paris"
            }
        }
    });
    let parsed = telegram::parse_update(press.to_string().as_bytes()).unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].text, "hint");
    assert_eq!(parsed[0].sender_id, "42");
    assert_eq!(parsed[0].chat_id, "-1001234567890");
    assert!(parsed[0].is_group);
    assert_eq!(parsed[0].reply_context, json!({"thread_id": 5}));

    let answer = post(&harness, Some(SECRET), press.to_string().as_bytes()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers.get("content-type").unwrap(),
        "application/json"
    );
    let mut call = answer.json();
    assert_eq!(
        call,
        json!({"method": "answerCallbackQuery", "callback_query_id": "4382bfdwdsb323b2d9"})
    );
    assert_eq!(call["method"], "answerCallbackQuery");
    call.as_object_mut().unwrap().remove("method");
    api.assert_valid("answerCallbackQuery", &call);

    harness.drain().await;
    let sent = sends(&fake);
    assert_eq!(sent.len(), 1);
    let body = sent[0].json();
    api.assert_valid("sendMessage", &body);
    assert_eq!(
        body,
        json!({
            "chat_id": -1001234567890_i64,
            "text": "#1: hint",
            "message_thread_id": 5,
            "reply_markup": {"inline_keyboard": [[
                {"text": "Hint", "callback_data": "hint"},
                {"text": "Skip", "callback_data": "skip"}
            ]]}
        })
    );
}

#[tokio::test]
async fn group_guesses_are_answered_in_their_topic_as_replies() {
    let fake = FakePlatform::start(ok()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let update = json!({
        "update_id": 701,
        "message": {
            "message_id": 77, "date": 1_800_000_000, "chat": group_chat(),
            "message_thread_id": 5, "is_topic_message": true,
            "from": {"id": 42, "is_bot": false, "first_name": "Ada"},
            "text": "/start@FraserBot"
        }
    });
    assert_eq!(
        post(&harness, Some(SECRET), update.to_string().as_bytes())
            .await
            .status,
        StatusCode::OK
    );
    harness.drain().await;
    let sent = sends(&fake);
    assert_eq!(sent.len(), 1);
    let body = sent[0].json();
    BotApi::load().assert_valid("sendMessage", &body);
    assert_eq!(body["text"], "#1: /start");
    assert_eq!(body["message_thread_id"], 5);
    assert_eq!(
        body["reply_parameters"],
        json!({"message_id": 77, "allow_sending_without_reply": true})
    );
}

#[tokio::test]
async fn the_bot_greets_a_group_that_adds_it() {
    let fake = FakePlatform::start(ok()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let bot = json!({"id": 999, "is_bot": true, "first_name": "Fraser", "username": "FraserBot"});
    let member_update = |update_id: i64, old: &str, new: &str| {
        json!({
            "update_id": update_id,
            "my_chat_member": {
                "chat": {"id": -4000, "type": "group", "title": "Family"},
                "from": {"id": 42, "is_bot": false, "first_name": "Ada"},
                "date": 1_800_000_000,
                "old_chat_member": {"status": old, "user": bot},
                "new_chat_member": {"status": new, "user": bot}
            }
        })
    };
    // Added, then promoted (no second greeting), then removed.
    for (id, old, new) in [
        (800, "left", "member"),
        (801, "member", "administrator"),
        (802, "administrator", "left"),
    ] {
        let answer = post(
            &harness,
            Some(SECRET),
            member_update(id, old, new).to_string().as_bytes(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    assert_eq!(harness.run_turns().await, 1);
    harness.run_sends().await;
    let sent = sends(&fake);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].json(),
        json!({
            "chat_id": -4000,
            "text": "#1: /start",
            "reply_markup": {"inline_keyboard": [[
                {"text": "Hint", "callback_data": "hint"},
                {"text": "Skip", "callback_data": "skip"}
            ]]}
        })
    );
}

// --- Sending ------------------------------------------------------------------------

fn direct_chat() -> ChatAddress {
    ChatAddress {
        platform: "telegram".into(),
        chat_id: "4242".into(),
        is_group: false,
        reply_context: Value::Null,
    }
}

#[tokio::test]
async fn text_is_sent_plain_and_buttons_as_an_inline_keyboard() {
    let fake = FakePlatform::start(ok()).await;
    let adapter = adapter(&fake.url());
    let reply = Reply {
        text: "<b>Paris</b> & *Lyon* _x_ [a](b)".into(),
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
        adapter.messenger.send(&direct_chat(), &reply).await,
        SendOutcome::Sent
    );
    let sent = sends(&fake);
    let body = sent[0].json();
    BotApi::load().assert_valid("sendMessage", &body);
    assert_eq!(body["text"], "<b>Paris</b> & *Lyon* _x_ [a](b)", "verbatim");
    assert!(
        body.get("parse_mode").is_none(),
        "plain text: nothing to escape"
    );
    assert_eq!(
        body["reply_markup"]["inline_keyboard"],
        json!([[{"text": "Hint", "callback_data": "hint"}, {"text": "Skip", "callback_data": "skip"}]])
    );
}

#[tokio::test]
async fn a_reply_at_the_limit_is_one_message() {
    let fake = FakePlatform::start(ok()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    assert_eq!(
        harness
            .state
            .messengers
            .messenger("telegram")
            .unwrap()
            .max_len(),
        4096
    );
    // The counter game answers "#1: " + text: 4 + 4092 = 4096 characters.
    let text = "é".repeat(4092);
    let body = private_text(900, &text).to_string().into_bytes();
    assert_eq!(
        post(&harness, Some(SECRET), &body).await.status,
        StatusCode::OK
    );
    harness.drain().await;
    let sent = sends(&fake);
    assert_eq!(sent.len(), 1, "one message at the limit");
    assert_eq!(
        support::Platform::sent_text(&TelegramPlatform, &sent[0])
            .chars()
            .count(),
        4096
    );
    // One character more is split into two.
    let body = private_text(901, &"é".repeat(4093))
        .to_string()
        .into_bytes();
    assert_eq!(
        post(&harness, Some(SECRET), &body).await.status,
        StatusCode::OK
    );
    harness.drain().await;
    assert_eq!(sends(&fake).len(), 3);
}

#[tokio::test]
async fn the_default_limits_hold_back_without_calling_the_api() {
    let fake = FakePlatform::start(ok()).await;
    let adapter = PlatformAdapter::new(Telegram::new(TelegramSettings {
        limits: telegram::DEFAULT_LIMITS,
        ..settings(&fake.url())
    }));
    let chat = direct_chat();
    let reply = Reply::text("hi");
    assert_eq!(
        adapter.messenger.send(&chat, &reply).await,
        SendOutcome::Sent
    );
    match adapter.messenger.send(&chat, &reply).await {
        SendOutcome::RetryAfter(wait) => {
            assert!(
                wait > Duration::ZERO && wait <= Duration::from_secs(1),
                "{wait:?}"
            );
        }
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    assert_eq!(fake.requests().len(), 1, "the second send made no API call");
    // Groups: 20 a minute.
    let group = ChatAddress {
        chat_id: "-4000".into(),
        is_group: true,
        ..chat
    };
    assert_eq!(
        adapter.messenger.send(&group, &reply).await,
        SendOutcome::Sent
    );
    assert_eq!(
        telegram::DEFAULT_LIMITS,
        SendLimits {
            per_chat: Some(1),
            per_group_minute: Some(20),
            global: Some(30)
        }
    );
}

#[tokio::test]
async fn api_errors_map_to_outcomes() {
    let fake = FakePlatform::start(ok()).await;
    let adapter = adapter(&fake.url());
    let (chat, reply) = (direct_chat(), Reply::text("x"));
    let send = || adapter.messenger.send(&chat, &reply);
    let fixture: Value = support::fixture_json("telegram", "error-response-retry-after.json");

    // The fixture's envelope as a 429: the body's retry_after (12 s) is obeyed.
    fake.push(ScriptedResponse::json(429, fixture.clone()));
    assert_eq!(
        send().await,
        SendOutcome::RetryAfter(Duration::from_secs(12))
    );
    // ... and with a 400 its migrate_to_chat_id is a permanent failure that says so.
    fake.push(ScriptedResponse::json(400, fixture));
    match send().await {
        SendOutcome::Failed {
            permanent: true,
            reason,
        } => assert!(reason.contains("supergroup with chat id 12345"), "{reason}"),
        other => panic!("{other:?}"),
    }
    for (response, permanent) in [
        (error(403, "Forbidden: bot was blocked by the user"), true),
        (
            error(403, "Forbidden: bot was kicked from the group chat"),
            true,
        ),
        (error(400, "Bad Request: chat not found"), true),
        (error(500, "Internal Server Error"), false),
        (error(502, "Bad Gateway"), false),
    ] {
        let description = response.body.clone();
        fake.push(response);
        match send().await {
            SendOutcome::Failed {
                permanent: p,
                reason,
            } => {
                assert_eq!(p, permanent, "{description}");
                assert!(!reason.contains(TOKEN), "{reason}");
            }
            other => panic!("{description}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn transport_errors_are_retryable_and_hide_the_token() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let adapter = adapter(&url);
    match adapter
        .messenger
        .send(&direct_chat(), &Reply::text("x"))
        .await
    {
        SendOutcome::Failed {
            permanent: false,
            reason,
        } => assert!(
            !reason.contains(TOKEN) && !reason.contains("AAE"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
}

// --- setWebhook ---------------------------------------------------------------------

#[tokio::test]
async fn register_webhook_calls_set_webhook() {
    let fake = FakePlatform::start(ScriptedResponse::json(
        200,
        json!({"ok": true, "result": true, "description": "Webhook was set"}),
    ))
    .await;
    let adapter = adapter(&fake.url());
    let url = "https://bot.example.org/webhooks/telegram";
    assert_eq!(
        adapter.inbound.register_webhook(url).await,
        Ok("Webhook was set".to_string())
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, format!("/bot{TOKEN}/setWebhook"));
    let body = requests[0].json();
    BotApi::load().assert_valid("setWebhook", &body);
    assert_eq!(
        body,
        json!({
            "url": url,
            "secret_token": SECRET,
            "allowed_updates": ["message", "callback_query", "my_chat_member"]
        })
    );

    fake.push(error(401, "Unauthorized"));
    let error = adapter.inbound.register_webhook(url).await.unwrap_err();
    assert!(error.0.contains("Unauthorized"), "{error}");
    assert!(
        !error.0.contains(TOKEN) && !error.0.contains(SECRET),
        "{error}"
    );
}
