//! The XML layer: a quick-xml pull parser over decompressed bytes that
//! yields [`Page`]s, and [`Batches`] that move it to its own thread.

use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, bounded};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart, Event};

use crate::Format;
use crate::error::{Error, Position, Result};
use crate::page::{Page, SiteInfo};
use crate::progress::Progress;
use crate::source::XmlSource;

/// Elements the reader cares about; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Mediawiki,
    Siteinfo,
    Sitename,
    Dbname,
    Base,
    Generator,
    Case,
    Namespaces,
    Namespace,
    Page,
    Title,
    Ns,
    Id,
    Redirect,
    Revision,
    Timestamp,
    Model,
    Format,
    Text,
    Other,
}

impl Tag {
    fn of(local_name: &str) -> Tag {
        match local_name {
            "mediawiki" => Tag::Mediawiki,
            "siteinfo" => Tag::Siteinfo,
            "sitename" => Tag::Sitename,
            "dbname" => Tag::Dbname,
            "base" => Tag::Base,
            "generator" => Tag::Generator,
            "case" => Tag::Case,
            "namespaces" => Tag::Namespaces,
            "namespace" => Tag::Namespace,
            "page" => Tag::Page,
            "title" => Tag::Title,
            "ns" => Tag::Ns,
            "id" => Tag::Id,
            "redirect" => Tag::Redirect,
            "revision" => Tag::Revision,
            "timestamp" => Tag::Timestamp,
            "model" => Tag::Model,
            "format" => Tag::Format,
            "text" => Tag::Text,
            _ => Tag::Other,
        }
    }
}

/// Which value the text being read belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    Sitename,
    Dbname,
    Base,
    Generator,
    Case,
    Namespace(i32),
    Title,
    Ns,
    PageId,
    RevId,
    Timestamp,
    Model,
    Format,
    /// Goes straight into the page text.
    Text,
}

/// A page being read.
#[derive(Debug, Default)]
struct PageDraft {
    page: Page,
    has_id: bool,
    has_title: bool,
}

/// Streaming reader of the pages of one dump.
///
/// Made by [`crate::open`]. It yields pages in dump order, either one by
/// one ([`DumpReader::next_page`], or as an [`Iterator`]) or in batches on
/// a thread of their own ([`DumpReader::into_batches`]). After an error it
/// yields nothing more.
pub struct DumpReader {
    xml: quick_xml::Reader<Box<dyn XmlSource>>,
    buf: Vec<u8>,
    name: String,
    format: Format,
    siteinfo: SiteInfo,
    progress: Progress,
    path: Vec<Tag>,
    field: Field,
    value: String,
    draft: Option<PageDraft>,
    last_page: Option<(u64, String)>,
    /// A byte range of a multistream dump ends without `</mediawiki>`.
    allow_open_root: bool,
    finished: bool,
}

impl std::fmt::Debug for DumpReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DumpReader")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("siteinfo", &self.siteinfo)
            .field("last_page", &self.last_page)
            .finish_non_exhaustive()
    }
}

impl DumpReader {
    /// Wraps a source and reads up to the first page.
    pub(crate) fn new(
        source: Box<dyn XmlSource>,
        name: String,
        format: Format,
        progress: Progress,
        allow_open_root: bool,
    ) -> Result<DumpReader> {
        let mut xml = quick_xml::Reader::from_reader(source);
        let config = xml.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        let mut reader = DumpReader {
            xml,
            buf: Vec::with_capacity(64 * 1024),
            name,
            format,
            siteinfo: SiteInfo::default(),
            progress,
            path: Vec::with_capacity(16),
            field: Field::None,
            value: String::new(),
            draft: None,
            last_page: None,
            allow_open_root,
            finished: false,
        };
        let first = reader.run(true)?;
        debug_assert!(first.is_none());
        reader.siteinfo.namespaces.sort_by_key(|(key, _)| *key);
        reader.siteinfo.derive_lang();
        Ok(reader)
    }

    /// Returns the `<siteinfo>` header (empty when the dump has none).
    pub fn siteinfo(&self) -> &SiteInfo {
        &self.siteinfo
    }

