//! Signed repositories, the one place that builds them: a k256 key, jacquard-repo's Merkle
//! Search Tree, signed commit objects, and the two shapes the network serves them in:
//!
//! - [`SigningRepo::commit`]: a sync 1.1 `#commit` message for a set of writes: the ops with
//!   `prev` on updates and deletes, `prevData`, and a CAR slice holding the signed commit, the
//!   new records and the MST nodes the consumer needs to invert every op (the path to each
//!   changed key and to its neighbours, as a PDS's covering proof does);
//! - [`repo_car`]: a whole repo as `com.atproto.sync.getRepo` returns it (CAR v1, root = the
//!   signed commit, every MST node and record).
//!
//! `plyr-gen firehose` and `plyr-gen repos` use these, and so do the indexer's firehose and
//! backfill tests. Signatures are deterministic (RFC 6979), so the same key and writes give the
//! same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use ipld_core::ipld::Ipld;
use jacquard_repo::Mst;
use jacquard_repo::storage::MemoryBlockStore;
use k256::ecdsa::signature::Signer as _;
use plyr_atproto::identity::{Curve, SigningKey};

use crate::GenError;
use crate::frames::{cbor, frame, ipld_map};
use crate::rng::Rng;

/// One write of a commit: `key` is `collection/rkey`, `record` the record's DAG-CBOR bytes.
#[derive(Debug, Clone)]
pub enum Write {
    Put { key: String, record: Vec<u8> },
    Delete { key: String },
}

/// A k256 signing key and its public half as DID documents publish it.
#[derive(Clone)]
pub struct Signer {
    secret: k256::ecdsa::SigningKey,
    public: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("public", &self.public().did_key()).finish()
    }
}

impl Signer {
    /// The key whose secret scalar is 32 bytes of `byte` (test fixtures: `Signer::repeated(3)`).
    pub fn repeated(byte: u8) -> Self {
        Self::from_bytes([byte.max(1); 32]).unwrap_or_else(|| Self::repeated(1))
    }

    /// A key drawn from `rng` (deterministic for a seed).
    pub fn random(rng: &mut Rng) -> Self {
        loop {
            let mut bytes = [0u8; 32];
            for chunk in bytes.chunks_mut(8) {
                chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
            }
            if let Some(signer) = Self::from_bytes(bytes) {
                return signer;
            }
        }
    }

    /// The key with secret scalar `bytes`, if that is a valid scalar (benchmark viewers' keys,
    /// derived from their DIDs).
    pub fn from_seed_bytes(bytes: [u8; 32]) -> Option<Self> {
        Self::from_bytes(bytes)
    }

    /// The secret half, to sign what is not a commit (benchmark service tokens).
    pub fn secret(&self) -> &k256::ecdsa::SigningKey {
        &self.secret
    }

    /// The key with secret scalar `bytes`, if that is a valid scalar.
    fn from_bytes(bytes: [u8; 32]) -> Option<Self> {
        let secret = k256::ecdsa::SigningKey::from_slice(&bytes).ok()?;
        let point = secret.verifying_key().to_encoded_point(true);
        let public = SigningKey::from_sec1(Curve::K256, point.as_bytes()).ok()?;
        Some(Self { secret, public })
    }

    /// The public key (`did:key` form through [`SigningKey::did_key`]).
    pub fn public(&self) -> SigningKey {
        self.public.clone()
    }

    /// The signed commit object of `did` at `rev` over the MST root `data`: its CID and block.
    pub fn commit(&self, did: &str, rev: &str, data: Cid) -> Result<(Cid, Vec<u8>), GenError> {
        let mut commit = BTreeMap::from([
            ("did".to_owned(), Ipld::String(did.to_owned())),
            ("version".to_owned(), Ipld::Integer(3)),
            ("data".to_owned(), Ipld::Link(data)),
            ("rev".to_owned(), Ipld::String(rev.to_owned())),
            ("prev".to_owned(), Ipld::Null),
        ]);
        let unsigned = cbor(&Ipld::Map(commit.clone()))?;
        let sig: k256::ecdsa::Signature = self.secret.sign(&unsigned);
        let sig = sig.normalize_s().unwrap_or(sig);
        commit.insert("sig".to_owned(), Ipld::Bytes(sig.to_bytes().to_vec()));
        let block = cbor(&Ipld::Map(commit))?;
        Ok((cid_of(&block), block))
    }
}

