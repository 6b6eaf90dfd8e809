//! PostgreSQL restarts under a running server: requests during the outage get 503
//! (so the platform redelivers; never a 200 for a message that was not stored), and the
//! server reconnects by itself afterwards: every message gets exactly one turn and one
//! reply, in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use server::testing::{CounterGame, FakeMessenger, PrivatePostgres, http_request};
use server::{AuthError, Config, Inbound, InboundMessage, ParseError, Server, Timestamp};

/// Platform `test`: no signature; the body is `{"chat", "id", "text"}`.
struct OpenInbound;

impl Inbound for OpenInbound {
    fn platform(&self) -> &str {
        "test"
    }

    fn verify(&self, _headers: &HeaderMap, _raw_body: &[u8]) -> Result<(), AuthError> {
        Ok(())
    }

    fn parse(
        &self,
        _headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<Vec<InboundMessage>, ParseError> {
        let value: serde_json::Value =
            serde_json::from_slice(raw_body).map_err(|error| ParseError(error.to_string()))?;
        let field = |name: &str| value[name].as_str().unwrap_or_default().to_string();
        Ok(vec![InboundMessage {
            platform: "test".into(),
            chat_id: field("chat"),
            sender_id: "u1".into(),
            sender_name: "User One".into(),
            text: field("text"),
            message_id: field("id"),
            is_group: false,
            reply_context: serde_json::Value::Null,
            received_at: Timestamp(0),
        }])
    }
}

async fn post(addr: SocketAddr, id: &str, text: &str) -> u16 {
    let body = serde_json::json!({ "chat": "c1", "id": id, "text": text }).to_string();
    match http_request(addr, "POST", "/webhooks/test", Some(&body)).await {
        Ok((status, _)) => status,
        Err(_) => 0,
    }
}

/// Posts until the server answers 200 (the platform's redelivery), within `limit`.
async fn post_until_stored(addr: SocketAddr, id: &str, text: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let status = post(addr, id, text).await;
        if status == 200 {
            return start.elapsed();
        }
        assert!(
            status == 503,
            "during recovery the answer is 503 or 200, got {status}"
        );
        assert!(
            start.elapsed() < limit,
            "the server did not recover in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_for_sends(fake: &FakeMessenger, count: usize, limit: Duration) {
    let start = Instant::now();
    while fake.sent().len() < count {
        assert!(
            start.elapsed() < limit,
            "{} replies delivered, expected {count}",
            fake.sent().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_survives_a_database_restart() {
    let pg = PrivatePostgres::start();
    let mut config = Config::defaults();
    config.database_url = pg.url();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.workers = 2;
    config.poll_interval_ms = 100;
    let fake = Arc::new(FakeMessenger::new("test"));
    let server = Server::bind(config, Arc::new(CounterGame::new()), server::always_ready())
        .await
        .expect("start the server")
        .with_messenger(fake.clone())
        .with_inbound(Arc::new(OpenInbound));
    let addr = server.local_addr();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stop_rx.await;
    }));

    assert_eq!(post(addr, "m1", "one").await, 200);
    wait_for_sends(&fake, 1, Duration::from_secs(20)).await;

    pg.stop();
    // Every answer during the outage is 503 with nothing stored.
    for attempt in 0..3 {
        let status = post(addr, "m2", "two").await;
        assert_eq!(status, 503, "attempt {attempt} during the outage");
    }
    let health = http_request(addr, "GET", "/readyz", None).await.unwrap().0;
    assert_eq!(health, 503, "not ready while the database is down");

    pg.start_again();
    let recovery = post_until_stored(addr, "m2", "two", Duration::from_secs(30)).await;
    // The platform's redelivery of m2 after it was stored: still one turn.
    assert_eq!(post(addr, "m2", "two").await, 200);
    assert_eq!(post(addr, "m3", "three").await, 200);
    wait_for_sends(&fake, 3, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.texts("c1"),
        ["#1: one", "#2: two", "#3: three"],
        "one turn and one reply per message, in order"
    );
    eprintln!("recovered {recovery:?} after the database came back");

    let _ = stop_tx.send(());
    running.await.unwrap().unwrap();
}
