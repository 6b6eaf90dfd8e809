//! Text-producing templates, rendered the way readers see them.
//!
//! Templates are not expanded from their definitions (a dump's `Template:`
//! pages may be absent); the common ones that put words into running text are
//! rendered here by name, and every other template is dropped.

use parse_wiki_text_2::{Node, Parameter};

use super::builder::Builder;

/// Renders one template call into the builder.
pub(super) fn render(builder: &mut Builder<'_>, name: &[Node<'_>], params: &[Parameter<'_>]) {
    let Some(key) = template_key(name) else {
        return;
    };
    if let Some((function, value)) = key.split_once(':') {
        parser_function(builder, function, value, name);
        return;
    }
    let args = Args::new(params);
    match key.as_str() {
        "lang" | "langx" | "script" | "native name" | "lang-x" => args.render(builder, 1),
        _ if key.starts_with("lang-") => args.render(builder, 0),
        "transl" | "transliteration" | "translit" => {
            let i = if args.has(2) { 2 } else { 1 };
            args.render(builder, i);
        }
        "nowrap"
        | "nobr"
        | "nobreak"
        | "small"
        | "smaller"
        | "big"
        | "larger"
        | "midsize"
        | "abbr"
        | "abbrlink"
        | "nobold"
        | "noitalic"
        | "em"
        | "strong"
        | "var"
        | "mvar"
        | "math"
        | "serif"
        | "sc"
        | "smallcaps"
        | "small caps"
        | "visible anchor"
        | "nihongo"
        | "nihongo2"
        | "ill"
        | "interlanguage link"
        | "interlanguage link multi"
        | "iii"
        | "unicode"
        | "polytonic"
        | "not a typo"
        | "proper name"
        | "text"
        | "flag"
        | "flagu"
        | "center"
        | "sup"
        | "sub"
        | "keypress"
        | "highlight"
        | "color"
        | "colored text"
        | "nts"
        | "lang-und" => {
            if key == "color" || key == "colored text" {
                args.render(builder, 1);
            } else {
                args.render(builder, 0);
            }
        }
        "marker" | "listing" | "see" | "do" | "buy" | "eat" | "drink" | "sleep" => {
            if let Some(nodes) = args.named("name") {
                builder.nodes(nodes);
            }
        }
        "quote" | "blockquote" | "cquote" | "quotation" | "quote box" => {
            match args.named("text").or_else(|| args.named("quote")) {
                Some(nodes) => builder.nodes(nodes),
                None => args.render(builder, 0),
            }
        }
        "resize" => {
            let i = if args.has(1) { 1 } else { 0 };
            args.render(builder, i);
        }
        "sic" => {
            for i in 0..args.positional.len() {
                args.render(builder, i);
            }
        }
        "sortname" => {
            args.render(builder, 0);
            builder.push_str(" ");
            args.render(builder, 1);
        }
        "ship" => {
            args.render(builder, 0);
            builder.push_str(" ");
            args.render(builder, 1);
            if args.has(2) {
                builder.push_str(" (");
                args.render(builder, 2);
                builder.push_str(")");
            }
        }
        "snd" | "spnd" | "sndash" | "spaced ndash" | "spaced en dash" => builder.push_str(" – "),
        "ndash" | "en dash" => builder.push_str("–"),
        "mdash" | "em dash" => builder.push_str("—"),
        "spaced mdash" | "smdash" | "spmdash" | "spaced em dash" => builder.push_str(" — "),
        "nbsp" => builder.push_str(" "),
        "'" => builder.push_str("'"),
        "'s" => builder.push_str("'s"),
        "=" => builder.push_str("="),
        "!" => builder.push_str("|"),
        "·" | "dot" | "middot" => builder.push_str(" · "),
        "•" | "bull" | "bullet" => builder.push_str(" • "),
        "okina" => builder.push_str("ʻ"),
        "convert" | "cvt" => convert(builder, &args),
        "frac" | "sfrac" | "fraction" => fraction(builder, &args),
        "circa" | "c." => prefixed(builder, &args, "c. "),
        "floruit" | "fl." => prefixed(builder, &args, "fl. "),
        "us$" | "usd" => {
            builder.push_str(" US$");
            args.render(builder, 0);
        }
        "£" | "gbp" => {
            builder.push_str(" £");
            args.render(builder, 0);
        }
        "as of" => as_of(builder, &args),
        "birth date" | "birth date and age" | "death date" | "death date and age"
        | "start date" | "end date" | "start date and age" | "dob" | "bda" | "dda" => {
            date(builder, &args)
        }
        "birth year and age" | "death year and age" => args.render(builder, 0),
        "val" => {
            args.render(builder, 0);
            if let Some(unit) = args.named("u").or_else(|| args.named("ul")) {
                builder.push_str(" ");
                builder.push_str(&unit_name(&raw_text(unit)));
            }
        }
        "hlist" | "ubl" | "unbulleted list" | "plainlist" | "flatlist" | "bulleted list" => {
            let separator = if key == "hlist" { " · " } else { ", " };
            let mut first = true;
            for i in 0..args.positional.len() {
                if !args.has(i) {
                    continue;
                }
                if !first {
                    builder.push_str(separator);
                }
                first = false;
                args.render(builder, i);
            }
        }
        _ => {}
    }
}