/// The CID of a DAG-CBOR block (CIDv1, sha2-256).
pub fn cid_of(block: &[u8]) -> Cid {
    plyr_atproto::repo::car::cid_of(block)
}

fn repo_err(what: &'static str) -> impl FnOnce(jacquard_repo::error::RepoError) -> GenError {
    move |e| GenError::Repo(format!("{what}: {e}"))
}

/// A repo that signs real commits and renders them as `#commit` messages.
#[derive(Debug)]
pub struct SigningRepo {
    did: String,
    signer: Signer,
    tree: Mst<MemoryBlockStore>,
    /// Every key in the tree, for the neighbours a covering proof includes.
    keys: BTreeSet<String>,
    last_rev: Option<String>,
}

/// A commit message and what it did.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The binary message (header + body).
    pub frame: Vec<u8>,
    /// The new MST root.
    pub data: Cid,
    /// Each op's key and action (`create`, `update` or `delete`), in order.
    pub actions: Vec<(String, &'static str)>,
}

impl SigningRepo {
    /// An empty repo of `did` signed by `signer`.
    pub fn new(did: &str, signer: Signer) -> Self {
        Self {
            did: did.to_owned(),
            signer,
            tree: Mst::new(Arc::new(MemoryBlockStore::new())),
            keys: BTreeSet::new(),
            last_rev: None,
        }
    }

    pub fn did(&self) -> &str {
        &self.did
    }

    /// The public key that verifies this repo's commits now.
    pub fn key(&self) -> SigningKey {
        self.signer.public()
    }

    /// Signs with another key from now on (the DID document changes with it).
    pub fn rotate(&mut self, signer: Signer) {
        self.signer = signer;
    }

    /// The current MST root.
    pub async fn root(&self) -> Result<Cid, GenError> {
        self.tree.get_pointer().await.map_err(repo_err("MST root"))
    }

    /// The rev of the last commit.
    pub fn rev(&self) -> Option<&str> {
        self.last_rev.as_deref()
    }

