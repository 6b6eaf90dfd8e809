//! Every command and rule, turn by turn, over a small hand-made corpus.

mod common;

use std::sync::Arc;

use game::{ChatState, Corpus, GameKind, Games, MemoryCorpus, Message, Settings, Step};

const GUESS_TIMEOUT: i64 = 180_000;
const BLANK_TIMEOUT: i64 = 60_000;

fn games() -> Games {
    Games::new(common::small_corpus(), common::small_settings())
}

/// Games over the Abraham Lincoln article alone (every round is Lincoln).
fn lincoln_games() -> Games {
    let view = common::small_corpus().article(1).unwrap().as_ref().clone();
    Games::new(
        Arc::new(MemoryCorpus::new([view])),
        common::small_settings(),
    )
}

fn message(text: &str, who: &str, is_group: bool) -> Message {
    Message {
        sender_id: format!("id-{who}"),
        sender_name: who.to_owned(),
        text: text.to_owned(),
        is_group,
        platform: "telegram".to_owned(),
    }
}

fn direct(text: &str) -> Message {
    message(text, "Ana", false)
}

fn group(text: &str, who: &str) -> Message {
    message(text, who, true)
}

fn texts(step: &Step) -> Vec<&str> {
    step.replies.iter().map(|r| r.text.as_str()).collect()
}

/// Plays `texts` in order (one second apart from `start`), returns the last step.
fn run(games: &Games, state: &ChatState, msgs: &[Message], start: i64) -> Step {
    let mut step = Step {
        state: state.clone(),
        replies: Vec::new(),
        scores: Vec::new(),
    };
    for (i, msg) in msgs.iter().enumerate() {
        step = games.step(&step.state, msg, start + i as i64 * 1000, 99);
    }
    step
}

fn started(games: &Games, text: &str) -> Step {
    let step = games.step(&ChatState::default(), &direct(text), 0, 5);
    assert!(step.state.game.is_some(), "{text}: {:?}", texts(&step));
    step
}

#[test]
fn help_in_every_form() {
    let games = games();
    for text in [
        "/help",
        "help",
        "!help",
        "/help@FraserBot",
        "/start",
        "Help!",
    ] {
        let step = games.step(&ChatState::default(), &direct(text), 0, 0);
        assert_eq!(step.replies.len(), 1, "{text}");
        assert!(
            step.replies[0]
                .text
                .contains("/play blank - fill the blank"),
            "{text}"
        );
        assert!(step.replies[0].text.contains("who is"), "{text}");
        assert_eq!(step.state, ChatState::default());
    }
    // Platforms without slash commands see plain words.
    let msg = Message {
        platform: "whatsapp".to_owned(),
        ..direct("help")
    };
    let help = &games.step(&ChatState::default(), &msg, 0, 0).replies[0].text;
    assert!(
        help.contains("play blank - fill") && !help.contains("/play"),
        "{help}"
    );
}

#[test]
fn play_starts_a_round_with_a_masked_clue_and_buttons() {
    let games = games();
    for text in [
        "/play",
        "play",
        "!play",
        "/play@FraserBot",
        "PLAY",
        "/play guess easy",
    ] {
        let step = started(&games, text);
        let round = step.state.round().unwrap();
        assert_eq!(step.replies.len(), 1);
        let reply = &step.replies[0];
        assert!(
            reply.text.starts_with(
                "Round 1: guess the article (easy, 10 points).\nWhich article is this?\n"
            ),
            "{}",
            reply.text
        );
        assert!(reply.text.ends_with(&round.clues[0]));
        let commands: Vec<&str> = reply.buttons.iter().map(|b| b.command.as_str()).collect();
        assert_eq!(commands, ["/hint", "/skip"]);
        assert!(round.clues.len() >= 2);
        assert_eq!(round.shown, 1);
        let game = step.state.game.as_ref().unwrap();
        assert_eq!(
            (game.kind, game.rounds, game.unanswered),
            (GameKind::Guess, 1, 0)
        );
        // Easy: one of the well-linked articles.
        assert!([1, 3, 4].contains(&round.source_id), "{}", round.title);
        for clue in &round.clues {
            for word in round.answer.split_whitespace() {
                assert!(
                    !clue.to_lowercase().contains(&word.to_lowercase()),
                    "{clue}"
                );
            }
        }
    }
    // Hard: the less linked one.
    let step = started(&games, "/play hard");
    assert_eq!(
        step.state.round().unwrap().title,
        "Emancipation Proclamation"
    );
    assert!(
        step.replies[0]
            .text
            .starts_with("Round 1: guess the article (hard, 15 points).")
    );
}

