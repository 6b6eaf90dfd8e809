//! Walks the parse tree and builds the clean [`Article`].

use std::borrow::Cow;

use parse_wiki_text_2::{DefinitionListItemType, ListItem, Node, TableCaption, TableRow};

use super::{Article, Block, BlockKind, Link, LinkTarget, Parser, Section, Warning, template};

/// Deepest node nesting the renderer follows; deeper nodes are skipped.
const MAX_DEPTH: u32 = 100;

/// Most bold names collected from one lead.
const MAX_BOLD: usize = 32;

/// Builds the article of one parse tree.
pub(super) fn build(
    parser: &Parser,
    title: &str,
    source: &str,
    nodes: &[Node<'_>],
    warnings: &mut Vec<Warning>,
) -> Article {
    let mut builder = Builder {
        parser,
        sections: Vec::new(),
        section: Section::default(),
        cur: Inline::new(BlockKind::Paragraph),
        bold: Vec::new(),
        depth: 0,
        depth_exceeded: false,
        links_enabled: true,
        covered_until: 0,
        source,
    };
    builder.siblings(nodes, Some(0));
    builder.finish_block();
    let Builder {
        mut sections,
        section,
        bold,
        depth_exceeded,
        ..
    } = builder;
    sections.push(section);
    if depth_exceeded {
        warnings.push(Warning::DepthLimit {
            title: title.to_owned(),
        });
    }
    Article {
        title: title.to_owned(),
        sections,
        bold,
    }
}

/// The block being written: its text, links and pending state.
struct Inline {
    text: String,
    links: Vec<Link>,
    /// A space is due before the next visible character (whitespace collapsing).
    space: bool,
    kind: BlockKind,
    /// Byte offset in `text` where the open bold run started.
    bold_start: Option<usize>,
}

impl Inline {
    fn new(kind: BlockKind) -> Self {
        Inline {
            text: String::new(),
            links: Vec::new(),
            space: false,
            kind,
            bold_start: None,
        }
    }
}

pub(super) struct Builder<'p> {
    parser: &'p Parser,
    /// Finished sections.
    sections: Vec<Section>,
    /// The section being filled (the lead at first).
    section: Section,
    cur: Inline,
    bold: Vec<String>,
    depth: u32,
    depth_exceeded: bool,
    /// False while rendering a heading (its links are not kept).
    links_enabled: bool,
    /// End offset in the wikitext of the last link (with its trail).
    covered_until: usize,
    /// The page's wikitext (to recover text the parser loses).
    source: &'p str,
}

