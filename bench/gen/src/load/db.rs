//! The database side of a bulk load: checking the target is empty, setting the secondary
//! indexes and constraints aside while the rows stream in with COPY (one connection per
//! table), rebuilding them afterwards on a few connections in parallel, and vacuuming.
//!
//! Which indexes and constraints exist is read from the catalog, so indexes added by later
//! migrations are deferred and rebuilt too, with their exact definitions.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgCopyIn, PgPoolCopyExt};
use sqlx::{Executor, PgPool, Postgres};

use super::LoadError;
use super::encode::Table;

/// Fails unless every table the loader fills is empty.
pub async fn ensure_empty(pool: &PgPool) -> Result<(), LoadError> {
    for table in Table::ALL {
        // Table names are the loader's own constants.
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", table.name());
        let any: bool = sqlx::query_scalar(&sql).fetch_one(pool).await?;
        if any {
            return Err(LoadError::NotEmpty(table.name()));
        }
    }
    Ok(())
}

/// The statements that rebuild what [`defer`] dropped, in the order they must run.
#[derive(Debug, Default)]
pub struct Deferred {
    /// Primary keys, unique constraints and plain indexes: independent of each other.
    pub indexes: Vec<(String, String)>,
    /// Foreign keys: after the keys they reference.
    pub foreign_keys: Vec<(String, String)>,
}

/// Drops the indexes and key constraints of the loaded tables (CHECK constraints and
/// triggers stay), returning how to rebuild them.
pub async fn defer(pool: &PgPool) -> Result<Deferred, LoadError> {
    let tables: Vec<String> = Table::ALL.iter().map(|t| t.name().to_owned()).collect();
    let constraints: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.conname::text, c.contype::text, pg_get_constraintdef(c.oid)
           FROM pg_constraint c
          WHERE c.connamespace = 'public'::regnamespace AND c.contype IN ('p', 'u', 'f')
            AND c.conrelid::regclass::text = ANY($1)
          ORDER BY c.contype DESC, c.conname",
    )
    .bind(&tables)
    .fetch_all(pool)
    .await?;
    let indexes: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT i.tablename::text, i.indexname::text, i.indexdef
           FROM pg_indexes i
          WHERE i.schemaname = 'public' AND i.tablename = ANY($1)
            AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                             WHERE c.conname = i.indexname AND c.connamespace = 'public'::regnamespace)
          ORDER BY i.indexname",
    )
    .bind(&tables)
    .fetch_all(pool)
    .await?;
    let mut deferred = Deferred::default();
    let mut conn = pool.acquire().await?;
    // Foreign keys first (they depend on the keys), then the keys, then plain indexes.
    for (table, name, kind, def) in constraints.iter().filter(|c| c.2 == "f") {
        conn.execute(format!("ALTER TABLE {table} DROP CONSTRAINT \"{name}\"").as_str()).await?;
        deferred.foreign_keys.push((
            format!("{table}.{name} ({kind})"),
            format!("ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {def}"),
        ));
    }
    for (table, name, _, def) in constraints.iter().filter(|c| c.2 != "f") {
        conn.execute(format!("ALTER TABLE {table} DROP CONSTRAINT \"{name}\"").as_str()).await?;
        deferred.indexes.push((name.clone(), format!("ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {def}")));
    }
    for (_, name, def) in &indexes {
        conn.execute(format!("DROP INDEX \"{name}\"").as_str()).await?;
        deferred.indexes.push((name.clone(), def.clone()));
    }
    Ok(deferred)
}

/// Runs `statements` on `jobs` connections at once (each with `maintenance_work_mem` raised),
/// returning each statement's name and duration.
pub async fn run_parallel(
    pool: &PgPool,
    statements: Vec<(String, String)>,
    jobs: usize,
    work_mem: &str,
) -> Result<Vec<(String, Duration)>, LoadError> {
    let queue = Arc::new(Mutex::new(statements.into_iter().collect::<VecDeque<_>>()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..jobs.max(1) {
        let queue = Arc::clone(&queue);
        let pool = pool.clone();
        let setting = format!("SET maintenance_work_mem = '{}'", work_mem.replace('\'', ""));
        workers.spawn(async move {
            let mut conn = pool.acquire().await?;
            conn.execute(setting.as_str()).await?;
            let mut done = Vec::new();
            loop {
                let next = queue.lock().map_err(|_| LoadError::Poisoned)?.pop_front();
                let Some((name, sql)) = next else { break };
                let started = Instant::now();
                conn.execute(sql.as_str()).await?;
                done.push((name, started.elapsed()));
            }
            Ok::<_, LoadError>(done)
        });
    }
    let mut all = Vec::new();
    while let Some(result) = workers.join_next().await {
        all.extend(result.map_err(|e| LoadError::Task(e.to_string()))??);
    }
    Ok(all)
}

/// One open COPY per table, fed chunk by chunk.
pub struct Copies {
    open: HashMap<Table, PgCopyIn<PoolConnection<Postgres>>>,
    pub bytes: u64,
}

impl std::fmt::Debug for Copies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Copies").field("tables", &self.open.len()).field("bytes", &self.bytes).finish()
    }
}

impl Copies {
    /// Starts `COPY ... FROM STDIN` for every table, each on its own connection.
    pub async fn start(pool: &PgPool) -> Result<Self, LoadError> {
        let mut open = HashMap::new();
        for table in Table::ALL {
            let statement = table.copy_statement();
            open.insert(table, pool.copy_in_raw(&statement).await?);
        }
        Ok(Self { open, bytes: 0 })
    }

    pub async fn send(&mut self, table: Table, chunk: Vec<u8>) -> Result<(), LoadError> {
        self.bytes += chunk.len() as u64;
        match self.open.get_mut(&table) {
            Some(copy) => {
                copy.send(chunk).await?;
                Ok(())
            }
            None => Err(LoadError::Task(format!("no COPY open for {}", table.name()))),
        }
    }

    /// Ends every COPY, returning the rows each table received.
    pub async fn finish(self) -> Result<Vec<(Table, u64)>, LoadError> {
        let mut rows = Vec::new();
        let mut open = self.open;
        for table in Table::ALL {
            if let Some(copy) = open.remove(&table) {
                rows.push((table, copy.finish().await?));
            }
        }
        Ok(rows)
    }

    /// Aborts every COPY (nothing of them is kept).
    pub async fn abort(self, why: &str) {
        for (_, copy) in self.open {
            let _ = copy.abort(why).await;
        }
    }
}