    /// Returns the detected input format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Returns a handle on the progress counters.
    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }

    /// Reads the next page; `Ok(None)` at the end of the dump.
    pub fn next_page(&mut self) -> Result<Option<Page>> {
        if self.finished {
            return Ok(None);
        }
        match self.run(false) {
            Ok(Some(page)) => {
                self.progress.inner.pages.fetch_add(1, Ordering::Relaxed);
                let xml_bytes = self.xml.buffer_position();
                self.progress
                    .inner
                    .xml_bytes
                    .store(xml_bytes, Ordering::Relaxed);
                self.last_page = Some((page.id, page.title.clone()));
                Ok(Some(page))
            }
            Ok(None) => {
                self.finished = true;
                let xml_bytes = self.xml.buffer_position();
                self.progress
                    .inner
                    .xml_bytes
                    .store(xml_bytes, Ordering::Relaxed);
                Ok(None)
            }
            Err(error) => {
                self.finished = true;
                Err(error)
            }
        }
    }

    /// Moves reading to a thread of its own that sends batches of pages of
    /// about `batch_bytes` bytes of text each, with at most `capacity`
    /// batches waiting. Memory use is bounded by
    /// `(capacity + 2) * batch_bytes` plus the largest page.
    pub fn into_batches(self, batch_bytes: usize, capacity: usize) -> Batches {
        let siteinfo = self.siteinfo.clone();
        let format = self.format;
        let progress = self.progress.clone();
        let (tx, rx) = bounded(capacity.max(1));
        let mut reader = self;
        let spawned = thread::Builder::new()
            .name("dump-xml".to_owned())
            .spawn(move || {
                loop {
                    let mut batch = Vec::new();
                    let mut bytes = 0;
                    let mut end = false;
                    let mut failure = None;
                    while bytes < batch_bytes.max(1) {
                        match reader.next_page() {
                            Ok(Some(page)) => {
                                bytes += page.text.len() + page.title.len() + 64;
                                batch.push(page);
                            }
                            Ok(None) => {
                                end = true;
                                break;
                            }
                            Err(error) => {
                                failure = Some(error);
                                break;
                            }
                        }
                    }
                    if !batch.is_empty() && tx.send(Ok(batch)).is_err() {
                        return;
                    }
                    if let Some(error) = failure {
                        let _ = tx.send(Err(error));
                        return;
                    }
                    if end {
                        return;
                    }
                }
            });
        let (rx, handle, spawn_error) = match spawned {
            Ok(handle) => (Some(rx), Some(handle), None),
            Err(source) => (
                None,
                None,
                Some(Error::Io {
                    name: "reader thread".to_owned(),
                    source,
                }),
            ),
        };
        Batches {
            rx,
            handle,
            spawn_error,
            siteinfo,
            format,
            progress,
        }
    }

    fn position_at(&self, xml_offset: u64) -> Box<Position> {
        Box::new(Position {
            compressed_offset: self.xml.get_ref().compressed_offset(),
            xml_offset: Some(xml_offset),
            last_page: self.last_page.clone(),
        })
    }

    fn malformed(&self, xml_offset: u64, reason: impl Into<String>) -> Error {
        Error::Xml {
            name: self.name.clone(),
            position: self.position_at(xml_offset),
            reason: reason.into(),
        }
    }

    fn parse_error(&mut self, error: quick_xml::Error) -> Error {
        let offset = self.xml.error_position();
        if let Some(source_error) = self.xml.get_mut().take_error() {
            return source_error.with_xml_context(self.xml.buffer_position(), &self.last_page);
        }
        match error {
            quick_xml::Error::Io(source) => Error::Io {
                name: self.name.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            quick_xml::Error::Encoding(reason) => Error::Utf8 {
                name: self.name.clone(),
                position: self.position_at(offset),
                reason: reason.to_string(),
            },
            other => self.malformed(offset, other.to_string()),
        }
    }

    /// Runs the parser until a page is complete (returns it), the input
    /// ends (returns `None`), or, with `stop_at_page`, a page starts.
    fn run(&mut self, stop_at_page: bool) -> Result<Option<Page>> {
        loop {
            let event_start = self.xml.buffer_position();
            self.buf.clear();
            let event = match self.xml.read_event_into(&mut self.buf) {
                Ok(event) => event,
                Err(error) => return Err(self.parse_error(error)),
            };
            match event {
                Event::Start(start) => {
                    let tag = Tag::of(start.local_name().as_ref());
                    let start = start.into_owned();
                    self.open(tag, &start, event_start)?;
                    self.path.push(tag);
                    if stop_at_page && tag == Tag::Page {
                        return Ok(None);
                    }
                }
                Event::Empty(start) => {
                    let tag = Tag::of(start.local_name().as_ref());
                    let start = start.into_owned();
                    self.open(tag, &start, event_start)?;
                    self.path.push(tag);
                    if let Some(page) = self.close(event_start)? {
                        return Ok(Some(page));
                    }
                }
                Event::End(_) => {
                    if let Some(page) = self.close(event_start)? {
                        return Ok(Some(page));
                    }
                }
                Event::Text(text) => {
                    if self.field != Field::None {
                        let content = text.xml10_content();
                        target(self.field, &mut self.draft, &mut self.value).push_str(&content);
                    }
                }
                Event::CData(data) => {
                    if self.field != Field::None {
                        let content = data.xml10_content();
                        target(self.field, &mut self.draft, &mut self.value).push_str(&content);
                    }
                }
                Event::GeneralRef(reference) => {
                    if self.field != Field::None {
                        let reference = reference.into_owned();
                        let decoded = decode_reference(&reference)
                            .map_err(|reason| self.malformed(event_start, reason))?;
                        target(self.field, &mut self.draft, &mut self.value).push(decoded);
                    }
                }
                Event::Eof => {
                    if self.draft.is_some() {
                        return Err(self.malformed(event_start, "the input ends inside a <page>"));
                    }
                    if !self.path.is_empty() && !self.allow_open_root {
                        return Err(
                            self.malformed(event_start, "the input ends before </mediawiki>")
                        );
                    }
                    return Ok(None);
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            }
        }
    }

    /// Handles an opening tag.
    fn open(&mut self, tag: Tag, start: &BytesStart<'_>, event_start: u64) -> Result<()> {
        let parent = self.path.last().copied();
        let in_page = self.draft.is_some();
        self.value.clear();
        self.field = match (parent, tag) {
            (_, Tag::Page) if !in_page => {
                self.draft = Some(PageDraft {
                    page: Page {
                        offset: event_start,
                        ..Page::default()
                    },
                    ..PageDraft::default()
                });
                Field::None
            }
            (_, Tag::Page) => return Err(self.malformed(event_start, "<page> inside <page>")),
            (Some(Tag::Page), Tag::Title) => Field::Title,
            (Some(Tag::Page), Tag::Ns) => Field::Ns,
            (Some(Tag::Page), Tag::Id) => Field::PageId,
            (Some(Tag::Page), Tag::Redirect) => {
                let target = self.attribute(start, "title", event_start)?;
                if let Some(draft) = &mut self.draft {
                    draft.page.redirect = Some(target.unwrap_or_default());
                }
                Field::None
            }
            (Some(Tag::Page), Tag::Revision) => {
                // Only the last revision counts.
                if let Some(draft) = &mut self.draft {
                    let page = &mut draft.page;
                    page.revid = None;
                    page.timestamp = None;
                    page.model = None;
                    page.format = None;
                    page.text.clear();
                }
                Field::None
            }
            (Some(Tag::Revision), Tag::Id) => Field::RevId,
            (Some(Tag::Revision), Tag::Timestamp) => Field::Timestamp,
            (Some(Tag::Revision), Tag::Model) => Field::Model,
            (Some(Tag::Revision), Tag::Format) => Field::Format,
            (Some(Tag::Revision), Tag::Text) => {
                let bytes = self.attribute(start, "bytes", event_start)?;
                if let (Some(draft), Some(bytes)) = (&mut self.draft, bytes) {
                    // The byte count is a hint; cap it so a bad value
                    // cannot ask for a huge allocation.
                    let hint = bytes.trim().parse::<usize>().unwrap_or(0).min(16 << 20);
                    draft.page.text.reserve(hint);
                }
                Field::Text
            }
            (Some(Tag::Siteinfo), Tag::Sitename) if !in_page => Field::Sitename,
            (Some(Tag::Siteinfo), Tag::Dbname) if !in_page => Field::Dbname,
            (Some(Tag::Siteinfo), Tag::Base) if !in_page => Field::Base,
            (Some(Tag::Siteinfo), Tag::Generator) if !in_page => Field::Generator,
            (Some(Tag::Siteinfo), Tag::Case) if !in_page => Field::Case,
            (Some(Tag::Namespaces), Tag::Namespace) if !in_page => {
                let key = self
                    .attribute(start, "key", event_start)?
                    .unwrap_or_default();
                let key = key.trim().parse().map_err(|_| {
                    self.malformed(
                        event_start,
                        format!("namespace key {key:?} is not a number"),
                    )
                })?;
                Field::Namespace(key)
            }
            (None, Tag::Mediawiki) => {
                self.siteinfo.schema_version = self.attribute(start, "version", event_start)?;
                Field::None
            }
            _ => Field::None,
        };
        Ok(())
    }

    /// Handles a closing tag; returns the page when `</page>` closes one.
    fn close(&mut self, event_start: u64) -> Result<Option<Page>> {
        let Some(tag) = self.path.pop() else {
            return Err(self.malformed(event_start, "closing tag without an opening tag"));
        };
        let field = std::mem::replace(&mut self.field, Field::None);
        let value = std::mem::take(&mut self.value);
        match field {
            Field::None | Field::Text => {}
            Field::Sitename => self.siteinfo.sitename = Some(value),
            Field::Dbname => self.siteinfo.dbname = Some(value),
            Field::Base => self.siteinfo.base = Some(value),
            Field::Generator => self.siteinfo.generator = Some(value),
            Field::Case => self.siteinfo.case = Some(value),
            Field::Namespace(key) => self.siteinfo.namespaces.push((key, value)),
            Field::Title
            | Field::Ns
            | Field::PageId
            | Field::RevId
            | Field::Timestamp
            | Field::Model
            | Field::Format => {
                self.set_page_field(field, value, event_start)?;
            }
        }
        if tag != Tag::Page {
            return Ok(None);
        }
        let Some(draft) = self.draft.take() else {
            return Ok(None);
        };
        if !draft.has_id {
            return Err(self.malformed(draft.page.offset, "<page> without <id>"));
        }
        if !draft.has_title {
            return Err(self.malformed(draft.page.offset, "<page> without <title>"));
        }
        Ok(Some(draft.page))
    }

    fn set_page_field(&mut self, field: Field, value: String, event_start: u64) -> Result<()> {
        let number = |what: &str| -> Result<u64> {
            value.trim().parse().map_err(|_| {
                self.malformed(event_start, format!("{what} {value:?} is not a number"))
            })
        };
        let parsed = match field {
            Field::PageId | Field::RevId => Some(number(if field == Field::PageId {
                "page id"
            } else {
                "revision id"
            })?),
            _ => None,
        };
        let ns = if field == Field::Ns {
            Some(value.trim().parse::<i32>().map_err(|_| {
                self.malformed(event_start, format!("namespace {value:?} is not a number"))
            })?)
        } else {
            None
        };
        let Some(draft) = &mut self.draft else {
            return Ok(());
        };
        let page = &mut draft.page;
        match field {
            Field::Title => {
                page.title = value;
                draft.has_title = true;
            }
            Field::Ns => page.ns = ns.unwrap_or_default(),
            Field::PageId => {
                page.id = parsed.unwrap_or_default();
                draft.has_id = true;
            }
            Field::RevId => page.revid = parsed,
            Field::Timestamp => page.timestamp = Some(value),
            Field::Model => page.model = Some(value),
            Field::Format => page.format = Some(value),
            _ => {}
        }
        Ok(())
    }

    fn attribute(
        &self,
        start: &BytesStart<'_>,
        key: &str,
        event_start: u64,
    ) -> Result<Option<String>> {
        for attribute in start.attributes() {
            let attribute =
                attribute.map_err(|error| self.malformed(event_start, error.to_string()))?;
            if attribute.key.local_name().as_ref() == key {
                let value = attribute
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|error| self.malformed(event_start, error.to_string()))?;
                return Ok(Some(value.into_owned()));
            }
        }
        Ok(None)
    }
}

