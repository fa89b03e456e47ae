//! The Jetstream client's metrics and rate-limited logs: events by kind, drops by reason,
//! connection outcomes, and the age of the newest event (liveness is judged by event age, not by
//! silence: fm.plyr traffic is sparse, so a quiet stream is normal).

use std::collections::HashMap;
use std::fmt::Display;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::event::EventBody;

/// Events delivered, by `kind` (commit, identity, account, sync, info).
pub const EVENTS_TOTAL: &str = "indexer_jetstream_events_total";
/// Frames dropped, by `reason`.
pub const DROPPED_TOTAL: &str = "indexer_jetstream_dropped_total";
/// Connection attempts, by `outcome` (ok, refused, timeout, rejected, cursor_too_old).
pub const CONNECTS_TOTAL: &str = "indexer_jetstream_connects_total";
/// Seconds between now and the time of the newest event delivered.
pub const CURSOR_AGE_SECONDS: &str = "indexer_jetstream_cursor_age_seconds";

/// How often one drop reason (or the lag warning) may be logged.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// The `kind` label of an event.
pub(crate) fn kind_label(body: &EventBody) -> &'static str {
    match body {
        EventBody::Commit(_) => "commit",
        EventBody::Identity { .. } => "identity",
        EventBody::Account { .. } => "account",
        EventBody::Sync { .. } => "sync",
    }
}

/// Per-run counters state: when each reason was last logged, and the newest event time.
#[derive(Debug)]
pub(crate) struct Telemetry {
    lag_warning: Duration,
    last_logged: HashMap<&'static str, Instant>,
    newest_event_us: Option<i64>,
}

impl Telemetry {
    pub(crate) fn new(lag_warning: Duration) -> Self {
        Self { lag_warning, last_logged: HashMap::new(), newest_event_us: None }
    }

    /// Counts a dropped frame; logs it unless this reason was logged in the last minute.
    pub(crate) fn dropped(&mut self, reason: &'static str, detail: &dyn Display, url: &str) {
        metrics::counter!(DROPPED_TOTAL, "reason" => reason).increment(1);
        if self.may_log(reason) {
            tracing::warn!(reason, url = %url, error = %detail, "dropped a Jetstream frame (this reason is logged at most once a minute)");
        }
    }

    /// Counts a connection attempt.
    pub(crate) fn connect(&self, outcome: &'static str) {
        metrics::counter!(CONNECTS_TOTAL, "outcome" => outcome).increment(1);
    }

    /// Counts a notice frame (`#info`, error frames).
    pub(crate) fn notice(&self) {
        metrics::counter!(EVENTS_TOTAL, "kind" => "info").increment(1);
    }

    /// Counts a delivered event whose stream time is `time_us`, and warns (rate-limited) when it
    /// is older than the lag threshold: the instance is behind, or we are replaying.
    pub(crate) fn event(&mut self, body: &EventBody, time_us: i64, url: &str) {
        metrics::counter!(EVENTS_TOTAL, "kind" => kind_label(body)).increment(1);
        if self.newest_event_us.is_none_or(|newest| time_us > newest) {
            self.newest_event_us = Some(time_us);
        }
        self.refresh_age();
        let age = age_seconds(time_us);
        if age > self.lag_warning.as_secs_f64() && self.may_log("lag") {
            tracing::warn!(url = %url, age_seconds = age.round(), "Jetstream is delivering old events (lagging or replaying)");
        }
    }

    /// Re-computes the cursor-age gauge (it grows while nothing new arrives).
    pub(crate) fn refresh_age(&self) {
        if let Some(newest) = self.newest_event_us {
            metrics::gauge!(CURSOR_AGE_SECONDS).set(age_seconds(newest));
        }
    }

    fn may_log(&mut self, key: &'static str) -> bool {
        let now = Instant::now();
        match self.last_logged.get(key) {
            Some(at) if now.duration_since(*at) < LOG_EVERY => false,
            _ => {
                self.last_logged.insert(key, now);
                true
            }
        }
    }
}

/// Seconds from `time_us` to now (negative for clocks ahead of ours).
fn age_seconds(time_us: i64) -> f64 {
    let now_us = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
    now_us.saturating_sub(time_us) as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_each_reason_at_most_once_a_minute() {
        let mut t = Telemetry::new(Duration::from_secs(600));
        assert!(t.may_log("malformed"));
        assert!(!t.may_log("malformed"));
        assert!(t.may_log("bad_record"));
        assert!(age_seconds(0) > 1.0e9);
    }
}
