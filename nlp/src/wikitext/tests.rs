//! Clean-text rules, checked on wikitext snippets from the dump samples
//! (English Wikipedia 2016: Anarchism, Albedo, Achilles, Abraham Lincoln;
//! Greek Wikivoyage: Ζηλανδία).

use super::*;

fn english() -> Parser {
    Parser::new(&ParserConfig::english())
}

fn greek() -> Parser {
    let namespaces: Vec<(i32, String)> = [
        (6, "Αρχείο"),
        (6, "Εικόνα"),
        (14, "Κατηγορία"),
        (10, "Πρότυπο"),
        (4, "Βικιταξίδια"),
    ]
    .into_iter()
    .map(|(id, name)| (id, name.to_owned()))
    .collect();
    Parser::new(&ParserConfig::from_namespaces("el", &namespaces))
}

/// Parses `wikitext` and returns every block as (kind, text).
fn blocks(parser: &Parser, wikitext: &str) -> Vec<(BlockKind, String)> {
    let (article, warnings) = parser.parse("Test", wikitext);
    assert!(
        !warnings
            .iter()
            .any(|w| matches!(w, Warning::Timeout { .. })),
        "{warnings:?}"
    );
    article.blocks().map(|b| (b.kind, b.text.clone())).collect()
}

/// Checks that `wikitext` renders to paragraphs with exactly these texts.
fn check(wikitext: &str, expected: &[&str]) {
    let got: Vec<String> = blocks(&english(), wikitext)
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    assert_eq!(got, expected, "wikitext {wikitext:?}");
}

/// Checks the (kind, text) of every block.
fn check_kinds(parser: &Parser, wikitext: &str, expected: &[(BlockKind, &str)]) {
    let got = blocks(parser, wikitext);
    let expected: Vec<(BlockKind, String)> = expected
        .iter()
        .map(|(k, t)| (*k, (*t).to_owned()))
        .collect();
    assert_eq!(got, expected, "wikitext {wikitext:?}");
}

/// Returns (anchor, target) of every link of every block.
fn links(parser: &Parser, wikitext: &str) -> Vec<(String, String)> {
    let (article, _) = parser.parse("Test", wikitext);
    article
        .blocks()
        .flat_map(|b| {
            b.links.iter().map(|l| {
                (
                    b.text[l.start as usize..l.end as usize].to_owned(),
                    l.target.clone(),
                )
            })
        })
        .collect()
}

#[test]
fn paragraphs_and_whitespace() {
    check("", &[]);
    check("One\ntwo  three\n\nFour", &["One two three", "Four"]);
    check("  leading and trailing  \n", &["leading and trailing"]);
    check("__NOTOC__\nText __TOC__ here.", &["Text here."]);
    check("Text<!-- a comment -->more", &["Textmore"]);
    check("----\nAfter a rule.", &["After a rule."]);
    check("A paragraph.\n\n\n\n{{Reflist}}\n\n", &["A paragraph."]);
}

#[test]
fn bold_and_italic_markup_is_removed() {
    check(
        "'''Anarchism''' is a ''[[political philosophy]]''.",
        &["Anarchism is a political philosophy."],
    );
    check("'''''Both''''' and ''italic''", &["Both and italic"]);
    check("l'''x''' ''''y''''", &["lx 'y'"]);
}

#[test]
fn collects_bold_names_of_the_lead() {
    let (article, _) = english().parse(
        "Albedo",
        "{{Other uses}}\n'''Albedo''' ({{IPAc-en|æ|l|ˈ|b|iː|d|oʊ}}), or '''reflection coefficient''', \
         is the '''albedo'''... '''Albedo'''.\n\n== Terms ==\n'''Not a lead name'''.",
    );
    assert_eq!(article.bold, ["Albedo", "reflection coefficient", "albedo"]);
    let (article, _) = english().parse("X", "'''Unclosed bold\nnext line'''");
    assert_eq!(article.bold, ["Unclosed bold"]);
}

