//! Wikitext to clean structured text: sections, blocks, links, bold names.
//!
//! [`Parser::parse`] runs `parse-wiki-text-2` (with a timeout) and walks its
//! node tree in `builder`, rendering what a reader of the page sees:
//! headings, paragraphs, list items, image captions and table cells, with the
//! text-producing templates of `template` rendered and everything else
//! (infoboxes, citations, references, categories, interlanguage links,
//! behaviour switches, comments) dropped.

mod builder;
mod template;
#[cfg(test)]
mod tests;
mod wikiextractor;

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default time budget of one page ([`Parser::with_timeout`]).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Deepest `{{`/`[[` nesting a page may have before it is skipped.
///
/// Deeper pages are pathological (real articles stay under 20), and the parse
/// tree of such a page is dropped recursively, which could exhaust the stack.
const MAX_NESTING: usize = 200;

/// Names the parser needs to know about one wiki: namespaces, magic words,
/// extension tags, link trail.
///
/// Build it with [`ParserConfig::english`] or, from a dump's `<siteinfo>`,
/// with [`ParserConfig::from_namespaces`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParserConfig {
    /// Language code of the wiki (`en`, `el`...).
    pub lang: String,
    /// Names and aliases of the category namespace (14), without the colon.
    pub category_namespaces: Vec<String>,
    /// Names and aliases of the file namespace (6).
    pub file_namespaces: Vec<String>,
    /// Names of every other namespace but the main one (links to them are not
    /// article links: their anchor text is kept, no [`Link`] is made).
    pub other_namespaces: Vec<String>,
    /// Interwiki prefixes (`wikt`, `commons`...): kept as text, not as links.
    pub interwiki_prefixes: Vec<String>,
    /// Magic words of redirects (`REDIRECT`), without the `#`.
    pub redirect_magic_words: Vec<String>,
    /// Behaviour switches written `__NAME__`, without the underscores.
    pub magic_words: Vec<String>,
    /// Extension tags whose content is parsed apart (`ref`, `gallery`...).
    pub extension_tags: Vec<String>,
    /// URL protocols of external links.
    pub protocols: Vec<String>,
    /// Letters that glue to a link's end (`[[cat]]s` is one link), as one string.
    pub link_trail: String,
    /// Image options that show the caption under the image (`thumb`, `frame`
    /// and localized names); images without one show no caption.
    pub caption_options: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Canonical (English) namespace names other than file and category; MediaWiki
/// accepts them on every wiki.
const CANONICAL_OTHER_NAMESPACES: &[&str] = &[
    "Media",
    "Special",
    "Talk",
    "User",
    "User talk",
    "Project",
    "Project talk",
    "File talk",
    "Image talk",
    "MediaWiki",
    "MediaWiki talk",
    "Template",
    "Template talk",
    "Help",
    "Help talk",
    "Category talk",
    "Portal",
    "Portal talk",
    "Book",
    "Book talk",
    "Draft",
    "Draft talk",
    "Education Program",
    "Education Program talk",
    "TimedText",
    "TimedText talk",
    "Module",
    "Module talk",
    "Gadget",
    "Gadget talk",
    "Gadget definition",
    "Gadget definition talk",
    "Topic",
    "Wikipedia",
    "Wikipedia talk",
    "WP",
    "WT",
    "Wikivoyage",
    "Wikivoyage talk",
];

const INTERWIKI_PREFIXES: &[&str] = &[
    "w",
    "wikipedia",
    "wikt",
    "wiktionary",
    "commons",
    "c",
    "s",
    "wikisource",
    "q",
    "wikiquote",
    "b",
    "wikibooks",
    "n",
    "wikinews",
    "v",
    "wikiversity",
    "voy",
    "wikivoyage",
    "species",
    "wikispecies",
    "d",
    "wikidata",
    "m",
    "meta",
    "metawikipedia",
    "mw",
    "mediawikiwiki",
    "foundation",
    "wmf",
    "incubator",
    "outreach",
    "phab",
    "toollabs",
    "iarchive",
    "doi",
    "google",
    "imdbname",
    "imdbtitle",
];

