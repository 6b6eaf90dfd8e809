//! A game over the enwiki index played through a real messenger adapter configured the
//! way `fraser serve` configures it (from environment variables): signed Telegram
//! webhooks -> inbox -> game -> outbox -> the Telegram API (a local fake).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use integration_tests::{ENWIKI, build_sample_index};
use server::messenger::common::Env;
use server::testing::{FakePlatform, RecordedRequest, ScriptedResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "e2e-webhook-secret";

/// POSTs a Telegram update with the webhook secret header; returns the status.
async fn post_update(addr: SocketAddr, update: &serde_json::Value) -> u16 {
    let body = update.to_string();
    let request = format!(
        "POST /webhooks/telegram HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

fn text_update(update_id: i64, text: &str) -> serde_json::Value {
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {"id": 4242, "is_bot": false, "first_name": "Ada"},
            "chat": {"id": 4242, "type": "private", "first_name": "Ada"},
            "date": 1_700_000_000,
            "text": text
        }
    })
}

fn button_update(update_id: i64, data: &str) -> serde_json::Value {
    serde_json::json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("cb{update_id}"),
            "from": {"id": 4242, "is_bot": false, "first_name": "Ada"},
            "chat_instance": "1",
            "data": data,
            "message": {
                "message_id": 1,
                "chat": {"id": 4242, "type": "private", "first_name": "Ada"},
                "date": 1_700_000_000,
                "text": "clue"
            }
        }
    })
}

fn sends(fake: &FakePlatform) -> Vec<RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|request| request.path.ends_with("/sendMessage"))
        .collect()
}

async fn wait_for_sends(fake: &FakePlatform, count: usize) -> Vec<RecordedRequest> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = sends(fake);
        if found.len() >= count {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} sendMessage calls, expected {count}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_round_over_the_enwiki_index() {
    let dir = tempfile::tempdir().unwrap();
    let index_dir = build_sample_index(ENWIKI, dir.path());
    let fake = FakePlatform::start(ScriptedResponse::json(
        200,
        serde_json::json!({"ok": true, "result": {"message_id": 7, "date": 0,
            "chat": {"id": 4242, "type": "private"}}}),
    ))
    .await;

    // What `fraser serve` does with its environment.
    let env = Env::from_map([
        ("FRASER_TELEGRAM_TOKEN", "123:e2e-token".to_string()),
        ("FRASER_TELEGRAM_WEBHOOK_SECRET", SECRET.to_string()),
        ("FRASER_TELEGRAM_API_URL", fake.url()),
    ]);
    let platforms = server::messenger::from_env(&env).unwrap();
    assert_eq!(platforms.len(), 1);
    let idx = Arc::new(index::Index::open(&index_dir).unwrap());
    let game = Arc::new(server::WordGames::over_index(idx));
    let mut config = server::Config::defaults();
    config.database_url = format!("sqlite://{}", dir.path().join("fraser.sqlite").display());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.poll_interval_ms = 50;
    let mut server = server::Server::bind(config, game, server::always_ready())
        .await
        .unwrap();
    for adapter in platforms {
        server = server.with_platform(adapter);
    }
    let addr = server.local_addr();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server.run(async move {
        let _ = stop_rx.await;
    }));

    // A forged webhook (no secret) is refused.
    let forged = text_update(1, "/play");
    let body = forged.to_string();
    let (status, _) =
        server::testing::http_request(addr, "POST", "/webhooks/telegram", Some(&body))
            .await
            .unwrap();
    assert_eq!(status, 401);

    assert_eq!(post_update(addr, &text_update(1, "/play")).await, 200);
    let first = wait_for_sends(&fake, 1).await;
    let clue = first[0].json();
    let text = clue["text"].as_str().unwrap();
    assert!(text.contains("guess the article"), "{text}");
    assert_eq!(clue["chat_id"], 4242);
    assert!(
        fake.requests()[0].path.starts_with("/bot123:e2e-token/"),
        "{}",
        fake.requests()[0].path
    );
    let keyboard = &clue["reply_markup"]["inline_keyboard"];
    let buttons: Vec<&str> = keyboard
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().into_iter().flatten())
        .filter_map(|button| button["callback_data"].as_str())
        .collect();
    assert!(buttons.contains(&"/hint"), "hint button: {keyboard}");

    // Pressing the hint button plays `hint`; Telegram redelivers it once: one turn.
    assert_eq!(post_update(addr, &button_update(2, "/hint")).await, 200);
    assert_eq!(post_update(addr, &button_update(2, "/hint")).await, 200);
    let after_hint = wait_for_sends(&fake, 2).await;
    let hint = after_hint[1].json()["text"].as_str().unwrap().to_string();
    assert_ne!(hint, text, "the hint is a new message");

    // Giving up reveals the answer.
    assert_eq!(post_update(addr, &text_update(3, "skip")).await, 200);
    let after_skip = wait_for_sends(&fake, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sends(&fake).len(),
        3,
        "one reply per turn, the redelivery made none"
    );
    let reveal = after_skip[2].json()["text"].as_str().unwrap().to_string();
    assert!(!reveal.is_empty());

    let _ = stop_tx.send(());
    handle.await.unwrap().unwrap();
}