impl Builder<'_> {
    pub(super) fn nodes(&mut self, nodes: &[Node<'_>]) {
        self.siblings(nodes, None);
    }

    /// Renders sibling nodes; `content_start` is where the first may start.
    fn siblings(&mut self, nodes: &[Node<'_>], content_start: Option<usize>) {
        let mut previous_end = content_start;
        for node in nodes {
            // parse-wiki-text 0.2 drops the plain text just before a
            // `<math>` or `<nowiki>` tag (it never flushes it): take it back
            // from the source. That gap holds no markup, as every node flushes.
            if let (Node::Tag { name, start, .. }, Some(gap_start)) = (node, previous_end)
                && matches!(name.as_ref(), "math" | "nowiki")
                && gap_start < *start
                && let Some(lost) = self.source.get(gap_start..*start)
            {
                self.text(lost);
            }
            previous_end = Some(parse_wiki_text_2::Positioned::end(node));
            self.node(node);
        }
    }

    fn node(&mut self, node: &Node<'_>) {
        if self.depth >= MAX_DEPTH {
            self.depth_exceeded = true;
            return;
        }
        self.depth += 1;
        match node {
            Node::Text { value, start, .. } => {
                // A piped link's trail (`[[a|b]]c`) is also left as text after
                // the link by the parser: skip what the link already covered.
                let value = match self.covered_until.checked_sub(*start) {
                    Some(covered) if covered > 0 => value.get(covered..).unwrap_or(""),
                    _ => value,
                };
                self.text(value);
            }
            Node::CharacterEntity { character, .. } => self.push_char(*character),
            Node::Bold { .. } | Node::BoldItalic { .. } => self.toggle_bold(),
            Node::Link {
                target, text, end, ..
            } => {
                self.link(target, text);
                self.covered_until = *end;
            }
            Node::Image { target, text, .. } => self.image(target, text),
            Node::ExternalLink { nodes, .. } => self.external_link(nodes),
            Node::Heading { level, nodes, .. } => self.heading(*level, nodes),
            Node::ParagraphBreak { .. } | Node::HorizontalDivider { .. } => self.finish_block(),
            Node::UnorderedList { items, .. } | Node::OrderedList { items, .. } => self.list(items),
            Node::DefinitionList { items, .. } => {
                self.finish_block();
                let saved = self.cur.kind;
                for item in items {
                    // `;term` lines are list-like; `:` lines are indented prose.
                    self.cur.kind = match item.type_ {
                        DefinitionListItemType::Term => BlockKind::ListItem,
                        DefinitionListItemType::Details => saved,
                    };
                    self.nodes(&item.nodes);
                    self.finish_block();
                }
                self.cur.kind = saved;
            }
            Node::Preformatted { nodes, .. } => {
                self.finish_block();
                self.nodes(nodes);
                self.finish_block();
            }
            Node::Table { captions, rows, .. } => self.table(captions, rows),
            Node::Tag { name, nodes, .. } => self.tag(name, nodes),
            Node::StartTag { name, .. } | Node::EndTag { name, .. } => {
                if matches!(
                    name.as_ref(),
                    "br" | "p"
                        | "div"
                        | "li"
                        | "td"
                        | "th"
                        | "tr"
                        | "hr"
                        | "dd"
                        | "dt"
                        | "blockquote"
                ) {
                    self.word_break();
                }
            }
            Node::Template {
                name, parameters, ..
            } => template::render(self, name, parameters),
            Node::Italic { .. }
            | Node::Category { .. }
            | Node::Comment { .. }
            | Node::MagicWord { .. }
            | Node::Parameter { .. }
            | Node::Redirect { .. } => {}
        }
        self.depth -= 1;
    }

    /// Appends the text of a `Text` node, cleaning what the parser left as text.
    fn text(&mut self, value: &str) {
        let needs_cleaning = value
            .bytes()
            .any(|b| matches!(b, b'<' | b'&' | b'[' | b']' | b'{' | b'}'));
        let value: Cow<'_, str> = if needs_cleaning {
            Cow::Owned(decode_numeric_entities(&strip_stray_markup(value)).into_owned())
        } else {
            Cow::Borrowed(value)
        };
        if self.cur.bold_start.is_some() {
            // An unclosed bold run ends at the end of its line, as in MediaWiki.
            if let Some((line, rest)) = value.split_once('\n') {
                self.push_str(line);
                self.toggle_bold();
                self.push_str(rest);
                return;
            }
        }
        self.push_str(&value);
    }

    /// Appends text, collapsing whitespace runs into one space and dropping
    /// leading whitespace.
    ///
    /// Whitespace is what [`char::is_whitespace`] says; ASCII bytes are
    /// classified without decoding, and runs between whitespace are copied
    /// whole.
    pub(super) fn push_str(&mut self, s: &str) {
        push_collapsed(&mut self.cur, s);
    }

    fn push_char(&mut self, c: char) {
        let cur = &mut self.cur;
        if c.is_whitespace() {
            if !cur.text.is_empty() {
                cur.space = true;
            }
            return;
        }
        if cur.space {
            cur.text.push(' ');
            cur.space = false;
        }
        cur.text.push(c);
    }

    /// Makes sure a space separates what comes next from what came before.
    pub(super) fn word_break(&mut self) {
        if !self.cur.text.is_empty() {
            self.cur.space = true;
        }
    }

    fn toggle_bold(&mut self) {
        match self.cur.bold_start.take() {
            Some(start) => self.collect_bold(start),
            None => self.cur.bold_start = Some(self.cur.text.len()),
        }
    }

    /// Records the bold run that started at `start`, if it is a lead name.
    fn collect_bold(&mut self, start: usize) {
        let in_lead = self.sections.is_empty() && self.section.level == 0;
        if !in_lead
            || !self.links_enabled
            || self.cur.kind != BlockKind::Paragraph
            || self.bold.len() >= MAX_BOLD
        {
            return;
        }
        let Some(run) = self.cur.text.get(start..) else {
            return;
        };
        let name = run
            .trim()
            .trim_matches(|c: char| matches!(c, ',' | ';' | ':') || c.is_whitespace());
        if !name.is_empty() && !self.bold.iter().any(|known| known == name) {
            self.bold.push(name.to_owned());
        }
    }

    fn link(&mut self, target: &str, text: &[Node<'_>]) {
        let target = match self.parser.link_target(target) {
            LinkTarget::Hidden => return,
            LinkTarget::TextOnly => None,
            LinkTarget::Article(target) => Some(target),
        };
        let start = self.cur.text.len();
        match text {
            // `[[:Category:X]]` shows its target without the colon.
            [Node::Text { value, .. }, rest @ ..] if value.trim_start().starts_with(':') => {
                self.text(value.trim_start().trim_start_matches(':'));
                self.nodes(rest);
            }
            _ => self.nodes(text),
        }
        let Some(target) = target else { return };
        if !self.links_enabled {
            return;
        }
        let mut start = start;
        if self.cur.text.as_bytes().get(start) == Some(&b' ') {
            start += 1;
        }
        let end = self.cur.text.len();
        if end > start {
            self.cur.links.push(Link {
                start: start as u32,
                end: end as u32,
                target,
            });
        }
    }

    fn image(&mut self, _target: &str, text: &[Node<'_>]) {
        let segments = split_on_pipes(text);
        let mut shows_caption = false;
        let mut caption: Option<&Vec<Piece<'_, '_>>> = None;
        for segment in &segments {
            match plain_segment(segment) {
                Some(option) if self.parser.is_caption_option(&option) => shows_caption = true,
                Some(option) if is_image_option(&option) => {}
                _ => caption = Some(segment),
            }
        }
        let Some(caption) = caption.filter(|_| shows_caption) else {
            return;
        };
        let saved = std::mem::replace(&mut self.cur, Inline::new(BlockKind::Caption));
        for piece in caption {
            match piece {
                Piece::Text(value) => self.text(value),
                Piece::Node(node) => self.node(node),
            }
        }
        self.finish_block();
        self.cur = saved;
    }

    fn external_link(&mut self, nodes: &[Node<'_>]) {
        // `[url label]`: the url runs to the first whitespace of the first text.
        let Some((first, rest)) = nodes.split_first() else {
            return;
        };
        match first {
            Node::Text { value, .. } => {
                if let Some((_, label)) = value.split_once(char::is_whitespace) {
                    self.word_break();
                    self.text(label);
                    self.nodes(rest);
                } else if !rest.is_empty() {
                    self.word_break();
                    self.nodes(rest);
                }
            }
            _ => self.nodes(nodes),
        }
    }

    fn heading(&mut self, level: u8, nodes: &[Node<'_>]) {
        self.finish_block();
        let saved = std::mem::replace(&mut self.cur, Inline::new(BlockKind::Paragraph));
        let saved_links = std::mem::replace(&mut self.links_enabled, false);
        self.nodes(nodes);
        self.links_enabled = saved_links;
        let heading = std::mem::replace(&mut self.cur, saved).text;
        let previous = std::mem::replace(
            &mut self.section,
            Section {
                heading,
                level: level.max(1),
                blocks: Vec::new(),
            },
        );
        self.sections.push(previous);
    }

    fn list(&mut self, items: &[ListItem<'_>]) {
        self.finish_block();
        let saved = self.cur.kind;
        for item in items {
            self.cur.kind = BlockKind::ListItem;
            self.nodes(&item.nodes);
            self.finish_block();
        }
        self.cur.kind = saved;
    }

    fn table(&mut self, captions: &[TableCaption<'_>], rows: &[TableRow<'_>]) {
        self.finish_block();
        let saved = self.cur.kind;
        for caption in captions {
            self.cur.kind = BlockKind::TableCell;
            self.nodes(&caption.content);
            self.finish_block();
        }
        for row in rows {
            for cell in &row.cells {
                self.cur.kind = BlockKind::TableCell;
                self.nodes(&cell.content);
                self.finish_block();
            }
        }
        self.cur.kind = saved;
    }

    fn tag(&mut self, name: &str, nodes: &[Node<'_>]) {
        match name {
            "ref" | "references" | "gallery" | "math" | "chem" | "ce" | "score" | "timeline"
            | "graph" | "hiero" | "imagemap" | "includeonly" | "indicator" | "inputbox"
            | "mapframe" | "maplink" | "categorytree" | "charinsert" | "templatedata"
            | "templatestyles" | "section" | "source" | "syntaxhighlight" | "pre" => {}
            _ => self.nodes(nodes),
        }
    }

    /// Ends the block being written and adds it to the section if it has text.
    pub(super) fn finish_block(&mut self) {
        if let Some(start) = self.cur.bold_start.take() {
            self.collect_bold(start);
        }
        self.cur.space = false;
        if self.cur.text.is_empty() {
            self.cur.links.clear();
            return;
        }
        let mut text = std::mem::take(&mut self.cur.text);
        let mut links = std::mem::take(&mut self.cur.links);
        tidy(&mut text, &mut links);
        if !text.chars().any(char::is_alphanumeric) {
            return;
        }
        self.section.blocks.push(Block {
            kind: self.cur.kind,
            text,
            links,
        });
    }
}

/// A piece of an image's parameters: a slice of a text node or a whole node.
enum Piece<'n, 'a> {
    Text(&'a str),
    Node(&'n Node<'a>),
}

/// Splits the nodes after an image's target into `|`-separated parameters.
fn split_on_pipes<'n, 'a>(nodes: &'n [Node<'a>]) -> Vec<Vec<Piece<'n, 'a>>> {
    let mut segments = vec![Vec::new()];
    for node in nodes {
        match node {
            Node::Text { value, .. } => {
                for (i, part) in value.split('|').enumerate() {
                    if i > 0 {
                        segments.push(Vec::new());
                    }
                    if !part.is_empty()
                        && let Some(last) = segments.last_mut()
                    {
                        last.push(Piece::Text(part));
                    }
                }
            }
            _ => {
                if let Some(last) = segments.last_mut() {
                    last.push(Piece::Node(node));
                }
            }
        }
    }
    // The text before the first pipe belongs to the target.
    if segments.first().is_some_and(Vec::is_empty) {
        segments.remove(0);
    }
    segments
}

/// Returns the lowercase trimmed text of a segment made only of text.
fn plain_segment(segment: &[Piece<'_, '_>]) -> Option<String> {
    let mut out = String::new();
    for piece in segment {
        match piece {
            Piece::Text(value) => out.push_str(value),
            Piece::Node(_) => return None,
        }
    }
    Some(out.trim().to_lowercase())
}

/// Tells whether an image parameter is a display option rather than a caption.
fn is_image_option(option: &str) -> bool {
    const WORDS: &[&str] = &[
        "frameless",
        "border",
        "left",
        "right",
        "center",
        "centre",
        "none",
        "baseline",
        "middle",
        "sub",
        "super",
        "top",
        "text-top",
        "bottom",
        "text-bottom",
        "upright",
        "loop",
        "muted",
        "",
    ];
    const PREFIXES: &[&str] = &[
        "upright",
        "alt=",
        "link=",
        "page=",
        "class=",
        "lang=",
        "thumb=",
        "thumbnail=",
        "start=",
        "end=",
        "lossy=",
    ];
    if WORDS.contains(&option) || PREFIXES.iter().any(|p| option.starts_with(p)) {
        return true;
    }
    // Sizes: 200px, x200px, 200x100px, 200 px.
    option.strip_suffix("px").is_some_and(|size| {
        let size = size.trim();
        !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit() || b == b'x')
    })
}

/// Removes what the parser leaves as text from malformed markup: doubled
/// brackets and braces, and stray tags of known names (an unclosed `<ref>`).
fn strip_stray_markup(value: &str) -> Cow<'_, str> {
    let bytes = value.as_bytes();
    let has_pair = bytes
        .windows(2)
        .any(|w| matches!(w, b"[[" | b"]]" | b"{{" | b"}}"));
    let has_tag = value.contains('<');
    if !has_pair && !has_tag {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if matches!(b, b'[' | b']' | b'{' | b'}') && bytes.get(i + 1) == Some(&b) {
            i += 2;
            continue;
        }
        if b == b'<'
            && let Some(len) = stray_tag_len(&value[i..])
        {
            i += len;
            continue;
        }
        // Copy up to the next interesting byte (always a char boundary).
        let next = bytes[i + 1..]
            .iter()
            .position(|b| matches!(b, b'<' | b'[' | b']' | b'{' | b'}'))
            .map_or(bytes.len(), |p| i + 1 + p);
        out.push_str(&value[i..next]);
        i = next;
    }
    Cow::Owned(out)
}

/// Returns the length of a tag such as `<ref name="x">`, `</ref>` or `<br/>`
/// at the start of `s`, when its name is a known tag.
fn stray_tag_len(s: &str) -> Option<usize> {
    const NAMES: &[&str] = &[
        "ref",
        "references",
        "nowiki",
        "noinclude",
        "includeonly",
        "onlyinclude",
        "br",
        "small",
        "big",
        "span",
        "div",
        "sup",
        "sub",
        "center",
        "font",
        "gallery",
        "math",
        "poem",
        "blockquote",
        "templatestyles",
        "section",
        "s",
        "u",
        "i",
        "b",
        "p",
        "tt",
        "code",
        "abbr",
        "cite",
        "del",
        "ins",
        "strike",
        "syntaxhighlight",
        "source",
        "pre",
    ];
    let rest = s.strip_prefix('<')?;
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let name_len = rest
        .bytes()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let name = &rest[..name_len];
    if !NAMES.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return None;
    }
    let after = &rest[name_len..];
    if !after.starts_with(['>', ' ', '/', '\t', '\n']) {
        return None;
    }
    let close = after.find('>')?;
    if after[..close].contains('<') {
        return None;
    }
    Some(s.len() - after.len() + close + 1)
}

/// Decodes `&#123;` and `&#x7B;` (named entities are parsed as nodes).
fn decode_numeric_entities(value: &str) -> Cow<'_, str> {
    if !value.contains("&#") {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find("&#") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let (digits, radix) = match after.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (after, 10),
        };
        let len = digits
            .bytes()
            .position(|b| !(b as char).is_digit(radix))
            .unwrap_or(digits.len());
        let decoded = (len > 0 && len <= 8 && digits.as_bytes().get(len) == Some(&b';'))
            .then(|| u32::from_str_radix(&digits[..len], radix).ok())
            .flatten()
            .and_then(char::from_u32);
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &digits[len + 1..];
            }
            None => {
                out.push_str("&#");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Tidies what dropped templates and references leave behind: empty
/// parentheses, `(; born ...)`, and spaces before `,` `.` `;` `)`.
/// Link offsets are moved with the text.
pub(super) fn tidy(text: &mut String, links: &mut Vec<Link>) {
    let bytes = text.as_bytes();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut floor = 0; // no cut may start before this
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' => {
                let mut j = i + 1;
                while j < bytes.len() && matches!(bytes[j], b' ' | b';' | b',') {
                    j += 1;
                }
                if bytes.get(j) == Some(&b')') {
                    let start = if i > floor && bytes[i - 1] == b' ' {
                        i - 1
                    } else {
                        i
                    };
                    cuts.push((start.max(floor), j + 1));
                    floor = j + 1;
                    i = j + 1;
                    continue;
                }
                if j > i + 1 {
                    cuts.push((i + 1, j));
                    floor = j;
                }
                i = j.max(i + 1);
            }
            b' ' if matches!(bytes.get(i + 1), Some(b',' | b'.' | b';')) && i >= floor => {
                cuts.push((i, i + 1));
                floor = i + 1;
                i += 1;
            }
            b')' => {
                let mut k = i;
                while k > floor && matches!(bytes[k - 1], b' ' | b';' | b',') {
                    k -= 1;
                }
                if k < i {
                    cuts.push((k, i));
                }
                floor = i + 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    if cuts.is_empty() {
        return;
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for &(start, end) in &cuts {
        out.push_str(&text[last..start]);
        last = end;
    }
    out.push_str(&text[last..]);
    let shift = |offset: u32| -> u32 {
        let offset = offset as usize;
        let removed: usize = cuts
            .iter()
            .map(|&(start, end)| end.min(offset).saturating_sub(start))
            .sum();
        (offset - removed) as u32
    };
    for link in links.iter_mut() {
        link.start = shift(link.start);
        link.end = shift(link.end);
    }
    links.retain(|link| link.end > link.start);
    // Cuts at the edges may leave outer spaces.
    let trimmed_start = out.len() - out.trim_start().len();
    if trimmed_start > 0 {
        out.drain(..trimmed_start);
        for link in links.iter_mut() {
            link.start = link.start.saturating_sub(trimmed_start as u32);
            link.end = link.end.saturating_sub(trimmed_start as u32);
        }
    }
    out.truncate(out.trim_end().len());
    let len = out.len() as u32;
    for link in links.iter_mut() {
        link.end = link.end.min(len);
    }
    links.retain(|link| link.end > link.start);
    *text = out;
}

/// [`Builder::push_str`]: appends `s` to the block, collapsing whitespace
/// runs into one space and dropping leading whitespace.
fn push_collapsed(cur: &mut Inline, s: &str) {
    let flush = |cur: &mut Inline, run: &str| {
        if run.is_empty() {
            return;
        }
        if cur.space {
            cur.text.push(' ');
            cur.space = false;
        }
        cur.text.push_str(run);
    };
    let bytes = s.as_bytes();
    // `run` starts the text not yet copied; `i` is a char boundary.
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let width = if byte < 0x80 {
            if !matches!(byte, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
                i += 1;
                continue;
            }
            1
        } else {
            let Some(c) = s[i..].chars().next() else {
                break;
            };
            if !c.is_whitespace() {
                i += c.len_utf8();
                continue;
            }
            c.len_utf8()
        };
        flush(cur, &s[run..i]);
        if !cur.text.is_empty() {
            cur.space = true;
        }
        i += width;
        run = i;
    }
    flush(cur, &s[run..]);
}

#[cfg(test)]
mod push_tests {
    use super::*;

    /// The plain version: split on `char::is_whitespace`.
    fn push_split(cur: &mut Inline, s: &str) {
        for (i, piece) in s.split(char::is_whitespace).enumerate() {
            if i > 0 && !cur.text.is_empty() {
                cur.space = true;
            }
            if piece.is_empty() {
                continue;
            }
            if cur.space {
                cur.text.push(' ');
                cur.space = false;
            }
            cur.text.push_str(piece);
        }
    }

    #[test]
    fn collapses_whitespace_like_split() {
        let ascii: String = (0u8..0x80).map(char::from).collect();
        let pieces = [
            "",
            " ",
            "a",
            "  lead  and\ttabs\n\nnew  ",
            ascii.as_str(),
            "\u{85}x\u{a0}y\u{2000}z\u{3000}é\u{2028}\u{1c}\u{1f}日本 ",
            "end",
        ];
        for first in pieces {
            for second in pieces {
                let mut fast = Inline::new(BlockKind::Paragraph);
                let mut plain = Inline::new(BlockKind::Paragraph);
                for s in [first, second, first] {
                    push_collapsed(&mut fast, s);
                    push_split(&mut plain, s);
                    assert_eq!(fast.text, plain.text, "{first:?} {second:?}");
                    assert_eq!(fast.space, plain.space, "{first:?} {second:?}");
                }
            }
        }
    }
}
