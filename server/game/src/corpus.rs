//! The seam to the index: the [`Corpus`] trait the games read articles
//! through, and [`MemoryCorpus`], an in-memory implementation for tests and
//! small setups.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::text::{self, Text};

/// Where the games read articles from.
///
/// Contract: every method is deterministic for its arguments (the games
/// replay turns from a seed), cheap enough to call a few dozen times per turn
/// (implementations cache decoded articles), and never panics on odd input
/// (any text may reach [`Corpus::lookup`]).
pub trait Corpus: Send + Sync {
    /// Returns an article id that passes the filter, chosen deterministically
    /// from the seed; `exclude` are ids already played in this chat (the game
    /// avoids them until the pool is used up).
    ///
    /// When every article that passes the filter is in `exclude`, the pool is
    /// used up and an excluded one may be returned. `None` means no article
    /// passes the filter at all.
    fn random_article(&self, seed: u64, filter: &ArticleFilter, exclude: &[u64]) -> Option<u64>;

    /// Returns an article by id.
    fn article(&self, id: u64) -> Option<Arc<ArticleView>>;

    /// Candidate articles for a free-text name (entity linking, alias
    /// dictionary, fuzzy title), best first. Scores are comparable within one
    /// answer: the games treat two candidates whose scores are within 10% as
    /// ambiguous (see `Settings::ask_ambiguity`).
    fn lookup(&self, text: &str, limit: usize) -> Vec<Candidate>;

    /// The reader-facing address of an article (`https://en.wikipedia.org/wiki/...`).
    fn url(&self, title: &str) -> String;

    /// The id of the article with this exact title or redirect (after case
    /// and accent folding), if any. The default asks [`Corpus::lookup`] and
    /// keeps a candidate whose title folds to the same text.
    fn resolve(&self, title: &str) -> Option<u64> {
        let key = nlp::fold(title);
        if key.is_empty() {
            return None;
        }
        self.lookup(title, 5)
            .into_iter()
            .find(|candidate| nlp::fold(&candidate.title) == key)
            .map(|candidate| candidate.id)
    }
}

/// Which articles a game may pick.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleFilter {
    /// At least this many sentences.
    pub min_sentences: u32,
    /// At least this many articles link to it.
    pub min_inlinks: u32,
    /// At most this many articles link to it (`None`: no limit).
    pub max_inlinks: Option<u32>,
}

impl ArticleFilter {
    /// Tells whether an article passes the filter.
    pub fn accepts(&self, article: &ArticleView) -> bool {
        article.sentences.len() as u64 >= u64::from(self.min_sentences)
            && article.inlinks >= self.min_inlinks
            && self.max_inlinks.is_none_or(|max| article.inlinks <= max)
    }
}

/// What the games need of an article.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleView {
    /// The article id.
    pub id: u64,
    /// The title ("Mercury (planet)").
    pub title: String,
    /// Titles of the redirects to it.
    pub redirects: Vec<String>,
    /// The article's own bold names in its lead.
    pub bold: Vec<String>,
    /// Frequent link anchor texts pointing to it.
    pub aliases: Vec<String>,
    /// How many articles link to it.
    pub inlinks: u32,
    /// The sentences in document order, lead first.
    pub sentences: Vec<SentenceView>,
}

/// One sentence of an article.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceView {
    /// The clean text.
    pub text: String,
    /// The heading of its section, `""` for the lead.
    pub section: String,
    /// Links as `(start, end, target title)`, byte offsets into `text`.
    pub links: Vec<(u32, u32, String)>,
}

/// An article that may be meant by a name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The article id.
    pub id: u64,
    /// Its title.
    pub title: String,
    /// How well it matches, higher is better.
    pub score: f32,
}

/// A [`Corpus`] over articles held in memory.
///
/// [`MemoryCorpus::new`] takes ready views; [`MemoryCorpus::from_pages`]
/// builds them from wikitext pages with `nlp` (so tests can load a real dump).
#[derive(Debug, Clone)]
pub struct MemoryCorpus {
    articles: BTreeMap<u64, Arc<ArticleView>>,
    /// Folded titles and redirects -> article id.
    titles: HashMap<String, u64>,
    /// Per article: its names as answer keys with a lookup weight.
    names: BTreeMap<u64, Vec<(String, f32)>>,
    base_url: String,
    text: Text,
}

