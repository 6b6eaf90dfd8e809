//! The slack adapter.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use serde_json::{Value, json};
use server::messenger::PlatformAdapter;
use server::messenger::common::{Secret, SendLimits, encode_hex, hmac_sha256};
use server::messenger::slack::{MAX_LEN, Slack, SlackSettings};
use server::testing::{FakePlatform, RecordedRequest, ScriptedResponse};
use server::{Button, ChatAddress, Reply, SendOutcome};

use crate::support::{Harness, Platform, SchemaCheck, fixture, fixture_json};

const TOKEN: &str = "xoxb-test-token";
const SECRET: &str = "test-signing-secret";
const BOT: &str = "U0BOT0001";
const DM: &str = "D0PNCRP9N";
const CHANNEL: &str = "C0G9QF9GZ";
const PATH: &str = "/webhooks/slack";
const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// Request headers: (name, value).
type Headers = Vec<(String, String)>;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

fn settings(api_url: &str, limits: SendLimits) -> SlackSettings {
    SlackSettings {
        bot_token: Secret::new(TOKEN),
        signing_secret: Secret::new(SECRET),
        api_url: api_url.into(),
        limits,
    }
}

fn adapter(api_url: &str) -> PlatformAdapter {
    PlatformAdapter::new(Slack::new(settings(api_url, SendLimits::default())))
}

/// Slack's signature, computed here from the documented base string.
fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let base = [b"v0:", timestamp.as_bytes(), b":", body].concat();
    format!(
        "v0={}",
        encode_hex(&hmac_sha256(secret.as_bytes(), &[&base]))
    )
}

fn headers_at(content_type: &str, body: &[u8], timestamp: i64) -> Headers {
    let timestamp = timestamp.to_string();
    vec![
        ("content-type".into(), content_type.into()),
        ("x-slack-request-timestamp".into(), timestamp.clone()),
        (
            "x-slack-signature".into(),
            signature(SECRET, &timestamp, body),
        ),
    ]
}

fn signed(content_type: &str, body: &[u8]) -> Headers {
    headers_at(content_type, body, now())
}

async fn post(harness: &Harness, headers: &[(String, String)], body: &[u8]) -> StatusCode {
    let answer = harness.post(PATH, headers, body).await;
    answer.status
}

/// The official JSON Schema of the Events API wrapper.
fn wrapper_schema() -> SchemaCheck {
    let mut schema = fixture_json("slack", "slack_common_event_wrapper_schema.json");
    schema.as_object_mut().unwrap().remove("$schema");
    SchemaCheck::new(
        &json!({"definitions": {"wrapper": schema}}),
        "#/definitions/wrapper",
    )
}

/// An `event_callback` carrying `event`, delivered to the bot `BOT`; checked against
/// the official wrapper schema, so the tests only post shapes Slack documents.
fn callback(event_id: &str, event: Value) -> Vec<u8> {
    let body = json!({
        "token": "XXYYZZ",
        "team_id": "T0TEAM001",
        "api_app_id": "A0APP0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_700_000_000,
        "authed_users": [BOT],
        "authorizations": [{"enterprise_id": null, "team_id": "T0TEAM001", "user_id": BOT, "is_bot": true}],
    });
    wrapper_schema().assert_valid(&body);
    body.to_string().into_bytes()
}

fn message_event(channel: &str, channel_type: &str, text: &str, ts: &str) -> Value {
    json!({
        "type": "message", "channel": channel, "channel_type": channel_type, "user": "U0PLAYER1",
        "text": text, "ts": ts, "event_ts": ts, "team": "T0TEAM001",
    })
}

/// `application/x-www-form-urlencoded` with `payload=<json>`, as Slack posts clicks.
fn interaction_form(payload: &Value) -> Vec<u8> {
    let mut out = String::from("payload=");
    for byte in payload.to_string().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out.into_bytes()
}

