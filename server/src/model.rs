//! Domain types shared by the queue, the stores, the games and the messengers.

use serde::{Deserialize, Serialize};

/// A point in time: milliseconds since the Unix epoch, from a [`Clock`](crate::Clock).
///
/// The queue compares these against leases and retry times, so every server of a
/// deployment needs a synchronised clock (NTP); the default lease (30 s) is far larger
/// than any sane skew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Returns the milliseconds since the Unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// Returns this instant moved forward by `duration` (saturating).
    pub fn plus(self, duration: std::time::Duration) -> Timestamp {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(millis))
    }
}

/// One message from a chat user, as every inbound adapter produces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// Platform name, e.g. `telegram`, `slack`, `web`; the key of the messenger registry.
    pub platform: String,
    /// Chat (conversation, channel, group) id on that platform.
    pub chat_id: String,
    /// Stable id of the sending user on that platform.
    pub sender_id: String,
    /// Display name of the sender, as the platform sent it.
    pub sender_name: String,
    /// The message text (commands included, e.g. `/hint` or `hint`).
    pub text: String,
    /// De-duplication key: unique per platform across all chats (adapters whose
    /// message ids are only unique per chat prefix them, e.g. with the update id or chat).
    pub message_id: String,
    /// Whether the chat is a group (several players) rather than a direct chat.
    pub is_group: bool,
    /// Whatever the adapter needs to answer in place: thread ids, reply tokens...
    /// The queue stores it and hands it back in [`ChatAddress::reply_context`].
    #[serde(default)]
    pub reply_context: serde_json::Value,
    /// When the server received the message.
    pub received_at: Timestamp,
}

impl InboundMessage {
    /// Returns the address that replies to this message are sent to.
    pub fn address(&self) -> ChatAddress {
        ChatAddress {
            platform: self.platform.clone(),
            chat_id: self.chat_id.clone(),
            is_group: self.is_group,
            reply_context: self.reply_context.clone(),
        }
    }
}

/// Where a reply goes: the chat, and the adapter's context of the message that caused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatAddress {
    /// Platform name.
    pub platform: String,
    /// Chat id on that platform.
    pub chat_id: String,
    /// Whether the chat is a group.
    pub is_group: bool,
    /// The inbound message's [`InboundMessage::reply_context`].
    pub reply_context: serde_json::Value,
}

/// One message for the chat, produced by a game step and delivered by a messenger.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reply {
    /// The text. Messengers get it cut at sentence boundaries to their `max_len`.
    pub text: String,
    /// Quick-reply buttons; each sends its `command` back as a message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

impl Reply {
    /// Creates a reply with text only.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            buttons: Vec::new(),
        }
    }
}

/// A quick-reply button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    /// What the button shows.
    pub label: String,
    /// The message text that pressing it sends, e.g. `hint`.
    pub command: String,
}

/// A player's score in one chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerScore {
    /// The player's id on the platform.
    pub player_id: String,
    /// The last display name seen for the player.
    pub name: String,
    /// The sum of all score deltas the game gave the player in this chat.
    pub score: i64,
}
