//! `fraser-webhook-load`: a bounded loopback load generator of signed Telegram webhooks.
//!
//! Sends `--messages` updates across `--chats` chats (a share of them to a few very busy
//! chats) at `--rate` per second with at most `--concurrency` in flight. Like a real
//! platform, it redelivers a webhook until it gets a 200 (every 100 ms, up to
//! `--give-up-secs`), so a message counts as accepted only when a server said 200.
//! Prints a JSON summary: accepted, never accepted, redeliveries, answers by status,
//! acknowledgement latency percentiles, and the seconds during which some webhook was
//! refused (the outage windows).
//!
//! `--trace FILE` writes one JSON line per answer (`sent_ms`: the first attempt,
//! `at_ms`: this answer, both Unix ms; `update_id`, `chat`, `status`), from which the
//! fault and load scripts compute recovery times and end-to-end latencies.
//! `--guesses FILE` makes the guesses titles picked from the file (one a line), so
//! some rounds are won; `--group` sends group chats, whose replies quote the message
//! they answer (Telegram's `reply_parameters`).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "fraser-webhook-load",
    about = "Bounded load of signed Telegram webhooks (loopback only)"
)]
struct Args {
    /// Webhook URL (loopback), e.g. http://127.0.0.1:18080/webhooks/telegram.
    #[arg(long)]
    url: String,
    /// The webhook secret (X-Telegram-Bot-Api-Secret-Token).
    #[arg(long, default_value = "cluster-secret")]
    secret: String,
    /// Number of messages.
    #[arg(long, default_value_t = 1000)]
    messages: u64,
    /// Number of chats.
    #[arg(long, default_value_t = 100)]
    chats: u64,
    /// Messages per second (0 = as fast as the concurrency allows).
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Requests in flight at most.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Share of messages that go to the busy chats.
    #[arg(long, default_value_t = 0.2)]
    busy_share: f64,
    /// Number of busy chats (the first chat ids).
    #[arg(long, default_value_t = 3)]
    busy_chats: u64,
    /// First update id (use a new range per run against the same database).
    #[arg(long, default_value_t = 1)]
    first_update_id: u64,
    /// Stop redelivering one webhook after this long.
    #[arg(long, default_value_t = 120)]
    give_up_secs: u64,
    /// Write one JSON line per answer to this file.
    #[arg(long)]
    trace: Option<std::path::PathBuf>,
    /// Guess titles from this file (one a line) instead of fixed words.
    #[arg(long)]
    guesses: Option<std::path::PathBuf>,
    /// Send group chats (replies then quote the message they answer).
    #[arg(long)]
    group: bool,
}

