//! `fraser-fake-platform`: a stand-in for a messenger platform's API (Telegram's shape)
//! for the local cluster and the fault and load scripts. Loopback only.
//!
//! Every call is appended as one JSON line to `--log` (method, path, body, time), then
//! answered according to the current mode: `ok` (Telegram's success envelope), `error`
//! (500), `limit` (429 with `retry_after` 2 s) or `hang` (answers after 60 s, past any
//! client timeout). `POST /_fake/mode/{mode}` switches the mode, `GET /_fake/stats`
//! counts the calls.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use clap::Parser;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "fraser-fake-platform",
    about = "A fake messenger platform API for local clusters and load tests"
)]
struct Args {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:18090")]
    listen: SocketAddr,
    /// File that receives one JSON line per call.
    #[arg(long)]
    log: PathBuf,
}

const OK: u8 = 0;
const ERROR: u8 = 1;
const LIMIT: u8 = 2;
const HANG: u8 = 3;

struct Shared {
    mode: AtomicU8,
    calls: AtomicU64,
    log: Mutex<std::io::BufWriter<std::fs::File>>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        return Err("the fake platform listens on loopback only".into());
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.log)?;
    let shared = Arc::new(Shared {
        mode: AtomicU8::new(OK),
        calls: AtomicU64::new(0),
        log: Mutex::new(std::io::BufWriter::new(file)),
    });
    let router = axum::Router::new()
        .route("/_fake/mode/{mode}", axum::routing::post(set_mode))
        .route("/_fake/stats", axum::routing::get(stats))
        .fallback(call)
        .with_state(Arc::clone(&shared));
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    eprintln!("fake platform on http://{}", args.listen);
    let flusher = Arc::clone(&shared);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Ok(mut log) = flusher.log.lock() {
                let _ = log.flush();
            }
        }
    });
    axum::serve(listener, router).await?;
    Ok(())
}

async fn set_mode(State(shared): State<Arc<Shared>>, Path(mode): Path<String>) -> Response {
    let value = match mode.as_str() {
        "ok" => OK,
        "error" => ERROR,
        "limit" => LIMIT,
        "hang" => HANG,
        _ => return (StatusCode::BAD_REQUEST, "modes: ok, error, limit, hang").into_response(),
    };
    shared.mode.store(value, Ordering::SeqCst);
    (StatusCode::OK, mode).into_response()
}

async fn stats(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "calls": shared.calls.load(Ordering::SeqCst),
        "mode": shared.mode.load(Ordering::SeqCst),
    }))
}

async fn call(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    shared.calls.fetch_add(1, Ordering::SeqCst);
    let mode = shared.mode.load(Ordering::SeqCst);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    let body_json: serde_json::Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    let mode_name = ["ok", "error", "limit", "hang"][usize::from(mode.min(3))];
    let line = serde_json::json!({
        "at_ms": now_ms,
        "method": method.as_str(),
        "path": uri.path(),
        "mode": mode_name,
        "body": body_json,
    });
    if let Ok(mut log) = shared.log.lock() {
        let _ = writeln!(log, "{line}");
    }
    match mode {
        ERROR => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"ok": false, "error_code": 500, "description": "Internal Server Error"})),
        )
            .into_response(),
        LIMIT => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(serde_json::json!({"ok": false, "error_code": 429,
                "description": "Too Many Requests: retry after 2", "parameters": {"retry_after": 2}})),
        )
            .into_response(),
        HANG => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            (StatusCode::GATEWAY_TIMEOUT, "hung").into_response()
        }
        _ => {
            let chat = body_json.get("chat_id").cloned().unwrap_or(serde_json::Value::Null);
            Json(serde_json::json!({"ok": true, "result": {
                "message_id": shared.calls.load(Ordering::SeqCst),
                "date": now_ms / 1000,
                "chat": {"id": chat, "type": "private"},
            }}))
            .into_response()
        }
    }
}
