//! Accounts: existence, repo rev, hosting status, claimed handle, and purging a deleted account.

use chrono::{DateTime, Utc};

use super::Tx;

/// Authors seen in a run, as parallel columns: newest applied rev, first and last time seen.
#[derive(Debug, Default)]
pub struct Seen {
    pub did: Vec<String>,
    pub rev: Vec<String>,
    pub first: Vec<DateTime<Utc>>,
    pub last: Vec<DateTime<Utc>>,
}

/// Makes sure every DID has an actor row (first seen at `first`) and advances each repo's newest
/// applied rev and last update (`last`).
pub async fn ensure(tx: &mut Tx<'_>, s: &Seen) -> sqlx::Result<()> {
    if s.did.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"INSERT INTO actors (did, repo_rev, indexed_at, updated_at)
           SELECT d, r, f, l FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS u(d, r, f, l)
           ON CONFLICT (did) DO UPDATE
             SET repo_rev = GREATEST(actors.repo_rev, EXCLUDED.repo_rev),
                 updated_at = GREATEST(actors.updated_at, EXCLUDED.updated_at)"#,
        &s.did,
        &s.rev,
        &s.first,
        &s.last,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Advances the newest applied rev and last update of the DIDs that are actors already; makes
/// none.
pub async fn advance(tx: &mut Tx<'_>, s: &Seen) -> sqlx::Result<()> {
    if s.did.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"UPDATE actors a SET repo_rev = GREATEST(a.repo_rev, u.r), updated_at = GREATEST(a.updated_at, u.l)
             FROM UNNEST($1::text[], $2::text[], $3::timestamptz[]) AS u(d, r, l)
            WHERE a.did = u.d"#,
        &s.did,
        &s.rev,
        &s.last,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What the write path needs to know about an account before applying its commits.
#[derive(Debug, Clone)]
pub struct Known {
    pub did: String,
    /// Hosting status (`deleted` accounts take no more records).
    pub status: String,
    /// When the account was first seen with a record of ours.
    pub indexed_at: DateTime<Utc>,
}

/// The accounts we know among `dids`.
pub async fn statuses(tx: &mut Tx<'_>, dids: &[String]) -> sqlx::Result<Vec<Known>> {
    if dids.is_empty() {
        return Ok(Vec::new());
    }
    // A join against the array probes the primary key once per DID. `did = ANY($1)` in a
    // prepared statement's generic plan cannot hash the array, and on a small table it compared
    // every actor with every DID: 215 ms per batch by the end of a 200,000-event replay.
    sqlx::query_as!(
        Known,
        "SELECT a.did, a.status, a.indexed_at FROM UNNEST($1::text[]) AS u(did) JOIN actors a ON a.did = u.did",
        dids
    )
    .fetch_all(&mut **tx)
    .await
}

/// Applies an `#account` event to a known actor unless a newer one was already applied.
/// Returns the new status when it changed something.
pub async fn apply_account(
    tx: &mut Tx<'_>,
    did: &str,
    status: &str,
    event_us: i64,
) -> sqlx::Result<Option<String>> {
    let row = sqlx::query!(
        r#"UPDATE actors SET status = $2, status_event_us = $3, updated_at = GREATEST(updated_at, to_timestamp($3::bigint / 1e6))
           WHERE did = $1 AND status_event_us < $3
           RETURNING status"#,
        did,
        status,
        event_us,
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| r.status))
}

/// Whether `did` has an actor row.
pub async fn exists(tx: &mut Tx<'_>, did: &str) -> sqlx::Result<bool> {
    let found =
        sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM actors WHERE did = $1) AS "found!""#, did)
            .fetch_one(&mut **tx)
            .await?;
    Ok(found)
}

