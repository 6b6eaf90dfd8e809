//! The Bot Framework adapter: JWT verification (tokens signed with the test keys in
//! `tests/data/messengers/botframework/test-keys/`), key fetching and rotation, Activity
//! parsing against the protocol's JSON Schema, and sends to a fake Bot Connector
//! validated against the Connector's Swagger spec.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use server::messenger::PlatformAdapter;
use server::messenger::botframework::{
    BotFramework, BotFrameworkSettings, DEFAULT_ISSUER, MAX_LEN, ReplyTarget, render_activity,
};
use server::messenger::common::{Secret, SendLimits};
use server::testing::{FakePlatform, RecordedRequest, ScriptedResponse};
use server::{Button, InboundMessage, Reply, SendOutcome};

use crate::support::{self, Harness, Platform, SchemaCheck, fixture_json};

const APP_ID: &str = "fraser-test-app-id";
const APP_PASSWORD: &str = "fraser-test-app-password";
const KID: &str = "fraser-test-key-1";
const OTHER_KID: &str = "fraser-test-key-2";
const WEBHOOK: &str = "/webhooks/botframework";
/// Nothing listens there: adapters whose keys are installed by hand never get new ones.
const NO_OPENID: &str = "http://127.0.0.1:9/openid";

// ---------------------------------------------------------------------------------------
// Tokens, activities, adapters

fn key_file(name: &str) -> Vec<u8> {
    support::fixture("botframework", &format!("test-keys/{name}"))
}

fn jwks() -> Value {
    fixture_json("botframework", "test-keys/jwks.json")
}

fn both_jwks() -> Value {
    let mut keys = jwks();
    let other = fixture_json("botframework", "test-keys/jwks-other.json");
    let extra = other["keys"][0].clone();
    keys["keys"].as_array_mut().unwrap().push(extra);
    keys
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims of a token the Bot Connector would send for `service_url`.
fn claims(service_url: &str) -> Value {
    json!({
        "iss": DEFAULT_ISSUER,
        "aud": APP_ID,
        "exp": now() + 3600,
        "nbf": now() - 60,
        "serviceurl": service_url,
    })
}

/// Signs `claims` with RS256, naming `kid`, with the private key file `key`.
fn sign(claims: &Value, kid: &str, key: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&key_file(key))).unwrap()
}

fn valid_token(service_url: &str) -> String {
    sign(&claims(service_url), KID, "signing-private-pkcs1.der")
}

/// A Teams 1:1 message activity, shaped like the docs' fixture.
fn message_activity(service_url: &str, text: &str, id: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "timestamp": "2026-07-01T10:00:00.000Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": "29:user-1", "name": "Megan Bowen", "aadObjectId": "7faf8ab2-3d56-4244-b585-20c8a42ed2b8"},
        "conversation": {"conversationType": "personal", "id": "a:personal-chat-1"},
        "recipient": {"id": "28:bot-app", "name": "Fraser"},
        "textFormat": "plain",
        "text": text,
        "locale": "en-US"
    })
}

/// A Teams channel message (group), the bot mentioned.
fn channel_activity(service_url: &str, text: &str, id: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": "29:user-2", "name": "Ana"},
        "conversation": {
            "isGroup": true,
            "conversationType": "channel",
            "id": "19:general@thread.tacv2;messageid=1632474074231",
            "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"
        },
        "recipient": {"id": "28:bot-app", "name": "Fraser"},
        "text": format!("<at>Fraser</at> {text}"),
        "entities": [{
            "type": "mention",
            "text": "<at>Fraser</at>",
            "mentioned": {"id": "28:bot-app", "name": "Fraser"}
        }],
        "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}}
    })
}

/// The bot installed in a group chat.
fn bot_added_activity(service_url: &str) -> Value {
    json!({
        "type": "conversationUpdate",
        "id": "f:5843470c-a0a7-4bd0-b2e7-5b8a2d0c3ffd",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": "29:user-2", "name": "Ana"},
        "conversation": {"isGroup": true, "conversationType": "groupChat", "id": "19:group-chat-1@thread.v2"},
        "recipient": {"id": "28:bot-app", "name": "Fraser"},
        "membersAdded": [{"id": "28:bot-app", "name": "Fraser"}],
        "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}, "eventType": "teamMemberAdded"}
    })
}

fn settings(token_url: &str, openid_url: &str) -> BotFrameworkSettings {
    BotFrameworkSettings {
        openid_url: openid_url.into(),
        token_url: token_url.into(),
        limits: SendLimits::default(),
        ..BotFrameworkSettings::new(Secret::new(APP_ID), Secret::new(APP_PASSWORD))
    }
}