#[test]
fn lincoln_clues_go_from_deep_to_the_lead() {
    let step = started(&lincoln_games(), "/play");
    let clues = &step.state.round().unwrap().clues;
    assert_eq!(
        clues.last().unwrap(),
        "___ ___ was an American lawyer and statesman who served as the 16th president of the United States."
    );
    assert_eq!(clues.len(), 6);
    // The first clue comes from the last section, and mentions the subject.
    assert_eq!(
        clues[0],
        "John Wilkes Booth shot ___ at Ford's Theatre in Washington on April 14, 1865."
    );
    assert!(
        clues.iter().any(
            |c| c == "___ was born in a one-room log cabin on Sinking Spring Farm in Kentucky."
        )
    );
}

#[test]
fn play_during_a_round_repeats_the_clues_and_play_other_switches() {
    let games = games();
    let step = started(&games, "/play");
    let again = games.step(&step.state, &direct("/play"), 1000, 6);
    assert_eq!(again.replies.len(), 1);
    assert!(
        again.replies[0]
            .text
            .starts_with("A round is on. The clues so far:\n")
    );
    assert_eq!(
        again.state.round().unwrap().clues,
        step.state.round().unwrap().clues
    );
    assert_eq!(again.state.round().unwrap().last_ms, 1000);

    let answer = step.state.round().unwrap().answer.clone();
    let switched = games.step(&step.state, &direct("/play blank"), 1000, 6);
    let replies = texts(&switched);
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(replies[0].starts_with(&format!("It was {answer}.")));
    assert!(
        replies[1].starts_with("Round 1: fill the blank (easy, 5 points)."),
        "{}",
        replies[1]
    );
    assert_eq!(switched.state.game.as_ref().unwrap().kind, GameKind::Blank);
}

#[test]
fn hints_reveal_sentences_then_letters_and_lower_the_prize() {
    let games = lincoln_games();
    let mut state = started(&games, "/play").state;
    let mut got = Vec::new();
    for i in 0..12 {
        let step = games.step(&state, &direct("hint"), 1000 + i, 0);
        got.push(step.replies[0].text.clone());
        state = step.state;
    }
    assert!(
        got[0].starts_with("Another clue (8 points now):\n"),
        "{}",
        got[0]
    );
    assert_eq!(got[1], "The answer: A______ L______ (7, 7) (6 points now)");
    assert!(got[2].starts_with("Another clue (4 points now):\n"));
    assert_eq!(got[3], "The answer: Abraham L______ (7, 7) (2 points now)");
    assert!(got[4].starts_with("Another clue (2 points now):\n"));
    assert!(
        got.iter()
            .any(|t| t == "No more hints. Say /skip to see the answer."),
        "{got:#?}"
    );
    // Every clue was shown once.
    let round = state.round().unwrap();
    assert_eq!(round.shown as usize, round.clues.len());
    // The prize never drops below the minimum.
    let win = games.step(&state, &direct("Abraham Lincoln"), 20_000, 0);
    assert_eq!(win.scores, [("id-Ana".to_owned(), 2)]);
}

#[test]
fn hint_skip_and_stop_need_a_game() {
    let games = games();
    for text in ["/hint", "/skip", "/stop", "/guess lincoln"] {
        let step = games.step(&ChatState::default(), &group(text, "Ana"), 0, 0);
        assert_eq!(
            texts(&step),
            ["No game is running. Say /play to start one."],
            "{text}"
        );
        assert_eq!(step.replies[0].buttons[0].command, "/play guess easy");
    }
}