const EXTENSION_TAGS: &[&str] = &[
    "big",
    "categorytree",
    "ce",
    "charinsert",
    "chem",
    "gallery",
    "graph",
    "hiero",
    "imagemap",
    "includeonly",
    "indicator",
    "inputbox",
    "mapframe",
    "maplink",
    "math",
    "noinclude",
    "nowiki",
    "onlyinclude",
    "poem",
    "pre",
    "ref",
    "references",
    "score",
    "section",
    "source",
    "syntaxhighlight",
    "templatedata",
    "templatestyles",
    "timeline",
];

const MAGIC_WORDS: &[&str] = &[
    "DISAMBIG",
    "EXPECTUNUSEDCATEGORY",
    "FORCETOC",
    "HIDDENCAT",
    "INDEX",
    "NEWSECTIONLINK",
    "NOCC",
    "NOCOLLABORATIONHUBTOC",
    "NOCONTENTCONVERT",
    "NOEDITSECTION",
    "NOGALLERY",
    "NOGLOBAL",
    "NOINDEX",
    "NONEWSECTIONLINK",
    "NOTC",
    "NOTITLECONVERT",
    "NOTOC",
    "STATICREDIRECT",
    "TOC",
];

const PROTOCOLS: &[&str] = &[
    "//",
    "bitcoin:",
    "ftp://",
    "ftps://",
    "geo:",
    "git://",
    "gopher://",
    "http://",
    "https://",
    "irc://",
    "ircs://",
    "magnet:",
    "mailto:",
    "mms://",
    "news:",
    "nntp://",
    "redis://",
    "sftp://",
    "sip:",
    "sips:",
    "sms:",
    "ssh://",
    "svn://",
    "tel:",
    "telnet://",
    "urn:",
    "worldwind://",
    "xmpp:",
];

const CAPTION_OPTIONS: &[&str] = &[
    "thumb",
    "thumbnail",
    "frame",
    "framed",
    "enframed",
    // Localized names of `thumb` on the larger wikis.
    "μικρογραφία",
    "mini",
    "miniatur",
    "vignette",
    "miniatura",
    "miniaturadeimagen",
    "miniaturadaimagem",
    "miniatuur",
    "мини",
    "миниатюра",
];

/// Localized redirect magic words (MediaWiki `MessagesXx.php`), by language.
fn redirect_words(lang: &str) -> Vec<String> {
    let mut words = vec!["REDIRECT".to_owned()];
    let extra: &[&str] = match lang {
        "el" => &["ΑΝΑΚΑΤΕΥΘΥΝΣΗ"],
        "de" => &["WEITERLEITUNG"],
        "fr" => &["REDIRECTION"],
        "es" => &["REDIRECCIÓN", "REDIRECCION"],
        "it" => &["RINVIA", "RINVIO"],
        "pt" => &["REDIRECIONAMENTO"],
        "nl" => &["DOORVERWIJZING"],
        "ru" => &["ПЕРЕНАПРАВЛЕНИЕ", "ПЕРЕНАПР"],
        _ => &[],
    };
    words.extend(extra.iter().map(|s| (*s).to_owned()));
    words
}

/// Link trail letters by language (MediaWiki `$linkTrail`); `a-z` by default.
fn link_trail(lang: &str) -> String {
    let mut trail: String = ('a'..='z').collect();
    let extra = match lang {
        "el" => "αβγδεζηθικλμνξοπρστυφχψωςΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩάέήίόύώϊϋΐΰΆΈΉΊΌΎΏΪΫ",
        "de" => "äöüß",
        "fr" => "àâçéèêîôûäëïöüùÇÉÂÊÎÔÛÄËÏÖÜÀÈÙ",
        "es" => "áéíóúñ",
        "it" => "àéèíîìóòúù",
        "pt" => "áâãàéêẽçíòóôõq̃úüűũ",
        "nl" => "äöüïëéèà",
        "ru" => "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "sv" | "da" | "no" | "nb" | "nn" | "fi" => "åäöæø",
        _ => "",
    };
    trail.push_str(extra);
    trail
}

