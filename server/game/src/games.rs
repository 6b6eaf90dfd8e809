//! The entry point: [`Games::step`] turns (state, message) into (state,
//! replies, score changes), and [`Games::tick`] times out idle rounds.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::command::{self, Command};
use crate::corpus::Corpus;
use crate::mask::clean_sentence;
use crate::matcher::{Matcher, Verdict};
use crate::rng::{derive, mix};
use crate::round::{self, Builder};
use crate::state::{ChatState, GameKind, GameState, Hint, Level, PlayerScore};
use crate::text::Text;
use crate::wording::{self, Style};

/// Messages longer than this (in chars) are cut before they are read.
const MAX_MESSAGE_CHARS: usize = 500;

/// Knobs of the games. `Default` suits a full English Wikipedia index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Language code of the corpus (picks the stemmer).
    pub language: String,
    /// Silence (ms) after which a "guess the article" round times out.
    pub round_timeout_ms: i64,
    /// Silence (ms) after which a "fill the blank" round times out.
    pub blank_timeout_ms: i64,
    /// The game stops when this many rounds in a row time out unanswered.
    pub max_unanswered_rounds: u32,
    /// In-link range of easy articles (well known).
    pub easy: InlinkRange,
    /// In-link range of hard articles (less known).
    pub hard: InlinkRange,
    /// Articles need at least this many sentences.
    pub min_sentences: u32,
    /// Clue sentences per "guess the article" round (the first plus hints).
    pub max_clues: usize,
    /// An article with fewer good clue sentences is not played.
    pub min_clues: usize,
    /// Clue sentences have at least this many chars.
    pub clue_min_chars: usize,
    /// Clue sentences have at most this many chars.
    pub clue_max_chars: usize,
    /// The lead clue (the definition) may be this long.
    pub lead_clue_max_chars: usize,
    /// At most this percentage of a clue's words may be masked.
    pub max_masked_percent: usize,
    /// How many links "fill the blank" considers per article.
    pub blank_candidates: usize,
    /// Articles tried per round before the level's in-link range is dropped
    /// (and as many again without it).
    pub attempts: u32,
    /// Points of "guess the article".
    pub guess_prize: Prize,
    /// Points of "fill the blank".
    pub blank_prize: Prize,
    /// How many played article ids a chat remembers.
    pub recent_articles: usize,
    /// How many players a chat's scoreboard keeps.
    pub max_players: usize,
    /// How many players `/score` shows.
    pub scoreboard_size: usize,
    /// Sentences in an answer to "who is X".
    pub ask_sentences: usize,
    /// Two lookup candidates whose scores differ by less than this fraction
    /// of the best make a name ambiguous.
    pub ask_ambiguity: f32,
    /// The bot's user name ("FraserBot"): commands addressed to another bot
    /// in a group ("/hint@OtherBot") are ignored. Empty: accept any.
    pub bot_name: String,
}

/// A range of in-link counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlinkRange {
    /// At least this many in-links.
    pub min: u32,
    /// At most this many (`None`: no limit).
    pub max: Option<u32>,
}

/// Points for a correct answer: the level's base, minus `hint_cost` per
/// hint, never below `min`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prize {
    /// Base points at the easy level.
    pub easy: i64,
    /// Base points at the hard level.
    pub hard: i64,
    /// Points a hint costs.
    pub hint_cost: i64,
    /// The least a correct answer earns.
    pub min: i64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            language: "en".to_owned(),
            round_timeout_ms: 180_000,
            blank_timeout_ms: 60_000,
            max_unanswered_rounds: 3,
            easy: InlinkRange {
                min: 500,
                max: None,
            },
            hard: InlinkRange {
                min: 50,
                max: Some(499),
            },
            min_sentences: 15,
            max_clues: 6,
            min_clues: 2,
            clue_min_chars: 40,
            clue_max_chars: 300,
            lead_clue_max_chars: 400,
            max_masked_percent: 34,
            blank_candidates: 24,
            attempts: 8,
            guess_prize: Prize {
                easy: 10,
                hard: 15,
                hint_cost: 2,
                min: 2,
            },
            blank_prize: Prize {
                easy: 5,
                hard: 8,
                hint_cost: 2,
                min: 1,
            },
            recent_articles: 300,
            max_players: 200,
            scoreboard_size: 10,
            ask_sentences: 2,
            ask_ambiguity: 0.1,
            bot_name: String::new(),
        }
    }
}

