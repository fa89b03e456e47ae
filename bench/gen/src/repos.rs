//! `plyr-gen repos`: one repository CAR per account, as `com.atproto.sync.getRepo` returns it
//! (signed commit, full MST, every record), for the backfill benchmark and its smoke test.
//!
//! The `fm.plyr.*` and `app.bsky.actor.profile` records are the final state of a generated plyr
//! network ([`crate::Network`], sized to about `repos` accounts): every create, update and
//! delete of its stream folded per account. Like real repos, each also holds other apps'
//! records ([`crate::bsky`]), `other_records` on average. Accounts that were deleted or are
//! deactivated at the end have no repo to serve and are left out.
//!
//! The directory gets `<did>.car` per repo and `keys.json` ([`KeyFile`]). Same parameters,
//! same bytes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::bsky::{self, Subject};
use crate::frames::cbor;
use crate::ids::{datetime, tid};
use crate::keys::KeyFile;
use crate::rng::Rng;
use crate::signing::{Signer, repo_car};
use crate::wire::{Body, Operation};
use crate::{GenError, Network, NetworkParams};

/// Plyr network events per account (so the network has about `repos` accounts).
const EVENTS_PER_ACCOUNT: usize = 33;
/// Recent posts kept as like and repost subjects.
const RECENT_POSTS: usize = 4_096;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReposParams {
    pub seed: u64,
    /// Accounts of the plyr network (about as many repos: minus deleted and deactivated ones).
    pub repos: usize,
    /// Average number of other apps' records per repo.
    pub other_records: u64,
}

impl ReposParams {
    /// `repos` accounts with 100 other-app records each on average.
    pub fn new(seed: u64, repos: usize) -> Self {
        Self { seed, repos, other_records: 100 }
    }
}

/// What the generated repos hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReposSummary {
    pub repos: u64,
    /// Bytes of all CARs.
    pub bytes: u64,
    /// Records by collection, over all repos.
    pub records: BTreeMap<String, u64>,
}

impl ReposSummary {
    /// Every record.
    pub fn total(&self) -> u64 {
        self.records.values().sum()
    }

    /// Records of a collection.
    pub fn of(&self, collection: &str) -> u64 {
        self.records.get(collection).copied().unwrap_or(0)
    }

    /// The records a backfill indexes (`fm.plyr.*` and `app.bsky.actor.profile`).
    pub fn indexed(&self) -> u64 {
        self.records
            .iter()
            .filter(|(c, _)| c.starts_with("fm.plyr.") || *c == crate::records::nsid::BSKY_PROFILE)
            .map(|(_, n)| n)
            .sum()
    }
}

impl fmt::Display for ReposSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} repos, {} records ({} indexed: fm.plyr + app.bsky.actor.profile), {:.1} MiB of CAR",
            self.repos,
            self.total(),
            self.indexed(),
            self.bytes as f64 / (1024.0 * 1024.0)
        )?;
        for (collection, n) in &self.records {
            write!(f, "\n  {collection}: {n}")?;
        }
        Ok(())
    }
}

/// One account at the end of the network's period.
#[derive(Debug, Default)]
struct Folded {
    did: String,
    clock_id: u16,
    gone: bool,
    /// `collection/rkey` → DAG-CBOR.
    records: BTreeMap<String, Vec<u8>>,
}

/// Writes every repo of `params` into `dir` (created if needed) with `keys.json`.
pub async fn generate(params: &ReposParams, dir: &Path) -> Result<ReposSummary, GenError> {
    if params.repos == 0 {
        return Err(GenError::Params("at least one repo is needed"));
    }
    std::fs::create_dir_all(dir)?;
    let accounts = fold(params)?;
    let mut rng = Rng::new(params.seed ^ 0x7265_706f_735f_6f74);
    let mut summary = ReposSummary::default();
    let mut keys = KeyFile::default();
    let mut recent: Vec<Subject> = Vec::new();
    for account in accounts.into_iter().filter(|a| !a.gone) {
        let signer = Signer::random(&mut rng);
        let mut records = account.records;
        let others = rng.range(0, 2 * params.other_records);
        for k in 0..others {
            let created = crate::DEFAULT_END_US - crate::YEAR_US + k as i64 * 3_600_000_000;
            let rkey = tid(created, account.clock_id);
            let subject =
                rng.pick(&recent).cloned().unwrap_or_else(|| Subject::post(&account.did, &rkey, b""));
            let (collection, bytes) = bsky::any_record(&mut rng, &datetime(created), &subject)?;
            if collection == bsky::nsid::POST && rng.chance(0.05) {
                let subject = Subject::post(&account.did, &rkey, &bytes);
                if recent.len() < RECENT_POSTS {
                    recent.push(subject);
                } else if let Some(slot) = recent.get_mut(rng.index(RECENT_POSTS)) {
                    *slot = subject;
                }
            }
            records.insert(format!("{collection}/{rkey}"), bytes);
        }
        for key in records.keys() {
            let collection = key.split_once('/').map_or(key.as_str(), |(c, _)| c);
            *summary.records.entry(collection.to_owned()).or_default() += 1;
        }
        let rev = tid(crate::DEFAULT_END_US, account.clock_id);
        let car = repo_car(&account.did, &signer, &rev, records).await?;
        summary.repos += 1;
        summary.bytes += car.len() as u64;
        std::fs::write(dir.join(format!("{}.car", account.did)), car)?;
        keys.0.insert(account.did, signer.public());
    }
    keys.write(&dir.join("keys.json"))?;
    Ok(summary)
}

/// The plyr network whose final state the repos of `params` hold: its Jetstream stream
/// (`jetstream_lines`) ends where the repos are.
pub fn network_params(params: &ReposParams) -> NetworkParams {
    let artists = (params.repos / 6).max(1);
    NetworkParams {
        artists,
        listeners: params.repos.saturating_sub(artists).max(1),
        ..NetworkParams::new(params.seed, params.repos * EVENTS_PER_ACCOUNT)
    }
}

/// Runs the plyr network to its end and keeps each account's live records.
fn fold(params: &ReposParams) -> Result<Vec<Folded>, GenError> {
    let mut network = Network::new(network_params(params))?;
    let mut accounts: Vec<Folded> =
        network.dids().map(|did| Folded { did: did.to_owned(), ..Folded::default() }).collect();
    while let Some(event) = network.next_event_stamped() {
        let event = event?;
        let account = accounts.get_mut(event.actor as usize).ok_or(GenError::Internal("unknown account"))?;
        account.clock_id = event.clock_id;
        match event.body {
            Body::Commit { operation: Operation::Delete, collection, rkey, .. } => {
                account.records.remove(&format!("{collection}/{rkey}"));
            }
            Body::Commit { collection, rkey, record: Some(record), .. } => {
                let json = serde_json::to_value(&record)?;
                let bytes = cbor(&plyr_atproto::record_from_json(json)?)?;
                account.records.insert(format!("{collection}/{rkey}"), bytes);
            }
            Body::Commit { record: None, .. } => return Err(GenError::Internal("a write without a record")),
            Body::Account { active, .. } => account.gone = !active,
            Body::Identity { .. } => {}
        }
    }
    Ok(accounts)
}