impl ParserConfig {
    /// Returns the configuration of the English Wikipedia.
    pub fn english() -> Self {
        ParserConfig {
            lang: "en".to_owned(),
            category_namespaces: strings(&["Category"]),
            file_namespaces: strings(&["File", "Image"]),
            other_namespaces: strings(CANONICAL_OTHER_NAMESPACES),
            interwiki_prefixes: strings(INTERWIKI_PREFIXES),
            redirect_magic_words: redirect_words("en"),
            magic_words: strings(MAGIC_WORDS),
            extension_tags: strings(EXTENSION_TAGS),
            protocols: strings(PROTOCOLS),
            link_trail: link_trail("en"),
            caption_options: strings(CAPTION_OPTIONS),
        }
    }

    /// Builds a configuration from a dump's `<siteinfo>`: namespace id -> name
    /// pairs (one pair per name or alias, e.g. `(6, "Αρχείο")`, `(14, "Κατηγορία")`)
    /// and the wiki's language code.
    ///
    /// The canonical English names (`File`, `Image`, `Category`, `Template`...)
    /// are always added, as MediaWiki accepts them on every wiki.
    pub fn from_namespaces(lang: &str, namespaces: &[(i32, String)]) -> Self {
        let lang = lang.trim().to_ascii_lowercase();
        let mut config = ParserConfig::english();
        config.lang.clone_from(&lang);
        config.redirect_magic_words = redirect_words(&lang);
        config.link_trail = link_trail(&lang);
        for (id, name) in namespaces {
            let name = name.trim().replace('_', " ");
            if name.is_empty() || *id == 0 {
                continue;
            }
            let list = match id {
                6 => &mut config.file_namespaces,
                14 => &mut config.category_namespaces,
                _ => &mut config.other_namespaces,
            };
            if !list.iter().any(|known| known.eq_ignore_ascii_case(&name)) {
                list.push(name);
            }
        }
        config
    }
}

impl Default for ParserConfig {
    fn default() -> Self {
        ParserConfig::english()
    }
}

/// A wikitext parser for one wiki.
///
/// Build it once and share it: it is `Send + Sync` and holds no per-page state.
pub struct Parser {
    wiki: parse_wiki_text_2::Configuration,
    timeout: Duration,
    /// Lowercase non-article namespace and interwiki prefixes.
    non_article_prefixes: HashSet<String>,
    caption_options: HashSet<String>,
}

impl std::fmt::Debug for Parser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parser")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What a wikilink target points at.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LinkTarget {
    /// An article of this wiki, with its normalized title.
    Article(String),
    /// Something else readers see as text (namespaces, interwiki, sections).
    TextOnly,
    /// An interlanguage link (shown in the sidebar, not in the text) or an
    /// invalid title (holding `<>[]{}`, e.g. only a comment): not shown.
    Hidden,
}

impl Parser {
    /// Creates a parser for the wiki described by `config`.
    pub fn new(config: &ParserConfig) -> Self {
        let lower =
            |names: &[String]| -> Vec<String> { names.iter().map(|n| n.to_lowercase()).collect() };
        let category = lower(&config.category_namespaces);
        let file = lower(&config.file_namespaces);
        let magic: Vec<&str> = config.magic_words.iter().map(String::as_str).collect();
        let tags: Vec<&str> = config.extension_tags.iter().map(String::as_str).collect();
        let protocols: Vec<&str> = config.protocols.iter().map(String::as_str).collect();
        let redirects: Vec<&str> = config
            .redirect_magic_words
            .iter()
            .map(String::as_str)
            .collect();
        let category_refs: Vec<&str> = category.iter().map(String::as_str).collect();
        let file_refs: Vec<&str> = file.iter().map(String::as_str).collect();
        let wiki = parse_wiki_text_2::Configuration::new(&parse_wiki_text_2::ConfigurationSource {
            category_namespaces: &category_refs,
            extension_tags: &tags,
            file_namespaces: &file_refs,
            link_trail: &config.link_trail,
            magic_words: &magic,
            protocols: &protocols,
            redirect_magic_words: &redirects,
        });
        let mut non_article_prefixes: HashSet<String> = HashSet::new();
        non_article_prefixes.extend(lower(&config.other_namespaces));
        non_article_prefixes.extend(lower(&config.interwiki_prefixes));
        non_article_prefixes.extend(category.iter().cloned());
        non_article_prefixes.extend(file);
        Parser {
            wiki,
            timeout: DEFAULT_TIMEOUT,
            non_article_prefixes,
            caption_options: lower(&config.caption_options).into_iter().collect(),
        }
    }

