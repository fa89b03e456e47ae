//! `plyr-gen firehose`: a file of real signed sync 1.1 `#commit` messages (plus a few
//! `#identity` and `#account` ones) from real MSTs, as a relay would send them, for the
//! firehose benchmark and its smoke test.
//!
//! The stream interleaves two kinds of traffic, in one timeline:
//! - the plyr network ([`crate::Network`]): its `fm.plyr.*` creates, updates and deletes,
//!   `app.bsky.actor.profile` writes, handle changes and account events, `plyr_share` of the
//!   messages;
//! - everyone else: Bluesky likes, posts, follows, reposts, list edits and deletions
//!   ([`crate::bsky`]) from `other_repos` accounts (activity skewed towards a few heavy users),
//!   and from the plyr accounts too, with an occasional `#identity`.
//!
//! Every repo starts with some earlier records (`preload`, not sent), so MST proofs have the
//! depth of a lived-in repo. Same parameters, same bytes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::bsky::{self, OtherOp, Subject};
use crate::frames::cbor;
use crate::frames::{self, write_frame};
use crate::ids::{datetime, plc_did, tid};
use crate::keys::KeyFile;
use crate::network::Stamped;
use crate::rng::{PowerLaw, Rng};
use crate::signing::{Signer, SigningRepo, Write};
use crate::summary::OpCounts;
use crate::wire::{Body, Operation};
use crate::{GenError, Network, NetworkParams};

/// Average gap between two messages (a relay sending 1,000 messages a second).
const GAP_US: i64 = 1_000;
/// Share of other-traffic messages that are `#identity` (a handle change) of another app's user.
const OTHER_IDENTITY: f64 = 0.004;
/// Recent posts kept as like and repost subjects.
const RECENT_POSTS: usize = 4_096;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct FirehoseParams {
    pub seed: u64,
    /// Messages in the file.
    pub frames: usize,
    /// Share of messages that come from the plyr network (fm.plyr commits, their profiles,
    /// identity and account events).
    pub plyr_share: f64,
    /// Accounts that only use other apps.
    pub other_repos: usize,
    /// Average number of records each repo holds before the stream starts.
    pub preload: u64,
}

impl FirehoseParams {
    /// `frames` messages, 10 % from the plyr network, one other-app account per 20 messages,
    /// repos of 40 records on average.
    pub fn new(seed: u64, frames: usize) -> Self {
        Self { seed, frames, plyr_share: 0.1, other_repos: (frames / 20).max(4), preload: 40 }
    }

    fn check(&self) -> Result<(), GenError> {
        if !(0.0..=1.0).contains(&self.plyr_share) {
            return Err(GenError::Params("the plyr share must be between 0 and 1"));
        }
        if self.other_repos == 0 {
            return Err(GenError::Params("at least one other-app repo is needed"));
        }
        Ok(())
    }
}

/// What a generated frames file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirehoseSummary {
    pub frames: u64,
    pub commits: u64,
    pub identity: u64,
    pub account: u64,
    /// Bytes of the messages (without the length prefixes).
    pub bytes: u64,
    /// Repos with a key in the keys file.
    pub repos: u64,
    /// Operations by collection.
    pub ops: BTreeMap<String, OpCounts>,
}

impl FirehoseSummary {
    /// Operations on `fm.plyr.*` records.
    pub fn plyr_ops(&self) -> u64 {
        self.ops.iter().filter(|(c, _)| c.starts_with("fm.plyr.")).map(|(_, n)| n.total()).sum()
    }

    /// Operations the indexer takes from the firehose (`fm.plyr.*` and `app.bsky.actor.profile`).
    pub fn wanted_ops(&self) -> u64 {
        self.plyr_ops() + self.ops.get(crate::records::nsid::BSKY_PROFILE).map_or(0, OpCounts::total)
    }

    /// The events a verifying consumer passes on: every wanted op, identity and account event.
    pub fn expected_events(&self) -> u64 {
        self.wanted_ops() + self.identity + self.account
    }

    fn count(&mut self, key: &str, action: &str) {
        let collection = key.split_once('/').map_or(key, |(c, _)| c);
        let counts = self.ops.entry(collection.to_owned()).or_default();
        match action {
            "create" => counts.create += 1,
            "update" => counts.update += 1,
            _ => counts.delete += 1,
        }
    }
}

impl fmt::Display for FirehoseSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} messages ({} commits, {} identity, {} account; {:.0} bytes on average) from {} repos",
            self.frames,
            self.commits,
            self.identity,
            self.account,
            self.bytes as f64 / self.frames.max(1) as f64,
            self.repos
        )?;
        write!(
            f,
            "{} fm.plyr ops, {} wanted ops (fm.plyr + app.bsky.actor.profile)",
            self.plyr_ops(),
            self.wanted_ops()
        )?;
        for (collection, n) in &self.ops {
            write!(f, "\n  {collection}: {} create, {} update, {} delete", n.create, n.update, n.delete)?;
        }
        Ok(())
    }
}

