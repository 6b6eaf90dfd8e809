//! Sentence boundary cases in the style of the Golden Rules of
//! Pragmatic Segmenter / pySBD, adapted to encyclopedic text.

use proptest::prelude::*;

use super::*;

fn sentences<'t>(splitter: &SentenceSplitter, text: &'t str) -> Vec<&'t str> {
    splitter.split(text).into_iter().map(|r| &text[r]).collect()
}

fn check(text: &str, expected: &[&str]) {
    let splitter = SentenceSplitter::new(Language::English);
    assert_eq!(sentences(&splitter, text), expected, "text {text:?}");
}

/// Cases the rules were written against; every one must pass.
const CASES: &[(&str, &[&str])] = &[
    // Plain terminators.
    (
        "Hello World. My name is Jonas.",
        &["Hello World.", "My name is Jonas."],
    ),
    (
        "What is your name? My name is Jonas.",
        &["What is your name?", "My name is Jonas."],
    ),
    ("There it is! I found it.", &["There it is!", "I found it."]),
    (
        "Hello!! Long time no see.",
        &["Hello!!", "Long time no see."],
    ),
    ("Hello?? Who is there?", &["Hello??", "Who is there?"]),
    ("Hello!? Is that you?", &["Hello!?", "Is that you?"]),
    ("Hello?! Is that you?", &["Hello?!", "Is that you?"]),
    // Initials and titles.
    (
        "My name is Jonas E. Smith.",
        &["My name is Jonas E. Smith."],
    ),
    (
        "J. R. R. Tolkien wrote The Hobbit.",
        &["J. R. R. Tolkien wrote The Hobbit."],
    ),
    (
        "George W. Bush was elected in 2000.",
        &["George W. Bush was elected in 2000."],
    ),
    (
        "A. A. Milne wrote it. It was a success.",
        &["A. A. Milne wrote it.", "It was a success."],
    ),
    (
        "We make a good team, you and I. Did you see Albert I. Jones yesterday?",
        &[
            "We make a good team, you and I.",
            "Did you see Albert I. Jones yesterday?",
        ],
    ),
    (
        "Mr. Smith met Dr. Jones at St. Paul's.",
        &["Mr. Smith met Dr. Jones at St. Paul's."],
    ),
    (
        "I can see Mt. Fuji from here.",
        &["I can see Mt. Fuji from here."],
    ),
    (
        "St. Michael's Church is on 5th st. near the light.",
        &["St. Michael's Church is on 5th st. near the light."],
    ),
    (
        "Prof. Langdon and Gen. Patton arrived.",
        &["Prof. Langdon and Gen. Patton arrived."],
    ),
    ("That is JFK Jr.'s book.", &["That is JFK Jr.'s book."]),
    (
        "It was World War I. The war ended in 1918.",
        &["It was World War I.", "The war ended in 1918."],
    ),
    // Abbreviations that may end a sentence.
    (
        "Were Jane and co. at the party?",
        &["Were Jane and co. at the party?"],
    ),
    (
        "They closed the deal with Pitt, Briggs & Co. at noon.",
        &["They closed the deal with Pitt, Briggs & Co. at noon."],
    ),
    (
        "Let's ask Jane and co. They should know.",
        &["Let's ask Jane and co.", "They should know."],
    ),
    (
        "They closed the deal with Pitt, Briggs & Co. It closed yesterday.",
        &[
            "They closed the deal with Pitt, Briggs & Co.",
            "It closed yesterday.",
        ],
    ),
    (
        "I visited the U.S.A. last year.",
        &["I visited the U.S.A. last year."],
    ),
    (
        "I live in the E.U. How about you?",
        &["I live in the E.U.", "How about you?"],
    ),
    (
        "I live in the U.S. How about you?",
        &["I live in the U.S.", "How about you?"],
    ),
    (
        "I work for the U.S. Government in Virginia.",
        &["I work for the U.S. Government in Virginia."],
    ),
    (
        "I have lived in the U.S. for 20 years.",
        &["I have lived in the U.S. for 20 years."],
    ),
    (
        "He sold apples, pears, etc. The rest was lost.",
        &["He sold apples, pears, etc.", "The rest was lost."],
    ),
    (
        "Apples, pears, etc. were sold.",
        &["Apples, pears, etc. were sold."],
    ),
    (
        "It was founded by Apple Inc. in 1976.",
        &["It was founded by Apple Inc. in 1976."],
    ),
    (
        "It joined Apple Inc. However, it left.",
        &["It joined Apple Inc.", "However, it left."],
    ),
    (
        "The study by Smith et al. The results were clear.",
        &["The study by Smith et al.", "The results were clear."],
    ),
    (
        "Smith et al. (2005) found it.",
        &["Smith et al. (2005) found it."],
    ),
    (
        "At 5 a.m. Mr. Smith went to the bank.",
        &["At 5 a.m. Mr. Smith went to the bank."],
    ),
    // Abbreviations that never end a sentence.
    (
        "Many fruits, e.g. Apples, are red.",
        &["Many fruits, e.g. Apples, are red."],
    ),
    (
        "Some birds, i.e. Penguins, cannot fly.",
        &["Some birds, i.e. Penguins, cannot fly."],
    ),
    (
        "It was Roe vs. Wade that decided it.",
        &["It was Roe vs. Wade that decided it."],
    ),
    (
        "See cf. Smith for details.",
        &["See cf. Smith for details."],
    ),
    (
        "The city had approx. 5,000 people.",
        &["The city had approx. 5,000 people."],
    ),
    (
        "The house was built c. 1850 by Jones.",
        &["The house was built c. 1850 by Jones."],
    ),
    // Numbers.
    ("Please turn to p. 55.", &["Please turn to p. 55."]),
    (
        "She has $100.00 in her bag.",
        &["She has $100.00 in her bag."],
    ),
    (
        "She has $100.00. It is in her bag.",
        &["She has $100.00.", "It is in her bag."],
    ),
    (
        "Pi is about 3.14 and e is 2.72.",
        &["Pi is about 3.14 and e is 2.72."],
    ),
    (
        "It sold 1.5 million copies.",
        &["It sold 1.5 million copies."],
    ),
    (
        "No. 5 Squadron was formed in 1915.",
        &["No. 5 Squadron was formed in 1915."],
    ),
    ("See Fig. 3 for the map.", &["See Fig. 3 for the map."]),
    (
        "He was born on Jan. 5, 1900 in Ohio.",
        &["He was born on Jan. 5, 1900 in Ohio."],
    ),
    (
        "The answer was no. It never changed.",
        &["The answer was no.", "It never changed."],
    ),
    (
        "He was born in 1809. He died in 1865.",
        &["He was born in 1809.", "He died in 1865."],
    ),
    (
        "You can find it at N°. 1026.253.553. That is where the treasure is.",
        &[
            "You can find it at N°. 1026.253.553.",
            "That is where the treasure is.",
        ],
    ),
    // Quotes and parentheses.
    (
        "He teaches science (He previously worked for 5 years as an engineer.) at the local University.",
        &[
            "He teaches science (He previously worked for 5 years as an engineer.) at the local University.",
        ],
    ),
    (
        "She turned to him, 'This is great.' she said.",
        &["She turned to him, 'This is great.' she said."],
    ),
    (
        "She turned to him, \"This is great.\" she said.",
        &["She turned to him, \"This is great.\" she said."],
    ),
    (
        "She turned to him, \"This is great.\" She held the book out to show him.",
        &[
            "She turned to him, \"This is great.\"",
            "She held the book out to show him.",
        ],
    ),
    (
        "It was cold. (See above.) Then it rained.",
        &["It was cold.", "(See above.)", "Then it rained."],
    ),
    (
        "He said “Go home.” Then he left.",
        &["He said “Go home.”", "Then he left."],
    ),
    (
        "\"Bohr [...] used the analogy of parallel stairways [...]\" (Smith 55).",
        &["\"Bohr [...] used the analogy of parallel stairways [...]\" (Smith 55)."],
    ),
    // Names with exclamation marks.
    (
        "She works at Yahoo! in the accounting department.",
        &["She works at Yahoo! in the accounting department."],
    ),
    ("Jeopardy! is a quiz show.", &["Jeopardy! is a quiz show."]),
    // Ellipses.
    (
        "I never meant that.... She left the store.",
        &["I never meant that....", "She left the store."],
    ),
    (
        "I wasn’t really ... well, what I mean...see . . . what I'm saying, the thing is . . . I didn’t mean it.",
        &[
            "I wasn’t really ... well, what I mean...see . . . what I'm saying, the thing is . . . I didn’t mean it.",
        ],
    ),
    (
        "Thoreau argues that by simplifying one’s life, “the laws of the universe will appear less complex. . . .”",
        &[
            "Thoreau argues that by simplifying one’s life, “the laws of the universe will appear less complex. . . .”",
        ],
    ),
    // Addresses.
    (
        "Her email is Jane.Doe@example.com. I sent her an email.",
        &["Her email is Jane.Doe@example.com.", "I sent her an email."],
    ),
    (
        "The site is: https://www.example.50.com/new-site/awesome_content.html. Please check it out.",
        &[
            "The site is: https://www.example.50.com/new-site/awesome_content.html.",
            "Please check it out.",
        ],
    ),
    // Encyclopedic sentences (Wikipedia leads).
    (
        "Anarchism is a political philosophy that advocates self-governed societies. These are often described as stateless societies.",
        &[
            "Anarchism is a political philosophy that advocates self-governed societies.",
            "These are often described as stateless societies.",
        ],
    ),
    (
        "Abraham Lincoln (February 12, 1809 – April 15, 1865) was the 16th President of the United States. He led the country through the Civil War.",
        &[
            "Abraham Lincoln (February 12, 1809 – April 15, 1865) was the 16th President of the United States.",
            "He led the country through the Civil War.",
        ],
    ),
    (
        "Albedo is measured on a scale from zero to one. Fresh snow has an albedo of about 0.9.",
        &[
            "Albedo is measured on a scale from zero to one.",
            "Fresh snow has an albedo of about 0.9.",
        ],
    ),
    // Degenerate input.
    ("", &[]),
    ("   ", &[]),
    ("...", &[]),
    ("No terminator at all", &["No terminator at all"]),
    ("  Padded sentence.  ", &["Padded sentence."]),
    ("Trailing punctuation. !!", &["Trailing punctuation. !!"]),
];

