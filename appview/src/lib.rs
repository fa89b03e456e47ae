//! The plyr AppView: a stateless HTTP server over the indexed database.
//!
//! Any number of replicas can serve from the same PostgreSQL; all state lives in the database
//! and in per-process caches that the indexer's notifications keep fresh.

pub mod cli;
pub mod config;
pub mod error;
pub mod server;
pub mod state;
pub mod xrpc;

pub use config::AppviewOptions;
pub use error::XrpcError;
pub use server::{router, serve};
pub use state::AppState;
