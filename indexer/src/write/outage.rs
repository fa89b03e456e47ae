//! Riding out a database outage: whether the database answers as the write path last saw it
//! (the `indexer_database_up` gauge, one WARN when an outage starts and one when it ends), and
//! the loop that retries an operation with capped, jittered backoff for as long as its errors
//! are transient.

use std::fmt::Display;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::WriteError;
use super::failure::Failure;
use crate::backoff::Backoff;

/// First wait after a transient failure; doubles per failure in a row.
pub const RETRY_BASE: Duration = Duration::from_millis(100);
/// Longest wait between two attempts while the database is away.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// Whether the database answered the last operation, shared by everything that writes.
#[derive(Debug)]
pub struct DatabaseHealth {
    /// When the current outage was first noticed (`None`: the database is up).
    down_since: Mutex<Option<Instant>>,
}

impl Default for DatabaseHealth {
    fn default() -> Self {
        metrics::gauge!("indexer_database_up").set(1.0);
        Self { down_since: Mutex::new(None) }
    }
}

impl DatabaseHealth {
    /// Whether the last operation reached the database.
    pub fn is_up(&self) -> bool {
        self.down_since.lock().unwrap_or_else(|e| e.into_inner()).is_none()
    }

    /// Notes a transient failure; the first one of an outage is logged.
    pub fn failed(&self, err: &dyn Display) {
        let mut down = self.down_since.lock().unwrap_or_else(|e| e.into_inner());
        if down.is_none() {
            *down = Some(Instant::now());
            metrics::gauge!("indexer_database_up").set(0.0);
            tracing::warn!(error = %err, "database unreachable: waiting for it with backoff (nothing is lost; writes resume from the last commit)");
        }
    }

    /// Notes a success; the end of an outage is logged.
    pub fn succeeded(&self) {
        let mut down = self.down_since.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(since) = down.take() {
            metrics::gauge!("indexer_database_up").set(1.0);
            tracing::warn!(
                down_s = format!("{:.1}", since.elapsed().as_secs_f64()),
                "database reachable again: resuming"
            );
        }
    }

    /// Runs `op` until it succeeds or fails with an error that is not transient, waiting with
    /// backoff ([`RETRY_BASE`] doubling to [`RETRY_MAX`], jittered) after each transient one.
    /// [`WriteError::Interrupted`] when `shutdown` fires while waiting.
    pub async fn wait_out<T, F, Fut>(&self, shutdown: &CancellationToken, mut op: F) -> Result<T, WriteError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, WriteError>>,
    {
        let mut backoff = Backoff::new(RETRY_BASE, RETRY_MAX);
        loop {
            let err = match op().await {
                Ok(value) => {
                    self.succeeded();
                    return Ok(value);
                }
                Err(err) if err.failure() == Failure::Transient => err,
                Err(err) => {
                    // The database answered, so it is up, even though it said no.
                    if matches!(err, WriteError::Database(sqlx::Error::Database(_))) {
                        self.succeeded();
                    }
                    return Err(err);
                }
            };
            if unreachable(&err) {
                self.failed(&err);
            }
            metrics::counter!("indexer_database_retries_total").increment(1);
            let delay = backoff.next_delay();
            tracing::debug!(error = %err, delay_ms = delay.as_millis() as u64, "database operation failed; retrying");
            tokio::select! {
                () = shutdown.cancelled() => return Err(WriteError::Interrupted),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// Whether a transient error means the database cannot be reached (rather than that it chose
/// this transaction as a serialization or deadlock victim, or a lock was busy).
fn unreachable(err: &WriteError) -> bool {
    match err {
        WriteError::Database(sqlx::Error::Database(db)) => {
            !db.code().is_some_and(|c| c.starts_with("40") || c.starts_with("55"))
        }
        _ => true,
    }
}

impl super::Writer {
    /// The stored cursor of `source` (where it resumes), waiting while the database is away.
    pub async fn stored_cursor(
        &self,
        source: &str,
        shutdown: &CancellationToken,
    ) -> Result<Option<crate::event::Cursor>, WriteError> {
        let pool = self.pool();
        self.health().wait_out(shutdown, || async { Ok(crate::db::cursors::load(pool, source).await?) }).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use tokio_util::sync::CancellationToken;

    use super::DatabaseHealth;
    use crate::write::WriteError;

    #[tokio::test]
    async fn transient_errors_are_waited_out_and_others_returned() {
        let health = DatabaseHealth::default();
        let calls = AtomicU32::new(0);
        let shutdown = CancellationToken::new();
        let value = health
            .wait_out(&shutdown, || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                    assert!(calls.load(Ordering::SeqCst) == 1 || !health.is_up());
                    Err(WriteError::Database(sqlx::Error::PoolTimedOut))
                } else {
                    Ok(7)
                }
            })
            .await
            .expect("succeeds after the outage");
        assert_eq!((value, calls.load(Ordering::SeqCst)), (7, 4));
        assert!(health.is_up());
        let fatal = health.wait_out(&shutdown, || async { Err::<(), _>(WriteError::Task("x".into())) }).await;
        assert!(matches!(fatal, Err(WriteError::Task(_))), "not retried");
        shutdown.cancel();
        let stopped = health
            .wait_out(&shutdown, || async { Err::<(), _>(WriteError::Database(sqlx::Error::PoolTimedOut)) });
        assert!(matches!(stopped.await, Err(WriteError::Interrupted)));
        assert!(!health.is_up());
    }
}