#[test]
fn sections_and_headings() {
    let (article, _) = english().parse(
        "Albedo",
        "Lead.\n== Terrestrial albedo ==\nText.\n=== [[Illumination]] ===\n==Empty==\n== Astronomical albedo ==\nMore.",
    );
    let layout: Vec<(u8, &str, usize)> = article
        .sections
        .iter()
        .map(|s| (s.level, s.heading.as_str(), s.blocks.len()))
        .collect();
    assert_eq!(
        layout,
        [
            (0, "", 1),
            (2, "Terrestrial albedo", 1),
            (3, "Illumination", 0),
            (2, "Empty", 0),
            (2, "Astronomical albedo", 1)
        ]
    );
}

#[test]
fn links_become_spans() {
    let parser = english();
    assert_eq!(
        links(
            &parser,
            "is a [[political philosophy]] that advocates [[self-governance|self-governed]] \
             societies, [[stateless society|stateless societies]]s, [[Anarchism#History|history]], \
             [[pierre-Joseph_Proudhon]] and [[ List  of  anarchists ]]."
        ),
        [
            ("political philosophy".into(), "Political philosophy".into()),
            ("self-governed".into(), "Self-governance".into()),
            ("stateless societiess".into(), "Stateless society".into()),
            ("history".into(), "Anarchism".into()),
            (
                "pierre-Joseph_Proudhon".into(),
                "Pierre-Joseph Proudhon".into()
            ),
            ("List of anarchists".into(), "List of anarchists".into()),
        ]
    );
    // Only article links are spans; the anchor text of others stays.
    check(
        "The term ''[[wikt:anarchism|anarchism]]'' see [[Wikipedia:Manual of Style|the manual]] \
         and [[#Etymology|below]] and [[:Category:Anarchism]].",
        &["The term anarchism see the manual and below and Category:Anarchism."],
    );
    assert!(
        links(
            &parser,
            "[[wikt:anarchism|anarchism]] [[#Etymology|below]] [[:File:X.jpg|file]]"
        )
        .is_empty()
    );
}

#[test]
fn categories_and_interlanguage_links_are_dropped() {
    check(
        "Text.\n[[Category:Anarchism| ]]\n[[Category:Political culture]]\n[[de:Anarchismus]]\n[[zh-min-nan:Hui-thóng-tī-chú-gī]]\n[[simple:Anarchism]]",
        &["Text."],
    );
    // A link to nothing but a comment (from the Greek sample) shows nothing.
    check(
        "είναι πòλη στη [[<!--όνομα περιοχής-->]]",
        &["είναι πòλη στη"],
    );
}

#[test]
fn references_are_dropped() {
    check(
        "These are often described as [[stateless society|stateless societies]],<ref>&quot;ANARCHISM, a \
         social philosophy&quot; {{cite journal |last=Malatesta}}</ref><ref name=slevin/> although \
         several authors.<ref name=\"x\">Slevin, Carl.</ref>",
        &["These are often described as stateless societies, although several authors."],
    );
    check(
        "Text<references/>\n\n<references>\n<ref name=a>A</ref>\n</references>",
        &["Text"],
    );
}

