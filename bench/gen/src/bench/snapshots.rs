//! The fetch + verify + decode part of a backfill on its own: every repo's `getRepo` CAR
//! fetched from a PDS and turned into a verified [`Snapshot`](plyr_indexer::backfill::Snapshot)
//! by the indexer's own code (block hashes, commit signature, MST walk, record decoding), with
//! the backfill's concurrency, but nothing written.

use std::time::Instant;

use futures_util::StreamExt as _;
use plyr_indexer::backfill::http::Fetcher;
use plyr_indexer::backfill::{BackfillConfig, BackfillError, fetch};
use url::Url;

use crate::keys::KeyFile;

/// What fetching every repo did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotRun {
    pub repos: u64,
    /// Records of the indexed collections decoded.
    pub records: u64,
    pub failed: u64,
    pub seconds: f64,
}

impl SnapshotRun {
    pub fn records_per_second(&self) -> f64 {
        self.records as f64 / self.seconds.max(1e-9)
    }
}

/// Fetches and verifies every repo in `keys` from `pds`, `concurrency` at a time.
pub async fn run(pds: &Url, keys: &KeyFile, concurrency: usize) -> Result<SnapshotRun, BackfillError> {
    // The PDS is the one given on the command line (a local `plyr-bench pds`), not one a DID
    // document named.
    let config = BackfillConfig {
        concurrency,
        per_host: concurrency,
        network: plyr_atproto::outbound::NetworkPolicy::test_network(),
        ..BackfillConfig::default()
    };
    let fetcher = Fetcher::new(&config)?;
    let started = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(keys.0.iter())
        .map(|(did, key)| {
            let (fetcher, config) = (&fetcher, &config);
            async move { fetch::by_car(fetcher, config, pds, did, key).await }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut out = SnapshotRun { seconds: started.elapsed().as_secs_f64(), ..SnapshotRun::default() };
    for result in results {
        match result {
            Ok(snapshot) => {
                out.repos += 1;
                out.records += snapshot.records.len() as u64;
            }
            Err(e) => {
                out.failed += 1;
                eprintln!("a repo failed: {e}");
            }
        }
    }
    Ok(out)
}