    /// Sets the time budget of one page (5 s by default); a page that takes
    /// longer gives [`Warning::Timeout`] and an empty [`Article`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Parses one page's wikitext into clean structured text.
    ///
    /// Never panics and never fails: problems are reported as warnings.
    pub fn parse(&self, title: &str, wikitext: &str) -> (Article, Vec<Warning>) {
        let mut warnings = Vec::new();
        let empty = || Article {
            title: title.to_owned(),
            ..Article::default()
        };
        if max_nesting(wikitext) > MAX_NESTING {
            warnings.push(Warning::TooDeep {
                title: title.to_owned(),
            });
            return (empty(), warnings);
        }
        // A zero duration means "no timeout" to parse-wiki-text; keep a budget.
        let timeout = self.timeout.max(Duration::from_nanos(1));
        let output = match self.wiki.parse_with_timeout(wikitext, timeout) {
            Ok(output) => output,
            Err(parse_wiki_text_2::ParseError::TimedOut { .. }) => {
                warnings.push(Warning::Timeout {
                    title: title.to_owned(),
                });
                return (empty(), warnings);
            }
        };
        for warning in &output.warnings {
            use parse_wiki_text_2::WarningMessage as M;
            if matches!(
                warning.message,
                M::MissingEndTagRewinding
                    | M::UnexpectedEndTagRewinding
                    | M::InvalidHeadingSyntaxRewinding
            ) && warnings.len() < MAX_MALFORMED_WARNINGS
            {
                warnings.push(Warning::Malformed {
                    title: title.to_owned(),
                    offset: u32::try_from(warning.start).unwrap_or(u32::MAX),
                    message: warning.message.message().to_owned(),
                });
            }
        }
        let article = builder::build(self, title, wikitext, &output.nodes, &mut warnings);
        (article, warnings)
    }

    /// Classifies a raw wikilink target.
    pub(crate) fn link_target(&self, raw: &str) -> LinkTarget {
        let raw = raw.trim();
        if raw.contains(['<', '>', '[', ']', '{', '}']) {
            return LinkTarget::Hidden;
        }
        let (leading_colon, raw) = match raw.strip_prefix(':') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, raw),
        };
        if raw.starts_with('#') {
            return LinkTarget::TextOnly;
        }
        if let Some((prefix, _)) = raw.split_once(':') {
            let key = prefix.trim().replace('_', " ").to_lowercase();
            if self.non_article_prefixes.contains(&key) {
                return LinkTarget::TextOnly;
            }
            if is_language_prefix(prefix) {
                return if leading_colon {
                    LinkTarget::TextOnly
                } else {
                    LinkTarget::Hidden
                };
            }
        }
        let target = normalize_title(raw);
        if target.is_empty() {
            LinkTarget::TextOnly
        } else {
            LinkTarget::Article(target)
        }
    }

    pub(crate) fn is_caption_option(&self, option: &str) -> bool {
        self.caption_options.contains(option)
    }
}

const MAX_MALFORMED_WARNINGS: usize = 16;

/// Tells whether a link prefix looks like a language code as written in
/// interlanguage links (`de`, `fr`, `zh-min-nan`, `simple`, `be-x-old`).
fn is_language_prefix(prefix: &str) -> bool {
    let bytes = prefix.as_bytes();
    if !bytes.iter().all(|b| b.is_ascii_lowercase() || *b == b'-') {
        return false;
    }
    match bytes.len() {
        2 | 3 => !prefix.contains('-'),
        4..=12 => {
            prefix == "simple" || (prefix.contains('-') && bytes[0] != b'-' && bytes[1] != b'-')
        }
        _ => false,
    }
}

/// Returns the deepest nesting of `{{`/`[[` pairs in `text`.
fn max_nesting(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while i + 1 < bytes.len() {
        let pair = (bytes[i], bytes[i + 1]);
        match pair {
            (b'{', b'{') | (b'[', b'[') => {
                depth += 1;
                max = max.max(depth);
                i += 2;
            }
            (b'}', b'}') | (b']', b']') => {
                depth = depth.saturating_sub(1);
                i += 2;
            }
            _ => i += 1,
        }
    }
    max
}

