//! A game played through the whole server loop over a real index: web chat
//! message -> inbox -> worker -> game over the index -> outbox -> web replies.

use std::sync::Arc;
use std::time::Duration;

use integration_tests::{ENWIKI, build_sample_index};
use server::testing::http_request;

async fn replies(
    addr: std::net::SocketAddr,
    chat: &str,
    after: i64,
    want: usize,
) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_request(
            addr,
            "GET",
            &format!("/api/chat/{chat}/replies?after={after}"),
            None,
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        let items = value["replies"].as_array().cloned().unwrap_or_default();
        if items.len() >= want || std::time::Instant::now() > deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn say(addr: std::net::SocketAddr, chat: &str, text: &str) {
    let body = serde_json::json!({"sender_name": "ana", "text": text}).to_string();
    let (status, answer) = http_request(
        addr,
        "POST",
        &format!("/api/chat/{chat}/messages"),
        Some(&body),
    )
    .await
    .unwrap();
    assert!(status == 200 || status == 202, "{status} {answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guess_round_through_the_server_over_the_enwiki_index() {
    let dir = tempfile::tempdir().unwrap();
    let index_dir = build_sample_index(ENWIKI, dir.path());
    let idx = Arc::new(index::Index::open(&index_dir).unwrap());
    let game = Arc::new(server::WordGames::over_index(idx));

    let mut config = server::Config::defaults();
    config.database_url = format!("sqlite://{}", dir.path().join("fraser.sqlite").display());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.poll_interval_ms = 50;
    let server = server::Server::bind(config, game, server::always_ready())
        .await
        .unwrap();
    let addr = server.local_addr();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server.run(async move {
        let _ = stop_rx.await;
    }));

    say(addr, "e2e", "/play").await;
    let first = replies(addr, "e2e", 0, 1).await;
    let clue = first[0]["text"].as_str().unwrap();
    assert!(clue.contains("guess the article"), "{clue}");
    assert!(clue.contains("___"), "a clue masks the answer: {clue}");
    let cursor = first.last().unwrap()["id"].as_i64().unwrap();

    say(addr, "e2e", "/skip").await;
    let after_skip = replies(addr, "e2e", cursor, 1).await;
    let reveal = after_skip[0]["text"].as_str().unwrap();
    assert!(
        reveal.contains("https://en.wikipedia.org/wiki/"),
        "{reveal}"
    );

    say(addr, "e2e", "who is aristotle").await;
    let cursor = after_skip.last().unwrap()["id"].as_i64().unwrap();
    let answer = replies(addr, "e2e", cursor, 1).await;
    assert!(
        answer
            .iter()
            .any(|r| r["text"].as_str().unwrap().contains("Greek philosopher")),
        "{answer:?}"
    );

    stop_tx.send(()).unwrap();
    handle.await.unwrap().unwrap();
}
