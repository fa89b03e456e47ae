//! The `jti` replay cache: which `(iss, jti)` pairs have been accepted and are still live.
//!
//! Each entry is keyed by SHA-256(`iss` NUL `jti`) (32 bytes, whatever the claim lengths) and
//! expires when its token could no longer be accepted (`exp` plus the clock-skew allowance),
//! so memory is bounded by the accepted-token rate times the token lifetime, and by
//! `capacity`. Eviction is LRU: when full, the oldest entries go first, and a new token is
//! always recorded. The cache is per process: a token replayed to another replica is not
//! caught.

use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use moka::policy::EvictionPolicy;
use sha2::{Digest, Sha256};

/// Remembers accepted tokens until they expire.
#[derive(Clone)]
pub(crate) struct ReplayCache {
    seen: Cache<[u8; 32], Duration>,
}

/// Each entry lives for the duration stored as its value.
struct UntilExpiry;

impl Expiry<[u8; 32], Duration> for UntilExpiry {
    fn expire_after_create(&self, _: &[u8; 32], ttl: &Duration, _: Instant) -> Option<Duration> {
        Some(*ttl)
    }
}

impl ReplayCache {
    /// A cache holding at most `capacity` live tokens.
    pub(crate) fn new(capacity: u64) -> Self {
        let seen = Cache::builder()
            .max_capacity(capacity)
            .eviction_policy(EvictionPolicy::lru())
            .expire_after(UntilExpiry)
            .build();
        ReplayCache { seen }
    }

    /// Records `(iss, jti)` for `ttl`; true when it was not already recorded. Atomic: of two
    /// concurrent calls with the same pair, exactly one gets true.
    pub(crate) async fn first_use(&self, iss: &str, jti: &str, ttl: Duration) -> bool {
        let mut hasher = Sha256::new();
        hasher.update(iss.as_bytes());
        hasher.update([0]);
        hasher.update(jti.as_bytes());
        let key: [u8; 32] = hasher.finalize().into();
        self.seen.entry(key).or_insert(ttl).await.is_fresh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn remembers_pairs_until_they_expire() {
        let cache = ReplayCache::new(100);
        let ttl = Duration::from_millis(200);
        assert!(cache.first_use("did:plc:a", "n1", ttl).await);
        assert!(!cache.first_use("did:plc:a", "n1", ttl).await);
        assert!(cache.first_use("did:plc:b", "n1", ttl).await, "jti is scoped to its issuer");
        assert!(cache.first_use("did:plc:a", "n2", ttl).await);
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert!(cache.first_use("ab", "c", ttl).await);
        assert!(cache.first_use("a", "bc", ttl).await);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(cache.first_use("did:plc:a", "n1", ttl).await, "expired entries are forgotten");
    }
}
