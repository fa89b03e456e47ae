//! The windowed counters behind the day, week and month rankings (`window_counts`,
//! `ranking_windows`; migration 0017 states the invariant): the write path adds its changes
//! against the edges it reads under the shared lock, and the ranker moves the edges forward or
//! rebuilds a window under the exclusive one.

use chrono::{DateTime, Utc};
use plyr_store::rankings::{Metric, Period};

use super::Tx;

/// The windows' advisory lock: "plyr windows" as ASCII, truncated to 8 bytes.
const KEY: i64 = 0x706c_7972_5f77_696e;

/// Takes the windows' lock shared, for this transaction: the edges read after it stay where
/// they are until the transaction ends.
pub async fn lock_shared(tx: &mut Tx<'_>) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_advisory_xact_lock_shared($1)", KEY).execute(&mut **tx).await?;
    Ok(())
}

/// Takes the windows' lock exclusively, for this transaction (the ranker): waits for every
/// writer counting against the current edges to commit.
pub async fn lock(tx: &mut Tx<'_>) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", KEY).execute(&mut **tx).await?;
    Ok(())
}

/// Every period's edge, as the counters stand (none before the ranker's first run).
pub async fn edges(tx: &mut Tx<'_>) -> sqlx::Result<Vec<(Period, DateTime<Utc>)>> {
    let rows = sqlx::query!("SELECT period, edge FROM ranking_windows").fetch_all(&mut **tx).await?;
    Ok(rows.into_iter().filter_map(|r| Some((Period::parse(&r.period)?, r.edge))).collect())
}

/// Adds `delta[i]` to the count of `subject[i]` in `ranking[i]`; the caller sends each key once,
/// in key order (two writers then lock rows in the same order), and counts back at zero go.
pub async fn add(tx: &mut Tx<'_>, ranking: &[&str], subject: &[&str], delta: &[i32]) -> sqlx::Result<()> {
    if ranking.is_empty() {
        return Ok(());
    }
    let zero = sqlx::query!(
        r#"WITH up AS (
             INSERT INTO window_counts (ranking, subject_uri, n)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::int[])
             ON CONFLICT (ranking, subject_uri) DO UPDATE SET n = window_counts.n + EXCLUDED.n
             RETURNING ranking, subject_uri, n)
           SELECT ranking AS "ranking!", subject_uri AS "subject_uri!" FROM up WHERE n <= 0"#,
        ranking as &[&str],
        subject as &[&str],
        delta,
    )
    .fetch_all(&mut **tx)
    .await?;
    if !zero.is_empty() {
        let (ranking, subject): (Vec<String>, Vec<String>) =
            zero.into_iter().map(|r| (r.ranking, r.subject_uri)).unzip();
        sqlx::query!(
            "DELETE FROM window_counts w USING UNNEST($1::text[], $2::text[]) AS z(ranking, subject_uri)
              WHERE w.ranking = z.ranking AND w.subject_uri = z.subject_uri AND w.n <= 0",
            &ranking,
            &subject
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Recounts `period`'s windows (likes and plays) from `edge` on and records the edge: for a
/// database written by other means, or one whose windows were never counted. Returns how many
/// counts were written.
pub async fn rebuild(tx: &mut Tx<'_>, period: Period, edge: DateTime<Utc>) -> sqlx::Result<u64> {
    let (likes, plays) = (Metric::Likes.ranking(period), Metric::Plays.ranking(period));
    sqlx::query!("DELETE FROM window_counts WHERE ranking = $1 OR ranking = $2", likes, plays)
        .execute(&mut **tx)
        .await?;
    // A pair counts once however many of its likes are in the window.
    let counted = sqlx::query!(
        r#"INSERT INTO window_counts (ranking, subject_uri, n)
           SELECT $1, subject_uri, count(DISTINCT did) FROM likes WHERE sort_at >= $3 GROUP BY subject_uri
           UNION ALL
           SELECT $2, matched_uri COLLATE "C", count(*) FROM plays
            WHERE played_at >= $3 AND matched_uri IS NOT NULL GROUP BY matched_uri"#,
        likes,
        plays,
        edge
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    set_edge(tx, period, edge).await?;
    Ok(counted)
}

/// Moves `period`'s edge from `from` to `to` (later), taking out of its counts every pair whose
/// last like in the window sorts before `to`, and every play played before it. Returns
/// how many counts changed.
pub async fn slide(
    tx: &mut Tx<'_>,
    period: Period,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let (likes, plays) = (Metric::Likes.ranking(period), Metric::Plays.ranking(period));
    let changed = sqlx::query!(
        r#"WITH gone AS (
             SELECT $1::text AS ranking, l.subject_uri, count(DISTINCT l.did)::INTEGER AS n FROM likes l
              WHERE l.sort_at >= $3 AND l.sort_at < $4
                AND NOT EXISTS (SELECT 1 FROM likes x
                                 WHERE x.subject_uri = l.subject_uri AND x.did = l.did AND x.sort_at >= $4)
              GROUP BY l.subject_uri
             UNION ALL
             SELECT $2::text, matched_uri COLLATE "C", count(*)::INTEGER FROM plays
              WHERE played_at >= $3 AND played_at < $4 AND matched_uri IS NOT NULL GROUP BY matched_uri)
           UPDATE window_counts w SET n = w.n - gone.n FROM gone
            WHERE w.ranking = gone.ranking AND w.subject_uri = gone.subject_uri"#,
        likes,
        plays,
        from,
        to
    )
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed > 0 {
        sqlx::query!(
            "DELETE FROM window_counts WHERE (ranking = $1 OR ranking = $2) AND n <= 0",
            likes,
            plays
        )
        .execute(&mut **tx)
        .await?;
    }
    set_edge(tx, period, to).await?;
    Ok(changed)
}

async fn set_edge(tx: &mut Tx<'_>, period: Period, edge: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO ranking_windows (period, edge) VALUES ($1, $2)
         ON CONFLICT (period) DO UPDATE SET edge = EXCLUDED.edge",
        period.name(),
        edge
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