#[test]
fn skip_reveals_the_answer_and_starts_the_next_round() {
    let games = games();
    let step = started(&games, "/play");
    let round = step.state.round().unwrap().clone();
    let skipped = games.step(&step.state, &direct("skip"), 1000, 0);
    let replies = texts(&skipped);
    assert_eq!(
        replies[0],
        format!("It was {}.\n{}", round.answer, games_url(&round.title))
    );
    assert!(replies[1].starts_with("Round 2: guess the article"));
    let next = skipped.state.round().unwrap();
    assert_ne!(
        next.source_id, round.source_id,
        "the chat does not see the same article again"
    );
    assert!(skipped.scores.is_empty());
    assert_eq!(skipped.state.game.as_ref().unwrap().unanswered, 0);
}

/// Lincoln (easy) and the Emancipation Proclamation (hard) only.
fn lincoln_and_proclamation() -> Games {
    let corpus = common::small_corpus();
    let views = [1, 2].map(|id| corpus.article(id).unwrap().as_ref().clone());
    Games::new(Arc::new(MemoryCorpus::new(views)), common::small_settings())
}

fn games_url(title: &str) -> String {
    common::small_corpus().url(title)
}

#[test]
fn stop_ends_the_game_and_shows_scores() {
    let games = lincoln_games();
    let step = run(
        &games,
        &ChatState::default(),
        &[direct("/play"), direct("abraham lincoln"), direct("/stop")],
        0,
    );
    let replies = texts(&step);
    assert_eq!(
        replies[0],
        "Game over. It was Abraham Lincoln.\nhttps://en.wikipedia.org/wiki/Abraham_Lincoln"
    );
    assert_eq!(replies[1], "Scores:\n1. Ana 10 (1 win)");
    assert_eq!(step.replies[0].buttons[0].command, "/play guess easy");
    assert!(step.state.game.is_none());
    assert_eq!(step.state.scores.len(), 1);
    let again = games.step(&step.state, &direct("stop"), 10_000, 0);
    assert_eq!(
        texts(&again),
        ["No game is running. Say /play to start one."]
    );
}

#[test]
fn correct_answers_score_and_the_game_goes_on() {
    let games = lincoln_games();
    let state = started(&games, "/play").state;
    for guess in [
        "Abraham Lincoln",
        "abraham lincoln",
        "ABRAHAM LINCOLN!",
        "Abrahm Lincoln",
        "Abraham Lincon",
        "Lincoln, Abraham",
        "honest abe",
        "Abe Lincoln",
        "President Lincoln",
        "is it abraham lincoln?",
        "who is abraham lincoln",
        "/guess abraham lincoln",
    ] {
        for is_group in [false, true] {
            let step = games.step(&state, &message(guess, "Ana", is_group), 2000, 0);
            assert_eq!(step.scores, [("id-Ana".to_owned(), 10)], "{guess}");
            let replies = texts(&step);
            assert_eq!(
                replies[0],
                "Ana got it: Abraham Lincoln! +10 points (total 10).\nhttps://en.wikipedia.org/wiki/Abraham_Lincoln",
                "{guess}"
            );
            assert!(replies[1].starts_with("Round 2: "), "{guess}");
            assert_eq!(step.state.scores[0].points, 10);
            assert_eq!(step.state.scores[0].wins, 1);
        }
    }
}

#[test]
fn near_misses_are_close_and_shared_words_are_not_answers() {
    let games = lincoln_games();
    let state = started(&games, "/play").state;
    for guess in [
        "Lincoln",
        "abraham",
        "Abrhm Lincn",
        "Abraham Lincoln memorial statue",
    ] {
        for is_group in [false, true] {
            let step = games.step(&state, &message(guess, "Ana", is_group), 2000, 0);
            assert_eq!(texts(&step), ["Close!"], "{guess}");
            assert!(step.scores.is_empty());
        }
    }
    for guess in ["Lincoln Nebraska", "Abraham Maslow"] {
        let step = games.step(&state, &group(guess, "Ana"), 2000, 0);
        assert!(step.replies.is_empty(), "{guess}: {:?}", texts(&step));
        assert!(step.scores.is_empty());
    }
}

