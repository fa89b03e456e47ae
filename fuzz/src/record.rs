//! The write path's check and row extraction, exactly as the pipeline runs it: a real [`Writer`]
//! (over a pool that never connects) prepares each source item, then the run of commits is
//! folded as `Writer::apply` would fold it, and every row that comes out is checked storable.

use std::sync::LazyLock;

use plyr_indexer::event::{EventBody, SourceItem};
use plyr_indexer::write::collections::Row;
use plyr_indexer::write::plan::{self, PlannedOp};
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_indexer::write::{BatchItem, Prepared, Writer};

use crate::RUNTIME;

/// The audio origin the e2e tests and the generator trust.
pub const TRUSTED_AUDIO: &str = "https://audio.plyr.fm";

/// The write path with the embedded lexicons. Its pool is lazy and never used: preparing and
/// folding are pure.
pub static WRITER: LazyLock<Writer> = LazyLock::new(|| {
    let _guard = RUNTIME.enter();
    let pool = sqlx::PgPool::connect_lazy("postgres://fuzz@127.0.0.1:1/none").expect("a lazy pool");
    Writer::new(pool, TrustedOrigins::new([TRUSTED_AUDIO])).expect("the embedded lexicons")
});

/// Prepares `items` as the pipeline does, folds their commits as the write path does, and checks
/// every row the fold keeps. Returns the rows with the DID, URI and time of the op they came from.
pub fn write_path(items: Vec<SourceItem>) -> Vec<Extracted> {
    let prepared: Vec<Prepared> = items.into_iter().map(|item| WRITER.prepare(item)).collect();
    let mut ops = Vec::new();
    for p in &prepared {
        let SourceItem::Event { event, .. } = p.source() else { continue };
        let EventBody::Commit(op) = &event.body else { continue };
        if plyr_indexer::write::collections::get(op.collection.as_str()).is_none() {
            continue;
        }
        let indexed_at = chrono::DateTime::from_timestamp_micros(event.time_us).unwrap_or_default();
        ops.push(PlannedOp {
            did: event.did.as_str(),
            uri: op.uri(event.did.as_str()),
            indexed_at,
            op,
            checked: p.checked(),
        });
    }
    let (changes, _report) =
        plan::fold(&ops, &[], &[], &crate::record::CHECK, &TrustedOrigins::new([TRUSTED_AUDIO]));
    let mut out = Vec::new();
    for change in changes {
        if let Some(row) = change.after {
            crate::storable::assert_row(&change.meta.uri, &row);
            out.push(Extracted {
                did: change.meta.did.to_string(),
                uri: change.meta.uri.to_string(),
                cid: change.meta.cid.map(String::from).unwrap_or_default(),
                indexed_at: change.meta.indexed_at,
                row,
            });
        }
    }
    out
}

/// The record checker the fold falls back to for ops the pipeline did not prepare (none here:
/// every op was prepared, so this is only its required argument).
pub static CHECK: LazyLock<plyr_indexer::write::validate::RecordCheck> =
    LazyLock::new(|| plyr_indexer::write::validate::RecordCheck::embedded().expect("the embedded lexicons"));

/// A row the write path would store, with what identifies it.
#[derive(Debug)]
pub struct Extracted {
    pub did: String,
    pub uri: String,
    pub cid: String,
    pub indexed_at: chrono::DateTime<chrono::Utc>,
    pub row: Row,
}
