//! The built-in web chat channel: "sending" stores the reply in the store's
//! `web_replies` table, where the page served at `/` polls it. Going through the store
//! (not memory) lets the page poll any server of a deployment.

use std::sync::Arc;

use tokio::sync::Notify;

use super::{Messenger, SendOutcome};
use crate::model::{ChatAddress, Reply};
use crate::store::{BoxFuture, Store};

/// The platform name of the web chat.
pub const WEB_PLATFORM: &str = "web";

/// The web chat messenger.
pub struct WebMessenger {
    store: Arc<dyn Store>,
    delivered: Arc<Notify>,
}

impl WebMessenger {
    /// Creates the web chat messenger over `store`.
    pub fn new(store: Arc<dyn Store>) -> WebMessenger {
        WebMessenger {
            store,
            delivered: Arc::new(Notify::new()),
        }
    }

    /// Signalled after each delivery by this process (wakes long polls early; polls of
    /// replies delivered by other servers fall back to re-reading the store).
    pub fn delivered(&self) -> Arc<Notify> {
        Arc::clone(&self.delivered)
    }
}

impl Messenger for WebMessenger {
    fn platform(&self) -> &str {
        WEB_PLATFORM
    }

    fn max_len(&self) -> usize {
        4000
    }

    fn send<'a>(&'a self, chat: &'a ChatAddress, reply: &'a Reply) -> BoxFuture<'a, SendOutcome> {
        Box::pin(async move {
            match self.store.web_deliver(&chat.chat_id, reply).await {
                Ok(_) => {
                    self.delivered.notify_waiters();
                    SendOutcome::Sent
                }
                Err(error) => SendOutcome::Failed {
                    permanent: false,
                    reason: format!("web chat store: {error}"),
                },
            }
        })
    }
}
