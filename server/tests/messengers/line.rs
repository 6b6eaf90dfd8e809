//! LINE: signatures, the SDK's real payloads and the official OpenAPI specs
//! (`webhook.json`, `messaging-api.json`), reply with push fallback, quick replies,
//! webhook registration and the standard scenario.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use server::messenger::common::{Secret, SendLimits, hmac_sha256};
use server::messenger::line::{Line, LineSettings, MAX_LEN, parse_callback};
use server::messenger::{PlatformAdapter, SendOutcome};
use server::testing::{FakePlatform, RecordedRequest, ScriptedResponse};
use server::{Button, ChatAddress, Reply};

use crate::support::{self, Harness, SchemaCheck, fixture, fixture_json};

const SECRET: &str = "test-channel-secret";
const TOKEN: &str = "test-channel-token";
const BOT: &str = "Uab012345678901234567890123456789";
const USER: &str = "U4af4980629a1b2c3d4e5f60718293a4b";
const REPLY: &str = "/v2/bot/message/reply";
const PUSH: &str = "/v2/bot/message/push";

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

/// Base64(HMAC-SHA256(secret, body)), as LINE documents it.
fn sign(secret: &str, body: &[u8]) -> String {
    BASE64.encode(hmac_sha256(secret.as_bytes(), &[body]))
}

fn settings(api_url: &str) -> LineSettings {
    LineSettings {
        limits: SendLimits::default(),
        ..LineSettings::new(Secret::new(TOKEN), Secret::new(SECRET), api_url)
    }
}

fn adapter(api_url: &str) -> PlatformAdapter {
    PlatformAdapter::new(Line::new(settings(api_url)))
}

async fn post_signed(harness: &Harness, body: &[u8]) -> support::Answer {
    let signature = sign(SECRET, body);
    harness
        .post(
            "/webhooks/line",
            &[
                ("content-type", "application/json; charset=utf-8"),
                ("x-line-signature", &signature),
            ],
            body,
        )
        .await
}

fn callback(events: Vec<Value>) -> Value {
    json!({ "destination": BOT, "events": events })
}

/// A current-format text message event from `USER` (fields as `webhook.json` requires).
fn text_event(text: &str, event_id: &str, timestamp: i64) -> Value {
    json!({
        "type": "message",
        "mode": "active",
        "timestamp": timestamp,
        "webhookEventId": event_id,
        "deliveryContext": { "isRedelivery": false },
        "replyToken": format!("reply-{event_id}"),
        "source": { "type": "user", "userId": USER },
        "message": { "type": "text", "id": format!("msg-{event_id}"), "text": text, "quoteToken": "q" }
    })
}

// --- The specs, read from the fixtures ------------------------------------------------

fn schema(spec: &Value, name: &str) -> SchemaCheck {
    SchemaCheck::new(spec, &format!("#/components/schemas/{name}"))
}

/// Validates `value` against the schema that `base`'s discriminator (read from the
/// spec) maps its `type` to; the JSON Schema validator does not follow OpenAPI
/// discriminators by itself.
fn assert_discriminated(spec: &Value, base: &str, value: &Value) {
    schema(spec, base).assert_valid(value);
    let kind = value["type"].as_str().expect("a type");
    let target = spec["components"]["schemas"][base]["discriminator"]["mapping"][kind]
        .as_str()
        .unwrap_or_else(|| panic!("{base} has no mapping for {kind:?}"));
    SchemaCheck::new(spec, target).assert_valid(value);
}

/// A webhook body against `CallbackRequest` and each event, source and message
/// content against its concrete schema.
fn assert_valid_callback(body: &Value) {
    let spec = fixture_json("line", "webhook.json");
    schema(&spec, "CallbackRequest").assert_valid(body);
    for event in body["events"].as_array().unwrap() {
        assert_discriminated(&spec, "Event", event);
        if event.get("source").is_some() {
            assert_discriminated(&spec, "Source", &event["source"]);
        }
        if event.get("message").is_some() {
            assert_discriminated(&spec, "MessageContent", &event["message"]);
        }
    }
}

