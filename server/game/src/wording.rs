//! Everything the bot says, in one place: short, friendly, plain text
//! (adapters add platform formatting). Command names are written the way
//! the platform's users type them (`/hint` or `hint`).

use crate::state::{GameKind, Level, PlayerScore};

/// How commands are written on a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    slash: bool,
}

impl Style {
    /// The style of a platform: slash commands where the platform has them
    /// (Telegram, Discord, the web chat, the terminal), plain words elsewhere
    /// (WhatsApp, LINE, Viber, Messenger, Slack, Teams: slash commands there
    /// are either absent or must be registered per workspace).
    pub(crate) fn of(platform: &str) -> Style {
        let plain = matches!(
            platform.to_ascii_lowercase().as_str(),
            "whatsapp"
                | "line"
                | "viber"
                | "messenger"
                | "slack"
                | "teams"
                | "botframework"
                | "sms"
        );
        Style { slash: !plain }
    }

    /// The style written as plain words or not.
    pub(crate) fn plain(plain: bool) -> Style {
        Style { slash: !plain }
    }

    /// Whether commands are plain words.
    pub(crate) fn is_plain(self) -> bool {
        !self.slash
    }

    /// A command as the user types it.
    pub(crate) fn cmd(self, command: &str) -> String {
        if self.slash {
            format!("/{command}")
        } else {
            command.to_owned()
        }
    }
}

fn kind_name(kind: GameKind) -> &'static str {
    match kind {
        GameKind::Guess => "guess the article",
        GameKind::Blank => "fill the blank",
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Easy => "easy",
        Level::Hard => "hard",
    }
}

/// The arguments of `/play` that start this kind of game again.
pub(crate) fn play_args(kind: GameKind, level: Level) -> String {
    let kind = match kind {
        GameKind::Guess => "guess",
        GameKind::Blank => "blank",
    };
    format!("{kind} {}", level_name(level))
}

fn points(n: i64) -> String {
    if n == 1 {
        "1 point".to_owned()
    } else {
        format!("{n} points")
    }
}

/// The opening of a round with its first clue.
pub(crate) fn round_start(
    kind: GameKind,
    level: Level,
    number: u32,
    prize: i64,
    context: &str,
    clue: &str,
) -> String {
    let head = format!(
        "Round {number}: {} ({}, {}).",
        kind_name(kind),
        level_name(level),
        points(prize)
    );
    match kind {
        GameKind::Guess => format!("{head}\nWhich article is this?\n{clue}"),
        GameKind::Blank if context.is_empty() => format!("{head}\nWhat goes in the blank?\n{clue}"),
        GameKind::Blank => format!("{head}\nWhat goes in the blank? (from {context})\n{clue}"),
    }
}

/// The current clues again (`/play` while a round runs).
pub(crate) fn still_running(clues: &[String]) -> String {
    let mut out = String::from("A round is on. The clues so far:");
    for clue in clues {
        out.push('\n');
        out.push_str(clue);
    }
    out
}

/// Another clue sentence.
pub(crate) fn hint_sentence(clue: &str, prize: i64) -> String {
    format!("Another clue ({} now):\n{clue}", points(prize))
}

/// Letters of the answer.
pub(crate) fn hint_letters(shape: &str, prize: i64) -> String {
    format!("The answer: {shape} ({} now)", points(prize))
}

/// No hint left.
pub(crate) fn no_more_hints(style: Style) -> String {
    format!(
        "No more hints. Say {} to see the answer.",
        style.cmd("skip")
    )
}

/// A correct answer.
pub(crate) fn win(name: &str, answer: &str, gained: i64, total: i64, url: &str) -> String {
    format!(
        "{name} got it: {answer}! +{} (total {}).\n{url}",
        points(gained),
        total
    )
}

/// The answer after `/skip`.
pub(crate) fn skipped(answer: &str, url: &str) -> String {
    format!("It was {answer}.\n{url}")
}

/// The answer after a timeout.
pub(crate) fn timed_out(answer: &str, url: &str) -> String {
    format!("Time's up! It was {answer}.\n{url}")
}

/// The game stops after too many unanswered rounds.
pub(crate) fn stopped_idle(style: Style) -> String {
    format!(
        "Nobody is playing, so I stopped. Say {} to start again.",
        style.cmd("play")
    )
}