/// A page as a dump gives it: `(id, title, redirect target, wikitext)`.
pub type Page = (u64, String, Option<String>, String);

impl MemoryCorpus {
    /// Builds a corpus from article views. Ids must be unique (a later view
    /// with the same id replaces an earlier one).
    pub fn new(articles: impl IntoIterator<Item = ArticleView>) -> MemoryCorpus {
        let text = Text::new("en");
        let articles: BTreeMap<u64, Arc<ArticleView>> = articles
            .into_iter()
            .map(|view| (view.id, Arc::new(view)))
            .collect();
        let mut titles = HashMap::new();
        let mut names = BTreeMap::new();
        for (&id, view) in &articles {
            // Titles win over redirects: insert redirects first.
            for redirect in &view.redirects {
                titles.entry(nlp::fold(redirect)).or_insert(id);
            }
            names.insert(id, article_names(&text, view));
        }
        for (&id, view) in &articles {
            titles.insert(nlp::fold(&view.title), id);
        }
        MemoryCorpus {
            articles,
            titles,
            names,
            base_url: "https://en.wikipedia.org/wiki/".to_owned(),
            text,
        }
    }

    /// Builds a corpus from English wikitext pages `(id, title, redirect
    /// target, wikitext)`: parses articles with `nlp`, splits sentences,
    /// attaches redirects to their targets, counts in-links (distinct linking
    /// articles, through redirects) and collects aliases (anchor texts used at
    /// least twice for the article and for it in at least half of their uses).
    pub fn from_pages(pages: impl IntoIterator<Item = Page>) -> MemoryCorpus {
        let parser = nlp::Parser::new(&nlp::ParserConfig::english());
        let splitter = nlp::SentenceSplitter::new(nlp::Language::English);
        let mut redirects: Vec<(String, String)> = Vec::new();
        let mut views: BTreeMap<u64, ArticleView> = BTreeMap::new();
        for (id, title, redirect, wikitext) in pages {
            if let Some(target) = redirect {
                redirects.push((title, target));
                continue;
            }
            let (article, _warnings) = parser.parse(&title, &wikitext);
            let mut sentences = Vec::new();
            for section in &article.sections {
                for block in &section.blocks {
                    if !matches!(
                        block.kind,
                        nlp::BlockKind::Paragraph | nlp::BlockKind::ListItem
                    ) {
                        continue;
                    }
                    for range in splitter.split(&block.text) {
                        let Some(sentence) = block.text.get(range.clone()) else {
                            continue;
                        };
                        let trimmed = sentence.trim();
                        if trimmed.is_empty() {
                            continue;
                        }
                        let lead = sentence.len() - sentence.trim_start().len();
                        let start = range.start + lead;
                        let end = start + trimmed.len();
                        let links = block
                            .links
                            .iter()
                            .filter(|link| link.start as usize >= start && link.end as usize <= end)
                            .map(|link| {
                                (
                                    (link.start as usize - start) as u32,
                                    (link.end as usize - start) as u32,
                                    link.target.clone(),
                                )
                            })
                            .collect();
                        sentences.push(SentenceView {
                            text: trimmed.to_owned(),
                            section: section.heading.clone(),
                            links,
                        });
                    }
                }
            }
            views.insert(
                id,
                ArticleView {
                    id,
                    title,
                    redirects: Vec::new(),
                    bold: article.bold,
                    aliases: Vec::new(),
                    inlinks: 0,
                    sentences,
                },
            );
        }

        // Titles, then redirects (one or two hops) -> article id.
        let mut titles: HashMap<String, u64> = views
            .values()
            .map(|view| (nlp::fold(&view.title), view.id))
            .collect();
        let mut pending = redirects;
        for _hop in 0..2 {
            let mut unresolved = Vec::new();
            for (title, target) in pending {
                let target_key = nlp::fold(target.split('#').next().unwrap_or(""));
                match titles.get(&target_key) {
                    Some(&id) => {
                        titles.entry(nlp::fold(&title)).or_insert(id);
                        if let Some(view) = views.get_mut(&id) {
                            view.redirects.push(title);
                        }
                    }
                    None => unresolved.push((title, target)),
                }
            }
            pending = unresolved;
        }

        // In-links and anchor statistics.
        let mut linkers: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
        let mut anchor_uses: BTreeMap<(u64, String), (u32, String)> = BTreeMap::new();
        let mut anchor_totals: HashMap<String, u32> = HashMap::new();
        for view in views.values() {
            for sentence in &view.sentences {
                for (start, end, target) in &sentence.links {
                    let Some(&target_id) = titles.get(&nlp::fold(target)) else {
                        continue;
                    };
                    if target_id == view.id {
                        continue;
                    }
                    linkers.entry(target_id).or_default().insert(view.id);
                    let Some(anchor) = sentence.text.get(*start as usize..*end as usize) else {
                        continue;
                    };
                    let key = nlp::fold(anchor);
                    *anchor_totals.entry(key.clone()).or_default() += 1;
                    let entry = anchor_uses
                        .entry((target_id, key))
                        .or_insert_with(|| (0, anchor.to_owned()));
                    entry.0 += 1;
                }
            }
        }
        for ((target_id, key), (count, anchor)) in anchor_uses {
            let Some(view) = views.get_mut(&target_id) else {
                continue;
            };
            let total = anchor_totals.get(&key).copied().unwrap_or(count);
            let is_new_name = key != nlp::fold(&view.title)
                && !view.redirects.iter().any(|r| nlp::fold(r) == key);
            if is_new_name && count >= 2 && count * 2 >= total && text::letters(&key) >= 3 {
                view.aliases.push(anchor);
            }
        }
        for (id, sources) in linkers {
            if let Some(view) = views.get_mut(&id) {
                view.inlinks = sources.len() as u32;
            }
        }
        MemoryCorpus::new(views.into_values())
    }

