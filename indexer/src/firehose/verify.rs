//! Sync 1.1 verification of `#commit` and `#sync` messages, and the per-repo state it needs.
//!
//! A commit is accepted when: the account is not known to be inactive; its `rev` is a TID newer
//! than the last one accepted for the repo; its CAR slice is well formed (every block matches
//! its CID); the commit block names the same repo and rev; the signature verifies with the
//! account's current key (re-resolved once when it fails, for key rotation); and inverting
//! every op on the slice's MST leads back to `prevData`. A commit whose `prevData` is not the
//! `data` we last accepted for the repo still applies, but reports a broken chain: the repo is
//! desynchronized and is queued for a resync (as is any `#sync` that changes the repo's root).
//!
//! Cost control: a repo is *tracked* (state kept, every commit verified) from its first commit
//! touching a wanted collection. A commit to an untracked repo that touches nothing we index is
//! skipped without a key lookup or signature check: most of the network's traffic is that.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cid::Cid;
use jacquard_common::types::string::{Nsid, Rkey, Tid};

use super::filter::CollectionFilter;
use super::frame::{CommitFrame, MAX_BLOCKS_BYTES, MAX_OPS, SyncFrame};
use super::keys::KeySource;
use crate::event::{Action, Record, RecordOp};
use plyr_atproto::repo::mst::{self, ProofOp};
use plyr_atproto::repo::{RepoError, SignedCommit, read_car};

/// What the verifier decided about one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Nothing we index, from a repo we do not track: not verified, nothing to apply.
    Skipped,
    /// Rejected; `reason` is the metric label.
    Dropped { reason: &'static str, detail: String },
    /// Verified. `ops` are the wanted operations, records resolved from the CAR slice;
    /// `resync` is set when our copy of the repo may be stale (broken chain, `#sync`).
    Accepted { ops: Vec<RecordOp>, resync: Option<Tid> },
}

impl Verdict {
    fn drop(reason: &'static str, detail: impl ToString) -> Self {
        Self::Dropped { reason, detail: detail.to_string() }
    }
}

impl From<RepoError> for Verdict {
    fn from(e: RepoError) -> Self {
        Self::drop(e.reason(), e)
    }
}

/// Verification settings.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The collections whose ops are passed on.
    pub collections: CollectionFilter,
    /// Accept commits without `prevData` (PDSes older than sync 1.1) after the signature check.
    pub legacy_commits: bool,
    /// Most repos tracked in memory; past it the state is cleared (chains restart unchecked).
    pub max_repos: usize,
    /// Shortest time between two forced key refreshes of one DID.
    pub key_refresh_every: Duration,
    /// Largest record block decoded; a larger record is passed on undecoded, to be dropped as
    /// `too_large` by the write path.
    pub max_record_bytes: usize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        Self {
            collections: CollectionFilter::new(crate::jetstream::config::DEFAULT_COLLECTIONS),
            legacy_commits: true,
            max_repos: 1_000_000,
            key_refresh_every: Duration::from_secs(60),
            max_record_bytes: plyr_atproto::MAX_RECORD_BYTES,
        }
    }
}

/// What we last accepted for a repo.
#[derive(Debug, Clone, PartialEq)]
struct RepoState {
    rev: String,
    data: Option<Cid>,
    active: bool,
}

/// Verifies messages for any number of hosts (shared, so a commit relayed twice is applied once).
#[derive(Debug)]
pub struct SyncVerifier<K> {
    keys: K,
    config: VerifierConfig,
    repos: Mutex<HashMap<String, RepoState>>,
    refreshed: Mutex<HashMap<String, Instant>>,
}

/// An op after its path was split and checked.
struct ParsedOp {
    key: String,
    collection: Nsid,
    rkey: Rkey,
    action: Action,
    cid: Option<Cid>,
    prev: Option<Cid>,
}

impl<K: KeySource> SyncVerifier<K> {
    pub fn new(keys: K, config: VerifierConfig) -> Self {
        Self { keys, config, repos: Mutex::new(HashMap::new()), refreshed: Mutex::new(HashMap::new()) }
    }

    /// The key source (to forget a DID's key on `#identity`).
    pub fn keys(&self) -> &K {
        &self.keys
    }

