//! The top-tracks rankings contract: which periods and orderings ([`Metric`]) exist, where each
//! period's window starts, how a ranking is named in the table, and how many tracks it keeps. The indexer's ranker writes every period's ranking to the
//! `rankings` table (migration 0011) and announces it ([`crate::changes::Touched::rankings`]);
//! every AppView reads that table into memory, so no request ever computes a ranking.

use chrono::{DateTime, Duration, Utc};

/// Most tracks a ranking keeps (and pages through).
pub const CAP: i64 = 1000;

/// A ranking's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Day,
    Week,
    Month,
    All,
}

impl Period {
    /// Every period, in the order the ranker computes them.
    pub const EVERY: [Period; 4] = [Period::Day, Period::Week, Period::Month, Period::All];

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

    /// The name stored in the `rankings` table.
    pub fn name(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::All => "all",
        }
    }

    /// Where the window ending at `now` starts: likes created at or after it count; `None` for
    /// all time.
    pub fn start(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let days = match self {
            Self::Day => 1,
            Self::Week => 7,
            Self::Month => 30,
            Self::All => return None,
        };
        Some(now - Duration::days(days))
    }
}

/// What a ranking orders by: distinct likers (the default everywhere) or plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Metric {
    #[default]
    Likes,
    Plays,
}

impl Metric {
    pub const EVERY: [Metric; 2] = [Metric::Likes, Metric::Plays];

    /// The names both surfaces take (`likes`, `plays`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "likes" => Some(Self::Likes),
            "plays" => Some(Self::Plays),
            _ => None,
        }
    }

    /// The name of `period`'s ranking by this metric in the `rankings` table: the period's own
    /// name for likes (as before plays were ranked), `plays:<period>` for plays.
    pub fn ranking(self, period: Period) -> String {
        match self {
            Self::Likes => period.name().to_owned(),
            Self::Plays => format!("plays:{}", period.name()),
        }
    }

    /// The metric and period a stored ranking name stands for.
    pub fn parse_ranking(name: &str) -> Option<(Self, Period)> {
        match name.strip_prefix("plays:") {
            Some(period) => Some((Self::Plays, Period::parse(period)?)),
            None => Some((Self::Likes, Period::parse(name)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_names_round_trip_and_likes_keep_the_bare_period() {
        assert_eq!(Metric::Likes.ranking(Period::Week), "week");
        assert_eq!(Metric::Plays.ranking(Period::All), "plays:all");
        for m in Metric::EVERY {
            for p in Period::EVERY {
                assert_eq!(Metric::parse_ranking(&m.ranking(p)), Some((m, p)));
            }
        }
        assert_eq!(Metric::parse_ranking("plays:year"), None);
        assert_eq!(Metric::parse("plays"), Some(Metric::Plays));
        assert_eq!(Metric::parse("hot"), None);
    }

    #[test]
    fn periods_parse_from_both_surfaces_names_and_round_trip() {
        assert_eq!(Period::parse("all_time"), Some(Period::All));
        assert_eq!(Period::parse("year"), None);
        for p in Period::EVERY {
            assert_eq!(Period::parse(p.name()), Some(p));
        }
        let now = Utc::now();
        assert_eq!(Period::All.start(now), None);
        assert_eq!(Period::Day.start(now), Some(now - Duration::days(1)));
        assert_eq!(Period::Month.start(now), Some(now - Duration::days(30)));
    }
}
