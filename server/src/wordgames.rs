//! The word games over an index: [`IndexCorpus`] lets the pure game rules
//! (`game` crate) read articles from an [`index::Index`], and [`WordGames`]
//! plugs those rules into the queue's [`Game`] seam.

use std::sync::{Arc, PoisonError, RwLock};

use crate::game::{Game, ScoreDelta, TurnInput, TurnOutput};
use crate::model::{Button, Reply};

/// Tries of `random_article` before giving up on finding an id not yet played.
const RANDOM_TRIES: u64 = 32;
/// Below this many articles the in-link levels are scaled down (small samples
/// have few links between their own articles).
const SMALL_INDEX_ARTICLES: u64 = 100_000;

/// A [`game::Corpus`] over an index directory.
pub struct IndexCorpus {
    index: Arc<index::Index>,
    url_base: String,
}

impl IndexCorpus {
    /// Wraps an open index; page links use the dump's base URL.
    pub fn new(index: Arc<index::Index>) -> IndexCorpus {
        let base = index.manifest().metadata["source"]["base"]
            .as_str()
            .unwrap_or("https://en.wikipedia.org/wiki/Main_Page");
        let url_base = match base.rfind('/') {
            Some(i) => base[..=i].to_owned(),
            None => format!("{base}/"),
        };
        IndexCorpus { index, url_base }
    }

    /// Game settings that fit the index: the default in-link levels, scaled
    /// down for a small index.
    pub fn settings(&self) -> game::Settings {
        let mut settings = game::Settings::default();
        if let Some(lang) = self.index.manifest().metadata["source"]["lang"].as_str() {
            settings.language = lang.to_owned();
        }
        if self.index.manifest().counts.articles < SMALL_INDEX_ARTICLES {
            settings.easy = game::InlinkRange { min: 1, max: None };
            settings.hard = game::InlinkRange { min: 0, max: None };
        }
        settings
    }

    fn view(&self, record: &index::ArticleRecord) -> game::ArticleView {
        let sentences = record
            .sections
            .iter()
            .flat_map(|section| {
                section.sentences.iter().map(|sentence| game::SentenceView {
                    text: sentence.text.clone(),
                    section: section.heading.clone(),
                    links: sentence
                        .links
                        .iter()
                        .map(|l| (l.start, l.end, l.target.clone()))
                        .collect(),
                })
            })
            .collect();
        game::ArticleView {
            id: record.id,
            title: record.title.clone(),
            redirects: self.index.redirects_to(record.id).unwrap_or_default(),
            bold: record.bold.clone(),
            aliases: Vec::new(),
            inlinks: self.index.inlinks(record.id).unwrap_or(0),
            sentences,
        }
    }

    fn title_of(&self, id: u64) -> Option<String> {
        self.index
            .article(id)
            .ok()
            .flatten()
            .map(|a| a.title.clone())
    }
}

impl game::Corpus for IndexCorpus {
    fn random_article(
        &self,
        seed: u64,
        filter: &game::ArticleFilter,
        exclude: &[u64],
    ) -> Option<u64> {
        let filter = index::RandomFilter {
            min_sentences: filter.min_sentences,
            min_inlinks: filter.min_inlinks,
            max_inlinks: filter.max_inlinks,
        };
        let mut fallback = None;
        for attempt in 0..RANDOM_TRIES {
            let seed = seed.wrapping_add(attempt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            match self.index.random(seed, &filter) {
                Ok(Some(id)) if !exclude.contains(&id) => return Some(id),
                Ok(Some(id)) => fallback = fallback.or(Some(id)),
                Ok(None) => return None,
                Err(error) => {
                    tracing::warn!(%error, "random article failed");
                    return None;
                }
            }
        }
        fallback
    }

    fn article(&self, id: u64) -> Option<Arc<game::ArticleView>> {
        match self.index.article(id) {
            Ok(Some(record)) => Some(Arc::new(self.view(&record))),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(%error, id, "article read failed");
                None
            }
        }
    }

    fn lookup(&self, text: &str, limit: usize) -> Vec<game::Candidate> {
        let key = nlp::fold(text);
        if key.is_empty() || limit == 0 {
            return Vec::new();
        }
        let mut found: Vec<game::Candidate> = Vec::new();
        let push = |found: &mut Vec<game::Candidate>, id: u64, score: f32| {
            if found.iter().any(|c| c.id == id) {
                return;
            }
            if let Some(title) = self.title_of(id) {
                found.push(game::Candidate { id, title, score });
            }
        };
        if let Ok(Some(id)) = self.index.title(&key) {
            push(&mut found, id, 1.0);
        }
        let tokens: Vec<String> = nlp::tokenize(text)
            .into_iter()
            .map(|t| nlp::fold(&t.text))
            .collect();
        if let Ok(candidates) = self.index.aliases(&tokens.join(" ")) {
            for candidate in candidates {
                push(&mut found, candidate.id, 0.9 * candidate.prior);
            }
        }
        if found.is_empty()
            && let Ok(hits) = self
                .index
                .fuzzy(&key, if key.len() > 8 { 2 } else { 1 }, limit)
        {
            for (_, id, distance) in hits {
                push(&mut found, id, 0.5 / (1.0 + distance as f32));
            }
        }
        found.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        found.truncate(limit);
        found
    }