#[test]
fn templates_are_rendered_or_dropped() {
    let cases: &[(&str, &str)] = &[
        (
            "from the Greek {{lang|grc|ἀναρχία}}, i.e.",
            "from the Greek ἀναρχία, i.e.",
        ),
        ("{{lang-el|Ἀχιλλεύς}} is a name", "Ἀχιλλεύς is a name"),
        ("{{langx|de|Anarchismus}} word", "Anarchismus word"),
        ("Earth is {{convert|1|km|mi}} away", "Earth is 1 km away"),
        (
            "about {{convert|5|to|10|mi|km|abbr=on}} long",
            "about 5 to 10 mi long",
        ),
        ("a {{cvt|3-4|m}} wall", "a 3-4 m wall"),
        ("drop below {{convert|-40|C|F}}.", "drop below -40 °C."),
        ("{{nowrap|Ulysses S. Grant}} won", "Ulysses S. Grant won"),
        ("{{small|(small)}} and {{smaller|text}}", "(small) and text"),
        ("the {{abbr|USA|United States}} flag", "the USA flag"),
        ("Homer{{snd}}poet", "Homer – poet"),
        ("war{{mdash}}its bloodiest", "war—its bloodiest"),
        ("{{frac|1|2}} and {{frac|3|1|4}}", "1/2 and 3 1/4"),
        ("{{sfrac|2|3}} cup", "2/3 cup"),
        (
            "{{ill|Mikhail Bakunin|ru|Бакунин}} wrote",
            "Mikhail Bakunin wrote",
        ),
        ("{{nihongo|Tokyo|東京|Tōkyō}} is big", "Tokyo is big"),
        ("{{transl|grc|Akhilleus}}", "Akhilleus"),
        ("{{As of|2016|5}}, it grew", "As of May 2016, it grew"),
        (
            "born {{birth date|1809|2|12}} in",
            "born February 12, 1809 in",
        ),
        ("built {{circa|1850}} by", "built c. 1850 by"),
        ("{{formatnum:1234567}} people", "1234567 people"),
        ("Text{{citation needed|date=May 2016}}.", "Text."),
        ("Text{{sfn|Smith|2001|p=4}} goes on.", "Text goes on."),
        (
            "Lincoln ({{IPAc-en|ˈ|l|ɪ|ŋ|k|ən}}; February 12, 1809)",
            "Lincoln (February 12, 1809)",
        ),
        ("Achilles ({{IPAc-en|ə|ˈ|k|ɪ|l|iː|z}}) was", "Achilles was"),
        (
            "{{Infobox person\n| name = Lincoln\n| image = X.jpg\n}}\nText.",
            "Text.",
        ),
        ("{{Template:Nowrap|A B}}", "A B"),
        ("{{#if:{{{1|}}}|yes|no}}Text", "Text"),
    ];
    for (wikitext, expected) in cases {
        let got: Vec<String> = blocks(&english(), wikitext)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        let expected: Vec<String> = if expected.is_empty() {
            Vec::new()
        } else {
            vec![(*expected).to_owned()]
        };
        assert_eq!(got, expected, "wikitext {wikitext:?}");
    }
}

#[test]
fn html_entities_are_decoded_once() {
    check("AT&amp;T &amp;nbsp; &lt;b&gt;", &["AT&T &nbsp; <b>"]);
    check("a&nbsp;b &#91;1&#93; &#x263A;", &["a b [1] ☺"]);
    check("&bogus; &#xZZ; & alone", &["&bogus; &#xZZ; & alone"]);
}

#[test]
fn html_tags_keep_their_text() {
    check(
        "km<sup>2</sup> H<sub>2</sub>O<br/>next <small>small</small> <span style=\"x\">span</span> <big>big</big>",
        &["km2 H2O next small span big"],
    );
    check(
        "<math>\\theta_i</math> angle <nowiki>[[not a link]]</nowiki>",
        &["angle not a link"],
    );
    check("<blockquote>Quoted text.</blockquote>", &["Quoted text."]);
    check("<poem>Line one\nLine two</poem>", &["Line one Line two"]);
    check("<gallery>\nFile:A.jpg|Caption\n</gallery>Text", &["Text"]);
}

#[test]
fn lists_are_items() {
    let parser = english();
    check_kinds(
        &parser,
        "Intro:\n* Ward, Colin. ''Anarchism''. 2004\n* Goodway, David.\n** Nested item\n# Numbered\n; Term\n: Indented prose.",
        &[
            (BlockKind::Paragraph, "Intro:"),
            (BlockKind::ListItem, "Ward, Colin. Anarchism. 2004"),
            (BlockKind::ListItem, "Goodway, David."),
            (BlockKind::ListItem, "Nested item"),
            (BlockKind::ListItem, "Numbered"),
            (BlockKind::ListItem, "Term"),
            (BlockKind::Paragraph, "Indented prose."),
        ],
    );
}

#[test]
fn image_captions() {
    let parser = english();
    check_kinds(
        &parser,
        "[[Image:Levellers declaration and standard.gif|thumb|upright|Woodcut from a [[Diggers]] document by [[William Everard (Digger)|William Everard]]]]\nThe earliest anarchist themes.",
        &[
            (
                BlockKind::Caption,
                "Woodcut from a Diggers document by William Everard",
            ),
            (BlockKind::Paragraph, "The earliest anarchist themes."),
        ],
    );
    check_kinds(
        &parser,
        "[[File:Albedo-e hg.svg|thumb|right|200px|alt=Diagram|Percentage of diffusely reflected sunlight]]",
        &[(
            BlockKind::Caption,
            "Percentage of diffusely reflected sunlight",
        )],
    );
    // Inline images without thumb show no caption.
    check_kinds(
        &parser,
        "The [[File:Flag of France.svg|20px|France]] flag.",
        &[(BlockKind::Paragraph, "The flag.")],
    );
    check_kinds(&parser, "[[File:X.jpg|thumb|upright=1.2|x200px]]", &[]);
}