/// Checks a `chat.postMessage` call against the parameter list of the official Web
/// API spec: the token header, every body field a known parameter of the right type,
/// the required ones present; then the Block Kit shapes this adapter sends.
fn check_post_message(request: &RecordedRequest) {
    let spec = fixture_json("slack", "slack_web_openapi_v2.json");
    let operation = &spec["paths"]["/chat.postMessage"]["post"];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/chat.postMessage");
    let content_type = request.header("content-type").unwrap();
    let essence = content_type.split(';').next().unwrap().trim();
    assert!(
        operation["consumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|consumed| consumed == essence),
        "content type {content_type}"
    );
    let body = request.json();
    let body = body.as_object().expect("a JSON object");
    let parameters = operation["parameters"].as_array().unwrap();
    for parameter in parameters {
        let name = parameter["name"].as_str().unwrap();
        let required = parameter["required"].as_bool().unwrap_or(false);
        match parameter["in"].as_str().unwrap() {
            // The token parameter travels as `Authorization: Bearer` with JSON bodies.
            "header" if name == "token" => {
                if required {
                    assert_eq!(
                        request.header("authorization"),
                        Some(format!("Bearer {TOKEN}").as_str())
                    );
                }
            }
            "formData" => {
                if required {
                    assert!(body.contains_key(name), "required {name} missing: {body:?}");
                }
            }
            other => panic!("unexpected parameter location {other} of {name}"),
        }
    }
    for (key, value) in body {
        let parameter = parameters
            .iter()
            .find(|parameter| parameter["name"] == key.as_str() && parameter["in"] == "formData")
            .unwrap_or_else(|| panic!("{key} is not a chat.postMessage parameter"));
        let description = parameter["description"].as_str().unwrap_or("");
        let fits = match parameter["type"].as_str().unwrap() {
            // Form posts carry JSON arrays as strings; JSON bodies carry them as arrays.
            "string" => {
                value.is_string() || (value.is_array() && description.contains("JSON-based array"))
            }
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64(),
            "number" => value.is_number(),
            other => panic!("unexpected type {other}"),
        };
        assert!(fits, "{key} = {value} does not fit {parameter}");
    }
    if let Some(blocks) = body.get("blocks") {
        check_blocks(blocks);
    }
}

/// Block Kit limits (docs.slack.dev/reference/block-kit): section text 1-3000
/// characters, up to 25 buttons per actions block, label up to 75, action id up to 255
/// and unique in the block, value up to 2000.
fn check_blocks(blocks: &Value) {
    let blocks = blocks.as_array().unwrap();
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "section" => {
                assert_eq!(block["text"]["type"], "plain_text");
                let length = block["text"]["text"].as_str().unwrap().chars().count();
                assert!((1..=3000).contains(&length), "section of {length}");
            }
            "actions" => {
                let elements = block["elements"].as_array().unwrap();
                assert!((1..=25).contains(&elements.len()));
                let mut ids = Vec::new();
                for button in elements {
                    assert_eq!(button["type"], "button");
                    assert_eq!(button["text"]["type"], "plain_text");
                    assert!(button["text"]["text"].as_str().unwrap().chars().count() <= 75);
                    let id = button["action_id"].as_str().unwrap();
                    assert!(id.len() <= 255 && !ids.contains(&id));
                    ids.push(id);
                    assert!(button["value"].as_str().unwrap().len() <= 2000);
                }
            }
            other => panic!("unexpected block {other}"),
        }
    }
}

fn ok_answer() -> ScriptedResponse {
    ScriptedResponse::json(
        200,
        json!({
            "ok": true, "channel": DM, "ts": "1700000000.000100",
            "message": {"type": "message", "subtype": "bot_message", "text": "#1: hello",
                        "ts": "1700000000.000100", "username": "fraser", "bot_id": "B0BOT0001"}
        }),
    )
}

struct SlackPlatform;

impl Platform for SlackPlatform {
    fn adapter(&self, api_url: &str) -> PlatformAdapter {
        adapter(api_url)
    }

    fn signed_message(&self, text: &str, message_id: &str) -> (String, Headers, Vec<u8>) {
        let number: u32 = message_id
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap();
        let ts = format!("1700000000.{number:06}");
        let body = callback(
            &format!("Ev0000{number}"),
            message_event(DM, "im", text, &ts),
        );
        (PATH.into(), signed(JSON, &body), body)
    }

    fn is_send(&self, request: &RecordedRequest) -> bool {
        request.path == "/chat.postMessage"
    }

    fn sent_text(&self, request: &RecordedRequest) -> String {
        request.json()["text"].as_str().unwrap().to_string()
    }