    /// Sets the address prefix of [`Corpus::url`] (default
    /// `https://en.wikipedia.org/wiki/`).
    pub fn with_base_url(mut self, base_url: &str) -> MemoryCorpus {
        self.base_url = base_url.to_owned();
        self
    }

    /// Returns the number of articles.
    pub fn len(&self) -> usize {
        self.articles.len()
    }

    /// Tells whether the corpus holds no article.
    pub fn is_empty(&self) -> bool {
        self.articles.is_empty()
    }

    /// Iterates over the articles in id order.
    pub fn articles(&self) -> impl Iterator<Item = &Arc<ArticleView>> {
        self.articles.values()
    }
}

/// The names of an article as lookup keys (folded words joined by spaces)
/// with a weight: title 1.0, title without disambiguator 0.95, redirects
/// 0.9, bold names 0.85, aliases 0.8.
fn article_names(text: &Text, view: &ArticleView) -> Vec<(String, f32)> {
    let mut names: Vec<(String, f32)> = Vec::new();
    let mut add = |name: &str, weight: f32| {
        let key = name_key(text, name);
        if key.is_empty() {
            return;
        }
        match names.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => existing.1 = existing.1.max(weight),
            None => names.push((key, weight)),
        }
    };
    add(&view.title, 1.0);
    add(text::strip_disambiguator(&view.title), 0.95);
    for redirect in &view.redirects {
        add(redirect, 0.9);
    }
    for bold in &view.bold {
        add(bold, 0.85);
    }
    for alias in &view.aliases {
        add(alias, 0.8);
    }
    names
}