/// An adapter that trusts the test key, gets app tokens from `token_url`, limits off.
fn adapter(token_url: &str) -> PlatformAdapter {
    adapter_with(settings(token_url, NO_OPENID), &jwks())
}

fn adapter_with(settings: BotFrameworkSettings, keys: &Value) -> PlatformAdapter {
    let bot = BotFramework::new(settings);
    assert!(bot.install_keys(keys).unwrap() >= 1);
    PlatformAdapter::new(bot)
}

fn token_answer(token: &str) -> ScriptedResponse {
    ScriptedResponse::json(
        200,
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}),
    )
}

async fn token_server() -> FakePlatform {
    FakePlatform::start(token_answer("app-token-1")).await
}

async fn post(harness: &Harness, token: Option<&str>, activity: &Value) -> support::Answer {
    let body = serde_json::to_vec(activity).unwrap();
    let bearer = token.map(|token| format!("Bearer {token}"));
    let mut headers = vec![("content-type", "application/json; charset=utf-8")];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer.as_str()));
    }
    harness.post(WEBHOOK, &headers, &body).await
}

/// Loads a Bot Framework schema document with AutoRest's reading of one keyword.
///
/// Both documents were generated by AutoRest (which also generated the SDKs), where
/// `"type": "object"` on a property without `properties` means "any value" (C#
/// `object`): `Attachment.content` is the HTML string in the real Teams fixture, and
/// `CardAction.value` of an `imBack` button is the string to post back in every SDK.
/// JSON Schema reads the keyword as "must be an object", so exactly those untyped
/// properties lose their `type`; everything else is checked as written.
fn bot_framework_schema(file: &str, expected: &str) -> serde_json::Value {
    let mut spec = fixture_json("botframework", file);
    let mut relaxed = Vec::new();
    for (name, definition) in spec["definitions"].as_object_mut().unwrap() {
        let Some(properties) = definition
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for (property, schema) in properties {
            let Some(schema) = schema.as_object_mut() else {
                continue;
            };
            let untyped = schema.get("type") == Some(&json!("object"))
                && !["properties", "additionalProperties", "$ref", "items"]
                    .iter()
                    .any(|key| schema.contains_key(*key));
            if untyped {
                schema.remove("type");
                relaxed.push(format!("{name}.{property}"));
            }
        }
    }
    assert!(
        relaxed.iter().any(|name| name == expected),
        "the spec changed: revisit this reading ({relaxed:?})"
    );
    spec
}

/// The protocol's JSON Schema, `#/definitions/Activity`.
fn protocol_check() -> SchemaCheck {
    let spec = bot_framework_schema("botframework-protocol.schema.json", "Attachment.content");
    SchemaCheck::new(&spec, "#/definitions/Activity")
}

/// The Connector's Swagger 2.0 spec, `#/definitions/Activity`.
fn connector_check() -> SchemaCheck {
    let spec = bot_framework_schema("botframework-channel.json", "CardAction.value");
    SchemaCheck::new(&spec, "#/definitions/Activity")
}

fn is_send(request: &RecordedRequest) -> bool {
    request.method == "POST" && request.path.contains("/v3/conversations/")
}

fn sends(fake: &FakePlatform) -> Vec<RecordedRequest> {
    fake.requests().into_iter().filter(is_send).collect()
}

/// Checks a send against both specs and the Connector's route.
fn validate_send(request: &RecordedRequest) {
    let body = request.json();
    connector_check().assert_valid(&body);
    protocol_check().assert_valid(&body);
    assert_eq!(request.header("authorization"), Some("Bearer app-token-1"));
    let conversation = body["conversation"]["id"].as_str().unwrap();
    let route = format!(
        "/v3/conversations/{}/activities",
        encode_component(conversation)
    );
    let route = match body.get("replyToId").and_then(Value::as_str) {
        Some(id) => format!("{route}/{}", encode_component(id)),
        None => route,
    };
    assert!(
        request.path.ends_with(&route),
        "{} vs {route}",
        request.path
    );
}