/// An incoming chat message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The platform's id of the sender.
    pub sender_id: String,
    /// The sender's display name.
    pub sender_name: String,
    /// The text.
    pub text: String,
    /// Whether the chat is a group (several people) or direct.
    pub is_group: bool,
    /// The platform ("telegram", "slack", "web"...), to write commands the
    /// way its users type them.
    pub platform: String,
}

/// The result of one turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The chat's new state.
    pub state: ChatState,
    /// What to send, in order.
    pub replies: Vec<Reply>,
    /// Points won this turn: (player id, points).
    pub scores: Vec<(String, i64)>,
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Plain text.
    pub text: String,
    /// Optional quick-reply buttons.
    pub buttons: Vec<Button>,
}

/// A quick-reply button: pressing it sends `command` as a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    /// What the button shows.
    pub label: String,
    /// The command it sends ("/hint").
    pub command: String,
}

/// The games over one corpus.
pub struct Games {
    corpus: Arc<dyn Corpus>,
    settings: Settings,
    text: Text,
}

impl std::fmt::Debug for Games {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Games")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Games {
    /// Creates the games over a corpus.
    pub fn new(corpus: Arc<dyn Corpus>, settings: Settings) -> Games {
        let text = Text::new(&settings.language);
        Games {
            corpus,
            settings,
            text,
        }
    }

    /// Returns the settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// One turn: state (`ChatState::default()` for a new chat) + message ->
    /// new state + replies + score changes. Pure and deterministic for
    /// (state, message, now, seed): the seed is only used when the message
    /// starts a new game (the game keeps it and derives each round's seed
    /// from it), and for the wording of "no".
    pub fn step(&self, state: &ChatState, msg: &Message, now_ms: i64, seed: u64) -> Step {
        let mut turn = Turn::new(self, state, Style::of(&msg.platform), now_ms, seed);
        turn.expire();
        let text = cut(&msg.text, MAX_MESSAGE_CHARS);
        let explicit = text.trim_start().starts_with(['/', '!']);
        match command::parse(text, &self.settings.bot_name) {
            Command::Play { kind, level } => turn.play(kind, level),
            Command::Hint => turn.hint(),
            Command::Skip => turn.skip(),
            Command::Score => turn.score(),
            Command::Stop => turn.stop(),
            Command::Help => turn.reply(wording::help(turn.style), Vec::new()),
            Command::Ask(query) => {
                // "who is Abraham Lincoln" during a round is a guess first.
                let guessed = turn.state.game.is_some()
                    && !explicit
                    && turn.guess(text, msg, Mode::OnlyCorrect);
                if !guessed {
                    turn.ask(&query, msg, explicit);
                }
            }
            Command::Guess(guess) => {
                turn.guess(&guess, msg, Mode::Explicit);
            }
            Command::Unknown => {
                if !msg.is_group {
                    turn.reply(wording::help(turn.style), Vec::new());
                }
            }
            Command::Text(text) => {
                if turn.state.game.is_some() {
                    turn.guess(&text, msg, Mode::Chat);
                } else if !msg.is_group && !text.is_empty() {
                    // A plain name in a direct chat: tell about it.
                    turn.ask(&text, msg, false);
                }
            }
        }
        if let Some(game) = turn.state.game.as_mut() {
            game.round.last_ms = game.round.last_ms.max(now_ms);
        }
        turn.finish()
    }

    /// Times out an idle round (for a worker that wakes chats up at
    /// [`Games::deadline`]): reveals the answer and starts the next round, or
    /// stops the game after `max_unanswered_rounds`. Returns the state
    /// unchanged and no reply when nothing is due.
    pub fn tick(&self, state: &ChatState, now_ms: i64) -> Step {
        let plain = state.game.as_ref().is_some_and(|g| g.plain_commands);
        let mut turn = Turn::new(self, state, Style::plain(plain), now_ms, 0);
        turn.expire();
        turn.finish()
    }

    /// When the running round times out if the chat stays silent (ms), if a
    /// round is running.
    pub fn deadline(&self, state: &ChatState) -> Option<i64> {
        let game = state.game.as_ref()?;
        let timeout = self.timeout(game.kind);
        (timeout > 0).then(|| game.round.last_ms.saturating_add(timeout))
    }

    fn timeout(&self, kind: GameKind) -> i64 {
        match kind {
            GameKind::Guess => self.settings.round_timeout_ms,
            GameKind::Blank => self.settings.blank_timeout_ms,
        }
    }
}

