//! The ranker: keeps every period's top-track ranking in the `rankings` table, in the
//! background, so no AppView computes one while a request waits (the contract is
//! `plyr_store::rankings`).
//!
//! It listens for the write path's change announcements (from any process writing this
//! database: `run`, a standalone `backfill`) and recomputes each period once something changed,
//! at most every `interval`, and at least every `max_age` even when nothing did (windows slide).
//! A period whose computation took long waits [`COST_FACTOR`] times that before its next, so
//! the ranker's share of the database stays bounded on a large network whatever `interval`
//! says, and a cheap period (the day) is not held back by a costly one (the month: 10 s over
//! 3.4 million likes in its window, docs/BENCHMARKS.md). The periods due are replaced in one
//! transaction that announces `rankings` when it commits; two rankers on one database never
//! refresh at once (a transaction-scoped advisory lock).

use std::time::{Duration, Instant};

use chrono::Utc;
use plyr_store::changes::{self, CHANNEL, Change, Touched};
use plyr_store::rankings::{CAP, Metric, Period};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The periods were replaced: each with how many tracks it ranks and how long it took.
    Done(Vec<(Period, u64, Duration)>),
    /// Another ranker was refreshing this database at that moment.
    Busy,
}

impl Refresh {
    /// Tracks ranked over all the periods replaced.
    pub fn ranked(&self) -> Option<u64> {
        match self {
            Refresh::Done(periods) => Some(periods.iter().map(|p| p.1).sum()),
            Refresh::Busy => None,
        }
    }
}

/// Recomputes every period's ranking and replaces them in one transaction, announcing it.
pub async fn refresh(db: &PgPool) -> sqlx::Result<Refresh> {
    refresh_periods(db, &Period::EVERY).await
}

/// [`refresh`], logged: after a one-shot command changed the index.
pub async fn refresh_once(db: &PgPool) -> sqlx::Result<()> {
    let started = Instant::now();
    let outcome = refresh(db).await?;
    tracing::info!(?outcome, took_ms = started.elapsed().as_millis() as u64, "rankings refreshed");
    Ok(())
}

/// Recomputes `periods` and replaces them in one transaction, announcing it.
pub async fn refresh_periods(db: &PgPool, periods: &[Period]) -> sqlx::Result<Refresh> {
    let started = Instant::now();
    let mut tx = db.begin().await?;
    if !rankings::try_lock(&mut tx).await? {
        return Ok(Refresh::Busy);
    }
    let now = Utc::now();
    let mut done = Vec::with_capacity(periods.len());
    for &period in periods {
        let began = Instant::now();
        let mut ranked = 0;
        for metric in Metric::EVERY {
            let name = metric.ranking(period);
            ranked += rankings::replace(&mut tx, metric, &name, period.start(now), now, CAP).await?;
        }
        done.push((period, ranked, began.elapsed()));
    }
    let mut touched = Touched::default();
    touched.rankings();
    changes::announce(&mut *tx, &touched).await?;
    tx.commit().await?;
    metrics::histogram!("indexer_ranking_refresh_seconds").record(started.elapsed().as_secs_f64());
    Ok(Refresh::Done(done))
}

/// When each period was last computed, what that cost, and whether anything changed since.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    last: Option<Instant>,
    cost: Duration,
    dirty: bool,
}

impl Schedule {
    fn due(&self, config: &RankerConfig, now: Instant) -> Instant {
        match self.last {
            None => now,
            Some(at) if self.dirty => at + config.interval.max(self.cost * COST_FACTOR),
            Some(at) => at + config.max_age,
        }
    }
}

/// Keeps the rankings fresh until `shutdown` (see the module header).
pub async fn run(db: PgPool, config: RankerConfig, shutdown: CancellationToken) {
    let mut listener: Option<PgListener> = None;
    let mut schedule = [Schedule { last: None, cost: Duration::ZERO, dirty: true }; Period::EVERY.len()];
    let mark_dirty = |schedule: &mut [Schedule]| schedule.iter_mut().for_each(|s| s.dirty = true);
    loop {
        if listener.is_none() {
            listener = listen(&db).await;
            // Nothing is known about what changed while we were not listening.
            mark_dirty(&mut schedule);
        }
        let now = Instant::now();
        let due = schedule.iter().map(|s| s.due(&config, now)).min().unwrap_or(now);
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
                        mark_dirty(&mut schedule);
                    }
                }
                // The connection dropped (sqlx reconnects on the next receive): announcements
                // may have been missed.
                Ok(None) => mark_dirty(&mut schedule),
                Err(e) => {
                    tracing::warn!(error = %e, "ranker: change-notification connection failed; reconnecting");
                    listener = None;
                }
            },
            _ = tokio::time::sleep_until(due.into()) => {
                let now = Instant::now();
                let periods: Vec<Period> = Period::EVERY
                    .iter()
                    .zip(&schedule)
                    .filter(|(_, s)| s.due(&config, now) <= now)
                    .map(|(p, _)| *p)
                    .collect();
                let started = Instant::now();
                match refresh_periods(&db, &periods).await {
                    Ok(outcome) => {
                        metrics::counter!("indexer_ranking_refreshes_total", "outcome" => outcome.label()).increment(1);
                        let finished = Instant::now();
                        match &outcome {
                            Refresh::Done(done) => {
                                for (period, _, cost) in done {
                                    let i = Period::EVERY.iter().position(|p| p == period).unwrap_or(0);
                                    schedule[i] = Schedule { last: Some(finished), cost: *cost, dirty: false };
                                }
                            }
                            // Another ranker did it: look again after a while.
                            Refresh::Busy => {
                                for s in schedule.iter_mut() {
                                    s.last = Some(finished);
                                }
                            }
                        }
                        let took = started.elapsed();
                        if took > config.interval {
                            tracing::info!(took_ms = took.as_millis() as u64, ?outcome, "ranker: rankings refreshed (slowly: those periods wait longer)");
                        } else {
                            tracing::debug!(took_ms = took.as_millis() as u64, ?outcome, "ranker: rankings refreshed");
                        }
                    }
                    Err(e) => {
                        metrics::counter!("indexer_ranking_refreshes_total", "outcome" => "failed").increment(1);
                        tracing::warn!(error = %e, "ranker: refreshing the rankings failed; retrying");
                        let (finished, cost) = (Instant::now(), started.elapsed());
                        for s in schedule.iter_mut() {
                            s.last = Some(finished);
                            s.cost = s.cost.max(cost);
                        }
                    }
                }
            }
        }
    }
}

impl Refresh {
    fn label(&self) -> &'static str {
        match self {
            Refresh::Done(_) => "done",
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