/// A reply or push call against `messaging-api.json`: the request schema, every
/// message, quick reply item and action, the retry key's format (from the spec's
/// header parameter) and the bearer token.
fn assert_valid_send(request: &RecordedRequest) {
    let spec = fixture_json("line", "messaging-api.json");
    let body = request.json();
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    match request.path.as_str() {
        REPLY => schema(&spec, "ReplyMessageRequest").assert_valid(&body),
        PUSH => {
            schema(&spec, "PushMessageRequest").assert_valid(&body);
            if let Some(key) = request.header("x-line-retry-key") {
                assert_valid_retry_key(&spec, key);
            }
        }
        other => panic!("not a send call: {other}"),
    }
    for message in body["messages"].as_array().unwrap() {
        assert_discriminated(&spec, "Message", message);
        let text = message["text"].as_str().unwrap();
        assert!(!text.is_empty() && text.encode_utf16().count() <= 5000);
        for item in message["quickReply"]["items"]
            .as_array()
            .into_iter()
            .flatten()
        {
            schema(&spec, "QuickReplyItem").assert_valid(item);
            assert_discriminated(&spec, "Action", &item["action"]);
            let label = item["action"]["label"].as_str().unwrap();
            assert!(label.chars().count() <= 20, "label {label:?}");
        }
    }
}

fn assert_valid_retry_key(spec: &Value, key: &str) {
    let parameters = spec["paths"][PUSH]["post"]["parameters"]
        .as_array()
        .unwrap();
    let parameter = parameters
        .iter()
        .find(|parameter| parameter["name"] == "X-Line-Retry-Key")
        .expect("the push call documents X-Line-Retry-Key");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&parameter["schema"])
        .unwrap();
    assert!(validator.is_valid(&json!(key)), "{key} is not a UUID");
    assert!(!validator.is_valid(&json!("not-a-uuid")));
}

fn ok() -> ScriptedResponse {
    ScriptedResponse::json(
        200,
        json!({ "sentMessages": [{ "id": "461230966842064897", "quoteToken": "IStG5h1Tz7b" }] }),
    )
}

fn error(status: u16, message: &str) -> ScriptedResponse {
    ScriptedResponse::json(status, json!({ "message": message }))
}

#[test]
fn scripted_answers_match_the_spec() {
    let spec = fixture_json("line", "messaging-api.json");
    schema(&spec, "ReplyMessageResponse").assert_valid(&serde_json::from_str(&ok().body).unwrap());
    schema(&spec, "ErrorResponse")
        .assert_valid(&serde_json::from_str(&error(400, "Invalid reply token").body).unwrap());
    // The checks bite: a text message needs its text, quick replies are at most 13.
    assert!(!schema(&spec, "TextMessage").is_valid(&json!({ "type": "text" })));
    let item =
        json!({ "type": "action", "action": { "type": "message", "label": "a", "text": "a" } });
    assert!(!schema(&spec, "QuickReply").is_valid(&json!({ "items": vec![item; 14] })));
}

// --- Parsing --------------------------------------------------------------------------

/// The SDK fixtures predate `webhookEventId`, `deliveryContext`, `quoteToken` and
/// `follow.isUnblocked`, which the current spec requires: with those added they match
/// it. Both shapes parse.
fn modernised(mut body: Value, event_id: &str) -> Value {
    for event in body["events"].as_array_mut().unwrap() {
        event["webhookEventId"] = json!(event_id);
        event["deliveryContext"] = json!({ "isRedelivery": false });
        if event["type"] == "follow" {
            event["follow"] = json!({ "isUnblocked": false });
        }
        if event["message"]["type"] == "text" {
            event["message"]["quoteToken"] = json!("q");
        }
    }
    body
}

