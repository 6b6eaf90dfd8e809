//! What the reader yields: the site header and pages.

/// The `<siteinfo>` header of a dump. Every field is `None` (and the
/// namespace list empty) for dumps without one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteInfo {
    /// `<sitename>`, e.g. "Wikipedia".
    pub sitename: Option<String>,
    /// `<dbname>`, e.g. "enwiki".
    pub dbname: Option<String>,
    /// `<base>`: URL of the main page.
    pub base: Option<String>,
    /// `<generator>`, e.g. "MediaWiki 1.27.0-wmf.22".
    pub generator: Option<String>,
    /// `<case>`: "first-letter" or "case-sensitive".
    pub case: Option<String>,
    /// Namespaces as (key, name), sorted by key; the main namespace has an
    /// empty name.
    pub namespaces: Vec<(i32, String)>,
    /// Language code, from the dbname ("enwiki" -> "en", "simplewiki" ->
    /// "simple", "elwikivoyage" -> "el") or else the host of the base URL.
    pub lang: Option<String>,
    /// Export schema version from `<mediawiki version="...">`, e.g. "0.10".
    pub schema_version: Option<String>,
}

/// Project suffixes of Wikimedia database names, longest first where one is
/// a suffix of another.
const PROJECT_SUFFIXES: [&str; 9] = [
    "wiktionary",
    "wikiquote",
    "wikibooks",
    "wikisource",
    "wikinews",
    "wikiversity",
    "wikivoyage",
    "wikimedia",
    "wiki",
];

/// Database names that end in "wiki" but are not a language edition.
const NOT_LANGUAGES: [&str; 8] = [
    "commons",
    "wikidata",
    "meta",
    "species",
    "mediawiki",
    "sources",
    "incubator",
    "outreach",
];

impl SiteInfo {
    /// Derives [`SiteInfo::lang`] from the dbname or the base URL.
    pub(crate) fn derive_lang(&mut self) {
        self.lang = self
            .dbname
            .as_deref()
            .and_then(lang_from_dbname)
            .or_else(|| self.base.as_deref().and_then(lang_from_base));
    }
}

fn lang_from_dbname(dbname: &str) -> Option<String> {
    let prefix = PROJECT_SUFFIXES
        .iter()
        .find_map(|suffix| dbname.strip_suffix(suffix))?;
    if prefix.is_empty() || NOT_LANGUAGES.contains(&prefix) {
        return None;
    }
    Some(prefix.replace('_', "-"))
}

fn lang_from_base(base: &str) -> Option<String> {
    let host = base.split("://").nth(1)?.split('/').next()?;
    let mut labels = host.split('.');
    let first = labels.next()?;
    let is_wikimedia_site =
        labels.count() >= 2 && first.chars().all(|c| c.is_ascii_lowercase() || c == '-');
    (is_wikimedia_site && !NOT_LANGUAGES.contains(&first) && first != "www")
        .then(|| first.to_owned())
}

/// One page of a dump with its latest revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Page id.
    pub id: u64,
    /// Namespace key (0 for articles).
    pub ns: i32,
    /// Title, with the namespace prefix for other namespaces.
    pub title: String,
    /// Redirect target, for redirect pages.
    pub redirect: Option<String>,
    /// Id of the latest revision.
    pub revid: Option<u64>,
    /// Timestamp of the latest revision, as in the dump
    /// ("2016-05-01T12:34:56Z").
    pub timestamp: Option<String>,
    /// Content model ("wikitext"), when given.
    pub model: Option<String>,
    /// Content format ("text/x-wiki"), when given.
    pub format: Option<String>,
    /// Wikitext of the latest revision, entities decoded; empty when the
    /// text is missing or deleted.
    pub text: String,
    /// Byte offset of `<page>` in the decompressed XML read by this reader.
    pub offset: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lang_comes_from_dbname_or_base() {
        let lang = |dbname: Option<&str>, base: Option<&str>| {
            let mut info = SiteInfo {
                dbname: dbname.map(str::to_owned),
                base: base.map(str::to_owned),
                ..SiteInfo::default()
            };
            info.derive_lang();
            info.lang
        };
        assert_eq!(lang(Some("enwiki"), None).as_deref(), Some("en"));
        assert_eq!(lang(Some("simplewiki"), None).as_deref(), Some("simple"));
        assert_eq!(lang(Some("elwikivoyage"), None).as_deref(), Some("el"));
        assert_eq!(
            lang(Some("zh_min_nanwiki"), None).as_deref(),
            Some("zh-min-nan")
        );
        assert_eq!(lang(Some("dewiktionary"), None).as_deref(), Some("de"));
        assert_eq!(lang(Some("commonswiki"), None), None);
        assert_eq!(
            lang(None, Some("https://fr.wikipedia.org/wiki/Accueil")).as_deref(),
            Some("fr")
        );
        assert_eq!(lang(None, Some("https://example.com/wiki/Main")), None);
        assert_eq!(lang(None, None), None);
    }
}