    fn validate_send(&self, request: &RecordedRequest) {
        check_post_message(request);
    }

    fn ok(&self) -> ScriptedResponse {
        ok_answer()
    }

    fn rate_limited(&self, seconds: u64) -> ScriptedResponse {
        ScriptedResponse::json(429, json!({"ok": false, "error": "ratelimited"}))
            .with_header("retry-after", &seconds.to_string())
    }
}

#[tokio::test]
async fn slack_standard_end_to_end() {
    crate::support::standard_end_to_end(&SlackPlatform).await;
}

#[tokio::test]
async fn slack_standard_bad_input() {
    crate::support::standard_bad_input(&SlackPlatform, |body| (PATH.into(), signed(JSON, body)))
        .await;
}

/// The fake's success answer has the fields the spec's 200 schema requires, and `ok`,
/// `channel` and `ts` match their definitions (checked one by one: the whole spec does
/// not compile as draft 2020-12 because of Swagger's tuple form of `items`).
#[test]
fn slack_fake_answers_match_the_spec() {
    let spec = fixture_json("slack", "slack_web_openapi_v2.json");
    let schema = &spec["paths"]["/chat.postMessage"]["post"]["responses"]["200"]["schema"];
    let answer: Value = serde_json::from_str(&ok_answer().body).unwrap();
    for required in schema["required"].as_array().unwrap() {
        assert!(
            answer.get(required.as_str().unwrap()).is_some(),
            "{required} missing"
        );
    }
    for field in ["ok", "channel", "ts"] {
        let pointer = schema["properties"][field]["$ref"].as_str().unwrap();
        let name = pointer.trim_start_matches("#/definitions/");
        let definition = json!({"definitions": {name: spec["definitions"][name]}});
        SchemaCheck::new(&definition, pointer).assert_valid(&answer[field]);
    }
    assert!(answer["message"].is_object());
}

#[tokio::test]
async fn slack_dm_fixture_is_parsed_stored_once_and_answered() {
    let body = fixture("slack", "event-message-im.json");
    wrapper_schema().assert_valid(&serde_json::from_slice(&body).unwrap());
    let fake = FakePlatform::start(ok_answer()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let messages = harness
        .state
        .messengers
        .inbound("slack")
        .unwrap()
        .parse(&Default::default(), &body)
        .unwrap();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.chat_id, "channelId");
    assert_eq!(message.sender_id, "userId");
    assert_eq!(message.sender_name, "userId");
    assert_eq!(message.text, "Hello");
    assert_eq!(message.message_id, "channelId:1568915625.001000");
    assert!(!message.is_group);
    assert_eq!(message.reply_context, json!({"channel": "channelId"}));

    // Delivered, then retried by Slack (X-Slack-Retry-Num): one turn.
    assert_eq!(
        post(&harness, &signed(JSON, &body), &body).await,
        StatusCode::OK
    );
    let mut retry = signed(JSON, &body);
    retry.push(("x-slack-retry-num".into(), "1".into()));
    retry.push(("x-slack-retry-reason".into(), "http_timeout".into()));
    assert_eq!(post(&harness, &retry, &body).await, StatusCode::OK);
    assert_eq!(harness.inbox_pending().await, 1);
    harness.drain().await;
    let sends = fake.requests();
    assert_eq!(sends.len(), 1);
    check_post_message(&sends[0]);
    let sent = sends[0].json();
    assert_eq!(
        (sent["channel"].as_str(), sent["text"].as_str()),
        (Some("channelId"), Some("#1: Hello"))
    );
    assert!(sent.get("thread_ts").is_none());
}

