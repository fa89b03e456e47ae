//! Repo primitives against the interop vectors (tests/fixtures, copied from the atproto
//! interop tests, the atproto monorepo and indigo): signatures (high-S and DER rejected), MST
//! key heights and prefixes, commit inversion proofs, the data model, CAR files and real repos.

use std::collections::BTreeMap;
use std::sync::Arc;

use cid::Cid;
use jacquard_repo::Mst;
use jacquard_repo::storage::MemoryBlockStore;
use plyr_atproto::identity::{Curve, SigningKey};
use plyr_atproto::repo::car::{CarSlice, check_block, cid_of, read_car};
use plyr_atproto::repo::mst::{self, ProofOp};
use plyr_atproto::repo::{RepoError, SignedCommit};
use plyr_atproto::signature::{self, SignatureError};
use serde_json::Value;

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("reading {full}: {e}"))
}

fn json(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).expect("fixture JSON")
}

/// Base64 (standard alphabet, padding optional), decoded as the data model's `$bytes`.
fn b64(s: &str) -> Vec<u8> {
    match plyr_atproto::ipld_from_json(serde_json::json!({ "$bytes": s.trim_end_matches('=') })) {
        Ok(ipld_core::ipld::Ipld::Bytes(bytes)) => bytes,
        other => panic!("not base64: {other:?}"),
    }
}

fn cid(s: &str) -> Cid {
    s.parse().expect("CID")
}

#[test]
fn signature_fixtures() {
    let cases = json("crypto/signature-fixtures.json");
    let cases = cases.as_array().expect("array");
    assert_eq!(cases.len(), 6);
    for case in cases {
        let name = case["comment"].as_str().unwrap_or_default();
        let key = SigningKey::from_did_key(case["publicKeyDid"].as_str().expect("did:key")).expect("key");
        let key = key.verifying_key().expect("verifying key");
        let message = b64(case["messageBase64"].as_str().expect("message"));
        let sig = b64(case["signatureBase64"].as_str().expect("signature"));
        let got = signature::verify(&key, &message, &sig);
        assert_eq!(got.is_ok(), case["validSignature"].as_bool().expect("bool"), "{name}: {got:?}");
        let tags: Vec<&str> =
            case["tags"].as_array().expect("tags").iter().filter_map(Value::as_str).collect();
        if tags.contains(&"high-s") {
            assert_eq!(got, Err(SignatureError::HighS), "{name}");
        }
        if tags.contains(&"der-encoded") {
            assert!(matches!(got, Err(SignatureError::NotCompact(_))), "{name}: {got:?}");
        }
    }
}

#[test]
fn mst_key_heights_and_common_prefixes() {
    let heights = json("mst/key_heights.json");
    for case in heights.as_array().expect("array") {
        let key = case["key"].as_str().expect("key");
        assert_eq!(u64::from(mst::key_height(key)), case["height"].as_u64().expect("height"), "{key:?}");
    }
    let prefixes = json("mst/common_prefix.json");
    for case in prefixes.as_array().expect("array") {
        let (l, r) = (case["left"].as_str().expect("left"), case["right"].as_str().expect("right"));
        let expected = case["len"].as_u64().expect("len") as usize;
        assert_eq!(mst::common_prefix_len(l.as_bytes(), r.as_bytes()), expected, "{l:?} {r:?}");
    }
}

/// Builds the tree of `keys` (every value `leaf`) with jacquard's MST: the root and all blocks.
async fn build(keys: &[&str], leaf: Cid) -> Mst<MemoryBlockStore> {
    let mut tree = Mst::new(Arc::new(MemoryBlockStore::new()));
    for key in keys {
        tree = tree.add(key, leaf).await.expect("add");
    }
    tree
}

