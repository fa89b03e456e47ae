//! Where a streaming replica stands against its primary, in WAL positions (`pg_lsn`, carried
//! as text between the two servers).

use sqlx::PgPool;

/// The primary's WAL insert position: at or past the commit record of every transaction whose
/// notification has been delivered.
pub async fn primary_position(primary: &PgPool) -> sqlx::Result<String> {
    sqlx::query_scalar!(r#"SELECT pg_current_wal_insert_lsn()::text AS "lsn!""#).fetch_one(primary).await
}

/// Whether the read server has replayed up to `lsn`. A server that is not in recovery (the
/// primary itself, or a promoted replica) has everything it will ever have.
pub async fn replayed(read: &PgPool, lsn: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, true) AS "replayed!""#,
        lsn
    )
    .fetch_one(read)
    .await
}

/// Seconds since the last transaction the read server replayed committed on the primary
/// (`None` on a server not in recovery, or before it replayed anything).
pub async fn replay_lag_seconds(read: &PgPool) -> sqlx::Result<Option<f64>> {
    sqlx::query_scalar!(
        r#"SELECT CASE WHEN pg_is_in_recovery()
                       THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS lag"#
    )
    .fetch_one(read)
    .await
}