#[tokio::test]
async fn slack_schema_examples_give_the_right_turns() {
    let schema = fixture_json("slack", "slack_common_event_wrapper_schema.json");
    let harness = Harness::new(adapter("http://127.0.0.1:9")).await;
    // The wrapper's own examples: resources_added and reaction_added, no text.
    for example in schema["examples"].as_array().unwrap() {
        let body = example.to_string().into_bytes();
        assert_eq!(
            post(&harness, &signed(JSON, &body), &body).await,
            StatusCode::OK,
            "{example}"
        );
    }
    assert_eq!(harness.inbox_pending().await, 0);
    // The example event (a message in the app's home, a DM) is a turn.
    let event = schema["properties"]["event"]["examples"][0].clone();
    let body = callback("Ev0PV52K25", event);
    assert_eq!(
        post(&harness, &signed(JSON, &body), &body).await,
        StatusCode::OK
    );
    let messages = harness
        .state
        .messengers
        .inbound("slack")
        .unwrap()
        .parse(&Default::default(), &body)
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, "How many cats did we herd yesterday?");
    assert_eq!(messages[0].chat_id, "D0PNCRP9N");
    assert_eq!(messages[0].sender_id, "U061F7AUR");
    assert!(!messages[0].is_group);
    assert_eq!(harness.inbox_pending().await, 1);
}

#[tokio::test]
async fn slack_url_verification_answers_the_challenge_after_the_signature() {
    let body = fixture("slack", "url-verification.json");
    let harness = Harness::new(adapter("http://127.0.0.1:9")).await;
    let headers: Headers = signed(JSON, &body);
    let answer = harness.post(PATH, &headers, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"challenge": "valid_challenge_token"}));
    let unsigned = harness.post(PATH, &[("content-type", JSON)], &body).await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    assert_eq!(harness.inbox_pending().await, 0);
}

