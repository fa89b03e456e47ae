//! PostgreSQL for plyr: one place that knows how to reach the database and apply the schema.
//!
//! - [`connect`] and [`migrate`]: a pool with sane limits, and the embedded `migrations/`.
//! - [`locate`]: the zero-configuration path used by `plyr` and the tests: an explicit URL, else a
//!   server on 127.0.0.1:5432, else a private cluster started under a data folder.
//! - [`changes`]: the change-notification contract between the writers and the AppViews.
//! - [`rankings`]: the top-track rankings' periods, kept by the indexer and read by the AppViews.
//! - [`telemetry`]: the Prometheus recorder both services install.
//! - [`process`]: process setup every binary shares (TLS provider, logging, signals).
//! - [`testkit`] (feature `testkit`): a fresh, migrated database per test, dropped afterwards.

pub mod changes;
mod cluster;
mod locate;
mod pool;
pub mod process;
pub mod rankings;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use cluster::LocalCluster;
pub use locate::{Located, locate};
pub use pool::{connect, connect_lazy, connect_patiently, migrate};

/// Whether `err` is the server refusing connections for now: starting up or shutting down
/// (SQLSTATE 57P03), or the database closed to connections (`ALLOW_CONNECTIONS false`, as an
/// operator sets during maintenance: SQLSTATE 55000, which PostgreSQL also uses for unrelated
/// statement errors, so its message decides). Both services treat it as the database being away.
pub fn refuses_connections(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else { return false };
    match db.code().as_deref() {
        Some("57P03") => true,
        Some("55000") => db.message().contains("not currently accepting connections"),
        _ => false,
    }
}

/// Errors from reaching, starting or migrating PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid database URL: {0}")]
    Url(String),
    #[error("{command} failed: {detail}")]
    Command { command: String, detail: String },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