fn parse_fixture(name: &str) -> (InboundSummary, InboundSummary) {
    let body = fixture("line", name);
    let old = parse_callback(&body).unwrap();
    let spec = fixture_json("line", "webhook.json");
    let original: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        !schema(&spec, "CallbackRequest").is_valid(&original),
        "{name}: the check bites (the SDK fixture lacks webhookEventId)"
    );
    let current = modernised(serde_json::from_slice(&body).unwrap(), "01HZ8EVENTID");
    assert_valid_callback(&current);
    let new = parse_callback(current.to_string().as_bytes()).unwrap();
    assert_eq!(old.len(), 1, "{name}");
    assert_eq!(new.len(), 1, "{name}");
    assert_eq!(
        new[0].message_id, "01HZ8EVENTID",
        "{name}: webhookEventId is the key"
    );
    assert_eq!(new[0].reply_context["eventId"], "01HZ8EVENTID");
    let summary = |message: &server::InboundMessage| InboundSummary {
        chat: message.chat_id.clone(),
        sender: message.sender_id.clone(),
        name: message.sender_name.clone(),
        text: message.text.clone(),
        id: message.message_id.clone(),
        group: message.is_group,
        token: message.reply_context["replyToken"]
            .as_str()
            .map(str::to_string),
        timestamp: message.reply_context["timestamp"].as_i64(),
    };
    (summary(&old[0]), summary(&new[0]))
}

#[derive(Debug, PartialEq)]
struct InboundSummary {
    chat: String,
    sender: String,
    name: String,
    text: String,
    id: String,
    group: bool,
    token: Option<String>,
    timestamp: Option<i64>,
}

fn expected(chat: &str, text: &str, id: &str, group: bool) -> InboundSummary {
    InboundSummary {
        chat: chat.into(),
        sender: chat.into(),
        name: chat.into(),
        text: text.into(),
        id: id.into(),
        group,
        token: Some("nHuyWiB7yP5Zw52FIkcQobQuGDXCTA".into()),
        timestamp: Some(1_462_629_479_859),
    }
}

#[test]
fn every_fixture_matches_the_spec_and_parses() {
    let user = "u206d25c2ea6bd87c17655609a1c37cb8";
    let group = "cxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    let cases = [
        (
            "text-user.json",
            expected(user, "Hello, world", "325708", false),
        ),
        (
            "text-mention.json",
            expected(user, "Hello, world @Brown and @Cony", "325708", false),
        ),
        (
            "postback.json",
            expected(
                user,
                "action=buyItem&itemId=123123&color=red",
                "postback:u206d25c2ea6bd87c17655609a1c37cb8:1462629479859",
                false,
            ),
        ),
        (
            "follow.json",
            expected(
                user,
                "/start",
                "follow:u206d25c2ea6bd87c17655609a1c37cb8:1462629479859",
                false,
            ),
        ),
        (
            "join.json",
            expected(
                group,
                "/start",
                "join:cxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx:1462629479859",
                true,
            ),
        ),
    ];
    for (name, want) in cases {
        let (old, new) = parse_fixture(name);
        assert_eq!(old, want, "{name}");
        assert_eq!(new.text, want.text, "{name}");
        assert_eq!((new.chat, new.group), (want.chat, want.group), "{name}");
    }
}

/// Events without text, each in the shape the spec gives it.
fn silent_events() -> Vec<Value> {
    let base = |kind: &str, source: Value| {
        json!({
            "type": kind, "mode": "active", "timestamp": 1_700_000_000_000_i64,
            "webhookEventId": format!("01HZ8{kind}"), "deliveryContext": {"isRedelivery": false},
            "source": source
        })
    };
    let user = json!({ "type": "user", "userId": USER });
    let group = json!({ "type": "group", "groupId": "Ca56f94637c", "userId": USER });
    let mut sticker = base("message", user.clone());
    sticker["replyToken"] = json!("rt");
    sticker["message"] = json!({
        "type": "sticker", "id": "1501597916", "quoteToken": "q", "stickerId": "52002738",
        "packageId": "11537", "stickerResourceType": "ANIMATION"
    });
    let mut standby = text_event("hello", "01HZ8STANDBY", 1_700_000_000_000);
    standby["mode"] = json!("standby");
    standby.as_object_mut().unwrap().remove("replyToken");
    let mut unsend = base("unsend", group.clone());
    unsend["unsend"] = json!({ "messageId": "325708" });
    let mut joined = base(
        "memberJoined",
        json!({ "type": "group", "groupId": "Ca56f94637c" }),
    );
    joined["replyToken"] = json!("rt");
    joined["joined"] = json!({ "members": [{ "type": "user", "userId": USER }] });
    vec![
        base("unfollow", user),
        base(
            "leave",
            json!({ "type": "group", "groupId": "Ca56f94637c" }),
        ),
        unsend,
        joined,
        sticker,
        standby,
    ]
}

