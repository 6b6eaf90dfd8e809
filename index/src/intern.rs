//! Strings interned into dense slots (0, 1, ... in order of first insertion):
//! an open-addressing table over one key arena, so interning allocates nothing
//! per string. The term counter of an article and the postings buffer of a run
//! both intern stems with it.

use crate::postings::fx_hash;

#[derive(Clone, Debug)]
pub(crate) struct Interner {
    /// Open addressing: (upper 32 bits of the hash, slot + 1); (_, 0) is empty.
    table: Vec<(u32, u32)>,
    /// The keys of every slot, back to back.
    keys: String,
    /// Per slot, its key's end in `keys`.
    ends: Vec<u32>,
    /// Size of the table when it is first needed (a power of two).
    min_table: usize,
}

impl Interner {
    /// An empty interner whose table starts at `min_table` entries (rounded up to
    /// a power of two) when the first key comes.
    pub(crate) fn new(min_table: usize) -> Interner {
        Interner {
            table: Vec::new(),
            keys: String::new(),
            ends: Vec::new(),
            min_table: min_table.max(2).next_power_of_two(),
        }
    }

    /// Number of slots.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Entries of the table (8 bytes each).
    pub(crate) fn table_len(&self) -> usize {
        self.table.len()
    }

    /// The key of `slot`.
    pub(crate) fn get(&self, slot: usize) -> &str {
        let start = if slot == 0 { 0 } else { self.ends[slot - 1] };
        &self.keys[start as usize..self.ends[slot] as usize]
    }

    /// The keys back to back and each one's end offset, in slot order.
    pub(crate) fn keys(&self) -> (&str, &[u32]) {
        (&self.keys, &self.ends)
    }

    /// The slot of `key` and whether it was just added.
    #[inline]
    pub(crate) fn intern(&mut self, key: &str) -> (u32, bool) {
        if 2 * (self.ends.len() + 1) > self.table.len() {
            self.grow();
        }
        let hash = fx_hash(key.as_bytes());
        let tag = (hash >> 32) as u32;
        let mask = self.table.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            match self.table[at] {
                (_, 0) => break,
                (t, slot) if t == tag && self.get(slot as usize - 1) == key => {
                    return (slot - 1, false);
                }
                _ => at = (at + 1) & mask,
            }
        }
        self.keys.push_str(key);
        self.ends.push(self.keys.len() as u32);
        let slot = self.ends.len() as u32;
        self.table[at] = (tag, slot);
        (slot - 1, true)
    }

    /// Forgets every key, keeping the allocations.
    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.ends.clear();
        self.table.fill((0, 0));
    }

    /// Takes the keys out (as [`Interner::keys`] gives them) and clears.
    pub(crate) fn take(&mut self) -> (String, Vec<u32>) {
        let out = (
            std::mem::take(&mut self.keys),
            std::mem::take(&mut self.ends),
        );
        self.clear();
        out
    }

    fn grow(&mut self) {
        let len = (self.table.len() * 2).max(self.min_table);
        self.table.clear();
        self.table.resize(len, (0, 0));
        let mask = len - 1;
        for slot in 0..self.ends.len() {
            let hash = fx_hash(self.get(slot).as_bytes());
            let mut at = hash as usize & mask;
            while self.table[at].1 != 0 {
                at = (at + 1) & mask;
            }
            self.table[at] = ((hash >> 32) as u32, slot as u32 + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Interner;

    #[test]
    fn slots_follow_first_insertion_through_growth_and_clear() {
        let mut interner = Interner::new(4);
        let words: Vec<String> = (0..1000).map(|n| format!("w{}", n % 300)).collect();
        for (n, word) in words.iter().enumerate() {
            let (slot, new) = interner.intern(word);
            assert_eq!(slot as usize, n % 300);
            assert_eq!(new, n < 300);
        }
        assert_eq!(interner.len(), 300);
        assert_eq!(interner.get(17), "w17");
        assert!(interner.table_len() >= 600);
        let (keys, ends) = interner.keys();
        assert_eq!(&keys[..ends[1] as usize], "w0w1");
        let (keys, ends) = interner.take();
        assert_eq!((keys.len(), ends.len()), (ends[299] as usize, 300));
        assert_eq!(interner.len(), 0);
        assert_eq!(interner.intern("w5"), (0, true));
        assert_eq!(interner.intern(""), (1, true));
        assert_eq!(interner.intern(""), (1, false));
        assert_eq!(interner.get(1), "");
    }
}