/// Cuts a text to at most `max` chars.
fn cut(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// How a guess came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Plain text during a round.
    Chat,
    /// `/guess X`: always answered.
    Explicit,
    /// A question that may be the answer: only a correct answer counts,
    /// anything else is left to the caller.
    OnlyCorrect,
}

/// One turn in progress.
struct Turn<'a> {
    games: &'a Games,
    state: ChatState,
    replies: Vec<Reply>,
    scores: Vec<(String, i64)>,
    style: Style,
    now: i64,
    seed: u64,
}

impl<'a> Turn<'a> {
    fn new(games: &'a Games, state: &ChatState, style: Style, now: i64, seed: u64) -> Turn<'a> {
        let mut state = state.clone();
        state.upgrade(games.settings.max_players, games.settings.recent_articles);
        Turn {
            games,
            state,
            replies: Vec::new(),
            scores: Vec::new(),
            style,
            now,
            seed,
        }
    }

    fn finish(self) -> Step {
        Step {
            state: self.state,
            replies: self.replies,
            scores: self.scores,
        }
    }

    fn reply(&mut self, text: String, buttons: Vec<Button>) {
        self.replies.push(Reply { text, buttons });
    }

    fn settings(&self) -> &'a Settings {
        &self.games.settings
    }

    fn round_buttons(&self) -> Vec<Button> {
        vec![
            Button {
                label: wording::BUTTON_HINT.to_owned(),
                command: "/hint".to_owned(),
            },
            Button {
                label: wording::BUTTON_SKIP.to_owned(),
                command: "/skip".to_owned(),
            },
        ]
    }

    fn play_again(kind: GameKind, level: Level) -> Vec<Button> {
        vec![Button {
            label: wording::BUTTON_PLAY_AGAIN.to_owned(),
            command: format!("/play {}", wording::play_args(kind, level)),
        }]
    }

    fn url(&self, title: &str) -> String {
        self.games.corpus.url(title)
    }

    /// Times out the round if the chat was silent too long.
    fn expire(&mut self) {
        let Some(game) = &self.state.game else {
            return;
        };
        let timeout = self.games.timeout(game.kind);
        let elapsed = self.now.saturating_sub(game.round.last_ms);
        if timeout <= 0 || elapsed < timeout {
            return;
        }
        // Rounds a worker calling `tick` would have timed out in the silence.
        let missed = u32::try_from(elapsed / timeout).unwrap_or(u32::MAX).max(1);
        let Some(mut game) = self.state.game.take() else {
            return;
        };
        let url = self.url(&game.round.title);
        self.reply(wording::timed_out(&game.round.answer, &url), Vec::new());
        game.unanswered = game.unanswered.saturating_add(missed);
        if game.unanswered >= self.settings().max_unanswered_rounds {
            let buttons = Self::play_again(game.kind, game.level);
            self.reply(wording::stopped_idle(self.style), buttons);
            return;
        }
        self.next_round(game);
    }

    /// Starts the next round of a game (or ends it when no article fits).
    fn next_round(&mut self, mut game: GameState) {
        let number = game.rounds.saturating_add(1);
        let builder = Builder {
            corpus: self.games.corpus.as_ref(),
            settings: self.settings(),
            text: &self.games.text,
        };
        let round_seed = derive(game.seed, u64::from(number));
        let Some(round) = builder.round(
            game.kind,
            game.level,
            round_seed,
            &self.state.recent,
            self.now,
        ) else {
            self.state.game = None;
            self.reply(wording::no_article(), Vec::new());
            return;
        };
        self.remember(round.source_id);
        if let Some(id) = round.answer_id {
            self.remember(id);
        }
        let prize = round::prize(self.settings(), game.kind, game.level, 0);
        let first = round.clues.first().map_or("", String::as_str);
        let text =
            wording::round_start(game.kind, game.level, number, prize, &round.context, first);
        game.rounds = number;
        game.round = round;
        self.state.game = Some(game);
        let buttons = self.round_buttons();
        self.reply(text, buttons);
    }

    fn remember(&mut self, id: u64) {
        let recent = &mut self.state.recent;
        recent.retain(|&r| r != id);
        recent.push(id);
        let max = self.games.settings.recent_articles;
        if recent.len() > max {
            let extra = recent.len() - max;
            recent.drain(..extra);
        }
    }

