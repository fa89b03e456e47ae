//! The ranker: keeps every period's top-track ranking in the `rankings` table, in the
//! background, so no AppView computes one while a request waits (the contract is
//! `plyr_store::rankings`).
//!
//! A ranking is read from counters the write path keeps: all time from `subject_stats`, the day,
//! week and month from `window_counts` (`db::windows`), so replacing one costs an index read of
//! its top, not a count over every like in its window. The ranker's part of the windows is time:
//! each tick moves every window's edge to now, taking out what left it, and a window never
//! counted (a new or bulk-loaded database) is rebuilt from the likes and plays.
//!
//! It ticks every `interval` (a tick that took long waits [`COST_FACTOR`] times that before the
//! next, so its share of the database stays bounded whatever `interval` says) and replaces a
//! ranking when the write path announced a change since, when sliding changed its counts, or
//! when it is `max_age` old. The rankings replaced are written in one transaction that
//! announces `rankings` when it commits; two rankers on one database never refresh at once (a
//! transaction-scoped advisory lock).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use plyr_store::changes::{self, CHANNEL, Change, Touched};
use plyr_store::rankings::{CAP, Metric, Period};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::db::{rankings, windows};

/// A tick that took `d` is not followed by another for `COST_FACTOR × d`.
pub const COST_FACTOR: u32 = 4;

/// When the ranker refreshes.
#[derive(Debug, Clone, Copy)]
pub struct RankerConfig {
    /// Time between two ticks (each slides the windows and replaces what changed).
    pub interval: Duration,
    /// Longest time a ranking is kept unreplaced when nothing changed it.
    pub max_age: Duration,
}

