//! Labels from labelers and the service's own, read whole ([`crate::labels`] holds them in
//! memory).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// One label in force as stored: expiry and `cid` pins are judged when it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRow {
    pub src: String,
    /// The subject: a record's AT-URI or a DID.
    pub uri: String,
    pub val: String,
    pub cid: Option<String>,
    pub cts: DateTime<Utc>,
    pub exp: Option<DateTime<Utc>>,
    /// The label as its labeler signed it (DAG-CBOR, signature included), when stored so.
    pub raw: Option<Vec<u8>>,
}

/// Every label from `sources` that is neither negated nor expired.
pub async fn in_force(db: &PgPool, sources: &[String]) -> sqlx::Result<Vec<LabelRow>> {
    sqlx::query_as!(
        LabelRow,
        "SELECT src, uri, val, cid, cts, exp, raw FROM labels
          WHERE NOT neg AND src = ANY($1) AND (exp IS NULL OR exp > now())",
        sources
    )
    .fetch_all(db)
    .await
}