    /// Verifies a `#commit`.
    pub async fn commit(&self, frame: &CommitFrame<'_>) -> Verdict {
        if frame.ops.len() > MAX_OPS {
            return Verdict::drop("too_many_ops", frame.ops.len());
        }
        let ops = match frame.ops.iter().map(parse_op).collect::<Result<Vec<_>, _>>() {
            Ok(ops) => ops,
            Err(detail) => return Verdict::drop("bad_op", detail),
        };
        let wanted = ops.iter().any(|op| self.config.collections.matches(op.collection.as_str()));
        let state = self.state(frame.repo);
        if !wanted && state.is_none() {
            return Verdict::Skipped;
        }
        let rev = match self.check_rev(frame.rev, state.as_ref()) {
            Ok(rev) => rev,
            Err(verdict) => return verdict,
        };
        let car = match read_car(frame.blocks, MAX_BLOCKS_BYTES).await {
            Ok(car) => car,
            Err(e) => return e.into(),
        };
        let commit = match car.require(&frame.commit, "commit").and_then(|b| SignedCommit::decode(b)) {
            Ok(commit) => commit,
            Err(e) => return e.into(),
        };
        if let Err(e) = same_commit(&commit, frame.repo, frame.rev) {
            return e.into();
        }
        if let Err(verdict) = self.check_signature(frame.repo, &commit).await {
            return verdict;
        }
        match frame.prev_data {
            Some(prev_data) => {
                let proof = ops.iter().map(proof_op).collect::<Result<Vec<_>, _>>();
                let checked = match proof {
                    Ok(proof) => mst::verify_inversion(&car, commit.data, prev_data, proof).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = checked {
                    return e.into();
                }
            }
            None if self.config.legacy_commits => {}
            None => return Verdict::drop("no_prev_data", "commit without prevData (not sync 1.1)"),
        }
        let broken = match (state.as_ref().and_then(|s| s.data), frame.prev_data) {
            (Some(ours), Some(theirs)) => ours != theirs,
            _ => false,
        };
        let mut records = Vec::new();
        for op in ops.into_iter().filter(|op| self.config.collections.matches(op.collection.as_str())) {
            let record = match (op.action, op.cid) {
                (Action::Delete, _) => None,
                (_, None) => return Verdict::drop("bad_op", format!("{} without a cid", op.key)),
                (_, Some(cid)) => match car.get(&cid) {
                    None => return RepoError::MissingBlock { what: "record", cid: cid.to_string() }.into(),
                    Some(block) if block.len() > self.config.max_record_bytes => {
                        Some(Record::TooLarge { bytes: block.len() })
                    }
                    Some(block) => match plyr_atproto::record_from_cbor(block) {
                        Ok(record) => Some(Record::Data(record)),
                        Err(e) => return Verdict::drop("bad_record", format!("{}: {e}", op.key)),
                    },
                },
            };
            let cid = op.cid.map(plyr_atproto::Cid::from);
            records.push(RecordOp {
                rev: rev.clone(),
                collection: op.collection,
                rkey: op.rkey,
                action: op.action,
                cid,
                record,
            });
        }
        if !self.advance(frame.repo, frame.rev, Some(commit.data)) {
            return Verdict::drop("stale_rev", "a newer commit was accepted meanwhile");
        }
        Verdict::Accepted { ops: records, resync: broken.then_some(rev) }
    }

    /// Verifies a `#sync`. For an untracked repo it is passed on unverified: it can only queue a
    /// resync, which fetches and verifies the repo itself.
    pub async fn sync(&self, frame: &SyncFrame<'_>) -> Verdict {
        let state = self.state(frame.did);
        let rev = match self.check_rev(frame.rev, state.as_ref()) {
            Ok(rev) => rev,
            Err(verdict) => return verdict,
        };
        let Some(state) = state else {
            return Verdict::Accepted { ops: Vec::new(), resync: Some(rev) };
        };
        let car = match read_car(frame.blocks, MAX_BLOCKS_BYTES).await {
            Ok(car) => car,
            Err(e) => return e.into(),
        };
        let Some(root) = car.roots.first().copied() else {
            return Verdict::drop("bad_car", "no root");
        };
        let commit = match car.require(&root, "commit").and_then(|b| SignedCommit::decode(b)) {
            Ok(commit) => commit,
            Err(e) => return e.into(),
        };
        if let Err(e) = same_commit(&commit, frame.did, frame.rev) {
            return e.into();
        }
        if let Err(verdict) = self.check_signature(frame.did, &commit).await {
            return verdict;
        }
        if !self.advance(frame.did, frame.rev, Some(commit.data)) {
            return Verdict::drop("stale_rev", "a newer commit was accepted meanwhile");
        }
        if state.data == Some(commit.data) {
            return Verdict::Skipped; // the repo is where we already are
        }
        Verdict::Accepted { ops: Vec::new(), resync: Some(rev) }
    }

    /// Records an `#account` status: commits of an inactive account are dropped.
    pub fn account(&self, did: &str, active: bool) {
        let mut repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        match repos.get_mut(did) {
            Some(state) => state.active = active,
            None if !active => {
                repos.insert(did.to_owned(), RepoState { rev: String::new(), data: None, active });
            }
            None => {}
        }
    }

    /// The number of repos tracked.
    pub fn tracked(&self) -> usize {
        self.repos.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn state(&self, did: &str) -> Option<RepoState> {
        self.repos.lock().unwrap_or_else(|e| e.into_inner()).get(did).cloned()
    }

    fn check_rev(&self, rev: &str, state: Option<&RepoState>) -> Result<Tid, Verdict> {
        if let Some(state) = state {
            if !state.active {
                return Err(Verdict::drop("inactive", "the account is not active"));
            }
            if rev <= state.rev.as_str() {
                return Err(Verdict::drop("stale_rev", format!("rev {rev} is not newer than {}", state.rev)));
            }
        }
        Tid::new(rev).map_err(|e| Verdict::drop("bad_rev", e))
    }

    /// Moves the repo to `rev` unless a newer rev got there first (another host's copy).
    fn advance(&self, did: &str, rev: &str, data: Option<Cid>) -> bool {
        let mut repos = self.repos.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(state) = repos.get_mut(did) {
            if rev <= state.rev.as_str() {
                return false;
            }
            state.rev = rev.to_owned();
            state.data = data;
            return true;
        }
        if repos.len() >= self.config.max_repos {
            tracing::warn!(repos = repos.len(), "firehose repo state is full; clearing it");
            metrics::counter!("indexer_firehose_state_resets_total").increment(1);
            repos.clear();
        }
        repos.insert(did.to_owned(), RepoState { rev: rev.to_owned(), data, active: true });
        true
    }

    async fn check_signature(&self, did: &str, commit: &SignedCommit) -> Result<(), Verdict> {
        let key = match self.keys.signing_key(did, false).await {
            Ok(Some(key)) => key,
            Ok(None) => return Err(Verdict::drop("no_key", "the DID document has no #atproto key")),
            Err(e) => return Err(Verdict::drop("no_key", e)),
        };
        let first = match key.verifying_key() {
            Ok(vk) => commit.verify(&vk),
            Err(e) => Err(RepoError::Signature(e.into())),
        };
        let Err(first) = first else { return Ok(()) };
        if !self.may_refresh(did) {
            return Err(first.into());
        }
        match self.keys.signing_key(did, true).await {
            Ok(Some(fresh)) if fresh != key => {
                metrics::counter!("indexer_firehose_key_refreshes_total").increment(1);
                let vk = fresh.verifying_key().map_err(|e| Verdict::from(RepoError::Signature(e.into())))?;
                commit.verify(&vk).map_err(Verdict::from)
            }
            _ => Err(first.into()),
        }
    }

    fn may_refresh(&self, did: &str) -> bool {
        let mut refreshed = self.refreshed.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if refreshed.get(did).is_some_and(|at| now.duration_since(*at) < self.config.key_refresh_every) {
            return false;
        }
        if refreshed.len() > 100_000 {
            refreshed.clear();
        }
        refreshed.insert(did.to_owned(), now);
        true
    }
}

fn same_commit(commit: &SignedCommit, did: &str, rev: &str) -> Result<(), RepoError> {
    let mismatch = |field, expected: &str, got: &str| RepoError::CommitMismatch {
        field,
        expected: expected.chars().take(128).collect(),
        got: got.chars().take(128).collect(),
    };
    if commit.did != did {
        return Err(mismatch("did", did, &commit.did));
    }
    if commit.rev != rev {
        return Err(mismatch("rev", rev, &commit.rev));
    }
    Ok(())
}

fn parse_op(op: &super::frame::RepoOp<'_>) -> Result<ParsedOp, String> {
    let shown = || op.path.chars().take(128).collect::<String>();
    let (collection, rkey) =
        op.path.split_once('/').ok_or_else(|| format!("path {:?} has no '/'", shown()))?;
    let collection = Nsid::new_owned(collection).map_err(|e| format!("path {:?}: {e}", shown()))?;
    let rkey = Rkey::new_owned(rkey).map_err(|e| format!("path {:?}: {e}", shown()))?;
    let action = match op.action {
        "create" => Action::Create,
        "update" => Action::Update,
        "delete" => Action::Delete,
        other => return Err(format!("unknown action {:?}", other.chars().take(32).collect::<String>())),
    };
    Ok(ParsedOp { key: op.path.to_owned(), collection, rkey, action, cid: op.cid, prev: op.prev })
}

fn proof_op(op: &ParsedOp) -> Result<ProofOp, RepoError> {
    let missing =
        |what: &str| RepoError::Proof(format!("{} op on {} has no {what}", action_name(op.action), op.key));
    let key = op.key.clone();
    Ok(match op.action {
        Action::Create => ProofOp::Create { key, cid: op.cid.ok_or_else(|| missing("cid"))? },
        Action::Update => ProofOp::Update {
            key,
            cid: op.cid.ok_or_else(|| missing("cid"))?,
            prev: op.prev.ok_or_else(|| missing("prev"))?,
        },
        Action::Delete => ProofOp::Delete { key, prev: op.prev.ok_or_else(|| missing("prev"))? },
    })
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
    }
}
