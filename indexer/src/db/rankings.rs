//! Writing the top-track rankings (`rankings`, `ranking_periods`; the contract is
//! `plyr_store::rankings`): each period's ranking is replaced whole inside the ranker's
//! transaction, so a reader sees either the previous ranking or the new one.

use chrono::{DateTime, Utc};
use plyr_store::rankings::Metric;

use super::Tx;

/// The ranker's lock: "plyr rankings" as ASCII, truncated to 8 bytes.
const KEY: i64 = 0x706c_7972_5f72_616e;

/// Takes the ranker's transaction-scoped lock; `false` when another ranker holds it (its
/// refresh is under way, and this one would only repeat it).
pub async fn try_lock(tx: &mut Tx<'_>) -> sqlx::Result<bool> {
    let locked = sqlx::query_scalar!(r#"SELECT pg_try_advisory_xact_lock($1) AS "locked!""#, KEY)
        .fetch_one(&mut **tx)
        .await?;
    Ok(locked)
}

/// Takes the ranker's transaction-scoped lock, waiting for another ranker to finish.
pub async fn lock(tx: &mut Tx<'_>) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", KEY).execute(&mut **tx).await?;
    Ok(())
}

/// Replaces the ranking `name` (a [`Metric`]'s ranking of one period) with the tracks with the
/// most distinct likers, or the most plays, from `since` on (all time when `None`: the all-time
/// counters; otherwise the window's counters, whose edge is `since`), ties broken by recency
/// then URI, at most `cap` of them; hidden accounts' tracks are left out. Returns how many were
/// ranked.
pub async fn replace(
    tx: &mut Tx<'_>,
    metric: Metric,
    name: &str,
    since: Option<DateTime<Utc>>,
    computed_at: DateTime<Utc>,
    cap: i64,
) -> sqlx::Result<u64> {
    sqlx::query!(
        "INSERT INTO ranking_periods (period, computed_at, since) VALUES ($1, $2, $3)
         ON CONFLICT (period) DO UPDATE SET computed_at = EXCLUDED.computed_at, since = EXCLUDED.since",
        name,
        computed_at,
        since
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!("DELETE FROM rankings WHERE period = $1", name).execute(&mut **tx).await?;
    let inserted = match (metric, since) {
        // All time: the counters the write path keeps.
        (Metric::Likes, None) => sqlx::query!(
            r#"INSERT INTO rankings (period, position, subject_uri, score, sort_at)
               SELECT $1, row_number() OVER (ORDER BY r.n DESC, r.sort_at DESC, r.uri DESC), r.uri, r.n, r.sort_at
                 FROM (SELECT t.uri, s.likes::BIGINT AS n, t.sort_at
                         FROM subject_stats s JOIN tracks t ON t.uri = s.subject_uri
                        WHERE s.likes > 0
                          AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did AND a.hidden)
                        ORDER BY s.likes DESC, t.sort_at DESC, t.uri DESC LIMIT $2) r"#,
            name,
            cap
        )
        .execute(&mut **tx)
        .await?,
        (Metric::Plays, None) => sqlx::query!(
            r#"INSERT INTO rankings (period, position, subject_uri, score, sort_at)
               SELECT $1, row_number() OVER (ORDER BY r.n DESC, r.sort_at DESC, r.uri DESC), r.uri, r.n, r.sort_at
                 FROM (SELECT t.uri, s.plays::BIGINT AS n, t.sort_at
                         FROM subject_stats s JOIN tracks t ON t.uri = s.subject_uri
                        WHERE s.plays > 0
                          AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did AND a.hidden)
                        ORDER BY s.plays DESC, t.sort_at DESC, t.uri DESC LIMIT $2) r"#,
            name,
            cap
        )
        .execute(&mut **tx)
        .await?,
        // A window: its counters (`db::windows`), read by their index from the top.
        (_, Some(_)) => sqlx::query!(
            r#"INSERT INTO rankings (period, position, subject_uri, score, sort_at)
               SELECT $1, row_number() OVER (ORDER BY r.n DESC, r.sort_at DESC, r.uri DESC), r.uri, r.n, r.sort_at
                 FROM (SELECT t.uri, w.n::BIGINT AS n, t.sort_at
                         FROM window_counts w JOIN tracks t ON t.uri = w.subject_uri
                        WHERE w.ranking = $1 AND w.n > 0
                          AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did AND a.hidden)
                        ORDER BY w.n DESC, t.sort_at DESC, t.uri DESC LIMIT $2) r"#,
            name,
            cap
        )
        .execute(&mut **tx)
        .await?,
    };
    Ok(inserted.rows_affected())
}
