//! XML shapes other than Wikimedia's own: no siteinfo, `<page>` on the
//! `<mediawiki>` line, entities, several revisions, empty text.

use std::io::Cursor;

use dump::{DumpReader, Page};

fn open_str(xml: &str) -> DumpReader {
    dump::open_reader(Box::new(Cursor::new(xml.as_bytes().to_vec())), "<test>").unwrap()
}

fn pages(xml: &str) -> Vec<Page> {
    open_str(xml).map(Result::unwrap).collect()
}

#[test]
fn no_siteinfo_and_page_on_the_mediawiki_line() {
    let xml = "<mediawiki xmlns=\"http://www.mediawiki.org/xml/export-0.11/\" version=\"0.11\"><page><title>A</title><ns>0</ns><id>1</id><revision><id>7</id><text>one</text></revision></page><page>\r\n<title>B</title><id>2</id><revision><text>two\r\nlines</text></revision></page></mediawiki>";
    let reader = open_str(xml);
    assert_eq!(reader.siteinfo().dbname, None);
    assert_eq!(reader.siteinfo().lang, None);
    assert!(reader.siteinfo().namespaces.is_empty());
    let pages: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(pages.len(), 2);
    assert_eq!(
        (pages[0].id, pages[0].title.as_str(), pages[0].text.as_str()),
        (1, "A", "one")
    );
    assert_eq!(pages[0].revid, Some(7));
    assert_eq!(pages[0].offset, xml.find("<page>").unwrap() as u64);
    assert_eq!(
        (pages[1].id, pages[1].ns, pages[1].text.as_str()),
        (2, 0, "two\nlines")
    );
}

#[test]
fn xml_declaration_and_other_whitespace() {
    let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\n<mediawiki>\n\t<siteinfo><dbname>dewiki</dbname></siteinfo>\n\t<page>\n\t\t<title>X</title>\n\t\t<id>\n5\n</id>\n\t\t<revision><text xml:space=\"preserve\" bytes=\"3\">abc</text></revision>\n\t</page>\n</mediawiki>\n";
    let reader = open_str(xml);
    assert_eq!(reader.siteinfo().lang.as_deref(), Some("de"));
    let pages: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!((pages[0].id, pages[0].text.as_str()), (5, "abc"));
}

#[test]
fn entities_in_titles_redirects_and_text() {
    let xml = r#"<mediawiki><page><title>AT&amp;T &quot;Q&quot; &apos;s</title><id>1</id><redirect title="Fish &amp; Chips &lt;3" /><revision><text>a &lt;ref&gt;b&lt;/ref&gt; &#233;&#x263A; &amp;nbsp;<![CDATA[<raw>&amp;]]></text></revision></page></mediawiki>"#;
    let pages = pages(xml);
    assert_eq!(pages[0].title, "AT&T \"Q\" 's");
    assert_eq!(pages[0].redirect.as_deref(), Some("Fish & Chips <3"));
    assert_eq!(pages[0].text, "a <ref>b</ref> é☺ &nbsp;<raw>&amp;");
}

#[test]
fn the_last_revision_counts() {
    let xml = "<mediawiki><page><title>T</title><id>3</id><revision><id>1</id><timestamp>2001</timestamp><model>wikitext</model><text>old</text></revision><revision><id>2</id><timestamp>2002</timestamp><contributor><username>U</username><id>99</id></contributor><text>new</text></revision></page></mediawiki>";
    let pages = pages(xml);
    assert_eq!(pages[0].id, 3);
    assert_eq!(pages[0].revid, Some(2));
    assert_eq!(pages[0].timestamp.as_deref(), Some("2002"));
    assert_eq!(pages[0].model, None);
    assert_eq!(pages[0].text, "new");
}

#[test]
fn empty_and_deleted_text() {
    let xml = r#"<mediawiki><page><title>E</title><id>1</id><revision><text bytes="0" /></revision></page><page><title>D</title><id>2</id><revision><text deleted="deleted"/></revision></page><page><title>N</title><id>3</id></page></mediawiki>"#;
    let pages = pages(xml);
    assert_eq!(pages.len(), 3);
    assert!(pages.iter().all(|page| page.text.is_empty()));
}

#[test]
fn namespaces_are_sorted_by_key() {
    let xml = r#"<mediawiki><siteinfo><dbname>frwiki</dbname><case>first-letter</case><namespaces><namespace key="4">Wikipédia</namespace><namespace key="0" /><namespace key="-1">Spécial</namespace></namespaces></siteinfo></mediawiki>"#;
    let reader = open_str(xml);
    let info = reader.siteinfo().clone();
    assert_eq!(
        info.namespaces,
        vec![
            (-1, "Spécial".to_owned()),
            (0, String::new()),
            (4, "Wikipédia".to_owned())
        ]
    );
    assert_eq!(info.lang.as_deref(), Some("fr"));
    assert_eq!(reader.count(), 0);
}
