//! The signed commit object at the root of a repo (`{did, version, data, rev, prev, sig}`):
//! decoding it from its DAG-CBOR block and checking its signature. The signed bytes are the
//! canonical DAG-CBOR of the same map without `sig`, whatever other fields it carries.

use crate::identity::VerifyingKey;
use cid::Cid;
use ipld_core::ipld::Ipld;

use super::RepoError;
use crate::signature;

/// A decoded commit object (repo format v2 or v3).
#[derive(Debug, Clone, PartialEq)]
pub struct SignedCommit {
    /// The repo's DID.
    pub did: String,
    /// Repo format version (2 or 3).
    pub version: i64,
    /// Root of the MST after this commit.
    pub data: Cid,
    /// The commit's revision (a TID; empty on v2 commits, which predate revs).
    pub rev: String,
    /// The previous commit (usually null in v3).
    pub prev: Option<Cid>,
    /// The signature (64 bytes when well formed).
    pub sig: Vec<u8>,
    /// The bytes the signature covers.
    unsigned: Vec<u8>,
}

impl SignedCommit {
    /// Decodes a commit block.
    pub fn decode(block: &[u8]) -> Result<Self, RepoError> {
        let bad = |detail: &str| RepoError::Commit(detail.to_owned());
        let value: Ipld =
            serde_ipld_dagcbor::from_slice(block).map_err(|e| RepoError::Commit(e.to_string()))?;
        let Ipld::Map(mut map) = value else { return Err(bad("not a map")) };
        let sig = match map.remove("sig") {
            Some(Ipld::Bytes(sig)) => sig,
            _ => return Err(bad("sig is missing or not bytes")),
        };
        let did = match map.get("did") {
            Some(Ipld::String(did)) => did.clone(),
            _ => return Err(bad("did is missing or not a string")),
        };
        let version = match map.get("version") {
            Some(Ipld::Integer(v @ (2 | 3))) => *v as i64,
            _ => return Err(bad("version is missing or not 2 or 3")),
        };
        let data = match map.get("data") {
            Some(Ipld::Link(cid)) => *cid,
            _ => return Err(bad("data is missing or not a link")),
        };
        let rev = match (map.get("rev"), version) {
            (Some(Ipld::String(rev)), _) => rev.clone(),
            // v2 commits predate revs.
            (None, 2) => String::new(),
            _ => return Err(bad("rev is missing or not a string")),
        };
        let prev = match map.get("prev") {
            Some(Ipld::Link(cid)) => Some(*cid),
            Some(Ipld::Null) | None => None,
            Some(_) => return Err(bad("prev is not a link")),
        };
        let unsigned =
            serde_ipld_dagcbor::to_vec(&Ipld::Map(map)).map_err(|e| RepoError::Commit(e.to_string()))?;
        Ok(Self { did, version, data, rev, prev, sig, unsigned })
    }

    /// The canonical DAG-CBOR bytes the signature covers.
    pub fn unsigned_bytes(&self) -> &[u8] {
        &self.unsigned
    }

    /// Checks the signature with the repo's signing key.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), RepoError> {
        Ok(signature::verify(key, &self.unsigned, &self.sig)?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k256::ecdsa::signature::Signer;

    use super::*;
    use crate::repo::car::cid_of;

    fn commit_map(sig: Option<Vec<u8>>) -> BTreeMap<String, Ipld> {
        let mut map = BTreeMap::from([
            ("did".to_owned(), Ipld::String("did:plc:abc".into())),
            ("version".to_owned(), Ipld::Integer(3)),
            ("data".to_owned(), Ipld::Link(cid_of(b"root"))),
            ("rev".to_owned(), Ipld::String("3l3qo2vuowo2b".into())),
            ("prev".to_owned(), Ipld::Null),
        ]);
        if let Some(sig) = sig {
            map.insert("sig".to_owned(), Ipld::Bytes(sig));
        }
        map
    }

    #[test]
    fn signs_the_map_without_sig() {
        let signer = k256::ecdsa::SigningKey::from_slice(&[9u8; 32]).expect("test key");
        let unsigned = serde_ipld_dagcbor::to_vec(&Ipld::Map(commit_map(None))).expect("encode");
        let sig: k256::ecdsa::Signature = signer.sign(&unsigned);
        let sig = sig.normalize_s().unwrap_or(sig).to_bytes().to_vec();
        let block = serde_ipld_dagcbor::to_vec(&Ipld::Map(commit_map(Some(sig)))).expect("encode");
        let commit = SignedCommit::decode(&block).expect("decodes");
        assert_eq!((commit.did.as_str(), commit.version, commit.prev), ("did:plc:abc", 3, None));
        assert_eq!(commit.unsigned_bytes(), unsigned.as_slice());
        let key = VerifyingKey::K256(*signer.verifying_key());
        commit.verify(&key).expect("verifies");
        let other = k256::ecdsa::SigningKey::from_slice(&[8u8; 32]).expect("test key");
        let err = commit.verify(&VerifyingKey::K256(*other.verifying_key())).expect_err("wrong key");
        assert_eq!(err.reason(), "bad_signature");
    }

    #[test]
    fn rejects_malformed_commits() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![0xff], "not CBOR"),
            (serde_ipld_dagcbor::to_vec(&Ipld::Integer(1)).expect("encode"), "not a map"),
            (serde_ipld_dagcbor::to_vec(&Ipld::Map(commit_map(None))).expect("encode"), "no sig"),
        ];
        for (block, name) in cases {
            assert_eq!(
                SignedCommit::decode(&block).map(|_| ()).map_err(|e| e.reason()),
                Err("bad_commit"),
                "{name}"
            );
        }
        let mut wrong_version = commit_map(Some(vec![0; 64]));
        wrong_version.insert("version".to_owned(), Ipld::Integer(4));
        let block = serde_ipld_dagcbor::to_vec(&Ipld::Map(wrong_version)).expect("encode");
        assert!(SignedCommit::decode(&block).is_err());
    }
}