#[derive(Default)]
struct Totals {
    accepted: u64,
    given_up: u64,
    redeliveries: u64,
    statuses: BTreeMap<String, u64>,
    ack_micros: Vec<u64>,
    refused_seconds: BTreeMap<u64, u64>,
    trace: Option<std::io::BufWriter<std::fs::File>>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let host_ok =
        args.url.starts_with("http://127.0.0.1") || args.url.starts_with("http://localhost");
    if !host_ok {
        return Err(
            "loopback only: --url must be http://127.0.0.1:... or http://localhost:...".into(),
        );
    }
    if args.chats == 0 || args.busy_chats > args.chats {
        return Err("--chats must be positive and at least --busy-chats".into());
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let guesses: Vec<String> = match &args.guesses {
        Some(path) => std::fs::read_to_string(path)?
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    let trace = match &args.trace {
        Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
    let chat_type = if args.group { "group" } else { "private" };
    let totals = Arc::new(Mutex::new(Totals {
        trace,
        ..Totals::default()
    }));
    let permits = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut per_chat_count: BTreeMap<u64, u64> = BTreeMap::new();
    let mut rng_state: u64 = 0x9e37_79b9_7f4a_7c15 ^ args.first_update_id;
    for i in 0..args.messages {
        if args.rate > 0 {
            let due = start + Duration::from_secs_f64(i as f64 / args.rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        rng_state = xorshift(rng_state);
        let unit = (rng_state >> 11) as f64 / (1u64 << 53) as f64;
        rng_state = xorshift(rng_state);
        let chat = if unit < args.busy_share && args.busy_chats > 0 {
            1 + rng_state % args.busy_chats
        } else {
            1 + rng_state % args.chats
        };
        let nth = per_chat_count.entry(chat).or_insert(0);
        let text = [
            "/play",
            "hint",
            "paris",
            "skip",
            "/play blank",
            "london",
            "score",
        ][(*nth % 7) as usize];
        *nth += 1;
        let text = match text {
            "paris" | "london" if !guesses.is_empty() => {
                rng_state = xorshift(rng_state);
                guesses[(rng_state % guesses.len() as u64) as usize].as_str()
            }
            text => text,
        };
        let update_id = args.first_update_id + i;
        let body = serde_json::json!({
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "from": {"id": 1_000_000 + chat, "is_bot": false, "first_name": format!("Player {chat}")},
                "chat": {"id": 1_000_000 + chat, "type": chat_type},
                "date": 1_700_000_000u64,
                "text": text
            }
        })
        .to_string();
        let permit = Arc::clone(&permits).acquire_owned().await?;
        let client = client.clone();
        let url = args.url.clone();
        let secret = args.secret.clone();
        let totals = Arc::clone(&totals);
        let give_up = Duration::from_secs(args.give_up_secs);
        tasks.spawn(async move {
            let _permit = permit;
            let message = Sent {
                update_id,
                chat: 1_000_000 + chat,
            };
            deliver(
                &client, &url, &secret, body, message, give_up, start, &totals,
            )
            .await;
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed().as_secs_f64();
    let mut totals = totals.lock().map_err(|_| "poisoned")?;
    if let Some(trace) = totals.trace.as_mut() {
        std::io::Write::flush(trace)?;
    }
    totals.ack_micros.sort_unstable();
    let percentile = |p: f64| -> f64 {
        let values = &totals.ack_micros;
        if values.is_empty() {
            return 0.0;
        }
        let index = ((values.len() as f64 - 1.0) * p).round() as usize;
        values[index.min(values.len() - 1)] as f64 / 1000.0
    };
    let summary = serde_json::json!({
        "messages": args.messages,
        "chats": args.chats,
        "accepted": totals.accepted,
        "never_accepted": totals.given_up,
        "redeliveries": totals.redeliveries,
        "answers": totals.statuses,
        "seconds": (elapsed * 100.0).round() / 100.0,
        "accepted_per_second": ((totals.accepted as f64 / elapsed) * 10.0).round() / 10.0,
        "ack_ms": {
            "p50": percentile(0.50),
            "p90": percentile(0.90),
            "p99": percentile(0.99),
            "max": percentile(1.0),
        },
        "refused_by_second": totals.refused_seconds,
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// Which message a webhook carries.
#[derive(Clone, Copy)]
struct Sent {
    update_id: u64,
    chat: u64,
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis())
}

#[allow(clippy::too_many_arguments)]
async fn deliver(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    body: String,
    message: Sent,
    give_up: Duration,
    start: Instant,
    totals: &Mutex<Totals>,
) {
    let first = Instant::now();
    let sent_ms = unix_ms();
    loop {
        let attempt = Instant::now();
        let answer = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-telegram-bot-api-secret-token", secret)
            .body(body.clone())
            .send()
            .await;
        let status = match &answer {
            Ok(response) => response.status().as_u16().to_string(),
            Err(error) if error.is_timeout() => "timeout".to_string(),
            Err(_) => "connection".to_string(),
        };
        let took = attempt.elapsed();
        let retry = {
            let Ok(mut totals) = totals.lock() else {
                return;
            };
            *totals.statuses.entry(status.clone()).or_insert(0) += 1;
            if let Some(trace) = totals.trace.as_mut() {
                let line = serde_json::json!({
                    "sent_ms": sent_ms,
                    "at_ms": unix_ms(),
                    "update_id": message.update_id,
                    "chat": message.chat,
                    "status": status,
                });
                let _ = writeln!(trace, "{line}");
            }
            if status == "200" {
                totals.accepted += 1;
                totals
                    .ack_micros
                    .push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
                false
            } else {
                *totals
                    .refused_seconds
                    .entry(start.elapsed().as_secs())
                    .or_insert(0) += 1;
                if first.elapsed() > give_up {
                    totals.given_up += 1;
                    false
                } else {
                    totals.redeliveries += 1;
                    true
                }
            }
        };
        if !retry {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}
