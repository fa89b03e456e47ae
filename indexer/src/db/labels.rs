//! Labels: labelers' signed labels and this service's own (operator takedowns), one row per
//! `(src, uri, val)` holding its latest state, and the audit trail of the operator's actions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use plyr_atproto::label::Label;
use plyr_store::changes::{self, Touched};
use sqlx::PgPool;

use super::Tx;

/// Stores `labels`, each replacing the stored state of its `(src, uri, val)` unless that one is
/// newer (a label and its negation may arrive in any order through a replay). Within `labels`
/// the later of two with the same key and time wins, as it came later in the stream. Returns
/// how many rows changed.
pub async fn apply(tx: &mut Tx<'_>, labels: &[Label]) -> sqlx::Result<u64> {
    let mut latest: HashMap<(&str, &str, &str), &Label> = HashMap::new();
    for label in labels {
        let key = (label.src.as_str(), label.uri.as_str(), label.val.as_str());
        match latest.get(&key) {
            Some(kept) if kept.cts > label.cts => {}
            _ => {
                latest.insert(key, label);
            }
        }
    }
    if latest.is_empty() {
        return Ok(0);
    }
    let rows: Vec<&Label> = latest.into_values().collect();
    let raw = rows
        .iter()
        .map(|l| l.to_cbor())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let result = sqlx::query!(
        r#"INSERT INTO labels (src, uri, val, neg, cts, cid, exp, raw, indexed_at)
           SELECT src, uri, val, neg, cts, cid, exp, raw, now()
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bool[], $5::timestamptz[], $6::text[],
                         $7::timestamptz[], $8::bytea[]) AS l(src, uri, val, neg, cts, cid, exp, raw)
           ON CONFLICT (src, uri, val) DO UPDATE
             SET neg = EXCLUDED.neg, cts = EXCLUDED.cts, cid = EXCLUDED.cid, exp = EXCLUDED.exp,
                 raw = EXCLUDED.raw, indexed_at = EXCLUDED.indexed_at
             WHERE labels.cts <= EXCLUDED.cts"#,
        &rows.iter().map(|l| l.src.as_str()).collect::<Vec<_>>() as &[&str],
        &rows.iter().map(|l| l.uri.as_str()).collect::<Vec<_>>() as &[&str],
        &rows.iter().map(|l| l.val.as_str()).collect::<Vec<_>>() as &[&str],
        &rows.iter().map(|l| l.neg).collect::<Vec<_>>(),
        &rows.iter().map(|l| l.cts).collect::<Vec<_>>(),
        // Arrays with NULL elements: sqlx's check only knows non-null element types.
        &rows.iter().map(|l| l.cid.as_deref()).collect::<Vec<Option<&str>>>() as _,
        &rows.iter().map(|l| l.exp).collect::<Vec<Option<DateTime<Utc>>>>() as _,
        &raw,
    )
    .execute(&mut **tx)
    .await?;
    Ok(result.rows_affected())
}

/// Announces that labels on the subjects of `labels` changed (inside the transaction that
/// stored them), so AppViews reload their labels and drop what they cached about the subjects.
pub async fn announce(tx: &mut Tx<'_>, labels: &[Label]) -> sqlx::Result<()> {
    let mut touched = Touched::default();
    touched.labels();
    for label in labels {
        if label.uri.starts_with("did:") {
            touched.did(&label.uri);
        } else {
            touched.uri(&label.uri);
        }
    }
    changes::announce(&mut **tx, &touched).await
}

/// One operator action, as `indexer label list` shows it.
#[derive(Debug, Clone)]
pub struct Action {
    pub id: i64,
    pub src: String,
    pub uri: String,
    pub val: String,
    pub neg: bool,
    pub reason: String,
    pub actor: String,
    pub created_at: DateTime<Utc>,
    /// Whether this is the latest action on its label, an apply, and the label still applies.
    pub in_force: bool,
}

/// Records who applied or negated one of the service's own labels, and why.
pub async fn record_action(tx: &mut Tx<'_>, label: &Label, reason: &str, actor: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO label_actions (src, uri, val, neg, reason, actor) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        label.src,
        label.uri,
        label.val,
        label.neg,
        reason,
        actor,
    )
    .fetch_one(&mut **tx)
    .await
}

/// The latest `limit` operator actions of `src`, newest first, optionally on one subject.
pub async fn actions(
    pool: &PgPool,
    src: &str,
    subject: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<Action>> {
    sqlx::query_as!(
        Action,
        r#"SELECT a.id, a.src, a.uri, a.val, a.neg, a.reason, a.actor, a.created_at,
                  (NOT a.neg AND l.neg IS FALSE
                   AND a.id = max(a.id) OVER (PARTITION BY a.src, a.uri, a.val)) AS "in_force!"
             FROM label_actions a
             LEFT JOIN labels l ON l.src = a.src AND l.uri = a.uri AND l.val = a.val
            WHERE a.src = $1 AND ($2::text IS NULL OR a.uri = $2)
            ORDER BY a.id DESC
            LIMIT $3"#,
        src,
        subject,
        limit,
    )
    .fetch_all(pool)
    .await
}