#[tokio::test]
async fn events_without_text_are_200_and_no_turn() {
    let body = callback(silent_events());
    assert_valid_callback(&body);
    assert!(
        parse_callback(body.to_string().as_bytes())
            .unwrap()
            .is_empty()
    );
    let harness = Harness::new(adapter("http://127.0.0.1:9")).await;
    let answer = post_signed(&harness, body.to_string().as_bytes()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(harness.inbox_pending().await, 0);
}

#[tokio::test]
async fn console_verify_with_no_events_is_200() {
    // The console's "Verify" button: a signed body whose `events` is empty.
    let body = callback(Vec::new());
    assert_valid_callback(&body);
    let harness = Harness::new(adapter("http://127.0.0.1:9")).await;
    let answer = post_signed(&harness, body.to_string().as_bytes()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({ "ok": true }));
    assert_eq!(harness.inbox_pending().await, 0);
}

#[tokio::test]
async fn fixtures_through_the_router_are_stored_once() {
    let harness = Harness::new(adapter("http://127.0.0.1:9")).await;
    for name in [
        "text-user.json",
        "postback.json",
        "follow.json",
        "join.json",
    ] {
        let body = fixture("line", name);
        for _ in 0..2 {
            let answer = post_signed(&harness, &body).await;
            assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.text());
        }
    }
    assert_eq!(
        harness.inbox_pending().await,
        4,
        "each delivered twice, stored once"
    );
}

#[test]
fn a_button_press_is_the_command() {
    // Quick reply buttons are message actions: the press is a text message.
    let mut pressed = text_event("hint", "01HZ8PRESS", 1_700_000_000_000);
    pressed["source"] = json!({ "type": "group", "groupId": "Ca56f94637c", "userId": USER });
    let mut postback = text_event("", "01HZ8POSTBACK", 1_700_000_000_000);
    postback["type"] = json!("postback");
    postback.as_object_mut().unwrap().remove("message");
    postback["postback"] = json!({ "data": "skip" });
    let body = callback(vec![pressed, postback]);
    assert_valid_callback(&body);
    let messages = parse_callback(body.to_string().as_bytes()).unwrap();
    let texts: Vec<(&str, &str, bool)> = messages
        .iter()
        .map(|message| {
            (
                message.text.as_str(),
                message.chat_id.as_str(),
                message.is_group,
            )
        })
        .collect();
    assert_eq!(
        texts,
        [("hint", "Ca56f94637c", true), ("skip", USER, false)]
    );
    assert_eq!(messages[0].sender_id, USER);
}

// --- Signatures -----------------------------------------------------------------------

#[test]
fn documented_signature_vector() {
    // PLATFORMS.md: secret `test-channel-secret` over the bytes of `text-user.json`.
    let body = fixture("line", "text-user.json");
    assert_eq!(body.len(), 436);
    assert_eq!(
        sign(SECRET, &body),
        "hq/Rx3kM6fa0Wuys5oQHE+jAbOghCmHy2AWtes3Djuo="
    );
    let line = Line::new(settings("http://127.0.0.1:9"));
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-line-signature",
        "hq/Rx3kM6fa0Wuys5oQHE+jAbOghCmHy2AWtes3Djuo="
            .parse()
            .unwrap(),
    );
    assert!(server::messenger::Inbound::verify(&line, &headers, &body).is_ok());
}

#[tokio::test]
async fn bad_signatures_are_401_and_store_nothing() {
    let harness = Harness::new(adapter("http://127.0.0.1:9")).await;
    let body = fixture("line", "text-user.json");
    let mut tampered = body.clone();
    let at = tampered.iter().position(|byte| *byte == b'H').unwrap();
    tampered[at] = b'J';
    let good = sign(SECRET, &body);
    let cases: [(&str, &[u8], Option<String>); 4] = [
        ("wrong secret", &body, Some(sign("another-secret", &body))),
        ("tampered body", &tampered, Some(good.clone())),
        ("missing header", &body, None),
        ("not base64", &body, Some("%%%".into())),
    ];
    for (case, body, signature) in cases {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(signature) = &signature {
            headers.push(("x-line-signature", signature));
        }
        let answer = harness.post("/webhooks/line", &headers, body).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{case}");
        assert!(!answer.text().contains(SECRET), "{case}");
    }
    assert_eq!(harness.inbox_pending().await, 0);
}

