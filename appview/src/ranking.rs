//! The top-tracks ranking: visible and hidden tracks by likes created within a period (ties by
//! recency), one query shared by every caller (XRPC `getTopTracks`, REST `/tracks/top`) through
//! a short-lived cache that any like also empties.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::AppState;
use crate::db::feeds::{self, Ranked};

/// Most tracks a ranking keeps (and pages through).
pub const TOP_CAP: i64 = 1000;

/// A ranking's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
    All,
}

impl Period {
    /// The XRPC names (`day`, `week`, `month`, `all`); REST's `all_time` is `all`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            "all" | "all_time" => Some(Self::All),
            _ => None,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::All => "all",
        }
    }

    /// When the window starts, `None` for all time.
    pub fn start(self) -> Option<DateTime<Utc>> {
        let days = match self {
            Self::Day => 1,
            Self::Week => 7,
            Self::Month => 30,
            Self::All => return None,
        };
        Some(Utc::now() - Duration::days(days))
    }
}

/// The ranking for `period`, from the cache when it holds one; concurrent misses share one query.
/// The error is the database's, shared by every caller that waited for it.
pub async fn ranking(state: &AppState, period: Period) -> Result<Arc<Vec<Ranked>>, Arc<sqlx::Error>> {
    let db = state.db.clone();
    let since = period.start();
    state
        .caches
        .top
        .try_get_with(period.key(), async move { feeds::top(&db, since, TOP_CAP).await.map(Arc::new) })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_from_both_surfaces_names() {
        assert_eq!(Period::parse("all_time"), Some(Period::All));
        assert_eq!(Period::parse("all"), Some(Period::All));
        assert_eq!(Period::parse("week"), Some(Period::Week));
        assert_eq!(Period::parse("year"), None);
        assert!(Period::All.start().is_none());
        let day = Period::Day.start().expect("a start");
        assert!((Utc::now() - day - Duration::days(1)).num_seconds().abs() < 5);
    }
}
