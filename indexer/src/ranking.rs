//! The ranker: keeps every period's top-track ranking in the `rankings` table, in the
//! background, so no AppView computes one while a request waits (the contract is
//! `plyr_store::rankings`).
//!
//! It listens for the write path's change announcements (from any process writing this
//! database: `run`, a standalone `backfill`) and recomputes every period once something changed,
//! at most every `interval`, and at least every `max_age` even when nothing did (windows slide).
//! A refresh that took long spaces the next one out to [`COST_FACTOR`] times its duration, so
//! the ranker's share of the database stays bounded on a large network whatever `interval` says.
//! Each refresh replaces all periods in one transaction and announces `rankings` when it commits;
//! two rankers on one database never refresh at once (a transaction-scoped advisory lock).

use std::time::{Duration, Instant};

use chrono::Utc;
use plyr_store::changes::{self, CHANNEL, Change, Touched};
use plyr_store::rankings::{CAP, Period};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::db::rankings;

/// A refresh that took `d` is not followed by another for `COST_FACTOR × d`.
pub const COST_FACTOR: u32 = 4;

/// When the ranker refreshes.
#[derive(Debug, Clone, Copy)]
pub struct RankerConfig {
    /// Shortest time between two refreshes while records keep changing.
    pub interval: Duration,
    /// Longest time between two refreshes when nothing changed.
    pub max_age: Duration,
}

impl Default for RankerConfig {
    fn default() -> Self {
        Self { interval: Duration::from_secs(2), max_age: Duration::from_secs(60) }
    }
}

/// What one refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Every period was replaced; `ranked` tracks in all.
    Done { ranked: u64 },
    /// Another ranker was refreshing this database at that moment.
    Busy,
}

/// Recomputes every period's ranking and replaces them in one transaction, announcing it.
pub async fn refresh(db: &PgPool) -> sqlx::Result<Refresh> {
    let started = Instant::now();
    let mut tx = db.begin().await?;
    if !rankings::try_lock(&mut tx).await? {
        return Ok(Refresh::Busy);
    }
    let now = Utc::now();
    let mut ranked = 0;
    for period in Period::EVERY {
        ranked += rankings::replace(&mut tx, period.name(), period.start(now), now, CAP).await?;
    }
    let mut touched = Touched::default();
    touched.rankings();
    changes::announce(&mut *tx, &touched).await?;
    tx.commit().await?;
    metrics::histogram!("indexer_ranking_refresh_seconds").record(started.elapsed().as_secs_f64());
    Ok(Refresh::Done { ranked })
}

/// Keeps the rankings fresh until `shutdown` (see the module header).
pub async fn run(db: PgPool, config: RankerConfig, shutdown: CancellationToken) {
    let mut listener: Option<PgListener> = None;
    // Nothing is known about what changed before we listened: refresh at once.
    let mut dirty = true;
    let mut last: Option<(Instant, Duration)> = None;
    loop {
        if listener.is_none() {
            listener = listen(&db).await;
            dirty = true;
        }
        let due = match last {
            None => Instant::now(),
            Some((at, cost)) if dirty => at + config.interval.max(cost * COST_FACTOR),
            Some((at, _)) => at + config.max_age,
        };
        let changed = async {
            match listener.as_mut() {
                Some(l) => l.try_recv().await,
                // Not listening: refresh on schedule; the next turn of the loop listens again.
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            next = changed => match next {
                Ok(Some(n)) => {
                    if Change::parse(n.payload()).is_none_or(|c| c.touches_records()) {
                        dirty = true;
                    }
                }
                // The connection dropped (sqlx reconnects on the next receive): announcements
                // may have been missed.
                Ok(None) => dirty = true,
                Err(e) => {
                    tracing::warn!(error = %e, "ranker: change-notification connection failed; reconnecting");
                    listener = None;
                }
            },
            _ = tokio::time::sleep_until(due.into()) => {
                let started = Instant::now();
                match refresh(&db).await {
                    Ok(outcome) => {
                        let cost = started.elapsed();
                        dirty = false;
                        last = Some((Instant::now(), cost));
                        metrics::counter!("indexer_ranking_refreshes_total", "outcome" => outcome.label()).increment(1);
                        if cost > config.interval {
                            tracing::info!(took_ms = cost.as_millis() as u64, ?outcome, "ranker: rankings refreshed (slowly: the next waits longer)");
                        } else {
                            tracing::debug!(took_ms = cost.as_millis() as u64, ?outcome, "ranker: rankings refreshed");
                        }
                    }
                    Err(e) => {
                        metrics::counter!("indexer_ranking_refreshes_total", "outcome" => "failed").increment(1);
                        tracing::warn!(error = %e, "ranker: refreshing the rankings failed; retrying");
                        last = Some((Instant::now(), started.elapsed()));
                    }
                }
            }
        }
    }
}

impl Refresh {
    fn label(self) -> &'static str {
        match self {
            Refresh::Done { .. } => "done",
            Refresh::Busy => "busy",
        }
    }
}

async fn listen(db: &PgPool) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(db).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "ranker: cannot open the change-notification connection; refreshing on schedule");
            return None;
        }
    };
    match listener.listen(CHANNEL).await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "ranker: LISTEN failed; refreshing on schedule");
            None
        }
    }
}