// --- Sending --------------------------------------------------------------------------

fn chat(context: Value) -> ChatAddress {
    ChatAddress {
        platform: "line".into(),
        chat_id: USER.into(),
        is_group: false,
        reply_context: context,
    }
}

fn fresh(event_id: &str) -> Value {
    json!({ "eventId": event_id, "replyToken": format!("reply-{event_id}"), "timestamp": now_ms() })
}

#[tokio::test]
async fn replies_with_the_token_then_pushes() {
    let fake = FakePlatform::start(ok()).await;
    let line = adapter(&fake.url());
    let address = chat(fresh("01HZ8A"));
    let first = Reply::text("Part one.");
    assert_eq!(
        line.messenger.send(&address, &first).await,
        SendOutcome::Sent
    );
    // The token is single-use: the second part of the same turn is pushed.
    let second = Reply::text("Part two.");
    assert_eq!(
        line.messenger.send(&address, &second).await,
        SendOutcome::Sent
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, REPLY);
    assert_eq!(
        requests[0].json(),
        json!({ "replyToken": "reply-01HZ8A", "messages": [{ "type": "text", "text": "Part one." }] })
    );
    assert_eq!(requests[1].path, PUSH);
    assert_eq!(
        requests[1].json(),
        json!({ "to": USER, "messages": [{ "type": "text", "text": "Part two." }] })
    );
    assert!(requests[1].header("x-line-retry-key").is_some());
    for request in &requests {
        assert_valid_send(request);
    }
}

#[tokio::test]
async fn a_refused_token_falls_back_to_push() {
    let fake = FakePlatform::start(ok()).await;
    let line = adapter(&fake.url());
    fake.push(error(400, "Invalid reply token"));
    let reply = Reply::text("#1: hello");
    assert_eq!(
        line.messenger.send(&chat(fresh("01HZ8B")), &reply).await,
        SendOutcome::Sent
    );
    let paths: Vec<String> = fake
        .requests()
        .into_iter()
        .map(|request| request.path)
        .collect();
    assert_eq!(paths, [REPLY, PUSH]);
    // Another 400 of the reply call is not about the token: no push.
    fake.push(error(400, "The request body has 1 error(s)"));
    let outcome = line.messenger.send(&chat(fresh("01HZ8C")), &reply).await;
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
    assert_eq!(fake.requests().len(), 3);
    for request in fake.requests() {
        assert_valid_send(&request);
    }
}

#[tokio::test]
async fn pushes_without_or_with_a_stale_token_under_a_stable_retry_key() {
    let fake = FakePlatform::start(ok()).await;
    let line = adapter(&fake.url());
    let reply = Reply::text("#2: two");
    let no_token = chat(json!({ "eventId": "01HZ8D" }));
    let stale = chat(json!({
        "eventId": "01HZ8D", "replyToken": "old", "timestamp": now_ms() - 120_000
    }));
    assert_eq!(
        line.messenger.send(&no_token, &reply).await,
        SendOutcome::Sent
    );
    assert_eq!(line.messenger.send(&stale, &reply).await, SendOutcome::Sent);
    // LINE answers 409 to a key it has accepted before: the reply was delivered.
    fake.push(error(409, "The retry key is already accepted"));
    assert_eq!(
        line.messenger.send(&no_token, &reply).await,
        SendOutcome::Sent
    );
    let other = Reply::text("#3: three");
    assert_eq!(
        line.messenger.send(&no_token, &other).await,
        SendOutcome::Sent
    );
    let requests = fake.requests();
    assert!(requests.iter().all(|request| request.path == PUSH));
    let keys: Vec<&str> = requests
        .iter()
        .map(|request| request.header("x-line-retry-key").unwrap())
        .collect();
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[0], keys[2]);
    assert_ne!(keys[0], keys[3], "another text, another key");
    for request in &requests {
        assert_valid_send(request);
    }
    // Without an event id there is nothing to derive a key from: no header.
    assert_eq!(
        line.messenger.send(&chat(Value::Null), &reply).await,
        SendOutcome::Sent
    );
    let last = fake.requests().pop().unwrap();
    assert_eq!(last.header("x-line-retry-key"), None);
    assert_valid_send(&last);
}