#[test]
fn tables_are_cells() {
    check_kinds(
        &english(),
        "{| class=\"wikitable\"\n|+ Sample albedos\n|-\n! Surface !! Typical<br/>albedo\n|-\n| Fresh asphalt || 0.04<ref>x</ref>\n|-\n| style=\"x\" | [[Deciduous trees]] || &nbsp;\n|}\nAfter.",
        &[
            (BlockKind::TableCell, "Sample albedos"),
            (BlockKind::TableCell, "Surface"),
            (BlockKind::TableCell, "Typical albedo"),
            (BlockKind::TableCell, "Fresh asphalt"),
            (BlockKind::TableCell, "0.04"),
            (BlockKind::TableCell, "Deciduous trees"),
            (BlockKind::Paragraph, "After."),
        ],
    );
}

#[test]
fn external_links_keep_their_label() {
    check(
        "See [http://www.example.com the site] and [http://bare.example.com] and http://plain.example.com here.",
        &["See the site and and http://plain.example.com here."],
    );
}

#[test]
fn tidies_what_dropped_templates_leave() {
    check(
        "Achilles ({{IPA|x}}; {{lang-grc|Ἀχιλλεύς}}) was",
        &["Achilles (Ἀχιλλεύς) was"],
    );
    check("word {{cn}}, then {{cn}}.", &["word, then."]);
    check("({{IPA|x}})", &[]);
}

#[test]
fn redirects_and_pathological_pages() {
    let parser = english();
    let (article, warnings) = parser.parse("Redirect", "#REDIRECT [[Anarchism]] {{R from move}}");
    assert!(warnings.is_empty());
    assert_eq!(article.n_blocks(), 0);

    let deep = "{{a|".repeat(5000);
    let (article, warnings) = parser.parse("Deep", &deep);
    assert_eq!(article.n_blocks(), 0);
    assert_eq!(
        warnings,
        [Warning::TooDeep {
            title: "Deep".into()
        }]
    );

    // Unclosed templates make the parser rewind and rescan; the timeout bounds it.
    let unclosed = "{{Infobox|\n".repeat(150) + "Text";
    let started = std::time::Instant::now();
    let (_, _) = english()
        .with_timeout(Duration::from_millis(300))
        .parse("Unclosed", &unclosed);
    assert!(started.elapsed() < Duration::from_secs(3));
    check(
        "{{unclosed|template\n\nText after.",
        &["unclosed|template", "Text after."],
    );
}

#[test]
fn timeout_gives_an_empty_article() {
    let parser = english().with_timeout(Duration::from_nanos(1));
    let text = "[[a]] ''b'' {{c}} text ".repeat(20_000);
    let (article, warnings) = parser.parse("Slow", &text);
    assert_eq!(
        warnings,
        [Warning::Timeout {
            title: "Slow".into()
        }]
    );
    assert!(article.sections.is_empty());
    assert_eq!(article.title, "Slow");
}

#[test]
fn greek_namespaces() {
    let parser = greek();
    let wikitext = "Η '''[http://www.vvvzeeland.nl Ζηλανδία]''' ([[Ολλανδικός γλωσσικός οδηγός|Ολλανδικά]]: \
        {{ήχος|239 Zeeland.ogg|Zeeland}}) είναι μια από τις επαρχίες της [[Κάτω Χώρες|Ολλανδίας]]\
        αλλά.\n[[Αρχείο:Zeeland.jpg|μικρογραφία|Η ακτή]]\n[[Εικόνα:X.png|20px]]\n[[Κατηγορία:Ζηλανδία]]\n\
        [[Πρότυπο:Geo|πρότυπο]]\n* {{Marker|type=city|name=[[Μίντελμπουρχ]]|image=}} (''Middelburg'') &amp;mdash;";
    let (article, _) = parser.parse("Ζηλανδία (επαρχία)", wikitext);
    assert_eq!(article.bold, ["Ζηλανδία"]);
    let got: Vec<(BlockKind, &str)> = article
        .blocks()
        .map(|b| (b.kind, b.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (BlockKind::Caption, "Η ακτή"),
            (
                BlockKind::Paragraph,
                "Η Ζηλανδία (Ολλανδικά:) είναι μια από τις επαρχίες της Ολλανδίαςαλλά. πρότυπο"
            ),
            (BlockKind::ListItem, "Μίντελμπουρχ (Middelburg) &mdash;"),
        ]
    );
    assert_eq!(
        links(&parser, wikitext),
        [
            ("Ολλανδικά".into(), "Ολλανδικός γλωσσικός οδηγός".into()),
            ("Ολλανδίαςαλλά".into(), "Κάτω Χώρες".into()),
            ("Μίντελμπουρχ".into(), "Μίντελμπουρχ".into()),
        ]
    );
}

