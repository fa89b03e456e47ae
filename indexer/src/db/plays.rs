//! teal.fm plays and statuses (migration 0015), and matching plays to tracks.
//!
//! A play counts for the track it is matched to (`matched_uri`): the AT-URI it names, else
//! `play_match` (migration 0015: the one live track with its `play_key` and a duration within
//! 2 s, the definition the AppView's now playing uses too). The match is a function of the play
//! and the live tracks, kept true by re-matching after every write to either side.
//!
//! Concurrent transactions (write lanes, backfill slots) coordinate per key with
//! transaction-scoped advisory locks ([`lock_keys`]): a writer of tracks holds each key it
//! touches exclusively, a writer of plays holds its plays' keys shared (plays never interact
//! with each other). Each takes its locks *after* writing its rows and re-matches after that, so
//! whichever of a play and its track commits second sees the other; a writer of plays also holds
//! the keys of the plays it replaces before reading what they counted for. Plays naming an AT-URI
//! depend on no track and take no lock. A rare lock-order deadlock between two runs is a
//! transient failure: the batch is applied again.

use chrono::{DateTime, Utc};

use super::{Meta, MetaColumns, Tx, column};

/// The fields of a teal.fm play view, as `plays` and `statuses` store them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub track_name: String,
    /// The first artist ('' when the record names none: it then matches nothing by name).
    pub artist_name: String,
    pub release_name: Option<String>,
    pub duration: Option<i32>,
    pub origin_uri: Option<String>,
    /// An `fm.plyr.track` AT-URI the record names.
    pub direct_uri: Option<String>,
}

/// A `plays` row.
#[derive(Debug, Clone)]
pub struct PlayRow {
    /// Which of teal's play collections the record is in.
    pub collection: &'static str,
    pub heard: Heard,
    pub played_at: DateTime<Utc>,
}

/// A `statuses` row.
#[derive(Debug, Clone)]
pub struct StatusRow {
    pub heard: Heard,
    pub started_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A play whose match changed: the track it counted for, and the one it counts for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rematch {
    pub old: Option<String>,
    pub new: Option<String>,
    pub played_at: DateTime<Utc>,
}

/// A play that counted for `track`, played at `played_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub track: String,
    pub played_at: DateTime<Utc>,
}

/// Takes the transaction-scoped advisory locks of play-matching `keys` (see the module
/// header): exclusive for a writer of tracks, shared for a writer of plays, in key order.
pub async fn lock_keys(tx: &mut Tx<'_>, keys: &[String], exclusive: bool) -> sqlx::Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    if exclusive {
        sqlx::query!(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))
               FROM (SELECT DISTINCT k FROM unnest($1::text[]) AS k ORDER BY k) s",
            keys
        )
        .fetch_one(&mut **tx)
        .await?;
    } else {
        sqlx::query!(
            "SELECT count(pg_advisory_xact_lock_shared(hashtextextended(k, 0)))
               FROM (SELECT DISTINCT k FROM unnest($1::text[]) AS k ORDER BY k) s",
            keys
        )
        .fetch_one(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The matching keys of the plays among `uris` that are matched by name.
pub async fn keys_of(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<Vec<String>> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar!(
        r#"SELECT DISTINCT play_key AS "k!" FROM plays WHERE uri = ANY($1) AND direct_uri IS NULL"#,
        uris
    )
    .fetch_all(&mut **tx)
    .await
}

/// What the live plays among `uris` count for now.
pub async fn matched(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<Vec<Counted>> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query!(
        r#"SELECT matched_uri AS "m!", played_at FROM plays WHERE uri = ANY($1) AND matched_uri IS NOT NULL"#,
        uris
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| Counted { track: r.m, played_at: r.played_at }).collect())
}

/// Writes play rows, unmatched ([`rematch`] matches them).
pub async fn upsert(tx: &mut Tx<'_>, rows: &[(&Meta, &PlayRow)]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let m = MetaColumns::of(rows);
    let h = HeardColumns::of(rows, |r| &r.heard);
    let collection = column(rows, |_, r| r.collection);
    let played_at = column(rows, |_, r| r.played_at);
    sqlx::query!(
        r#"INSERT INTO plays (uri, cid, rev, did, rkey, collection, track_name, artist_name, release_name,
                              duration, origin_uri, direct_uri, played_at, indexed_at, matched_uri)
           SELECT u.*, NULL FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                $7::text[], $8::text[], $9::text[], $10::int[], $11::text[], $12::text[],
                                $13::timestamptz[], $14::timestamptz[]) AS u
           ON CONFLICT (uri) DO UPDATE SET
             cid = EXCLUDED.cid, rev = EXCLUDED.rev, collection = EXCLUDED.collection,
             track_name = EXCLUDED.track_name, artist_name = EXCLUDED.artist_name,
             release_name = EXCLUDED.release_name, duration = EXCLUDED.duration,
             origin_uri = EXCLUDED.origin_uri, direct_uri = EXCLUDED.direct_uri,
             played_at = EXCLUDED.played_at, indexed_at = EXCLUDED.indexed_at, matched_uri = NULL"#,
        &m.uri as &[&str],
        &m.cid as &[&str],
        &m.rev as &[&str],
        &m.did as &[&str],
        &m.rkey as &[&str],
        &collection as &[&str],
        &h.track_name as &[&str],
        &h.artist_name as &[&str],
        &h.release_name as _,
        &h.duration as _,
        &h.origin_uri as _,
        &h.direct_uri as _,
        &played_at,
        &m.indexed_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<()> {
    if !uris.is_empty() {
        sqlx::query!("DELETE FROM plays WHERE uri = ANY($1)", uris).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Matches again the plays among `uris` (just written) and every play matched by name under one
/// of `keys` (the keys of tracks just written or removed); the ones whose match changed.
pub async fn rematch(tx: &mut Tx<'_>, uris: &[String], keys: &[String]) -> sqlx::Result<Vec<Rematch>> {
    if uris.is_empty() && keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query!(
        r#"WITH m AS (
             SELECT p.uri, p.matched_uri AS old,
                    COALESCE(p.direct_uri, play_match(p.play_key, p.artist_name, p.duration)) AS new
               FROM plays p
              WHERE p.uri = ANY($1) OR (p.play_key = ANY($2) AND p.direct_uri IS NULL))
           UPDATE plays p SET matched_uri = m.new FROM m
            WHERE p.uri = m.uri AND p.matched_uri IS DISTINCT FROM m.new
           RETURNING m.old, m.new, p.played_at"#,
        uris,
        keys,
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| Rematch { old: r.old, new: r.new, played_at: r.played_at }).collect())
}

/// Removes every play of an account; what each counted for.
pub async fn purge(tx: &mut Tx<'_>, did: &str) -> sqlx::Result<Vec<Counted>> {
    let rows = sqlx::query!("DELETE FROM plays WHERE did = $1 RETURNING matched_uri, played_at", did)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some(Counted { track: r.matched_uri?, played_at: r.played_at }))
        .collect())
}