#[tokio::test]
async fn rate_limits_wait_and_the_quota_is_permanent() {
    let fake = FakePlatform::start(ok()).await;
    let line = adapter(&fake.url());
    let reply = Reply::text("hi");
    let limited = "The API rate limit has been exceeded. Try again later.";
    fake.push(error(429, limited).with_header("retry-after", "7"));
    fake.push(error(429, limited));
    fake.push(error(429, "You have reached your monthly limit."));
    let address = chat(json!({ "eventId": "01HZ8E" }));
    assert_eq!(
        line.messenger.send(&address, &reply).await,
        SendOutcome::RetryAfter(Duration::from_secs(7))
    );
    assert_eq!(
        line.messenger.send(&address, &reply).await,
        SendOutcome::RetryAfter(Duration::from_secs(1))
    );
    let outcome = line.messenger.send(&address, &reply).await;
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

    // The adapter's own limiter answers without calling the API.
    let limited = PlatformAdapter::new(Line::new(LineSettings {
        limits: SendLimits {
            global: Some(1),
            ..SendLimits::default()
        },
        ..settings(&fake.url())
    }));
    let before = fake.requests().len();
    assert_eq!(
        limited.messenger.send(&address, &reply).await,
        SendOutcome::Sent
    );
    assert!(matches!(
        limited.messenger.send(&address, &reply).await,
        SendOutcome::RetryAfter(wait) if wait <= Duration::from_secs(1)
    ));
    assert_eq!(fake.requests().len(), before + 1);
}