    /// The CID stored under `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<Cid>, GenError> {
        self.tree.get(key).await.map_err(repo_err("MST get"))
    }

    /// Whether the repo holds `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    /// Adds records that were written before the stream starts (no message), as of `rev`.
    pub async fn preload(&mut self, records: Vec<(String, Cid)>, rev: &str) -> Result<(), GenError> {
        for (key, cid) in records {
            self.tree = self.tree.add(&key, cid).await.map_err(repo_err("MST add"))?;
            self.keys.insert(key);
        }
        self.last_rev = Some(rev.to_owned());
        Ok(())
    }

    /// Applies `writes` as one commit at `rev` and returns its `#commit` message (`seq`, `time`).
    /// A put of an existing key is an update; a delete of a missing key is an error.
    pub async fn commit(
        &mut self,
        seq: i64,
        rev: &str,
        time: &str,
        writes: Vec<Write>,
    ) -> Result<Committed, GenError> {
        let prev_data = self.root().await?;
        let mut ops = Vec::with_capacity(writes.len());
        let mut blocks: BTreeMap<Cid, Bytes> = BTreeMap::new();
        let mut actions = Vec::with_capacity(writes.len());
        for write in writes {
            match write {
                Write::Put { key, record } => {
                    let cid = cid_of(&record);
                    blocks.insert(cid, record.into());
                    let prev = self.get(&key).await?;
                    self.tree = match prev {
                        Some(_) => self.tree.update(&key, cid).await.map_err(repo_err("MST update"))?,
                        None => self.tree.add(&key, cid).await.map_err(repo_err("MST add"))?,
                    };
                    let action = if prev.is_some() { "update" } else { "create" };
                    ops.push(op(action, &key, Some(cid), prev));
                    self.keys.insert(key.clone());
                    actions.push((key, action));
                }
                Write::Delete { key } => {
                    let prev =
                        self.get(&key).await?.ok_or(GenError::Internal("delete of a missing record"))?;
                    self.tree = self.tree.delete(&key).await.map_err(repo_err("MST delete"))?;
                    ops.push(op("delete", &key, None, Some(prev)));
                    self.keys.remove(&key);
                    actions.push((key, "delete"));
                }
            }
        }
        let data = self.root().await?;
        for (key, _) in &actions {
            self.covering_proof(key, &mut blocks).await?;
        }
        let (commit_cid, commit_block) = self.signer.commit(&self.did, rev, data)?;
        blocks.insert(commit_cid, commit_block.into());
        let car = jacquard_repo::car::write_car_bytes(commit_cid, blocks).await.map_err(repo_err("CAR"))?;
        let since = self.last_rev.replace(rev.to_owned()).map_or(Ipld::Null, Ipld::String);
        let body = ipld_map([
            ("seq", Ipld::Integer(seq.into())),
            ("repo", Ipld::String(self.did.clone())),
            ("rev", Ipld::String(rev.to_owned())),
            ("since", since),
            ("commit", Ipld::Link(commit_cid)),
            ("blocks", Ipld::Bytes(car)),
            ("ops", Ipld::List(ops)),
            ("prevData", Ipld::Link(prev_data)),
            ("blobs", Ipld::List(vec![])),
            ("rebase", Ipld::Bool(false)),
            ("tooBig", Ipld::Bool(false)),
            ("time", Ipld::String(time.to_owned())),
        ]);
        Ok(Committed { frame: frame("#commit", &body)?, data, actions })
    }

    /// A `#sync` message declaring the current tree at `rev`.
    pub async fn sync(&mut self, seq: i64, rev: &str, time: &str) -> Result<Vec<u8>, GenError> {
        let data = self.root().await?;
        self.last_rev = Some(rev.to_owned());
        let (commit_cid, commit_block) = self.signer.commit(&self.did, rev, data)?;
        let blocks = BTreeMap::from([(commit_cid, Bytes::from(commit_block))]);
        let car = jacquard_repo::car::write_car_bytes(commit_cid, blocks).await.map_err(repo_err("CAR"))?;
        let body = ipld_map([
            ("seq", Ipld::Integer(seq.into())),
            ("did", Ipld::String(self.did.clone())),
            ("rev", Ipld::String(rev.to_owned())),
            ("blocks", Ipld::Bytes(car)),
            ("time", Ipld::String(time.to_owned())),
        ]);
        frame("#sync", &body)
    }

    /// The MST nodes on the paths to `key` and to its neighbours in the new tree: enough to
    /// undo a create (merging the subtrees around the key), an update or a delete (splitting
    /// the subtree the key returns to).
    async fn covering_proof(&self, key: &str, blocks: &mut BTreeMap<Cid, Bytes>) -> Result<(), GenError> {
        use std::ops::Bound::{Excluded, Unbounded};
        let before = self.keys.range::<str, _>((Unbounded, Excluded(key))).next_back();
        let after = self.keys.range::<str, _>((Excluded(key), Unbounded)).next();
        for path in std::iter::once(key).chain(before.map(String::as_str)).chain(after.map(String::as_str)) {
            self.tree.blocks_for_path(path, blocks).await.map_err(repo_err("MST proof"))?;
        }
        Ok(())
    }
}

/// A `#commit` op as the lexicon has it: `cid` is nullable (null on deletes), `prev` is
/// optional (absent on creates).
fn op(action: &str, path: &str, cid: Option<Cid>, prev: Option<Cid>) -> Ipld {
    let mut op = BTreeMap::from([
        ("action".to_owned(), Ipld::String(action.to_owned())),
        ("path".to_owned(), Ipld::String(path.to_owned())),
        ("cid".to_owned(), cid.map_or(Ipld::Null, Ipld::Link)),
    ]);
    if let Some(prev) = prev {
        op.insert("prev".to_owned(), Ipld::Link(prev));
    }
    Ipld::Map(op)
}

/// A whole repo as `getRepo` returns it: `records` (`collection/rkey` → DAG-CBOR bytes) under a
/// commit of `did` at `rev` signed by `signer`. Returns the CAR and the commit's MST root.
pub async fn repo_car(
    did: &str,
    signer: &Signer,
    rev: &str,
    records: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> Result<Vec<u8>, GenError> {
    let mut tree = Mst::new(Arc::new(MemoryBlockStore::new()));
    let mut blocks: BTreeMap<Cid, Bytes> = BTreeMap::new();
    for (key, record) in records {
        let cid = cid_of(&record);
        blocks.insert(cid, record.into());
        tree = tree.add(&key, cid).await.map_err(repo_err("MST add"))?;
    }
    let (data, tree_blocks) = tree.collect_blocks().await.map_err(repo_err("MST blocks"))?;
    blocks.extend(tree_blocks);
    let (commit_cid, commit_block) = signer.commit(did, rev, data)?;
    blocks.insert(commit_cid, commit_block.into());
    jacquard_repo::car::write_car_bytes(commit_cid, blocks).await.map_err(repo_err("CAR"))
}