/// A name as a lookup key: folded words joined by single spaces, leading
/// article dropped.
fn name_key(text: &Text, name: &str) -> String {
    let words = text.words(name);
    let skip = usize::from(words.len() > 1 && text::is_leading_article(&words[0].key));
    words[skip..]
        .iter()
        .map(|w| w.key.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Corpus for MemoryCorpus {
    fn random_article(&self, seed: u64, filter: &ArticleFilter, exclude: &[u64]) -> Option<u64> {
        let pool: Vec<u64> = self
            .articles
            .values()
            .filter(|view| filter.accepts(view))
            .map(|view| view.id)
            .collect();
        let fresh: Vec<u64> = pool
            .iter()
            .copied()
            .filter(|id| !exclude.contains(id))
            .collect();
        let choices = if fresh.is_empty() { &pool } else { &fresh };
        if choices.is_empty() {
            return None;
        }
        let mut rng = crate::rng::Rng::new(seed);
        Some(choices[rng.below(choices.len())])
    }

    fn article(&self, id: u64) -> Option<Arc<ArticleView>> {
        self.articles.get(&id).cloned()
    }

    fn lookup(&self, query: &str, limit: usize) -> Vec<Candidate> {
        let key = name_key(&self.text, query);
        if key.is_empty() || limit == 0 {
            return Vec::new();
        }
        let query_chars: Vec<char> = key.chars().collect();
        let query_words: Vec<&str> = key.split(' ').collect();
        let mut found: Vec<(Candidate, u32)> = Vec::new();
        for (&id, names) in &self.names {
            let mut best = 0.0f32;
            for (name, weight) in names {
                let score = if *name == key {
                    *weight
                } else {
                    let name_chars: Vec<char> = name.chars().collect();
                    let allowed = text::allowed_typos(text::letters(name));
                    if let Some(d) = text::edit_distance(&query_chars, &name_chars, allowed) {
                        weight * (0.75 - 0.1 * d as f32)
                    } else {
                        // The query's words all appear in the name ("Lincoln").
                        let name_words: Vec<&str> = name.split(' ').collect();
                        let all_in = query_words.iter().all(|q| name_words.contains(q));
                        if all_in && text::letters(&key) >= 3 {
                            weight * 0.5 * query_words.len() as f32 / name_words.len() as f32
                        } else {
                            0.0
                        }
                    }
                };
                best = best.max(score);
            }
            if best > 0.0
                && let Some(view) = self.articles.get(&id)
            {
                found.push((
                    Candidate {
                        id,
                        title: view.title.clone(),
                        score: best,
                    },
                    view.inlinks,
                ));
            }
        }
        found.sort_by(|(a, a_in), (b, b_in)| {
            b.score
                .total_cmp(&a.score)
                .then(b_in.cmp(a_in))
                .then(a.id.cmp(&b.id))
        });
        found.truncate(limit);
        found.into_iter().map(|(candidate, _)| candidate).collect()
    }

    fn url(&self, title: &str) -> String {
        format!("{}{}", self.base_url, url_path(title))
    }

    fn resolve(&self, title: &str) -> Option<u64> {
        self.titles.get(&nlp::fold(title)).copied()
    }
}

/// Encodes a title as a wiki URL path: spaces to underscores, reserved and
/// non-ASCII bytes percent-encoded (so chat clients link the whole address).
pub(crate) fn url_path(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for byte in title.trim().bytes() {
        match byte {
            b' ' => out.push('_'),
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'_'
            | b'-'
            | b'.'
            | b'~'
            | b'('
            | b')'
            | b','
            | b':'
            | b'/'
            | b'!'
            | b'*'
            | b'\''
            | b'@'
            | b'$'
            | b';' => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(
        id: u64,
        title: &str,
        redirects: &[&str],
        inlinks: u32,
        n_sentences: usize,
    ) -> ArticleView {
        ArticleView {
            id,
            title: title.to_owned(),
            redirects: redirects.iter().map(|s| (*s).to_owned()).collect(),
            inlinks,
            sentences: (0..n_sentences)
                .map(|i| SentenceView {
                    text: format!("Sentence number {i}."),
                    ..SentenceView::default()
                })
                .collect(),
            ..ArticleView::default()
        }
    }

    fn corpus() -> MemoryCorpus {
        MemoryCorpus::new([
            view(1, "Abraham Lincoln", &["Abe Lincoln", "Honest Abe"], 50, 10),
            view(2, "Lincoln, Nebraska", &[], 20, 10),
            view(3, "Mercury (planet)", &[], 30, 3),
            view(4, "Mercury (element)", &[], 29, 10),
        ])
    }

    #[test]
    fn random_article_honours_filter_and_exclusions() {
        let corpus = corpus();
        let filter = ArticleFilter {
            min_sentences: 5,
            min_inlinks: 25,
            max_inlinks: None,
        };
        for seed in 0..20 {
            let id = corpus.random_article(seed, &filter, &[]).unwrap();
            assert!(id == 1 || id == 4, "{id}");
            assert_eq!(corpus.random_article(seed, &filter, &[1]), Some(4));
            // Pool used up: excluded ids come back.
            assert!(corpus.random_article(seed, &filter, &[1, 4]).is_some());
        }
        let none = ArticleFilter {
            min_inlinks: 1000,
            ..ArticleFilter::default()
        };
        assert_eq!(corpus.random_article(1, &none, &[]), None);
        let capped = ArticleFilter {
            max_inlinks: Some(20),
            ..ArticleFilter::default()
        };
        assert_eq!(corpus.random_article(9, &capped, &[]), Some(2));
    }

    #[test]
    fn lookup_ranks_exact_names_first() {
        let corpus = corpus();
        let found = corpus.lookup("abe lincoln", 3);
        assert_eq!(found[0].id, 1);
        let found = corpus.lookup("Abraham Lincon", 3);
        assert_eq!(found[0].id, 1, "{found:?}");
        let found = corpus.lookup("Mercury", 3);
        let ids: Vec<u64> = found.iter().map(|c| c.id).collect();
        assert_eq!(ids, [3, 4]);
        assert!((found[0].score - found[1].score).abs() < 0.01);
        assert!(corpus.lookup("", 3).is_empty());
        assert!(corpus.lookup("zzzz qqqq", 3).is_empty());
    }

    #[test]
    fn resolve_finds_titles_and_redirects() {
        let corpus = corpus();
        assert_eq!(corpus.resolve("abraham_lincoln"), Some(1));
        assert_eq!(corpus.resolve("Honest Abe"), Some(1));
        assert_eq!(corpus.resolve("Lincoln"), None);
    }

    #[test]
    fn urls_are_encoded() {
        let corpus = corpus();
        assert_eq!(
            corpus.url("Abraham Lincoln"),
            "https://en.wikipedia.org/wiki/Abraham_Lincoln"
        );
        assert_eq!(url_path("AC/DC & Co?"), "AC/DC_%26_Co%3F");
        assert_eq!(url_path("Éire"), "%C3%89ire");
    }

    #[test]
    fn from_pages_builds_views() {
        let pages: Vec<Page> = vec![
            (
                1,
                "Albedo".to_owned(),
                None,
                "'''Albedo''' or '''reflection coefficient''' is the measure of the \
                 [[diffuse reflection]] of light from a surface. It is measured on a scale."
                    .to_owned(),
            ),
            (
                2,
                "Diffuse reflection".to_owned(),
                None,
                "'''Diffuse reflection''' is the reflection of light. See [[albedo]] and \
                 [[Albedo|whiteness]] and more [[Albedo|whiteness]]."
                    .to_owned(),
            ),
            (
                3,
                "Reflectivity".to_owned(),
                Some("Albedo".to_owned()),
                String::new(),
            ),
            (
                4,
                "Surface".to_owned(),
                None,
                "A surface links to [[Reflectivity]] and [[Albedo|whiteness]].".to_owned(),
            ),
        ];
        let corpus = MemoryCorpus::from_pages(pages);
        assert_eq!(corpus.len(), 3);
        let albedo = corpus.article(1).unwrap();
        assert_eq!(albedo.redirects, ["Reflectivity"]);
        assert_eq!(albedo.bold, ["Albedo", "reflection coefficient"]);
        assert_eq!(albedo.inlinks, 2);
        assert_eq!(albedo.aliases, ["whiteness"]);
        assert_eq!(albedo.sentences.len(), 2);
        assert_eq!(albedo.sentences[0].section, "");
        let (start, end, target) = &albedo.sentences[0].links[0];
        assert_eq!(
            &albedo.sentences[0].text[*start as usize..*end as usize],
            "diffuse reflection"
        );
        assert_eq!(target, "Diffuse reflection");
        assert_eq!(corpus.article(2).unwrap().inlinks, 1);
        assert_eq!(corpus.resolve("reflectivity"), Some(1));
    }
}
