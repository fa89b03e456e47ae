//! What this process reports on `/health` and `/ready`: whether it writes (holds the writer
//! lock, [`crate::leader`]) or waits as a hot standby, and how far its commits trail the stream.
//! Process-wide, like its metrics: one indexer runs per process.

use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::time::Duration;

/// The metric: 1 while this process holds the writer lock, 0 otherwise.
pub const LEADER: &str = "indexer_leader";

/// A stream that has delivered nothing for this long is caught up as far as it can tell,
/// however old its last event: fm.plyr traffic is sparse.
pub const QUIET: Duration = Duration::from_secs(10);

/// This process's part in writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Not (yet) competing for the writer lock: a one-shot command, or before `run` asks.
    Starting,
    /// Waiting for the writer lock, ready to take over.
    Standby,
    /// Holding the writer lock: the one process writing the stream.
    Leader,
}

static ROLE: AtomicU8 = AtomicU8::new(0);
/// Wall-clock milliseconds when the pipeline last took an event from its source (0: never).
static RECEIVED_AT_MS: AtomicI64 = AtomicI64::new(0);
/// Stream time (µs) of the newest event this process committed (0: none yet).
static COMMITTED_US: AtomicI64 = AtomicI64::new(0);

pub fn set_role(role: Role) {
    ROLE.store(role as u8, Ordering::Relaxed);
    metrics::gauge!(LEADER).set(if role == Role::Leader { 1.0 } else { 0.0 });
}

pub fn role() -> Role {
    match ROLE.load(Ordering::Relaxed) {
        1 => Role::Standby,
        2 => Role::Leader,
        _ => Role::Starting,
    }
}

/// The pipeline took events from its source.
pub fn received() {
    RECEIVED_AT_MS.store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
}

/// A commit covered the stream up to `time_us`.
pub fn committed(time_us: i64) {
    COMMITTED_US.fetch_max(time_us, Ordering::Relaxed);
}

/// How far the writes trail the stream, as `/ready` judges it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Seconds from the newest committed event's stream time to now (`None`: nothing committed).
    pub lag_seconds: Option<f64>,
    /// Nothing arrived from the source for [`QUIET`].
    pub quiet: bool,
}

impl Progress {
    pub fn now() -> Progress {
        let now = chrono::Utc::now();
        let committed = COMMITTED_US.load(Ordering::Relaxed);
        let received = RECEIVED_AT_MS.load(Ordering::Relaxed);
        Progress {
            lag_seconds: (committed > 0)
                .then(|| now.timestamp_micros().saturating_sub(committed).max(0) as f64 / 1e6),
            quiet: now.timestamp_millis().saturating_sub(received) >= QUIET.as_millis() as i64,
        }
    }

    /// Caught up: the newest commit is within `max_lag` of now, or the source has gone quiet
    /// (everything it delivered is committed or being committed).
    pub fn caught_up(&self, max_lag: Duration) -> bool {
        self.quiet || self.lag_seconds.is_none_or(|lag| lag <= max_lag.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_stream_far_behind_is_not_caught_up_and_a_quiet_one_is() {
        let max = Duration::from_secs(60);
        let behind = Progress { lag_seconds: Some(3_600.0), quiet: false };
        assert!(!behind.caught_up(max));
        assert!(Progress { quiet: true, ..behind }.caught_up(max), "sparse traffic: the last event is old");
        assert!(Progress { lag_seconds: Some(2.0), quiet: false }.caught_up(max));
        assert!(Progress { lag_seconds: None, quiet: false }.caught_up(max), "nothing committed yet");
    }

    #[test]
    fn roles_round_trip() {
        for role in [Role::Leader, Role::Standby, Role::Starting] {
            set_role(role);
            assert_eq!(super::role(), role);
        }
    }
}
