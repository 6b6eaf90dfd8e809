//! `step` and `tick` never panic, whatever the text and whatever state
//! storage hands back (any values a `ChatState` can be deserialised with).

mod common;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use game::{ChatState, GameKind, GameState, Games, Hint, Level, Message, PlayerScore, Round};

/// Article ids that exist in the corpus, mixed with any id.
fn article_id() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..6, any::<u64>()]
}

/// Times near the ones games use, and extremes.
fn time() -> impl Strategy<Value = i64> {
    prop_oneof![
        0i64..1_000_000,
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX)
    ]
}

fn hint() -> impl Strategy<Value = Hint> {
    prop_oneof![Just(Hint::Sentence), Just(Hint::Letters), Just(Hint::Word)]
}

fn round() -> impl Strategy<Value = Round> {
    (
        (
            option::of(article_id()),
            article_id(),
            "\\PC{0,24}",
            "\\PC{0,24}",
            "\\PC{0,12}",
        ),
        (
            vec("\\PC{0,60}", 0..5),
            prop_oneof![0u32..8, any::<u32>()],
            vec(hint(), 0..12),
            time(),
            time(),
        ),
    )
        .prop_map(
            |(
                (answer_id, source_id, title, answer, context),
                (clues, shown, hints, started_ms, last_ms),
            )| Round {
                answer_id,
                source_id,
                title,
                answer,
                context,
                clues,
                shown,
                hints,
                started_ms,
                last_ms,
            },
        )
}

fn game_state() -> impl Strategy<Value = GameState> {
    (
        prop_oneof![Just(GameKind::Guess), Just(GameKind::Blank)],
        prop_oneof![Just(Level::Easy), Just(Level::Hard)],
        (
            any::<u64>(),
            any::<u32>(),
            prop_oneof![0u32..5, any::<u32>()],
            any::<bool>(),
        ),
        round(),
    )
        .prop_map(
            |(kind, level, (seed, rounds, unanswered, plain_commands), round)| GameState {
                kind,
                level,
                seed,
                rounds,
                unanswered,
                plain_commands,
                round,
            },
        )
}

fn player() -> impl Strategy<Value = PlayerScore> {
    (
        "\\PC{0,6}",
        "\\PC{0,6}",
        prop_oneof![-100i64..100, any::<i64>()],
        any::<u32>(),
    )
        .prop_map(|(id, name, points, wins)| PlayerScore {
            id,
            name,
            points,
            wins,
        })
}

fn chat_state() -> impl Strategy<Value = ChatState> {
    (
        any::<u32>(),
        option::of(game_state()),
        vec(player(), 0..6),
        vec(article_id(), 0..12),
    )
        .prop_map(|(v, game, scores, recent)| ChatState {
            v,
            game,
            scores,
            recent,
        })
}

/// Any text, and texts that look like commands, questions and answers.
fn text() -> impl Strategy<Value = String> {
    let words = prop_oneof![
        Just("play"),
        Just("hint"),
        Just("skip"),
        Just("score"),
        Just("stop"),
        Just("help"),
        Just("guess"),
        Just("ask"),
        Just("start"),
        Just("blank"),
        Just("hard"),
        Just("who is"),
        Just("Abraham Lincoln"),
        Just("Mercury"),
        Just("Emancipation Proclamation"),
        Just("(")
    ];
    prop_oneof![
        "\\PC*",
        ".*",
        (
            prop_oneof![Just(""), Just("/"), Just("!")],
            vec(words, 0..4),
            "\\PC{0,12}"
        )
            .prop_map(|(prefix, words, tail)| format!("{prefix}{} {tail}", words.join(" "))),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        text(),
        any::<bool>(),
        prop_oneof![Just("telegram"), Just("whatsapp"), Just("")],
        "\\PC{0,5}",
    )
        .prop_map(|(text, is_group, platform, sender)| Message {
            sender_id: sender.clone(),
            sender_name: sender,
            text,
            is_group,
            platform: platform.to_owned(),
        })
}

fn check(
    games: &Games,
    state: ChatState,
    msgs: Vec<Message>,
    now: i64,
    seed: u64,
) -> Result<(), TestCaseError> {
    // The state goes through storage first.
    let json = serde_json::to_string(&state).unwrap();
    let mut state: ChatState = serde_json::from_str(&json).unwrap();
    for (i, msg) in msgs.iter().enumerate() {
        let step = games.step(&state, msg, now.saturating_add(i as i64 * 1000), seed);
        // Whatever comes out stores and reads back.
        let json = serde_json::to_string(&step.state).unwrap();
        let back: ChatState = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &step.state);
        prop_assert_eq!(step.state.v, game::STATE_VERSION);
        state = step.state;
    }
    let tick = games.tick(&state, now.saturating_add(10_000_000));
    let _ = games.deadline(&tick.state);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn step_never_panics_on_the_small_corpus(
        state in chat_state(),
        msgs in vec(message(), 1..4),
        now in time(),
        seed in any::<u64>(),
    ) {
        let games = Games::new(common::small_corpus(), common::small_settings());
        check(&games, state, msgs, now, seed)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn step_never_panics_on_the_real_sample(
        state in chat_state(),
        msgs in vec(message(), 1..3),
        now in time(),
        seed in any::<u64>(),
    ) {
        let settings = game::Settings {
            easy: game::InlinkRange { min: 1, max: None },
            hard: game::InlinkRange { min: 0, max: Some(0) },
            ..game::Settings::default()
        };
        let games = Games::new(common::sample_corpus(), settings);
        check(&games, state, msgs, now, seed)?;
    }

    #[test]
    fn any_json_object_of_the_right_shape_reads_and_plays(
        v in any::<i64>(),
        rounds in any::<i64>(),
        shown in any::<i64>(),
        last_ms in any::<i64>(),
        points in any::<i64>(),
        text in text(),
    ) {
        // Fields out of range for their type make deserialising fail, which
        // the server handles; whatever deserialises must play.
        let json = format!(
            r#"{{"v":{v},"game":{{"kind":"blank","rounds":{rounds},"round":{{"shown":{shown},"last_ms":{last_ms},"clues":["a"]}}}},"scores":[{{"id":"x","points":{points}}}]}}"#
        );
        if let Ok(state) = serde_json::from_str::<ChatState>(&json) {
            let games = Games::new(common::small_corpus(), common::small_settings());
            let msg = Message { text, is_group: true, ..Message::default() };
            let _ = games.step(&state, &msg, 0, 0);
        }
    }
}
