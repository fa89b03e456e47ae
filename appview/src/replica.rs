//! Reading from a streaming replica without going back in time. The indexer's change
//! notifications come from the primary, and a notification can arrive before the replica has
//! replayed the commit it announces: dropping a cached row then would let the next request
//! refill it with the replica's older copy, and serve that until the next change. So, when
//! reads go to a replica, each notification (with any that arrived with it) is held until the
//! replica has replayed the primary's WAL up to where it stood when the notification was read;
//! until then the caches keep answering with what they hold, which is never newer than the
//! replica. A replica's own reads only move forward, so uncached answers never go back either.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::db::replica as db;

/// How often the replica's position is asked while waiting.
const POLL: Duration = Duration::from_millis(10);
/// A wait longer than this is logged (once per wait).
const SLOW: Duration = Duration::from_secs(5);

/// Waits until `read` has replayed what `primary` had written when this was called; `None` if
/// `shutdown` came first. Errors reading the primary's position are returned (the caller drops
/// everything, as after a lost notification connection); a replica that does not answer is
/// asked again until it does.
pub async fn caught_up(
    primary: &PgPool,
    read: &PgPool,
    shutdown: &CancellationToken,
) -> sqlx::Result<Option<Duration>> {
    let started = Instant::now();
    let target = db::primary_position(primary).await?;
    let mut logged = false;
    loop {
        match db::replayed(read, &target).await {
            Ok(true) => {
                let waited = started.elapsed();
                metrics::histogram!("appview_replica_wait_seconds").record(waited.as_secs_f64());
                return Ok(Some(waited));
            }
            Ok(false) => {}
            Err(err) => tracing::warn!(%err, "cannot ask the read replica where it stands; asking again"),
        }
        if !logged && started.elapsed() > SLOW {
            logged = true;
            tracing::warn!(lsn = %target, "the read replica is more than 5 s behind the primary: cached answers wait for it");
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = shutdown.cancelled() => return Ok(None),
        }
    }
}
