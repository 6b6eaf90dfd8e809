//! The store contract, run against both stores: SQLite (in a temporary directory) and
//! PostgreSQL (a fresh database per test on the server of `DATABASE_URL`; the tests fail
//! with instructions when it is unset).

use std::sync::Arc;
use std::time::{Duration, Instant};

use server::testing::{
    ConcurrencyProbe, CounterGame, FakeBehaviour, FakeMessenger, TestDb, message,
};
use server::{
    Clock, Enqueued, Game, ManualClock, Messengers, Metrics, OutboxStatus, QueueSettings,
    RetryKind, Sender, StoreError, SystemClock, Timestamp, Worker,
};

const T0: Timestamp = Timestamp(1_700_000_000_000);
const LEASE: Duration = Duration::from_secs(30);

fn counter() -> Arc<dyn Game> {
    Arc::new(CounterGame::new())
}

fn settings() -> QueueSettings {
    QueueSettings {
        poll_interval: Duration::from_millis(50),
        max_turn_attempts: 2,
        send_timeout: Duration::from_millis(200),
        max_send_failures: 3,
        send_retry_base: Duration::from_secs(1),
        send_retry_max: Duration::from_secs(60),
        ..QueueSettings::default()
    }
}

struct Rig {
    clock: Arc<ManualClock>,
    fake: Arc<FakeMessenger>,
    metrics: Arc<Metrics>,
    worker: Worker,
    sender: Sender,
}

fn rig(db: &TestDb, fake: FakeMessenger) -> Rig {
    let clock = Arc::new(ManualClock::new(T0));
    let fake = Arc::new(fake);
    let metrics = Arc::new(Metrics::new());
    let worker = Worker::new(
        "worker-1",
        Arc::clone(&db.store),
        counter(),
        clock.clone(),
        Arc::clone(&metrics),
        settings(),
    );
    let sender = Sender::new(
        "sender-1",
        Arc::clone(&db.store),
        Messengers::new().with_messenger(fake.clone()),
        clock.clone(),
        Arc::clone(&metrics),
        settings(),
    );
    Rig {
        clock,
        fake,
        metrics,
        worker,
        sender,
    }
}

async fn count_of(db: &TestDb, chat: &str) -> i64 {
    let state = db
        .store
        .chat_state("fake", chat)
        .await
        .unwrap()
        .expect("chat exists");
    state.state["count"].as_i64().unwrap()
}

async fn dedupe(db: &TestDb) {
    let store = &db.store;
    let first = message("fake", "c1", "m1", "hello");
    assert_eq!(store.enqueue(&first).await.unwrap(), Enqueued::New);
    assert_eq!(store.enqueue(&first).await.unwrap(), Enqueued::Duplicate);
    // The key is (platform, message_id): another platform's m1 is another message.
    assert_eq!(
        store
            .enqueue(&message("other", "c1", "m1", "hi"))
            .await
            .unwrap(),
        Enqueued::New
    );
    assert_eq!(store.stats().await.unwrap().inbox_pending, 2);

    let claim = store
        .claim_turn("w", T0, LEASE)
        .await
        .unwrap()
        .expect("a claim");
    assert_eq!(claim.message, first);
    store.run_turn(&claim, counter(), T0).await.unwrap();
    // A redelivery after the turn is still a duplicate: no second turn.
    assert_eq!(store.enqueue(&first).await.unwrap(), Enqueued::Duplicate);
    let claim = store
        .claim_turn("w", T0, LEASE)
        .await
        .unwrap()
        .expect("the other platform's");
    assert_eq!(claim.message.platform, "other");
    store.run_turn(&claim, counter(), T0).await.unwrap();
    assert!(store.claim_turn("w", T0, LEASE).await.unwrap().is_none());
    assert_eq!(
        store
            .chat_state("fake", "c1")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
}

async fn per_chat_order_and_exclusion(db: &TestDb) {
    let store = &db.store;
    for (chat, id) in [("a", "a1"), ("a", "a2"), ("b", "b1")] {
        store.enqueue(&message("fake", chat, id, id)).await.unwrap();
    }
    let a1 = store.claim_turn("w1", T0, LEASE).await.unwrap().unwrap();
    assert_eq!(a1.message.message_id, "a1");
    // Chat a is held: the next claim skips a2 and takes chat b.
    let b1 = store.claim_turn("w2", T0, LEASE).await.unwrap().unwrap();
    assert_eq!(b1.message.message_id, "b1");
    assert!(store.claim_turn("w3", T0, LEASE).await.unwrap().is_none());
    store.run_turn(&a1, counter(), T0).await.unwrap();
    let a2 = store.claim_turn("w3", T0, LEASE).await.unwrap().unwrap();
    assert_eq!(a2.message.message_id, "a2");
    store.run_turn(&a2, counter(), T0).await.unwrap();
    store.run_turn(&b1, counter(), T0).await.unwrap();
    let texts: Vec<String> = store
        .outbox_entries("fake", "a")
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.reply.text)
        .collect();
    assert_eq!(texts, vec!["#1: a1", "#2: a2"]);
    assert_eq!(count_of(db, "b").await, 1);
}

/// A game that reports the scoreboard it was given and awards points to two players.
struct ScoresGame;

impl Game for ScoresGame {
    fn step(&self, input: server::TurnInput<'_>) -> server::TurnOutput {
        server::TurnOutput {
            state: serde_json::json!({
                "was_null": input.state.is_null(),
                "version": input.version,
                "scores": input.scores.iter().map(|s| (s.player_id.clone(), s.name.clone(), s.score)).collect::<Vec<_>>(),
                "seed": input.seed.to_string(),
            }),
            replies: vec![],
            score_deltas: vec![
                server::ScoreDelta {
                    player_id: input.message.sender_id.clone(),
                    delta: 2,
                },
                server::ScoreDelta {
                    player_id: "bystander".into(),
                    delta: 1,
                },
                server::ScoreDelta {
                    player_id: input.message.sender_id.clone(),
                    delta: 1,
                },
            ],
        }
    }
}

