//! A map from keys to immutable shared rows, bounded by the bytes they hold ([`Weigh`]), with a
//! time-to-live as a backstop to the change notifications: what the row caches
//! ([`crate::cache`]) and the built track views ([`crate::track_views`]) are made of. Sharded
//! and lock-light (`quick_cache`, CLOCK-Pro eviction): every warm read looks up about a hundred
//! keys here.

use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use quick_cache::{Equivalent, Weighter};

/// About how many bytes a cached value holds, counted once when it is stored.
pub trait Weigh {
    fn weight(&self) -> usize;
}

/// The heap bytes of an optional string.
pub fn opt(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::len)
}

#[derive(Debug)]
struct Entry<V> {
    value: Arc<V>,
    at: Instant,
    bytes: u64,
}

impl<V> Clone for Entry<V> {
    fn clone(&self) -> Self {
        Entry { value: Arc::clone(&self.value), at: self.at, bytes: self.bytes }
    }
}

#[derive(Debug, Clone, Copy)]
struct ByBytes;

impl<K, V> Weighter<K, Entry<V>> for ByBytes {
    fn weight(&self, _: &K, e: &Entry<V>) -> u64 {
        e.bytes
    }
}

/// Rows by key, holding at most about `max_bytes`, each for at most `ttl`.
pub struct RowCache<K, V> {
    map: Cache<K, Entry<V>, ByBytes>,
    ttl: Duration,
}

impl<K: Eq + Hash + Clone, V: Weigh> std::fmt::Debug for RowCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCache").field("entries", &self.map.len()).field("ttl", &self.ttl).finish()
    }
}

impl<K: Eq + Hash + Clone, V: Weigh> RowCache<K, V> {
    pub fn new(max_bytes: u64, ttl: Duration) -> Self {
        let items = usize::try_from(max_bytes / 512).unwrap_or(usize::MAX).max(16);
        RowCache { map: Cache::with_weighter(items, max_bytes.max(1), ByBytes), ttl }
    }

    pub fn get<Q: Hash + Equivalent<K> + ?Sized>(&self, key: &Q) -> Option<Arc<V>> {
        let entry = self.map.get(key)?;
        if entry.at.elapsed() > self.ttl {
            self.map.remove(key);
            return None;
        }
        Some(entry.value)
    }

    pub fn insert(&self, key: K, value: Arc<V>) {
        // The entry itself and the map's own bookkeeping, besides what the value holds.
        let bytes = (value.weight() + std::mem::size_of::<V>() + 96) as u64;
        self.map.insert(key, Entry { value, at: Instant::now(), bytes });
    }

    pub fn invalidate<Q: Hash + Equivalent<K> + ?Sized>(&self, key: &Q) {
        self.map.remove(key);
    }

    pub fn invalidate_all(&self) {
        self.map.clear();
    }

    pub fn entry_count(&self) -> u64 {
        self.map.len() as u64
    }

    /// The bytes held, by the values' own estimates.
    pub fn weighted_size(&self) -> u64 {
        self.map.weight()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weigh for u32 {
        fn weight(&self) -> usize {
            0
        }
    }

    #[test]
    fn rows_come_back_until_invalidated_expired_or_evicted() {
        let cache: RowCache<String, u32> = RowCache::new(100_000, Duration::from_secs(60));
        cache.insert("a".into(), Arc::new(1));
        cache.insert("b".into(), Arc::new(2));
        assert_eq!(cache.get("a").as_deref(), Some(&1));
        cache.invalidate("a");
        assert_eq!(cache.get("a"), None);
        assert_eq!(cache.entry_count(), 1);
        cache.invalidate_all();
        assert_eq!(cache.get("b"), None);

        let brief: RowCache<String, u32> = RowCache::new(100_000, Duration::from_millis(1));
        brief.insert("a".into(), Arc::new(1));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(brief.get("a"), None, "expired");

        // Each entry weighs 100 bytes (4 + 96): 10 kB hold about a hundred.
        let small: RowCache<u32, u32> = RowCache::new(10_000, Duration::from_secs(60));
        for i in 0..10_000 {
            small.insert(i, Arc::new(i));
        }
        assert!(small.weighted_size() <= 10_000, "bounded by bytes: {}", small.weighted_size());
        assert!((50..=100).contains(&small.entry_count()), "{} entries", small.entry_count());
    }
}
