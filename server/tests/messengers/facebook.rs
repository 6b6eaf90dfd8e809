//! The Facebook Messenger adapter against real webhook bodies (botbuilder-dotnet), the
//! official Postman collection of the Send API (there is no JSON Schema: send bodies
//! are compared key by key with the collection's examples) and a fake Graph API.

use axum::http::StatusCode;
use serde_json::{Value, json};
use server::messenger::PlatformAdapter;
use server::messenger::common::{Secret, SendLimits};
use server::messenger::facebook::{self, Facebook, FacebookSettings};
use server::testing::{FakePlatform, RecordedRequest, ScriptedResponse};
use server::{Button, ChatAddress, Reply};

use super::support::{self, Harness, Platform};
use super::whatsapp::meta_signature;

const APP_SECRET: &str = "test-app-secret";
const VERIFY_TOKEN: &str = "verify-token";
const PAGE_TOKEN: &str = "EAAB-page-token";

fn settings(api_url: &str) -> FacebookSettings {
    FacebookSettings {
        page_token: Secret::new(PAGE_TOKEN),
        app_secret: Secret::new(APP_SECRET),
        verify_token: Secret::new(VERIFY_TOKEN),
        api_url: api_url.into(),
        limits: SendLimits::default(),
    }
}

fn signed_headers(body: &[u8]) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/json".into()),
        (
            "x-hub-signature-256".into(),
            meta_signature(APP_SECRET, body),
        ),
    ]
}

fn text_event(text: &str, mid: &str) -> Value {
    json!({ "object": "page", "entry": [{ "id": "PAGE1", "time": 1458692752478_i64, "messaging": [{
        "sender": { "id": "PSID1" }, "recipient": { "id": "PAGE1" }, "timestamp": 1458692752478_i64,
        "message": { "mid": mid, "text": text }
    }]}]})
}

/// The request named `name` in the "Send API" folder of the official collection.
fn collection_request(name: &str) -> Value {
    let collection = support::fixture_json(
        "messenger",
        "messenger-platform-api.postman_collection.json",
    );
    let folder = collection["item"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["name"] == "Send API")
        .expect("a Send API folder")
        .clone();
    folder["item"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["name"] == name)
        .unwrap_or_else(|| panic!("no request {name:?} in the collection"))["request"]
        .clone()
}

