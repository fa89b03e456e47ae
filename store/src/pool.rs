//! Connection pools and the embedded schema migrations.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::StoreError;

/// Opens a pool of at most `max_connections` to `url`, failing fast if the server is unreachable.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| StoreError::Url(e.to_string()))?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.application_name("plyr"))
        .await?;
    Ok(pool)
}

/// Applies every migration in `migrations/` that the database has not seen yet.
///
/// Safe to run from several processes at once: sqlx takes an advisory lock.
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::migrate!("../migrations").run(pool).await?;
    Ok(())
}

/// A pool for a process that waits out database outages (the indexer): it opens no connection
/// until one is needed, so the process can start while the server is away, and getting a
/// connection gives up after `acquire_timeout`, so the caller notices an outage within that time
/// and backs off on its own terms.
pub fn connect_lazy(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| StoreError::Url(e.to_string()))?;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect_lazy_with(options.application_name("plyr")))
}
