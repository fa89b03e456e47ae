//! The Merkle Search Tree: key heights, a structural check of the nodes a CAR slice carries,
//! and the sync 1.1 inversion proof: starting from the commit's new root, undo every operation
//! using only the blocks in the message; the result must be the previous root (`prevData`).
//!
//! Tree surgery is jacquard-repo's `Mst` (see the [`crate::repo`] header for why); this module
//! makes sure jacquard only ever sees nodes that decode to sane keys, bounded in depth.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use cid::Cid;
use futures_util::FutureExt;
use jacquard_repo::mst::{Mst, NodeData, VerifiedWriteOp};
use jacquard_repo::storage::MemoryBlockStore;
use sha2::{Digest, Sha256};

use super::RepoError;
use super::car::CarSlice;

/// Deepest node path accepted. A real tree has about log4(records) levels (a repo with a
/// billion records has ~15), so this only stops hostile chains of nodes.
pub const MAX_DEPTH: usize = 64;
/// Longest key (`collection/rkey`) accepted.
pub const MAX_KEY_LEN: usize = 1024;

/// The layer a key lives on: the number of leading zero bit pairs of its SHA-256.
pub fn key_height(key: &str) -> u32 {
    let mut zeros = 0;
    for byte in Sha256::digest(key.as_bytes()) {
        if byte == 0 {
            zeros += 8;
        } else {
            zeros += byte.leading_zeros();
            break;
        }
    }
    zeros / 2
}

/// Length of the common byte prefix of two keys (what a node entry's `p` counts).
pub fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// One operation of a commit, as the proof needs it: the key and the CIDs before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofOp {
    Create { key: String, cid: Cid },
    Update { key: String, cid: Cid, prev: Cid },
    Delete { key: String, prev: Cid },
}

impl ProofOp {
    fn into_jacquard(self) -> VerifiedWriteOp {
        match self {
            Self::Create { key, cid } => VerifiedWriteOp::Create { key: key.into(), cid },
            Self::Update { key, cid, prev } => VerifiedWriteOp::Update { key: key.into(), cid, prev },
            Self::Delete { key, prev } => VerifiedWriteOp::Delete { key: key.into(), prev },
        }
    }
}

/// Checks every MST node reachable from `root` through blocks present in `car`: each decodes,
/// its keys are printable ASCII, strictly increasing, with prefix lengths within the previous
/// key, and no path is deeper than [`MAX_DEPTH`]. Nodes absent from the slice are not followed
/// (the proof fails later if it needs them).
pub fn check_tree(car: &CarSlice, root: Cid) -> Result<(), RepoError> {
    let mut stack = vec![(root, 0usize)];
    let mut seen = HashSet::new();
    while let Some((cid, depth)) = stack.pop() {
        if !seen.insert(cid) {
            continue;
        }
        let Some(block) = car.get(&cid) else { continue };
        let bad = |detail: String| RepoError::Mst { cid: cid.to_string(), detail };
        if depth > MAX_DEPTH {
            return Err(bad(format!("deeper than {MAX_DEPTH} levels")));
        }
        let node: NodeData = serde_ipld_dagcbor::from_slice(block).map_err(|e| bad(e.to_string()))?;
        let mut last: Vec<u8> = Vec::new();
        for (i, entry) in node.entries.iter().enumerate() {
            let prefix = usize::from(entry.prefix_len);
            if prefix > last.len() {
                return Err(bad(format!("entry {i}: prefix {prefix} longer than the previous key")));
            }
            let mut key = last[..prefix].to_vec();
            key.extend_from_slice(&entry.key_suffix);
            if key.is_empty() || key.len() > MAX_KEY_LEN || !key.iter().all(|b| b.is_ascii_graphic()) {
                return Err(bad(format!("entry {i}: key is empty, too long or not printable ASCII")));
            }
            if i > 0 && key <= last {
                return Err(bad(format!("entry {i}: keys out of order")));
            }
            if let Some(tree) = entry.tree {
                stack.push((tree, depth + 1));
            }
            last = key;
        }
        if let Some(left) = node.left {
            stack.push((left, depth + 1));
        }
    }
    Ok(())
}

/// Every `(key, value CID)` of the tree rooted at `root`, in key order, checking each node as
/// [`check_tree`] does. All nodes must be in `car` (a whole repo, as `getRepo` returns it).
pub fn leaves(car: &CarSlice, root: Cid) -> Result<Vec<(String, Cid)>, RepoError> {
    let mut out = Vec::new();
    walk(car, root, 0, &mut out)?;
    Ok(out)
}

