//! The text layout of WikiExtractor 3.1.0's `--json` output.
//!
//! WikiExtractor's `compact()` keeps one line per paragraph line, drops list
//! lines and table residue, and writes the pending headings of a section
//! (with a final `.` unless they end in `!` or `?`) just before its first
//! paragraph, so headings of empty sections vanish. The JSON `text` field
//! joins those lines with `\n`.

use super::{Article, BlockKind};

pub(super) fn text(article: &Article) -> String {
    let mut lines: Vec<String> = Vec::new();
    // Headings waiting for their first paragraph, by level.
    let mut pending: Vec<(u8, String)> = Vec::new();
    for section in &article.sections {
        if section.level > 0 {
            pending.retain(|(level, _)| *level < section.level);
            let mut heading = section.heading.clone();
            if !heading.is_empty() && !heading.ends_with(['!', '?']) {
                heading.push('.');
            }
            pending.push((section.level, heading));
        }
        for block in &section.blocks {
            if block.kind != BlockKind::Paragraph || is_dropped_line(&block.text) {
                continue;
            }
            for (_, heading) in pending.drain(..) {
                if !heading.is_empty() {
                    lines.push(heading);
                }
            }
            lines.push(block.text.clone());
        }
    }
    lines.join("\n")
}

/// Lines WikiExtractor drops: a whole parenthesis, or only punctuation.
fn is_dropped_line(line: &str) -> bool {
    (line.starts_with('(') && line.ends_with(')'))
        || !line.chars().any(char::is_alphanumeric)
        || line.trim_matches(['.', '-']).is_empty()
}
