//! The same dataset as a Jetstream v1 stream: every record as a `create` commit at its time,
//! then each account's `identity` event and, for deactivated accounts, an `account` event.
//! Replayed through `indexer replay`, it yields the rows [`super::load`] writes directly (the
//! tests compare the two databases), so the loader cannot drift from the write path.

use serde_json::json;

use super::model::{Model, Rec, Sink};
use super::{LoadError, LoadParams};
use crate::GenError;
use crate::ids::datetime;

/// Collects the commit lines of a generated dataset.
#[derive(Debug, Default)]
struct Lines {
    commits: Vec<(i64, String)>,
}

impl Sink for Lines {
    type Error = GenError;

    fn record(&mut self, rec: Rec<'_>) -> Result<(), GenError> {
        let record = plyr_atproto::record_to_json(&rec.record)?;
        let line = json!({
            "did": rec.did,
            "time_us": rec.time_us,
            "kind": "commit",
            "commit": {
                "rev": rec.rev,
                "operation": "create",
                "collection": rec.collection,
                "rkey": rec.rkey,
                "record": record,
                "cid": rec.cid,
            },
        });
        self.commits.push((rec.time_us, line.to_string()));
        Ok(())
    }
}

/// The dataset of `params` as Jetstream v1 lines (oldest first), with the model behind it.
/// Meant for small datasets: every line is held in memory.
pub fn jetstream(params: &LoadParams) -> Result<(Vec<String>, Model), LoadError> {
    let mut lines = Lines::default();
    let model = Model::generate(params, &mut lines)?;
    let mut commits = lines.commits;
    commits.sort_by_key(|(time_us, _)| *time_us);
    let mut out: Vec<String> = commits.into_iter().map(|(_, line)| line).collect();
    let identity_us = params.identity_us();
    let status_us = params.status_us();
    let mut seq = 1u64;
    for a in model.accounts.iter().filter(|a| a.plyr) {
        let identity = json!({ "did": a.did, "handle": a.handle, "seq": seq, "time": datetime(identity_us) });
        out.push(
            json!({ "did": a.did, "time_us": identity_us, "kind": "identity", "identity": identity })
                .to_string(),
        );
        seq += 1;
    }
    for a in model.accounts.iter().filter(|a| a.plyr && a.deactivated) {
        let account = json!({
            "active": false, "status": "deactivated", "did": a.did, "seq": seq, "time": datetime(status_us),
        });
        out.push(
            json!({ "did": a.did, "time_us": status_us, "kind": "account", "account": account }).to_string(),
        );
        seq += 1;
    }
    Ok((out, model))
}