/// One account's repo and what other-app records it can still delete or edit.
#[derive(Debug)]
struct Account {
    repo: SigningRepo,
    clock_id: u16,
    active: bool,
    /// Other-app records that may be deleted.
    deletable: Vec<String>,
    /// Its curation lists.
    lists: Vec<String>,
}

/// The generator's state.
struct Firehose<'w, W> {
    params: FirehoseParams,
    rng: Rng,
    network: Network,
    accounts: Vec<Account>,
    /// Plyr network account → index in `accounts`.
    plyr: HashMap<u32, usize>,
    activity: PowerLaw,
    recent: Vec<Subject>,
    summary: FirehoseSummary,
    keys: KeyFile,
    out: &'w mut W,
    time_us: i64,
    seq: i64,
}

/// Writes the frames of `params` to `out` and returns their summary and every repo's key.
pub async fn generate<W: std::io::Write>(
    params: &FirehoseParams,
    out: &mut W,
) -> Result<(FirehoseSummary, KeyFile), GenError> {
    params.check()?;
    let plyr_events = (params.frames as f64 * params.plyr_share).round() as usize;
    let mut network_params = NetworkParams::new(params.seed, plyr_events);
    network_params.span_us = (params.frames as i64 * GAP_US).max(1);
    let start_us = network_params.start_us();
    let mut state = Firehose {
        params: params.clone(),
        rng: Rng::new(params.seed ^ 0x6669_7265_686f_7365),
        network: Network::new(network_params)?,
        accounts: Vec::new(),
        plyr: HashMap::new(),
        activity: PowerLaw::zipf(20.0),
        recent: Vec::new(),
        summary: FirehoseSummary::default(),
        keys: KeyFile::default(),
        out,
        time_us: start_us,
        seq: 0,
    };
    for _ in 0..params.other_repos {
        let did = plc_did(&mut state.rng);
        state.open(did).await?;
    }
    let mut plyr_left = plyr_events;
    for i in 0..params.frames {
        let frames_left = (params.frames - i) as u64;
        let plyr_now = plyr_left > 0 && state.rng.below(frames_left) < plyr_left as u64;
        state.seq += 1;
        if plyr_now {
            plyr_left -= 1;
            match state.network.next_event_stamped() {
                Some(event) => state.plyr_event(event?).await?,
                None => return Err(GenError::Internal("the plyr network ended early")),
            }
        } else {
            state.time_us = state.time_us.max(start_us + i as i64 * GAP_US) + 1;
            state.other_event().await?;
        }
    }
    state.out.flush()?;
    state.summary.repos = state.keys.0.len() as u64;
    Ok((state.summary, state.keys))
}