impl Default for RankerConfig {
    fn default() -> Self {
        Self { interval: Duration::from_secs(1), max_age: Duration::from_secs(60) }
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

/// Rebuilds every window from the likes and plays, and replaces every ranking, announcing it:
/// for a database written by other means (a bulk load, a restore).
pub async fn refresh(db: &PgPool) -> sqlx::Result<Refresh> {
    update(db, Utc::now(), Windows::Rebuild, &Period::EVERY).await
}

/// Brings the windows to now in `mode` and replaces every ranking, logged: for the one-shot
/// commands. `indexer rank` recounts ([`Windows::Rebuild`]); `replay` and `backfill` wrote
/// through the write path, which kept the windows' counts, so they slide ([`Windows::Slide`]):
/// cheap, and it never stops the writers of an `indexer run` on the same database for long.
pub async fn update_once(db: &PgPool, mode: Windows) -> sqlx::Result<()> {
    let started = Instant::now();
    let outcome = update(db, Utc::now(), mode, &Period::EVERY).await?;
    tracing::info!(?outcome, ?mode, took_ms = started.elapsed().as_millis() as u64, "rankings refreshed");
    Ok(())
}

/// What an update does with the windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Windows {
    /// Recount every window from its edge at `now`.
    Rebuild,
    /// Move every window's edge to `now` (rebuilding one that was never counted).
    Slide,
}

/// Brings the windows to `now` and replaces the rankings of `replace`, and of every period whose
/// counts sliding changed, announcing them. Two transactions: the windows move under their
/// exclusive lock, which stops every writer of likes and plays, so that one holds nothing else;
/// the rankings are then read from the counters and replaced with writers running again.
pub async fn update(
    db: &PgPool,
    now: DateTime<Utc>,
    mode: Windows,
    replace: &[Period],
) -> sqlx::Result<Refresh> {
    Ok(update_timed(db, now, mode, replace).await?.0)
}

/// [`update`], and how much of its time went to rebuilding windows (once per database: not a
/// cost that should slow the ticks after it).
async fn update_timed(
    db: &PgPool,
    now: DateTime<Utc>,
    mode: Windows,
    replace: &[Period],
) -> sqlx::Result<(Refresh, Duration)> {
    let started = Instant::now();
    let mut rebuilding = Duration::ZERO;
    let mut tx = db.begin().await?;
    if !rankings::try_lock(&mut tx).await? {
        return Ok((Refresh::Busy, Duration::ZERO));
    }
    windows::lock(&mut tx).await?;
    let edges = windows::edges(&mut tx).await?;
    let mut due: Vec<Period> = replace.to_vec();
    for period in Period::EVERY {
        let Some(edge) = period.start(now) else { continue };
        let changed = match (mode, edges.iter().find(|(p, _)| *p == period)) {
            (Windows::Slide, Some((_, from))) if *from >= edge => 0,
            (Windows::Slide, Some((_, from))) => windows::slide(&mut tx, period, *from, edge).await?,
            // Never counted, or asked to recount.
            _ => {
                let began = Instant::now();
                let n = windows::rebuild(&mut tx, period, edge).await?;
                rebuilding += began.elapsed();
                tracing::info!(
                    period = period.name(),
                    counts = n,
                    took_ms = began.elapsed().as_millis() as u64,
                    "ranker: window counted from the likes and plays"
                );
                n.max(1)
            }
        };
        if changed > 0 && !due.contains(&period) {
            due.push(period);
        }
    }
    tx.commit().await?;
    let slid = started.elapsed();
    metrics::histogram!("indexer_ranking_slide_seconds").record(slid.as_secs_f64());
    if due.is_empty() {
        // Nothing changed and nothing is old: most ticks of a quiet network.
        return Ok((Refresh::Done(Vec::new()), rebuilding));
    }

    let mut tx = db.begin().await?;
    // Another ranker may have taken the lock since: wait for it rather than skip what changed.
    rankings::lock(&mut tx).await?;
    let mut done = Vec::with_capacity(due.len());
    for period in Period::EVERY.into_iter().filter(|p| due.contains(p)) {
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
    Ok((Refresh::Done(done), rebuilding))
}

/// Keeps the windows and rankings fresh until `shutdown` (see the module header).
pub async fn run(db: PgPool, config: RankerConfig, shutdown: CancellationToken) {
    let mut listener: Option<PgListener> = None;
    // Whether the write path announced a change since the rankings were last replaced, and when
    // each period's were.
    let mut dirty = true;
    let mut replaced: [Option<Instant>; Period::EVERY.len()] = [None; Period::EVERY.len()];
    let mut next = Instant::now();
    loop {
        if listener.is_none() {
            listener = listen(&db).await;
            // Nothing is known about what changed while we were not listening.
            dirty = true;
        }
        let changed = async {
            match listener.as_mut() {
                Some(l) => l.try_recv().await,
                // Not listening: tick on schedule; the next turn of the loop listens again.
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            n = changed => match n {
                Ok(Some(n)) => dirty |= Change::parse(n.payload()).is_none_or(|c| c.touches_records()),
                // The connection dropped (sqlx reconnects on the next receive): announcements
                // may have been missed.
                Ok(None) => dirty = true,
                Err(e) => {
                    tracing::warn!(error = %e, "ranker: change-notification connection failed; reconnecting");
                    listener = None;
                }
            },
            _ = tokio::time::sleep_until(next.into()) => {
                let started = Instant::now();
                let due: Vec<Period> = Period::EVERY
                    .iter()
                    .zip(&replaced)
                    .filter(|(_, at)| dirty || at.is_none_or(|at| started >= at + config.max_age))
                    .map(|(p, _)| *p)
                    .collect();
                let was_dirty = std::mem::take(&mut dirty);
                let outcome = update_timed(&db, Utc::now(), Windows::Slide, &due).await;
                let took = started.elapsed();
                let rebuilt = outcome.as_ref().map_or(Duration::ZERO, |(_, r)| *r);
                next = Instant::now() + config.interval.max(took.saturating_sub(rebuilt) * COST_FACTOR);
                match outcome.map(|(o, _)| o) {
                    Ok(outcome) => {
                        metrics::counter!("indexer_ranking_refreshes_total", "outcome" => outcome.label()).increment(1);
                        if let Refresh::Done(done) = &outcome {
                            for (period, _, _) in done {
                                if let Some(i) = Period::EVERY.iter().position(|p| p == period) {
                                    replaced[i] = Some(Instant::now());
                                }
                            }
                        } else {
                            // Another ranker did it; this one looks again at the next tick.
                            dirty |= was_dirty;
                        }
                        if took > config.interval {
                            tracing::info!(took_ms = took.as_millis() as u64, ?outcome, "ranker: rankings refreshed (slowly: the next tick waits longer)");
                        } else {
                            tracing::debug!(took_ms = took.as_millis() as u64, ?outcome, "ranker: rankings refreshed");
                        }
                    }
                    Err(e) => {
                        dirty |= was_dirty;
                        metrics::counter!("indexer_ranking_refreshes_total", "outcome" => "failed").increment(1);
                        tracing::warn!(error = %e, "ranker: refreshing the rankings failed; retrying");
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
