//! Per-repo sync state: which repos need a backfill, and why.

use super::Tx;

/// Queues a known actor's repo for backfill. Returns whether the actor is known.
pub async fn queue(tx: &mut Tx<'_>, did: &str, reason: &str) -> sqlx::Result<bool> {
    let row = sqlx::query!(
        r#"INSERT INTO repos (did, backfill, reason, updated_at)
           SELECT did, 'pending', $2, now() FROM actors WHERE did = $1
           ON CONFLICT (did) DO UPDATE SET backfill = 'pending', reason = EXCLUDED.reason, updated_at = now()
           RETURNING did"#,
        did,
        reason,
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.is_some())
}

/// Queues every known actor's repo (after a stream gap: any of them may have changed).
pub async fn queue_all(tx: &mut Tx<'_>, reason: &str) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        r#"INSERT INTO repos (did, backfill, reason, updated_at)
           SELECT did, 'pending', $1, now() FROM actors WHERE status <> 'deleted'
           ON CONFLICT (did) DO UPDATE SET backfill = 'pending', reason = EXCLUDED.reason, updated_at = now()"#,
        reason,
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}