/// Cases kept apart from rule writing, to measure accuracy honestly.
const HELD_OUT: &[(&str, &[&str])] = &[
    (
        "Dr. Watson examined the patient. The patient was fine.",
        &["Dr. Watson examined the patient.", "The patient was fine."],
    ),
    (
        "The U.K. economy grew. Inflation fell.",
        &["The U.K. economy grew.", "Inflation fell."],
    ),
    (
        "Martin Luther King Jr. was born in Atlanta.",
        &["Martin Luther King Jr. was born in Atlanta."],
    ),
    (
        "It costs 4.5 billion dollars. Nobody paid.",
        &["It costs 4.5 billion dollars.", "Nobody paid."],
    ),
    ("Is it true? Yes, it is.", &["Is it true?", "Yes, it is."]),
    (
        "The population was 8,175,133 at the 2010 census. It is the largest city.",
        &[
            "The population was 8,175,133 at the 2010 census.",
            "It is the largest city.",
        ],
    ),
    (
        "H. G. Wells wrote The Time Machine.",
        &["H. G. Wells wrote The Time Machine."],
    ),
    (
        "John F. Kennedy was shot in Dallas. Lyndon B. Johnson became president.",
        &[
            "John F. Kennedy was shot in Dallas.",
            "Lyndon B. Johnson became president.",
        ],
    ),
    (
        "The river is approx. 300 km long.",
        &["The river is approx. 300 km long."],
    ),
    (
        "He lived in Washington, D.C. for years.",
        &["He lived in Washington, D.C. for years."],
    ),
    (
        "She moved to Washington, D.C. The city was new to her.",
        &["She moved to Washington, D.C.", "The city was new to her."],
    ),
    (
        "Ford Motor Co. built the plant. It opened in 1920.",
        &["Ford Motor Co. built the plant.", "It opened in 1920."],
    ),
    (
        "The meeting began at 9 a.m. and ended at noon.",
        &["The meeting began at 9 a.m. and ended at noon."],
    ),
    (
        "Albedo (from Latin albedo, \"whiteness\") is the reflectivity. It is dimensionless.",
        &[
            "Albedo (from Latin albedo, \"whiteness\") is the reflectivity.",
            "It is dimensionless.",
        ],
    ),
    ("Stop! Who goes there?", &["Stop!", "Who goes there?"]),
    (
        "The ship sailed from St. Louis. It reached New Orleans.",
        &["The ship sailed from St. Louis.", "It reached New Orleans."],
    ),
    (
        "Achilles was a Greek hero. He fought at Troy.",
        &["Achilles was a Greek hero.", "He fought at Troy."],
    ),
    (
        "The Ph.D. program lasts five years.",
        &["The Ph.D. program lasts five years."],
    ),
    ("See Vol. 2 for details.", &["See Vol. 2 for details."]),
    (
        "Temperatures reached 40.5 °C. Crops failed.",
        &["Temperatures reached 40.5 °C.", "Crops failed."],
    ),
    (
        "He wrote \"Why?\" on the wall.",
        &["He wrote \"Why?\" on the wall."],
    ),
    (
        "They said \"Goodbye.\" Then they left.",
        &["They said \"Goodbye.\"", "Then they left."],
    ),
    (
        "The Rev. Martin spoke first.",
        &["The Rev. Martin spoke first."],
    ),
    (
        "Lincoln was born in Hodgenville, Ky. He grew up in Indiana.",
        &[
            "Lincoln was born in Hodgenville, Ky.",
            "He grew up in Indiana.",
        ],
    ),
];