impl<W: std::io::Write> Firehose<'_, W> {
    /// Creates a repo for `did` with its earlier records; returns its index.
    async fn open(&mut self, did: String) -> Result<usize, GenError> {
        let signer = Signer::random(&mut self.rng);
        let clock_id = self.rng.below(1024) as u16;
        let mut repo = SigningRepo::new(&did, signer);
        let count = self.rng.range(0, 2 * self.params.preload);
        let subject = self.subject_or(&did);
        let mut records = Vec::with_capacity(count as usize);
        let mut deletable = Vec::with_capacity(count as usize);
        let preload_us = self.time_us - crate::YEAR_US;
        for k in 0..count {
            let created = preload_us + (k as i64) * 60_000_000;
            let (collection, bytes) = bsky::any_record(&mut self.rng, &datetime(created), &subject)?;
            let key = format!("{collection}/{}", tid(created, clock_id));
            records.push((key.clone(), crate::signing::cid_of(&bytes)));
            deletable.push(key);
        }
        repo.preload(records, &tid(self.time_us - 1, clock_id)).await?;
        self.keys.0.insert(did, repo.key());
        self.accounts.push(Account { repo, clock_id, active: true, deletable, lists: Vec::new() });
        Ok(self.accounts.len() - 1)
    }

    fn subject_or(&mut self, did: &str) -> Subject {
        match self.rng.pick(&self.recent) {
            Some(s) => s.clone(),
            None => Subject {
                did: did.to_owned(),
                uri: format!("at://{did}/{}/3kaaaaaaaaa22", bsky::nsid::POST),
                cid: crate::signing::cid_of(did.as_bytes()).to_string(),
            },
        }
    }

    async fn plyr_event(&mut self, event: Stamped) -> Result<(), GenError> {
        self.time_us = self.time_us.max(event.time_us - 1) + 1;
        let index = match self.plyr.get(&event.actor) {
            Some(i) => *i,
            None => {
                let i = self.open(event.did.clone()).await?;
                self.plyr.insert(event.actor, i);
                i
            }
        };
        let time = datetime(self.time_us);
        match event.body {
            Body::Identity { handle } => {
                self.emit(frames::identity(self.seq, &event.did, Some(&handle), &time)?, "identity")?;
            }
            Body::Account { active, status } => {
                if let Some(account) = self.accounts.get_mut(index) {
                    account.active = active;
                }
                self.emit(frames::account(self.seq, &event.did, active, status, &time)?, "account")?;
            }
            Body::Commit { operation, collection, rkey, record, .. } => {
                let key = format!("{collection}/{rkey}");
                let write = match (operation, record) {
                    (Operation::Delete, _) => Write::Delete { key },
                    (_, Some(record)) => {
                        let json = serde_json::to_value(&record)?;
                        Write::Put { key, record: cbor(&plyr_atproto::record_from_json(json)?)? }
                    }
                    (_, None) => return Err(GenError::Internal("a create or update without a record")),
                };
                self.commit(index, vec![write]).await?;
            }
        }
        Ok(())
    }

    /// A message from another app: mostly a commit by a (skewed) random active account.
    async fn other_event(&mut self) -> Result<(), GenError> {
        let rank = self.activity.sample(&mut self.rng, self.accounts.len());
        let index = if self.accounts.get(rank).is_some_and(|a| a.active) { rank } else { 0 };
        let time = datetime(self.time_us);
        let did = self.accounts.get(index).map(|a| a.repo.did().to_owned()).unwrap_or_default();
        if self.rng.chance(OTHER_IDENTITY) {
            let handle = format!("{}.bsky.test", crate::words::listener_label(&mut self.rng));
            self.emit(frames::identity(self.seq, &did, Some(&handle), &time)?, "identity")?;
            return Ok(());
        }
        let writes = self.other_writes(index, &did, &time)?;
        self.commit(index, writes).await
    }

    fn other_writes(&mut self, index: usize, did: &str, time: &str) -> Result<Vec<Write>, GenError> {
        let clock_id = self.accounts.get(index).map_or(0, |a| a.clock_id);
        let rkey = tid(self.time_us - 1, clock_id);
        let op = bsky::draw(&mut self.rng);
        let account = self.accounts.get_mut(index).ok_or(GenError::Internal("no such account"))?;
        let put =
            |collection: &str, record: Vec<u8>| Write::Put { key: format!("{collection}/{rkey}"), record };
        let write = match op {
            OtherOp::Delete if !account.deletable.is_empty() => {
                let slot = self.rng.index(account.deletable.len());
                Write::Delete { key: account.deletable.swap_remove(slot) }
            }
            OtherOp::UpdateList if !account.lists.is_empty() => {
                let key = self.rng.pick(&account.lists).cloned().unwrap_or_default();
                Write::Put { key, record: bsky::list(&mut self.rng, time)? }
            }
            OtherOp::CreateList => {
                account.lists.push(format!("{}/{rkey}", bsky::nsid::LIST));
                put(bsky::nsid::LIST, bsky::list(&mut self.rng, time)?)
            }
            OtherOp::Like | OtherOp::Repost if !self.recent.is_empty() => {
                let subject = self.rng.pick(&self.recent).cloned().ok_or(GenError::Internal("no subject"))?;
                let collection = if op == OtherOp::Like { bsky::nsid::LIKE } else { bsky::nsid::REPOST };
                account.deletable.push(format!("{collection}/{rkey}"));
                put(collection, bsky::subject_record(collection, &subject, time)?)
            }
            OtherOp::Follow => {
                let other = self.rng.index(self.params.other_repos);
                let subject = self.accounts.get(other).map(|a| a.repo.did().to_owned()).unwrap_or_default();
                if let Some(account) = self.accounts.get_mut(index) {
                    account.deletable.push(format!("{}/{rkey}", bsky::nsid::FOLLOW));
                }
                put(bsky::nsid::FOLLOW, bsky::follow(&subject, time)?)
            }
            _ => {
                let record = bsky::post(&mut self.rng, time)?;
                let subject = Subject::post(did, &rkey, &record);
                account.deletable.push(format!("{}/{rkey}", bsky::nsid::POST));
                let mut writes = vec![put(bsky::nsid::POST, record)];
                if self.rng.chance(bsky::THREADGATED) {
                    writes.push(put(bsky::nsid::THREADGATE, bsky::threadgate(&subject.uri, time)?));
                }
                if self.recent.len() < RECENT_POSTS {
                    self.recent.push(subject);
                } else if let Some(slot) = self.recent.get_mut(self.rng.index(RECENT_POSTS)) {
                    *slot = subject;
                }
                return Ok(writes);
            }
        };
        Ok(vec![write])
    }

    async fn commit(&mut self, index: usize, writes: Vec<Write>) -> Result<(), GenError> {
        let account = self.accounts.get_mut(index).ok_or(GenError::Internal("no such account"))?;
        let rev = tid(self.time_us, account.clock_id);
        let committed = account.repo.commit(self.seq, &rev, &datetime(self.time_us), writes).await?;
        for (key, action) in &committed.actions {
            self.summary.count(key, action);
        }
        self.emit(committed.frame, "commit")
    }

    fn emit(&mut self, message: Vec<u8>, kind: &str) -> Result<(), GenError> {
        self.summary.frames += 1;
        self.summary.bytes += message.len() as u64;
        match kind {
            "identity" => self.summary.identity += 1,
            "account" => self.summary.account += 1,
            _ => self.summary.commits += 1,
        }
        write_frame(self.out, &message)
    }
}
