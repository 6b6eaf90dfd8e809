//! Reading a chat message as a command, a question or plain text.
//!
//! Commands come as `/play`, `/play@BotName` (Telegram in groups), `!play`,
//! or the plain word alone (`play`, `play blank hard`). A plain word only
//! counts when the whole message is the command with valid arguments, so
//! "play that song" stays chat. `/guess <text>` and `/ask <text>` carry text
//! for platforms that only deliver commands to bots in groups.

use crate::state::{GameKind, Level};

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Start (or switch) a game.
    Play {
        kind: Option<GameKind>,
        level: Option<Level>,
    },
    /// Another clue.
    Hint,
    /// Reveal the answer and go on.
    Skip,
    /// The scoreboard.
    Score,
    /// End the game.
    Stop,
    /// Short help.
    Help,
    /// "who is X" and friends, or `/ask X`.
    Ask(String),
    /// An explicit guess (`/guess X`).
    Guess(String),
    /// A command for some other bot, or one we do not know.
    Unknown,
    /// Anything else: a guess during a round, chat otherwise.
    Text(String),
}

/// Reads a message; `bot_name` (if not empty) is the bot's own name, so a
/// command addressed to another bot ("/hint@OtherBot") is not ours.
pub(crate) fn parse(message: &str, bot_name: &str) -> Command {
    let trimmed = message.trim();
    if let Some(rest) = trimmed.strip_prefix(['/', '!']) {
        return parse_explicit(rest, bot_name);
    }
    if let Some(command) = parse_plain(trimmed) {
        return command;
    }
    if let Some(query) = ask_query(trimmed) {
        return Command::Ask(query);
    }
    Command::Text(trimmed.to_owned())
}

