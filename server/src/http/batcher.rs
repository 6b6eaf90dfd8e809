//! Shares inbox commits between concurrent requests.
//!
//! Handlers hand their messages to one batching task through a channel and wait for
//! the answer. The task commits what has queued up with one
//! [`Store::enqueue_batch`] call and answers every waiting handler with its own
//! messages' New/Duplicate outcome, so a request is still answered only after its
//! messages are committed. Batching is driven by load, not by a timer: at most
//! [`IN_FLIGHT`] commits run at once; while they run, new requests queue up and go
//! into the next commit together (up to [`MAX_MESSAGES`]). An idle server therefore
//! commits a lone request at once, and a busy one makes few, large commits.

use std::sync::{Arc, OnceLock};

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::error::AppError;
use crate::model::InboundMessage;
use crate::store::{Enqueued, Store, StoreError};

/// Most inbox commits in flight at once (per server).
pub(crate) const IN_FLIGHT: usize = 2;
/// Most messages in one commit.
pub(crate) const MAX_MESSAGES: usize = 512;
/// Requests that may wait for the batching task before senders wait too.
const QUEUE: usize = 8192;

type Answer = Result<(Vec<InboundMessage>, Vec<Enqueued>), AppError>;

struct Request {
    messages: Vec<InboundMessage>,
    answer: oneshot::Sender<Answer>,
}

/// The handle that handlers enqueue through; cheap to share.
pub(crate) struct InboxBatcher {
    store: Arc<dyn Store>,
    queue: OnceLock<mpsc::Sender<Request>>,
}

impl InboxBatcher {
    pub(crate) fn new(store: Arc<dyn Store>) -> InboxBatcher {
        InboxBatcher {
            store,
            queue: OnceLock::new(),
        }
    }

    /// Stores `messages` (in order) in a shared commit; returns them with their
    /// outcomes once committed. 503 when the store is unavailable.
    pub(crate) async fn enqueue(&self, messages: Vec<InboundMessage>) -> Answer {
        if messages.is_empty() {
            return Ok((messages, Vec::new()));
        }
        // The task starts with the first request, on the runtime that serves it.
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(run(Arc::clone(&self.store), receiver));
            sender
        });
        let (answer, answered) = oneshot::channel();
        queue
            .send(Request { messages, answer })
            .await
            .map_err(|_| AppError::StoreUnavailable)?;
        answered.await.map_err(|_| AppError::StoreUnavailable)?
    }
}

/// Collects requests into batches and commits them, until every handle is gone.
async fn run(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<Request>) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = receiver.recv().await {
        let mut count = first.messages.len();
        let mut batch = vec![first];
        // Take what is queued; if every commit slot is busy, keep taking requests
        // until one frees up (they then share the next commit).
        let permit = loop {
            while count < MAX_MESSAGES {
                match receiver.try_recv() {
                    Ok(request) => {
                        count += request.messages.len();
                        batch.push(request);
                    }
                    Err(_) => break,
                }
            }
            if count >= MAX_MESSAGES {
                break Arc::clone(&permits).acquire_owned().await;
            }
            tokio::select! {
                biased;
                permit = Arc::clone(&permits).acquire_owned() => break permit,
                request = receiver.recv() => match request {
                    Some(request) => {
                        count += request.messages.len();
                        batch.push(request);
                    }
                    None => break Arc::clone(&permits).acquire_owned().await,
                },
            }
        };
        let Ok(permit) = permit else {
            return;
        };
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            commit(store.as_ref(), batch).await;
            drop(permit);
        });
    }
}

async fn commit(store: &dyn Store, batch: Vec<Request>) {
    let mut lengths = Vec::with_capacity(batch.len());
    let mut answers = Vec::with_capacity(batch.len());
    let mut messages = Vec::new();
    for request in batch {
        lengths.push(request.messages.len());
        answers.push(request.answer);
        messages.extend(request.messages);
    }
    match store.enqueue_batch(&messages).await {
        Ok(mut outcomes) if outcomes.len() == messages.len() => {
            // Hand each request its own messages and outcomes back, last first.
            for (answer, length) in answers.into_iter().zip(lengths).rev() {
                let at = messages.len() - length;
                let own = messages.split_off(at);
                let own_outcomes = outcomes.split_off(at);
                let _ = answer.send(Ok((own, own_outcomes)));
            }
        }
        Ok(outcomes) => {
            tracing::error!(
                messages = messages.len(),
                outcomes = outcomes.len(),
                "inbox batch answered the wrong number of outcomes"
            );
            for answer in answers {
                let _ = answer.send(Err(AppError::Internal(
                    "inbox batch answered the wrong number of outcomes".into(),
                )));
            }
        }
        Err(error) => {
            let unavailable = error.is_unavailable();
            if unavailable {
                tracing::warn!(%error, "store unavailable");
            } else {
                tracing::error!(%error, source = ?std::error::Error::source(&error), "inbox batch failed");
            }
            for answer in answers {
                let _ = answer.send(Err(app_error(&error, unavailable)));
            }
        }
    }
}

/// The answer for every request of a failed batch (as `From<StoreError>` would give).
fn app_error(error: &StoreError, unavailable: bool) -> AppError {
    if unavailable {
        AppError::StoreUnavailable
    } else {
        AppError::Internal(format!("{error:#}: {:?}", std::error::Error::source(error)))
    }
}