#[test]
fn wrong_guesses_are_chat_in_groups_and_a_short_no_in_direct_chats() {
    let games = lincoln_games();
    let state = started(&games, "/play").state;
    let step = games.step(
        &state,
        &group("haha no idea, maybe some general?", "Bo"),
        2000,
        0,
    );
    assert!(step.replies.is_empty());
    assert!(
        step.state.round().unwrap().last_ms == 2000,
        "chat counts as activity"
    );
    let step = games.step(&state, &direct("Ulysses S. Grant"), 2000, 0);
    let replies = texts(&step);
    assert_eq!(replies.len(), 1);
    assert!(
        ["No.", "Nope, try again.", "Not it."].contains(&replies[0]),
        "{replies:?}"
    );
    // An explicit /guess in a group gets its "no".
    let step = games.step(&state, &group("/guess Ulysses S. Grant", "Bo"), 2000, 0);
    assert_eq!(step.replies.len(), 1);
}

#[test]
fn in_a_group_the_first_correct_answer_wins() {
    // Two easy articles with different answers.
    let corpus = common::small_corpus();
    let views = [1, 3].map(|id| corpus.article(id).unwrap().as_ref().clone());
    let games = Games::new(Arc::new(MemoryCorpus::new(views)), common::small_settings());
    let state = games
        .step(&ChatState::default(), &group("/play", "Ana"), 0, 5)
        .state;
    let first = state.round().unwrap().clone();
    let bo = games.step(&state, &group(&first.answer, "Bo"), 1000, 0);
    assert_eq!(bo.scores, [("id-Bo".to_owned(), 10)]);
    let second = bo.state.round().unwrap().clone();
    assert_ne!(second.source_id, first.source_id);
    // Ana's answer to the old round comes too late: it is not the new answer.
    let ana = games.step(&bo.state, &group(&first.answer, "Ana"), 1500, 0);
    assert!(ana.scores.is_empty());
    assert_eq!(ana.state.game.as_ref().unwrap().rounds, 2);
}

#[test]
fn the_scoreboard_adds_up_across_rounds() {
    let games = lincoln_games();
    let mut state = games
        .step(&ChatState::default(), &group("/play", "Ana"), 0, 1)
        .state;
    let score = games.step(&state, &group("/score", "Ana"), 500, 0);
    assert_eq!(texts(&score), ["No points yet. Say /play to start."]);
    for (i, who) in ["Bo", "Ana", "Bo"].iter().enumerate() {
        state = games
            .step(&state, &group("abraham lincoln", who), 1000 + i as i64, 0)
            .state;
    }
    state = games.step(&state, &group("/hint", "Ana"), 5000, 0).state;
    let ana = games.step(&state, &group("abraham lincoln", "Ana"), 6000, 0);
    assert_eq!(ana.scores, [("id-Ana".to_owned(), 8)]);
    for text in ["/score", "score", "/scores@FraserBot", "!top"] {
        let step = games.step(&ana.state, &group(text, "Cy"), 7000, 0);
        assert_eq!(
            texts(&step),
            ["Scores:\n1. Bo 20 (2 wins)\n2. Ana 18 (2 wins)"],
            "{text}"
        );
    }
}

#[test]
fn a_silent_round_times_out_when_the_next_message_arrives() {
    let games = games();
    let state = games
        .step(&ChatState::default(), &group("/play", "Ana"), 0, 5)
        .state;
    let answer = state.round().unwrap().answer.clone();
    // Chat keeps the round alive: silence is measured from the last message.
    let state = games
        .step(&state, &group("hmm", "Bo"), GUESS_TIMEOUT - 1, 0)
        .state;
    let step = games.step(
        &state,
        &group("what could it be", "Bo"),
        2 * GUESS_TIMEOUT - 2,
        0,
    );
    assert!(step.replies.is_empty());
    // Then silence.
    let late = games.step(&step.state, &group("/hint", "Bo"), 3 * GUESS_TIMEOUT, 0);
    let replies = texts(&late);
    assert!(
        replies[0].starts_with(&format!("Time's up! It was {answer}.\n")),
        "{replies:?}"
    );
    assert!(replies[1].starts_with("Round 2: "));
    assert!(
        replies[2].starts_with("Another clue"),
        "the message applies to the new round"
    );
    assert_eq!(late.state.game.as_ref().unwrap().unanswered, 1);
}

