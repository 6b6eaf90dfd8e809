//! A scriptable in-memory messenger for tests: records every send and can be told to
//! fail, rate-limit or hang.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use super::{Messenger, SendOutcome};
use crate::model::{ChatAddress, Reply};
use crate::store::BoxFuture;

/// What the fake does on one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeBehaviour {
    /// Accept and record the reply.
    Deliver,
    /// Fail, retryably.
    Fail,
    /// Fail permanently.
    FailPermanently,
    /// Answer "rate limited, retry after".
    RateLimit(Duration),
    /// Never answer (the sender's timeout must cut it).
    Hang,
}

/// One recorded delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeSend {
    /// Where it went.
    pub chat: ChatAddress,
    /// What was sent.
    pub reply: Reply,
}

/// A messenger that records deliveries in memory.
#[derive(Debug)]
pub struct FakeMessenger {
    platform: String,
    max_len: usize,
    script: Mutex<VecDeque<FakeBehaviour>>,
    sent: Mutex<Vec<FakeSend>>,
    calls: Mutex<usize>,
}

impl FakeMessenger {
    /// Creates a fake for `platform` that accepts everything.
    pub fn new(platform: &str) -> FakeMessenger {
        FakeMessenger {
            platform: platform.to_string(),
            max_len: 4096,
            script: Mutex::new(VecDeque::new()),
            sent: Mutex::new(Vec::new()),
            calls: Mutex::new(0),
        }
    }

    /// Sets the maximum message length.
    pub fn with_max_len(mut self, max_len: usize) -> FakeMessenger {
        self.max_len = max_len;
        self
    }

    /// Queues behaviours for the next sends; once used up, sends are delivered.
    pub fn script(&self, behaviours: impl IntoIterator<Item = FakeBehaviour>) {
        if let Ok(mut script) = self.script.lock() {
            script.extend(behaviours);
        }
    }

    /// Returns the deliveries so far.
    pub fn sent(&self) -> Vec<FakeSend> {
        self.sent
            .lock()
            .map(|sent| sent.clone())
            .unwrap_or_default()
    }

    /// Returns the texts delivered to `chat_id`, in order.
    pub fn texts(&self, chat_id: &str) -> Vec<String> {
        self.sent()
            .into_iter()
            .filter(|send| send.chat.chat_id == chat_id)
            .map(|send| send.reply.text)
            .collect()
    }

    /// Returns how many times `send` was called (deliveries and failures).
    pub fn calls(&self) -> usize {
        self.calls.lock().map(|calls| *calls).unwrap_or(0)
    }
}

impl Messenger for FakeMessenger {
    fn platform(&self) -> &str {
        &self.platform
    }

    fn max_len(&self) -> usize {
        self.max_len
    }

    fn send<'a>(&'a self, chat: &'a ChatAddress, reply: &'a Reply) -> BoxFuture<'a, SendOutcome> {
        Box::pin(async move {
            if let Ok(mut calls) = self.calls.lock() {
                *calls += 1;
            }
            let behaviour = self
                .script
                .lock()
                .ok()
                .and_then(|mut script| script.pop_front())
                .unwrap_or(FakeBehaviour::Deliver);
            match behaviour {
                FakeBehaviour::Deliver => {
                    if let Ok(mut sent) = self.sent.lock() {
                        sent.push(FakeSend {
                            chat: chat.clone(),
                            reply: reply.clone(),
                        });
                    }
                    SendOutcome::Sent
                }
                FakeBehaviour::Fail => SendOutcome::Failed {
                    permanent: false,
                    reason: "fake: temporary failure".to_string(),
                },
                FakeBehaviour::FailPermanently => SendOutcome::Failed {
                    permanent: true,
                    reason: "fake: permanent failure".to_string(),
                },
                FakeBehaviour::RateLimit(after) => SendOutcome::RetryAfter(after),
                FakeBehaviour::Hang => std::future::pending().await,
            }
        })
    }
}
