//! Test helpers shared by this crate's tests and the workspace end-to-end tests
//! (enable the `testing` feature): a counter game, the fake messenger, fresh test
//! databases and a minimal HTTP client.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::game::{Game, ScoreDelta, TurnInput, TurnOutput};
pub use crate::messenger::{FakeBehaviour, FakeMessenger, FakeSend};
pub use platform::{FakePlatform, RecordedRequest, ScriptedResponse};
pub use private_pg::PrivatePostgres;

mod platform;
mod private_pg;
use crate::model::{Button, InboundMessage, Reply, Timestamp};
use crate::store::{PgStore, SqliteStore, Store, StoreOptions};

/// A game that counts messages per chat: state `{"count": n, "last": text}`, one reply
/// `"#n: text"` per message, +1 point for the sender. The text `panic` makes it panic.
#[derive(Debug, Default)]
pub struct CounterGame {
    probe: Option<Arc<ConcurrencyProbe>>,
    delay: Duration,
    buttons: bool,
}

impl CounterGame {
    /// Creates the game.
    pub fn new() -> CounterGame {
        CounterGame::default()
    }

    /// Reports every step to `probe`, which notices two steps of one chat at once.
    pub fn with_probe(mut self, probe: Arc<ConcurrencyProbe>) -> CounterGame {
        self.probe = Some(probe);
        self
    }

    /// Adds the buttons `Hint` (`hint`) and `Skip` (`skip`) to every reply (messenger
    /// adapter tests).
    pub fn with_buttons(mut self) -> CounterGame {
        self.buttons = true;
        self
    }

    /// Makes every step take `delay` (shutdown and lease tests).
    pub fn with_delay(mut self, delay: Duration) -> CounterGame {
        self.delay = delay;
        self
    }
}

impl Game for CounterGame {
    fn step(&self, input: TurnInput<'_>) -> TurnOutput {
        let message = input.message;
        let chat_key = format!("{}/{}", message.platform, message.chat_id);
        if let Some(probe) = &self.probe {
            probe.enter(&chat_key);
        }
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        if let Some(probe) = &self.probe {
            probe.exit(&chat_key);
        }
        assert!(message.text != "panic", "counter game told to panic");
        let count = input
            .state
            .get("count")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0)
            + 1;
        TurnOutput {
            state: serde_json::json!({ "count": count, "last": message.text }),
            replies: vec![Reply {
                text: format!("#{count}: {}", message.text),
                buttons: if self.buttons {
                    vec![
                        Button {
                            label: "Hint".into(),
                            command: "hint".into(),
                        },
                        Button {
                            label: "Skip".into(),
                            command: "skip".into(),
                        },
                    ]
                } else {
                    Vec::new()
                },
            }],
            score_deltas: vec![ScoreDelta {
                player_id: message.sender_id.clone(),
                delta: 1,
            }],
        }
    }
}

/// Detects concurrent game steps of one chat.
#[derive(Debug, Default)]
pub struct ConcurrencyProbe {
    in_flight: Mutex<HashSet<String>>,
    violations: AtomicUsize,
    steps: AtomicUsize,
}

impl ConcurrencyProbe {
    /// Creates a probe.
    pub fn new() -> ConcurrencyProbe {
        ConcurrencyProbe::default()
    }

    fn enter(&self, chat: &str) {
        self.steps.fetch_add(1, Ordering::SeqCst);
        let newly_entered = self
            .in_flight
            .lock()
            .map(|mut set| set.insert(chat.to_string()));
        if !matches!(newly_entered, Ok(true)) {
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn exit(&self, chat: &str) {
        if let Ok(mut set) = self.in_flight.lock() {
            set.remove(chat);
        }
    }

    /// Times a step started while another step of the same chat was running.
    pub fn violations(&self) -> usize {
        self.violations.load(Ordering::SeqCst)
    }

    /// Steps started (including rolled-back ones).
    pub fn steps(&self) -> usize {
        self.steps.load(Ordering::SeqCst)
    }
}

/// Builds an inbound message for tests.
pub fn message(platform: &str, chat_id: &str, message_id: &str, text: &str) -> InboundMessage {
    InboundMessage {
        platform: platform.to_string(),
        chat_id: chat_id.to_string(),
        sender_id: format!("user-{chat_id}"),
        sender_name: format!("User {chat_id}"),
        text: text.to_string(),
        message_id: message_id.to_string(),
        is_group: false,
        reply_context: serde_json::json!({ "thread": chat_id }),
        received_at: Timestamp(1_700_000_000_000),
    }
}

/// A fresh, migrated database for one test, removed when dropped.
pub struct TestDb {
    /// The store over it.
    pub store: Arc<dyn Store>,
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    PgDatabase { admin_url: String, name: String },
}

static NEXT_TEST_DB: AtomicUsize = AtomicUsize::new(0);

fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}_{:08x}",
        std::process::id(),
        NEXT_TEST_DB.fetch_add(1, Ordering::SeqCst),
        rand::random::<u32>()
    )
}