/// The example body of the collection's request `name`.
fn example_body(name: &str) -> Value {
    let raw = collection_request(name)["body"]["raw"]
        .as_str()
        .unwrap()
        .to_string();
    serde_json::from_str(&raw).unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// Compares `ours` with `example` key by key: every key we send is in the example
/// (except `extra`, documented elsewhere), every key of the example is sent (except
/// `optional`), arrays match the example's first element, scalars have its type.
fn assert_same_shape(ours: &Value, example: &Value, path: &str, extra: &[&str], optional: &[&str]) {
    match (ours, example) {
        (Value::Object(ours), Value::Object(example)) => {
            for (key, value) in ours {
                let here = format!("{path}/{key}");
                match example.get(key) {
                    Some(expected) => assert_same_shape(value, expected, &here, extra, optional),
                    None => assert!(
                        extra.contains(&here.as_str()),
                        "{here} is not in the example"
                    ),
                }
            }
            for key in example.keys() {
                let here = format!("{path}/{key}");
                assert!(
                    ours.contains_key(key) || optional.contains(&here.as_str()),
                    "{here} of the example is missing"
                );
            }
        }
        (Value::Array(ours), Value::Array(example)) => {
            assert!(!ours.is_empty(), "{path} is empty");
            for value in ours {
                assert_same_shape(value, &example[0], &format!("{path}/0"), extra, optional);
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        _ => panic!("{path}: {ours} is not shaped like {example}"),
    }
}

/// Checks a send body against the collection example of the same kind.
fn check_against_collection(body: &Value) {
    // `messaging_type: RESPONSE` is required by the Send API reference (the collection
    // examples omit it; its "Text Message" description asks for RESPONSE).
    assert_eq!(body["messaging_type"], "RESPONSE");
    let (name, optional) = if body["message"].get("quick_replies").is_some() {
        ("Quick Replies", &["/message/quick_replies/0/image_url"][..])
    } else {
        ("Text Message", &[][..])
    };
    assert_same_shape(
        body,
        &example_body(name),
        "",
        &["/messaging_type"],
        optional,
    );
}

struct MessengerPlatform;

impl Platform for MessengerPlatform {
    fn adapter(&self, api_url: &str) -> PlatformAdapter {
        PlatformAdapter::new(Facebook::new(settings(api_url)))
    }

    fn signed_message(
        &self,
        text: &str,
        message_id: &str,
    ) -> (String, Vec<(String, String)>, Vec<u8>) {
        let body = text_event(text, message_id).to_string().into_bytes();
        ("/webhooks/messenger".into(), signed_headers(&body), body)
    }

    fn is_send(&self, request: &RecordedRequest) -> bool {
        request.method == "POST" && request.path.ends_with("/messages")
    }

    fn sent_text(&self, request: &RecordedRequest) -> String {
        request.json()["message"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn validate_send(&self, request: &RecordedRequest) {
        assert_eq!(request.path, "/me/messages");
        assert!(request.query.is_empty(), "the token is not in the URL");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {PAGE_TOKEN}").as_str())
        );
        check_against_collection(&request.json());
    }

    fn ok(&self) -> ScriptedResponse {
        // The collection's recorded answer to "Text Message".
        ScriptedResponse::json(
            200,
            json!({ "recipient_id": "5275811702471834", "message_id": "m_qr6GPBlzTU4jq" }),
        )
    }

    fn rate_limited(&self, seconds: u64) -> ScriptedResponse {
        ScriptedResponse::json(
            429,
            json!({ "error": { "message": "(#613) Calls to this api have exceeded the rate limit.", "type": "OAuthException", "code": 613 } }),
        )
        .with_header("retry-after", &seconds.to_string())
    }
}

#[test]
fn the_real_payloads_parse() {
    let text = facebook::parse_webhook(&support::fixture("messenger", "webhook-message-text.json"))
        .unwrap();
    assert_eq!(text.len(), 1);
    let m = &text[0];
    assert_eq!(m.platform, "messenger");
    assert_eq!((m.chat_id.as_str(), m.sender_id.as_str()), ("0", "0"));
    assert_eq!(
        (m.text.as_str(), m.message_id.as_str()),
        ("text", "AAAA-BBBB-CCCC")
    );
    assert!(!m.is_group);
    assert_eq!(m.reply_context, json!({ "page_id": "0" }));
    assert_eq!(m.received_at.as_millis(), 0);

    let postback =
        facebook::parse_webhook(&support::fixture("messenger", "webhook-postback.json")).unwrap();
    assert_eq!(postback.len(), 1);
    let m = &postback[0];
    assert_eq!(
        (m.text.as_str(), m.message_id.as_str()),
        ("USER_DEFINED_PAYLOAD", "m_1457764197618:41d102a3e1ae206a38")
    );
    assert_eq!(m.chat_id, "0");
}

#[test]
fn the_documented_signature_vector() {
    // PLATFORMS.md: secret `test-app-secret` over the raw bytes of the text fixture.
    let body = support::fixture("messenger", "webhook-message-text.json");
    assert_eq!(body.len(), 314);
    assert_eq!(
        meta_signature(APP_SECRET, &body),
        "sha256=2c9d2f236e1dab1af2e9e5c0873ae2fbada2b8c178d937c0b31c3109b971d188"
    );
}

#[tokio::test]
async fn signatures_are_checked_through_the_router() {
    let fake = FakePlatform::start(MessengerPlatform.ok()).await;
    let harness = Harness::new(MessengerPlatform.adapter(&fake.url())).await;
    let body = support::fixture("messenger", "webhook-message-text.json");
    let documented = "sha256=2c9d2f236e1dab1af2e9e5c0873ae2fbada2b8c178d937c0b31c3109b971d188";
    let wrong_secret = meta_signature("other-secret", &body);
    let mut tampered = body.clone();
    tampered[200] ^= 1;
    let json = ("content-type", "application/json");
    for (case, headers, body) in [
        (
            "wrong secret",
            vec![json, ("x-hub-signature-256", wrong_secret.as_str())],
            &body,
        ),
        (
            "tampered body",
            vec![json, ("x-hub-signature-256", documented)],
            &tampered,
        ),
        ("missing header", vec![json], &body),
    ] {
        let answer = harness.post("/webhooks/messenger", &headers, body).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{case}");
    }
    assert_eq!(harness.inbox_pending().await, 0, "nothing stored");
    let answer = harness
        .post(
            "/webhooks/messenger",
            &[json, ("x-hub-signature-256", documented)],
            &body,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(harness.inbox_pending().await, 1);
}

#[tokio::test]
async fn subscription_handshake() {
    let harness = Harness::new(MessengerPlatform.adapter("http://127.0.0.1:9")).await;
    let answer = harness
        .get("/webhooks/messenger?hub.mode=subscribe&hub.verify_token=verify-token&hub.challenge=CHALLENGE_ACCEPTED")
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), "CHALLENGE_ACCEPTED");
    let answer = harness
        .get("/webhooks/messenger?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[test]
fn send_bodies_match_the_collection() {
    let collection = support::fixture_json(
        "messenger",
        "messenger-platform-api.postman_collection.json",
    );
    assert_eq!(
        collection["auth"]["type"], "bearer",
        "the collection sends the token as a Bearer header"
    );
    let description = collection_request("Text Message")["description"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(description.contains("RESPONSE"), "{description}");
    let chat = ChatAddress {
        platform: "messenger".into(),
        chat_id: "PSID1".into(),
        is_group: false,
        reply_context: json!({ "page_id": "PAGE1" }),
    };
    check_against_collection(&facebook::render_message(&chat, &Reply::text("Hello!")));
    let buttons = Reply {
        text: "Pick".into(),
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
    let body = facebook::render_message(&chat, &buttons);
    check_against_collection(&body);
    assert_eq!(
        body["message"]["quick_replies"][1],
        json!({ "content_type": "text", "title": "Skip", "payload": "skip" })
    );
    // The checker does catch a wrong shape.
    let wrong = json!({ "recipient": { "id": 5 }, "messaging_type": "RESPONSE", "message": { "text": "x" } });
    assert!(std::panic::catch_unwind(|| check_against_collection(&wrong)).is_err());
}

#[tokio::test]
async fn standard_end_to_end() {
    support::standard_end_to_end(&MessengerPlatform).await;
}

#[tokio::test]
async fn standard_bad_input() {
    support::standard_bad_input(&MessengerPlatform, |body| {
        ("/webhooks/messenger".into(), signed_headers(body))
    })
    .await;
}

async fn post_signed(harness: &Harness, body: &Value) {
    let body = body.to_string().into_bytes();
    let headers = signed_headers(&body);
    let answer = harness.post("/webhooks/messenger", &headers, &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

fn sends(fake: &FakePlatform) -> Vec<Value> {
    support::validated_sends(fake, &MessengerPlatform)
}

#[tokio::test]
async fn quick_replies_come_back_as_commands() {
    let fake = FakePlatform::start(MessengerPlatform.ok()).await;
    let harness = Harness::new(MessengerPlatform.adapter(&fake.url())).await;
    post_signed(&harness, &text_event("hello", "mid.1")).await;
    harness.drain().await;
    let sent = sends(&fake);
    assert_eq!(sent[0]["recipient"]["id"], "PSID1");
    assert_eq!(
        sent[0]["message"]["quick_replies"],
        json!([
            { "content_type": "text", "title": "Hint", "payload": "hint" },
            { "content_type": "text", "title": "Skip", "payload": "skip" }
        ])
    );
    // A tap on "Hint": the label as text, the command as payload.
    let mut tap = text_event("Hint", "mid.2");
    tap["entry"][0]["messaging"][0]["message"]["quick_reply"] = json!({ "payload": "hint" });
    post_signed(&harness, &tap).await;
    // A postback without a mid (older webhooks) and an echo of our own send.
    let mut postback = text_event("", "");
    postback["entry"][0]["messaging"][0]["postback"] =
        json!({ "title": "Skip", "payload": "skip" });
    postback["entry"][0]["messaging"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    post_signed(&harness, &postback).await;
    let mut echo = text_event("#1: hello", "mid.echo");
    echo["entry"][0]["messaging"][0]["message"]["is_echo"] = json!(true);
    post_signed(&harness, &echo).await;
    harness.drain().await;
    let texts: Vec<Value> = sends(&fake)
        .iter()
        .map(|body| body["message"]["text"].clone())
        .collect();
    assert_eq!(
        texts,
        [json!("#1: hello"), json!("#2: hint"), json!("#3: skip")]
    );
}

#[tokio::test]
async fn a_reply_at_the_limit_is_one_message() {
    let fake = FakePlatform::start(MessengerPlatform.ok()).await;
    let adapter = MessengerPlatform.adapter(&fake.url());
    assert_eq!(adapter.messenger.max_len(), 2000);
    let harness = Harness::new(adapter).await;
    post_signed(&harness, &text_event(&"ü".repeat(1996), "mid.long")).await;
    harness.drain().await;
    let sent = sends(&fake);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["message"]["text"].as_str().unwrap().chars().count(),
        2000
    );
}

#[tokio::test]
async fn graph_errors_map_to_retries_and_dead_letters() {
    let fake = FakePlatform::start(MessengerPlatform.ok()).await;
    let harness = Harness::new(MessengerPlatform.adapter(&fake.url())).await;
    // "This person isn't available right now": permanent.
    fake.push(ScriptedResponse::json(
        400,
        json!({ "error": { "message": "(#551) This person isn't available right now.", "type": "OAuthException", "code": 551 } }),
    ));
    post_signed(&harness, &text_event("one", "mid.e1")).await;
    harness.drain().await;
    assert_eq!(harness.outbox_dead().await, 1);
    // Rate limit by error code without Retry-After: waits, then delivers.
    fake.push(ScriptedResponse::json(
        400,
        json!({ "error": { "message": "(#613)", "code": 613 } }),
    ));
    post_signed(&harness, &text_event("two", "mid.e2")).await;
    harness.drain().await;
    assert_eq!(harness.outbox_pending().await, 1);
    harness.advance(std::time::Duration::from_secs(61));
    harness.run_sends().await;
    assert_eq!(harness.outbox_pending().await, 0);
    assert_eq!(harness.outbox_dead().await, 1);
}
