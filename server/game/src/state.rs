//! The state of one chat, stored as JSON between turns.
//!
//! Compatibility rules: every field has a serde default, so a state written
//! by an older version (or `{}`) reads; unknown fields are ignored, so an
//! older server can read a newer state; `v` is [`STATE_VERSION`] after any
//! turn, and a change of meaning (not just a new field) bumps it and gets
//! an upgrade step in `ChatState::upgrade`.

use serde::{Deserialize, Serialize};

/// The version written into [`ChatState::v`].
pub const STATE_VERSION: u32 = 1;

/// Everything the games remember about one chat.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct ChatState {
    /// Format version ([`STATE_VERSION`]).
    pub v: u32,
    /// The running game, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub game: Option<GameState>,
    /// Per-player totals in this chat, best first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<PlayerScore>,
    /// Article ids played recently (oldest first, bounded by
    /// `Settings::recent_articles`), so a chat does not see an article twice
    /// before the pool is used up.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<u64>,
}

impl Default for ChatState {
    fn default() -> ChatState {
        ChatState {
            v: STATE_VERSION,
            game: None,
            scores: Vec::new(),
            recent: Vec::new(),
        }
    }
}

impl ChatState {
    /// Brings a state read from storage to the current version and bounds
    /// (an old or hand-edited state must not break a turn).
    pub(crate) fn upgrade(&mut self, max_players: usize, max_recent: usize) {
        // Version 0 (a state written before versioning) has the same fields.
        self.v = STATE_VERSION;
        self.scores.sort_by(PlayerScore::rank_order);
        let mut seen = std::collections::HashSet::new();
        self.scores
            .retain(|s| !s.id.is_empty() && seen.insert(s.id.clone()));
        self.scores.truncate(max_players);
        if self.recent.len() > max_recent {
            let extra = self.recent.len() - max_recent;
            self.recent.drain(..extra);
        }
    }

    /// The round in progress, if any.
    pub fn round(&self) -> Option<&Round> {
        self.game.as_ref().map(|game| &game.round)
    }
}

/// Which game.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum GameKind {
    /// Guess the article from masked sentences.
    #[default]
    Guess,
    /// Guess the linked entity blanked out of a sentence.
    Blank,
}

/// How hard the articles are.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Well-known articles (many in-links).
    #[default]
    Easy,
    /// Less-known articles (fewer in-links).
    Hard,
}

/// A running game: a series of rounds that goes on until stopped or until
/// too many rounds in a row go unanswered.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(default)]
pub struct GameState {
    /// Which game.
    pub kind: GameKind,
    /// Which level.
    pub level: Level,
    /// The seed the game started with; round `n` uses a seed derived from it.
    pub seed: u64,
    /// Rounds started so far.
    pub rounds: u32,
    /// Rounds in a row that timed out unanswered.
    pub unanswered: u32,
    /// The chat's platform writes commands as plain words ("hint", not
    /// "/hint"); remembered for replies made by `Games::tick`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub plain_commands: bool,
    /// The round in progress.
    pub round: Round,
}

/// One round: a hidden answer and its clues.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(default)]
pub struct Round {
    /// The article that is the answer, when the corpus has it (guess: the
    /// article; blank: the link target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_id: Option<u64>,
    /// The article the clues come from (the same as `answer_id` for guess).
    pub source_id: u64,
    /// The answer's title (for links and as an accepted answer).
    pub title: String,
    /// The answer as shown when it is revealed (title without disambiguator,
    /// or the anchor text as written for blank).
    pub answer: String,
    /// Where the blank sentence comes from (a source title shown with it),
    /// `""` when not shown.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub context: String,
    /// The masked clue sentences, in the order they are revealed.
    pub clues: Vec<String>,
    /// How many clues are shown.
    pub shown: u32,
    /// Hints taken, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<Hint>,
    /// When the round started (ms).
    pub started_ms: i64,
    /// The last message in the chat during the round (ms); silence is
    /// measured from here.
    pub last_ms: i64,
}

/// A hint taken during a round.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Hint {
    /// Revealed the next clue sentence.
    Sentence,
    /// Revealed letters of the answer (first letters, then more).
    Letters,
    /// Revealed one whole word of the answer.
    Word,
}

/// A player's total in one chat.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(default)]
pub struct PlayerScore {
    /// The platform's player id.
    pub id: String,
    /// The name shown (the latest one seen).
    pub name: String,
    /// Points.
    pub points: i64,
    /// Rounds won.
    pub wins: u32,
}

impl PlayerScore {
    /// Best first: points, then wins, then id (so ties have a stable order).
    pub(crate) fn rank_order(a: &PlayerScore, b: &PlayerScore) -> std::cmp::Ordering {
        b.points
            .cmp(&a.points)
            .then(b.wins.cmp(&a.wins))
            .then(a.id.cmp(&b.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_old_states_read() {
        let state: ChatState = serde_json::from_str("{}").unwrap();
        assert!(state.game.is_none());
        let state: ChatState =
            serde_json::from_str(r#"{"v":0,"scores":[{"id":"a","points":3}],"extra":1}"#).unwrap();
        assert_eq!(state.scores[0].points, 3);
        assert_eq!(
            serde_json::to_string(&ChatState::default()).unwrap(),
            r#"{"v":1}"#
        );
    }

    #[test]
    fn upgrade_bounds_the_state() {
        let mut state = ChatState {
            v: 0,
            recent: (0..10).collect(),
            scores: vec![
                PlayerScore {
                    id: "b".into(),
                    points: 1,
                    ..PlayerScore::default()
                },
                PlayerScore {
                    id: "a".into(),
                    points: 5,
                    ..PlayerScore::default()
                },
                PlayerScore {
                    id: "".into(),
                    points: 9,
                    ..PlayerScore::default()
                },
                PlayerScore {
                    id: "c".into(),
                    points: 0,
                    ..PlayerScore::default()
                },
            ],
            ..ChatState::default()
        };
        state.upgrade(2, 3);
        assert_eq!(state.v, STATE_VERSION);
        assert_eq!(state.recent, [7, 8, 9]);
        let ids: Vec<&str> = state.scores.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
    }
}