    fn play(&mut self, kind: Option<GameKind>, level: Option<Level>) {
        if let Some(game) = &self.state.game {
            let same = kind.is_none_or(|k| k == game.kind) && level.is_none_or(|l| l == game.level);
            if same {
                let shown = (game.round.shown as usize).clamp(1, game.round.clues.len().max(1));
                let clues = game.round.clues.get(..shown).unwrap_or(&game.round.clues);
                let text = wording::still_running(clues);
                let buttons = self.round_buttons();
                self.reply(text, buttons);
                return;
            }
        }
        let (kind, level) = match self.state.game.take() {
            Some(old) => {
                let url = self.url(&old.round.title);
                self.reply(wording::skipped(&old.round.answer, &url), Vec::new());
                (kind.unwrap_or(old.kind), level.unwrap_or(old.level))
            }
            None => (kind.unwrap_or_default(), level.unwrap_or_default()),
        };
        let game = GameState {
            kind,
            level,
            seed: self.seed,
            plain_commands: self.style.is_plain(),
            ..GameState::default()
        };
        self.next_round(game);
    }

    fn hint(&mut self) {
        let Some(game) = self.state.game.as_mut() else {
            let buttons = Self::play_again(GameKind::Guess, Level::Easy);
            self.reply(wording::no_game(self.style), buttons);
            return;
        };
        let Some(hint) = round::next_hint(game.kind, &game.round) else {
            self.reply(wording::no_more_hints(self.style), Vec::new());
            return;
        };
        let round = &mut game.round;
        round.hints.push(hint);
        let prize = round::prize(
            &self.games.settings,
            game.kind,
            game.level,
            round.hints.len(),
        );
        let text = match hint {
            Hint::Sentence => {
                let clue = round
                    .clues
                    .get(round.shown as usize)
                    .cloned()
                    .unwrap_or_default();
                round.shown = round.shown.saturating_add(1);
                wording::hint_sentence(&clue, prize)
            }
            Hint::Letters | Hint::Word => {
                wording::hint_letters(&round::shape(&round.answer, &round.hints), prize)
            }
        };
        let buttons = self.round_buttons();
        self.reply(text, buttons);
    }

    fn skip(&mut self) {
        let Some(game) = self.state.game.take() else {
            let buttons = Self::play_again(GameKind::Guess, Level::Easy);
            self.reply(wording::no_game(self.style), buttons);
            return;
        };
        let url = self.url(&game.round.title);
        self.reply(wording::skipped(&game.round.answer, &url), Vec::new());
        self.next_round(game);
    }

    fn stop(&mut self) {
        let Some(game) = self.state.game.take() else {
            let buttons = Self::play_again(GameKind::Guess, Level::Easy);
            self.reply(wording::no_game(self.style), buttons);
            return;
        };
        let url = self.url(&game.round.title);
        let buttons = Self::play_again(game.kind, game.level);
        self.reply(wording::stopped(&game.round.answer, &url), buttons);
        if !self.state.scores.is_empty() {
            let board = wording::scoreboard(&self.state.scores, 3, self.style);
            self.reply(board, Vec::new());
        }
    }

    fn score(&mut self) {
        let board = wording::scoreboard(
            &self.state.scores,
            self.settings().scoreboard_size,
            self.style,
        );
        self.reply(board, Vec::new());
    }

    /// The accepted names of the running round's answer.
    fn matcher(&self) -> Matcher {
        let Some(game) = &self.state.game else {
            return Matcher::default();
        };
        let round = &game.round;
        // The article is trusted only when it still has the round's title: after the
        // index is replaced under a running round, its id may name another article,
        // or none (the round then goes on with the names it holds).
        let view = round
            .answer_id
            .and_then(|id| self.games.corpus.article(id))
            .filter(|view| view.title == round.title);
        let mut names: Vec<&str> = vec![round.title.as_str(), round.answer.as_str()];
        if let Some(view) = &view {
            names.push(&view.title);
            names.extend(view.redirects.iter().map(String::as_str));
            names.extend(view.aliases.iter().map(String::as_str));
            names.extend(view.bold.iter().map(String::as_str));
        }
        Matcher::new(&self.games.text, names)
    }

    /// Judges a guess; tells whether it was correct.
    fn guess(&mut self, guess: &str, msg: &crate::Message, mode: Mode) -> bool {
        if self.state.game.is_none() {
            if mode == Mode::Explicit {
                let buttons = Self::play_again(GameKind::Guess, Level::Easy);
                self.reply(wording::no_game(self.style), buttons);
            }
            return false;
        }
        let matcher = self.matcher();
        if matcher.is_empty() {
            return false;
        }
        match matcher.judge(&self.games.text, guess) {
            Verdict::Correct => {
                self.win(msg);
                true
            }
            Verdict::Close if mode != Mode::OnlyCorrect => {
                self.reply(wording::close(), Vec::new());
                false
            }
            Verdict::Wrong if mode == Mode::Explicit || (mode == Mode::Chat && !msg.is_group) => {
                self.reply(wording::wrong(mix(self.seed)), Vec::new());
                false
            }
            _ => false,
        }
    }