    fn url(&self, title: &str) -> String {
        format!("{}{}", self.url_base, title.replace(' ', "_"))
    }

    fn resolve(&self, title: &str) -> Option<u64> {
        self.index.title(&nlp::fold(title)).ok().flatten()
    }
}

/// The word games as the queue's [`Game`]: decodes the chat's JSON state, runs
/// one pure step and encodes the result.
///
/// The index can be replaced while serving ([`WordGames::replace_index`], driven by
/// [`crate::watch_index`]): each turn runs on the games current when it starts.
pub struct WordGames {
    current: RwLock<Arc<Current>>,
}

/// The games over one index, and which index.
struct Current {
    games: game::Games,
    index: Option<IndexStatus>,
}

impl Current {
    fn over(index: Arc<index::Index>, build: String, generation: u64) -> Current {
        let status = IndexStatus {
            generation,
            build,
            dir: index.path().display().to_string(),
            articles: index.manifest().counts.articles,
        };
        let corpus = IndexCorpus::new(index);
        let settings = corpus.settings();
        Current {
            games: game::Games::new(Arc::new(corpus), settings),
            index: Some(status),
        }
    }
}

/// Which index the games read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndexStatus {
    /// 1 for the index opened at start, plus one per replacement.
    pub generation: u64,
    /// The build id (see [`crate::OpenedIndex::build`]).
    pub build: String,
    /// The directory (symlinks resolved).
    pub dir: String,
    /// Articles in the index.
    pub articles: u64,
}

impl WordGames {
    /// Creates the games over a corpus.
    pub fn new(corpus: Arc<dyn game::Corpus>, settings: game::Settings) -> WordGames {
        let current = Current {
            games: game::Games::new(corpus, settings),
            index: None,
        };
        WordGames {
            current: RwLock::new(Arc::new(current)),
        }
    }

    /// Creates the games over an open index, with settings that fit it.
    pub fn over_index(index: Arc<index::Index>) -> WordGames {
        WordGames::over_opened(crate::OpenedIndex {
            index,
            build: String::new(),
        })
    }

    /// Creates the games over an index opened by [`crate::open_index`] (generation 1).
    pub fn over_opened(opened: crate::OpenedIndex) -> WordGames {
        let current = Current::over(opened.index, opened.build, 1);
        WordGames {
            current: RwLock::new(Arc::new(current)),
        }
    }

    /// Swaps in the games over a new index; turns in flight finish on the old one.
    /// Returns the new generation.
    pub fn replace_index(&self, index: Arc<index::Index>, build: String) -> u64 {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let generation = current
            .index
            .as_ref()
            .map_or(1, |status| status.generation + 1);
        *current = Arc::new(Current::over(index, build, generation));
        generation
    }

    /// Which index the games read (`None` for games over another corpus).
    pub fn index_status(&self) -> Option<IndexStatus> {
        self.current().index.clone()
    }

    /// The build id of the index served, if any.
    pub fn build(&self) -> Option<String> {
        self.index_status().map(|status| status.build)
    }

    fn current(&self) -> Arc<Current> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Game for WordGames {
    fn describe(&self) -> serde_json::Value {
        match self.index_status() {
            Some(status) => serde_json::json!({ "index": status }),
            None => serde_json::Value::Null,
        }
    }

    fn step(&self, input: TurnInput<'_>) -> TurnOutput {
        let current = self.current();
        let state: game::ChatState = if input.state.is_null() {
            game::ChatState::default()
        } else {
            serde_json::from_value(input.state.clone()).unwrap_or_else(|error| {
                // A state this version cannot read starts the chat afresh rather
                // than failing every turn of the chat.
                tracing::warn!(%error, chat = %input.message.chat_id, "unreadable chat state reset");
                game::ChatState::default()
            })
        };
        let message = game::Message {
            sender_id: input.message.sender_id.clone(),
            sender_name: input.message.sender_name.clone(),
            text: input.message.text.clone(),
            is_group: input.message.is_group,
            platform: input.message.platform.clone(),
        };
        let step = current
            .games
            .step(&state, &message, input.now.as_millis(), input.seed);
        TurnOutput {
            state: serde_json::to_value(&step.state).unwrap_or(serde_json::Value::Null),
            replies: step
                .replies
                .into_iter()
                .map(|reply| Reply {
                    text: reply.text,
                    buttons: reply
                        .buttons
                        .into_iter()
                        .map(|b| Button {
                            label: b.label,
                            command: b.command,
                        })
                        .collect(),
                })
                .collect(),
            score_deltas: step
                .scores
                .into_iter()
                .map(|(player_id, delta)| ScoreDelta { player_id, delta })
                .collect(),
        }
    }
}
