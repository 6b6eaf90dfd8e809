//! The WhatsApp Cloud API adapter against pywa's real webhook bodies, the official
//! OpenAPI spec (v23.0: its webhook examples and the `Message` send schema) and a
//! fake Graph API.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use server::messenger::common::{SendLimits, encode_hex, hmac_sha256};
use server::messenger::whatsapp::{self, WhatsApp, WhatsAppSettings};
use server::messenger::{PlatformAdapter, SendOutcome};
use server::testing::{FakePlatform, RecordedRequest, ScriptedResponse};
use server::{Button, ChatAddress, InboundMessage, Reply};

use super::support::{self, Harness, Platform, SchemaCheck};

const APP_SECRET: &str = "test-app-secret";
const VERIFY_TOKEN: &str = "verify-token";
const TOKEN: &str = "EAAG-test-token";
const PHONE_NUMBER_ID: &str = "106540352242922";

/// The official OpenAPI document with one correction: its message schemas are
/// `allOf: [BaseMessageProperties, {..., additionalProperties: false}]`, which in JSON
/// Schema rejects the base properties (`to`, `messaging_product`...) so that even the
/// spec's own examples fail. The closing `additionalProperties: false` moves to the
/// `allOf` as `unevaluatedProperties: false`, which is what the spec means.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let mut spec = support::fixture_json("whatsapp", "business-messaging-api_v23.0.json");
        close_all_of(&mut spec);
        spec
    })
}

fn close_all_of(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let mut closed = false;
            if let Some(Value::Array(members)) = object.get_mut("allOf") {
                for member in members.iter_mut().filter_map(Value::as_object_mut) {
                    if member.get("additionalProperties") == Some(&Value::Bool(false)) {
                        member.remove("additionalProperties");
                        closed = true;
                    }
                }
            }
            if closed {
                object.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            object.values_mut().for_each(close_all_of);
        }
        Value::Array(values) => values.iter_mut().for_each(close_all_of),
        _ => {}
    }
}

/// The request body schema of `POST /{Version}/{Phone-Number-ID}/messages`, read from
/// the spec's path rather than named by hand.
fn send_schema() -> &'static SchemaCheck {
    static CHECK: OnceLock<SchemaCheck> = OnceLock::new();
    CHECK.get_or_init(|| {
        let schema = &spec()["paths"]["/{Version}/{Phone-Number-ID}/messages"]["post"]["requestBody"]
            ["content"]["application/json"]["schema"]["$ref"];
        SchemaCheck::new(spec(), schema.as_str().expect("the messages endpoint names its schema"))
    })
}

fn spec_examples(path: &str) -> serde_json::Map<String, Value> {
    let examples =
        &spec()["paths"][path]["post"]["requestBody"]["content"]["application/json"]["examples"];
    examples
        .as_object()
        .expect("the spec has examples")
        .iter()
        .map(|(name, example)| (name.clone(), example["value"].clone()))
        .collect()
}

fn settings(api_url: &str, limits: SendLimits) -> WhatsAppSettings {
    WhatsAppSettings {
        token: server::messenger::common::Secret::new(TOKEN),
        app_secret: server::messenger::common::Secret::new(APP_SECRET),
        verify_token: server::messenger::common::Secret::new(VERIFY_TOKEN),
        api_url: api_url.into(),
        limits,
    }
}

/// `sha256=<hex>` computed with the shared HMAC helper (the documented algorithm).
pub fn meta_signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        encode_hex(&hmac_sha256(secret.as_bytes(), &[body]))
    )
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

fn text_webhook(from: &str, group_id: Option<&str>, text: &str, id: &str) -> Value {
    let mut message = json!({ "from": from, "id": id, "timestamp": "1749416383", "type": "text", "text": { "body": text } });
    if let Some(group_id) = group_id {
        message["group_id"] = json!(group_id);
    }
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "419561257915477", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID },
            "contacts": [{ "profile": { "name": "Sheena Nelson" }, "wa_id": from }],
            "messages": [message]
        }}]}]
    })
}

struct WhatsAppPlatform;

impl Platform for WhatsAppPlatform {
    fn adapter(&self, api_url: &str) -> PlatformAdapter {
        PlatformAdapter::new(WhatsApp::new(settings(api_url, SendLimits::default())))
    }

