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
        self.intern_hashed(key, fx_hash(key.as_bytes()))
    }

    /// Interns `n` keys, `key(0)` to `key(n - 1)`, in that order, calling
    /// `found(i, slot, new)` for each as [`Interner::intern`] of `key(i)`
    /// would return. The same result as interning them one by one, faster
    /// on a large table: a few keys ahead of the one being interned, the
    /// table entry, the key span and the key bytes that its lookup will read
    /// are fetched into the cache, each as soon as the one before is there,
    /// so the cache misses of several keys overlap instead of following one
    /// another.
    pub(crate) fn intern_each<'k>(
        &mut self,
        n: usize,
        key: impl Fn(usize) -> &'k str,
        mut found: impl FnMut(usize, u32, bool),
    ) {
        /// Keys between one stage and the next.
        const STAGE: usize = 4;
        /// Ring size for the in-flight keys (more than 3 stages, a power of two).
        const RING: usize = 16;
        let mut hashes = [0u64; RING];
        // Per in-flight key: its candidate slot + 1 (0: none) from stage 2.
        let mut candidates = [0u32; RING];
        for i in 0..n + 3 * STAGE {
            // Stage 1: hash, fetch the table entry.
            if i < n {
                let hash = fx_hash(key(i).as_bytes());
                hashes[i % RING] = hash;
                if !self.table.is_empty() {
                    prefetch(&self.table[hash as usize & (self.table.len() - 1)]);
                }
            }
            // Stage 2: find the first entry with the key's tag, fetch its span.
            if let Some(j) = i.checked_sub(STAGE).filter(|&j| j < n) {
                let slot = self.candidate(hashes[j % RING]);
                candidates[j % RING] = slot;
                if slot > 0 {
                    prefetch(&self.ends[slot as usize - 1]);
                }
            }
            // Stage 3: fetch the candidate's key bytes.
            if let Some(j) = i.checked_sub(2 * STAGE).filter(|&j| j < n) {
                let slot = candidates[j % RING];
                if slot > 1 {
                    let start = self.ends[slot as usize - 2] as usize;
                    if let Some(byte) = self.keys.as_bytes().get(start) {
                        prefetch(byte);
                    }
                }
            }
            // Stage 4: the lookup itself, on memory now in the cache.
            if let Some(j) = i.checked_sub(3 * STAGE).filter(|&j| j < n) {
                let (slot, new) = self.intern_hashed(key(j), hashes[j % RING]);
                found(j, slot, new);
            }
        }
    }

    /// The slot + 1 of the first entry on `hash`'s probe sequence with its
    /// tag (0 if none): where a lookup of a key with this hash will compare.
    fn candidate(&self, hash: u64) -> u32 {
        if self.table.is_empty() {
            return 0;
        }
        let tag = (hash >> 32) as u32;
        let mask = self.table.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            match self.table[at] {
                (_, 0) => return 0,
                (t, slot) if t == tag => return slot,
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// [`Interner::intern`] of `key`, whose [`fx_hash`] is `hash`.
    #[inline]
    fn intern_hashed(&mut self, key: &str, hash: u64) -> (u32, bool) {
        if 2 * (self.ends.len() + 1) > self.table.len() {
            self.grow();
        }
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

/// Asks the CPU to bring the cache line of `value` into the cache (a hint:
/// it never faults and changes no result; nothing on other targets).
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and cannot fault;
    // SSE, which it needs, is part of every x86-64 target.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (value as *const T).cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
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

    #[test]
    fn interning_a_batch_is_interning_one_by_one() {
        // Batches of every length around the pipeline's depth, with repeats
        // inside a batch, keys new to the table, growth mid-batch, long and
        // empty keys and keys that share a hash tag's low bits.
        let mut seed = 3u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut one = Interner::new(4);
        let mut batched = Interner::new(4);
        for round in 0..300 {
            let n = next(40) as usize;
            let keys: Vec<String> = (0..n)
                .map(|_| match next(4) {
                    0 => String::new(),
                    1 => format!("a-rather-long-key-number-{}", next(500)),
                    _ => format!("k{}", next(2000)),
                })
                .collect();
            let expected: Vec<(u32, bool)> = keys.iter().map(|k| one.intern(k)).collect();
            let mut got = Vec::new();
            batched.intern_each(
                keys.len(),
                |i| &keys[i],
                |i, slot, new| got.push((i, slot, new)),
            );
            let expected: Vec<(usize, u32, bool)> = expected
                .into_iter()
                .enumerate()
                .map(|(i, (slot, new))| (i, slot, new))
                .collect();
            assert_eq!(got, expected, "round {round}");
            if round % 97 == 96 {
                one.clear();
                batched.clear();
            }
        }
        assert_eq!(one.keys(), batched.keys());
    }
}