/// `encodeURIComponent` without `!'()*` (none occur in these ids).
fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn parse(adapter: &PlatformAdapter, activity: &Value) -> Vec<InboundMessage> {
    let body = serde_json::to_vec(activity).unwrap();
    adapter
        .inbound
        .parse(&axum::http::HeaderMap::new(), &body)
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Fixtures and parsing

#[test]
fn the_teams_fixture_is_a_protocol_activity_and_parses() {
    let adapter = adapter("http://127.0.0.1:9/token");
    let activity = fixture_json("botframework", "activity-teams-personal-message.json");
    protocol_check().assert_valid(&activity);
    let messages = parse(&adapter, &activity);
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.platform, "botframework");
    assert_eq!(
        message.chat_id,
        activity["conversation"]["id"].as_str().unwrap()
    );
    assert_eq!(message.sender_id, activity["from"]["id"].as_str().unwrap());
    assert_eq!(message.sender_name, "Megan Bowen");
    assert_eq!(
        message.text,
        "Hello Teams TestBot.Sending bold-italic rich text"
    );
    assert_eq!(
        message.message_id,
        format!("{}|1485983408511", message.chat_id)
    );
    assert!(!message.is_group);
    let context = &message.reply_context;
    assert_eq!(
        context["serviceUrl"],
        "https://smba.trafficmanager.net/amer/"
    );
    assert_eq!(context["activityId"], "1485983408511");
    assert_eq!(context["channelId"], "msteams");
    assert_eq!(context["bot"], activity["recipient"]);
    assert_eq!(
        context["user"],
        json!({"id": activity["from"]["id"], "name": "Megan Bowen"})
    );
}

#[test]
fn built_activities_are_protocol_activities_and_parse() {
    let adapter = adapter("http://127.0.0.1:9/token");
    let url = "https://smba.trafficmanager.net/emea/";
    let check = protocol_check();

    let channel = channel_activity(url, "hint", "1632474074231");
    check.assert_valid(&channel);
    let messages = parse(&adapter, &channel);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, "hint", "the mention is stripped");
    assert!(messages[0].is_group);
    assert_eq!(
        messages[0].chat_id,
        "19:general@thread.tacv2;messageid=1632474074231"
    );
    assert_eq!(messages[0].sender_name, "Ana");

    let added = bot_added_activity(url);
    check.assert_valid(&added);
    let messages = parse(&adapter, &added);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, "/start");
    assert!(messages[0].is_group);
    assert_eq!(
        messages[0].message_id,
        "19:group-chat-1@thread.v2|f:5843470c-a0a7-4bd0-b2e7-5b8a2d0c3ffd"
    );

    // Someone else added, typing, a reaction, an edit, an attachment: 200 and no turn.
    let mut someone = bot_added_activity(url);
    someone["membersAdded"] = json!([{"id": "29:user-3", "name": "Bo"}]);
    let mut typing = message_activity(url, "", "2");
    typing["type"] = json!("typing");
    typing.as_object_mut().unwrap().remove("text");
    let mut reaction = message_activity(url, "", "3");
    reaction["type"] = json!("messageReaction");
    reaction["reactionsAdded"] = json!([{"type": "like"}]);
    let mut edit = message_activity(url, "hint", "4");
    edit["type"] = json!("messageUpdate");
    let mut picture = message_activity(url, "", "5");
    picture.as_object_mut().unwrap().remove("text");
    picture["attachments"] =
        json!([{"contentType": "image/png", "contentUrl": "https://x.example/a.png"}]);
    for silent in [someone, typing, reaction, edit, picture] {
        check.assert_valid(&silent);
        assert!(parse(&adapter, &silent).is_empty(), "{silent}");
    }
}

#[test]
fn outbound_fixtures_match_the_connector_spec_and_our_shape() {
    let check = connector_check();
    let reply = fixture_json("botframework", "activity-teams-reply.json");
    check.assert_valid(&reply);
    let session = fixture_json("botframework", "connector-session-reply-to-activity.json");
    let entries = session["Entries"].as_array().unwrap();
    for entry in &entries[1..] {
        let body: Value = serde_json::from_str(entry["RequestBody"].as_str().unwrap()).unwrap();
        check.assert_valid(&body);
    }
    // The recorded routes: send to the conversation, then reply to the activity sent.
    let mut target = ReplyTarget {
        service_url: "https://slack.botframework.com".into(),
        conversation_id: "BKGSYSTFG:TKGSUQHQE:DKE8NUG92".into(),
        activity_id: None,
        channel_id: Some("slack".into()),
        bot: Some(json!({"id": "BKGSYSTFG:TKGSUQHQE"})),
        user: Some(json!({"id": "UK8CH2281:TKGSUQHQE"})),
    };
    assert_eq!(
        target.url(),
        format!(
            "https://slack.botframework.com{}",
            entries[1]["RequestUri"].as_str().unwrap()
        )
    );
    target.activity_id = Some("1562094708.004900".into());
    assert_eq!(
        target.url(),
        format!(
            "https://slack.botframework.com{}",
            entries[2]["RequestUri"].as_str().unwrap()
        )
    );
    // Our reply carries the recorded fields, with the same values.
    let recorded: Value =
        serde_json::from_str(entries[2]["RequestBody"].as_str().unwrap()).unwrap();
    let ours = render_activity(&target, &Reply::text("TEST Reply to Activity"));
    for field in ["type", "from", "recipient", "text"] {
        assert_eq!(ours[field], recorded[field], "{field}");
    }
    assert_eq!(ours["replyToId"], "1562094708.004900");
    // (The protocol schema requires account names, which this recorded exchange lacks.)
    check.assert_valid(&ours);
    // And the docs' Teams reply: same keys, plus our plain text format and channel.
    for key in reply.as_object().unwrap().keys() {
        assert!(ours.get(key).is_some(), "{key}");
    }
}