    fn signed_message(
        &self,
        text: &str,
        message_id: &str,
    ) -> (String, Vec<(String, String)>, Vec<u8>) {
        let body = text_webhook("16505551234", None, text, message_id)
            .to_string()
            .into_bytes();
        ("/webhooks/whatsapp".into(), signed_headers(&body), body)
    }

    fn is_send(&self, request: &RecordedRequest) -> bool {
        request.method == "POST" && request.path.ends_with("/messages")
    }

    fn sent_text(&self, request: &RecordedRequest) -> String {
        let body = request.json();
        let text = body["text"]["body"]
            .as_str()
            .or(body["interactive"]["body"]["text"].as_str());
        text.unwrap_or_default().to_string()
    }

    fn validate_send(&self, request: &RecordedRequest) {
        assert_eq!(request.path, format!("/{PHONE_NUMBER_ID}/messages"));
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert!(request.query.is_empty(), "no token in the URL");
        send_schema().assert_valid(&request.json());
    }

    fn ok(&self) -> ScriptedResponse {
        ScriptedResponse::json(
            200,
            json!({ "messaging_product": "whatsapp", "contacts": [{ "input": "16505551234", "wa_id": "16505551234" }], "messages": [{ "id": "wamid.OUT" }] }),
        )
    }

    fn rate_limited(&self, seconds: u64) -> ScriptedResponse {
        graph_error(429, 130429, "(#130429) Rate limit hit")
            .with_header("retry-after", &seconds.to_string())
    }
}

fn graph_error(status: u16, code: i64, message: &str) -> ScriptedResponse {
    ScriptedResponse::json(
        status,
        json!({ "error": { "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1" } }),
    )
}

fn parse(body: &Value) -> Vec<InboundMessage> {
    whatsapp::parse_webhook(body.to_string().as_bytes()).expect("a fixture parses")
}

#[test]
fn every_pywa_message_fixture_parses() {
    let fixtures = support::fixture_json("whatsapp", "webhook-messages-by-type.json");
    let fixtures = fixtures.as_object().unwrap();
    assert_eq!(fixtures.len(), 23);
    let with_text = [
        ("text", "Body Text", "wamid.xyzxyz"),
        ("reply", "replied text", "wamid.xyzxyz"),
        ("forwarded", "forwarded text", "wamid.xyzxyz"),
        (
            "forwarded_many_times",
            "text forwarded many times",
            "wamid.xyzxyz",
        ),
        ("referral", "BODY", "wamid.ID"),
    ];
    for (name, body) in fixtures {
        let messages = parse(body);
        let Some((_, text, id)) = with_text.iter().find(|(key, _, _)| key == name) else {
            // Media, stickers, reactions, locations, contacts, orders, unsupported and
            // the interactive error carry no text: 200 and no turn.
            assert!(
                messages.is_empty(),
                "{name} should give no message: {messages:?}"
            );
            continue;
        };
        assert_eq!(messages.len(), 1, "{name}");
        let m = &messages[0];
        assert_eq!(m.platform, "whatsapp");
        assert_eq!(
            (m.text.as_str(), m.message_id.as_str()),
            (*text, *id),
            "{name}"
        );
        assert_eq!(
            (m.chat_id.as_str(), m.sender_id.as_str()),
            ("972987654321", "972987654321")
        );
        assert_eq!(m.sender_name, "Test Name");
        assert!(!m.is_group);
        assert_eq!(
            m.reply_context,
            json!({ "phone_number_id": "1122334455667" })
        );
        assert_eq!(m.received_at.as_millis(), 0);
    }
}

#[test]
fn status_fixtures_give_no_message() {
    let fixtures = support::fixture_json("whatsapp", "webhook-message-status.json");
    let fixtures = fixtures.as_object().unwrap();
    assert_eq!(fixtures.len(), 7);
    for (name, body) in fixtures {
        assert!(parse(body).is_empty(), "{name}");
    }
    // The group sample is a status about a group (`recipient_type: group`).
    assert_eq!(
        fixtures["group"]["entry"][0]["changes"][0]["value"]["statuses"][0]["recipient_type"],
        "group"
    );
}