#[test]
fn tick_times_out_idle_rounds_and_stops_after_unanswered_rounds() {
    let games = games();
    let mut state = games
        .step(&ChatState::default(), &group("/play", "Ana"), 0, 5)
        .state;
    assert_eq!(games.deadline(&state), Some(GUESS_TIMEOUT));
    // Nothing due yet: nothing changes.
    let early = games.tick(&state, GUESS_TIMEOUT - 1);
    assert!(early.replies.is_empty());
    assert_eq!(early.state, state);
    let mut now = 0;
    for n in 1..=3 {
        now = games.deadline(&state).unwrap();
        let step = games.tick(&state, now);
        let replies = texts(&step);
        assert!(replies[0].starts_with("Time's up! It was "), "{replies:?}");
        if n < 3 {
            assert!(
                replies[1].starts_with(&format!("Round {}: ", n + 1)),
                "{replies:?}"
            );
            assert_eq!(step.state.game.as_ref().unwrap().unanswered, n);
        } else {
            assert_eq!(
                replies[1],
                "Nobody is playing, so I stopped. Say /play to start again."
            );
            assert!(step.state.game.is_none());
            assert_eq!(games.deadline(&step.state), None);
        }
        state = step.state;
    }
    // Nothing more to time out.
    assert!(
        games
            .tick(&state, now + 10 * GUESS_TIMEOUT)
            .replies
            .is_empty()
    );
}

#[test]
fn tick_writes_commands_the_way_the_platform_does() {
    let games = games();
    let msg = Message {
        platform: "whatsapp".to_owned(),
        ..group("play", "Ana")
    };
    let mut state = games.step(&ChatState::default(), &msg, 0, 5).state;
    let mut last = Vec::new();
    for _ in 0..3 {
        let step = games.tick(&state, games.deadline(&state).unwrap());
        last = step.replies.iter().map(|r| r.text.clone()).collect();
        state = step.state;
    }
    assert_eq!(
        last[1],
        "Nobody is playing, so I stopped. Say play to start again."
    );
}

#[test]
fn commands_for_another_bot_are_ignored_when_the_bot_knows_its_name() {
    let settings = Settings {
        bot_name: "FraserBot".to_owned(),
        ..common::small_settings()
    };
    let games = Games::new(common::small_corpus(), settings);
    assert!(
        games
            .step(&ChatState::default(), &group("/play@OtherBot", "Ana"), 0, 0)
            .replies
            .is_empty()
    );
    let step = games.step(
        &ChatState::default(),
        &group("/play@FraserBot", "Ana"),
        0,
        0,
    );
    assert!(step.state.game.is_some());
}

#[test]
fn a_win_resets_the_unanswered_count() {
    let games = lincoln_games();
    let state = games
        .step(&ChatState::default(), &group("/play", "Ana"), 0, 5)
        .state;
    let state = games.tick(&state, GUESS_TIMEOUT).state;
    let state = games.tick(&state, 2 * GUESS_TIMEOUT).state;
    assert_eq!(state.game.as_ref().unwrap().unanswered, 2);
    let state = games
        .step(
            &state,
            &group("Abraham Lincoln", "Bo"),
            2 * GUESS_TIMEOUT + 5,
            0,
        )
        .state;
    assert_eq!(state.game.as_ref().unwrap().unanswered, 0);
}

#[test]
fn a_long_silence_stops_the_game_at_once() {
    let games = games();
    let state = games
        .step(&ChatState::default(), &group("/play", "Ana"), 0, 5)
        .state;
    let step = games.step(&state, &group("good morning", "Bo"), 50 * GUESS_TIMEOUT, 0);
    let replies = texts(&step);
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(replies[0].starts_with("Time's up!"));
    assert!(replies[1].starts_with("Nobody is playing"));
    assert!(step.state.game.is_none());
}

