//! The discord adapter.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use server::messenger::common::{Secret, SendLimits, encode_hex};
use server::messenger::discord::{Discord, DiscordSettings};
use server::messenger::{PlatformAdapter, SendOutcome};
use server::testing::{FakePlatform, RecordedRequest, ScriptedResponse};
use server::{ChatAddress, Reply};

use crate::support::{self, Harness, SchemaCheck};

const APP_ID: &str = "1234560123453231555";
const BOT_TOKEN: &str = "test-bot-token";
const CHANNEL: &str = "645027906669510667";
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
const WAIT: Duration = Duration::from_secs(5);

/// Request headers: (name, value).
type Headers = Vec<(String, String)>;

/// The fixed test key pair: Discord signs, the adapter holds the public half.
fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn settings(api_url: &str, public_key: &SigningKey) -> DiscordSettings {
    DiscordSettings {
        public_key: encode_hex(public_key.verifying_key().as_bytes()),
        application_id: APP_ID.into(),
        bot_token: Secret::new(BOT_TOKEN),
        api_url: api_url.into(),
        limits: SendLimits::default(),
    }
}

fn adapter(api_url: &str) -> PlatformAdapter {
    PlatformAdapter::new(Discord::new(settings(api_url, &signing_key())).unwrap())
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A snowflake created at `ms` with `low` in its 22 low bits.
fn snowflake(ms: u64, low: u64) -> String {
    (((ms - DISCORD_EPOCH_MS) << 22) | (low & 0x3F_FFFF)).to_string()
}

/// Headers Discord sends with `body`, signed by `key` at `timestamp`.
fn signed_by(key: &SigningKey, timestamp: &str, body: &[u8]) -> Headers {
    let mut message = timestamp.as_bytes().to_vec();
    message.extend_from_slice(body);
    vec![
        ("content-type".into(), "application/json".into()),
        (
            "X-Signature-Ed25519".into(),
            encode_hex(&key.sign(&message).to_bytes()),
        ),
        ("X-Signature-Timestamp".into(), timestamp.into()),
    ]
}

fn signed(body: &[u8]) -> Headers {
    signed_by(&signing_key(), &(now_ms() / 1000).to_string(), body)
}

async fn post(harness: &Harness, headers: &[(String, String)], body: &[u8]) -> support::Answer {
    harness.post("/webhooks/discord", headers, body).await
}

/// A button press (MESSAGE_COMPONENT) in a DM with the bot.
fn button_press(id: &str, custom_id: &str) -> Value {
    json!({
        "type": 3,
        "id": id,
        "application_id": APP_ID,
        "token": format!("token-{id}"),
        "version": 1,
        "context": 1,
        "channel_id": "300000000000000001",
        "user": {"id": "53908232506183680", "username": "mason", "global_name": "Mason"},
        "message": {"id": "300000000000000002", "content": "#1: hello"},
        "data": {"custom_id": custom_id, "component_type": 2}
    })
}

fn spec() -> Value {
    support::fixture_json("discord", "discord-openapi.json")
}

/// The JSON request body schema of `method path` in the official spec.
fn request_schema(spec: &Value, path: &str, method: &str) -> SchemaCheck {
    let escaped = path
        .replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D");
    SchemaCheck::new(
        spec,
        &format!("#/paths/{escaped}/{method}/requestBody/content/application~1json/schema"),
    )
}

/// The schemas leave unknown properties open: check every key we send is one the
/// spec's component schema names.
fn assert_known_keys(spec: &Value, schema: &str, object: &Value) {
    let properties = &spec["components"]["schemas"][schema]["properties"];
    for key in object.as_object().expect("an object").keys() {
        assert!(
            properties.get(key).is_some(),
            "{schema} has no property {key}"
        );
    }
}

/// Checks a message body (follow-up or channel message) against the spec.
fn validate_message(request: &RecordedRequest) {
    let spec = spec();
    let body = request.json();
    let (check, schema) = if request.path.starts_with("/webhooks/") {
        (
            request_schema(&spec, "/webhooks/{webhook_id}/{webhook_token}", "post"),
            "IncomingWebhookRequestPartial",
        )
    } else {
        (
            request_schema(&spec, "/channels/{channel_id}/messages", "post"),
            "MessageCreateRequest",
        )
    };
    check.assert_valid(&body);
    assert_known_keys(&spec, schema, &body);
    assert_known_keys(
        &spec,
        "MessageAllowedMentionsRequest",
        &body["allowed_mentions"],
    );
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    for row in body["components"].as_array().into_iter().flatten() {
        assert_known_keys(&spec, "ActionRowComponentForMessageRequest", row);
        for button in row["components"].as_array().expect("buttons") {
            assert_known_keys(&spec, "ButtonComponentForMessageRequest", button);
        }
    }
}

/// The content as users see it: Discord hides a backslash before punctuation.
fn unescape(content: &str) -> String {
    let mut out = String::new();
    let mut chars = content.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '\\'
            && let Some(next) = chars.next_if(char::is_ascii_punctuation)
        {
            out.push(next);
        } else {
            out.push(ch);
        }
    }
    out
}

