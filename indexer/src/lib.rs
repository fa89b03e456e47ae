//! The plyr indexer: tails Jetstream (and, later, the firehose), backfills repos, validates every
//! record against its lexicon, and applies it through one write path into PostgreSQL.

pub mod cli;
pub mod config;

pub use config::IndexerOptions;