/// Normalizes a page title the way MediaWiki does for links: fragment
/// removed, underscores to spaces, whitespace collapsed and trimmed, leading
/// colon removed, first letter uppercased.
pub(crate) fn normalize_title(raw: &str) -> String {
    let raw = raw.split('#').next().unwrap_or("");
    let raw = raw.trim().trim_start_matches(':');
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.chars() {
        if c.is_whitespace() || c == '_' {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if out.is_empty() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A page as a reader sees it: sections of clean text blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    /// The page title as given to [`Parser::parse`].
    #[serde(default)]
    pub title: String,
    /// The sections in page order. The first is the lead (level 0, empty
    /// heading); every heading of the page starts one more, even when it holds
    /// no block. Empty for a page that timed out.
    pub sections: Vec<Section>,
    /// Bold text of the lead paragraphs (the article's own names), in order,
    /// without duplicates.
    pub bold: Vec<String>,
}

/// One section: a heading and its blocks (subsections are separate sections).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// The heading text, `""` for the lead.
    pub heading: String,
    /// 0 for the lead, 2 for `==h==`, 3 for `===h===`...
    pub level: u8,
    /// The blocks in page order.
    pub blocks: Vec<Block>,
}

/// What kind of page element a block comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BlockKind {
    /// A paragraph (also indented `:` lines and preformatted text).
    Paragraph,
    /// One item of a bulleted, numbered or definition-term list.
    ListItem,
    /// The caption of an image.
    Caption,
    /// The text of one table cell or table caption.
    TableCell,
}

/// A run of clean text: no markup, whitespace collapsed, never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// What the text comes from.
    pub kind: BlockKind,
    /// The clean text.
    pub text: String,
    /// The wikilinks of the text, in order.
    pub links: Vec<Link>,
}

/// A wikilink kept as a span of clean text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Link {
    /// Byte offset of the anchor's start in the text.
    pub start: u32,
    /// Byte offset just past the anchor.
    pub end: u32,
    /// The linked page title: fragment removed, underscores to spaces,
    /// whitespace collapsed, first letter uppercased (MediaWiki first-letter case).
    pub target: String,
}

/// Something that went wrong on one page; the page still gives a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Warning {
    /// Parsing took longer than the parser's timeout; the article is empty.
    Timeout {
        /// The page title.
        title: String,
    },
    /// Brackets or braces nest deeper than any real page; the article is empty.
    TooDeep {
        /// The page title.
        title: String,
    },
    /// The wikitext was malformed (an unclosed tag or template) and the
    /// parser recovered by reading it as text; some markup may show as text.
    Malformed {
        /// The page title.
        title: String,
        /// Byte offset of the construct in the wikitext.
        offset: u32,
        /// What the parser found.
        message: String,
    },
    /// Nodes nested deeper than the renderer follows were skipped.
    DepthLimit {
        /// The page title.
        title: String,
    },
}

impl Article {
    /// Lays the text out the way WikiExtractor 3.1.0 writes the `text` field
    /// of its `--json` output for the same page, so the two tools can be swapped.
    ///
    /// One line per paragraph; a heading becomes a line (with a `.` added
    /// unless it ends in `!` or `?`) only when text follows it, and headings of
    /// empty sections are dropped; list items, captions and table cells are
    /// dropped; lines that are only punctuation, or a whole parenthesis, are
    /// dropped. Known differences: WikiExtractor writes italics in double
    /// quotes and renders no template at all, where this crate renders the
    /// text-producing ones.
    pub fn wikiextractor_text(&self) -> String {
        wikiextractor::text(self)
    }

    /// Returns the number of blocks of all sections.
    pub fn n_blocks(&self) -> usize {
        self.sections.iter().map(|s| s.blocks.len()).sum()
    }

    /// Iterates over every block of every section, in page order.
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.sections.iter().flat_map(|s| s.blocks.iter())
    }

    /// Returns the plain text of the article: headings and blocks, one per line.
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for section in &self.sections {
            if !section.heading.is_empty() {
                out.push_str(&section.heading);
                out.push('\n');
            }
            for block in &section.blocks {
                out.push_str(&block.text);
                out.push('\n');
            }
        }
        out
    }
}