#[test]
fn config_from_namespaces_keeps_canonical_names() {
    let config = ParserConfig::from_namespaces(
        "el",
        &[
            (6, "Αρχείο".into()),
            (14, "Κατηγορία".into()),
            (0, String::new()),
        ],
    );
    assert!(config.file_namespaces.iter().any(|n| n == "File"));
    assert!(config.file_namespaces.iter().any(|n| n == "Αρχείο"));
    assert!(config.category_namespaces.iter().any(|n| n == "Κατηγορία"));
    assert!(
        config
            .redirect_magic_words
            .iter()
            .any(|n| n == "ΑΝΑΚΑΤΕΥΘΥΝΣΗ")
    );
    assert_eq!(ParserConfig::default(), ParserConfig::english());
    let json = serde_json::to_string(&config).unwrap_or_default();
    let back: ParserConfig = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back, config);
}

#[test]
fn normalizes_titles() {
    let cases = [
        ("pierre-Joseph_Proudhon", "Pierre-Joseph Proudhon"),
        ("  List  of   anarchists ", "List of anarchists"),
        ("Anarchism#History", "Anarchism"),
        (":Anarchism", "Anarchism"),
        ("ζηλανδία", "Ζηλανδία"),
        ("éire", "Éire"),
        ("#only fragment", ""),
    ];
    for (raw, expected) in cases {
        assert_eq!(normalize_title(raw), expected, "{raw}");
    }
}

#[test]
fn wikiextractor_layout() {
    let (article, _) = english().parse(
        "Albedo",
        "'''Albedo''' is a ratio.\nSecond line.\n\n== Terrestrial albedo ==\n=== Empty ===\n== Examples ==\n=== Snow ===\n\
         Snow is bright.\n* a list item\n{|\n| cell\n|}\n(An aside in parentheses.)\n== Why? ==\nBecause.\n== See also ==\n* [[Cool roof]]",
    );
    assert_eq!(
        article.wikiextractor_text(),
        "Albedo is a ratio. Second line.\nExamples.\nSnow.\nSnow is bright.\nWhy?\nBecause."
    );
}

#[test]
fn serde_round_trip() {
    let (article, _) =
        english().parse("Albedo", "'''Albedo''' is [[reflection]].\n== H ==\n* item");
    let json = serde_json::to_string(&article).unwrap_or_default();
    let back: Article = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back, article);
}

#[test]
fn every_page_of_the_greek_sample_is_clean() {
    // The Greek sample's wikitext is inline here as part of its structure:
    // listings, banners and region lists must leave no markup behind.
    let wikitext = "{{pagebanner|Zeeland Wikivoyage Banner.png|pgname=Ζηλανδία}}\n{{quickbar\n|capital= [[Μίντελμπουρχ]]\n|area=2.934 km<sup>2</sup>\n}}\n\
        == Περιοχές ==\n<!-- ο χάρτης -->\n{{Regionlist\n| regionmap=\n| region1description=<!-- 1-2 παράγραφοι -->\n}}\n{{-}}\n== Σημαντικές πόλεις ==\n\
        {{Mapframe|51.498|3.818|zoom=9|height=450}}\n* {{Marker|type=city|name=Χους|image=}} (''Goes'')";
    let (article, _) = greek().parse("Ζηλανδία (επαρχία)", wikitext);
    let texts: Vec<&str> = article.blocks().map(|b| b.text.as_str()).collect();
    assert_eq!(texts, ["Χους (Goes)"]);
}
