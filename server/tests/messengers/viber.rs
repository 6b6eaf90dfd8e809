//! The viber adapter.
//!
//! Viber publishes no machine-readable spec: the send checks assert the fields the
//! REST Bot API documentation marks required for `send_message` and keyboards, and the
//! callbacks other than the fixture follow the documentation's examples.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use server::messenger::PlatformAdapter;
use server::messenger::common::{Secret, SendLimits, encode_hex, hmac_sha256};
use server::messenger::viber::{MAX_LEN, TOO_MANY_REQUESTS_WAIT, Viber, ViberSettings};
use server::testing::{FakePlatform, RecordedRequest, ScriptedResponse};
use server::{Button, ChatAddress, Inbound, Messenger, Reply, SendOutcome};

use crate::support::{Harness, Platform, fixture};

const TOKEN: &str = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9";
const PATH: &str = "/webhooks/viber";
const USER: &str = "01234567890A=";

/// Request headers: (name, value).
type Headers = Vec<(String, String)>;

fn settings(api_url: &str) -> ViberSettings {
    ViberSettings {
        token: Secret::new(TOKEN),
        bot_name: "Fraser".into(),
        api_url: api_url.into(),
        welcome: "Hello! Tap Start or send /start to play.".into(),
        limits: SendLimits::default(),
    }
}

fn adapter(api_url: &str) -> PlatformAdapter {
    PlatformAdapter::new(Viber::new(settings(api_url)))
}

/// `X-Viber-Content-Signature`: hex HMAC-SHA256 of the body under the auth token.
fn signed_with(token: &str, body: &[u8]) -> Headers {
    vec![
        ("content-type".into(), "application/json".into()),
        (
            "x-viber-content-signature".into(),
            encode_hex(&hmac_sha256(token.as_bytes(), &[body])),
        ),
    ]
}

async fn post(
    harness: &Harness,
    headers: &[(String, String)],
    body: &[u8],
) -> (StatusCode, Vec<u8>) {
    let answer = harness.post(PATH, headers, body).await;
    (answer.status, answer.body)
}

fn text_callback(text: &str, token: u64) -> Vec<u8> {
    json!({
        "event": "message",
        "timestamp": 1457764197627_u64,
        "chat_hostname": "SN-376_",
        "message_token": token,
        "sender": {"id": USER, "name": "John McClane", "avatar": "http://avatar.example.com", "country": "UK", "language": "en", "api_version": 1},
        "message": {"type": "text", "text": text, "tracking_data": "tracking data"},
        "silent": false
    })
    .to_string()
    .into_bytes()
}

/// The fields of a Viber message the documentation requires, plus the ones this
/// adapter always sends: sender name (at most 28 characters), `type: text`, a text of
/// at most 7,000 characters, `min_api_version` 1, and a keyboard of reply buttons.
fn check_message(message: &Value) {
    let name = message["sender"]["name"].as_str().expect("sender.name");
    assert!(!name.is_empty() && name.chars().count() <= 28);
    assert_eq!(message["type"], "text");
    let text = message["text"].as_str().expect("text");
    assert!(!text.is_empty() && text.chars().count() <= MAX_LEN);
    assert_eq!(message["min_api_version"], 1);
    if let Some(keyboard) = message.get("keyboard") {
        assert_eq!(keyboard["Type"], "keyboard");
        let buttons = keyboard["Buttons"].as_array().expect("Buttons");
        assert!(!buttons.is_empty());
        for button in buttons {
            assert_eq!(button["ActionType"], "reply");
            assert!(
                !button["ActionBody"]
                    .as_str()
                    .expect("ActionBody")
                    .is_empty()
            );
            assert!(button["Text"].is_string());
            let columns = button["Columns"].as_u64().unwrap_or(6);
            assert!((1..=6).contains(&columns));
        }
    }
}

/// A `send_message` call: the auth token header and a receiver, then the message.
fn check_send_message(request: &RecordedRequest) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/send_message");
    assert_eq!(request.header("x-viber-auth-token"), Some(TOKEN));
    assert!(
        request
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = request.json();
    assert!(!body["receiver"].as_str().expect("receiver").is_empty());
    check_message(&body);
}

fn ok_answer() -> ScriptedResponse {
    ScriptedResponse::json(
        200,
        json!({"status": 0, "status_message": "ok", "message_token": 5741311803571721087_u64, "chat_hostname": "SN-CHAT-05_", "billing_status": 1}),
    )
}

struct ViberPlatform;

