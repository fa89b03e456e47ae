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

/// [`connect`], retrying for up to `patience` while the server cannot be reached (a database
/// starting beside the service, as in a container stack); a refused login or a bad URL fails
/// at once.
pub async fn connect_patiently(
    url: &str,
    max_connections: u32,
    patience: Duration,
) -> Result<PgPool, StoreError> {
    let started = std::time::Instant::now();
    let mut warned = false;
    loop {
        match connect(url, max_connections).await {
            Err(StoreError::Database(err)) if unreachable(&err) && started.elapsed() < patience => {
                if !warned {
                    tracing::warn!(%err, patience_secs = patience.as_secs(), "the database is not reachable yet; retrying");
                    warned = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            done => return done,
        }
    }
}

/// Whether `err` says the server could not be reached (rather than that it refused us).
fn unreachable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => true,
        // 57P03: the database system is starting up (or shutting down).
        sqlx::Error::Database(db) => db.code().as_deref() == Some("57P03"),
        _ => false,
    }
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
