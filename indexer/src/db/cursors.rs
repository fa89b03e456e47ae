//! Stream positions, stored in the same transaction as the data they cover.
//!
//! A source's events may be applied by several transactions at once, one per partition of its
//! DIDs ([`crate::pipeline`]); each stores its cursor under its partition number and the source
//! resumes from the oldest ([`load`]).

use sqlx::PgPool;

use super::Tx;
use crate::event::Cursor;

/// Stores `cursor` for its source's partition `part`, unless the stored one is newer (a replayed
/// older stretch of a stream must not move the position back).
pub async fn store(tx: &mut Tx<'_>, cursor: &Cursor, part: i16) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO cursors (source, part, cursor, time_us, issuer, updated_at) VALUES ($1, $2, $3, $4, $5, now())
           ON CONFLICT (source, part) DO UPDATE
             SET cursor = EXCLUDED.cursor, time_us = EXCLUDED.time_us, issuer = EXCLUDED.issuer,
                 updated_at = EXCLUDED.updated_at
             WHERE cursors.time_us <= EXCLUDED.time_us"#,
        cursor.source,
        part,
        cursor.value,
        cursor.time_us,
        cursor.issuer,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives every partition of `source` in `0..parts` that has no cursor yet the position `floor`
/// (where this run started). A partition with no row would otherwise be left out of [`load`]'s
/// oldest, and a crash before its first commit would resume past its events. Rows are taken in
/// partition order, the caller's own included, before the caller stores its own cursor, so two
/// partitions creating each other's rows wait for each other in one order and cannot deadlock.
pub async fn hold_parts(tx: &mut Tx<'_>, floor: &Cursor, parts: i16) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO cursors (source, part, cursor, time_us, issuer, updated_at)
           SELECT $1, k::smallint, $2, $3, $4, now() FROM generate_series(0, $5::smallint - 1) AS k
            ORDER BY k
           ON CONFLICT (source, part) DO NOTHING"#,
        floor.source,
        floor.value,
        floor.time_us,
        floor.issuer,
        parts,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Forgets the cursors of partitions `parts` and above of `source` (left by a run with more
/// partitions; [`load`] has already resumed from them if they were the oldest). Their events
/// now belong to the remaining partitions, so any of those ahead of the oldest retired position
/// is moved back to it first: otherwise a crash before those partitions commit again would
/// resume past events the retired partitions never committed.
pub async fn retire_parts(tx: &mut Tx<'_>, source: &str, parts: i16) -> sqlx::Result<()> {
    sqlx::query!(
        r#"WITH gone AS (DELETE FROM cursors WHERE source = $1 AND part >= $2
                         RETURNING cursor, time_us, issuer),
                oldest AS (SELECT cursor, time_us, issuer FROM gone ORDER BY time_us, cursor LIMIT 1)
           UPDATE cursors c SET cursor = o.cursor, time_us = o.time_us, issuer = o.issuer, updated_at = now()
             FROM oldest o
            WHERE c.source = $1 AND c.part < $2 AND (c.time_us, c.cursor) > (o.time_us, o.cursor)"#,
        source,
        parts,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Where `source` resumes: the oldest of its partitions' cursors, if any is stored.
pub async fn load(pool: &PgPool, source: &str) -> sqlx::Result<Option<Cursor>> {
    let row = sqlx::query!(
        "SELECT source, cursor, time_us, issuer FROM cursors WHERE source = $1 ORDER BY time_us, cursor LIMIT 1",
        source
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Cursor { source: r.source, value: r.cursor, time_us: r.time_us, issuer: r.issuer }))
}

/// Records a gap a stream could not replay.
pub async fn record_gap(tx: &mut Tx<'_>, source: &str, from: i64, reason: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO stream_gaps (source, from_cursor, detected_at, reason) VALUES ($1, $2, now(), $3)",
        source,
        from,
        reason,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
