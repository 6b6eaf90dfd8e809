//! Reading a multistream dump in parts by byte ranges.

mod common;

use common::*;
use dump::OpenOptions;

fn pages_by_parts(
    dump: &std::path::Path,
    index: &std::path::Path,
    n: usize,
    with_index: bool,
) -> Vec<dump::Page> {
    let parts = dump::multistream_parts(index, n).unwrap();
    assert_eq!(parts.len(), n);
    assert_eq!(parts[0].start, 0);
    assert_eq!(parts[n - 1].end, u64::MAX);
    assert!(parts.windows(2).all(|pair| pair[0].end == pair[1].start));
    let mut all = Vec::new();
    for range in parts {
        let opts = OpenOptions {
            multistream_index: with_index.then(|| index.to_owned()),
            range: Some(range.clone()),
            ..OpenOptions::default()
        };
        let reader = dump::open(&path_input(dump), &opts).unwrap();
        assert!(
            reader.siteinfo().dbname.is_some(),
            "siteinfo of part {range:?}"
        );
        all.extend(reader.map(|page| page.unwrap()));
    }
    all
}

#[test]
fn parts_cover_every_page_once() {
    let dir = tempfile::tempdir().unwrap();
    let (enwiki, enwiki_index) = write_enwiki_multistream(dir.path());
    // Copies without the index beside them: ranges are then found by
    // scanning for stream headers.
    let enwiki_alone = dir.path().join("enwiki-alone.bz2");
    std::fs::copy(&enwiki, &enwiki_alone).unwrap();
    let voyage_alone = dir.path().join("voyage-alone.bz2");
    std::fs::copy(data(ELWIKIVOYAGE), &voyage_alone).unwrap();
    let cases = [
        (enwiki.clone(), enwiki_index.clone(), true),
        (enwiki_alone, enwiki_index, false),
        (data(ELWIKIVOYAGE), data(ELWIKIVOYAGE_INDEX), true),
        (voyage_alone, data(ELWIKIVOYAGE_INDEX), false),
    ];
    for (dump, index, with_index) in cases {
        let whole = read_all(&path_input(&dump), &OpenOptions::default());
        for n in [1, 2, 3, 5] {
            let parts = pages_by_parts(&dump, &index, n, with_index);
            assert_eq!(
                summary(&parts),
                summary(&whole),
                "{} in {n} parts",
                dump.display()
            );
        }
    }
}

#[test]
fn a_part_holds_the_pages_of_its_streams() {
    // elwikivoyage streams: 718 (5 pages), 4735 (5), 8475 (5), 12237 (2).
    let index: Vec<_> = dump::read_multistream_index(&data(ELWIKIVOYAGE_INDEX), 1)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let opts = OpenOptions {
        range: Some(4735..12237),
        ..OpenOptions::default()
    };
    let reader = dump::open(&path_input(&data(ELWIKIVOYAGE)), &opts).unwrap();
    assert_eq!(reader.siteinfo().dbname.as_deref(), Some("elwikivoyage"));
    let progress = reader.progress();
    assert_eq!(progress.total_bytes(), Some(12237 - 4735));
    let ids: Vec<_> = reader.map(|page| page.unwrap().id).collect();
    let expected: Vec<_> = index[5..15].iter().map(|entry| entry.page_id).collect();
    assert_eq!(ids, expected);
    assert_eq!(progress.bytes_read(), 12237 - 4735);

    // A range that starts inside a stream begins at the next stream.
    let opts = OpenOptions {
        range: Some(4000..8475),
        ..OpenOptions::default()
    };
    let ids: Vec<_> = dump::open(&path_input(&data(ELWIKIVOYAGE)), &opts)
        .unwrap()
        .map(|page| page.unwrap().id)
        .collect();
    assert_eq!(
        ids,
        index[5..10]
            .iter()
            .map(|entry| entry.page_id)
            .collect::<Vec<_>>()
    );

    // More parts than streams: the extra parts are empty.
    let parts = dump::multistream_parts(&data(ELWIKIVOYAGE_INDEX), 8).unwrap();
    assert_eq!(parts.len(), 8);
    let total: usize = parts
        .into_iter()
        .map(|range| {
            let opts = OpenOptions {
                range: Some(range),
                ..OpenOptions::default()
            };
            dump::open(&path_input(&data(ELWIKIVOYAGE)), &opts)
                .unwrap()
                .count()
        })
        .sum();
    assert_eq!(total, 17);
}
