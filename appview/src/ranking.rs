//! The top-track rankings as this process serves them: every period's ranking, by likes and by
//! plays ([`Metric`]), read whole from
//! the `rankings` table the indexer's ranker keeps (`plyr_store::rankings`), [`Held`] in memory
//! and read again when the ranker announces a refresh ([`crate::cache::listen`]). A first read is
//! of at most a few thousand rows, never a ranking computed.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
pub use plyr_store::rankings::{CAP, Metric, Period};
use sqlx::PgPool;

use crate::AppState;
use crate::db::feeds::{self, Ranked};
use crate::held::Held;

/// Every ranking, as read at one moment.
#[derive(Debug, Default)]
struct Snapshot {
    by_period: HashMap<(Metric, Period), Arc<Vec<Ranked>>>,
}

/// The rankings this process serves.
#[derive(Debug, Default)]
pub struct Rankings {
    held: Held<Snapshot>,
}

impl Rankings {
    /// The ranking of `period` by `metric` (empty until the ranker has computed one).
    pub async fn get(&self, db: &PgPool, metric: Metric, period: Period) -> sqlx::Result<Arc<Vec<Ranked>>> {
        let snapshot = self.held.get(|| load(db)).await?;
        Ok(snapshot.by_period.get(&(metric, period)).cloned().unwrap_or_default())
    }

    /// Reads the table again (the ranker replaced the rankings, or announcements were missed).
    /// On failure the rankings in memory stay as they were.
    pub async fn reload(&self, db: &PgPool) -> sqlx::Result<()> {
        self.held.reload(|| load(db)).await.map(|_| ())
    }
}

async fn load(db: &PgPool) -> sqlx::Result<Snapshot> {
    let (rows, periods) = tokio::try_join!(feeds::rankings(db), feeds::ranking_periods(db))?;
    let mut by_period: HashMap<(Metric, Period), Vec<Ranked>> = HashMap::new();
    for (name, ranked) in rows {
        // A ranking this build does not know (a newer ranker's) is not served.
        if let Some(key) = Metric::parse_ranking(&name) {
            by_period.entry(key).or_default().push(ranked);
        }
    }
    record_ages(&periods);
    Ok(Snapshot { by_period: by_period.into_iter().map(|(p, r)| (p, Arc::new(r))).collect() })
}

/// How old each period's ranking was when read, for `/metrics`.
fn record_ages(periods: &[(String, DateTime<Utc>)]) {
    let now = Utc::now();
    for (name, computed_at) in periods {
        // Both metrics of a period are computed together: the likes ranking's age is the period's.
        if let Some((Metric::Likes, period)) = Metric::parse_ranking(name) {
            let age = (now - *computed_at).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::gauge!("appview_ranking_age_seconds", "period" => period.name()).set(age);
        }
    }
}

/// The ranking for `period` by `metric`, from memory.
pub async fn ranking(state: &AppState, metric: Metric, period: Period) -> sqlx::Result<Arc<Vec<Ranked>>> {
    state.caches.rankings.get(&state.db, metric, period).await
}