#[test]
fn fill_the_blank_rounds() {
    // Easy blanks come from the best-linked third of an article's link
    // targets; in Lincoln's article that is the Emancipation Proclamation
    // (the only target in the corpus) and one more: find a seed for it.
    let games = lincoln_and_proclamation();
    let step = (0..40)
        .map(|seed| games.step(&ChatState::default(), &direct("/play blank"), 0, seed))
        .find(|step| step.state.round().is_some_and(|r| r.answer_id == Some(2)))
        .expect("a seed blanks the Emancipation Proclamation");
    let round = step.state.round().unwrap().clone();
    assert_eq!(
        step.replies[0].text,
        format!(
            "Round 1: fill the blank (easy, 5 points).\nWhat goes in the blank? (from Abraham Lincoln)\n{}",
            round.clues[0]
        )
    );
    assert_eq!(round.answer, "Emancipation Proclamation");
    assert_eq!(
        round.clues[0],
        "In 1863 the president issued the ___ ___, which declared the slaves in the rebel states free."
    );
    // Its second clue is the target's definition, masked.
    assert_eq!(
        round.clues[1],
        "The ___ ___ was a presidential ___ and executive order issued by Abraham Lincoln."
    );
    for guess in [
        "Emancipation Proclamation",
        "emancipation proclamation",
        "Proclamation 95",
        "Emancipation Proclamaton",
    ] {
        let win = games.step(&step.state, &direct(guess), 1000, 0);
        assert_eq!(win.scores, [("id-Ana".to_owned(), 5)], "{guess}");
    }
    // Hints: letters first, then the definition.
    let hint = games.step(&step.state, &direct("/hint"), 1000, 0);
    assert_eq!(
        texts(&hint),
        ["The answer: E___________ P___________ (12, 12) (3 points now)"]
    );
    let hint = games.step(&hint.state, &direct("/hint"), 1000, 0);
    assert!(texts(&hint)[0].ends_with(&round.clues[1]));
    // Quick rounds: the blank timeout is shorter.
    assert_eq!(games.deadline(&step.state), Some(BLANK_TIMEOUT));
}

#[test]
fn blanks_of_targets_outside_the_corpus_accept_the_anchor_and_target() {
    use game::{ArticleView, SentenceView};
    let text =
        "The town was founded by Portuguese settlers on the banks of the river in the year 1576.";
    let start = text.find("Portuguese").unwrap() as u32;
    let view = ArticleView {
        id: 9,
        title: "Luanda".to_owned(),
        inlinks: 5,
        sentences: vec![
            SentenceView {
                text: text.to_owned(),
                section: "History".to_owned(),
                links: vec![(start, start + 10, "Portugal".to_owned())],
            };
            3
        ],
        ..ArticleView::default()
    };
    let settings = Settings {
        min_sentences: 1,
        ..common::small_settings()
    };
    let games = Games::new(Arc::new(MemoryCorpus::new([view])), settings);
    let step = started(&games, "/play blank");
    let round = step.state.round().unwrap();
    assert_eq!(
        (round.answer.as_str(), round.title.as_str(), round.answer_id),
        ("Portuguese", "Portugal", None)
    );
    assert_eq!(
        round.clues,
        ["The town was founded by ___ settlers on the banks of the river in the year 1576."]
    );
    for guess in ["portuguese", "Portugal", "Portugese"] {
        assert!(
            !games
                .step(&step.state, &direct(guess), 10, 0)
                .scores
                .is_empty(),
            "{guess}"
        );
    }
}