async fn turn_loads_creates_and_scores(db: &TestDb) {
    let store = &db.store;
    let game: Arc<dyn Game> = Arc::new(ScoresGame);
    store
        .enqueue(&message("fake", "s", "s1", "one"))
        .await
        .unwrap();
    let claim = store.claim_turn("w", T0, LEASE).await.unwrap().unwrap();
    let done = store.run_turn(&claim, Arc::clone(&game), T0).await.unwrap();
    assert_eq!(done.version, 1);
    assert_eq!(done.replies, 0);
    let state = store.chat_state("fake", "s").await.unwrap().unwrap();
    assert_eq!(state.state["was_null"], true);
    assert_eq!(state.state["version"], 0);
    // The sender's player record exists (score 0) before the first step.
    assert_eq!(
        state.state["scores"],
        serde_json::json!([["user-s", "User s", 0]])
    );
    assert_eq!(
        state.state["seed"],
        server::turn_seed("fake", "s", "s1").to_string(),
        "the seed is derived from platform, chat and message id"
    );

    let mut second = message("fake", "s", "s2", "two");
    second.sender_name = "Renamed".into();
    store.enqueue(&second).await.unwrap();
    let claim = store.claim_turn("w", T0, LEASE).await.unwrap().unwrap();
    store.run_turn(&claim, game, T0).await.unwrap();
    let state = store.chat_state("fake", "s").await.unwrap().unwrap();
    assert_eq!(state.version, 2);
    assert_eq!(state.state["was_null"], false);
    assert_eq!(
        state.state["scores"],
        serde_json::json!([["user-s", "Renamed", 3], ["bystander", "bystander", 1]])
    );
    let board = store.scoreboard("fake", "s", 10).await.unwrap();
    let board: Vec<(String, i64)> = board.into_iter().map(|p| (p.player_id, p.score)).collect();
    assert_eq!(
        board,
        vec![("user-s".to_string(), 6), ("bystander".to_string(), 2)]
    );
}

async fn lease_takeover_and_fencing(db: &TestDb) {
    let store = &db.store;
    store
        .enqueue(&message("fake", "l", "l1", "x"))
        .await
        .unwrap();
    let first = store.claim_turn("w1", T0, LEASE).await.unwrap().unwrap();
    assert_eq!(first.attempts, 1);
    // The first worker "dies": before the lease ends, no one else gets the chat.
    assert!(
        store
            .claim_turn("w2", T0.plus(Duration::from_secs(29)), LEASE)
            .await
            .unwrap()
            .is_none()
    );
    let later = T0.plus(Duration::from_secs(31));
    let second = store
        .claim_turn("w2", later, LEASE)
        .await
        .unwrap()
        .expect("takeover");
    assert_eq!(second.inbox_id, first.inbox_id);
    assert_eq!(second.attempts, 2);
    assert!(second.token > first.token);
    // The first worker's late completion is fenced out, and so is its release.
    assert!(matches!(
        store.run_turn(&first, counter(), later).await,
        Err(StoreError::Fenced)
    ));
    assert!(matches!(
        store.release_turn(&first, later, None).await,
        Err(StoreError::Fenced)
    ));
    assert!(matches!(
        store.dead_letter_turn(&first, later, "late").await,
        Err(StoreError::Fenced)
    ));
    store.run_turn(&second, counter(), later).await.unwrap();
    assert!(matches!(
        store.run_turn(&second, counter(), later).await,
        Err(StoreError::Fenced)
    ));
    assert_eq!(count_of(db, "l").await, 1);
    assert_eq!(store.outbox_entries("fake", "l").await.unwrap().len(), 1);
}

async fn failed_turn_rolls_back_retries_and_dead_letters(db: &TestDb) {
    let rig = rig(db, FakeMessenger::new("fake"));
    let store = &db.store;
    store
        .enqueue(&message("fake", "p", "p1", "panic"))
        .await
        .unwrap();
    store
        .enqueue(&message("fake", "p", "p2", "after"))
        .await
        .unwrap();
    assert_eq!(rig.worker.run_once().await.unwrap(), 1, "attempt 1 fails");
    // The chat waits for the backoff; its next message must not overtake.
    assert_eq!(rig.worker.run_once().await.unwrap(), 0);
    assert!(
        store.chat_state("fake", "p").await.unwrap().is_none(),
        "rolled back"
    );
    rig.clock.advance(Duration::from_secs(120));
    assert_eq!(rig.worker.run_once().await.unwrap(), 1, "attempt 2 fails");
    rig.clock.advance(Duration::from_secs(120));
    assert_eq!(
        rig.worker.run_once().await.unwrap(),
        1,
        "attempt 3 dead-letters"
    );
    assert_eq!(store.stats().await.unwrap().inbox_dead, 1);
    assert!(
        rig.metrics
            .render(None)
            .contains("fraser_inbox_dead_letters_total 1\n")
    );
    assert_eq!(
        rig.worker.run_once().await.unwrap(),
        1,
        "the next message runs"
    );
    let state = store.chat_state("fake", "p").await.unwrap().unwrap();
    assert_eq!(
        state.state,
        serde_json::json!({ "count": 1, "last": "after" })
    );
    assert_eq!(store.stats().await.unwrap().inbox_pending, 0);
}