/// Parser functions that show a value: `{{formatnum:1234}}`, `{{lc:X}}`...
fn parser_function(builder: &mut Builder<'_>, function: &str, _key_value: &str, name: &[Node<'_>]) {
    // Take the value from the raw name to keep its case.
    let raw = raw_text(name);
    let Some((_, value)) = raw.split_once(':') else {
        return;
    };
    let value = value.trim();
    match function.trim() {
        "formatnum" => builder.push_str(value),
        "lc" => builder.push_str(&value.to_lowercase()),
        "uc" => builder.push_str(&value.to_uppercase()),
        "lcfirst" | "ucfirst" => {
            let mut chars = value.chars();
            if let Some(first) = chars.next() {
                let first: String = if function.trim() == "lcfirst" {
                    first.to_lowercase().collect()
                } else {
                    first.to_uppercase().collect()
                };
                builder.push_str(&first);
                builder.push_str(chars.as_str());
            }
        }
        _ => {}
    }
}

/// Returns the lookup key of a template name: lowercase, single-spaced,
/// without `Template:` or `subst:` prefixes; `None` if the name is computed.
fn template_key(name: &[Node<'_>]) -> Option<String> {
    if name
        .iter()
        .any(|n| !matches!(n, Node::Text { .. } | Node::Comment { .. }))
    {
        return None;
    }
    let raw = raw_text(name);
    let mut key = String::with_capacity(raw.len());
    for word in raw.split(|c: char| c.is_whitespace() || c == '_') {
        if word.is_empty() {
            continue;
        }
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(word);
    }
    let mut key = key.to_lowercase();
    for prefix in ["safesubst:", "subst:", "template:", "msgnw:"] {
        if let Some(rest) = key.strip_prefix(prefix) {
            key = rest.trim_start().to_owned();
        }
    }
    Some(key)
}

/// The text of text and entity nodes (others ignored).
fn raw_text(nodes: &[Node<'_>]) -> String {
    let mut out = String::new();
    for node in nodes {
        match node {
            Node::Text { value, .. } => out.push_str(value),
            Node::CharacterEntity { character, .. } => out.push(*character),
            _ => {}
        }
    }
    out
}

/// The arguments of a template call, positional and named.
struct Args<'n, 'a> {
    positional: Vec<Option<&'n [Node<'a>]>>,
    named: Vec<(String, &'n [Node<'a>])>,
}

/// Highest explicit positional index honoured (`{{x|64=...}}`).
const MAX_POSITIONAL: usize = 64;

impl<'n, 'a> Args<'n, 'a> {
    fn new(params: &'n [Parameter<'a>]) -> Self {
        let mut args = Args {
            positional: Vec::new(),
            named: Vec::new(),
        };
        let mut next = 0;
        for param in params {
            match &param.name {
                None => {
                    args.set(next, &param.value);
                    next += 1;
                }
                Some(name) => {
                    let name = raw_text(name);
                    let name = name.trim();
                    match name.parse::<usize>() {
                        Ok(i) if (1..=MAX_POSITIONAL).contains(&i) => args.set(i - 1, &param.value),
                        _ => args.named.push((name.to_lowercase(), &param.value)),
                    }
                }
            }
        }
        args
    }

    fn set(&mut self, i: usize, value: &'n [Node<'a>]) {
        if i >= MAX_POSITIONAL {
            return;
        }
        if self.positional.len() <= i {
            self.positional.resize(i + 1, None);
        }
        self.positional[i] = Some(value);
    }

    /// Tells whether positional argument `i` (0-based) has visible content.
    fn has(&self, i: usize) -> bool {
        self.positional
            .get(i)
            .copied()
            .flatten()
            .is_some_and(has_content)
    }

    fn get(&self, i: usize) -> Option<&'n [Node<'a>]> {
        self.positional.get(i).copied().flatten()
    }

    fn raw(&self, i: usize) -> String {
        self.get(i)
            .map(raw_text)
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    fn named(&self, name: &str) -> Option<&'n [Node<'a>]> {
        self.named
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .filter(|v| has_content(v))
    }

    fn render(&self, builder: &mut Builder<'_>, i: usize) {
        if let Some(nodes) = self.get(i) {
            builder.nodes(nodes);
        }
    }
}