#[tokio::test]
async fn transport_errors_are_retryable_and_hide_the_url() {
    let line = adapter("http://127.0.0.1:9");
    let outcome = line
        .messenger
        .send(&chat(Value::Null), &Reply::text("hi"))
        .await;
    match outcome {
        SendOutcome::Failed { permanent, reason } => {
            assert!(!permanent);
            assert!(
                !reason.contains(TOKEN) && !reason.contains("127.0.0.1"),
                "{reason}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn buttons_become_quick_replies() {
    let fake = FakePlatform::start(ok()).await;
    let line = adapter(&fake.url());
    let reply = Reply {
        text: "Which article is this?".into(),
        buttons: vec![
            Button {
                label: "Hint".into(),
                command: "hint".into(),
            },
            Button {
                label: "Skip this round, please".into(),
                command: "skip".into(),
            },
        ],
    };
    assert_eq!(
        line.messenger.send(&chat(fresh("01HZ8F")), &reply).await,
        SendOutcome::Sent
    );
    let request = fake.requests().remove(0);
    assert_valid_send(&request);
    assert_eq!(
        request.json()["messages"][0]["quickReply"],
        json!({ "items": [
            { "type": "action", "action": { "type": "message", "label": "Hint", "text": "hint" } },
            { "type": "action", "action": { "type": "message", "label": "Skip this round, ple", "text": "skip" } },
        ] })
    );
}

#[tokio::test]
async fn a_reply_at_the_limit_is_one_message() {
    let fake = FakePlatform::start(ok()).await;
    let line = adapter(&fake.url());
    assert_eq!(line.messenger.max_len(), 5000);
    assert_eq!(MAX_LEN, 5000);
    let text = "é".repeat(5000);
    assert_eq!(
        line.messenger
            .send(&chat(fresh("01HZ8G")), &Reply::text(text.clone()))
            .await,
        SendOutcome::Sent
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let messages = requests[0].json()["messages"].clone();
    assert_eq!(messages.as_array().unwrap().len(), 1);
    assert_eq!(messages[0]["text"], json!(text));
    assert_valid_send(&requests[0]);
}

// --- Registration ---------------------------------------------------------------------

#[tokio::test]
async fn register_webhook_sets_and_tests_the_endpoint() {
    let spec = fixture_json("line", "messaging-api.json");
    let fake = FakePlatform::start(ScriptedResponse::json(200, json!({}))).await;
    let line = adapter(&fake.url());
    let test_answer = json!({
        "success": true, "timestamp": "2020-09-30T05:38:20.031Z",
        "statusCode": 200, "reason": "OK", "detail": "200"
    });
    schema(&spec, "TestWebhookEndpointResponse").assert_valid(&test_answer);
    fake.push(ScriptedResponse::json(200, json!({})));
    fake.push(ScriptedResponse::json(200, test_answer));
    let url = "https://bot.example.org/webhooks/line";
    let done = line.inbound.register_webhook(url).await.unwrap();
    assert!(done.contains(url) && done.contains("reached"), "{done}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("PUT", "/v2/bot/channel/webhook/endpoint")
    );
    schema(&spec, "SetWebhookEndpointRequest").assert_valid(&requests[0].json());
    assert_eq!(requests[0].json(), json!({ "endpoint": url }));
    assert_eq!(
        (requests[1].method.as_str(), requests[1].path.as_str()),
        ("POST", "/v2/bot/channel/webhook/test")
    );
    schema(&spec, "TestWebhookEndpointRequest").assert_valid(&requests[1].json());
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }

    // A failing test call is reported, the endpoint is still set.
    fake.push(ScriptedResponse::json(200, json!({})));
    fake.push(ScriptedResponse::json(
        200,
        json!({ "success": false, "timestamp": "2020-09-30T05:38:20.031Z",
                "statusCode": 0, "reason": "COULD_NOT_CONNECT", "detail": "timeout" }),
    ));
    let done = line.inbound.register_webhook(url).await.unwrap();
    assert!(done.contains("COULD_NOT_CONNECT"), "{done}");

    // A refused endpoint is an error that does not leak the token.
    fake.push(error(
        401,
        "Authentication failed. Confirm that the access token is valid.",
    ));
    let refused = line.inbound.register_webhook(url).await.unwrap_err();
    assert!(
        refused.0.contains("401") && !refused.0.contains(TOKEN),
        "{refused}"
    );
}

// --- The standard scenario ------------------------------------------------------------

struct LinePlatform;

impl support::Platform for LinePlatform {
    fn adapter(&self, api_url: &str) -> PlatformAdapter {
        adapter(api_url)
    }

    fn signed_message(
        &self,
        text: &str,
        message_id: &str,
    ) -> (String, Vec<(String, String)>, Vec<u8>) {
        let body = callback(vec![text_event(text, message_id, now_ms())]);
        assert_valid_callback(&body);
        let body = body.to_string().into_bytes();
        let headers = vec![
            (
                "content-type".to_string(),
                "application/json; charset=utf-8".to_string(),
            ),
            ("x-line-signature".to_string(), sign(SECRET, &body)),
        ];
        ("/webhooks/line".to_string(), headers, body)
    }

    fn is_send(&self, request: &RecordedRequest) -> bool {
        request.path == REPLY || request.path == PUSH
    }

    fn sent_text(&self, request: &RecordedRequest) -> String {
        request.json()["messages"][0]["text"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn validate_send(&self, request: &RecordedRequest) {
        assert_valid_send(request);
        let body = request.json();
        let items = body["messages"][0]["quickReply"]["items"]
            .as_array()
            .unwrap();
        let commands: Vec<&str> = items
            .iter()
            .map(|item| item["action"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(commands, ["hint", "skip"]);
    }

    fn ok(&self) -> ScriptedResponse {
        ok()
    }

    fn rate_limited(&self, seconds: u64) -> ScriptedResponse {
        error(
            429,
            "The API rate limit has been exceeded. Try again later.",
        )
        .with_header("retry-after", &seconds.to_string())
    }
}

#[tokio::test]
async fn standard_end_to_end() {
    support::standard_end_to_end(&LinePlatform).await;
}

#[tokio::test]
async fn standard_bad_input() {
    support::standard_bad_input(&LinePlatform, |body| {
        (
            "/webhooks/line".to_string(),
            vec![
                ("content-type".to_string(), "application/json".to_string()),
                ("x-line-signature".to_string(), sign(SECRET, body)),
            ],
        )
    })
    .await;
}