/// Where text of `field` goes: the page text, or the value buffer.
fn target<'a>(
    field: Field,
    draft: &'a mut Option<PageDraft>,
    value: &'a mut String,
) -> &'a mut String {
    match (field, draft) {
        (Field::Text, Some(draft)) => &mut draft.page.text,
        _ => value,
    }
}

/// Decodes `&name;` and `&#n;` references (the five XML entities and
/// character references).
fn decode_reference(reference: &BytesRef<'_>) -> std::result::Result<char, String> {
    Ok(match &**reference {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        name => match reference.resolve_char_ref() {
            Ok(Some(c)) => c,
            Ok(None) => return Err(format!("unknown entity &{name};")),
            Err(error) => return Err(format!("bad character reference &{name};: {error}")),
        },
    })
}

impl Iterator for DumpReader {
    type Item = Result<Page>;

    fn next(&mut self) -> Option<Result<Page>> {
        self.next_page().transpose()
    }
}

/// Batches of pages read on a thread of their own; made by
/// [`DumpReader::into_batches`].
///
/// Iterating yields `Ok(batch)` until the end of the dump, or an `Err`
/// after which nothing more comes. Dropping it stops the reader thread.
pub struct Batches {
    rx: Option<Receiver<Result<Vec<Page>>>>,
    handle: Option<JoinHandle<()>>,
    spawn_error: Option<Error>,
    siteinfo: SiteInfo,
    format: Format,
    progress: Progress,
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches")
            .field("format", &self.format)
            .field("siteinfo", &self.siteinfo)
            .finish_non_exhaustive()
    }
}

impl Batches {
    /// Returns the `<siteinfo>` header of the dump.
    pub fn siteinfo(&self) -> &SiteInfo {
        &self.siteinfo
    }

    /// Returns the detected input format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Returns a handle on the progress counters.
    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }
}

impl Iterator for Batches {
    type Item = Result<Vec<Page>>;

    fn next(&mut self) -> Option<Result<Vec<Page>>> {
        if let Some(error) = self.spawn_error.take() {
            return Some(Err(error));
        }
        self.rx.as_ref()?.recv().ok()
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        // Closing the channel makes the thread's next send fail, so it
        // stops after the page it is reading.
        self.rx = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
