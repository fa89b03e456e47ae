//! Likes. Several like records of one subject by one author may exist; counts are per distinct
//! (author, subject) pair, so the write path compares the pairs before and after a batch.

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Cid};

use super::{Meta, MetaColumns, Tx, column};

/// A `likes` row.
#[derive(Debug, Clone)]
pub struct LikeRow {
    /// Checked with the record (the lexicon's `at-uri` format).
    pub subject_uri: AtUri,
    pub subject_cid: Cid,
    pub created_at: DateTime<Utc>,
    pub sort_at: DateTime<Utc>,
}

/// The likes that exist now of each pair `(did[i], subject[i])`: `(i, uri, sort_at)` (pairs
/// without any are left out).
pub async fn pair_likes(
    tx: &mut Tx<'_>,
    did: &[&str],
    subject: &[&str],
) -> sqlx::Result<Vec<(usize, String, DateTime<Utc>)>> {
    if did.is_empty() {
        return Ok(Vec::new());
    }
    // One probe of (subject_uri, did) per pair, whatever the table's size: a join against the
    // whole array let the planner pick a hash join over every like, which grew to 150 ms per
    // batch over a 200,000-event replay. A new pair (most of a stream) reads no row at all.
    let rows = sqlx::query!(
        r#"SELECT p.i AS "i!", l.uri AS "uri!", l.sort_at AS "sort_at!"
           FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS p(did, subject, i)
           CROSS JOIN LATERAL (SELECT x.uri, x.sort_at FROM likes x
                               WHERE x.subject_uri = p.subject AND x.did = p.did) l"#,
        did as &[&str],
        subject as &[&str],
    )
    .fetch_all(&mut **tx)
    .await?;
    // Ordinals count from 1.
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((usize::try_from(r.i).ok()?.checked_sub(1)?, r.uri, r.sort_at)))
        .collect())
}

/// `(uri, did, subject_uri)` of the likes among `uris` that exist now.
pub async fn subjects(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<Vec<(String, String, String)>> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query!("SELECT uri, did, subject_uri FROM likes WHERE uri = ANY($1)", uris)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.into_iter().map(|r| (r.uri, r.did, r.subject_uri)).collect())
}

/// Writes like rows. `fresh` rows are known (from the guard, in this transaction) not to exist,
/// so they are inserted without conflict handling: `ON CONFLICT` probes the primary key once
/// more per row (18 % of inserting a like). Should a concurrent writer have inserted one after
/// all, the unique violation fails the batch, whose retry finds the row and updates it.
pub async fn write(tx: &mut Tx<'_>, rows: &[(&Meta, &LikeRow)], fresh: bool) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let m = MetaColumns::of(rows);
    let (subject_uri, subject_cid) =
        (column(rows, |_, r| r.subject_uri.as_str()), column(rows, |_, r| r.subject_cid.as_str()));
    let (created_at, sort_at) = (column(rows, |_, r| r.created_at), column(rows, |_, r| r.sort_at));
    // The two statements differ only in conflict handling; `sqlx::query!` checks each literal.
    macro_rules! insert {
        ($sql:literal) => {
            sqlx::query!(
                $sql,
                &m.uri as &[&str],
                &m.cid as &[&str],
                &m.rev as &[&str],
                &m.did as &[&str],
                &m.rkey as &[&str],
                &subject_uri as &[&str],
                &subject_cid as &[&str],
                &created_at,
                &m.indexed_at,
                &sort_at
            )
        };
    }
    let query = if fresh {
        insert!(
            r#"INSERT INTO likes (uri, cid, rev, did, rkey, subject_uri, subject_cid, created_at, indexed_at, sort_at)
               SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                    $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[])"#
        )
    } else {
        insert!(
            r#"INSERT INTO likes (uri, cid, rev, did, rkey, subject_uri, subject_cid, created_at, indexed_at, sort_at)
               SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                    $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[])
               ON CONFLICT (uri) DO UPDATE SET
                 cid = EXCLUDED.cid, rev = EXCLUDED.rev, subject_uri = EXCLUDED.subject_uri,
                 subject_cid = EXCLUDED.subject_cid, created_at = EXCLUDED.created_at,
                 indexed_at = EXCLUDED.indexed_at, sort_at = EXCLUDED.sort_at"#
        )
    };
    query.execute(&mut **tx).await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<()> {
    if !uris.is_empty() {
        sqlx::query!("DELETE FROM likes WHERE uri = ANY($1)", uris).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Removes every like of an account; the subject and sort time of each.
pub async fn purge(tx: &mut Tx<'_>, did: &str) -> sqlx::Result<Vec<(String, DateTime<Utc>)>> {
    let rows = sqlx::query!("DELETE FROM likes WHERE did = $1 RETURNING subject_uri, sort_at", did)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.into_iter().map(|r| (r.subject_uri, r.sort_at)).collect())
}