/// `/stop` during a game.
pub(crate) fn stopped(answer: &str, url: &str) -> String {
    format!("Game over. It was {answer}.\n{url}")
}

/// A command that needs a game, with none running.
pub(crate) fn no_game(style: Style) -> String {
    format!(
        "No game is running. Say {} to start one.",
        style.cmd("play")
    )
}

/// A near miss.
pub(crate) fn close() -> String {
    "Close!".to_owned()
}

/// A wrong guess in a direct chat.
pub(crate) fn wrong(variant: u64) -> String {
    const NO: [&str; 3] = ["No.", "Nope, try again.", "Not it."];
    NO[(variant % NO.len() as u64) as usize].to_owned()
}

/// The scoreboard.
pub(crate) fn scoreboard(scores: &[PlayerScore], top: usize, style: Style) -> String {
    if scores.is_empty() {
        return format!("No points yet. Say {} to start.", style.cmd("play"));
    }
    let mut out = String::from("Scores:");
    for (rank, player) in scores.iter().take(top).enumerate() {
        let wins = if player.wins == 1 {
            "1 win".to_owned()
        } else {
            format!("{} wins", player.wins)
        };
        out.push_str(&format!(
            "\n{}. {} {} ({wins})",
            rank + 1,
            player.name,
            player.points
        ));
    }
    out
}

/// Short help with examples.
pub(crate) fn help(style: Style) -> String {
    let c = |name: &str| style.cmd(name);
    format!(
        "Wikipedia word games.\n\
         {} - guess the article from its sentences\n\
         {} - fill the blank in a sentence\n\
         Add \"hard\" for harder articles: {}\n\
         {} another clue (the prize drops), {} the answer, {} scores, {} end.\n\
         Or ask me: who is Ada Lovelace?",
        c("play"),
        c("play blank"),
        c("play hard"),
        c("hint"),
        c("skip"),
        c("score"),
        c("stop"),
    )
}

/// No article could be found for a round.
pub(crate) fn no_article() -> String {
    "Sorry, I could not find an article to play right now.".to_owned()
}

/// An answer to "who is X".
pub(crate) fn ask_answer(title: &str, summary: &str, url: &str) -> String {
    if summary.is_empty() {
        format!("{title}\n{url}")
    } else {
        format!("{title}: {summary}\n{url}")
    }
}

/// Several articles fit a name.
pub(crate) fn ask_which(query: &str) -> String {
    format!("\"{query}\" could be several things. Which one?")
}

/// Nothing fits a name.
pub(crate) fn ask_not_found(query: &str, style: Style) -> String {
    format!(
        "I don't know \"{query}\". Say {} for a game or {} for help.",
        style.cmd("play"),
        style.cmd("help")
    )
}

/// Asking about the answer of the running round.
pub(crate) fn no_peeking() -> String {
    "Nice try! Ask me again after the round.".to_owned()
}

/// Button labels.
pub(crate) const BUTTON_HINT: &str = "Hint";
/// Button labels.
pub(crate) const BUTTON_SKIP: &str = "Skip";
/// Button labels.
pub(crate) const BUTTON_PLAY_AGAIN: &str = "Play again";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles() {
        assert_eq!(Style::of("telegram").cmd("hint"), "/hint");
        assert_eq!(Style::of("WhatsApp").cmd("hint"), "hint");
        assert!(help(Style::of("slack")).contains("play blank - fill"));
        assert!(help(Style::of("web")).contains("/play blank - fill"));
    }

    #[test]
    fn scoreboard_lists_players() {
        let scores = vec![
            PlayerScore {
                id: "1".into(),
                name: "Ana".into(),
                points: 24,
                wins: 3,
            },
            PlayerScore {
                id: "2".into(),
                name: "Bo".into(),
                points: 10,
                wins: 1,
            },
        ];
        assert_eq!(
            scoreboard(&scores, 10, Style::of("web")),
            "Scores:\n1. Ana 24 (3 wins)\n2. Bo 10 (1 win)"
        );
        assert_eq!(
            scoreboard(&scores, 1, Style::of("web")),
            "Scores:\n1. Ana 24 (3 wins)"
        );
    }
}
