//! The whole server through `Server::run`: graceful shutdown, and end to end over real
//! HTTP on port 0 (the only tests here that bind a port).

use std::sync::Arc;
use std::time::{Duration, Instant};

use server::testing::{ConcurrencyProbe, CounterGame, TestDb, http_request, message};
use server::{Clock, Config, Game, Server, SystemClock, always_ready};

fn config_for(db: &TestDb) -> Config {
    let mut config = Config::defaults();
    config.database_url = db.url().to_string();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.workers = 2;
    config.poll_interval_ms = 50;
    config.shutdown_grace_secs = 10;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_turns_and_leaves_the_rest() {
    let db = TestDb::sqlite().await;
    let mut config = config_for(&db);
    config.workers = 1;
    let probe = Arc::new(ConcurrencyProbe::new());
    let game: Arc<dyn Game> = Arc::new(
        CounterGame::new()
            .with_delay(Duration::from_millis(500))
            .with_probe(Arc::clone(&probe)),
    );
    let server = Server::bind(config, game, always_ready()).await.unwrap();
    let addr = server.local_addr();
    for id in ["s1", "s2", "s3"] {
        db.store
            .enqueue(&message("web", "slow", id, id))
            .await
            .unwrap();
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(10);
    while probe.steps() == 0 {
        assert!(Instant::now() < deadline, "no turn started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, _) = http_request(addr, "GET", "/healthz", None).await.unwrap();
    assert_eq!(status, 200);
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();

    let state = db
        .store
        .chat_state("web", "slow")
        .await
        .unwrap()
        .expect("the in-flight turn committed");
    assert_eq!(state.version, 1);
    assert_eq!(
        db.store.stats().await.unwrap().inbox_pending,
        2,
        "the rest stays queued"
    );
    // No lease is left behind: another server can take the chat at once.
    let claim = db
        .store
        .claim_turn("next-server", SystemClock.now(), Duration::from_secs(30))
        .await;
    assert_eq!(
        claim
            .unwrap()
            .expect("claimable at once")
            .message
            .message_id,
        "s2"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

async fn end_to_end(db: TestDb) {
    let mut config = config_for(&db);
    // Wake-ups, not polling, must bring the replies quickly.
    config.poll_interval_ms = 5_000;
    let server = Server::bind(config, Arc::new(CounterGame::new()), always_ready())
        .await
        .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));

    let (status, body) = http_request(addr, "GET", "/", None).await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("Fraser web chat"));
    let started = Instant::now();
    for (index, text) in ["play", "hint", "skip"].iter().enumerate() {
        let body = format!(r#"{{"sender_name":"Ada","text":"{text}","message_id":"e{index}"}}"#);
        let (status, response) = http_request(addr, "POST", "/api/chat/e2e/messages", Some(&body))
            .await
            .unwrap();
        assert_eq!(status, 202, "{response}");
    }
    let mut texts = Vec::new();
    let mut cursor = 0;
    while texts.len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "replies so far: {texts:?}"
        );
        let path = format!("/api/chat/e2e/replies?after={cursor}&wait=5");
        let (status, body) = http_request(addr, "GET", &path, None).await.unwrap();
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        for reply in page["replies"].as_array().unwrap() {
            texts.push(reply["text"].as_str().unwrap().to_string());
        }
        cursor = page["next"].as_i64().unwrap();
    }
    assert_eq!(texts, vec!["#1: play", "#2: hint", "#3: skip"]);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "slow: {:?}",
        started.elapsed()
    );

    let (status, _) = http_request(addr, "GET", "/readyz", None).await.unwrap();
    assert_eq!(status, 200);
    let (status, metrics) = http_request(addr, "GET", "/metrics", None).await.unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("fraser_turns_total 3\n"), "{metrics}");
    assert!(
        metrics.contains("fraser_sends_total{platform=\"web\"} 3\n"),
        "{metrics}"
    );

    // A message stored by another process (here: another store instance on the same
    // database) is picked up too: through NOTIFY on PostgreSQL, polling on SQLite.
    db.store
        .enqueue(&message("web", "e2e", "from-elsewhere", "four"))
        .await
        .unwrap();
    let path = format!("/api/chat/e2e/replies?after={cursor}&wait=10");
    let (_, body) = http_request(addr, "GET", &path, None).await.unwrap();
    assert!(body.contains("#4: four"), "{body}");

    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_over_http_with_sqlite() {
    end_to_end(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_over_http_with_postgres() {
    end_to_end(TestDb::postgres().await).await;
}
