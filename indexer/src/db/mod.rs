//! Every SQL statement the indexer runs, in functions named for what they do. All writes take
//! the batch's transaction; bulk statements use `UNNEST` over parallel arrays so a batch costs a
//! handful of round trips, not one per event.

pub mod actors;
pub mod backfill;
pub mod cursors;
pub mod guard;
pub mod likes;
pub mod lists;
pub mod profiles;
pub mod records;
pub mod repos;
pub mod stats;

/// The transaction every write function takes.
pub type Tx<'c> = sqlx::Transaction<'c, sqlx::Postgres>;
