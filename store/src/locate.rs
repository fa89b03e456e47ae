//! Finding a database with nothing configured: `DATABASE_URL`, else 127.0.0.1:5432, else a
//! private cluster under the data folder.

use std::path::Path;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::{LocalCluster, StoreError};

/// Where the database was found, and the cluster to stop if we started one.
#[derive(Debug)]
pub struct Located {
    /// Connection URL of the `plyr` database (contains no password unless the caller gave one).
    pub url: String,
    /// A human description for logs: never the URL itself, which may hold a password.
    pub description: String,
    /// Set when we started a private cluster; stop it on shutdown.
    pub cluster: Option<LocalCluster>,
}

/// Resolves the database to use.
///
/// 1. `explicit` (from `DATABASE_URL` or `--database-url`) is used as given.
/// 2. Otherwise a server answering on 127.0.0.1:5432 as user `postgres`, with a `database`
///    created there if missing.
/// 3. Otherwise a private cluster under `data_dir/postgres`, initialised on first use.
pub async fn locate(explicit: Option<&str>, data_dir: &Path, database: &str) -> Result<Located, StoreError> {
    if let Some(url) = explicit {
        return Ok(Located {
            url: url.to_owned(),
            description: "the configured DATABASE_URL".into(),
            cluster: None,
        });
    }
    let local =
        PgConnectOptions::new().host("127.0.0.1").port(5432).username("postgres").database("postgres");
    if let Ok(Ok(mut conn)) = tokio::time::timeout(Duration::from_secs(3), local.connect()).await {
        ensure_database(&mut conn, database).await?;
        let _ = conn.close().await;
        return Ok(Located {
            url: format!("postgres://postgres@127.0.0.1:5432/{database}"),
            description: format!("the server on 127.0.0.1:5432 (database {database})"),
            cluster: None,
        });
    }
    let cluster = LocalCluster::start(&data_dir.join("postgres")).await?;
    let mut conn = cluster.admin_options().connect().await?;
    ensure_database(&mut conn, database).await?;
    let _ = conn.close().await;
    Ok(Located {
        url: cluster.url(database),
        description: format!("a private cluster in {} (port {})", cluster.dir().display(), cluster.port()),
        cluster: Some(cluster),
    })
}

/// Creates `name` unless it exists. `name` must be a plain identifier.
pub(crate) async fn ensure_database(conn: &mut sqlx::PgConnection, name: &str) -> Result<(), StoreError> {
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.is_empty() {
        return Err(StoreError::Url(format!("database name {name:?} must be [A-Za-z0-9_]+")));
    }
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_none() {
        // Two processes may race here; losing the race is fine.
        if let Err(err) = sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut *conn).await {
            let duplicate =
                err.as_database_error().and_then(|e| e.code()).is_some_and(|c| c == "42P04" || c == "23505");
            if !duplicate {
                return Err(err.into());
            }
        }
    }
    Ok(())
}
