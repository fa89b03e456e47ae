//! A fresh, migrated database per test, dropped when the test ends (also on panic).
//!
//! The server is found the same way `plyr` finds it: `PLYR_TEST_DATABASE_URL` (an admin URL to a
//! maintenance database) if set, else 127.0.0.1:5432 as `postgres`, else a private cluster under
//! the system temp folder. Each database gets a unique name so tests can run in parallel, also
//! across processes (nextest runs every test in its own).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::{LocalCluster, StoreError, connect, migrate};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Columns that record when a row was written rather than what it holds (and the gap ids
/// drawn from a sequence): two databases fed the same events differ there, so snapshots that
/// compare them leave these out.
pub const WALL_CLOCK: &[&str] = &[
    "cursors.updated_at",
    "repos.updated_at",
    "stream_gaps.detected_at",
    "stream_gaps.id",
    "ranking_periods.computed_at",
    "ranking_periods.since",
    "ranking_windows.edge",
];

/// A migrated database that exists for the life of this value.
#[derive(Debug)]
pub struct TestDb {
    /// Pool on the test database.
    pub pool: PgPool,
    /// URL of the test database, for child processes (e.g. the indexer binary).
    pub url: String,
    name: String,
    admin: PgConnectOptions,
}

impl TestDb {
    /// Creates and migrates a new database.
    pub async fn new() -> Result<Self, StoreError> {
        let admin = admin_options().await?;
        let name = format!(
            "plyr_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let mut conn = admin.connect().await?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await?;
        let _ = conn.close().await;
        let url =
            format!("postgres://{}@{}:{}/{name}", admin.get_username(), admin.get_host(), admin.get_port());
        let pool = connect(&url, 8).await?;
        migrate(&pool).await?;
        Ok(Self { pool, url, name, admin })
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens or closes the database to new connections (`ALLOW_CONNECTIONS`), as an operator
    /// does for maintenance; closing also ends every open session on it except the pool's
    /// connections, which are ended too (an outage for whoever uses the database).
    pub async fn set_accepting_connections(&self, accept: bool) -> Result<(), StoreError> {
        let mut conn = self.admin.connect().await?;
        sqlx::query(&format!("ALTER DATABASE \"{}\" ALLOW_CONNECTIONS {accept}", self.name))
            .execute(&mut conn)
            .await?;
        if !accept {
            sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
                .bind(&self.name)
                .execute(&mut conn)
                .await?;
        }
        let _ = conn.close().await;
        Ok(())
    }

    /// Every row of every table (except sqlx's bookkeeping), as sorted JSON lines per table,
    /// leaving out the columns named in `volatile` (e.g. wall-clock `updated_at`). Two databases
    /// with equal snapshots hold the same data.
    pub async fn snapshot(&self, volatile: &[&str]) -> Result<String, StoreError> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_sqlx%'
             ORDER BY table_name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = String::new();
        for table in tables {
            let columns: Vec<String> = sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(&table)
            .fetch_all(&self.pool)
            .await?;
            let kept: Vec<String> = columns
                .into_iter()
                .filter(|c| !volatile.iter().any(|v| *v == c || *v == format!("{table}.{c}")))
                .map(|c| format!("\"{c}\""))
                .collect();
            if kept.is_empty() {
                continue;
            }
            // Identifiers come from the catalog, not from input.
            let sql = format!(
                "SELECT row_to_json(r)::text FROM (SELECT {} FROM \"{table}\") r ORDER BY 1",
                kept.join(", ")
            );
            let rows: Vec<String> = sqlx::query_scalar(&sql).fetch_all(&self.pool).await?;
            out.push_str(&format!("== {table} ({} rows)\n", rows.len()));
            for row in rows {
                out.push_str(&row);
                out.push('\n');
            }
        }
        Ok(out)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = self.admin.clone();
        // Drop cannot await, and the test's own runtime is blocked here, so a short-lived runtime
        // on its own thread does the cleanup. The pool's connections belong to the test's runtime
        // and cannot be closed from here; `WITH (FORCE)` ends those sessions server-side.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                if let Ok(mut conn) = admin.connect().await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = handle.join();
    }
}

async fn admin_options() -> Result<PgConnectOptions, StoreError> {
    if let Ok(url) = std::env::var("PLYR_TEST_DATABASE_URL") {
        return url.parse().map_err(|e: sqlx::Error| StoreError::Url(e.to_string()));
    }
    let local =
        PgConnectOptions::new().host("127.0.0.1").port(5432).username("postgres").database("postgres");
    if let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_secs(3), local.connect()).await {
        let _ = conn.close().await;
        return Ok(local);
    }
    let cluster = LocalCluster::start(&std::env::temp_dir().join("plyr-test-postgres")).await?;
    // The cluster is shared by every test process and left running for the next one.
    Ok(cluster.admin_options())
}

/// Asserts two snapshots are equal, printing only the lines that differ.
#[track_caller]
pub fn assert_same(actual: &str, expected: &str, what: &str) {
    if actual == expected {
        return;
    }
    let a: std::collections::BTreeSet<&str> = actual.lines().collect();
    let e: std::collections::BTreeSet<&str> = expected.lines().collect();
    let only_a: Vec<&&str> = a.difference(&e).take(20).collect();
    let only_e: Vec<&&str> = e.difference(&a).take(20).collect();
    panic!("{what}\nonly in actual (first 20):\n{only_a:#?}\nonly in expected (first 20):\n{only_e:#?}");
}