#[test]
fn golden_cases() {
    assert!(CASES.len() >= 60, "{} cases", CASES.len());
    for (text, expected) in CASES {
        check(text, expected);
    }
}

#[test]
fn held_out_accuracy() {
    let splitter = SentenceSplitter::new(Language::English);
    let mut failures = Vec::new();
    for (text, expected) in HELD_OUT {
        let got = sentences(&splitter, text);
        if got != *expected {
            failures.push(format!("{text:?} -> {got:?}"));
        }
    }
    let accuracy = 1.0 - failures.len() as f64 / HELD_OUT.len() as f64;
    println!(
        "held-out sentence accuracy: {accuracy:.3} ({} of {} cases); failures: {failures:#?}",
        HELD_OUT.len() - failures.len(),
        HELD_OUT.len()
    );
    assert!(HELD_OUT.len() >= 20);
    assert!(accuracy >= 0.9, "accuracy {accuracy}: {failures:#?}");
}

#[test]
fn other_languages() {
    let german = SentenceSplitter::new(Language::German);
    assert_eq!(
        sentences(
            &german,
            "Er wurde im 19. Jahrhundert z.B. bekannt. Die Stadt wuchs."
        ),
        [
            "Er wurde im 19. Jahrhundert z.B. bekannt.",
            "Die Stadt wuchs."
        ]
    );
    let greek = SentenceSplitter::new(Language::Greek);
    assert_eq!(
        sentences(
            &greek,
            "Η Ζηλανδία είναι επαρχία της Δανίας. Η πρωτεύουσα είναι π.χ. Η Κοπεγχάγη."
        ),
        [
            "Η Ζηλανδία είναι επαρχία της Δανίας.",
            "Η πρωτεύουσα είναι π.χ. Η Κοπεγχάγη."
        ]
    );
    let other = SentenceSplitter::new(Language::Other);
    assert_eq!(
        sentences(&other, "日本語です。次の文です。"),
        ["日本語です。", "次の文です。"]
    );
}