fn walk(car: &CarSlice, cid: Cid, depth: usize, out: &mut Vec<(String, Cid)>) -> Result<(), RepoError> {
    let bad = |detail: String| RepoError::Mst { cid: cid.to_string(), detail };
    if depth > MAX_DEPTH {
        return Err(bad(format!("deeper than {MAX_DEPTH} levels")));
    }
    let block = car.require(&cid, "MST node")?;
    let node: NodeData = serde_ipld_dagcbor::from_slice(block).map_err(|e| bad(e.to_string()))?;
    if let Some(left) = node.left {
        walk(car, left, depth + 1, out)?;
    }
    let mut last: Vec<u8> = Vec::new();
    for (i, entry) in node.entries.iter().enumerate() {
        let prefix = usize::from(entry.prefix_len);
        if prefix > last.len() {
            return Err(bad(format!("entry {i}: prefix {prefix} longer than the previous key")));
        }
        let mut key = last[..prefix].to_vec();
        key.extend_from_slice(&entry.key_suffix);
        let text = std::str::from_utf8(&key).map_err(|_| bad(format!("entry {i}: key is not UTF-8")))?;
        // Keys across the whole tree are strictly increasing (this also rejects cycles).
        if out.last().is_some_and(|(prev, _)| prev.as_str() >= text) {
            return Err(bad(format!("entry {i}: keys out of order")));
        }
        out.push((text.to_owned(), entry.value));
        if let Some(tree) = entry.tree {
            walk(car, tree, depth + 1, out)?;
        }
        last = key;
    }
    Ok(())
}

/// Inverts `ops` on the tree rooted at `data`, using only the blocks in `car`, and returns the
/// root it leads back to. The caller compares it with `prevData` ([`verify_inversion`]).
pub async fn invert(car: &CarSlice, data: Cid, ops: Vec<ProofOp>) -> Result<Cid, RepoError> {
    check_tree(car, data)?;
    let storage = Arc::new(MemoryBlockStore::new_from_blocks(
        car.blocks.iter().map(|(cid, block)| (*cid, block.clone())).collect(),
    ));
    let work = async move {
        let mut tree = Mst::load(storage, data, None);
        for op in ops {
            let shown = format!("{op:?}");
            match tree.invert_op(op.into_jacquard()).await {
                Ok(true) => {}
                Ok(false) => return Err(RepoError::Proof(format!("{shown} does not invert"))),
                Err(e) => return Err(RepoError::Proof(format!("{shown}: {e}"))),
            }
        }
        tree.get_pointer().await.map_err(|e| RepoError::Proof(e.to_string()))
    };
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result,
        Err(_) => Err(RepoError::Proof("the MST code panicked on this input".to_owned())),
    }
}

/// Inverts `ops` from `data` and checks that the result is `prev_data`.
pub async fn verify_inversion(
    car: &CarSlice,
    data: Cid,
    prev_data: Cid,
    ops: Vec<ProofOp>,
) -> Result<(), RepoError> {
    let got = invert(car, data, ops).await?;
    if got == prev_data {
        Ok(())
    } else {
        Err(RepoError::ProofMismatch { expected: prev_data.to_string(), got: got.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heights_and_prefixes() {
        // The interop vectors are checked in tests/repo_vectors.rs; these pin the definitions.
        assert_eq!(key_height(""), 0);
        assert_eq!(key_height("blue"), 1);
        assert_eq!(common_prefix_len(b"abcde", b"abc1"), 3);
        assert_eq!(common_prefix_len(b"", b"abc"), 0);
    }

    #[test]
    fn hostile_nodes_are_rejected_not_panicked_on() {
        use crate::repo::car::cid_of;
        let leaf = cid_of(b"leaf");
        let node = |entries: Vec<(u8, &[u8])>| {
            let e: Vec<ipld_core::ipld::Ipld> = entries
                .into_iter()
                .map(|(p, k)| {
                    ipld_core::ipld::Ipld::Map(std::collections::BTreeMap::from([
                        ("p".to_owned(), ipld_core::ipld::Ipld::Integer(p.into())),
                        ("k".to_owned(), ipld_core::ipld::Ipld::Bytes(k.to_vec())),
                        ("v".to_owned(), ipld_core::ipld::Ipld::Link(leaf)),
                        ("t".to_owned(), ipld_core::ipld::Ipld::Null),
                    ]))
                })
                .collect();
            let map = std::collections::BTreeMap::from([
                ("l".to_owned(), ipld_core::ipld::Ipld::Null),
                ("e".to_owned(), ipld_core::ipld::Ipld::List(e)),
            ]);
            serde_ipld_dagcbor::to_vec(&ipld_core::ipld::Ipld::Map(map)).expect("encode")
        };
        type Entries<'a> = Vec<(u8, &'a [u8])>;
        let cases: Vec<(Entries, bool)> = vec![
            (vec![(0, b"a.b/c"), (4, b"d")], true),
            (vec![(0, b"a.b/c"), (9, b"d")], false), // prefix past the previous key: jacquard would panic
            (vec![(0, b"a.b/c"), (0, b"a.b/a")], false), // out of order
            (vec![(0, "a.b/\u{e9}".as_bytes())], false), // not ASCII
            (vec![(0, b"")], false),
        ];
        for (entries, ok) in cases {
            let block = node(entries.clone());
            let cid = cid_of(&block);
            let car = CarSlice { roots: vec![cid], blocks: [(cid, block.into())].into() };
            assert_eq!(check_tree(&car, cid).is_ok(), ok, "{entries:?}");
        }
    }
}