#[tokio::test]
async fn slack_bad_signatures_are_401_and_store_nothing() {
    let body = fixture("slack", "event-message-im.json");
    let fake = FakePlatform::start(ok_answer()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let at = now();
    let good = headers_at(JSON, &body, at);
    let with = |name: &str, value: String| -> Headers {
        let mut headers: Headers = good
            .iter()
            .filter(|(key, _)| key != name)
            .cloned()
            .collect();
        headers.push((name.into(), value));
        headers
    };
    let without = |name: &str| -> Headers {
        good.iter()
            .filter(|(key, _)| key != name)
            .cloned()
            .collect()
    };
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let cases: Vec<(&str, Headers, &[u8])> = vec![
        (
            "wrong secret",
            with(
                "x-slack-signature",
                signature("other", &at.to_string(), &body),
            ),
            &body,
        ),
        ("tampered body", good.clone(), &tampered),
        ("missing signature", without("x-slack-signature"), &body),
        (
            "missing timestamp",
            without("x-slack-request-timestamp"),
            &body,
        ),
        ("stale timestamp", headers_at(JSON, &body, at - 301), &body),
        ("future timestamp", headers_at(JSON, &body, at + 600), &body),
        (
            "other timestamp than signed",
            with("x-slack-request-timestamp", (at - 1).to_string()),
            &body,
        ),
        (
            "not v0",
            with(
                "x-slack-signature",
                signature(SECRET, &at.to_string(), &body).replace("v0=", "v1="),
            ),
            &body,
        ),
        (
            "not hex",
            with("x-slack-signature", "v0=nothex".into()),
            &body,
        ),
    ];
    for (case, headers, body) in cases {
        assert_eq!(
            post(&harness, &headers, body).await,
            StatusCode::UNAUTHORIZED,
            "{case}"
        );
    }
    assert_eq!(
        post(&harness, &good, &body).await,
        StatusCode::OK,
        "the good one passes"
    );
    assert_eq!(harness.inbox_pending().await, 1);
}

#[tokio::test]
async fn slack_documented_vector_verifies_with_an_injected_clock() {
    // api.slack.com/authentication/verifying-requests-from-slack (see PLATFORMS.md).
    let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("x-slack-request-timestamp", "1531420618".parse().unwrap());
    headers.insert(
        "x-slack-signature",
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
            .parse()
            .unwrap(),
    );
    let mut documented = settings("http://127.0.0.1:9", SendLimits::default());
    documented.signing_secret = Secret::new("8f742231b10e8888abcd99yyyzzz85a5");
    let then = Slack::new(documented.clone()).with_clock(|| 1_531_420_618 + 10);
    assert_eq!(server::Inbound::verify(&then, &headers, body), Ok(()));
    let today = Slack::new(documented);
    let stale = server::Inbound::verify(&today, &headers, body).unwrap_err();
    assert!(stale.0.contains("away from now"), "{stale}");
}

#[tokio::test]
async fn slack_buttons_render_as_blocks_and_clicks_come_back_as_commands() {
    let fake = FakePlatform::start(ok_answer()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let messenger = harness.state.messengers.messenger("slack").unwrap().clone();
    let chat = ChatAddress {
        platform: "slack".into(),
        chat_id: CHANNEL.into(),
        is_group: true,
        reply_context: json!({"channel": CHANNEL, "thread_ts": "1700000000.000001"}),
    };
    let reply = Reply {
        text: "#1: Paris & <Rome>".into(),
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
    assert_eq!(messenger.send(&chat, &reply).await, SendOutcome::Sent);
    let request = fake.requests().pop().unwrap();
    check_post_message(&request);
    let sent = request.json();
    assert_eq!(sent["text"], "#1: Paris &amp; &lt;Rome&gt;");
    assert_eq!(sent["mrkdwn"], false);
    assert_eq!(sent["thread_ts"], "1700000000.000001");
    assert_eq!(
        sent["blocks"][0]["text"]["text"],
        "#1: Paris &amp; &lt;Rome&gt;"
    );
    let buttons = sent["blocks"][1]["elements"].as_array().unwrap().clone();
    assert_eq!(buttons.len(), 2);
    assert_eq!(
        (
            buttons[0]["text"]["text"].as_str(),
            buttons[0]["value"].as_str(),
            buttons[0]["action_id"].as_str()
        ),
        (Some("Hint"), Some("hint"), Some("hint"))
    );

    // The player clicks Hint: Slack posts a block_actions payload to the same URL.
    let click = json!({
        "type": "block_actions",
        "user": {"id": "U0PLAYER1", "username": "ann", "name": "ann", "team_id": "T0TEAM001"},
        "api_app_id": "A0APP0001", "token": "XXYYZZ",
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": CHANNEL, "is_ephemeral": false, "thread_ts": "1700000000.000001"},
        "trigger_id": "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
        "team": {"id": "T0TEAM001", "domain": "example"},
        "channel": {"id": CHANNEL, "name": "games"},
        "message": {"type": "message", "ts": "1700000000.000100", "thread_ts": "1700000000.000001", "text": sent["text"], "blocks": sent["blocks"]},
        "actions": [{"type": "button", "block_id": "b1", "action_id": buttons[0]["action_id"], "text": buttons[0]["text"], "value": buttons[0]["value"], "action_ts": "1700000001.000200"}]
    });
    let body = interaction_form(&click);
    assert_eq!(
        post(&harness, &signed(FORM, &body), &body).await,
        StatusCode::OK
    );
    assert_eq!(
        post(&harness, &signed(FORM, &body), &body).await,
        StatusCode::OK
    );
    assert_eq!(harness.inbox_pending().await, 1, "one click, one turn");
    harness.drain().await;
    let answer = fake.requests().pop().unwrap();
    check_post_message(&answer);
    let answer = answer.json();
    assert_eq!(answer["text"], "#1: hint");
    assert_eq!(answer["channel"], CHANNEL);
    assert_eq!(
        answer["thread_ts"], "1700000000.000001",
        "answered in the thread"
    );
    // A click signed as JSON or not signed at all is refused.
    assert_eq!(
        post(&harness, &[("content-type".into(), FORM.into())], &body).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn slack_mentions_in_threads_are_answered_there_once() {
    let fake = FakePlatform::start(ok_answer()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let ts = "1700000000.000500";
    let mut mention = json!({
        "type": "app_mention", "user": "U0PLAYER1", "text": format!("<@{BOT}> Paris"),
        "ts": ts, "thread_ts": "1700000000.000400", "channel": CHANNEL, "event_ts": ts,
    });
    let body = callback("Ev0MENTION1", mention.clone());
    assert_eq!(
        post(&harness, &signed(JSON, &body), &body).await,
        StatusCode::OK
    );
    // The same post as a message.channels event (another event id): no second turn.
    mention["type"] = json!("message");
    mention["channel_type"] = json!("channel");
    let body = callback("Ev0MESSAGE1", mention);
    assert_eq!(
        post(&harness, &signed(JSON, &body), &body).await,
        StatusCode::OK
    );
    assert_eq!(harness.inbox_pending().await, 1);
    harness.drain().await;
    let sends = fake.requests();
    assert_eq!(sends.len(), 1);
    check_post_message(&sends[0]);
    let sent = sends[0].json();
    assert_eq!(sent["text"], "#1: Paris");
    assert_eq!(sent["channel"], CHANNEL);
    assert_eq!(sent["thread_ts"], "1700000000.000400");
}

#[tokio::test]
async fn slack_events_without_player_text_give_no_turn() {
    let harness = Harness::new(adapter("http://127.0.0.1:9")).await;
    let ts = "1700000000.000600";
    let events = [
        // The bot's own reply.
        json!({"type": "message", "subtype": "bot_message", "bot_id": "B0BOT0001", "text": "#1: hi", "ts": ts, "channel": CHANNEL, "channel_type": "channel", "event_ts": ts}),
        json!({"type": "message", "bot_id": "B0BOT0001", "user": BOT, "text": "#1: hi", "ts": ts, "channel": DM, "channel_type": "im", "event_ts": ts}),
        // An edit, a deletion, a join message.
        json!({"type": "message", "subtype": "message_changed", "hidden": true, "channel": CHANNEL, "channel_type": "channel", "ts": ts, "event_ts": ts, "message": {"type": "message", "user": "U0PLAYER1", "text": "Rome", "ts": "1700000000.000100"}}),
        json!({"type": "message", "subtype": "message_deleted", "hidden": true, "channel": CHANNEL, "ts": ts, "deleted_ts": "1700000000.000100", "event_ts": ts}),
        json!({"type": "message", "subtype": "channel_join", "user": "U0PLAYER2", "text": "<@U0PLAYER2> has joined the channel", "channel": CHANNEL, "ts": ts, "event_ts": ts}),
        // Someone else joining, a reaction, a mention without words.
        json!({"type": "member_joined_channel", "user": "U0PLAYER2", "channel": CHANNEL, "channel_type": "C", "team": "T0TEAM001", "event_ts": ts}),
        json!({"type": "reaction_added", "user": "U0PLAYER1", "reaction": "thumbsup", "item_user": BOT, "item": {"type": "message", "channel": CHANNEL, "ts": ts}, "event_ts": ts}),
        json!({"type": "app_mention", "user": "U0PLAYER1", "text": format!("<@{BOT}>"), "ts": ts, "channel": CHANNEL, "event_ts": ts}),
    ];
    for (index, event) in events.into_iter().enumerate() {
        let body = callback(&format!("Ev0IGNORE{index}"), event.clone());
        assert_eq!(
            post(&harness, &signed(JSON, &body), &body).await,
            StatusCode::OK,
            "{event}"
        );
    }
    let other_interaction =
        interaction_form(&json!({"type": "view_closed", "user": {"id": "U0PLAYER1"}}));
    assert_eq!(
        post(
            &harness,
            &signed(FORM, &other_interaction),
            &other_interaction
        )
        .await,
        StatusCode::OK
    );
    let rate_limited = json!({"token": "XXYYZZ", "team_id": "T0TEAM001", "minute_rate_limited": 1518467820, "api_app_id": "A0APP0001", "type": "app_rate_limited"}).to_string().into_bytes();
    assert_eq!(
        post(&harness, &signed(JSON, &rate_limited), &rate_limited).await,
        StatusCode::OK
    );
    assert_eq!(harness.inbox_pending().await, 0);
}

#[tokio::test]
async fn slack_bot_added_to_a_channel_greets_it() {
    let fake = FakePlatform::start(ok_answer()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let body = callback(
        "Ev0JOINED1",
        json!({"type": "member_joined_channel", "user": BOT, "channel": CHANNEL, "channel_type": "C", "team": "T0TEAM001", "inviter": "U0PLAYER1", "event_ts": "1700000000.000700"}),
    );
    assert_eq!(
        post(&harness, &signed(JSON, &body), &body).await,
        StatusCode::OK
    );
    assert_eq!(
        post(&harness, &signed(JSON, &body), &body).await,
        StatusCode::OK
    );
    assert_eq!(harness.inbox_pending().await, 1);
    harness.drain().await;
    let sends = fake.requests();
    assert_eq!(sends.len(), 1);
    check_post_message(&sends[0]);
    assert_eq!(sends[0].json()["channel"], CHANNEL);
    assert_eq!(sends[0].json()["text"], "#1: /start");
}

fn chat(channel: &str) -> ChatAddress {
    ChatAddress {
        platform: "slack".into(),
        chat_id: channel.into(),
        is_group: channel.starts_with('C'),
        reply_context: json!({"channel": channel}),
    }
}

#[tokio::test]
async fn slack_send_outcomes_follow_the_answers() {
    let fake = FakePlatform::start(ok_answer()).await;
    let slack = Slack::new(settings(&fake.url(), SendLimits::default()));
    let reply = Reply::text("hi");
    let error = |error: &str| ScriptedResponse::json(200, json!({"ok": false, "error": error}));
    fake.push(error("channel_not_found"));
    fake.push(error("not_in_channel"));
    fake.push(error("ratelimited").with_header("retry-after", "4"));
    fake.push(
        ScriptedResponse::json(429, json!({"ok": false, "error": "ratelimited"}))
            .with_header("retry-after", "7"),
    );
    fake.push(error("internal_error"));
    let channel = chat(CHANNEL);
    let send = || server::Messenger::send(&slack, &channel, &reply);
    assert_eq!(
        send().await,
        SendOutcome::Failed {
            permanent: true,
            reason: "slack error channel_not_found".into()
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
        SendOutcome::RetryAfter(Duration::from_secs(4))
    );
    assert_eq!(
        send().await,
        SendOutcome::RetryAfter(Duration::from_secs(7))
    );
    assert!(matches!(
        send().await,
        SendOutcome::Failed {
            permanent: false,
            ..
        }
    ));
    assert_eq!(send().await, SendOutcome::Sent);
    for request in fake.requests() {
        check_post_message(&request);
    }
    // Nobody listening: retryable, and the reason shows no token.
    let gone = Slack::new(settings("http://127.0.0.1:9", SendLimits::default()));
    match server::Messenger::send(&gone, &chat(CHANNEL), &reply).await {
        SendOutcome::Failed {
            permanent: false,
            reason,
        } => assert!(!reason.contains(TOKEN), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn slack_reply_at_the_limit_is_one_message() {
    let fake = FakePlatform::start(ok_answer()).await;
    let slack = Slack::new(settings(&fake.url(), SendLimits::default()));
    assert_eq!(server::Messenger::max_len(&slack), 4000);
    assert_eq!(MAX_LEN, 4000);
    let text = "é".repeat(MAX_LEN);
    assert_eq!(
        server::Messenger::send(&slack, &chat(DM), &Reply::text(text.clone())).await,
        SendOutcome::Sent
    );
    // With buttons the text fills two sections (3000 + 1000).
    let reply = Reply {
        text: text.clone(),
        buttons: vec![Button {
            label: "Hint".into(),
            command: "hint".into(),
        }],
    };
    assert_eq!(
        server::Messenger::send(&slack, &chat(DM), &reply).await,
        SendOutcome::Sent
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        check_post_message(request);
        assert_eq!(request.json()["text"], text.as_str());
    }
    assert_eq!(requests[1].json()["blocks"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn slack_default_limit_holds_back_a_second_message_to_a_channel() {
    let fake = FakePlatform::start(ok_answer()).await;
    let slack = Slack::new(settings(&fake.url(), SlackSettings::DEFAULT_LIMITS));
    let reply = Reply::text("hi");
    assert_eq!(
        server::Messenger::send(&slack, &chat(CHANNEL), &reply).await,
        SendOutcome::Sent
    );
    match server::Messenger::send(&slack, &chat(CHANNEL), &reply).await {
        SendOutcome::RetryAfter(wait) => assert!(wait <= Duration::from_secs(1), "{wait:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        server::Messenger::send(&slack, &chat(DM), &reply).await,
        SendOutcome::Sent
    );
    assert_eq!(
        fake.requests().len(),
        2,
        "the held-back message was not sent"
    );
}

#[tokio::test]
async fn slack_has_no_registration_api() {
    let slack = Slack::new(settings("http://127.0.0.1:9", SendLimits::default()));
    let error = server::Inbound::register_webhook(&slack, "https://example.org/webhooks/slack")
        .await
        .unwrap_err();
    assert!(error.0.contains("slack"), "{error}");
}