proptest! {
    #[test]
    fn ranges_are_ordered_trimmed_and_cover_the_text(text in "(\\PC|[ .!?\"')(A-Za-z0-9])*") {
        let ranges = split_sentences(&text);
        let mut last_end = 0;
        for range in &ranges {
            prop_assert!(range.start >= last_end);
            prop_assert!(range.start < range.end);
            prop_assert!(text.is_char_boundary(range.start));
            prop_assert!(text.is_char_boundary(range.end));
            let sentence = &text[range.clone()];
            prop_assert_eq!(sentence.trim(), sentence);
            prop_assert!(sentence.chars().any(char::is_alphanumeric));
            last_end = range.end;
        }
        if text.chars().any(char::is_alphanumeric) {
            let mut covered = vec![false; text.len()];
            for range in &ranges {
                covered[range.clone()].iter_mut().for_each(|c| *c = true);
            }
            for (i, c) in text.char_indices() {
                prop_assert!(c.is_whitespace() || covered[i], "char {:?} at {} not covered", c, i);
            }
        }
    }
}

#[test]
fn direct_breaks_agree_with_uax29() {
    for (text, _) in CASES.iter().chain(HELD_OUT) {
        if needs_full_segmenter(text) {
            continue;
        }
        let uax: Vec<usize> = text
            .split_sentence_bound_indices()
            .map(|(start, _)| start)
            .filter(|&start| start > 0)
            .collect();
        assert_eq!(proposed_breaks(text), uax, "text {text:?}");
    }
}