impl Platform for ViberPlatform {
    fn adapter(&self, api_url: &str) -> PlatformAdapter {
        adapter(api_url)
    }

    fn signed_message(&self, text: &str, message_id: &str) -> (String, Headers, Vec<u8>) {
        let number: u64 = message_id
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap();
        let body = text_callback(text, 4_912_661_846_655_238_000 + number);
        (PATH.into(), signed_with(TOKEN, &body), body)
    }

    fn is_send(&self, request: &RecordedRequest) -> bool {
        request.path == "/send_message"
    }

    fn sent_text(&self, request: &RecordedRequest) -> String {
        request.json()["text"].as_str().unwrap().to_string()
    }

    fn validate_send(&self, request: &RecordedRequest) {
        check_send_message(request);
    }

    fn ok(&self) -> ScriptedResponse {
        ok_answer()
    }

    /// Viber documents no HTTP 429 (its own rate limit is status 12, tested below);
    /// a 429 with `Retry-After` from a proxy in front of it is honoured all the same.
    fn rate_limited(&self, seconds: u64) -> ScriptedResponse {
        ScriptedResponse::json(
            429,
            json!({"status": 12, "status_message": "tooManyRequests"}),
        )
        .with_header("retry-after", &seconds.to_string())
    }
}

#[tokio::test]
async fn viber_standard_end_to_end() {
    crate::support::standard_end_to_end(&ViberPlatform).await;
}

#[tokio::test]
async fn viber_standard_bad_input() {
    crate::support::standard_bad_input(&ViberPlatform, |body| {
        (PATH.into(), signed_with(TOKEN, body))
    })
    .await;
}