fn has_content(nodes: &[Node<'_>]) -> bool {
    nodes.iter().any(|n| match n {
        Node::Text { value, .. } => !value.trim().is_empty(),
        Node::Comment { .. } => false,
        _ => true,
    })
}

/// `{{convert|1|km|mi}}` -> `1 km`; `{{convert|5|to|10|km}}` -> `5 to 10 km`.
fn convert(builder: &mut Builder<'_>, args: &Args<'_, '_>) {
    let value = args.raw(0);
    if value.is_empty() {
        return;
    }
    let second = args.raw(1);
    const RANGES: &[&str] = &[
        "-", "–", "to", "and", "or", "by", "x", "×", "+/-", "±", "&", "to(-)", "and(-)", "+",
    ];
    let text = if RANGES.contains(&second.as_str()) && args.has(2) {
        let separator = match second.as_str() {
            "-" | "–" | "to(-)" | "and(-)" => "–".to_owned(),
            "x" | "×" | "by" => " × ".to_owned(),
            other => format!(" {other} "),
        };
        format!(
            "{value}{separator}{} {}",
            args.raw(2),
            unit_name(&args.raw(3))
        )
    } else {
        format!("{value} {}", unit_name(&second))
    };
    builder.push_str(text.trim_end());
}

/// Shows common unit codes of `{{convert}}` as readers see them.
fn unit_name(unit: &str) -> String {
    let shown = match unit {
        "km2" => "km²",
        "m2" => "m²",
        "cm2" => "cm²",
        "sqmi" | "mi2" => "sq mi",
        "sqft" | "ft2" => "sq ft",
        "m3" => "m³",
        "km3" => "km³",
        "C" | "degC" => "°C",
        "F" | "degF" => "°F",
        "acre" => "acres",
        "kmh" | "km/h" => "km/h",
        "mph" => "mph",
        "ftin" => "ft",
        "lb" => "lb",
        other => other,
    };
    shown.to_owned()
}

/// `{{frac|1|2}}` -> `1/2`; `{{frac|3|1|2}}` -> `3 1/2`; `{{frac|4}}` -> `1/4`.
fn fraction(builder: &mut Builder<'_>, args: &Args<'_, '_>) {
    let parts: Vec<String> = (0..3).map(|i| args.raw(i)).collect();
    let text = match (&parts[0], &parts[1], &parts[2]) {
        (a, b, c) if !a.is_empty() && !b.is_empty() && !c.is_empty() => format!("{a} {b}/{c}"),
        (a, b, _) if !a.is_empty() && !b.is_empty() => format!("{a}/{b}"),
        (a, _, _) if !a.is_empty() => format!("1/{a}"),
        _ => return,
    };
    builder.push_str(&text);
}

fn prefixed(builder: &mut Builder<'_>, args: &Args<'_, '_>, prefix: &str) {
    builder.word_break();
    builder.push_str(prefix);
    args.render(builder, 0);
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Formats a year, month, day triple (`February 12, 1809`; day first with `df=y`).
fn format_date(year: &str, month: &str, day: &str, day_first: bool) -> String {
    let month_name = month
        .parse::<usize>()
        .ok()
        .and_then(|m| m.checked_sub(1))
        .and_then(|m| MONTHS.get(m))
        .copied();
    let day = day.trim_start_matches('0');
    match (month_name, day.is_empty()) {
        (None, _) => year.to_owned(),
        (Some(month), true) => format!("{month} {year}"),
        (Some(month), false) if day_first => format!("{day} {month} {year}"),
        (Some(month), false) => format!("{month} {day}, {year}"),
    }
}

fn date(builder: &mut Builder<'_>, args: &Args<'_, '_>) {
    let year = args.raw(0);
    if year.is_empty() {
        return;
    }
    let day_first = args
        .named("df")
        .map(raw_text)
        .is_some_and(|v| matches!(v.trim(), "y" | "yes" | "Y" | "Yes"));
    let text = format_date(&year, &args.raw(1), &args.raw(2), day_first);
    builder.push_str(&text);
}

/// `{{As of|2016|5}}` -> `As of May 2016`.
fn as_of(builder: &mut Builder<'_>, args: &Args<'_, '_>) {
    let year = args.raw(0);
    if year.is_empty() {
        return;
    }
    let lowercase = args.named("lc").is_some();
    let day_first = args.named("df").is_some();
    let date = format_date(&year, &args.raw(1), &args.raw(2), day_first);
    builder.push_str(if lowercase { "as of " } else { "As of " });
    builder.push_str(&date);
}
