//! The AppView's read pool: a short acquire timeout (an unreachable database is a fast 503, not
//! a request timeout) and PostgreSQL's `statement_timeout` on every connection (no query keeps
//! running after its client got an answer), and no round trip spent checking a connection before
//! handing it out.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::AppviewOptions;

fn settings(url: &str, options: &AppviewOptions) -> Result<(PgPoolOptions, PgConnectOptions), sqlx::Error> {
    let connect: PgConnectOptions = url.parse()?;
    let connect = connect
        .application_name("plyr")
        .options([("statement_timeout", options.db_statement_timeout_ms.to_string())]);
    let pool = PgPoolOptions::new()
        .max_connections(options.db_connections)
        .acquire_timeout(Duration::from_millis(options.db_acquire_timeout_ms))
        // No ping before each statement: it doubled the round trips of a warm read. A
        // connection that died while idle fails its next statement (a 503, see [`super::failure`])
        // and is dropped from the pool; the one after gets a fresh connection.
        .test_before_acquire(false);
    Ok((pool, connect))
}

/// Opens the read pool (one connection now, to fail at startup on a wrong URL).
pub async fn connect(url: &str, options: &AppviewOptions) -> Result<PgPool, sqlx::Error> {
    let (pool, connect) = settings(url, options)?;
    pool.connect_with(connect).await
}

/// The read pool without connecting yet (connections open on first use).
pub fn connect_lazy(url: &str, options: &AppviewOptions) -> Result<PgPool, sqlx::Error> {
    let (pool, connect) = settings(url, options)?;
    Ok(pool.connect_lazy_with(connect))
}
