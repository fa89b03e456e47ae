//! The plyr indexer: tails Jetstream or the raw firehose (verified with sync 1.1), backfills
//! repos, validates every record against its lexicon, and applies it through one write path into
//! PostgreSQL.

pub mod backfill;
pub(crate) mod backoff;
pub mod cli;
pub mod config;
pub mod db;
pub mod event;
pub mod firehose;
pub mod identity;
pub mod jetstream;
pub mod labeler;
pub mod leader;
pub mod pipeline;
pub mod ranking;
pub mod replay;
pub mod status;
pub mod telemetry;
pub mod websocket;
pub mod write;

pub use config::IndexerOptions;