/// How to get the PostgreSQL that the tests need.
pub const DATABASE_URL_HELP: &str = "DATABASE_URL is not set: the PostgreSQL tests need a \
     server. Start one (e.g. `apt-get install postgresql` then `pg_ctlcluster 15 main start`, \
     or `docker run -e POSTGRES_HOST_AUTH_METHOD=trust -p 5432:5432 postgres`) and run \
     `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test -p server`";

impl TestDb {
    /// Creates a SQLite database in a new temporary directory.
    pub async fn sqlite() -> TestDb {
        let directory = std::env::temp_dir().join(unique_name("fraser-test"));
        std::fs::create_dir_all(&directory).expect("failed to create a temporary directory");
        let url = format!("sqlite://{}", directory.join("fraser.sqlite").display());
        let store = SqliteStore::open(&url, &StoreOptions::default())
            .await
            .expect("failed to open the SQLite test database");
        store
            .migrate()
            .await
            .expect("failed to migrate the SQLite test database");
        TestDb {
            store: Arc::new(store),
            url,
            cleanup: Cleanup::Directory(directory),
        }
    }

    /// Creates a new database on the PostgreSQL server of `DATABASE_URL`.
    ///
    /// # Panics
    /// If `DATABASE_URL` is unset (with a message saying how to get a server) or the
    /// server cannot be reached: PostgreSQL tests fail rather than skip.
    pub async fn postgres() -> TestDb {
        let admin_url =
            std::env::var("DATABASE_URL").unwrap_or_else(|_| panic!("{DATABASE_URL_HELP}"));
        let name = unique_name("fraser_test");
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "cannot connect to DATABASE_URL ({}): {error}",
                    crate::redact_url(&admin_url)
                )
            });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .expect("failed to create a test database");
        let _ = admin.close().await;
        let url = database_url_with_name(&admin_url, &name);
        let store = PgStore::connect(&url, &StoreOptions::default())
            .await
            .expect("failed to connect to the test database");
        store
            .migrate()
            .await
            .expect("failed to migrate the PostgreSQL test database");
        store.start_listener();
        TestDb {
            store: Arc::new(store),
            url,
            cleanup: Cleanup::PgDatabase { admin_url, name },
        }
    }

    /// The database URL (to start a server on the same database).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The directory of a SQLite test database (for other files of the test).
    pub fn directory(&self) -> Option<&Path> {
        match &self.cleanup {
            Cleanup::Directory(directory) => Some(directory),
            Cleanup::PgDatabase { .. } => None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(directory) => {
                let _ = std::fs::remove_dir_all(directory);
            }
            Cleanup::PgDatabase { admin_url, name } => {
                // Drop runs inside the test's runtime, which cannot block on async work:
                // use a thread with its own small runtime.
                let admin_url = admin_url.clone();
                let name = name.clone();
                let dropper = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    let Ok(runtime) = runtime else { return };
                    runtime.block_on(async move {
                        if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                                .execute(&mut admin)
                                .await;
                            let _ = admin.close().await;
                        }
                    });
                });
                let _ = dropper.join();
            }
        }
    }
}

/// Replaces the database name in a PostgreSQL URL.
pub fn database_url_with_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |index| index + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |index| scheme_end + index);
    let mut result = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

/// A minimal HTTP/1.1 client for end-to-end tests: sends one request with
/// `Connection: close` and returns the status and the body.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json_body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let body = json_body.unwrap_or("");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if json_body.is_some() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad response: {head}")))?;
    Ok((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_database_name() {
        assert_eq!(
            database_url_with_name("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            database_url_with_name("postgres://u:p@h/db?sslmode=disable", "t2"),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(
            database_url_with_name("postgres://h", "t3"),
            "postgres://h/t3"
        );
    }
}
