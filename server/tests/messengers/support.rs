//! Shared by the platform test files: fixtures, schema validation, an app over SQLite
//! with the counter game, and the standard end-to-end scenario every platform passes.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use server::messenger::PlatformAdapter;
use server::testing::{CounterGame, FakePlatform, RecordedRequest, ScriptedResponse, TestDb};
use server::{AppState, Config, ManualClock, QueueSettings, Sender, Timestamp, Worker, app};
use tower::ServiceExt;

/// The directory of the copied platform fixtures.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/messengers")
}

/// The bytes of `platform/name` in the fixtures.
pub fn fixture(platform: &str, name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(platform).join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

/// `platform/name` parsed as JSON.
pub fn fixture_json(platform: &str, name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(platform, name))
        .unwrap_or_else(|error| panic!("{platform}/{name} is not JSON: {error}"))
}

/// Validates instances against one schema inside a larger document (an OpenAPI or
/// Swagger spec, a JSON Schema file): `pointer` is e.g.
/// `#/components/schemas/TextMessage` or `#/definitions/Activity`.
pub struct SchemaCheck {
    validator: jsonschema::Validator,
    pointer: String,
}

impl SchemaCheck {
    /// Compiles the schema at `pointer` of `document` (draft 2020-12 semantics, which
    /// OpenAPI 3.1 uses; for OpenAPI 3.0 and Swagger 2.0 the vocabulary used by the
    /// specs is the same for validation purposes: `nullable` is ignored, which only
    /// makes the check laxer for nulls, and adapters never send nulls).
    pub fn new(document: &serde_json::Value, pointer: &str) -> SchemaCheck {
        let mut root = document.clone();
        let object = root
            .as_object_mut()
            .expect("a schema document is a JSON object");
        // The root becomes a schema that refers to the wanted one; every other key of
        // the document (paths, info...) is an unknown keyword and ignored.
        object.insert("$ref".into(), serde_json::Value::String(pointer.into()));
        object.remove("$schema");
        object.remove("$id");
        object.remove("id");
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .unwrap_or_else(|error| panic!("schema {pointer} does not compile: {error}"));
        SchemaCheck {
            validator,
            pointer: pointer.into(),
        }
    }

    /// Panics with every violation when `instance` does not match.
    pub fn assert_valid(&self, instance: &serde_json::Value) {
        let errors: Vec<String> = self
            .validator
            .iter_errors(instance)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} does not match {}:\n{}",
            instance,
            self.pointer,
            errors.join("\n")
        );
    }

    /// Whether `instance` matches.
    pub fn is_valid(&self, instance: &serde_json::Value) -> bool {
        self.validator.is_valid(instance)
    }
}

/// An app with one platform adapter, the counter game (replies `#n: text` with `Hint`
/// and `Skip` buttons), SQLite and a manual clock; the worker and sender are run by
/// hand.
pub struct Harness {
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    _db: TestDb,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "answer is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Harness {
    /// Starts the app with `adapter`.
    pub async fn new(adapter: PlatformAdapter) -> Harness {
        let db = TestDb::sqlite().await;
        let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
        let state = AppState::new(
            Config::defaults(),
            Arc::clone(&db.store),
            Arc::new(CounterGame::new().with_buttons()),
        )
        .with_messenger(adapter.messenger)
        .with_inbound(adapter.inbound)
        .with_clock(clock.clone());
        Harness {
            state,
            clock,
            _db: db,
        }
    }

    /// Sends one request through the router.
    pub async fn request(&self, request: Request<Body>) -> Answer {
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 8 << 20)
            .await
            .unwrap()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// POSTs `body` to `uri` with `headers` (borrowed or owned name/value pairs).
    pub async fn post<N: AsRef<str>, V: AsRef<str>>(
        &self,
        uri: &str,
        headers: &[(N, V)],
        body: &[u8],
    ) -> Answer {
        let mut request = Request::post(uri);
        for (name, value) in headers {
            request = request.header(name.as_ref(), value.as_ref());
        }
        self.request(request.body(Body::from(body.to_vec())).unwrap())
            .await
    }

