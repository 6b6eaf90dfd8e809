//! A game played through the whole server loop over a real index: web chat
//! message -> inbox -> worker -> game over the index -> outbox -> web replies.

use std::sync::Arc;
use std::time::Duration;

use integration_tests::{ENWIKI, SIMPLEWIKI, build_index, build_sample_index};
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

    let (addr, stop_tx, handle) = start_server(dir.path(), game).await;

    say(addr, "e2e", "/play").await;
    let first = replies(addr, "e2e", 0, 1).await;
    let clue = first[0]["text"].as_str().unwrap();
    assert!(clue.contains("guess the article"), "{clue}");
    let cursor = first.last().unwrap()["id"].as_i64().unwrap();

    say(addr, "e2e", "/skip").await;
    let after_skip = replies(addr, "e2e", cursor, 1).await;
    let reveal = after_skip[0]["text"].as_str().unwrap();
    assert!(
        reveal.contains("https://en.wikipedia.org/wiki/"),
        "{reveal}"
    );
    // The clue never shows the answer: where its sentence names the article, the
    // name is blanked out (a sentence that does not name it has nothing to mask).
    let url_title = reveal
        .split("https://en.wikipedia.org/wiki/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .trim_end_matches([')', '.', ','])
        .replace('_', " ");
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let (clue_words, title_words) = (words(clue), words(&url_title));
    assert!(
        !clue_words
            .windows(title_words.len().max(1))
            .any(|window| window == title_words.as_slice()),
        "the clue shows the answer {url_title:?}: {clue}"
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

/// Starts a server on an SQLite file in `dir`, on a free loopback port; send on the
/// returned channel to stop it, then await the handle.
async fn start_server(
    dir: &std::path::Path,
    game: Arc<server::WordGames>,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), server::RunError>>,
) {
    let mut config = server::Config::defaults();
    config.database_url = format!("sqlite://{}", dir.join("fraser.sqlite").display());
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
    (addr, stop_tx, handle)
}

async fn readyz(addr: std::net::SocketAddr) -> serde_json::Value {
    let (status, body) = http_request(addr, "GET", "/readyz", None).await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn texts(replies: &[serde_json::Value]) -> Vec<String> {
    replies
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_is_replaced_while_serving_and_a_running_round_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let index_dir = dir.path().join("index");
    build_index(ENWIKI, &index_dir);
    let opened = server::open_index(&index_dir).unwrap();
    let first_build = opened.build.clone();
    let game = Arc::new(server::WordGames::over_opened(opened));
    tokio::spawn(server::watch_index(
        Arc::clone(&game),
        index_dir.clone(),
        Duration::from_millis(100),
    ));

    let (addr, stop_tx, handle) = start_server(dir.path(), game).await;

    let before = readyz(addr).await;
    assert_eq!(before["index"]["generation"], 1, "{before}");
    assert_eq!(before["index"]["build"], first_build.as_str());

    // A round starts on the first index.
    say(addr, "swap", "/play").await;
    let start = replies(addr, "swap", 0, 1).await;
    assert!(texts(&start)[0].contains("guess the article"), "{start:?}");
    let mut cursor = start.last().unwrap()["id"].as_i64().unwrap();

    // `fraser build` renames a new build (another wiki) over the served directory.
    let out = index_dir.clone();
    tokio::task::spawn_blocking(move || build_index(SIMPLEWIKI, &out))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let after = loop {
        let now = readyz(addr).await;
        if now["index"]["generation"] == 2 {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "no reload: {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_ne!(after["index"]["build"], first_build.as_str(), "{after}");
    assert_eq!(after["index"]["articles"], 6, "{after}");
    let (_, metrics) = http_request(addr, "GET", "/metrics", None).await.unwrap();
    assert!(
        metrics.contains("fraser_index_generation{build="),
        "{metrics}"
    );

    // The round in flight goes on: a hint, then the answer and what comes next.
    say(addr, "swap", "/hint").await;
    let hint = replies(addr, "swap", cursor, 1).await;
    assert!(texts(&hint)[0].contains(" now)"), "{hint:?}");
    cursor = hint.last().unwrap()["id"].as_i64().unwrap();
    say(addr, "swap", "/skip").await;
    let skip = texts(&replies(addr, "swap", cursor, 2).await);
    assert!(
        skip[0].contains("/wiki/"),
        "the answer is revealed: {skip:?}"
    );
    assert_eq!(skip.len(), 2, "a next round or a polite end: {skip:?}");

    // New questions are answered from the new index.
    say(addr, "fresh", "who is air").await;
    let answer = texts(&replies(addr, "fresh", 0, 1).await);
    assert!(
        answer[0].contains("https://simple.wikipedia.org/wiki/Air"),
        "{answer:?}"
    );

    // A broken directory is refused and the served index stays.
    let broken = dir.path().join("broken");
    build_index(SIMPLEWIKI, &broken);
    std::fs::remove_file(broken.join("titles.fst")).unwrap();
    std::fs::remove_dir_all(&index_dir).unwrap();
    std::fs::rename(&broken, &index_dir).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kept = readyz(addr).await;
    assert_eq!(kept["index"]["generation"], 2, "{kept}");
    say(addr, "fresh", "who is april").await;
    let answer = texts(&replies(addr, "fresh", 0, 2).await);
    assert!(
        answer
            .iter()
            .any(|t| t.contains("simple.wikipedia.org/wiki/April")),
        "{answer:?}"
    );

    stop_tx.send(()).unwrap();
    handle.await.unwrap().unwrap();
}
