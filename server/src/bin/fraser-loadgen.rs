//! `fraser-loadgen`: a bounded loopback load test of one server.
//!
//! Starts one server on a fresh database (PostgreSQL from `DATABASE_URL`, or SQLite in
//! a temporary directory) with the counter game, a webhook platform `load` that needs
//! no signature and an in-process messenger that records every delivery. Then it posts
//! `--messages` webhooks over HTTP/1.1 keep-alive to 127.0.0.1, at `--rate` requests/s
//! (open loop; 0 = as fast as `--concurrency` in-flight requests allow) across
//! `--chats` chats, and waits until every reply is delivered. It prints one table row:
//! acknowledgement latency (from the request's scheduled send time to its answer, so a
//! client that falls behind does not hide the server's delay), end-to-end completed
//! turns/s (first request to last reply delivered), the CPU time spent per turn by
//! this process (server, client and fake messenger together) and by the PostgreSQL
//! backends serving it, with the turns/s that 2 CPU-seconds per second of that work
//! would give (a machine-load-independent estimate for 2 idle cores; client work is
//! included, so it is conservative), and the checks: every message got exactly one
//! reply, and each chat's replies came in order.
//!
//! Only loopback traffic; the run is bounded by `--messages` and `--timeout-secs`.
//! Build with `--features testing` (see `scripts/bench-server.sh`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use clap::Parser;
use server::testing::{CounterGame, TestDb};
use server::{
    AuthError, BoxFuture, ChatAddress, Config, Inbound, InboundMessage, Messenger, ParseError,
    Reply, SendOutcome, Server, Timestamp, always_ready,
};
use tokio::sync::Semaphore;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "fraser-loadgen",
    about = "Bounded loopback load test of one Fraser server"
)]
struct Args {
    /// `postgres` (a fresh database on the server of DATABASE_URL) or `sqlite`.
    #[arg(long, default_value = "postgres")]
    store: String,
    /// Webhooks to send (one message each).
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Requests per second (open loop); 0 sends as fast as `--concurrency` allows.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Chats the messages are spread over (message i goes to chat i mod chats).
    #[arg(long, default_value_t = 10_000)]
    chats: usize,
    /// Most requests in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Server turn workers.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Server reply senders.
    #[arg(long, default_value_t = 1)]
    senders: usize,
    /// Chats a server worker claims and commits at once.
    #[arg(long, default_value_t = 32)]
    turn_batch: u32,
    /// Replies a server sender claims per round.
    #[arg(long, default_value_t = 128)]
    send_batch: u32,
    /// Server workers' wait (ms) after a wake-up or a part batch before claiming
    /// (default: the server's).
    #[arg(long)]
    turn_linger_ms: Option<u64>,
    /// Server senders' wait (ms) after a wake-up or a part round (default: the server's).
    #[arg(long)]
    send_linger_ms: Option<u64>,
    /// Server database connections.
    #[arg(long, default_value_t = 16)]
    db_connections: u32,
    /// Threads of the server's runtime.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// Give up (and fail) after this long.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    /// A label for the table row.
    #[arg(long, default_value = "")]
    label: String,
    /// Print the table header first.
    #[arg(long)]
    header: bool,
}

/// Platform `load`: no signature; the body is `{"chat", "id", "text"}`.
struct OpenInbound;

impl Inbound for OpenInbound {
    fn platform(&self) -> &str {
        "load"
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
        let chat = field("chat");
        Ok(vec![InboundMessage {
            platform: "load".into(),
            sender_id: format!("u-{chat}"),
            sender_name: format!("User {chat}"),
            chat_id: chat,
            text: field("text"),
            message_id: field("id"),
            is_group: false,
            reply_context: serde_json::Value::Null,
            received_at: Timestamp(0),
        }])
    }
}

/// Records every delivered reply per chat, in delivery order.
#[derive(Default)]
struct RecordingMessenger {
    deliveries: Mutex<HashMap<String, Vec<String>>>,
    count: AtomicUsize,
}

impl Messenger for RecordingMessenger {
    fn platform(&self) -> &str {
        "load"
    }

    fn max_len(&self) -> usize {
        4096
    }

    fn send<'a>(&'a self, chat: &'a ChatAddress, reply: &'a Reply) -> BoxFuture<'a, SendOutcome> {
        if let Ok(mut deliveries) = self.deliveries.lock() {
            deliveries
                .entry(chat.chat_id.clone())
                .or_default()
                .push(reply.text.clone());
        }
        self.count.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { SendOutcome::Sent })
    }
}

/// One request's timing, relative to the start of the run.
#[derive(Clone, Copy, Default)]
struct Timing {
    scheduled: Duration,
    acked: Duration,
    ok: bool,
}