/// Applies `#identity` events (one per DID, the newest) to known actors: the claimed handle is
/// stored unverified and the identity is marked for re-resolution. Older events than the newest
/// applied are ignored. Returns the DIDs that were updated.
pub async fn apply_identities(
    tx: &mut Tx<'_>,
    did: &[String],
    handle: &[Option<String>],
    event_us: &[i64],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"UPDATE actors a
              SET handle = COALESCE(lower(u.handle), a.handle), handle_verified = FALSE, identity_at = NULL,
                  identity_event_us = u.us,
                  updated_at = GREATEST(a.updated_at, TIMESTAMPTZ 'epoch' + u.us * INTERVAL '1 microsecond')
             FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS u(did, handle, us)
            WHERE a.did = u.did AND a.identity_event_us < u.us
              -- Only to an account known when the event happened: an identity event that came
              -- before the account's first indexed record is ignored wherever batches split, so
              -- the result never depends on batching (the identity worker fills the handle in).
              AND a.indexed_at <= TIMESTAMPTZ 'epoch' + u.us * INTERVAL '1 microsecond'
            RETURNING a.did"#,
        did,
        handle as &[Option<String>],
        event_us,
    )
    .fetch_all(&mut **tx)
    .await
}

/// Tombstones every live record of a deleted account at its rev (live records have no guard row
/// of their own: see `guard`), so nothing replayed can bring them back, and removes its counters
/// row. Each collection then removes its rows (`Collection::purge`).
pub async fn bury_account(tx: &mut Tx<'_>, did: &str) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO records (uri, did, collection, rkey, rev, cid, deleted)
           SELECT uri, did, collection, rkey, rev, NULL, TRUE FROM live_records WHERE did = $1
           ON CONFLICT (uri) DO UPDATE SET rev = EXCLUDED.rev, cid = NULL, deleted = TRUE
             WHERE records.rev < EXCLUDED.rev"#,
        did
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!("DELETE FROM actor_stats WHERE did = $1", did).execute(&mut **tx).await?;
    Ok(())
}

/// Actors whose identity was never resolved (or was invalidated), or is older than `refresh_secs`;
/// failures (`identity_failed_at`) wait `retry_secs`.
pub async fn needing_identity(
    pool: &sqlx::PgPool,
    refresh_secs: i64,
    retry_secs: i64,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        r#"SELECT did FROM actors
           WHERE status <> 'deleted'
             AND (identity_at IS NULL OR identity_at < now() - make_interval(secs => $1::bigint))
             AND (identity_failed_at IS NULL OR identity_failed_at < now() - make_interval(secs => $2::bigint))
           ORDER BY identity_at NULLS FIRST, did
           LIMIT $3"#,
        refresh_secs,
        retry_secs,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// Stores a resolved identity; true when the handle, its verification or the PDS changed.
pub async fn store_identity(
    pool: &sqlx::PgPool,
    did: &str,
    handle: Option<&str>,
    verified: bool,
    pds: Option<&str>,
    key: Option<&str>,
) -> sqlx::Result<bool> {
    // The self-join reads the row as it was before the update, so the statement can say whether
    // what views show (handle, its verification, the PDS) changed.
    let changed = sqlx::query_scalar!(
        r#"UPDATE actors a SET handle = COALESCE(lower($2), a.handle), handle_verified = $3, pds_endpoint = $4,
                  signing_key = $5, identity_at = now(), identity_failed_at = NULL
             FROM (SELECT did, handle, handle_verified, pds_endpoint FROM actors WHERE did = $1 FOR UPDATE) old
            WHERE a.did = $1 AND old.did = a.did
        RETURNING (old.handle IS DISTINCT FROM a.handle OR old.handle_verified IS DISTINCT FROM a.handle_verified
                   OR old.pds_endpoint IS DISTINCT FROM a.pds_endpoint) AS "changed!""#,
        did,
        handle,
        verified,
        pds,
        key,
    )
    .fetch_optional(pool)
    .await?;
    Ok(changed.unwrap_or(false))
}

/// Records a failed resolution (retried later).
pub async fn identity_failed(pool: &sqlx::PgPool, did: &str) -> sqlx::Result<()> {
    sqlx::query!("UPDATE actors SET identity_failed_at = now() WHERE did = $1", did).execute(pool).await?;
    Ok(())
}
