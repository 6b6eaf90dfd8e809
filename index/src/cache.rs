//! A bounded cache of decoded articles (CLOCK replacement).
//!
//! Why not moka: it would pull in about fifteen crates (crossbeam, parking_lot,
//! tagptr, ...) for features this cache does not need (time-based expiry,
//! weights, async). Our keys are `u64`, the bound is a count of articles, and a
//! lookup is a mutex plus a hash probe (~50 ns), far below the cost of decoding
//! an article (tens of microseconds). CLOCK approximates LRU without moving
//! entries on a hit.

use std::collections::HashMap;
use std::sync::Mutex;

/// A count-bounded map from article id to a shared value.
pub(crate) struct ClockCache<V> {
    capacity: usize,
    inner: Mutex<Clock<V>>,
}

struct Clock<V> {
    map: HashMap<u64, usize>,
    slots: Vec<Slot<V>>,
    hand: usize,
}

struct Slot<V> {
    key: u64,
    value: V,
    referenced: bool,
}

impl<V: Clone> ClockCache<V> {
    /// A cache holding at most `capacity` entries (0 disables it).
    pub(crate) fn new(capacity: usize) -> ClockCache<V> {
        ClockCache {
            capacity,
            inner: Mutex::new(Clock {
                map: HashMap::new(),
                slots: Vec::new(),
                hand: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Clock<V>> {
        // A panic while holding the lock cannot leave the clock inconsistent in
        // a way that matters for a cache; keep serving.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns the cached value for `key`, marking it recently used.
    pub(crate) fn get(&self, key: u64) -> Option<V> {
        let mut clock = self.lock();
        let index = *clock.map.get(&key)?;
        let slot = &mut clock.slots[index];
        slot.referenced = true;
        Some(slot.value.clone())
    }

    /// Inserts or replaces `key`, evicting a not-recently-used entry when full.
    pub(crate) fn insert(&self, key: u64, value: V) {
        if self.capacity == 0 {
            return;
        }
        let mut clock = self.lock();
        if let Some(&index) = clock.map.get(&key) {
            clock.slots[index] = Slot {
                key,
                value,
                referenced: true,
            };
            return;
        }
        if clock.slots.len() < self.capacity {
            let index = clock.slots.len();
            clock.slots.push(Slot {
                key,
                value,
                referenced: false,
            });
            clock.map.insert(key, index);
            return;
        }
        loop {
            let hand = clock.hand;
            clock.hand = (hand + 1) % self.capacity;
            if clock.slots[hand].referenced {
                clock.slots[hand].referenced = false;
                continue;
            }
            let old = clock.slots[hand].key;
            clock.map.remove(&old);
            clock.slots[hand] = Slot {
                key,
                value,
                referenced: false,
            };
            clock.map.insert(key, hand);
            return;
        }
    }

    /// Number of cached entries.
    pub(crate) fn len(&self) -> usize {
        self.lock().slots.len()
    }

    /// The bound.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_keeps_hot_entries() {
        let cache = ClockCache::new(3);
        for key in 0..3 {
            cache.insert(key, key * 10);
        }
        assert_eq!(cache.get(0), Some(0));
        cache.insert(3, 30);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(0), Some(0), "recently used entry survives");
        assert_eq!(cache.get(3), Some(30));
        assert_eq!(
            [1, 2].iter().filter(|&&k| cache.get(k).is_some()).count(),
            1
        );
        cache.insert(3, 31);
        assert_eq!(cache.get(3), Some(31));
        for key in 100..200 {
            cache.insert(key, key);
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(199), Some(199));
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let cache = ClockCache::new(0);
        cache.insert(1, 1);
        assert_eq!(cache.get(1), None);
    }
}