fn is_message_send(request: &RecordedRequest) -> bool {
    request.method == "POST"
        && (request.path.starts_with("/webhooks/")
            || (request.path.starts_with("/channels/") && request.path.ends_with("/messages")))
}

fn ok_message() -> ScriptedResponse {
    ScriptedResponse::json(
        200,
        json!({"id": "400000000000000001", "channel_id": CHANNEL, "content": "ok"}),
    )
}

fn rate_limit_body(seconds: f64) -> Value {
    json!({"code": 0, "message": "You are being rate limited.", "retry_after": seconds, "global": false})
}

struct DiscordPlatform {
    /// Interaction ids are made from this instant, so redeliveries keep their id.
    base_ms: u64,
}

impl support::Platform for DiscordPlatform {
    fn adapter(&self, api_url: &str) -> PlatformAdapter {
        adapter(api_url)
    }

    fn signed_message(&self, text: &str, message_id: &str) -> (String, Headers, Vec<u8>) {
        let low = message_id.bytes().fold(0u64, |hash, byte| {
            hash.wrapping_mul(31).wrapping_add(u64::from(byte))
        });
        let body = button_press(&snowflake(self.base_ms, low), text).to_string();
        (
            "/webhooks/discord".into(),
            signed(body.as_bytes()),
            body.into_bytes(),
        )
    }

    fn is_send(&self, request: &RecordedRequest) -> bool {
        is_message_send(request)
    }

    fn sent_text(&self, request: &RecordedRequest) -> String {
        unescape(request.json()["content"].as_str().unwrap_or_default())
    }

    fn validate_send(&self, request: &RecordedRequest) {
        validate_message(request);
    }

    fn ok(&self) -> ScriptedResponse {
        ok_message()
    }

    fn rate_limited(&self, seconds: u64) -> ScriptedResponse {
        #[allow(clippy::cast_precision_loss)]
        ScriptedResponse::json(429, rate_limit_body(seconds as f64))
            .with_header("Retry-After", &seconds.to_string())
    }
}

fn platform() -> DiscordPlatform {
    DiscordPlatform { base_ms: now_ms() }
}

#[tokio::test]
async fn standard_end_to_end() {
    support::standard_end_to_end(&platform()).await;
}

#[tokio::test]
async fn standard_bad_input() {
    support::standard_bad_input(&platform(), |body| {
        ("/webhooks/discord".into(), signed(body))
    })
    .await;
}

