//! The plyr indexer: tails Jetstream (and, later, the firehose), backfills repos, validates every
//! record against its lexicon, and applies it through one write path into PostgreSQL.

pub mod cli;
pub mod config;
pub mod db;
pub mod event;
pub mod identity;
pub mod jetstream;
pub mod pipeline;
pub mod replay;
pub mod telemetry;
pub mod write;

pub use config::IndexerOptions;