#[test]
fn ask_answers_with_the_lead_or_offers_candidates() {
    let games = games();
    for text in [
        "who is honest abe?",
        "Who was Abraham Lincoln",
        "tell me about Abe Lincoln",
        "/ask abraham lincoln",
        "abraham lincoln",
    ] {
        let step = games.step(&ChatState::default(), &direct(text), 0, 0);
        assert_eq!(
            texts(&step),
            [
                "Abraham Lincoln: Abraham Lincoln was an American lawyer and statesman who served as the 16th president of the United States. \
              Lincoln led the nation through the American Civil War and abolished slavery.\nhttps://en.wikipedia.org/wiki/Abraham_Lincoln"
            ],
            "{text}"
        );
    }
    // Ambiguous: both Mercury articles, as buttons.
    let step = games.step(&ChatState::default(), &direct("what is mercury?"), 0, 0);
    assert_eq!(
        texts(&step),
        ["\"mercury\" could be several things. Which one?"]
    );
    let commands: Vec<&str> = step.replies[0]
        .buttons
        .iter()
        .map(|b| b.command.as_str())
        .collect();
    assert_eq!(
        commands,
        ["/ask Mercury (planet)", "/ask Mercury (element)"]
    );
    let step = games.step(&ChatState::default(), &direct(commands[1]), 0, 0);
    assert!(texts(&step)[0].starts_with("Mercury (element): Mercury is a chemical element"));
    // Unknown names.
    let step = games.step(&ChatState::default(), &direct("who is Zxqwv Blorp?"), 0, 0);
    assert_eq!(
        texts(&step),
        ["I don't know \"Zxqwv Blorp\". Say /play for a game or /help for help."]
    );
    let step = games.step(&ChatState::default(), &direct("zxqwv"), 0, 0);
    assert_eq!(step.replies.len(), 1);
    // In a group, a question nobody can answer and plain chat stay silent.
    assert!(
        games
            .step(
                &ChatState::default(),
                &group("who is Zxqwv Blorp?", "Bo"),
                0,
                0
            )
            .replies
            .is_empty()
    );
    assert!(
        games
            .step(&ChatState::default(), &group("abraham lincoln", "Bo"), 0, 0)
            .replies
            .is_empty()
    );
    // But a question with an answer is answered.
    assert_eq!(
        games
            .step(
                &ChatState::default(),
                &group("who is abe lincoln", "Bo"),
                0,
                0
            )
            .replies
            .len(),
        1
    );
}

#[test]
fn no_peeking_at_the_answer_during_a_round() {
    let games = lincoln_games();
    let state = started(&games, "/play").state;
    let step = games.step(&state, &direct("/ask Honest Abe"), 10, 0);
    assert_eq!(texts(&step), ["Nice try! Ask me again after the round."]);
    assert!(step.scores.is_empty());
    // As a question in plain words it is a guess first, and a right one.
    let step = games.step(&state, &group("who is Honest Abe?", "Bo"), 10, 0);
    assert_eq!(step.scores.len(), 1);
}

#[test]
fn unknown_commands_are_ignored_in_groups_and_get_help_in_direct_chats() {
    let games = games();
    assert!(
        games
            .step(&ChatState::default(), &group("/weather", "Bo"), 0, 0)
            .replies
            .is_empty()
    );
    let step = games.step(&ChatState::default(), &direct("/weather"), 0, 0);
    assert!(step.replies[0].text.starts_with("Wikipedia word games."));
}

#[test]
fn state_round_trips_through_json_and_stays_small() {
    let games = lincoln_games();
    let msgs = [
        group("/play", "Ana"),
        group("/hint", "Bo"),
        group("/hint", "Bo"),
        group("abraham lincoln", "Bo"),
        group("/hint", "Ana"),
    ];
    let mut state = ChatState::default();
    for (i, msg) in msgs.iter().enumerate() {
        state = games.step(&state, msg, i as i64 * 1000, 3).state;
        let json = serde_json::to_string(&state).unwrap();
        let back: ChatState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
        assert!(json.starts_with(r#"{"v":1,"#), "{json}");
        assert!(json.len() < 3000, "{} bytes: {json}", json.len());
    }
    // A state stored by an older version (no version, missing fields) reads and plays.
    let old: ChatState =
        serde_json::from_str(r#"{"scores":[{"id":"id-Bo","name":"Bo","points":4,"wins":1}]}"#)
            .unwrap();
    let step = games.step(&old, &group("/score", "Bo"), 0, 0);
    assert_eq!(texts(&step), ["Scores:\n1. Bo 4 (1 win)"]);
    assert_eq!(step.state.v, game::STATE_VERSION);
}

#[test]
fn scoreboards_are_bounded() {
    let settings = Settings {
        max_players: 3,
        ..common::small_settings()
    };
    let view = common::small_corpus().article(1).unwrap().as_ref().clone();
    let games = Games::new(Arc::new(MemoryCorpus::new([view])), settings);
    let mut state = games
        .step(&ChatState::default(), &group("/play", "Ana"), 0, 5)
        .state;
    for i in 0..6 {
        state = games
            .step(
                &state,
                &group("abraham lincoln", &format!("P{i}")),
                i + 1,
                0,
            )
            .state;
    }
    assert_eq!(state.scores.len(), 3);
}
