//! Every SQL statement the indexer runs, in functions named for what they do. All writes take
//! the batch's transaction; bulk statements use `UNNEST` over parallel arrays so a batch costs a
//! handful of round trips, not one per event. Each record table's module defines its row type,
//! which the collection plugins (`write::collections`) fill.

pub mod actors;
pub mod backfill;
pub mod comments;
pub mod cursors;
pub mod discoveries;
pub mod guard;
pub mod labels;
pub mod likes;
pub mod lists;
pub mod plays;
pub mod profiles;
pub mod rankings;
pub mod repos;
pub mod stats;
pub mod tracks;
pub mod windows;

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Cid, Did};

/// The columns every record row starts with: which record, which version, when it was seen.
#[derive(Debug, Clone)]
pub struct Meta {
    pub uri: AtUri,
    pub did: Did,
    pub rkey: String,
    /// The version's CID; `None` for a delete, and for a create whose source named none.
    pub cid: Option<Cid>,
    pub rev: String,
    pub indexed_at: DateTime<Utc>,
}

/// The transaction every write function takes.
pub type Tx<'c> = sqlx::Transaction<'c, sqlx::Postgres>;

/// One column of a bulk statement, borrowed from its rows: nothing is copied before sqlx
/// encodes it.
pub fn column<'a, R, T>(rows: &[(&'a Meta, &'a R)], f: impl Fn(&'a Meta, &'a R) -> T) -> Vec<T> {
    rows.iter().map(|(m, r)| f(m, r)).collect()
}

/// The columns every record row starts with, borrowed from the rows' [`Meta`].
#[derive(Debug)]
pub struct MetaColumns<'a> {
    pub uri: Vec<&'a str>,
    pub cid: Vec<&'a str>,
    pub rev: Vec<&'a str>,
    pub did: Vec<&'a str>,
    pub rkey: Vec<&'a str>,
    pub indexed_at: Vec<DateTime<Utc>>,
}

impl<'a> MetaColumns<'a> {
    pub fn of<R>(rows: &[(&'a Meta, &'a R)]) -> Self {
        Self {
            uri: column(rows, |m, _| m.uri.as_str()),
            cid: column(rows, |m, _| m.cid.as_deref().unwrap_or_default()),
            rev: column(rows, |m, _| m.rev.as_str()),
            did: column(rows, |m, _| m.did.as_str()),
            rkey: column(rows, |m, _| m.rkey.as_str()),
            indexed_at: column(rows, |m, _| m.indexed_at),
        }
    }
}
