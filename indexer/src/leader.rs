//! One writer per database. `indexer run` holds a PostgreSQL session advisory lock ([`KEY`]) on
//! a connection of its own for as long as it writes; any other `run` process against the same
//! database waits hot, asking for the lock every `--leader-poll-ms`, and takes over when the
//! holder's session ends. A killed holder's session ends at once (its socket closes); a holder
//! on a vanished host is noticed by the server's TCP keepalives set on the lock session.
//!
//! The holder pings its lock session every [`PING_EVERY`]; a ping that fails or takes longer
//! than [`PING_TIMEOUT`] means the lock may be gone (another process may already hold it), so
//! the holder stops writing ([`Lease::hold`] cancels its work) and asks again like a standby.
//! Between losing the session and noticing, two processes may write for at most a few seconds;
//! the write path is idempotent and rev-ordered, so that costs repeated work, not correctness.
//!
//! `replay` and `backfill` do not take the lock: they write through the same idempotent,
//! rev-ordered path, so one may run beside the writer (a repo that both it and the writer's
//! background backfill fetch is applied twice, to the same result).

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio_util::sync::CancellationToken;

/// The writer lock: "plyr_lea" (leader) as ASCII.
pub const KEY: i64 = 0x706c_7972_5f6c_6561;
/// How often the holder checks that its lock session is alive.
pub const PING_EVERY: Duration = Duration::from_secs(1);
/// A ping slower than this counts as a lost session.
pub const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// The server drops a silent lock session after about 5 + 2 × 3 = 11 s of keepalives, so a
/// holder whose host vanished releases the lock without anyone's help.
const KEEPALIVES: [&str; 3] =
    ["SET tcp_keepalives_idle = 5", "SET tcp_keepalives_interval = 2", "SET tcp_keepalives_count = 3"];

/// The writer lock, held by this process.
#[derive(Debug)]
pub struct Lease {
    conn: PgConnection,
}

/// Waits until this process holds the writer lock, asking every `every`; `None` if `shutdown`
/// comes first. Logs when it starts waiting behind another writer and when it takes over.
pub async fn acquire(pool: &PgPool, every: Duration, shutdown: &CancellationToken) -> Option<Lease> {
    crate::status::set_role(crate::status::Role::Standby);
    let mut session: Option<PgConnection> = None;
    let mut waiting_since: Option<std::time::Instant> = None;
    loop {
        let (kept, asked) = try_once(pool, session.take()).await;
        match asked {
            Ok(true) => {
                let conn = kept?;
                match waiting_since {
                    Some(since) => tracing::info!(
                        waited_ms = since.elapsed().as_millis() as u64,
                        "took over the writer lock: this indexer now writes"
                    ),
                    None => tracing::info!("holding the writer lock: this indexer writes"),
                }
                crate::status::set_role(crate::status::Role::Leader);
                return Some(Lease { conn });
            }
            Ok(false) => {
                session = kept;
                if waiting_since.is_none() {
                    let (kept, holder) = holder_pid(session.take()).await;
                    session = kept;
                    tracing::info!(
                        holder_pid = holder,
                        poll_ms = every.as_millis() as u64,
                        "another indexer holds the writer lock: waiting as a hot standby"
                    );
                    waiting_since = Some(std::time::Instant::now());
                }
            }
            Err(err) => {
                tracing::warn!(%err, "cannot ask for the writer lock (database unreachable?): retrying");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return None,
        }
    }
}

/// One attempt on the standby's own session (opened when `session` is `None`); gives back the
/// session to keep for the next attempt (none after an error) and whether the lock is held.
/// Sessions move in and out by value: futures that hold a `&mut PgConnection` borrowed from an
/// `Option` across an await are not `Send` (rustc cannot generalize sqlx's `Executor` lifetime).
async fn try_once(
    pool: &PgPool,
    session: Option<PgConnection>,
) -> (Option<PgConnection>, sqlx::Result<bool>) {
    let mut conn = match session {
        Some(conn) => conn,
        // Out of the pool for good: the lock lives and dies with this one session.
        None => match pool.acquire().await {
            Ok(conn) => {
                let mut conn = PoolConnection::<Postgres>::detach(conn);
                for setting in KEEPALIVES {
                    if let Err(err) = sqlx::query(setting).execute(&mut conn).await {
                        return (None, Err(err));
                    }
                }
                conn
            }
            Err(err) => return (None, Err(err)),
        },
    };
    match sqlx::query_scalar!("SELECT pg_try_advisory_lock($1)", KEY).fetch_one(&mut conn).await {
        Ok(held) => (Some(conn), Ok(held == Some(true))),
        Err(err) => (None, Err(err)),
    }
}

/// The backend pid holding the lock, for the standby's log line.
async fn holder_pid(session: Option<PgConnection>) -> (Option<PgConnection>, Option<i32>) {
    let Some(mut conn) = session else { return (None, None) };
    // A bigint advisory key is stored as its high and low 32 bits (classid, objid).
    let pid = sqlx::query_scalar!(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
           AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid AND objsubid = 1",
        KEY
    )
    .fetch_optional(&mut conn)
    .await;
    (Some(conn), pid.ok().flatten().flatten())
}

impl Lease {
    /// Keeps the lock until `done`, then releases it and returns `false`. If the lock's session
    /// stops answering first, cancels `lost` (the writer's work stops) and returns `true`.
    pub async fn hold(mut self, lost: CancellationToken, done: CancellationToken) -> bool {
        loop {
            tokio::select! {
                () = tokio::time::sleep(PING_EVERY) => {}
                () = done.cancelled() => break,
            }
            let ping =
                tokio::time::timeout(PING_TIMEOUT, sqlx::query("SELECT 1").execute(&mut self.conn)).await;
            if !matches!(ping, Ok(Ok(_))) {
                tracing::error!(
                    "the writer lock's session stopped answering: stopping writes until the lock is taken again"
                );
                crate::status::set_role(crate::status::Role::Standby);
                lost.cancel();
                return true;
            }
        }
        // Closing the session releases the lock; unlock first so a close that stalls does not
        // keep the standby waiting.
        let _ = sqlx::query_scalar!("SELECT pg_advisory_unlock($1)", KEY).fetch_one(&mut self.conn).await;
        let _ = sqlx::Connection::close(self.conn).await;
        crate::status::set_role(crate::status::Role::Standby);
        false
    }
}

#[cfg(test)]
mod tests {
    fn is_send<T: Send>(_: &T) {}

    /// The wait for the lock runs inside `cli::run_live`, which is spawned onto a
    /// multi-threaded runtime (by `plyr`, by tests): it must stay `Send` (a compile-time check).
    #[allow(dead_code)]
    fn waiting_for_the_lock_can_be_spawned(pool: sqlx::PgPool, token: tokio_util::sync::CancellationToken) {
        is_send(&super::acquire(&pool, std::time::Duration::from_secs(1), &token));
    }
}