/// Writes status rows (one per account: the rkey is `self`).
pub async fn upsert_statuses(tx: &mut Tx<'_>, rows: &[(&Meta, &StatusRow)]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let m = MetaColumns::of(rows);
    let h = HeardColumns::of(rows, |r| &r.heard);
    let started_at = column(rows, |_, r| r.started_at);
    let recorded_at = column(rows, |_, r| r.recorded_at);
    let expires_at = column(rows, |_, r| r.expires_at);
    sqlx::query!(
        r#"INSERT INTO statuses (uri, cid, rev, did, rkey, track_name, artist_name, release_name, duration,
                                 origin_uri, direct_uri, started_at, recorded_at, expires_at, indexed_at)
           SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                $7::text[], $8::text[], $9::int[], $10::text[], $11::text[],
                                $12::timestamptz[], $13::timestamptz[], $14::timestamptz[], $15::timestamptz[])
           ON CONFLICT (uri) DO UPDATE SET
             cid = EXCLUDED.cid, rev = EXCLUDED.rev, track_name = EXCLUDED.track_name,
             artist_name = EXCLUDED.artist_name, release_name = EXCLUDED.release_name,
             duration = EXCLUDED.duration, origin_uri = EXCLUDED.origin_uri, direct_uri = EXCLUDED.direct_uri,
             started_at = EXCLUDED.started_at, recorded_at = EXCLUDED.recorded_at,
             expires_at = EXCLUDED.expires_at, indexed_at = EXCLUDED.indexed_at"#,
        &m.uri as &[&str],
        &m.cid as &[&str],
        &m.rev as &[&str],
        &m.did as &[&str],
        &m.rkey as &[&str],
        &h.track_name as &[&str],
        &h.artist_name as &[&str],
        &h.release_name as _,
        &h.duration as _,
        &h.origin_uri as _,
        &h.direct_uri as _,
        &started_at,
        &recorded_at,
        &expires_at,
        &m.indexed_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete_statuses(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<()> {
    if !uris.is_empty() {
        sqlx::query!("DELETE FROM statuses WHERE uri = ANY($1)", uris).execute(&mut **tx).await?;
    }
    Ok(())
}

pub async fn purge_statuses(tx: &mut Tx<'_>, did: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM statuses WHERE did = $1", did).execute(&mut **tx).await?;
    Ok(())
}

/// The [`Heard`] columns of a bulk statement.
struct HeardColumns<'a> {
    track_name: Vec<&'a str>,
    artist_name: Vec<&'a str>,
    release_name: Vec<Option<&'a str>>,
    duration: Vec<Option<i32>>,
    origin_uri: Vec<Option<&'a str>>,
    direct_uri: Vec<Option<&'a str>>,
}

impl<'a> HeardColumns<'a> {
    fn of<R>(rows: &[(&'a Meta, &'a R)], heard: impl Fn(&'a R) -> &'a Heard) -> Self {
        let h = |f: &dyn Fn(&'a Heard) -> Option<&'a str>| rows.iter().map(|(_, r)| f(heard(r))).collect();
        Self {
            track_name: rows.iter().map(|(_, r)| heard(r).track_name.as_str()).collect(),
            artist_name: rows.iter().map(|(_, r)| heard(r).artist_name.as_str()).collect(),
            release_name: h(&|x| x.release_name.as_deref()),
            duration: rows.iter().map(|(_, r)| heard(r).duration).collect(),
            origin_uri: h(&|x| x.origin_uri.as_deref()),
            direct_uri: h(&|x| x.direct_uri.as_deref()),
        }
    }
}