    /// GETs `uri`.
    pub async fn get(&self, uri: &str) -> Answer {
        self.request(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// Inbox messages not yet played.
    pub async fn inbox_pending(&self) -> i64 {
        self.state.store.stats().await.unwrap().inbox_pending
    }

    /// Replies not yet delivered.
    pub async fn outbox_pending(&self) -> i64 {
        self.state.store.stats().await.unwrap().outbox_pending
    }

    /// Replies given up on.
    pub async fn outbox_dead(&self) -> i64 {
        self.state.store.stats().await.unwrap().outbox_dead
    }

    fn settings() -> QueueSettings {
        QueueSettings {
            // One chat per claim, so `run_turns` counts turns.
            turn_batch: 1,
            send_retry_base: Duration::from_secs(1),
            send_retry_max: Duration::from_secs(60),
            ..QueueSettings::default()
        }
    }

    /// Plays every due inbox message; returns how many turns ran.
    pub async fn run_turns(&self) -> usize {
        let worker = Worker::new(
            "w",
            Arc::clone(&self.state.store),
            Arc::clone(&self.state.game),
            Arc::clone(&self.state.clock),
            Arc::clone(&self.state.metrics),
            Self::settings(),
        );
        let mut turns = 0;
        while worker.run_once().await.unwrap() > 0 {
            turns += 1;
        }
        turns
    }

    /// Sends every due reply (each platform call once); returns how many were handled.
    pub async fn run_sends(&self) -> usize {
        let sender = Sender::new(
            "s",
            Arc::clone(&self.state.store),
            self.state.messengers.clone(),
            Arc::clone(&self.state.clock),
            Arc::clone(&self.state.metrics),
            Self::settings(),
        );
        let mut handled = 0;
        loop {
            let n = sender.run_once().await.unwrap();
            if n == 0 {
                return handled;
            }
            handled += n;
        }
    }

    /// Runs turns then sends until nothing is due.
    pub async fn drain(&self) {
        self.run_turns().await;
        self.run_sends().await;
    }

    /// Moves the manual clock on (retry-after and backoff times).
    pub fn advance(&self, duration: Duration) {
        self.clock.advance(duration);
    }
}

/// One platform's side of the standard end-to-end scenario.
pub trait Platform {
    /// The adapter, talking to the platform API at `api_url`, with its send limits
    /// off (the limiter has its own tests).
    fn adapter(&self, api_url: &str) -> PlatformAdapter;

    /// A correctly signed webhook request carrying a text message `text` with
    /// platform message id `message_id` from one user in one direct chat:
    /// (path, headers, body).
    fn signed_message(
        &self,
        text: &str,
        message_id: &str,
    ) -> (String, Vec<(String, String)>, Vec<u8>);

    /// Whether `request` is the call that sends a message (not a typing indicator,
    /// an acknowledgement, a token request...).
    fn is_send(&self, request: &RecordedRequest) -> bool;

    /// The text a send call carries.
    fn sent_text(&self, request: &RecordedRequest) -> String;

    /// Checks a send call against the platform's official schema (panics if not).
    fn validate_send(&self, request: &RecordedRequest);

    /// What the platform answers to a successful send.
    fn ok(&self) -> ScriptedResponse;

    /// What the platform answers when rate limiting, with a retry-after of `seconds`.
    fn rate_limited(&self, seconds: u64) -> ScriptedResponse;
}

/// The bodies of the send calls `fake` received, each checked against the platform's
/// official schema.
pub fn validated_sends(fake: &FakePlatform, platform: &impl Platform) -> Vec<serde_json::Value> {
    fake.requests()
        .iter()
        .filter(|request| platform.is_send(request))
        .map(|request| {
            platform.validate_send(request);
            request.json()
        })
        .collect()
}

/// The scenario: a redelivered webhook makes one turn; a 429 with retry-after is
/// delivered once, later; a 500 is retried; replies arrive in order and match the
/// platform's schema.
pub async fn standard_end_to_end(platform: &impl Platform) {
    let fake = FakePlatform::start(platform.ok()).await;
    let harness = Harness::new(platform.adapter(&fake.url())).await;
    let post = |text: &'static str, id: &'static str| {
        let (path, headers, body) = platform.signed_message(text, id);
        let harness = &harness;
        async move { harness.post(&path, &headers, &body).await }
    };

    // Delivered twice by the platform: one turn, one reply.
    for _ in 0..2 {
        let answer = post("hello", "m1").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
    assert_eq!(
        harness.run_turns().await,
        1,
        "a redelivered webhook is one turn"
    );
    harness.run_sends().await;
    let sends: Vec<RecordedRequest> = fake
        .requests()
        .into_iter()
        .filter(|request| platform.is_send(request))
        .collect();
    assert_eq!(sends.len(), 1, "one reply sent: {sends:?}");
    assert_eq!(platform.sent_text(&sends[0]), "#1: hello");
    platform.validate_send(&sends[0]);

    // Rate limited once: nothing delivered now, delivered once after the wait.
    fake.push(platform.rate_limited(7));
    assert_eq!(post("two", "m2").await.status, StatusCode::OK);
    harness.drain().await;
    assert_eq!(harness.outbox_pending().await, 1, "the 429'd reply waits");
    harness.advance(Duration::from_secs(3));
    harness.run_sends().await;
    assert_eq!(harness.outbox_pending().await, 1, "not before retry-after");
    harness.advance(Duration::from_secs(5));
    harness.run_sends().await;
    assert_eq!(
        harness.outbox_pending().await,
        0,
        "delivered after retry-after"
    );

    // A server error: retried with backoff, then delivered.
    fake.push(ScriptedResponse::json(
        500,
        serde_json::json!({"error": "internal"}),
    ));
    assert_eq!(post("three", "m3").await.status, StatusCode::OK);
    harness.drain().await;
    assert_eq!(harness.outbox_pending().await, 1, "the 500'd reply waits");
    harness.advance(Duration::from_secs(120));
    harness.run_sends().await;
    assert_eq!(harness.outbox_pending().await, 0, "delivered on retry");
    assert_eq!(harness.outbox_dead().await, 0);

    let sends: Vec<RecordedRequest> = fake
        .requests()
        .into_iter()
        .filter(|request| platform.is_send(request))
        .collect();
    let texts: Vec<String> = sends
        .iter()
        .map(|request| platform.sent_text(request))
        .collect();
    // Attempts: #1, #2 (429), #2, #3 (500), #3.
    assert_eq!(
        texts,
        ["#1: hello", "#2: two", "#2: two", "#3: three", "#3: three"],
        "attempts in order"
    );
    for request in &sends {
        platform.validate_send(request);
    }
}

/// Bad input every platform answers the same way; nothing is stored on any of them.
/// `signed` signs a body for this platform: (path, headers) for `body`.
pub async fn standard_bad_input(
    platform: &impl Platform,
    signed: impl Fn(&[u8]) -> (String, Vec<(String, String)>),
) {
    let fake = FakePlatform::start(platform.ok()).await;
    let harness = Harness::new(platform.adapter(&fake.url())).await;
    let post = |body: Vec<u8>, content_type: Option<&'static str>| {
        let (path, mut headers) = signed(&body);
        if let Some(content_type) = content_type {
            headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
            headers.push(("content-type".into(), content_type.into()));
        }
        let harness = &harness;
        async move { harness.post(&path, &headers, &body).await }
    };
    assert_eq!(
        post(b"{not json".to_vec(), None).await.status,
        StatusCode::BAD_REQUEST,
        "malformed JSON"
    );
    let mut big = b"{\"pad\":\"".to_vec();
    big.resize(1_100_000, b'a');
    big.extend_from_slice(b"\"}");
    assert_eq!(
        post(big, None).await.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body over 1 MiB"
    );
    assert_eq!(
        post(b"hello".to_vec(), Some("text/plain")).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "wrong content type"
    );
    assert_eq!(harness.inbox_pending().await, 0, "nothing stored");
    assert!(fake.requests().is_empty());
}