#[tokio::test]
async fn viber_fixture_message_is_parsed_and_stored_once() {
    let body = fixture("viber", "callback-message-text-unicode.json");
    let fake = FakePlatform::start(ok_answer()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let messages = harness
        .state
        .messengers
        .inbound("viber")
        .unwrap()
        .parse(&Default::default(), &body)
        .unwrap();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    let fixture: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(message.chat_id, USER);
    assert_eq!(message.sender_id, USER);
    assert_eq!(
        message.sender_name,
        fixture["sender"]["name"].as_str().unwrap()
    );
    assert!(message.sender_name.starts_with("ふで都急"));
    assert_eq!(message.text, fixture["message"]["text"].as_str().unwrap());
    assert!(message.text.starts_with("批封廟根縄華勢田郎報株聞。"));
    assert_eq!(message.message_id, "4912661846655238145");
    assert!(!message.is_group);

    // Viber retries a callback until it gets 200: one turn.
    for _ in 0..2 {
        let (status, _) = post(&harness, &signed_with(TOKEN, &body), &body).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(harness.inbox_pending().await, 1);
    harness.drain().await;
    let sends = fake.requests();
    assert_eq!(sends.len(), 1);
    check_send_message(&sends[0]);
    assert_eq!(sends[0].json()["receiver"], USER);
    assert!(
        sends[0].json()["text"]
            .as_str()
            .unwrap()
            .starts_with("#1: 批封廟根縄華勢田郎報株聞。")
    );
}

#[tokio::test]
async fn viber_bad_signatures_are_401_and_store_nothing() {
    let body = fixture("viber", "callback-message-text-unicode.json");
    let harness = Harness::new(adapter("http://127.0.0.1:9")).await;
    let mut tampered = body.clone();
    tampered.extend_from_slice(b"\n");
    let good = signed_with(TOKEN, &body);
    let missing: Headers = good[..1].to_vec();
    let mut not_hex = missing.clone();
    not_hex.push(("x-viber-content-signature".into(), "sha256=abc".into()));
    let cases: Vec<(&str, Headers, &[u8])> = vec![
        ("wrong token", signed_with("another-token", &body), &body),
        ("tampered body", good.clone(), &tampered),
        ("missing header", missing, &body),
        ("not hex", not_hex, &body),
    ];
    for (case, headers, body) in cases {
        let (status, _) = post(&harness, &headers, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}");
    }
    assert_eq!(harness.inbox_pending().await, 0);
    let (status, _) = post(&harness, &good, &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(harness.inbox_pending().await, 1);
}

#[tokio::test]
async fn viber_callbacks_without_text_give_no_turn() {
    let harness = Harness::new(adapter("http://127.0.0.1:9")).await;
    let user = json!({"id": USER, "name": "John McClane", "avatar": "http://avatar.example.com", "country": "UK", "language": "en", "api_version": 1});
    let callbacks = [
        json!({"event": "webhook", "timestamp": 1457764197627_u64, "chat_hostname": "SN-172_", "message_token": 241256543215_u64}),
        json!({"event": "subscribed", "timestamp": 1457764197627_u64, "chat_hostname": "SN-376_", "user": user, "message_token": 4912661846655238145_u64}),
        json!({"event": "unsubscribed", "timestamp": 1457764197627_u64, "chat_hostname": "SN-376_", "user_id": USER, "message_token": 4912661846655238145_u64}),
        json!({"event": "delivered", "timestamp": 1457764197627_u64, "chat_hostname": "SN-376_", "message_token": 4912661846655238145_u64, "user_id": USER}),
        json!({"event": "seen", "timestamp": 1457764197627_u64, "chat_hostname": "SN-376_", "message_token": 4912661846655238145_u64, "user_id": USER}),
        json!({"event": "failed", "timestamp": 1457764197627_u64, "chat_hostname": "SN-376_", "message_token": 4912661846655238145_u64, "user_id": USER, "desc": "failure description"}),
        json!({"event": "message", "timestamp": 1457764197627_u64, "message_token": 4912661846655238146_u64, "sender": user, "message": {"type": "picture", "text": "a caption", "media": "http://www.images.com/img.jpg", "thumbnail": "http://www.images.com/thumb.jpg"}}),
        json!({"event": "message", "timestamp": 1457764197627_u64, "message_token": 4912661846655238147_u64, "sender": user, "message": {"type": "sticker", "sticker_id": 46105}}),
    ];
    for callback in callbacks {
        let body = callback.to_string().into_bytes();
        let (status, answer) = post(&harness, &signed_with(TOKEN, &body), &body).await;
        assert_eq!(status, StatusCode::OK, "{callback}");
        assert_eq!(
            serde_json::from_slice::<Value>(&answer).unwrap(),
            json!({"ok": true})
        );
    }
    assert_eq!(harness.inbox_pending().await, 0);
}

#[tokio::test]
async fn viber_conversation_started_is_answered_with_a_welcome() {
    let harness = Harness::new(adapter("http://127.0.0.1:9")).await;
    let body = json!({
        "event": "conversation_started", "timestamp": 1457764197627_u64, "chat_hostname": "SN-376_",
        "message_token": 4912661846655238145_u64, "type": "open", "context": "context information",
        "user": {"id": USER, "name": "John McClane", "avatar": "http://avatar.example.com", "country": "UK", "language": "en", "api_version": 1},
        "subscribed": false
    })
    .to_string()
    .into_bytes();
    let (status, answer) = post(&harness, &signed_with(TOKEN, &body), &body).await;
    assert_eq!(status, StatusCode::OK);
    let welcome: Value = serde_json::from_slice(&answer).unwrap();
    check_message(&welcome);
    assert!(
        welcome.get("receiver").is_none(),
        "the welcome goes to the caller"
    );
    assert_eq!(welcome["text"], "Hello! Tap Start or send /start to play.");
    assert_eq!(welcome["keyboard"]["Buttons"][0]["ActionBody"], "/start");
    assert_eq!(
        harness.inbox_pending().await,
        0,
        "no turn: the user is not subscribed yet"
    );
    // Unsigned, nothing is answered.
    let (status, _) = post(&harness, &signed_with("x", &body), &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn viber_buttons_become_a_keyboard_and_presses_come_back_as_commands() {
    let fake = FakePlatform::start(ok_answer()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let body = text_callback("Paris", 4_912_661_846_655_238_001);
    let (status, _) = post(&harness, &signed_with(TOKEN, &body), &body).await;
    assert_eq!(status, StatusCode::OK);
    harness.drain().await;
    let request = fake.requests().pop().unwrap();
    check_send_message(&request);
    let sent = request.json();
    assert_eq!(sent["text"], "#1: Paris");
    let buttons = sent["keyboard"]["Buttons"].as_array().unwrap().clone();
    assert_eq!(
        buttons
            .iter()
            .map(|button| (
                button["Text"].as_str().unwrap(),
                button["ActionBody"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("Hint", "hint"), ("Skip", "skip")]
    );
    // Pressing Hint sends its ActionBody as the user's text message.
    let press = text_callback(
        buttons[0]["ActionBody"].as_str().unwrap(),
        4_912_661_846_655_238_002,
    );
    let (status, _) = post(&harness, &signed_with(TOKEN, &press), &press).await;
    assert_eq!(status, StatusCode::OK);
    harness.drain().await;
    let answer = fake.requests().pop().unwrap();
    check_send_message(&answer);
    assert_eq!(answer.json()["text"], "#2: hint");
}

fn chat() -> ChatAddress {
    ChatAddress {
        platform: "viber".into(),
        chat_id: USER.into(),
        is_group: false,
        reply_context: Value::Null,
    }
}

#[tokio::test]
async fn viber_send_statuses_map_to_outcomes() {
    let fake = FakePlatform::start(ok_answer()).await;
    let viber = Viber::new(settings(&fake.url()));
    let status = |status: i64, message: &str| {
        ScriptedResponse::json(
            200,
            json!({"status": status, "status_message": message, "chat_hostname": "SN-CHAT-05_"}),
        )
    };
    fake.push(status(6, "receiverNotSubscribed"));
    fake.push(status(5, "receiverNotRegistered"));
    fake.push(status(12, "tooManyRequests"));
    fake.push(status(99, "generalError"));
    fake.push(ScriptedResponse::json(503, json!({})));
    let reply = Reply::text("hi");
    let chat = chat();
    let send = || viber.send(&chat, &reply);
    assert_eq!(
        send().await,
        SendOutcome::Failed {
            permanent: true,
            reason: "viber status 6: receiverNotSubscribed".into()
        }
    );
    assert!(matches!(
        send().await,
        SendOutcome::Failed {
            permanent: true,
            ..
        }
    ));
    assert_eq!(
        send().await,
        SendOutcome::RetryAfter(TOO_MANY_REQUESTS_WAIT)
    );
    assert!(matches!(
        send().await,
        SendOutcome::Failed {
            permanent: false,
            ..
        }
    ));
    assert!(matches!(
        send().await,
        SendOutcome::Failed {
            permanent: false,
            ..
        }
    ));
    assert_eq!(send().await, SendOutcome::Sent);
    for request in fake.requests() {
        check_send_message(&request);
    }
    let gone = Viber::new(settings("http://127.0.0.1:9"));
    match gone.send(&chat, &reply).await {
        SendOutcome::Failed {
            permanent: false,
            reason,
        } => assert!(!reason.contains(TOKEN), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn viber_reply_at_the_limit_is_one_message() {
    let fake = FakePlatform::start(ok_answer()).await;
    let viber = Viber::new(settings(&fake.url()));
    assert_eq!(viber.max_len(), 7000);
    let text = "ж".repeat(MAX_LEN);
    let reply = Reply {
        text: text.clone(),
        buttons: vec![Button {
            label: "Hint".into(),
            command: "hint".into(),
        }],
    };
    assert_eq!(viber.send(&chat(), &reply).await, SendOutcome::Sent);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    check_send_message(&requests[0]);
    assert_eq!(requests[0].json()["text"], text.as_str());
}

#[tokio::test]
async fn viber_register_webhook_calls_set_webhook() {
    let fake = FakePlatform::start(ScriptedResponse::json(
        200,
        json!({"status": 0, "status_message": "ok", "chat_hostname": "SN-172_", "event_types": ["conversation_started", "message", "subscribed", "unsubscribed"]}),
    ))
    .await;
    let viber = Viber::new(settings(&fake.url()));
    let url = "https://bot.example.org/webhooks/viber";
    let done = viber.register_webhook(url).await.unwrap();
    assert!(done.contains(url), "{done}");
    let request = fake.requests().pop().unwrap();
    assert_eq!(request.path, "/set_webhook");
    assert_eq!(request.header("x-viber-auth-token"), Some(TOKEN));
    let body = request.json();
    assert_eq!(body["url"], url);
    assert_eq!(body["event_types"], json!(["conversation_started"]));
    assert_eq!(body["send_name"], true);

    fake.set_default(ScriptedResponse::json(
        200,
        json!({"status": 1, "status_message": "invalidUrl"}),
    ));
    let error = viber.register_webhook("https://bad").await.unwrap_err();
    assert!(
        error.0.contains("status 1") && error.0.contains("invalidUrl"),
        "{error}"
    );
    assert!(!error.0.contains(TOKEN));
    fake.set_default(ScriptedResponse::json(500, json!({})));
    assert!(
        viber
            .register_webhook(url)
            .await
            .unwrap_err()
            .0
            .contains("HTTP 500")
    );
    tokio::time::timeout(Duration::from_secs(20), async {
        let gone = Viber::new(settings("http://127.0.0.1:9"));
        assert!(gone.register_webhook(url).await.is_err());
    })
    .await
    .unwrap();
}
