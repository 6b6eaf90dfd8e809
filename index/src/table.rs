//! Fixed-width row tables: `ids` (sorted by article id) and `inlinks` (one
//! count per `ids` row, in the same order).
//!
//! ```text
//! header  "FRASERID" or "FRASERIL", version u32
//! rows    ids:     n x (id u64, shard u32, ordinal u32, n_sentences u32, n_links u32)
//!         inlinks: n x (count u32)
//! footer  crc32 u32 of everything before, "FEND"
//! ```
//!
//! Tables have no internal checksums: the whole file's CRC is checked the
//! first time a reader touches the table (once per process).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::footer::{FileKind, FileWriter, check_frame, verify_crc};
use crate::storage::{Bytes, Storage};

/// Size of one `ids` row.
pub(crate) const ID_ROW_LEN: usize = 24;

/// Where an article lives and two of its counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IdRow {
    pub(crate) id: u64,
    pub(crate) shard: u32,
    pub(crate) ordinal: u32,
    pub(crate) n_sentences: u32,
    pub(crate) n_links: u32,
}

impl IdRow {
    pub(crate) fn encode(&self) -> [u8; ID_ROW_LEN] {
        let mut out = [0u8; ID_ROW_LEN];
        out[0..8].copy_from_slice(&self.id.to_le_bytes());
        out[8..12].copy_from_slice(&self.shard.to_le_bytes());
        out[12..16].copy_from_slice(&self.ordinal.to_le_bytes());
        out[16..20].copy_from_slice(&self.n_sentences.to_le_bytes());
        out[20..24].copy_from_slice(&self.n_links.to_le_bytes());
        out
    }

    fn decode(row: &[u8]) -> IdRow {
        let u32_at = |at: usize| u32::from_le_bytes(row[at..at + 4].try_into().expect("4 bytes"));
        IdRow {
            id: u64::from_le_bytes(row[0..8].try_into().expect("8 bytes")),
            shard: u32_at(8),
            ordinal: u32_at(12),
            n_sentences: u32_at(16),
            n_links: u32_at(20),
        }
    }
}

/// Writes a table file row by row.
pub(crate) struct TableWriter {
    out: FileWriter<BufWriter<File>>,
    rows: u64,
}

impl TableWriter {
    pub(crate) fn create(path: &Path, kind: FileKind) -> Result<TableWriter> {
        Ok(TableWriter {
            out: FileWriter::create(path, kind)?,
            rows: 0,
        })
    }

    pub(crate) fn push(&mut self, path: &Path, row: &[u8]) -> Result<()> {
        self.rows += 1;
        self.out.write_all(row).map_err(|e| Error::io(path, e))
    }

    /// Returns (size, crc, rows).
    pub(crate) fn finish(self, path: &Path) -> Result<(u64, u32, u64)> {
        let rows = self.rows;
        let (size, crc) = self.out.finish_file(path)?;
        Ok((size, crc, rows))
    }
}

/// An open table whose checksum has been verified.
pub(crate) struct Table {
    storage: Arc<dyn Storage>,
    rows: Bytes,
    row_len: usize,
}