#[tokio::test]
async fn the_fixture_command_parses_is_deferred_and_answered_in_its_channel() {
    let body = support::fixture("discord", "interaction-slash-command-guild.json");
    let fake = FakePlatform::start(ok_message()).await;
    let discord = adapter(&fake.url());

    let messages = discord.inbound.parse(&HeaderMap::new(), &body).unwrap();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.platform, "discord");
    assert_eq!(message.chat_id, CHANNEL);
    assert_eq!(message.sender_id, "53908232506183680");
    assert_eq!(message.sender_name, "Mason");
    assert_eq!(message.text, "cardsearch The Gitrog Monster");
    assert_eq!(message.message_id, "786008729715212338");
    assert!(message.is_group, "guild_id is set");
    assert_eq!(
        message.reply_context,
        json!({"application_id": APP_ID, "token": "A_UNIQUE_TOKEN", "channel_id": CHANNEL,
               "interaction_ms": 1_607_469_484_500_u64})
    );

    let harness = Harness::new(discord).await;
    let answer = post(&harness, &signed(&body), &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"type": 5}));
    request_schema(
        &spec(),
        "/interactions/{interaction_id}/{interaction_token}/callback",
        "post",
    )
    .assert_valid(&answer.json());
    SchemaCheck::new(
        &spec(),
        "#/components/schemas/CreateMessageInteractionCallbackRequest",
    )
    .assert_valid(&answer.json());
    assert_eq!(harness.inbox_pending().await, 1);

    // The interaction is years old: its token is dead, so the reply is a channel message.
    harness.drain().await;
    let requests = fake.wait_for(1, WAIT).await;
    let send = &requests[0];
    assert_eq!(send.path, format!("/channels/{CHANNEL}/messages"));
    assert_eq!(send.header("authorization"), Some("Bot test-bot-token"));
    assert_eq!(
        unescape(send.json()["content"].as_str().unwrap()),
        "#1: cardsearch The Gitrog Monster"
    );
    assert_eq!(send.json()["enforce_nonce"], true);
    validate_message(send);
}

