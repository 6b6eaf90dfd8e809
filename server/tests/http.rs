//! The HTTP surface through `app(state).oneshot(...)`: no port is bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use server::testing::{CounterGame, TestDb};
use server::{
    AppState, AuthError, Config, Game, Inbound, InboundMessage, ParseError, PgStore, Sender,
    StoreOptions, Timestamp, WebhookResponse, Worker, app,
};
use tower::ServiceExt;

fn config() -> Config {
    let mut config = Config::defaults();
    config.max_body_bytes = 1024;
    config
}

fn counter() -> Arc<dyn Game> {
    Arc::new(CounterGame::new())
}

/// A webhook adapter for platform `test`: the signature is the header
/// `x-signature: good`; the body is a JSON array of `{chat, id, text}`; a body
/// `{"challenge": "..."}` is a handshake answered with the challenge.
struct TestInbound;

impl Inbound for TestInbound {
    fn platform(&self) -> &str {
        "test"
    }

    fn verify(&self, headers: &HeaderMap, _raw_body: &[u8]) -> Result<(), AuthError> {
        match headers.get("x-signature").map(|value| value.as_bytes()) {
            Some(b"good") => Ok(()),
            _ => Err(AuthError("bad signature".into())),
        }
    }

    fn handshake(&self, _headers: &HeaderMap, raw_body: &[u8]) -> Option<WebhookResponse> {
        let value: serde_json::Value = serde_json::from_slice(raw_body).ok()?;
        let challenge = value.get("challenge")?.as_str()?;
        Some(WebhookResponse {
            status: 200,
            content_type: "text/plain",
            body: challenge.as_bytes().to_vec(),
        })
    }