impl Table {
    /// Opens and fully verifies a table of `row_len`-byte rows.
    pub(crate) fn open(
        storage: Arc<dyn Storage>,
        kind: FileKind,
        row_len: usize,
        expected_crc: Option<u32>,
    ) -> Result<Table> {
        let frame = check_frame(&*storage, kind, expected_crc)?;
        verify_crc(&*storage, &frame)?;
        let body_len = frame.body_end - frame.body_start;
        if body_len % row_len as u64 != 0 {
            return Err(Error::corrupt(
                storage.path(),
                format!("table of {body_len} bytes is not a whole number of {row_len}-byte rows"),
            ));
        }
        let rows = storage.read(frame.body_start, body_len)?;
        Ok(Table {
            storage,
            rows,
            row_len,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len() / self.row_len
    }

    pub(crate) fn path(&self) -> &Path {
        self.storage.path()
    }

    fn row(&self, index: usize) -> &[u8] {
        &self.rows[index * self.row_len..(index + 1) * self.row_len]
    }

    /// Row `index` of an `ids` table.
    pub(crate) fn id_row(&self, index: usize) -> IdRow {
        debug_assert_eq!(self.row_len, ID_ROW_LEN);
        IdRow::decode(self.row(index))
    }

    /// Binary search of an `ids` table by article id; returns the row index.
    pub(crate) fn find_id(&self, id: u64) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let row_id = u64::from_le_bytes(self.row(mid)[0..8].try_into().expect("8 bytes"));
            match row_id.cmp(&id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// [`Table::find_id`] among the rows from `from` on, galloping from
    /// there (cheap when `id` is a few rows after `from`).
    pub(crate) fn find_id_from(&self, id: u64, from: usize) -> Option<usize> {
        let id_at =
            |row: usize| u64::from_le_bytes(self.row(row)[0..8].try_into().expect("8 bytes"));
        let n = self.len();
        let (mut lo, mut step) = (from, 1usize);
        let mut hi = loop {
            let probe = lo.saturating_add(step - 1);
            if probe >= n {
                break n;
            }
            match id_at(probe).cmp(&id) {
                std::cmp::Ordering::Less => {
                    lo = probe + 1;
                    step = step.saturating_mul(2);
                }
                std::cmp::Ordering::Equal => return Some(probe),
                std::cmp::Ordering::Greater => break probe,
            }
        };
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match id_at(mid).cmp(&id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Row `index` of a `u32` table.
    pub(crate) fn u32_row(&self, index: usize) -> u32 {
        debug_assert_eq!(self.row_len, 4);
        u32::from_le_bytes(self.row(index).try_into().expect("4 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Access, open};

    #[test]
    fn galloping_search_finds_every_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.tbl");
        let mut writer = TableWriter::create(&path, FileKind::Ids).unwrap();
        let ids: Vec<u64> = (0..300u64).map(|i| 2 * i * i + 5).collect();
        for &id in &ids {
            let row = IdRow {
                id,
                shard: 0,
                ordinal: 0,
                n_sentences: 0,
                n_links: 0,
            };
            writer.push(&path, &row.encode()).unwrap();
        }
        writer.finish(&path).unwrap();
        let table = Table::open(
            open(&path, Access::Mmap).unwrap(),
            FileKind::Ids,
            ID_ROW_LEN,
            None,
        )
        .unwrap();
        for (row, &id) in ids.iter().enumerate() {
            for from in [0, row / 2, row.saturating_sub(1), row] {
                assert_eq!(table.find_id_from(id, from), Some(row));
            }
            assert_eq!(table.find_id_from(id + 1, 0), None);
            assert_eq!(table.find_id_from(id, row + 1), None);
        }
        assert_eq!(table.find_id_from(0, 0), None);
    }

    #[test]
    fn ids_table_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.tbl");
        let mut writer = TableWriter::create(&path, FileKind::Ids).unwrap();
        let rows: Vec<IdRow> = (0..100u64)
            .map(|i| IdRow {
                id: i * 3 + 1,
                shard: (i / 10) as u32,
                ordinal: (i % 10) as u32,
                n_sentences: i as u32,
                n_links: 2,
            })
            .collect();
        for row in &rows {
            writer.push(&path, &row.encode()).unwrap();
        }
        let (_, crc, n) = writer.finish(&path).unwrap();
        assert_eq!(n, 100);
        for access in [Access::Mmap, Access::Pread] {
            let table = Table::open(
                open(&path, access).unwrap(),
                FileKind::Ids,
                ID_ROW_LEN,
                Some(crc),
            )
            .unwrap();
            assert_eq!(table.len(), 100);
            for (i, row) in rows.iter().enumerate() {
                assert_eq!(table.find_id(row.id), Some(i));
                assert_eq!(table.id_row(i), *row);
            }
            assert_eq!(table.find_id(0), None);
            assert_eq!(table.find_id(2), None);
            assert_eq!(table.find_id(1000), None);
        }
        let mut bad = std::fs::read(&path).unwrap();
        bad[40] ^= 1;
        let storage = Arc::new(crate::storage::MemStorage::new(path.clone(), bad));
        assert!(matches!(
            Table::open(storage, FileKind::Ids, ID_ROW_LEN, None),
            Err(Error::Checksum { .. })
        ));
    }
}