#[tokio::test]
async fn bad_signatures_are_401_and_store_nothing() {
    let harness = Harness::new(adapter("http://127.0.0.1:9")).await;
    let body = button_press(&snowflake(now_ms(), 1), "hint").to_string();
    let body = body.as_bytes();
    let timestamp = (now_ms() / 1000).to_string();
    let good = signed_by(&signing_key(), &timestamp, body);
    let without = |name: &str| -> Headers {
        good.iter()
            .filter(|(key, _)| !key.eq_ignore_ascii_case(name))
            .cloned()
            .collect()
    };
    let replace = |name: &str, value: &str| -> Headers {
        let mut headers = without(name);
        headers.push((name.into(), value.into()));
        headers
    };
    let mut tampered = body.to_vec();
    let position = tampered.iter().position(|&byte| byte == b'h').unwrap();
    tampered[position] = b'H';
    let cases: Vec<(&str, Headers, Vec<u8>)> = vec![
        (
            "wrong key",
            signed_by(&SigningKey::from_bytes(&[8; 32]), &timestamp, body),
            body.to_vec(),
        ),
        ("tampered body", good.clone(), tampered),
        (
            "other timestamp",
            replace("X-Signature-Timestamp", "1"),
            body.to_vec(),
        ),
        (
            "missing signature",
            without("X-Signature-Ed25519"),
            body.to_vec(),
        ),
        (
            "missing timestamp",
            without("X-Signature-Timestamp"),
            body.to_vec(),
        ),
        (
            "signature not hex",
            replace("X-Signature-Ed25519", "not-hex"),
            body.to_vec(),
        ),
    ];
    for (case, headers, body) in cases {
        let answer = post(&harness, &headers, &body).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{case}");
    }
    // An unsigned PING is refused too (Discord checks this when saving the URL).
    let ping = br#"{"type":1}"#;
    let answer = post(
        &harness,
        &[("content-type".into(), "application/json".into())],
        ping,
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(harness.inbox_pending().await, 0);
    // The correctly signed original is accepted.
    assert_eq!(post(&harness, &good, body).await.status, StatusCode::OK);
    assert_eq!(harness.inbox_pending().await, 1);
}

#[tokio::test]
async fn pings_are_answered_and_store_nothing() {
    let harness = Harness::new(adapter("http://127.0.0.1:9")).await;
    let ping = json!({"type": 1, "id": snowflake(now_ms(), 2), "application_id": APP_ID,
        "token": "t", "version": 1, "user": {"id": "1", "username": "discord"}})
    .to_string();
    let answer = post(&harness, &signed(ping.as_bytes()), ping.as_bytes()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers.get("content-type").unwrap(),
        "application/json"
    );
    assert_eq!(answer.json(), json!({"type": 1}));
    SchemaCheck::new(
        &spec(),
        "#/components/schemas/PongInteractionCallbackRequest",
    )
    .assert_valid(&answer.json());

    // The webhook events PING wants 204 and no body.
    let event_ping = json!({"version": 1, "application_id": APP_ID, "type": 0}).to_string();
    let answer = post(
        &harness,
        &signed(event_ping.as_bytes()),
        event_ping.as_bytes(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(answer.body.is_empty());
    assert_eq!(harness.inbox_pending().await, 0);
}

#[tokio::test]
async fn buttons_are_components_and_presses_come_back_as_commands() {
    let fake = FakePlatform::start(ok_message()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let id = snowflake(now_ms(), 3);
    let press = button_press(&id, "play").to_string();
    let answer = post(&harness, &signed(press.as_bytes()), press.as_bytes()).await;
    assert_eq!(answer.json(), json!({"type": 6}), "a deferred update");
    SchemaCheck::new(
        &spec(),
        "#/components/schemas/UpdateMessageInteractionCallbackRequest",
    )
    .assert_valid(&answer.json());
    harness.drain().await;

    let requests = fake.wait_for(1, WAIT).await;
    let send = &requests[0];
    assert_eq!(
        send.path,
        format!("/webhooks/{APP_ID}/token-{id}"),
        "a follow-up"
    );
    assert_eq!(
        send.header("authorization"),
        None,
        "the token is the credential"
    );
    validate_message(send);
    let components = &send.json()["components"];
    assert_eq!(
        components,
        &json!([{"type": 1, "components": [
            {"type": 2, "style": 1, "label": "Hint", "custom_id": "hint"},
            {"type": 2, "style": 2, "label": "Skip", "custom_id": "skip"}
        ]}])
    );

    // Pressing Hint sends its custom_id back: the game plays `hint`.
    let custom_id = components[0]["components"][0]["custom_id"]
        .as_str()
        .unwrap();
    let press = button_press(&snowflake(now_ms(), 4), custom_id).to_string();
    let answer = post(&harness, &signed(press.as_bytes()), press.as_bytes()).await;
    assert_eq!(answer.status, StatusCode::OK);
    harness.drain().await;
    let requests = fake.wait_for(2, WAIT).await;
    assert_eq!(
        unescape(requests[1].json()["content"].as_str().unwrap()),
        "#2: hint"
    );
}

fn chat(context: Value) -> ChatAddress {
    ChatAddress {
        platform: "discord".into(),
        chat_id: CHANNEL.into(),
        is_group: true,
        reply_context: context,
    }
}

fn fresh_context() -> Value {
    json!({"application_id": APP_ID, "token": "fresh", "channel_id": CHANNEL,
           "interaction_ms": now_ms()})
}

#[tokio::test]
async fn a_reply_at_the_limit_is_one_message() {
    let fake = FakePlatform::start(ok_message()).await;
    let discord = adapter(&fake.url());
    assert_eq!(discord.messenger.max_len(), 2000);
    let text = "a".repeat(1999) + "*";
    let outcome = discord
        .messenger
        .send(&chat(fresh_context()), &Reply::text(text.clone()))
        .await;
    assert_eq!(outcome, SendOutcome::Sent);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, format!("/webhooks/{APP_ID}/fresh"));
    // Escaping the `*` would pass 2000 characters: the text goes as it is.
    assert_eq!(requests[0].json()["content"], text);
    validate_message(&requests[0]);
}

#[tokio::test]
async fn expired_tokens_fall_back_to_a_channel_message() {
    let fake = FakePlatform::start(ok_message()).await;
    let discord = adapter(&fake.url());
    let reply = Reply::text("Round 1 > go");

    // Older than 15 minutes: straight to the channel, as the bot.
    let mut old = fresh_context();
    old["interaction_ms"] = json!(now_ms() - 16 * 60 * 1000);
    assert_eq!(
        discord.messenger.send(&chat(old.clone()), &reply).await,
        SendOutcome::Sent
    );
    // Fresh by the clock, but Discord no longer knows the token.
    fake.push(ScriptedResponse::json(
        404,
        json!({"code": 10015, "message": "Unknown Webhook"}),
    ));
    assert_eq!(
        discord.messenger.send(&chat(fresh_context()), &reply).await,
        SendOutcome::Sent
    );
    let requests = fake.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    let channel = format!("/channels/{CHANNEL}/messages");
    let follow_up = format!("/webhooks/{APP_ID}/fresh");
    assert_eq!(
        paths,
        [channel.as_str(), follow_up.as_str(), channel.as_str()]
    );
    for request in [&requests[0], &requests[2]] {
        assert_eq!(request.header("authorization"), Some("Bot test-bot-token"));
        assert_eq!(request.json()["content"], "Round 1 > go");
        validate_message(request);
    }
    // The same reply to the same interaction again has the same nonce, so Discord
    // keeps one copy; another interaction's reply has another.
    assert_ne!(requests[0].json()["nonce"], requests[2].json()["nonce"]);
    discord.messenger.send(&chat(old), &reply).await;
    assert_eq!(
        fake.requests()[3].json()["nonce"],
        requests[0].json()["nonce"]
    );
}

#[tokio::test]
async fn rate_limits_errors_and_local_limits() {
    let spec = spec();
    let fake = FakePlatform::start(ok_message()).await;
    let discord = adapter(&fake.url());
    let reply = Reply::text("x");

    // The body's retry_after (fractional seconds) is all Discord must send.
    let body = rate_limit_body(2.5);
    SchemaCheck::new(&spec, "#/components/schemas/RatelimitedResponse").assert_valid(&body);
    fake.push(ScriptedResponse::json(429, body));
    assert_eq!(
        discord.messenger.send(&chat(fresh_context()), &reply).await,
        SendOutcome::RetryAfter(Duration::from_millis(2500))
    );
    fake.push(ScriptedResponse::json(
        403,
        json!({"code": 50013, "message": "Missing Permissions"}),
    ));
    assert!(matches!(
        discord.messenger.send(&chat(json!({})), &reply).await,
        SendOutcome::Failed {
            permanent: true,
            ..
        }
    ));
    fake.push(ScriptedResponse::json(502, json!({})));
    assert!(matches!(
        discord.messenger.send(&chat(json!({})), &reply).await,
        SendOutcome::Failed {
            permanent: false,
            ..
        }
    ));
    assert_eq!(fake.requests().len(), 3);

    // A local limit holds a send back without calling Discord.
    let limited = FakePlatform::start(ok_message()).await;
    let mut with_limits = settings(&limited.url(), &signing_key());
    with_limits.limits = SendLimits {
        global: Some(1),
        ..DiscordSettings::DEFAULT_LIMITS
    };
    let discord = PlatformAdapter::new(Discord::new(with_limits).unwrap());
    let first = discord.messenger.send(&chat(json!({})), &reply).await;
    let second = discord.messenger.send(&chat(json!({})), &reply).await;
    assert_eq!(first, SendOutcome::Sent);
    assert!(
        matches!(second, SendOutcome::RetryAfter(wait) if wait <= Duration::from_secs(1)),
        "{second:?}"
    );
    assert_eq!(limited.requests().len(), 1);
}

#[tokio::test]
async fn being_added_to_a_server_greets_it() {
    let fake = FakePlatform::start(ok_message()).await;
    let harness = Harness::new(adapter(&fake.url())).await;
    let event = json!({
        "version": 1, "application_id": APP_ID, "type": 1,
        "event": {"type": "APPLICATION_AUTHORIZED", "timestamp": "2024-10-18T14:42:53.064834",
            "data": {"integration_type": 0, "scopes": ["applications.commands", "bot"],
                "user": {"id": "53908232506183680", "username": "mason"},
                "guild": {"id": "290926798626357999", "name": "Quiz",
                    "system_channel_id": CHANNEL}}}
    })
    .to_string();
    for _ in 0..2 {
        let answer = post(&harness, &signed(event.as_bytes()), event.as_bytes()).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(
        harness.run_turns().await,
        1,
        "a redelivered event is one turn"
    );
    harness.run_sends().await;
    let requests = fake.wait_for(1, WAIT).await;
    assert_eq!(requests[0].path, format!("/channels/{CHANNEL}/messages"));
    assert_eq!(
        unescape(requests[0].json()["content"].as_str().unwrap()),
        "#1: /start"
    );
    validate_message(&requests[0]);
}

#[tokio::test]
async fn register_webhook_overwrites_commands_and_sets_the_endpoint() {
    let spec = spec();
    let fake = FakePlatform::start(ScriptedResponse::json(200, json!([]))).await;
    let discord = adapter(&fake.url());
    let url = "https://bot.example.org/webhooks/discord";
    let done = discord.inbound.register_webhook(url).await.unwrap();
    assert!(done.contains(url), "{done}");

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let commands = &requests[0];
    assert_eq!(commands.method, "PUT");
    assert_eq!(commands.path, format!("/applications/{APP_ID}/commands"));
    assert_eq!(commands.header("authorization"), Some("Bot test-bot-token"));
    let body = commands.json();
    request_schema(&spec, "/applications/{application_id}/commands", "put").assert_valid(&body);
    let names: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|command| command["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["play", "guess", "hint", "skip", "score"]);
    for command in body.as_array().unwrap() {
        assert_known_keys(&spec, "ApplicationCommandUpdateRequest", command);
        assert!(!command["description"].as_str().unwrap().is_empty());
        for option in command["options"].as_array().unwrap() {
            assert_known_keys(&spec, "ApplicationCommandStringOption", option);
        }
    }
    assert_eq!(body[1]["options"][0]["name"], "answer");
    assert_eq!(body[1]["options"][0]["required"], true);

    let application = &requests[1];
    assert_eq!(application.method, "PATCH");
    assert_eq!(application.path, "/applications/@me");
    assert_eq!(
        application.header("authorization"),
        Some("Bot test-bot-token")
    );
    let body = application.json();
    request_schema(&spec, "/applications/@me", "patch").assert_valid(&body);
    assert_known_keys(&spec, "ApplicationFormPartial", &body);
    assert_eq!(body["interactions_endpoint_url"], url);

    // A refusal is reported without the token.
    fake.push(ScriptedResponse::json(
        401,
        json!({"code": 0, "message": "401: Unauthorized"}),
    ));
    let error = discord.inbound.register_webhook(url).await.unwrap_err();
    assert!(error.0.contains("401"), "{error}");
    assert!(!error.0.contains(BOT_TOKEN), "{error}");
}

/// The request schemas found by path really constrain the bodies.
#[test]
fn the_spec_schemas_reject_bad_bodies() {
    let spec = spec();
    let follow_up = request_schema(&spec, "/webhooks/{webhook_id}/{webhook_token}", "post");
    follow_up.assert_valid(&json!({"content": "a".repeat(2000)}));
    assert!(!follow_up.is_valid(&json!({"content": "a".repeat(2001)})));
    let bad_button = json!({"content": "x", "components": [{"type": 1, "components": [
        {"type": 2, "style": 9, "label": "Hint", "custom_id": "hint"}]}]});
    assert!(!follow_up.is_valid(&bad_button));
    let channel = request_schema(&spec, "/channels/{channel_id}/messages", "post");
    assert!(!channel.is_valid(&json!({"content": 5})));
    let commands = request_schema(&spec, "/applications/{application_id}/commands", "put");
    assert!(!commands.is_valid(&json!([{"description": "no name"}])));
}