async fn concurrent_workers_serialise_each_chat(db: &TestDb) {
    const WORKERS: usize = 8;
    const CHATS: usize = 50;
    const MESSAGES: usize = 2_000;
    let probe = Arc::new(ConcurrencyProbe::new());
    let game: Arc<dyn Game> = Arc::new(CounterGame::new().with_probe(Arc::clone(&probe)));
    let metrics = Arc::new(Metrics::new());
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for index in 0..WORKERS {
        let worker = Worker::new(
            format!("worker-{index}"),
            Arc::clone(&db.store),
            Arc::clone(&game),
            Arc::new(SystemClock),
            Arc::clone(&metrics),
            settings(),
        );
        workers.push(tokio::spawn(worker.run(shutdown_rx.clone())));
    }
    // Five very busy chats get half the messages; 45 others share the rest.
    let mut plan: Vec<usize> = Vec::with_capacity(MESSAGES);
    for index in 0..MESSAGES {
        plan.push(if index % 2 == 0 {
            index % 5
        } else {
            5 + index % (CHATS - 5)
        });
    }
    // Four enqueuers (like concurrent webhook requests), each owning a quarter of the
    // chats so that every chat's messages are stored in order.
    let started = Instant::now();
    let mut enqueuers = Vec::new();
    for part in 0..4 {
        let store = Arc::clone(&db.store);
        let plan = plan.clone();
        enqueuers.push(tokio::spawn(async move {
            let mut sequence = vec![0usize; CHATS];
            for chat in plan.into_iter().filter(|chat| chat % 4 == part) {
                sequence[chat] += 1;
                let n = sequence[chat];
                let id = format!("c{chat}-{n}");
                let text = format!("m{n}");
                store
                    .enqueue(&message("fake", &format!("c{chat}"), &id, &text))
                    .await
                    .unwrap();
            }
            sequence
        }));
    }
    let mut sequence = vec![0usize; CHATS];
    for enqueuer in enqueuers {
        for (chat, n) in enqueuer.await.unwrap().into_iter().enumerate() {
            sequence[chat] += n;
        }
    }
    eprintln!(
        "{}: enqueued {MESSAGES} messages in {:.2} s while the workers ran",
        db.store.kind(),
        started.elapsed().as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let stats = db.store.stats().await.unwrap();
        if stats.inbox_pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "queue did not drain: {stats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    shutdown_tx.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    eprintln!(
        "{}: {MESSAGES} turns by {WORKERS} workers over {CHATS} chats in {:.2} s ({:.0} turns/s)",
        db.store.kind(),
        elapsed.as_secs_f64(),
        MESSAGES as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(probe.violations(), 0, "two turns of one chat ran at once");
    assert_eq!(metrics.turns(), MESSAGES as u64);
    for (chat, &n) in sequence.iter().enumerate() {
        let chat_id = format!("c{chat}");
        let state = db
            .store
            .chat_state("fake", &chat_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state.state["count"], n, "lost update in {chat_id}");
        assert_eq!(state.version, n as i64);
        assert_replies_in_order(db, &chat_id, n).await;
    }
}

/// Asserts the outbox of `chat_id` holds the counter game's replies to m1..m`n`, in order.
async fn assert_replies_in_order(db: &TestDb, chat_id: &str, n: usize) {
    let texts: Vec<String> = db
        .store
        .outbox_entries("fake", chat_id)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.reply.text)
        .collect();
    let expected: Vec<String> = (1..=n).map(|i| format!("#{i}: m{i}")).collect();
    assert_eq!(texts, expected, "replies of {chat_id} out of order");
}

async fn outbox_per_chat_order(db: &TestDb) {
    let store = &db.store;
    for (chat, id) in [("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1")] {
        store.enqueue(&message("fake", chat, id, id)).await.unwrap();
        let claim = store.claim_turn("w", T0, LEASE).await.unwrap().unwrap();
        store.run_turn(&claim, counter(), T0).await.unwrap();
    }
    let lease = Duration::from_secs(60);
    let heads = store.claim_outbox("s1", T0, lease, 10).await.unwrap();
    let texts: Vec<&str> = heads
        .iter()
        .map(|claim| claim.reply.text.as_str())
        .collect();
    assert_eq!(
        texts,
        vec!["#1: a1", "#1: b1"],
        "only each chat's first reply"
    );
    assert_eq!(
        heads[0].address.reply_context,
        serde_json::json!({ "thread": "a" })
    );
    assert!(
        store
            .claim_outbox("s2", T0, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.outbox_sent(&heads[0], T0).await.unwrap();
    assert!(matches!(
        store.outbox_sent(&heads[0], T0).await,
        Err(StoreError::Fenced)
    ));
    let next = store.claim_outbox("s2", T0, lease, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].reply.text, "#2: a2");
    store.outbox_dead(&next[0], T0, "test").await.unwrap();
    let next = store.claim_outbox("s2", T0, lease, 10).await.unwrap();
    assert_eq!(
        next[0].reply.text, "#3: a3",
        "a dead reply unblocks the next one"
    );
    // Takeover after the lease fences the old claim out.
    let later = T0.plus(Duration::from_secs(61));
    let taken = store.claim_outbox("s3", later, lease, 10).await.unwrap();
    let taken_texts: Vec<&str> = taken
        .iter()
        .map(|claim| claim.reply.text.as_str())
        .collect();
    assert_eq!(taken_texts, vec!["#3: a3", "#1: b1"]);
    assert!(matches!(
        store.outbox_sent(&next[0], later).await,
        Err(StoreError::Fenced)
    ));
    assert!(matches!(
        store
            .outbox_retry(&heads[1], later, RetryKind::Failure, "late")
            .await,
        Err(StoreError::Fenced)
    ));
    for claim in &taken {
        store.outbox_sent(claim, later).await.unwrap();
    }
    let statuses: Vec<OutboxStatus> = store
        .outbox_entries("fake", "a")
        .await
        .unwrap()
        .iter()
        .map(|entry| entry.status)
        .collect();
    assert_eq!(
        statuses,
        vec![OutboxStatus::Sent, OutboxStatus::Dead, OutboxStatus::Sent]
    );
    assert_eq!(store.stats().await.unwrap().outbox_pending, 0);
    assert_eq!(store.stats().await.unwrap().outbox_dead, 1);
}

async fn run_one_turn(rig: &Rig, db: &TestDb, chat: &str, id: &str) {
    db.store
        .enqueue(&message("fake", chat, id, id))
        .await
        .unwrap();
    assert_eq!(rig.worker.run_once().await.unwrap(), 1);
}

async fn retries_use_exponential_backoff_with_jitter(db: &TestDb) {
    let rig = rig(db, FakeMessenger::new("fake"));
    rig.fake.script([FakeBehaviour::Fail, FakeBehaviour::Fail]);
    run_one_turn(&rig, db, "r", "r1").await;
    let entry = |db: &TestDb| {
        let store = Arc::clone(&db.store);
        async move { store.outbox_entries("fake", "r").await.unwrap().remove(0) }
    };
    assert_eq!(rig.sender.run_once().await.unwrap(), 1);
    let first = entry(db).await;
    let now = rig.clock.now().as_millis();
    assert_eq!((first.failures, first.status), (1, OutboxStatus::Pending));
    let wait = first.next_attempt.as_millis() - now;
    assert!(
        (500..=1000).contains(&wait),
        "first backoff {wait} ms not in [0.5 s, 1 s]"
    );
    assert_eq!(rig.sender.run_once().await.unwrap(), 0, "not due yet");
    rig.clock.advance(Duration::from_millis(1000));
    assert_eq!(rig.sender.run_once().await.unwrap(), 1);
    let second = entry(db).await;
    let now = rig.clock.now().as_millis();
    let wait = second.next_attempt.as_millis() - now;
    assert_eq!(second.failures, 2);
    assert!(
        (1000..=2000).contains(&wait),
        "second backoff {wait} ms not in [1 s, 2 s]"
    );
    rig.clock.advance(Duration::from_millis(2000));
    assert_eq!(rig.sender.run_once().await.unwrap(), 1);
    assert_eq!(entry(db).await.status, OutboxStatus::Sent);
    assert_eq!(rig.fake.texts("r"), vec!["#1: r1"]);
    assert_eq!(rig.fake.calls(), 3);
    assert!(
        rig.metrics
            .render(None)
            .contains("fraser_send_failures_total{platform=\"fake\",reason=\"error\"} 2\n")
    );
}

async fn rate_limit_retry_after_is_honoured(db: &TestDb) {
    let rig = rig(db, FakeMessenger::new("fake"));
    rig.fake
        .script([FakeBehaviour::RateLimit(Duration::from_secs(7))]);
    run_one_turn(&rig, db, "q", "q1").await;
    assert_eq!(rig.sender.run_once().await.unwrap(), 1);
    let entry = db
        .store
        .outbox_entries("fake", "q")
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        entry.next_attempt,
        rig.clock.now().plus(Duration::from_secs(7))
    );
    assert_eq!(entry.failures, 0, "a 429 is not a failure");
    rig.clock.advance(Duration::from_millis(6_999));
    assert_eq!(rig.sender.run_once().await.unwrap(), 0);
    rig.clock.advance(Duration::from_millis(1));
    assert_eq!(rig.sender.run_once().await.unwrap(), 1);
    assert_eq!(rig.fake.texts("q"), vec!["#1: q1"]);
}