#[test]
fn every_official_webhook_example_parses() {
    let examples = spec_examples("/whatsapp/webhooks");
    let expected = [
        (
            "Text Message",
            Some(("Does it come in another color?", false)),
        ),
        ("Button Message", Some(("Unsubscribe", false))),
        (
            "Interactive List Reply Message",
            Some(("priority_express", false)),
        ),
        (
            "Interactive Button Reply Message",
            Some(("cancel-button", false)),
        ),
        ("Group Create Message", Some(("/start", true))),
        ("Group Settings Update", None),
        ("Group Remove Participants", None),
        ("Reaction Message", None),
        ("Image Message", None),
        ("Location Message", None),
        ("Contact Sharing Message", None),
        ("Unsupported Message", None),
        ("Order Message", None),
        ("System Message", None),
    ];
    for (name, body) in &examples {
        let messages = parse(body);
        let want = expected
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, want)| *want);
        match want {
            Some(None) => assert!(messages.is_empty(), "{name}: {messages:?}"),
            Some(Some((text, is_group))) => {
                assert_eq!(messages.len(), 1, "{name}");
                assert_eq!(
                    (messages[0].text.as_str(), messages[0].is_group),
                    (text, is_group),
                    "{name}"
                );
                assert_eq!(
                    messages[0].reply_context,
                    json!({ "phone_number_id": PHONE_NUMBER_ID })
                );
            }
            // The text variants (product inquiry, click-to-WhatsApp ad).
            None => {
                assert_eq!(messages.len(), 1, "{name}");
                assert!(name.starts_with("Text Message"), "{name}");
                assert_eq!(messages[0].sender_name, "Sheena Nelson");
            }
        }
    }
    let group = &parse(&examples["Group Create Message"])[0];
    assert_eq!(
        group.chat_id,
        "Y2FwaV9ncm91cDoxODA1NTU1MDE3MjoxMjAzNjMyMjI3NzE5NjMwNjcZD"
    );
    assert_eq!(group.message_id, "784D93D0C468593037EA0B1ECA245D9C");
    let press = &parse(&examples["Interactive Button Reply Message"])[0];
    assert_eq!(
        press.message_id,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTZBQzg0MzQ4QjRCM0NGNkVGOAA="
    );
    assert_eq!(
        (press.chat_id.as_str(), press.sender_name.as_str()),
        ("16505551234", "Sheena Nelson")
    );
}

#[test]
fn the_send_schema_accepts_the_official_examples_and_rejects_bad_bodies() {
    let examples = spec_examples("/{Version}/{Phone-Number-ID}/messages");
    for name in [
        "Send Text Message",
        "Send Reply Button",
        "Send Reply to Text Message",
    ] {
        send_schema().assert_valid(&examples[name]);
    }
    let chat = ChatAddress {
        platform: "whatsapp".into(),
        chat_id: "16505551234".into(),
        is_group: false,
        reply_context: json!({ "phone_number_id": PHONE_NUMBER_ID }),
    };
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
    let good = whatsapp::render_message(&chat, &buttons);
    send_schema().assert_valid(&good);
    let mut four = good.clone();
    four["interactive"]["action"]["buttons"] =
        Value::Array(vec![good["interactive"]["action"]["buttons"][0].clone(); 4]);
    assert!(!send_schema().is_valid(&four), "at most 3 buttons");
    let mut long_title = good.clone();
    long_title["interactive"]["action"]["buttons"][0]["reply"]["title"] = json!("x".repeat(21));
    assert!(
        !send_schema().is_valid(&long_title),
        "titles up to 20 characters"
    );
    let mut stray = whatsapp::render_message(&chat, &Reply::text("hi"));
    send_schema().assert_valid(&stray);
    stray["bogus"] = json!(1);
    assert!(!send_schema().is_valid(&stray), "unknown properties");
}

#[tokio::test]
async fn standard_end_to_end() {
    support::standard_end_to_end(&WhatsAppPlatform).await;
}

#[tokio::test]
async fn standard_bad_input() {
    support::standard_bad_input(&WhatsAppPlatform, |body| {
        ("/webhooks/whatsapp".into(), signed_headers(body))
    })
    .await;
}