fn parse_explicit(rest: &str, bot_name: &str) -> Command {
    let (head, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    // "/play@FraserBot" (Telegram groups): for us unless another bot is named.
    let (name, addressee) = head.split_once('@').unwrap_or((head, ""));
    if !bot_name.is_empty() && !addressee.is_empty() && !addressee.eq_ignore_ascii_case(bot_name) {
        return Command::Unknown;
    }
    let name = name.to_lowercase();
    match name.as_str() {
        "play" | "new" | "game" => {
            let (kind, level, _unknown) = play_args(args);
            Command::Play { kind, level }
        }
        "start" if !args.is_empty() => {
            let (kind, level, _unknown) = play_args(args);
            Command::Play { kind, level }
        }
        // Telegram sends "/start" when someone opens the bot: welcome them.
        "start" | "help" | "h" | "rules" => Command::Help,
        "hint" | "clue" => Command::Hint,
        "skip" | "pass" | "next" | "giveup" => Command::Skip,
        "score" | "scores" | "top" | "leaderboard" => Command::Score,
        "stop" | "end" | "quit" => Command::Stop,
        "ask" | "who" | "what" | "wiki" if !args.is_empty() => Command::Ask(args.to_owned()),
        "guess" | "g" | "answer" | "a" if !args.is_empty() => Command::Guess(args.to_owned()),
        _ => Command::Unknown,
    }
}

fn parse_plain(text: &str) -> Option<Command> {
    let lowered = text.to_lowercase();
    let lowered = lowered.trim_end_matches(['.', '!', '?']);
    let mut words = lowered.split_whitespace();
    let head = words.next()?;
    let rest: Vec<&str> = words.collect();
    let simple = match head {
        "hint" => Some(Command::Hint),
        "skip" => Some(Command::Skip),
        "score" | "scores" => Some(Command::Score),
        "stop" => Some(Command::Stop),
        "help" => Some(Command::Help),
        _ => None,
    };
    if let Some(command) = simple {
        return rest.is_empty().then_some(command);
    }
    if head != "play" {
        return None;
    }
    let (kind, level, unknown) = play_args(&rest.join(" "));
    (!unknown).then_some(Command::Play { kind, level })
}

/// Reads `[guess|blank] [easy|hard]` in any order; tells whether some word
/// was not understood.
fn play_args(args: &str) -> (Option<GameKind>, Option<Level>, bool) {
    let mut kind = None;
    let mut level = None;
    let mut unknown = false;
    for word in args.split_whitespace() {
        match word.to_lowercase().trim_end_matches(['.', '!', '?', ',']) {
            "guess" | "article" | "articles" | "g" => kind = Some(GameKind::Guess),
            "blank" | "blanks" | "fill" | "b" => kind = Some(GameKind::Blank),
            "easy" | "e" | "normal" => level = Some(Level::Easy),
            "hard" | "h" | "difficult" => level = Some(Level::Hard),
            "the" | "a" => {}
            _ => unknown = true,
        }
    }
    (kind, level, unknown)
}

/// The name asked about in "who is X", "what are X", "tell me about X"...
pub(crate) fn ask_query(text: &str) -> Option<String> {
    const PREFIXES: &[&str] = &[
        "tell me about ",
        "who is ",
        "who was ",
        "who are ",
        "who were ",
        "who's ",
        "what is ",
        "what was ",
        "what are ",
        "what were ",
        "what's ",
    ];
    let text = text.trim();
    let normalised = text.replace('\u{2019}', "'");
    for prefix in PREFIXES {
        let n = prefix.len();
        if normalised.len() > n
            && normalised.is_char_boundary(n)
            && normalised[..n].eq_ignore_ascii_case(prefix)
        {
            let query = normalised[n..]
                .trim()
                .trim_end_matches(['?', '.', '!'])
                .trim();
            if query.is_empty() {
                return None;
            }
            return Some(query.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Command) {
        assert_eq!(parse(text, ""), expected, "text {text:?}");
    }

    fn play(kind: Option<GameKind>, level: Option<Level>) -> Command {
        Command::Play { kind, level }
    }

    #[test]
    fn slash_bang_and_bot_names() {
        check("/play", play(None, None));
        check("/play@FraserBot", play(None, None));
        check(
            "/play@FraserBot blank hard",
            play(Some(GameKind::Blank), Some(Level::Hard)),
        );
        check(
            "!play hard guess",
            play(Some(GameKind::Guess), Some(Level::Hard)),
        );
        check("/PLAY", play(None, None));
        check("/hint", Command::Hint);
        check("/hint@FraserBot", Command::Hint);
        check("!skip", Command::Skip);
        check("/score", Command::Score);
        check("/stop", Command::Stop);
        check("/help", Command::Help);
        check("/start", Command::Help);
        check("/start blank", play(Some(GameKind::Blank), None));
        check("/ask Ada Lovelace", Command::Ask("Ada Lovelace".into()));
        check(
            "/guess abraham lincoln",
            Command::Guess("abraham lincoln".into()),
        );
        check("/ask", Command::Unknown);
        check("/weather", Command::Unknown);
    }

    #[test]
    fn commands_for_other_bots_are_not_ours() {
        assert_eq!(parse("/hint@FraserBot", "fraserbot"), Command::Hint);
        assert_eq!(parse("/hint", "FraserBot"), Command::Hint);
        assert_eq!(parse("/hint@OtherBot", "FraserBot"), Command::Unknown);
        assert_eq!(parse("/hint@OtherBot", ""), Command::Hint);
    }

    #[test]
    fn plain_words() {
        check("play", play(None, None));
        check("Play blank", play(Some(GameKind::Blank), None));
        check("play hard", play(None, Some(Level::Hard)));
        check(
            "play blank easy",
            play(Some(GameKind::Blank), Some(Level::Easy)),
        );
        check("hint", Command::Hint);
        check("Hint!", Command::Hint);
        check("skip", Command::Skip);
        check("score", Command::Score);
        check("scores", Command::Score);
        check("stop", Command::Stop);
        check("help", Command::Help);
        check("play that song", Command::Text("play that song".into()));
        check("stop it now", Command::Text("stop it now".into()));
        check("help me", Command::Text("help me".into()));
        check("Abraham Lincoln", Command::Text("Abraham Lincoln".into()));
    }

    #[test]
    fn questions() {
        check("who is Ada Lovelace?", Command::Ask("Ada Lovelace".into()));
        check("Who was Achilles", Command::Ask("Achilles".into()));
        check("what is an albedo?", Command::Ask("an albedo".into()));
        check("What’s anarchism", Command::Ask("anarchism".into()));
        check("tell me about Alabama.", Command::Ask("Alabama".into()));
        check("who is ?", Command::Text("who is ?".into()));
        check("whois", Command::Text("whois".into()));
    }
}