// ---------------------------------------------------------------------------------------
// Verification through the router

#[tokio::test]
async fn a_connector_token_is_accepted() {
    let tokens = token_server().await;
    let harness = Harness::new(adapter(&tokens.url())).await;
    let url = "https://smba.trafficmanager.net/amer/";
    let activity = message_activity(url, "hello", "m1");
    // The claim may differ from the activity by a trailing slash only.
    let token = valid_token("https://smba.trafficmanager.net/amer");
    let answer = post(&harness, Some(&token), &activity).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(harness.inbox_pending().await, 1);
    // Within the 5 minutes of clock skew.
    let mut late = claims(url);
    late["exp"] = json!(now() - 240);
    late["nbf"] = json!(now() - 3600);
    let token = sign(&late, KID, "signing-private-pkcs1.der");
    let answer = post(&harness, Some(&token), &message_activity(url, "two", "m2")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(harness.inbox_pending().await, 2);
}

#[tokio::test]
async fn bad_tokens_are_refused_and_nothing_is_stored() {
    let tokens = token_server().await;
    let mut endorsed = jwks();
    endorsed["keys"][0]["endorsements"] = json!(["msteams", "webchat"]);
    let harness = Harness::new(adapter_with(settings(&tokens.url(), NO_OPENID), &endorsed)).await;
    let url = "https://smba.trafficmanager.net/amer/";
    let activity = message_activity(url, "hello", "m1");
    let good = claims(url);
    let with = |field: &str, value: Value| {
        let mut claims = good.clone();
        claims[field] = value;
        sign(&claims, KID, "signing-private-pkcs1.der")
    };
    // A valid token whose payload is edited afterwards (another audience).
    let tampered = {
        use base64::Engine;
        let token = valid_token(url);
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload = good.clone();
        payload["aud"] = json!("another-app");
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&payload).unwrap());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let hs256 = jsonwebtoken::encode(
        &Header {
            kid: Some(KID.into()),
            ..Header::new(Algorithm::HS256)
        },
        &good,
        &EncodingKey::from_secret(APP_PASSWORD.as_bytes()).unwrap(),
    )
    .unwrap();
    let mut other_channel = activity.clone();
    other_channel["channelId"] = json!("slack");
    let mut other_service = activity.clone();
    other_service["serviceUrl"] = json!("https://evil.example/");

    let no_exp = {
        let mut claims = good.clone();
        claims.as_object_mut().unwrap().remove("exp");
        sign(&claims, KID, "signing-private-pkcs1.der")
    };
    let signing = "signing-private-pkcs1.der";
    let other = "other-private-pkcs1.der";
    // (case, token, body, what the logged reason says)
    let cases: Vec<(&str, Option<String>, &Value, &str)> = vec![
        ("no header", None, &activity, "missing authorization header"),
        (
            "not a JWT",
            Some("not-a-jwt".into()),
            &activity,
            "not a JWT",
        ),
        (
            "another app",
            Some(with("aud", json!("another-app"))),
            &activity,
            "InvalidAudience",
        ),
        (
            "another issuer",
            Some(with("iss", json!("https://evil.example"))),
            &activity,
            "InvalidIssuer",
        ),
        (
            "expired",
            Some(with("exp", json!(now() - 400))),
            &activity,
            "ExpiredSignature",
        ),
        (
            "not yet valid",
            Some(with("nbf", json!(now() + 400))),
            &activity,
            "ImmatureSignature",
        ),
        (
            "no expiry",
            Some(no_exp),
            &activity,
            "Missing required claim: exp",
        ),
        (
            "another key",
            Some(sign(&good, KID, other)),
            &activity,
            "InvalidSignature",
        ),
        (
            "edited payload",
            Some(tampered),
            &activity,
            "InvalidSignature",
        ),
        ("HS256", Some(hs256), &activity, "InvalidAlgorithm"),
        (
            "unknown kid",
            Some(sign(&good, OTHER_KID, other)),
            &activity,
            "unknown signing key",
        ),
        (
            "serviceUrl edited",
            Some(sign(&good, KID, signing)),
            &other_service,
            "serviceUrl",
        ),
        (
            "not endorsed",
            Some(sign(&good, KID, signing)),
            &other_channel,
            "not endorsed",
        ),
    ];
    let inbound = harness.state.messengers.inbound("botframework").unwrap();
    for (case, token, body, reason) in cases {
        let answer = post(&harness, token.as_deref(), body).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{case}");
        // The reason logged for it names the check, never the secret or the token.
        let mut headers = axum::http::HeaderMap::new();
        if let Some(token) = &token {
            headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        let error = inbound
            .verify(&headers, &serde_json::to_vec(body).unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains(reason), "{case}: {error}");
        assert!(!error.contains(APP_PASSWORD), "{case}: {error}");
        if let Some(token) = &token {
            assert!(!error.contains(token.as_str()), "{case}: {error}");
        }
    }
    let answer = harness
        .post(
            WEBHOOK,
            &[
                ("content-type", "application/json"),
                ("authorization", &format!("Basic {}", valid_token(url))),
            ],
            &serde_json::to_vec(&activity).unwrap(),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "not a bearer token"
    );
    assert_eq!(harness.inbox_pending().await, 0, "nothing stored");
    // The same request with a good token goes through.
    let answer = post(&harness, Some(&valid_token(url)), &activity).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(harness.inbox_pending().await, 1);
}

/// Serves the OpenID metadata and the JWK set (one document holds both: the fake
/// platform answers every path alike).
async fn key_server(keys: &Value) -> FakePlatform {
    let server = FakePlatform::start(ScriptedResponse::json(500, json!({}))).await;
    server.set_default(key_document(&server, keys));
    server
}

fn key_document(server: &FakePlatform, keys: &Value) -> ScriptedResponse {
    let mut document = keys.clone();
    document["issuer"] = json!(DEFAULT_ISSUER);
    document["jwks_uri"] = json!(format!("{}/keys", server.url()));
    ScriptedResponse::json(200, document)
}

/// Posts until the answer is `status` (the key refresh runs in the background).
async fn post_until(
    harness: &Harness,
    token: &str,
    activity: &Value,
    status: StatusCode,
) -> support::Answer {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = post(harness, Some(token), activity).await;
        if answer.status == status || tokio::time::Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn keys_are_fetched_on_first_use_and_again_for_a_new_key() {
    let keys = key_server(&jwks()).await;
    let tokens = token_server().await;
    let bot = BotFramework::new(BotFrameworkSettings {
        key_refresh_min: Duration::from_millis(200),
        ..settings(&tokens.url(), &format!("{}/openid", keys.url()))
    });
    let harness = Harness::new(PlatformAdapter::new(bot)).await;
    let url = "https://smba.trafficmanager.net/amer/";

    // Until the keys are in, 401 (the connector retries).
    let first = post(
        &harness,
        Some(&valid_token(url)),
        &message_activity(url, "a", "m1"),
    )
    .await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    let answer = post_until(
        &harness,
        &valid_token(url),
        &message_activity(url, "a", "m1"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let paths: Vec<String> = keys.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/openid", "/keys"], "metadata, then its jwks_uri");

    // Microsoft rotates in a new key: a token naming it triggers a fetch.
    keys.set_default(key_document(&keys, &both_jwks()));
    let rotated = sign(&claims(url), OTHER_KID, "other-private-pkcs1.der");
    let answer = post_until(
        &harness,
        &rotated,
        &message_activity(url, "b", "m2"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(keys.requests().len(), 4);
    assert_eq!(harness.inbox_pending().await, 2);
}

#[tokio::test]
async fn unknown_keys_refresh_at_most_once_a_minute() {
    let keys = key_server(&jwks()).await;
    let tokens = token_server().await;
    let bot = BotFramework::new(settings(&tokens.url(), &format!("{}/openid", keys.url())));
    let harness = Harness::new(PlatformAdapter::new(bot)).await;
    let url = "https://smba.trafficmanager.net/amer/";
    let answer = post_until(
        &harness,
        &valid_token(url),
        &message_activity(url, "a", "m1"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let unknown = sign(&claims(url), OTHER_KID, "other-private-pkcs1.der");
    for id in ["m2", "m3", "m4"] {
        let answer = post(&harness, Some(&unknown), &message_activity(url, "b", id)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(keys.requests().len(), 2, "no new fetch within the minute");
    assert_eq!(harness.inbox_pending().await, 1);
}

// ---------------------------------------------------------------------------------------
// Sending

/// A harness whose activities name `connector` as their service URL.
async fn played(tokens: &FakePlatform, activities: &[Value]) -> Harness {
    let harness = Harness::new(adapter(&tokens.url())).await;
    for activity in activities {
        let token = valid_token(activity["serviceUrl"].as_str().unwrap());
        let answer = post(&harness, Some(&token), activity).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
    harness.drain().await;
    harness
}

#[tokio::test]
async fn replies_go_to_the_service_url_with_an_app_token() {
    let connector = FakePlatform::start(ScriptedResponse::json(200, json!({"id": "r1"}))).await;
    let tokens = token_server().await;
    let url = format!("{}/amer/", connector.url());
    let harness = played(
        &tokens,
        &[
            message_activity(&url, "hello", "m1"),
            message_activity(&url, "two", "m2"),
        ],
    )
    .await;
    assert_eq!(harness.outbox_pending().await, 0);
    assert_eq!(harness.outbox_dead().await, 0);
    let sent = sends(&connector);
    assert_eq!(
        sent.len(),
        2,
        "{:?} {:?}",
        connector.requests(),
        tokens.requests()
    );
    for request in &sent {
        validate_send(request);
    }
    assert_eq!(
        sent[0].path,
        "/amer/v3/conversations/a%3Apersonal-chat-1/activities/m1"
    );
    let body = sent[0].json();
    assert_eq!(body["text"], "#1: hello");
    assert_eq!(body["textFormat"], "plain");
    assert_eq!(body["replyToId"], "m1");
    assert_eq!(body["from"], json!({"id": "28:bot-app", "name": "Fraser"}));
    assert_eq!(
        body["recipient"],
        json!({"id": "29:user-1", "name": "Megan Bowen"})
    );
    assert_eq!(sent[1].json()["text"], "#2: two");

    // One token request for both sends: client credentials for the Bot Connector.
    let token_requests = tokens.requests();
    assert_eq!(token_requests.len(), 1, "the app token is cached");
    let form = String::from_utf8(token_requests[0].body.clone()).unwrap();
    let mut fields: Vec<&str> = form.split('&').collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "client_id=fraser-test-app-id",
            "client_secret=fraser-test-app-password",
            "grant_type=client_credentials",
            "scope=https%3A%2F%2Fapi.botframework.com%2F.default",
        ]
    );
    assert_eq!(
        token_requests[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn buttons_are_imback_suggested_actions_and_a_press_is_the_command() {
    let connector = FakePlatform::start(ScriptedResponse::json(200, json!({"id": "r1"}))).await;
    let tokens = token_server().await;
    let url = connector.url();
    let harness = played(&tokens, &[message_activity(&url, "play", "m1")]).await;
    let sent = sends(&connector);
    assert_eq!(sent.len(), 1);
    validate_send(&sent[0]);
    assert_eq!(
        sent[0].json()["suggestedActions"],
        json!({
            "to": ["29:user-1"],
            "actions": [
                {"type": "imBack", "title": "Hint", "value": "hint"},
                {"type": "imBack", "title": "Skip", "value": "skip"}
            ]
        })
    );
    // Pressing "Hint" posts its value as the user's message (imBack).
    let press = message_activity(&url, "hint", "m2");
    let answer = post(&harness, Some(&valid_token(&url)), &press).await;
    assert_eq!(answer.status, StatusCode::OK);
    harness.drain().await;
    assert_eq!(sends(&connector)[1].json()["text"], "#2: hint");
    // A card submit carries it in `value`.
    let mut submit = message_activity(&url, "", "m3");
    submit.as_object_mut().unwrap().remove("text");
    submit["value"] = json!({"command": "skip"});
    protocol_check().assert_valid(&submit);
    let answer = post(&harness, Some(&valid_token(&url)), &submit).await;
    assert_eq!(answer.status, StatusCode::OK);
    harness.drain().await;
    assert_eq!(sends(&connector)[2].json()["text"], "#3: skip");
}

#[tokio::test]
async fn the_bot_greets_a_group_it_is_added_to() {
    let connector = FakePlatform::start(ScriptedResponse::json(200, json!({"id": "r1"}))).await;
    let tokens = token_server().await;
    let url = connector.url();
    let harness = played(&tokens, &[bot_added_activity(&url)]).await;
    assert_eq!(harness.outbox_pending().await, 0);
    let sent = sends(&connector);
    assert_eq!(sent.len(), 1);
    validate_send(&sent[0]);
    assert_eq!(
        sent[0].path, "/v3/conversations/19%3Agroup-chat-1%40thread.v2/activities",
        "posted to the conversation"
    );
    assert_eq!(sent[0].json()["text"], "#1: /start");
}

/// The address of a message from `activity`, as the queue hands it back.
fn address(adapter: &PlatformAdapter, activity: &Value) -> server::ChatAddress {
    parse(adapter, activity).remove(0).address()
}

#[tokio::test]
async fn a_refused_app_token_is_renewed_once() {
    let connector = FakePlatform::start(ScriptedResponse::json(200, json!({"id": "r1"}))).await;
    let tokens = token_server().await;
    tokens.push(token_answer("app-token-0"));
    let adapter = adapter(&tokens.url());
    let chat = address(&adapter, &message_activity(&connector.url(), "hi", "m1"));
    connector.push(ScriptedResponse::json(
        401,
        json!({"message": "Authorization has been denied for this request."}),
    ));
    let outcome = adapter.messenger.send(&chat, &Reply::text("hello")).await;
    assert_eq!(outcome, SendOutcome::Sent);
    let sent = sends(&connector);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].header("authorization"), Some("Bearer app-token-0"));
    assert_eq!(sent[1].header("authorization"), Some("Bearer app-token-1"));
    assert_eq!(tokens.requests().len(), 2);
    // Refused twice: no loop, a permanent failure.
    connector.push(ScriptedResponse::json(401, json!({})));
    connector.push(ScriptedResponse::json(401, json!({})));
    let outcome = adapter.messenger.send(&chat, &Reply::text("hello")).await;
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
}

#[tokio::test]
async fn rate_limits_and_errors_become_outcomes() {
    let connector = FakePlatform::start(ScriptedResponse::json(200, json!({"id": "r1"}))).await;
    let tokens = token_server().await;
    let adapter = adapter(&tokens.url());
    let chat = address(&adapter, &message_activity(&connector.url(), "hi", "m1"));
    let reply = Reply::text("hello");
    connector.push(
        ScriptedResponse::json(429, json!({"error": {"code": "TooManyRequests"}}))
            .with_header("retry-after", "7"),
    );
    assert_eq!(
        adapter.messenger.send(&chat, &reply).await,
        SendOutcome::RetryAfter(Duration::from_secs(7))
    );
    for (status, permanent) in [(412, false), (502, false), (403, true), (404, true)] {
        connector.push(ScriptedResponse::json(status, json!({"error": {}})));
        let outcome = adapter.messenger.send(&chat, &reply).await;
        assert!(
            matches!(outcome, SendOutcome::Failed { permanent: p, .. } if p == permanent),
            "{status}: {outcome:?}"
        );
    }
    // The token endpoint rate-limiting us, or refusing the app's credentials.
    let busy = FakePlatform::start(
        ScriptedResponse::json(429, json!({"error": "temporarily_unavailable"}))
            .with_header("retry-after", "3"),
    )
    .await;
    let limited = adapter_with(settings(&busy.url(), NO_OPENID), &jwks());
    assert_eq!(
        limited.messenger.send(&chat, &reply).await,
        SendOutcome::RetryAfter(Duration::from_secs(3))
    );
    busy.set_default(ScriptedResponse::json(
        401,
        json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
    ));
    let outcome = limited.messenger.send(&chat, &reply).await;
    assert!(
        matches!(outcome, SendOutcome::Failed { permanent: true, ref reason }
            if reason.starts_with("token request") && !reason.contains(APP_PASSWORD)),
        "{outcome:?}"
    );
    assert_eq!(sends(&connector).len(), 5, "no send without a token");
}

#[tokio::test]
async fn forged_service_urls_get_no_request() {
    let tokens = token_server().await;
    let adapter = adapter(&tokens.url());
    for forged in [
        "http://evil.example/",
        "http://192.0.2.1/",
        "file:///etc/passwd",
    ] {
        let chat = address(&adapter, &message_activity(forged, "hi", "m1"));
        let outcome = adapter.messenger.send(&chat, &Reply::text("x")).await;
        assert!(
            matches!(outcome, SendOutcome::Failed { permanent: true, ref reason } if reason.contains("serviceUrl")),
            "{forged}: {outcome:?}"
        );
    }
    assert!(tokens.requests().is_empty(), "not even a token request");
}

#[tokio::test]
async fn a_reply_at_the_length_limit_is_one_message() {
    let connector = FakePlatform::start(ScriptedResponse::json(200, json!({"id": "r1"}))).await;
    let tokens = token_server().await;
    let adapter = adapter(&tokens.url());
    assert_eq!(adapter.messenger.max_len(), 28_000);
    assert_eq!(MAX_LEN, 28_000);
    let chat = address(&adapter, &message_activity(&connector.url(), "hi", "m1"));
    let text = "é".repeat(MAX_LEN);
    let reply = Reply {
        text: text.clone(),
        buttons: vec![Button {
            label: "Hint".into(),
            command: "hint".into(),
        }],
    };
    assert_eq!(
        adapter.messenger.send(&chat, &reply).await,
        SendOutcome::Sent
    );
    let sent = sends(&connector);
    assert_eq!(sent.len(), 1);
    validate_send(&sent[0]);
    assert_eq!(
        sent[0].json()["text"].as_str().unwrap().chars().count(),
        MAX_LEN
    );
}

#[tokio::test]
async fn the_default_limits_hold_back_a_busy_conversation() {
    let connector = FakePlatform::start(ScriptedResponse::json(200, json!({"id": "r1"}))).await;
    let tokens = token_server().await;
    let adapter = adapter_with(
        BotFrameworkSettings {
            limits: server::messenger::botframework::DEFAULT_LIMITS,
            ..settings(&tokens.url(), NO_OPENID)
        },
        &jwks(),
    );
    let chat = address(&adapter, &message_activity(&connector.url(), "hi", "m1"));
    let reply = Reply::text("x");
    assert_eq!(
        adapter.messenger.send(&chat, &reply).await,
        SendOutcome::Sent
    );
    assert_eq!(
        adapter.messenger.send(&chat, &reply).await,
        SendOutcome::Sent
    );
    let outcome = adapter.messenger.send(&chat, &reply).await;
    assert!(
        matches!(outcome, SendOutcome::RetryAfter(wait) if wait <= Duration::from_secs(1)),
        "{outcome:?}"
    );
    assert_eq!(
        sends(&connector).len(),
        2,
        "the held-back reply made no call"
    );
    // Another conversation is not held back.
    let other = address(&adapter, &channel_activity(&connector.url(), "hi", "m9"));
    assert_eq!(
        adapter.messenger.send(&other, &reply).await,
        SendOutcome::Sent
    );
}

// ---------------------------------------------------------------------------------------
// The standard scenarios

/// The standard scenario's platform: the fake connector's URL becomes the activities'
/// `serviceUrl` (the adapter has no API base URL of its own), tokens come from a second
/// fake.
struct Connector {
    token_url: String,
    service_url: Mutex<String>,
}

impl Platform for Connector {
    fn adapter(&self, api_url: &str) -> PlatformAdapter {
        *self.service_url.lock().unwrap() = format!("{api_url}/teams/");
        adapter(&self.token_url)
    }

    fn signed_message(
        &self,
        text: &str,
        message_id: &str,
    ) -> (String, Vec<(String, String)>, Vec<u8>) {
        let url = self.service_url.lock().unwrap().clone();
        let body = serde_json::to_vec(&message_activity(&url, text, message_id)).unwrap();
        let headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            (
                "authorization".to_string(),
                format!("Bearer {}", valid_token(&url)),
            ),
        ];
        (WEBHOOK.to_string(), headers, body)
    }

    fn is_send(&self, request: &RecordedRequest) -> bool {
        is_send(request)
    }

    fn sent_text(&self, request: &RecordedRequest) -> String {
        request.json()["text"].as_str().unwrap().to_string()
    }

    fn validate_send(&self, request: &RecordedRequest) {
        validate_send(request);
        assert!(request.path.starts_with("/teams/v3/conversations/"));
    }

    fn ok(&self) -> ScriptedResponse {
        ScriptedResponse::json(200, json!({"id": "1632474074231"}))
    }

    fn rate_limited(&self, seconds: u64) -> ScriptedResponse {
        ScriptedResponse::json(
            429,
            json!({"error": {"code": "TooManyRequests", "message": "Too many requests"}}),
        )
        .with_header("retry-after", &seconds.to_string())
    }
}

#[tokio::test]
async fn standard_end_to_end() {
    let tokens = token_server().await;
    let platform = Connector {
        token_url: tokens.url(),
        service_url: Mutex::new(String::new()),
    };
    support::standard_end_to_end(&platform).await;
    assert_eq!(tokens.requests().len(), 1, "one app token for every send");
}

#[tokio::test]
async fn standard_bad_input() {
    let tokens = token_server().await;
    let platform = Connector {
        token_url: tokens.url(),
        service_url: Mutex::new(String::new()),
    };
    let token = valid_token("https://smba.trafficmanager.net/amer/");
    support::standard_bad_input(&platform, |_body| {
        (
            WEBHOOK.to_string(),
            vec![
                ("content-type".to_string(), "application/json".to_string()),
                ("authorization".to_string(), format!("Bearer {token}")),
            ],
        )
    })
    .await;
}
