//! Entities of an article: link targets with their anchors, and bold self mentions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::wikitext::{Article, normalize_title};

/// Where an entity mention comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EntityKind {
    /// A wikilink to another page.
    Link,
    /// A bold mention of the article's own name in its lead.
    SelfMention,
}

/// A page mentioned by an article, with the texts used to mention it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Title of the mentioned page (normalized like [`crate::Link::target`]).
    pub target: String,
    /// Distinct anchor texts with how often each occurs in this article, sorted by text.
    pub anchors: Vec<(String, u32)>,
    /// Number of mentions (the sum of the anchor counts).
    pub count: u32,
    /// Where the mentions come from.
    pub kind: EntityKind,
}

/// Collects the entities of an article: every link target with its anchor
/// texts, plus one [`EntityKind::SelfMention`] entity for `title` whose anchors
/// are the bold names of the lead ([`Article::bold`]).
///
/// The result is sorted by target, then kind, so it is deterministic.
pub fn entities(article: &Article, title: &str) -> Vec<Entity> {
    let mut by_target: BTreeMap<(&str, EntityKind), BTreeMap<&str, u32>> = BTreeMap::new();
    for section in &article.sections {
        for block in &section.blocks {
            for link in &block.links {
                let Some(anchor) = block.text.get(link.start as usize..link.end as usize) else {
                    continue;
                };
                *by_target
                    .entry((link.target.as_str(), EntityKind::Link))
                    .or_default()
                    .entry(anchor)
                    .or_default() += 1;
            }
        }
    }
    let self_target = normalize_title(title);
    if !article.bold.is_empty() && !self_target.is_empty() {
        let anchors = by_target
            .entry((self_target.as_str(), EntityKind::SelfMention))
            .or_default();
        for name in &article.bold {
            *anchors.entry(name.as_str()).or_default() += 1;
        }
    }
    by_target
        .into_iter()
        .map(|((target, kind), anchors)| Entity {
            target: target.to_owned(),
            count: anchors.values().sum(),
            anchors: anchors
                .into_iter()
                .map(|(anchor, n)| (anchor.to_owned(), n))
                .collect(),
            kind,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Parser, ParserConfig};

    #[test]
    fn collects_links_and_self_mentions() {
        let parser = Parser::new(&ParserConfig::english());
        let (article, _) = parser.parse(
            "Albedo",
            "'''Albedo''' ({{IPAc-en|æ|l|ˈ|b|iː|d|oʊ}}), or '''reflection coefficient''', \
             is the [[diffuse reflection|diffuse reflectivity]] of a [[surface]].\n\n\
             The [[surface]]s and [[Surface]] and [[diffuse_reflection]].",
        );
        let got = entities(&article, "Albedo");
        type Summary = (String, Vec<(String, u32)>, u32, EntityKind);
        let summary: Vec<Summary> = got
            .into_iter()
            .map(|e| (e.target, e.anchors, e.count, e.kind))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "Albedo".to_owned(),
                    vec![
                        ("Albedo".to_owned(), 1),
                        ("reflection coefficient".to_owned(), 1)
                    ],
                    2,
                    EntityKind::SelfMention
                ),
                (
                    "Diffuse reflection".to_owned(),
                    vec![
                        ("diffuse reflectivity".to_owned(), 1),
                        ("diffuse_reflection".to_owned(), 1)
                    ],
                    2,
                    EntityKind::Link
                ),
                (
                    "Surface".to_owned(),
                    vec![
                        ("Surface".to_owned(), 1),
                        ("surface".to_owned(), 1),
                        ("surfaces".to_owned(), 1)
                    ],
                    3,
                    EntityKind::Link
                ),
            ]
        );
    }

    #[test]
    fn empty_article_has_no_entities() {
        assert!(entities(&Article::default(), "X").is_empty());
    }
}