fn plan(index: usize, chats: usize) -> (usize, usize) {
    (index % chats, index / chats + 1)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// CPU time (user + system) of a process so far, from `/proc/<pid>/stat`, in clock
/// ticks (1/100 s on Linux).
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name: state is field 3; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU ticks of the PostgreSQL backends serving the database at `url` (this machine
/// only), by process id.
async fn backend_ticks(url: &str) -> HashMap<String, u64> {
    use sqlx::Connection;
    let mut ticks = HashMap::new();
    let Ok(mut connection) = sqlx::PgConnection::connect(url).await else {
        return ticks;
    };
    let pids: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap_or_default();
    for pid in pids {
        let pid = pid.to_string();
        if let Some(value) = cpu_ticks(&pid) {
            ticks.insert(pid, value);
        }
    }
    let _ = connection.close().await;
    ticks
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "?".into())
}

async fn send_all(addr: SocketAddr, args: &Args, started: Instant) -> Result<Vec<Timing>, String> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|error| error.to_string())?;
    let url = format!("http://{addr}/webhooks/load");
    let limit = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    // Open loop: a thread of its own paces the requests with the OS's precise sleep
    // (tokio's timer rounds a deadline up to the next millisecond, which would add up
    // to 1 ms to every measured acknowledgement) and releases each at its time.
    let (release, mut released) = tokio::sync::mpsc::unbounded_channel::<()>();
    let pacer = (args.rate > 0).then(|| {
        let rate = args.rate as f64;
        let messages = args.messages;
        std::thread::spawn(move || {
            for index in 0..messages {
                let due = started + Duration::from_secs_f64(index as f64 / rate);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if release.send(()).is_err() {
                    break;
                }
            }
        })
    });
    for index in 0..args.messages {
        let scheduled = if args.rate > 0 {
            Duration::from_secs_f64(index as f64 / args.rate as f64)
        } else {
            Duration::ZERO
        };
        if pacer.is_some() && released.recv().await.is_none() {
            return Err("the request pacer stopped".into());
        }
        let permit = Arc::clone(&limit)
            .acquire_owned()
            .await
            .map_err(|error| error.to_string())?;
        // Closed loop: the clock of a request starts when it may be sent.
        let scheduled = if args.rate > 0 {
            scheduled
        } else {
            started.elapsed()
        };
        let (chat, sequence) = plan(index, args.chats);
        let body = serde_json::json!({
            "chat": format!("c{chat}"),
            "id": format!("m{index}"),
            "text": format!("s{sequence}"),
        })
        .to_string();
        let client = client.clone();
        let url = url.clone();
        tasks.spawn(async move {
            let response = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let ok = matches!(&response, Ok(response) if response.status().is_success());
            let acked = started.elapsed();
            drop(permit);
            (
                index,
                Timing {
                    scheduled,
                    acked,
                    ok,
                },
            )
        });
    }
    if let Some(pacer) = pacer {
        pacer
            .join()
            .map_err(|_| "the request pacer panicked".to_string())?;
    }
    let mut timings = vec![Timing::default(); args.messages];
    while let Some(joined) = tasks.join_next().await {
        let (index, timing) = joined.map_err(|error| error.to_string())?;
        timings[index] = timing;
    }
    Ok(timings)
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(error) => {
            eprintln!("fraser-loadgen: {error}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    if args.chats == 0 || args.messages == 0 {
        return Err("--chats and --messages must be positive".into());
    }
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.server_threads.max(1))
        .thread_name("server")
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("client")
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;

    let db = server_runtime.block_on(async {
        match args.store.as_str() {
            "postgres" => Ok(TestDb::postgres().await),
            "sqlite" => Ok(TestDb::sqlite().await),
            other => Err(format!("unknown store {other:?} (postgres or sqlite)")),
        }
    })?;
    let recorder = Arc::new(RecordingMessenger::default());
    let mut config = Config::defaults();
    config.database_url = db.url().to_string();
    config.listen = "127.0.0.1:0".parse().map_err(|_| "bad address")?;
    config.workers = args.workers;
    config.senders = args.senders;
    config.turn_batch = args.turn_batch;
    config.send_batch = args.send_batch;
    config.db_max_connections = args.db_connections;
    if let Some(linger) = args.turn_linger_ms {
        config.turn_linger_ms = linger;
    }
    if let Some(linger) = args.send_linger_ms {
        config.send_linger_ms = linger;
    }
    config.poll_interval_ms = 200;
    config.shutdown_grace_secs = 10;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let recorder_for_server = Arc::clone(&recorder);
    let (addr, running) = server_runtime.block_on(async move {
        let server = Server::bind(config, Arc::new(CounterGame::new()), always_ready())
            .await
            .map_err(|error| format!("{error:#}"))?
            .with_inbound(Arc::new(OpenInbound))
            .with_messenger(recorder_for_server);
        let addr = server.local_addr();
        let running = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Ok::<_, String>((addr, running))
    })?;

    let postgres = args.store == "postgres";
    let db_ticks_before = if postgres {
        server_runtime.block_on(backend_ticks(db.url()))
    } else {
        HashMap::new()
    };
    let own_ticks_before = cpu_ticks("self").unwrap_or(0);
    let started = Instant::now();
    let timings = client_runtime.block_on(send_all(addr, args, started))?;
    let sent_in = timings
        .iter()
        .map(|timing| timing.acked)
        .max()
        .unwrap_or_default();

    let deadline = started + Duration::from_secs(args.timeout_secs);
    let accepted = timings.iter().filter(|timing| timing.ok).count();
    let mut timed_out = false;
    while recorder.count.load(Ordering::SeqCst) < accepted {
        if Instant::now() > deadline {
            timed_out = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let completed_in = started.elapsed();
    // CPU spent on the run: this process (server, client, fake messenger) and the
    // database backends serving it. Other processes on the machine do not count.
    let own_ticks = cpu_ticks("self").unwrap_or(0) - own_ticks_before;
    let db_ticks: u64 = if postgres {
        server_runtime
            .block_on(backend_ticks(db.url()))
            .into_iter()
            .map(|(pid, ticks)| ticks - db_ticks_before.get(&pid).copied().unwrap_or(0).min(ticks))
            .sum()
    } else {
        0
    };
    // Late duplicates would show up here.
    std::thread::sleep(Duration::from_millis(300));
    let _ = stop.send(());
    let _ = server_runtime.block_on(running);
    let load = load_average();

    // Checks: exactly one reply per message; per chat, replies numbered 1, 2, ... and,
    // where a message was sent only after the previous one of its chat was answered,
    // in sending order.
    let deliveries = recorder
        .deliveries
        .lock()
        .map(|deliveries| deliveries.clone())
        .unwrap_or_default();
    let mut replies_of = vec![0usize; args.messages];
    let mut order_violations = 0usize;
    let mut strange = 0usize;
    for (chat_id, texts) in &deliveries {
        let Some(chat) = chat_id
            .strip_prefix('c')
            .and_then(|n| n.parse::<usize>().ok())
        else {
            strange += texts.len();
            continue;
        };
        for (position, text) in texts.iter().enumerate() {
            // "#{count}: s{sequence}"
            let parsed = text.strip_prefix('#').and_then(|rest| {
                let (count, sequence) = rest.split_once(": s")?;
                Some((
                    count.parse::<usize>().ok()?,
                    sequence.parse::<usize>().ok()?,
                ))
            });
            let Some((count, sequence)) = parsed else {
                strange += 1;
                continue;
            };
            let index = (sequence - 1) * args.chats + chat;
            if sequence == 0 || index >= args.messages {
                strange += 1;
                continue;
            }
            replies_of[index] += 1;
            if count != position + 1 {
                order_violations += 1;
            } else if sequence != count {
                // Turn n ran message `sequence`: fine only if the two were in flight
                // together (then the server saw them in either order).
                let previous = index.checked_sub(args.chats);
                let overlapped = previous
                    .is_some_and(|previous| timings[index].scheduled < timings[previous].acked);
                if !overlapped {
                    order_violations += 1;
                }
            }
        }
    }
    let missing = (0..args.messages)
        .filter(|&index| timings[index].ok && replies_of[index] == 0)
        .count();
    let duplicated = replies_of.iter().filter(|&&count| count > 1).count();
    let rejected = args.messages - accepted;

    let mut latencies: Vec<Duration> = timings
        .iter()
        .map(|timing| timing.acked.saturating_sub(timing.scheduled))
        .collect();
    latencies.sort_unstable();
    let turns_per_sec = accepted as f64 / completed_in.as_secs_f64();
    // 1 tick = 10 ms.
    let own_ms_per_turn = own_ticks as f64 * 10.0 / accepted.max(1) as f64;
    let db_ms_per_turn = db_ticks as f64 * 10.0 / accepted.max(1) as f64;
    let two_core_estimate = 2000.0 / (own_ms_per_turn + db_ms_per_turn).max(0.001);
    let ok = !timed_out
        && rejected == 0
        && missing == 0
        && duplicated == 0
        && order_violations == 0
        && strange == 0;
    if args.header {
        println!(
            "| run | store | messages | chats | rate req/s | sent in s | ack p50 ms | ack p99 ms | ack max ms | turns/s e2e | CPU ms/turn fraser + db | turns/s per 2 CPU-s | rejected | missing | dup | order | load avg | ok |"
        );
        println!(
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
        );
    }
    println!(
        "| {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.2} + {:.2} | {:.0} | {} | {} | {} | {} | {} | {} |",
        args.label,
        args.store,
        args.messages,
        args.chats,
        if args.rate == 0 {
            format!("max ({} in flight)", args.concurrency)
        } else {
            args.rate.to_string()
        },
        sent_in.as_secs_f64(),
        millis(percentile(&latencies, 50.0)),
        millis(percentile(&latencies, 99.0)),
        millis(latencies.last().copied().unwrap_or_default()),
        turns_per_sec,
        own_ms_per_turn,
        db_ms_per_turn,
        two_core_estimate,
        rejected,
        missing,
        duplicated,
        order_violations,
        load,
        if ok {
            "yes"
        } else if timed_out {
            "TIMEOUT"
        } else {
            "NO"
        },
    );
    drop(db);
    Ok(ok)
}
