//! Following labelers (`indexer run --labeler <DID>`): each labeler's DID document gives its
//! `subscribeLabels` endpoint and label key; its stream is followed with a stored cursor, every
//! label's signature checked, and the latest state of each `(src, uri, val)` stored in the
//! `labels` table, announced on the change channel. Negation, expiry and `cid` pinning are
//! stored as the labeler sent them and judged where labels are read (the AppView).
//!
//! - [`frame`]: one websocket message in, a [`LabelFrame`] (or a counted drop) out.
//! - [`keys`]: where a labeler is and which key signs its labels ([`LabelerKeys`]).
//! - [`client`]: one labeler under the shared websocket supervisor ([`client::Follow`]).
//! - [`own`]: the service's own labels (`indexer label apply|negate|list`), with an audit trail.
//!
//! Metrics: `indexer_labels_total{outcome}` (stored, unchanged),
//! `indexer_labeler_dropped_total{reason}`, `indexer_labeler_connects_total{outcome}`,
//! `indexer_labeler_key_refreshes_total`, `indexer_labeler_seq{labeler}`.

pub mod client;
pub mod frame;
pub mod keys;
pub mod own;

use std::sync::Arc;

use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use frame::{LabelFrame, LabelFrameError};
pub use keys::{LabelerKeys, LabelerService, StaticLabelers};

use crate::backoff::Backoff;
use crate::db::cursors;
use crate::websocket::Timing;

/// Labels stored or found unchanged, by `outcome`.
pub const LABELS_TOTAL: &str = "indexer_labels_total";
/// Labels and messages dropped, by `reason`.
pub const DROPPED_TOTAL: &str = "indexer_labeler_dropped_total";
/// Connection attempts, by `outcome`.
pub const CONNECTS_TOTAL: &str = "indexer_labeler_connects_total";
/// Fresh lookups of a labeler after a label failed to verify.
pub const KEY_REFRESHES_TOTAL: &str = "indexer_labeler_key_refreshes_total";
/// The last stored `seq`, per labeler DID.
pub const SEQ: &str = "indexer_labeler_seq";

/// Follows every labeler in `dids` until `shutdown`. A labeler that cannot be looked up yet is
/// tried again with a backoff; nothing a labeler does ends this.
pub async fn run<K: LabelerKeys + 'static>(
    db: PgPool,
    keys: Arc<K>,
    dids: Vec<String>,
    timing: Timing,
    shutdown: CancellationToken,
) {
    let mut tasks = JoinSet::new();
    for did in dids {
        tasks.spawn(follow(db.clone(), Arc::clone(&keys), did, timing, shutdown.clone()));
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!(%e, "labeler task failed");
        }
    }
}

/// Looks `did` up (again after a backoff until it works), then follows it from its stored
/// position.
async fn follow<K: LabelerKeys>(
    db: PgPool,
    keys: Arc<K>,
    did: String,
    timing: Timing,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::new(timing.backoff_base, timing.backoff_max);
    let (service, seq) = loop {
        let found = keys.service(&did, false).await;
        let stored = cursors::load(&db, &client::source_name(&did)).await;
        match (found, stored) {
            (Ok(service), Ok(stored)) => break (service, stored.map(|c| c.value)),
            (Err(error), _) => tracing::warn!(labeler = %did, error, "cannot follow the labeler yet"),
            (_, Err(error)) => tracing::warn!(labeler = %did, %error, "cannot load the labeler's cursor yet"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff.next_delay()) => {}
        }
    };
    match seq {
        Some(seq) => tracing::info!(labeler = %did, seq, "resuming the labeler after the stored seq"),
        None => {
            tracing::info!(labeler = %did, "no stored position for the labeler: asking for all its labels")
        }
    }
    client::Follow { did, keys, service, seq, db, shutdown }.run(timing).await;
}
