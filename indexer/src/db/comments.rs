//! Comments: bulk write by URI, their subjects, delete by URI.

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Cid};

use super::{Meta, MetaColumns, Tx, column};

/// A `comments` row.
#[derive(Debug, Clone)]
pub struct CommentRow {
    /// Checked with the record (the lexicon's `at-uri` format).
    pub subject_uri: AtUri,
    pub subject_cid: Cid,
    pub text: String,
    pub timestamp_ms: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub sort_at: DateTime<Utc>,
}

/// Writes comment rows. `fresh` rows are known (from the guard, in this transaction) not to
/// exist, so they are inserted without conflict handling, as likes are (`likes::write`).
pub async fn write(tx: &mut Tx<'_>, rows: &[(&Meta, &CommentRow)], fresh: bool) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let m = MetaColumns::of(rows);
    let (subject_uri, subject_cid, body) = (
        column(rows, |_, r| r.subject_uri.as_str()),
        column(rows, |_, r| r.subject_cid.as_str()),
        column(rows, |_, r| r.text.as_str()),
    );
    let (ts, updated) = (column(rows, |_, r| r.timestamp_ms), column(rows, |_, r| r.updated_at));
    let (created, sort) = (column(rows, |_, r| r.created_at), column(rows, |_, r| r.sort_at));
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
                &body as &[&str],
                &ts,
                &created,
                &updated as &[Option<DateTime<Utc>>],
                &m.indexed_at,
                &sort
            )
        };
    }
    let query = if fresh {
        insert!(
            r#"INSERT INTO comments (uri, cid, rev, did, rkey, subject_uri, subject_cid, text, timestamp_ms,
                                     created_at, updated_at, indexed_at, sort_at)
               SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                    $7::text[], $8::text[], $9::bigint[], $10::timestamptz[], $11::timestamptz[],
                                    $12::timestamptz[], $13::timestamptz[])"#
        )
    } else {
        insert!(
            r#"INSERT INTO comments (uri, cid, rev, did, rkey, subject_uri, subject_cid, text, timestamp_ms,
                                     created_at, updated_at, indexed_at, sort_at)
               SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                    $7::text[], $8::text[], $9::bigint[], $10::timestamptz[], $11::timestamptz[],
                                    $12::timestamptz[], $13::timestamptz[])
               ON CONFLICT (uri) DO UPDATE SET
                 cid = EXCLUDED.cid, rev = EXCLUDED.rev, subject_uri = EXCLUDED.subject_uri,
                 subject_cid = EXCLUDED.subject_cid, text = EXCLUDED.text, timestamp_ms = EXCLUDED.timestamp_ms,
                 created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
                 indexed_at = EXCLUDED.indexed_at, sort_at = EXCLUDED.sort_at"#
        )
    };
    query.execute(&mut **tx).await?;
    Ok(())
}

/// `(uri, subject_uri)` of the comments among `uris` that exist now.
pub async fn subjects(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<Vec<(String, String)>> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query!("SELECT uri, subject_uri FROM comments WHERE uri = ANY($1)", uris)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.into_iter().map(|r| (r.uri, r.subject_uri)).collect())
}

pub async fn delete(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<()> {
    if !uris.is_empty() {
        sqlx::query!("DELETE FROM comments WHERE uri = ANY($1)", uris).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Removes every comment of an account; the subject of each, once per comment.
pub async fn purge(tx: &mut Tx<'_>, did: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!("DELETE FROM comments WHERE did = $1 RETURNING subject_uri", did)
        .fetch_all(&mut **tx)
        .await
}
