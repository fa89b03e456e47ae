//! Reconnect delays: exponential from a base to a cap, with jitter so a fleet of indexers does
//! not reconnect in lockstep after an instance restarts. Reset after a stable connection.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Consecutive-failure counter turned into delays.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration, max: Duration) -> Self {
        Self { base, max: max.max(base), failures: 0 }
    }

    /// The delay before the next attempt: `base · 2^failures`, capped, then a uniformly random
    /// point in its upper half ("equal jitter": never less than half the nominal delay).
    pub(crate) fn next_delay(&mut self) -> Duration {
        let nominal = self.nominal();
        self.failures = self.failures.saturating_add(1);
        nominal / 2 + nominal.mul_f64(random_unit() / 2.0)
    }

    /// Forgets past failures (after a connection stayed up long enough).
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    fn nominal(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.failures.min(31));
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// A random number in `[0, 1)`, from the standard library's per-process random hash keys (a
/// fresh `RandomState` per call), which is plenty for jitter and needs no dependency.
fn random_unit() -> f64 {
    let bits = std::collections::hash_map::RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for nominal in [1, 2, 4, 8, 16, 32, 60, 60] {
            let d = b.next_delay();
            let nominal = Duration::from_secs(nominal);
            assert!(d >= nominal / 2 && d <= nominal, "{d:?} outside [{:?}, {nominal:?}]", nominal / 2);
        }
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(60));
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }

    #[test]
    fn jitter_spreads() {
        let draws: Vec<f64> = (0..64).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]), "jitter is constant");
    }
}