async fn dead_letter_after_limit(db: &TestDb) {
    let rig = rig(db, FakeMessenger::new("fake"));
    rig.fake
        .script(std::iter::repeat_n(FakeBehaviour::Fail, 10));
    run_one_turn(&rig, db, "d", "d1").await;
    run_one_turn(&rig, db, "d", "d2").await;
    for _ in 0..3 {
        assert_eq!(rig.sender.run_once().await.unwrap(), 1);
        rig.clock.advance(Duration::from_secs(600));
    }
    let entries = db.store.outbox_entries("fake", "d").await.unwrap();
    assert_eq!(entries[0].status, OutboxStatus::Dead);
    assert_eq!(entries[0].failures, 3);
    assert!(
        entries[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("giving up")
    );
    assert_eq!(rig.metrics.dead_letters("fake"), 1);
    assert!(
        rig.metrics
            .render(None)
            .contains("fraser_dead_letters_total{platform=\"fake\"} 1\n")
    );
    assert_eq!(db.store.stats().await.unwrap().outbox_dead, 1);
    // A permanent failure goes to the dead letters at once; the chat moves on.
    let permanent = rig_with_script(db, vec![FakeBehaviour::FailPermanently]);
    assert_eq!(permanent.sender.run_once().await.unwrap(), 1);
    let entries = db.store.outbox_entries("fake", "d").await.unwrap();
    assert_eq!(entries[1].status, OutboxStatus::Dead);
    assert_eq!(entries[1].failures, 1);
    assert_eq!(db.store.stats().await.unwrap().outbox_dead, 2);
}

fn rig_with_script(db: &TestDb, script: Vec<FakeBehaviour>) -> Rig {
    let rig = rig(db, FakeMessenger::new("fake"));
    rig.fake.script(script);
    rig
}

async fn crash_between_commit_and_send_still_delivers(db: &TestDb) {
    let rig = rig(db, FakeMessenger::new("fake"));
    run_one_turn(&rig, db, "x", "x1").await;
    run_one_turn(&rig, db, "y", "y1").await;
    let lease = settings().send_lease;
    // Sender "A" claims both replies and dies: it sent nothing for x, and it sent y
    // but died before recording it.
    let claims = db
        .store
        .claim_outbox("dead-sender", rig.clock.now(), lease, 10)
        .await
        .unwrap();
    assert_eq!(claims.len(), 2);
    use server::Messenger as _;
    rig.fake.send(&claims[1].address, &claims[1].reply).await;
    assert_eq!(
        rig.sender.run_once().await.unwrap(),
        0,
        "leased by the dead sender"
    );
    rig.clock.advance(lease + Duration::from_secs(1));
    assert_eq!(rig.sender.run_once().await.unwrap(), 2);
    assert_eq!(rig.fake.texts("x"), vec!["#1: x1"], "never lost");
    assert_eq!(
        rig.fake.texts("y"),
        vec!["#1: y1", "#1: y1"],
        "at-least-once: a duplicate"
    );
    assert_eq!(db.store.stats().await.unwrap().outbox_pending, 0);
}

async fn hanging_send_times_out_and_retries(db: &TestDb) {
    let rig = rig(db, FakeMessenger::new("fake"));
    rig.fake.script([FakeBehaviour::Hang]);
    run_one_turn(&rig, db, "h", "h1").await;
    let started = Instant::now();
    assert_eq!(rig.sender.run_once().await.unwrap(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    let entry = db
        .store
        .outbox_entries("fake", "h")
        .await
        .unwrap()
        .remove(0);
    assert_eq!(entry.failures, 1);
    assert!(entry.last_error.unwrap().contains("timed out"));
    rig.clock.advance(Duration::from_secs(5));
    assert_eq!(rig.sender.run_once().await.unwrap(), 1);
    assert_eq!(rig.fake.texts("h"), vec!["#1: h1"]);
}

async fn long_replies_are_split_and_resumed(db: &TestDb) {
    let rig = rig(db, FakeMessenger::new("fake").with_max_len(12));
    let text = "Aa aa. Bb bb. Cc cc.";
    // "#1: " + text is split into parts of at most 12 characters.
    run_one_turn(&rig, db, "z", text).await;
    rig.fake
        .script([FakeBehaviour::Deliver, FakeBehaviour::Fail]);
    assert_eq!(rig.sender.run_once().await.unwrap(), 1);
    assert_eq!(rig.fake.texts("z"), vec!["#1: Aa aa."]);
    rig.clock.advance(Duration::from_secs(5));
    assert_eq!(rig.sender.run_once().await.unwrap(), 1);
    assert_eq!(
        rig.fake.texts("z"),
        vec!["#1: Aa aa.", "Bb bb.", "Cc cc."],
        "no part twice"
    );
}

async fn purge_and_web_replies(db: &TestDb) {
    let store = &db.store;
    let reply = |text: &str| server::Reply::text(text);
    let first = store.web_deliver("w", &reply("one")).await.unwrap();
    let second = store.web_deliver("w", &reply("two")).await.unwrap();
    store
        .web_deliver("other", &reply("elsewhere"))
        .await
        .unwrap();
    let third = store.web_deliver("w", &reply("three")).await.unwrap();
    assert!(first < second && second < third);
    let all: Vec<String> = store
        .web_replies("w", 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.text)
        .collect();
    assert_eq!(all, vec!["one", "two", "three"]);
    let after: Vec<i64> = store
        .web_replies("w", second, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(after, vec![third]);

    store
        .enqueue(&message("fake", "g", "g1", "x"))
        .await
        .unwrap();
    store
        .enqueue(&message("fake", "g", "g2", "y"))
        .await
        .unwrap();
    let claim = store.claim_turn("w", T0, LEASE).await.unwrap().unwrap();
    store.run_turn(&claim, counter(), T0).await.unwrap();
    // Finished rows before the cut-off go; pending work stays.
    let deleted = store.purge(T0.plus(Duration::from_secs(1))).await.unwrap();
    assert_eq!(
        deleted, 1,
        "the done inbox row (the outbox row is still pending)"
    );
    assert_eq!(store.stats().await.unwrap().inbox_pending, 1);
    assert_eq!(store.stats().await.unwrap().outbox_pending, 1);
    // The scoreboard and state are kept.
    assert_eq!(count_of(db, "g").await, 1);
}

async fn enqueue_batch_dedupes_and_keeps_order(db: &TestDb) {
    let store = &db.store;
    assert!(store.enqueue_batch(&[]).await.unwrap().is_empty());
    store
        .enqueue(&message("fake", "a", "m0", "zero"))
        .await
        .unwrap();
    let batch = [
        message("fake", "a", "m1", "one"),
        message("fake", "b", "m2", "two"),
        message("fake", "a", "m0", "zero again"),
        message("fake", "a", "m3", "three"),
        message("fake", "b", "m2", "two again"),
        message("other", "a", "m1", "another platform"),
    ];
    use Enqueued::{Duplicate, New};
    assert_eq!(
        store.enqueue_batch(&batch).await.unwrap(),
        vec![New, New, Duplicate, New, Duplicate, New]
    );
    assert_eq!(store.stats().await.unwrap().inbox_pending, 5);
    // A redelivery of the whole batch stores nothing.
    assert_eq!(
        store.enqueue_batch(&batch).await.unwrap(),
        vec![Duplicate; batch.len()]
    );
    assert_eq!(store.stats().await.unwrap().inbox_pending, 5);
    // Each chat's messages run in the order given.
    let mut texts = Vec::new();
    while let Some(claim) = store.claim_turn("w", T0, LEASE).await.unwrap() {
        texts.push(format!("{}/{}", claim.message.chat_id, claim.message.text));
        store.run_turn(&claim, counter(), T0).await.unwrap();
    }
    let chat_a: Vec<&String> = texts.iter().filter(|t| t.starts_with("a/")).collect();
    assert_eq!(
        chat_a,
        vec!["a/zero", "a/one", "a/three", "a/another platform"]
    );
    let replies: Vec<String> = store
        .outbox_entries("fake", "a")
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.reply.text)
        .collect();
    assert_eq!(replies, vec!["#1: zero", "#2: one", "#3: three"]);
    assert_eq!(count_of(db, "b").await, 1);
}

async fn batched_claims_and_turns(db: &TestDb) {
    let store = &db.store;
    assert!(
        store
            .claim_turns("w", T0, LEASE, 5)
            .await
            .unwrap()
            .is_empty()
    );
    for (chat, id) in [("x", "x1"), ("y", "y1"), ("x", "x2"), ("z", "z1")] {
        store.enqueue(&message("fake", chat, id, id)).await.unwrap();
    }
    let y1 = store.claim_turn("w0", T0, LEASE).await.unwrap().unwrap();
    assert_eq!(y1.message.message_id, "x1");
    // Chat x is held: the batch gets each other chat's oldest message, oldest first.
    let claims = store.claim_turns("w1", T0, LEASE, 10).await.unwrap();
    let ids: Vec<&str> = claims
        .iter()
        .map(|claim| claim.message.message_id.as_str())
        .collect();
    assert_eq!(ids, vec!["y1", "z1"]);
    assert!(claims.iter().all(|claim| claim.attempts == 1));
    assert!(
        store
            .claim_turns("w2", T0, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_turns("w2", T0, LEASE, 0)
            .await
            .unwrap()
            .is_empty()
    );
    let x1 = y1;
    let outcomes = store.run_turns(&claims, counter(), T0).await.unwrap();
    assert_eq!(outcomes.len(), 2);
    for outcome in &outcomes {
        let done = outcome.as_ref().unwrap();
        assert_eq!((done.version, done.replies), (1, 1));
    }
    assert_eq!(count_of(db, "y").await, 1);
    assert_eq!(count_of(db, "z").await, 1);
    assert!(
        store
            .run_turns(&[], counter(), T0)
            .await
            .unwrap()
            .is_empty()
    );

    // Fencing per turn: x1's lease expires and another worker takes it over; a batch
    // holding the stale claim writes nothing for it and commits the others.
    store
        .enqueue(&message("fake", "y", "y2", "y2"))
        .await
        .unwrap();
    let later = T0.plus(Duration::from_secs(31));
    let taken = store.claim_turns("w3", later, LEASE, 1).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].message.message_id, "x1");
    assert_eq!(taken[0].attempts, 2);
    let y2 = store.claim_turns("w1", later, LEASE, 5).await.unwrap();
    assert_eq!(y2.len(), 1);
    assert_eq!(y2[0].message.message_id, "y2");
    let stale_and_fresh = [x1.clone(), y2[0].clone()];
    let outcomes = store
        .run_turns(&stale_and_fresh, counter(), later)
        .await
        .unwrap();
    assert!(matches!(outcomes[0], Err(StoreError::Fenced)));
    assert_eq!(outcomes[1].as_ref().unwrap().version, 2);
    assert_eq!(count_of(db, "y").await, 2);
    let outcomes = store.run_turns(&taken, counter(), later).await.unwrap();
    assert_eq!(outcomes[0].as_ref().unwrap().version, 1);
    assert!(matches!(
        store.run_turn(&x1, counter(), later).await,
        Err(StoreError::Fenced)
    ));
    // x2 follows x1.
    let x2 = store.claim_turns("w1", later, LEASE, 5).await.unwrap();
    assert_eq!(x2.len(), 1);
    assert_eq!(x2[0].message.message_id, "x2");
    store.run_turns(&x2, counter(), later).await.unwrap()[0]
        .as_ref()
        .unwrap();
    let replies: Vec<String> = store
        .outbox_entries("fake", "x")
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.reply.text)
        .collect();
    assert_eq!(replies, vec!["#1: x1", "#2: x2"]);
}

async fn batched_turn_failure_is_isolated(db: &TestDb) {
    let store = &db.store;
    for (chat, id, text) in [
        ("p", "p1", "panic"),
        ("q", "q1", "fine"),
        ("r", "r1", "also fine"),
    ] {
        store
            .enqueue(&message("fake", chat, id, text))
            .await
            .unwrap();
    }
    let claims = store.claim_turns("w", T0, LEASE, 10).await.unwrap();
    assert_eq!(claims.len(), 3);
    let outcomes = store.run_turns(&claims, counter(), T0).await.unwrap();
    match &outcomes[0] {
        Err(StoreError::Game(text)) => assert!(text.contains("panic"), "{text}"),
        other => panic!("expected the game's error, got {other:?}"),
    }
    assert_eq!(outcomes[1].as_ref().unwrap().version, 1);
    assert_eq!(outcomes[2].as_ref().unwrap().version, 1);
    // The failed turn wrote nothing (not even the new chat); its message still waits.
    assert!(store.chat_state("fake", "p").await.unwrap().is_none());
    assert!(store.scoreboard("fake", "p", 10).await.unwrap().is_empty());
    assert!(store.outbox_entries("fake", "p").await.unwrap().is_empty());
    assert_eq!(count_of(db, "q").await, 1);
    assert_eq!(count_of(db, "r").await, 1);
    assert_eq!(store.stats().await.unwrap().inbox_pending, 1);
    // The claim still holds the chat: it can be released for a retry as usual.
    store
        .release_turn(&claims[0], T0, Some("game step panicked"))
        .await
        .unwrap();
    let again = store.claim_turns("w", T0, LEASE, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
}

async fn outbox_sent_many_marks_and_fences(db: &TestDb) {
    let store = &db.store;
    assert!(store.outbox_sent_many(&[], T0).await.unwrap().is_empty());
    for (chat, id) in [("a", "a1"), ("a", "a2"), ("b", "b1")] {
        store.enqueue(&message("fake", chat, id, id)).await.unwrap();
        let claim = store.claim_turn("w", T0, LEASE).await.unwrap().unwrap();
        store.run_turn(&claim, counter(), T0).await.unwrap();
    }
    let lease = Duration::from_secs(60);
    let heads = store.claim_outbox("s1", T0, lease, 10).await.unwrap();
    assert_eq!(heads.len(), 2);
    let outcomes = store.outbox_sent_many(&heads, T0).await.unwrap();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let again = store.outbox_sent_many(&heads, T0).await.unwrap();
    assert!(
        again
            .iter()
            .all(|outcome| matches!(outcome, Err(StoreError::Fenced)))
    );
    // a2 is next; its first claim expires and is taken over.
    let stale = store.claim_outbox("s1", T0, lease, 10).await.unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].reply.text, "#2: a2");
    let later = T0.plus(Duration::from_secs(61));
    let fresh = store.claim_outbox("s2", later, lease, 10).await.unwrap();
    assert_eq!(fresh.len(), 1);
    let both = [stale[0].clone(), fresh[0].clone()];
    let outcomes = store.outbox_sent_many(&both, later).await.unwrap();
    assert!(matches!(outcomes[0], Err(StoreError::Fenced)));
    assert!(outcomes[1].is_ok());
    let statuses: Vec<OutboxStatus> = store
        .outbox_entries("fake", "a")
        .await
        .unwrap()
        .iter()
        .map(|entry| entry.status)
        .collect();
    assert_eq!(statuses, vec![OutboxStatus::Sent, OutboxStatus::Sent]);
    assert_eq!(store.stats().await.unwrap().outbox_pending, 0);
    assert!(
        store
            .claim_outbox("s3", later, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Two servers (two stores over one database) share the work: both store the same
/// redelivered messages in opposite orders, their workers claim and run overlapping
/// batches, and stale and fresh claims of the same chats commit concurrently in
/// opposite orders. No deadlock surfaces, every message gets exactly one turn and
/// every chat's replies come in order.
async fn two_servers_overlapping_batches(db: &TestDb) {
    const CHATS: usize = 120;
    const ROUNDS: usize = 4;
    let second = server::open_store(db.url(), &server::StoreOptions::default())
        .await
        .unwrap();
    let stores = [Arc::clone(&db.store), second];
    let probe = Arc::new(ConcurrencyProbe::new());
    let game: Arc<dyn Game> = Arc::new(CounterGame::new().with_probe(Arc::clone(&probe)));
    let metrics = Arc::new(Metrics::new());
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for (server, store) in stores.iter().enumerate() {
        for index in 0..2 {
            let worker = Worker::new(
                format!("s{server}-w{index}"),
                Arc::clone(store),
                Arc::clone(&game),
                Arc::new(SystemClock),
                Arc::clone(&metrics),
                QueueSettings {
                    turn_batch: 16,
                    ..settings()
                },
            );
            workers.push(tokio::spawn(worker.run(shutdown_rx.clone())));
        }
    }
    // Round r stores every chat's r-th message through both servers at once, in
    // batches of 40 that overlap: one server goes up the chats, the other down.
    for round in 1..=ROUNDS {
        let up: Vec<_> = (0..CHATS)
            .map(|chat| {
                message(
                    "fake",
                    &format!("c{chat}"),
                    &format!("c{chat}-{round}"),
                    &format!("m{round}"),
                )
            })
            .collect();
        let down: Vec<_> = up.iter().rev().cloned().collect();
        let mut tasks = Vec::new();
        for (store, messages) in stores.iter().zip([up, down]) {
            let store = Arc::clone(store);
            tasks.push(tokio::spawn(async move {
                let mut new = 0;
                for chunk in messages.chunks(40) {
                    let outcomes = store.enqueue_batch(chunk).await.unwrap();
                    new += outcomes
                        .iter()
                        .filter(|&&outcome| outcome == Enqueued::New)
                        .count();
                }
                new
            }));
        }
        let mut new = 0;
        for task in tasks {
            new += task.await.unwrap();
        }
        assert_eq!(
            new, CHATS,
            "round {round}: each message stored exactly once"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while db.store.stats().await.unwrap().inbox_pending > 0 {
        assert!(Instant::now() < deadline, "queue did not drain");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown_tx.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(probe.violations(), 0, "two turns of one chat ran at once");
    assert_eq!(metrics.turns(), (CHATS * ROUNDS) as u64);
    for chat in 0..CHATS {
        let chat_id = format!("c{chat}");
        assert_eq!(count_of(db, &chat_id).await, ROUNDS as i64, "{chat_id}");
        assert_replies_in_order(db, &chat_id, ROUNDS).await;
    }

    // Stale and fresh claims of the same chats, committed at once in opposite orders:
    // the stale batch is fenced for every chat, the fresh one commits every turn.
    for chat in 0..CHATS {
        let id = format!("c{chat}-late");
        stores[0]
            .enqueue(&message("fake", &format!("c{chat}"), &id, "late"))
            .await
            .unwrap();
    }
    let mut stale = stores[0]
        .claim_turns("old", T0, LEASE, CHATS as u32)
        .await
        .unwrap();
    assert_eq!(stale.len(), CHATS);
    let later = T0.plus(LEASE + Duration::from_secs(1));
    let fresh = stores[1]
        .claim_turns("new", later, LEASE, CHATS as u32)
        .await
        .unwrap();
    assert_eq!(fresh.len(), CHATS);
    stale.reverse();
    let (stale_outcomes, fresh_outcomes) = tokio::join!(
        stores[0].run_turns(&stale, counter(), later),
        stores[1].run_turns(&fresh, counter(), later),
    );
    assert!(
        stale_outcomes
            .unwrap()
            .iter()
            .all(|outcome| matches!(outcome, Err(StoreError::Fenced)))
    );
    assert!(fresh_outcomes.unwrap().iter().all(Result::is_ok));
    for chat in 0..CHATS {
        assert_eq!(count_of(db, &format!("c{chat}")).await, ROUNDS as i64 + 1);
    }

    // Stale and fresh outbox claims marked at once in opposite orders.
    // (The workers' replies were queued at the system clock's time.)
    let lease = Duration::from_secs(60);
    let soon = SystemClock.now().plus(Duration::from_secs(3600));
    let mut stale = stores[0]
        .claim_outbox("old", soon, lease, 1000)
        .await
        .unwrap();
    assert_eq!(stale.len(), CHATS);
    let later = soon.plus(lease + Duration::from_secs(1));
    let fresh = stores[1]
        .claim_outbox("new", later, lease, 1000)
        .await
        .unwrap();
    assert_eq!(fresh.len(), CHATS);
    stale.reverse();
    let (stale_marks, fresh_marks) = tokio::join!(
        stores[0].outbox_sent_many(&stale, later),
        stores[1].outbox_sent_many(&fresh, later),
    );
    assert!(
        stale_marks
            .unwrap()
            .iter()
            .all(|outcome| matches!(outcome, Err(StoreError::Fenced)))
    );
    assert!(fresh_marks.unwrap().iter().all(Result::is_ok));
    stores[1].close().await;
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = server::testing::TestDb::sqlite().await;
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = server::testing::TestDb::postgres().await;
                    super::$name(&db).await;
                }
            )*
        }
    };
}

contract!(
    dedupe,
    per_chat_order_and_exclusion,
    turn_loads_creates_and_scores,
    lease_takeover_and_fencing,
    failed_turn_rolls_back_retries_and_dead_letters,
    concurrent_workers_serialise_each_chat,
    outbox_per_chat_order,
    retries_use_exponential_backoff_with_jitter,
    rate_limit_retry_after_is_honoured,
    dead_letter_after_limit,
    crash_between_commit_and_send_still_delivers,
    hanging_send_times_out_and_retries,
    long_replies_are_split_and_resumed,
    purge_and_web_replies,
    enqueue_batch_dedupes_and_keeps_order,
    batched_claims_and_turns,
    batched_turn_failure_is_isolated,
    outbox_sent_many_marks_and_fences,
    two_servers_overlapping_batches,
);

/// PostgreSQL keeps each chat's oldest pending message in its claim row (`head_id`, the
/// queue of ready chats). A message stored while a turn of its chat finishes must never
/// be left without a head, whichever of the two commits first; a turn never waits for a
/// store, and a store of a busy chat never waits for a turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ready_head_survives_a_store_racing_a_finished_turn() {
    let db = TestDb::postgres().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(db.url())
        .await
        .unwrap();
    let head = |pool: sqlx::PgPool| async move {
        let head: Option<i64> =
            sqlx::query_scalar("SELECT head_id FROM inbox_chats WHERE chat_id = 'x'")
                .fetch_one(&pool)
                .await
                .unwrap();
        head
    };
    let id_of = |pool: sqlx::PgPool, message_id: &'static str| async move {
        let id: i64 = sqlx::query_scalar("SELECT id FROM inbox WHERE message_id = $1")
            .bind(message_id)
            .fetch_one(&pool)
            .await
            .unwrap();
        id
    };
    // The end of a turn that finished `message_id` (as fraser_save_turns ends), left open.
    let finish = |pool: sqlx::PgPool, message_id: &'static str| async move {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("UPDATE inbox SET status = 'done' WHERE message_id = $1")
            .bind(message_id)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("SELECT fraser_release_chats(ARRAY['fake'], ARRAY['x'])")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    };
    // A store of `message_id` inside an open transaction.
    let store_open = |pool: sqlx::PgPool, message_id: &'static str| async move {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(
            "SELECT * FROM fraser_enqueue_messages(ARRAY['fake'], ARRAY['x'], ARRAY[$1], \
             ARRAY['u'], ARRAY['U'], ARRAY[$1], ARRAY[false], ARRAY['null'::jsonb], \
             ARRAY[0::bigint])",
        )
        .bind(message_id)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        tx
    };
    let wait = Duration::from_secs(5);
    let claim_one = |expected: Option<i64>| {
        let store = Arc::clone(&db.store);
        async move {
            let claims = store.claim_turns("w", T0, LEASE, 8).await.unwrap();
            assert_eq!(
                claims.iter().map(|c| c.inbox_id).collect::<Vec<_>>(),
                Vec::from_iter(expected)
            );
            if let Some(claim) = claims.first() {
                store.run_turn(claim, counter(), T0).await.unwrap();
            }
        }
    };
    db.store
        .enqueue(&message("fake", "x", "m1", "m1"))
        .await
        .unwrap();
    let m1 = id_of(pool.clone(), "m1").await;
    assert_eq!(head(pool.clone()).await, Some(m1));

    // 1. A store of m2 is in flight (uncommitted) when the turn of m1 finishes: the turn
    //    does not wait, and leaves the chat ready; once m2 commits, a claim runs it.
    let store_tx = store_open(pool.clone(), "m2").await;
    let turn_tx = tokio::time::timeout(wait, finish(pool.clone(), "m1"))
        .await
        .expect("a turn waited for a store");
    turn_tx.commit().await.unwrap();
    assert_eq!(
        head(pool.clone()).await,
        Some(m1),
        "the chat must stay ready"
    );
    store_tx.commit().await.unwrap();
    claim_one(Some(id_of(pool.clone(), "m2").await)).await;
    assert_eq!(head(pool.clone()).await, None, "idle after m2");

    // 2. The same, but the store rolls back: the ready chat has nothing to run, and the
    //    claim that finds it so settles it (no head).
    db.store
        .enqueue(&message("fake", "x", "m3", "m3"))
        .await
        .unwrap();
    let m3 = id_of(pool.clone(), "m3").await;
    let store_tx = store_open(pool.clone(), "m3b").await;
    finish(pool.clone(), "m3").await.commit().await.unwrap();
    assert_eq!(head(pool.clone()).await, Some(m3));
    store_tx.rollback().await.unwrap();
    claim_one(None).await;
    assert_eq!(head(pool.clone()).await, None, "a stale head is settled");

    // 3. The turn of m4 leaves the chat idle (uncommitted) when m5 arrives: the store
    //    waits for the turn's commit, and then gives the chat its head.
    db.store
        .enqueue(&message("fake", "x", "m4", "m4"))
        .await
        .unwrap();
    let turn_tx = finish(pool.clone(), "m4").await;
    let store = Arc::clone(&db.store);
    let stored =
        tokio::spawn(async move { store.enqueue(&message("fake", "x", "m5", "m5")).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !stored.is_finished(),
        "the store did not wait for the finishing turn"
    );
    turn_tx.commit().await.unwrap();
    assert!(matches!(stored.await.unwrap().unwrap(), Enqueued::New));
    let m5 = id_of(pool.clone(), "m5").await;
    assert_eq!(head(pool.clone()).await, Some(m5));
    claim_one(Some(m5)).await;
    assert_eq!(head(pool.clone()).await, None);
    claim_one(None).await;

    // 4. A busy chat: the turn of m6 leaves m7 pending, so it keeps a head without the
    //    exclusive lock, and a store of m8 meanwhile does not wait for the turn.
    for id in ["m6", "m7"] {
        db.store
            .enqueue(&message("fake", "x", id, id))
            .await
            .unwrap();
    }
    let turn_tx = finish(pool.clone(), "m6").await;
    tokio::time::timeout(wait, db.store.enqueue(&message("fake", "x", "m8", "m8")))
        .await
        .expect("a store of a busy chat waited for a turn")
        .unwrap();
    turn_tx.commit().await.unwrap();
    assert_eq!(
        head(pool.clone()).await,
        Some(id_of(pool.clone(), "m7").await)
    );
    pool.close().await;
}