    fn win(&mut self, msg: &crate::Message) {
        let Some(mut game) = self.state.game.take() else {
            return;
        };
        let points = round::prize(
            self.settings(),
            game.kind,
            game.level,
            game.round.hints.len(),
        );
        let name = if msg.sender_name.trim().is_empty() {
            msg.sender_id.clone()
        } else {
            msg.sender_name.trim().to_owned()
        };
        let id = if msg.sender_id.is_empty() {
            name.clone()
        } else {
            msg.sender_id.clone()
        };
        let scores = &mut self.state.scores;
        let total = match scores.iter_mut().find(|s| s.id == id) {
            Some(player) => {
                player.points = player.points.saturating_add(points);
                player.wins = player.wins.saturating_add(1);
                player.name.clone_from(&name);
                player.points
            }
            None => {
                scores.push(PlayerScore {
                    id: id.clone(),
                    name: name.clone(),
                    points,
                    wins: 1,
                });
                points
            }
        };
        scores.sort_by(PlayerScore::rank_order);
        scores.truncate(self.games.settings.max_players);
        self.scores.push((id, points));
        let url = self.url(&game.round.title);
        self.reply(
            wording::win(&name, &game.round.answer, points, total, &url),
            Vec::new(),
        );
        game.unanswered = 0;
        self.next_round(game);
    }

    fn ask(&mut self, query: &str, msg: &crate::Message, explicit: bool) {
        let query = cut(query.trim(), 200);
        let settings = self.settings();
        let mut candidates = self.games.corpus.lookup(query, 4);
        candidates.retain(|c| c.score.is_finite() && c.score > 0.0);
        let answer_id = self.state.round().and_then(|r| r.answer_id);
        let Some(best) = candidates.first().cloned() else {
            if explicit || !msg.is_group {
                self.reply(wording::ask_not_found(query, self.style), Vec::new());
            }
            return;
        };
        if answer_id == Some(best.id) {
            self.reply(wording::no_peeking(), Vec::new());
            return;
        }
        let bar = best.score * (1.0 - settings.ask_ambiguity);
        let query_key = nlp::fold(query);
        let exact = nlp::fold(&best.title) == query_key;
        let rivals: Vec<&crate::Candidate> = candidates
            .iter()
            .filter(|c| c.id != best.id && c.score >= bar && Some(c.id) != answer_id)
            .collect();
        if !exact && !rivals.is_empty() {
            let buttons = std::iter::once(&best)
                .chain(rivals)
                .take(3)
                .map(|c| Button {
                    label: c.title.clone(),
                    command: format!("/ask {}", c.title),
                })
                .collect();
            self.reply(wording::ask_which(query), buttons);
            return;
        }
        let Some(view) = self.games.corpus.article(best.id) else {
            if explicit || !msg.is_group {
                self.reply(wording::ask_not_found(query, self.style), Vec::new());
            }
            return;
        };
        let lead: Vec<&str> = view
            .sentences
            .iter()
            .filter(|s| s.section.is_empty())
            .map(|s| s.text.as_str())
            .collect();
        let sentences: Vec<&str> = if lead.is_empty() {
            view.sentences.iter().map(|s| s.text.as_str()).collect()
        } else {
            lead
        };
        let summary: Vec<String> = sentences
            .into_iter()
            .take(settings.ask_sentences)
            .map(clean_sentence)
            .collect();
        let summary = cut(&summary.join(" "), 700).to_owned();
        let url = self.url(&view.title);
        self.reply(wording::ask_answer(&view.title, &summary, &url), Vec::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn games_can_be_shared_across_worker_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Games>();
        shared::<ChatState>();
        shared::<Step>();
    }

    #[test]
    fn messages_are_cut_on_char_boundaries() {
        assert_eq!(cut("héllo", 2), "hé");
        assert_eq!(cut("hé", 5), "hé");
        assert_eq!(cut("", 0), "");
    }

    #[test]
    fn settings_read_from_partial_config() {
        let settings: Settings = serde_json::from_str(r#"{"round_timeout_ms": 5000}"#).unwrap();
        assert_eq!(settings.round_timeout_ms, 5000);
        assert_eq!(
            settings.blank_timeout_ms,
            Settings::default().blank_timeout_ms
        );
    }
}