    fn parse(
        &self,
        _headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<Vec<InboundMessage>, ParseError> {
        let items: Vec<serde_json::Value> =
            serde_json::from_slice(raw_body).map_err(|error| ParseError(error.to_string()))?;
        items
            .iter()
            .map(|item| {
                let field = |name: &str| {
                    item.get(name)
                        .and_then(|value| value.as_str())
                        .map(str::to_string)
                        .ok_or_else(|| ParseError(format!("missing {name}")))
                };
                Ok(InboundMessage {
                    platform: "spoofed".into(),
                    chat_id: field("chat")?,
                    sender_id: "u1".into(),
                    sender_name: "User One".into(),
                    text: field("text")?,
                    message_id: field("id")?,
                    is_group: true,
                    reply_context: serde_json::json!({ "reply_token": "t" }),
                    received_at: Timestamp(0),
                })
            })
            .collect()
    }
}

async fn state(db: &TestDb) -> AppState {
    AppState::new(config(), Arc::clone(&db.store), counter()).with_inbound(Arc::new(TestInbound))
}

/// A state whose store is a PostgreSQL that is not there (connection refused).
async fn state_with_store_down() -> AppState {
    let options = StoreOptions {
        acquire_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let store = PgStore::connect("postgres://postgres@127.0.0.1:1/nowhere", &options)
        .await
        .unwrap();
    AppState::new(config(), Arc::new(store), counter()).with_inbound(Arc::new(TestInbound))
}

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post_json(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn webhook(body: &str, signature: &str) -> Request<Body> {
    Request::post("/webhooks/test")
        .header("x-signature", signature)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn error_code(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    value["error"]["code"].as_str().unwrap().to_string()
}

async fn drain(state: &AppState) {
    let settings = server::QueueSettings::default();
    let worker = Worker::new(
        "w",
        Arc::clone(&state.store),
        Arc::clone(&state.game),
        Arc::clone(&state.clock),
        Arc::clone(&state.metrics),
        settings.clone(),
    );
    while worker.run_once().await.unwrap() > 0 {}
    let sender = Sender::new(
        "s",
        Arc::clone(&state.store),
        state.messengers.clone(),
        Arc::clone(&state.clock),
        Arc::clone(&state.metrics),
        settings,
    );
    while sender.run_once().await.unwrap() > 0 {}
}

#[tokio::test]
async fn health_and_request_ids() {
    let db = TestDb::sqlite().await;
    let state = state(&db).await;
    let (status, headers, body) = send(&state, get("/healthz")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    assert!(
        headers.contains_key("x-request-id"),
        "a request id is added"
    );
    let request = Request::get("/healthz")
        .header("x-request-id", "abc")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(&state, request).await;
    assert_eq!(headers["x-request-id"], "abc", "a given request id is kept");
    let (status, _, body) = send(&state, get("/nope")).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn readyz_needs_the_store_and_the_hook() {
    let db = TestDb::sqlite().await;
    let index_open = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&index_open);
    let state = state(&db)
        .await
        .with_ready(Arc::new(move || flag.load(Ordering::SeqCst)));
    let (status, headers, body) = send(&state, get("/readyz")).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    );
    assert!(headers.contains_key(header::RETRY_AFTER));
    index_open.store(true, Ordering::SeqCst);
    let (status, _, body) = send(&state, get("/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let down = state_with_store_down().await;
    let (status, _, body) = send(&down, get("/readyz")).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
    );
    let (status, _, _) = send(&down, get("/healthz")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the process is up even if the store is not"
    );
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let db = TestDb::sqlite().await;
    let state = state(&db).await;
    let (status, _, _) = send(
        &state,
        webhook(
            r#"[{"chat":"c","id":"1","text":"hi"},{"chat":"c","id":"2","text":"yo"}]"#,
            "good",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    drain(&state).await;
    let (status, headers, body) = send(&state, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    // No messenger sends to platform "test", so both replies are dead letters.
    for line in [
        "# TYPE fraser_inbox_depth gauge\nfraser_inbox_depth 0\n",
        "# TYPE fraser_outbox_backlog gauge\nfraser_outbox_backlog 0\n",
        "fraser_outbox_dead 2\n",
        "fraser_turns_total 2\n",
        "# TYPE fraser_turn_duration_seconds histogram\n",
        "fraser_turn_duration_seconds_count 2\n",
        "fraser_send_failures_total{platform=\"test\",reason=\"permanent\"} 2\n",
        "fraser_dead_letters_total{platform=\"test\"} 2\n",
        "fraser_messages_received_total 2\n",
        "fraser_store_up 1\n",
    ] {
        assert!(body.contains(line), "missing {line:?} in\n{body}");
    }
    // Every sample line is `name{labels} value` with a numeric value.
    for line in body.lines().filter(|line| !line.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample line {line:?}");
    }
    let stats = state.store.stats().await.unwrap();
    assert_eq!((stats.outbox_pending, stats.outbox_dead), (0, 2));
    assert_eq!(state.metrics.dead_letters("test"), 2);
    let down = state_with_store_down().await;
    let (status, _, body) = send(&down, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("fraser_store_up 0\n"));
}

#[tokio::test]
async fn web_chat_enqueues_and_polls_replies() {
    let db = TestDb::sqlite().await;
    let state = state(&db).await;
    let (status, headers, page) = send(&state, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.contains("<script>") && !page.contains("src=\"http"),
        "self-contained page"
    );

    let message = r#"{"sender_name":"Ada","text":"hello","message_id":"m1"}"#;
    let (status, _, body) = send(&state, post_json("/api/chat/room-1/messages", message)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let posted: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(posted["duplicate"], false);
    // A retried POST with the same message id is stored once.
    let (_, _, body) = send(&state, post_json("/api/chat/room-1/messages", message)).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["duplicate"],
        true
    );
    let second = r#"{"sender_name":"Ada","text":"again"}"#;
    let (status, _, _) = send(&state, post_json("/api/chat/room-1/messages", second)).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let (status, _, body) = send(&state, get("/api/chat/room-1/replies?after=0")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["replies"],
        serde_json::json!([])
    );
    drain(&state).await;
    let (_, _, body) = send(&state, get("/api/chat/room-1/replies?after=0")).await;
    let replies: serde_json::Value = serde_json::from_str(&body).unwrap();
    let texts: Vec<&str> = replies["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["#1: hello", "#2: again"]);
    let next = replies["next"].as_i64().unwrap();
    let (_, _, body) = send(
        &state,
        get(&format!("/api/chat/room-1/replies?after={next}&wait=1")),
    )
    .await;
    let later: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(later["replies"], serde_json::json!([]));
    assert_eq!(later["next"], next);
    let (_, _, body) = send(&state, get("/api/chat/room-2/replies")).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["replies"],
        serde_json::json!([])
    );
    let board = state.store.scoreboard("web", "room-1", 10).await.unwrap();
    assert_eq!((board[0].name.as_str(), board[0].score), ("Ada", 2));
}

#[tokio::test]
async fn web_chat_long_poll_wakes_on_delivery() {
    let db = TestDb::sqlite().await;
    let state = state(&db).await;
    let (status, _, _) = send(
        &state,
        post_json("/api/chat/lp/messages", r#"{"sender_name":"A","text":"x"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let poller = {
        let state = state.clone();
        tokio::spawn(async move { send(&state, get("/api/chat/lp/replies?after=0&wait=10")).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    drain(&state).await;
    let (status, _, body) = poller.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("#1: x"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn web_chat_rejects_bad_input() {
    let db = TestDb::sqlite().await;
    let state = state(&db).await;
    let cases = [
        (
            "/api/chat/bad%20id/messages",
            r#"{"sender_name":"A","text":"x"}"#,
            "invalid_chat_id",
        ),
        (
            "/api/chat/ok/messages",
            r#"{"sender_name":"A","text":"   "}"#,
            "invalid_message",
        ),
        (
            "/api/chat/ok/messages",
            r#"{"sender_name":"","text":"x"}"#,
            "invalid_message",
        ),
        (
            "/api/chat/ok/messages",
            r#"{"sender_name":"A""#,
            "malformed_body",
        ),
        (
            "/api/chat/ok/messages",
            r#"{"sender_name":"A","text":"x","evil":1}"#,
            "malformed_body",
        ),
    ];
    for (uri, body, code) in cases {
        let (status, _, response) = send(&state, post_json(uri, body)).await;
        assert_eq!(
            (status, error_code(&response).as_str()),
            (StatusCode::BAD_REQUEST, code),
            "{body}"
        );
    }
    let big = format!(r#"{{"sender_name":"A","text":"{}"}}"#, "x".repeat(2000));
    let (status, _, response) = send(&state, post_json("/api/chat/ok/messages", &big)).await;
    assert_eq!(
        (status, error_code(&response).as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert_eq!(state.store.stats().await.unwrap().inbox_pending, 0);

    let mut config = config();
    config.web_chat = false;
    let disabled = AppState::new(config, Arc::clone(&db.store), counter());
    let (status, _, _) = send(&disabled, get("/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(
        &disabled,
        post_json("/api/chat/ok/messages", r#"{"sender_name":"A","text":"x"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn webhook_status_codes() {
    let db = TestDb::sqlite().await;
    let state = state(&db).await;
    let good = r#"[{"chat":"c1","id":"u1","text":"hello"}]"#;

    let request = Request::post("/webhooks/telegram")
        .header("x-signature", "good")
        .body(Body::from(good))
        .unwrap();
    let (status, _, body) = send(&state, request).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::NOT_FOUND, "unknown_platform")
    );

    let (status, _, body) = send(&state, webhook(good, "forged")).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_signature")
    );
    assert_eq!(
        state.store.stats().await.unwrap().inbox_pending,
        0,
        "nothing stored"
    );

    let (status, _, body) = send(&state, webhook("{not json", "good")).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "malformed_body")
    );

    let huge = format!(
        r#"[{{"chat":"c1","id":"u2","text":"{}"}}]"#,
        "x".repeat(2048)
    );
    let (status, _, body) = send(&state, webhook(&huge, "good")).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    let (status, headers, body) = send(&state, webhook(r#"{"challenge":"abc123"}"#, "good")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "abc123"));
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain");
    assert_eq!(
        state.store.stats().await.unwrap().inbox_pending,
        0,
        "a handshake stores nothing"
    );

    let (status, _, body) = send(&state, webhook(good, "good")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"ok":true}"#));
    let claim = state
        .store
        .claim_turn("w", Timestamp(1), Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        claim.message.platform, "test",
        "the route decides the platform"
    );
    assert!(
        claim.message.received_at.as_millis() > 0,
        "the receive time is filled in"
    );
    assert_eq!(
        claim.message.reply_context,
        serde_json::json!({ "reply_token": "t" })
    );

    let down = state_with_store_down().await;
    let (status, headers, body) = send(&down, webhook(good, "good")).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
    );
    assert!(headers.contains_key(header::RETRY_AFTER));
    let (status, _, _) = send(
        &down,
        post_json("/api/chat/x/messages", r#"{"sender_name":"A","text":"x"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn duplicate_delivery_runs_one_turn() {
    let db = TestDb::sqlite().await;
    let state = state(&db).await;
    let body = r#"[{"chat":"dup","id":"update-7","text":"guess"}]"#;
    for _ in 0..3 {
        let (status, _, _) = send(&state, webhook(body, "good")).await;
        assert_eq!(status, StatusCode::OK, "a redelivery is acknowledged too");
    }
    drain(&state).await;
    let chat = state
        .store
        .chat_state("test", "dup")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(chat.version, 1, "one turn");
    assert_eq!(state.metrics.turns(), 1);
    let (_, _, metrics) = send(&state, get("/metrics")).await;
    assert!(metrics.contains("fraser_messages_duplicate_total 2\n"));
}

#[tokio::test]
async fn webhook_of_the_wrong_content_type_is_415_and_stores_nothing() {
    let db = TestDb::sqlite().await;
    let state = state(&db).await;
    let body = r#"[{"chat": "c1", "id": "m1", "text": "hi"}]"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = Request::post("/webhooks/test").header("x-signature", "good");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request.body(Body::from(body)).unwrap();
        let (status, _, answer) = send(&state, request).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert_eq!(error_code(&answer), "unsupported_media_type");
    }
    assert_eq!(state.store.stats().await.unwrap().inbox_pending, 0);
}

/// Concurrent webhooks share inbox commits (the batching task): every request is
/// answered 200 once its own messages are stored, each message is stored once (also
/// when redelivered concurrently), and a request's messages keep their order.
async fn concurrent_webhooks_share_commits(db: TestDb) {
    let state = state(&db).await;
    let mut requests = tokio::task::JoinSet::new();
    for index in 0..64 {
        let state = state.clone();
        // Request i carries two messages of chat c{i % 16}; every fourth request is
        // a redelivery of the request before it.
        let source = if index % 4 == 3 { index - 1 } else { index };
        let chat = source % 16;
        let body = format!(
            r#"[{{"chat":"c{chat}","id":"m{source}a","text":"first {source}"}},{{"chat":"c{chat}","id":"m{source}b","text":"second {source}"}}]"#
        );
        requests.spawn(async move { send(&state, webhook(&body, "good")).await.0 });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    // 48 distinct requests of two messages.
    assert_eq!(state.store.stats().await.unwrap().inbox_pending, 96);
    let (_, _, metrics) = send(&state, get("/metrics")).await;
    assert!(
        metrics.contains("fraser_messages_duplicate_total 32\n"),
        "{metrics}"
    );
    drain(&state).await;
    assert_eq!(state.store.stats().await.unwrap().inbox_pending, 0);
    for chat in 0..16 {
        let texts: Vec<String> = state
            .store
            .outbox_entries("test", &format!("c{chat}"))
            .await
            .unwrap()
            .into_iter()
            .map(|entry| entry.reply.text)
            .collect();
        // Each request's "first" turn comes before its "second" (concurrent requests
        // of one chat have no order between them, so their messages may interleave).
        let sources: Vec<usize> = (chat..64)
            .step_by(16)
            .filter(|source| source % 4 != 3)
            .collect();
        assert_eq!(texts.len(), 2 * sources.len(), "{texts:?}");
        let position = |needle: &str| texts.iter().position(|text| text.ends_with(needle));
        for source in sources {
            let first = position(&format!(": first {source}")).unwrap();
            let second = position(&format!(": second {source}")).unwrap();
            assert!(first < second, "{texts:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_webhooks_share_commits_with_sqlite() {
    concurrent_webhooks_share_commits(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_webhooks_share_commits_with_postgres() {
    concurrent_webhooks_share_commits(TestDb::postgres().await).await;
}