#[tokio::test]
async fn commit_proof_fixtures_invert_with_exactly_the_proof_blocks() {
    let cases = json("firehose/commit-proof-fixtures.json");
    let cases = cases.as_array().expect("array");
    assert_eq!(cases.len(), 6);
    for case in cases {
        let name = case["comment"].as_str().unwrap_or_default();
        let strings = |field: &str| -> Vec<&str> {
            case[field].as_array().expect("array").iter().filter_map(Value::as_str).collect()
        };
        let leaf = cid(case["leafValue"].as_str().expect("leaf"));
        let (keys, adds, dels) = (strings("keys"), strings("adds"), strings("dels"));
        let before = build(&keys, leaf).await;
        let (before_root, mut blocks) = before.collect_blocks().await.expect("blocks");
        assert_eq!(before_root, cid(case["rootBeforeCommit"].as_str().expect("root")), "{name}: root before");
        let mut after = before.clone();
        for key in &adds {
            after = after.add(key, leaf).await.expect("add");
        }
        for key in &dels {
            after = after.delete(key).await.expect("delete");
        }
        let (after_root, after_blocks) = after.collect_blocks().await.expect("blocks");
        assert_eq!(after_root, cid(case["rootAfterCommit"].as_str().expect("root")), "{name}: root after");
        blocks.extend(after_blocks);

        let proof: Vec<Cid> = strings("blocksInProof").into_iter().map(cid).collect();
        let slice = |skip: Option<usize>| CarSlice {
            roots: vec![after_root],
            blocks: proof
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != skip)
                .map(|(_, c)| {
                    (
                        *c,
                        blocks
                            .get(c)
                            .cloned()
                            .unwrap_or_else(|| panic!("{name}: proof block {c} not in either tree")),
                    )
                })
                .collect(),
        };
        let ops: Vec<ProofOp> = adds
            .iter()
            .map(|k| ProofOp::Create { key: (*k).to_owned(), cid: leaf })
            .chain(dels.iter().map(|k| ProofOp::Delete { key: (*k).to_owned(), prev: leaf }))
            .collect();
        mst::verify_inversion(&slice(None), after_root, before_root, ops.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: inversion with the proof blocks failed: {e}"));
        // The proof is what a producer must send; our inversion may need fewer of its blocks
        // (a sibling only read to merge), but never none, and the new root is always one.
        assert!(proof.contains(&after_root), "{name}");
        let mut needed = 0;
        for (skip, block) in proof.iter().enumerate() {
            let result =
                mst::verify_inversion(&slice(Some(skip)), after_root, before_root, ops.clone()).await;
            if result.is_err() {
                needed += 1;
            } else {
                assert_ne!(*block, after_root, "{name}: inverted without the new root");
            }
        }
        assert!(needed >= 1, "{name}: no proof block was needed");
        let empty = CarSlice { roots: vec![after_root], blocks: Default::default() };
        if !ops.is_empty() {
            assert!(
                mst::verify_inversion(&empty, after_root, before_root, ops.clone()).await.is_err(),
                "{name}"
            );
        }
        // A wrong claim about the previous root is caught.
        let wrong = mst::verify_inversion(&slice(None), after_root, after_root, ops.clone()).await;
        if !ops.is_empty() {
            assert!(matches!(wrong, Err(RepoError::ProofMismatch { .. })), "{name}: {wrong:?}");
        }
    }
}

#[test]
fn data_model_fixtures_hash_to_their_cids() {
    let cases = json("data-model/data-model-fixtures.json");
    let cases = cases.as_array().expect("array");
    assert_eq!(cases.len(), 3);
    for case in cases {
        let bytes = b64(case["cbor_base64"].as_str().expect("cbor"));
        let expected = cid(case["cid"].as_str().expect("cid"));
        assert_eq!(cid_of(&bytes), expected);
        check_block(&expected, &bytes).expect("block matches its CID");
        let value = plyr_atproto::record_from_cbor(&bytes).expect("atproto data");
        assert_eq!(
            plyr_atproto::data::encode_dag_cbor(&value).expect("encode"),
            bytes,
            "canonical round trip"
        );
        let mut tampered = bytes.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(check_block(&expected, &tampered).is_err());
    }
}