#[tokio::test]
async fn bad_signatures_are_401_and_store_nothing() {
    let fake = FakePlatform::start(WhatsAppPlatform.ok()).await;
    let harness = Harness::new(WhatsAppPlatform.adapter(&fake.url())).await;
    let body = serde_json::to_vec(
        &support::fixture_json("whatsapp", "webhook-messages-by-type.json")["text"],
    )
    .unwrap();
    let mut tampered = body.clone();
    let last = tampered.len() - 3;
    tampered[last] ^= 1;
    let json = ("content-type", "application/json");
    let sha1 = format!("sha1={}", "0".repeat(40));
    let cases = [
        (
            "wrong secret",
            Some(("x-hub-signature-256", meta_signature("other-secret", &body))),
            &body,
        ),
        (
            "tampered body",
            Some(("x-hub-signature-256", meta_signature(APP_SECRET, &body))),
            &tampered,
        ),
        ("missing header", None, &body),
        (
            "not hex",
            Some(("x-hub-signature-256", "sha256=zz".to_string())),
            &body,
        ),
        (
            "legacy sha1 header only",
            Some(("x-hub-signature", sha1)),
            &body,
        ),
    ];
    for (case, header, body) in cases {
        let mut headers = vec![json];
        headers.extend(header.as_ref().map(|(name, value)| (*name, value.as_str())));
        let answer = harness.post("/webhooks/whatsapp", &headers, body).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{case}");
    }
    assert_eq!(harness.inbox_pending().await, 0, "nothing stored");
    // The same body, correctly signed, is stored; a status update is not.
    let signature = meta_signature(APP_SECRET, &body);
    let ok = harness
        .post(
            "/webhooks/whatsapp",
            &[json, ("x-hub-signature-256", &signature)],
            &body,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let status = serde_json::to_vec(
        &support::fixture_json("whatsapp", "webhook-message-status.json")["read"],
    )
    .unwrap();
    let signature = meta_signature(APP_SECRET, &status);
    let answer = harness
        .post(
            "/webhooks/whatsapp",
            &[json, ("x-hub-signature-256", &signature)],
            &status,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(harness.inbox_pending().await, 1);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn subscription_handshake() {
    let harness = Harness::new(WhatsAppPlatform.adapter("http://127.0.0.1:9")).await;
    let answer = harness
        .get("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-token&hub.challenge=1158201444")
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.text(), "1158201444");
    assert!(
        answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        "hub.mode=subscribe&hub.challenge=1",
        "hub.mode=other&hub.verify_token=verify-token&hub.challenge=1",
    ] {
        let answer = harness.get(&format!("/webhooks/whatsapp?{query}")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{query}");
    }
    assert_eq!(harness.inbox_pending().await, 0);
}

async fn post_signed(harness: &Harness, body: &Value) {
    let body = body.to_string().into_bytes();
    let headers = signed_headers(&body);
    let answer = harness.post("/webhooks/whatsapp", &headers, &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

fn sends(fake: &FakePlatform) -> Vec<Value> {
    support::validated_sends(fake, &WhatsAppPlatform)
}

#[tokio::test]
async fn buttons_are_reply_buttons_and_a_press_is_the_command() {
    let fake = FakePlatform::start(WhatsAppPlatform.ok()).await;
    let harness = Harness::new(WhatsAppPlatform.adapter(&fake.url())).await;
    post_signed(
        &harness,
        &text_webhook("16505551234", None, "hello", "wamid.1"),
    )
    .await;
    harness.drain().await;
    let sent = sends(&fake);
    assert_eq!(sent[0]["type"], "interactive");
    assert_eq!(
        sent[0]["interactive"]["action"]["buttons"],
        json!([
            { "type": "reply", "reply": { "id": "hint", "title": "Hint" } },
            { "type": "reply", "reply": { "id": "skip", "title": "Skip" } }
        ])
    );
    // The press, shaped like the spec's "Interactive Button Reply Message" example.
    let mut press = spec_examples("/whatsapp/webhooks")["Interactive Button Reply Message"].clone();
    let message = &mut press["entry"][0]["changes"][0]["value"]["messages"][0];
    message["interactive"]["button_reply"] = json!({ "id": "hint", "title": "Hint" });
    post_signed(&harness, &press).await;
    harness.drain().await;
    let sent = sends(&fake);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["interactive"]["body"]["text"], "#2: hint");
}

#[tokio::test]
async fn a_reply_at_the_limit_is_one_message() {
    let fake = FakePlatform::start(WhatsAppPlatform.ok()).await;
    let adapter = WhatsAppPlatform.adapter(&fake.url());
    assert_eq!(adapter.messenger.max_len(), 4096);
    let harness = Harness::new(adapter).await;
    // The counter game answers "#1: " + text: 4 + 4092 = 4096 characters.
    let text = "é".repeat(4092);
    post_signed(
        &harness,
        &text_webhook("16505551234", None, &text, "wamid.long"),
    )
    .await;
    harness.drain().await;
    let sent = sends(&fake);
    assert_eq!(sent.len(), 1, "one message");
    // Too long for a button body (1024): plain text, buttons dropped.
    assert_eq!(sent[0]["type"], "text");
    assert_eq!(
        sent[0]["text"]["body"].as_str().unwrap().chars().count(),
        4096
    );
}

#[tokio::test]
async fn group_messages_are_answered_in_the_group() {
    let fake = FakePlatform::start(WhatsAppPlatform.ok()).await;
    let harness = Harness::new(WhatsAppPlatform.adapter(&fake.url())).await;
    post_signed(
        &harness,
        &text_webhook("16505551234", Some("GROUP1"), "hello", "wamid.g"),
    )
    .await;
    harness.drain().await;
    let sent = sends(&fake);
    assert_eq!(
        (sent[0]["recipient_type"].as_str(), sent[0]["to"].as_str()),
        (Some("group"), Some("GROUP1"))
    );
}

#[tokio::test]
async fn rate_limit_codes_in_the_body_wait_and_bad_recipients_are_dead_lettered() {
    let fake = FakePlatform::start(WhatsAppPlatform.ok()).await;
    let harness = Harness::new(WhatsAppPlatform.adapter(&fake.url())).await;
    // Pair rate limit: HTTP 400, code 131056, no Retry-After: wait 6 s.
    fake.push(graph_error(
        400,
        131056,
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    ));
    post_signed(
        &harness,
        &text_webhook("16505551234", None, "one", "wamid.r1"),
    )
    .await;
    harness.drain().await;
    assert_eq!(harness.outbox_pending().await, 1);
    harness.advance(Duration::from_secs(4));
    harness.run_sends().await;
    assert_eq!(harness.outbox_pending().await, 1, "not before 6 s");
    harness.advance(Duration::from_secs(3));
    harness.run_sends().await;
    assert_eq!(harness.outbox_pending().await, 0);
    // Not a WhatsApp user: permanent.
    fake.push(graph_error(400, 131026, "Message undeliverable"));
    post_signed(
        &harness,
        &text_webhook("16505551234", None, "two", "wamid.r2"),
    )
    .await;
    harness.drain().await;
    assert_eq!(harness.outbox_dead().await, 1);
    assert_eq!(sends(&fake).len(), 3);
}

#[tokio::test]
async fn default_limits_hold_back_a_busy_user_without_calling_the_api() {
    let fake = FakePlatform::start(WhatsAppPlatform.ok()).await;
    let adapter = WhatsApp::new(settings(&fake.url(), whatsapp::DEFAULT_LIMITS));
    let chat = ChatAddress {
        platform: "whatsapp".into(),
        chat_id: "16505551234".into(),
        is_group: false,
        reply_context: json!({ "phone_number_id": PHONE_NUMBER_ID }),
    };
    use server::messenger::Messenger;
    let mut outcomes = Vec::new();
    for _ in 0..11 {
        outcomes.push(adapter.send(&chat, &Reply::text("hi")).await);
    }
    assert!(
        outcomes[..10]
            .iter()
            .all(|outcome| *outcome == SendOutcome::Sent),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[10], SendOutcome::RetryAfter(wait) if wait > Duration::from_secs(4)),
        "{:?}",
        outcomes[10]
    );
    assert_eq!(fake.requests().len(), 10);
    // Another user is not held back.
    let other = ChatAddress {
        chat_id: "16505550000".into(),
        ..chat
    };
    assert_eq!(
        adapter.send(&other, &Reply::text("hi")).await,
        SendOutcome::Sent
    );
}

#[tokio::test]
async fn there_is_no_registration_api() {
    let adapter = WhatsAppPlatform.adapter("http://127.0.0.1:9");
    let error = adapter
        .inbound
        .register_webhook("https://example.com/webhooks/whatsapp")
        .await
        .unwrap_err();
    assert!(error.0.contains("whatsapp"), "{error}");
}
