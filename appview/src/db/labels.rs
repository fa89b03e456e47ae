//! Labels from labelers, read whole ([`crate::labels`] holds them in memory).

use sqlx::PgPool;

/// One label in force: its subject (a record's AT-URI or a DID) and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRow {
    pub uri: String,
    pub val: String,
}

/// Every label that is not negated.
pub async fn in_force(db: &PgPool) -> sqlx::Result<Vec<LabelRow>> {
    sqlx::query_as!(LabelRow, "SELECT uri, val FROM labels WHERE NOT neg").fetch_all(db).await
}