#[tokio::test]
async fn car_file_fixture_reads_every_block() {
    let cases = json("car/car-file-fixtures.json");
    for case in cases.as_array().expect("array") {
        let car = read_car(&b64(case["car"].as_str().expect("car")), 1 << 20).await.expect("CAR");
        assert_eq!(car.roots, vec![cid(case["root"].as_str().expect("root"))]);
        let expected: BTreeMap<Cid, Vec<u8>> = case["blocks"]
            .as_array()
            .expect("blocks")
            .iter()
            .map(|b| (cid(b["cid"].as_str().expect("cid")), b64(b["bytes"].as_str().expect("bytes"))))
            .collect();
        let got: BTreeMap<Cid, Vec<u8>> = car.blocks.iter().map(|(c, b)| (*c, b.to_vec())).collect();
        assert_eq!(got, expected);
    }
}

#[tokio::test]
async fn real_repo_tree_walks_to_its_records() {
    let car = read_car(&fixture("car/greenground.repo.car"), 1 << 20).await.expect("repo CAR");
    let commit = SignedCommit::decode(car.require(&car.roots[0], "commit").expect("commit")).expect("commit");
    assert_eq!((commit.did.as_str(), commit.version), ("did:plc:kzcqyc3unb33eh5sxzsfs25z", 3));
    assert_eq!(commit.rev.len(), 13);
    mst::check_tree(&car, commit.data).expect("well-formed tree");
    let leaves = mst::leaves(&car, commit.data).expect("walk");
    assert_eq!(leaves.len(), 2, "{leaves:?}");
    for (key, value) in &leaves {
        assert!(key.starts_with("app.bsky.graph.follow/"), "{key}");
        let record =
            plyr_atproto::record_from_cbor(car.require(value, "record").expect("record")).expect("record");
        let json = plyr_atproto::record_to_json(&record).expect("json");
        assert_eq!(json["$type"], "app.bsky.graph.follow");
    }
}

/// A v2-era commit (no `rev`): decodes, and its tree walks. (Signatures of real commits are
/// checked with their accounts' keys in firehose_vectors.rs, on the recorded relay scenarios.)
#[tokio::test]
async fn real_v2_commit_decodes_and_walks() {
    let car = read_car(&fixture("car/v2_commit.car"), 1 << 20).await.expect("CAR");
    let commit = SignedCommit::decode(car.require(&car.roots[0], "commit").expect("commit")).expect("commit");
    assert_eq!(
        (commit.did.as_str(), commit.version, commit.rev.as_str()),
        ("did:plc:z5vnbioquyhivxirw3bbljmu", 2, "")
    );
    assert_eq!(commit.sig.len(), 64);
    let leaves = mst::leaves(&car, commit.data).expect("walk");
    assert!(!leaves.is_empty());
    let other =
        SigningKey::from_sec1(Curve::K256, &k256_point(3)).expect("key").verifying_key().expect("key");
    assert_eq!(commit.verify(&other).map_err(|e| e.reason()), Err("bad_signature"));
}

fn k256_point(seed: u8) -> Vec<u8> {
    let key = k256::ecdsa::SigningKey::from_slice(&[seed; 32]).expect("key");
    key.verifying_key().to_encoded_point(true).as_bytes().to_vec()
}

#[tokio::test]
async fn repo_slice_resolves_its_record() {
    let car = read_car(&fixture("car/repo_slice.car"), 1 << 20).await.expect("slice CAR");
    let expected = json("car/repo_slice_record.json");
    let record_cid = cid(expected["cid"].as_str().expect("cid"));
    let record =
        plyr_atproto::record_from_cbor(car.require(&record_cid, "record").expect("record")).expect("record");
    assert_eq!(plyr_atproto::record_to_json(&record).expect("json"), expected["value"]);
    let commit = SignedCommit::decode(car.require(&car.roots[0], "commit").expect("commit")).expect("commit");
    mst::check_tree(&car, commit.data).expect("the partial tree is well formed");
    // The slice holds only the path to one record: a full walk needs blocks it does not have.
    assert!(matches!(mst::leaves(&car, commit.data), Err(RepoError::MissingBlock { .. })));
}
