//! Reading CAR v1 archives (firehose `blocks` slices, `getRepo` bodies) into memory, checking
//! that every block hashes to its CID. Framing is parsed by `iroh-car`; the input is a byte
//! slice, so reading never waits on I/O.

use std::collections::HashMap;

use bytes::Bytes;
use cid::Cid;
use sha2::{Digest, Sha256};

use super::RepoError;

/// Multicodec of DAG-CBOR blocks (commits, MST nodes, records).
pub const DAG_CBOR: u64 = 0x71;
/// Multicodec of raw blocks (blobs, if a CAR carries any).
pub const RAW: u64 = 0x55;
/// Multihash code of sha2-256, the only hash atproto repos use.
pub const SHA2_256: u64 = 0x12;

/// The roots and blocks of a CAR, every block verified against its CID.
#[derive(Debug, Clone, Default)]
pub struct CarSlice {
    /// The header's roots (at least one; a repo CAR's first root is its signed commit).
    pub roots: Vec<Cid>,
    /// Blocks by CID. A hash map: a repo CAR holds thousands of blocks, and a B-tree of
    /// ~100-byte CID keys spent a noticeable share of a backfill moving keys within nodes.
    pub blocks: HashMap<Cid, Bytes>,
}

impl CarSlice {
    /// The block with this CID.
    pub fn get(&self, cid: &Cid) -> Option<&Bytes> {
        self.blocks.get(cid)
    }

    /// The block with this CID, or [`RepoError::MissingBlock`] naming `what` it should be.
    pub fn require(&self, cid: &Cid, what: &'static str) -> Result<&Bytes, RepoError> {
        self.blocks.get(cid).ok_or_else(|| RepoError::MissingBlock { what, cid: cid.to_string() })
    }
}

/// Reads a whole CAR v1 from memory. Rejects malformed framing, blocks that do not match their
/// CID (only sha2-256 over DAG-CBOR or raw blocks is accepted) and input over `max_bytes`.
pub async fn read_car(bytes: &[u8], max_bytes: usize) -> Result<CarSlice, RepoError> {
    if bytes.len() > max_bytes {
        return Err(RepoError::TooLarge { what: "CAR", size: bytes.len(), max: max_bytes });
    }
    let mut reader = iroh_car::CarReader::new(bytes).await.map_err(|e| RepoError::Car(e.to_string()))?;
    let roots = reader.header().roots().to_vec();
    let mut blocks = HashMap::new();
    while let Some((cid, data)) = reader.next_block().await.map_err(|e| RepoError::Car(e.to_string()))? {
        check_block(&cid, &data)?;
        blocks.insert(cid, Bytes::from(data));
    }
    Ok(CarSlice { roots, blocks })
}

/// Checks that `data` is what `cid` names: CIDv1, DAG-CBOR or raw, sha2-256 of the bytes.
pub fn check_block(cid: &Cid, data: &[u8]) -> Result<(), RepoError> {
    let hash = cid.hash();
    let supported = cid.version() == cid::Version::V1
        && matches!(cid.codec(), DAG_CBOR | RAW)
        && hash.code() == SHA2_256
        && hash.size() == 32;
    if supported && hash.digest() == &Sha256::digest(data)[..] {
        Ok(())
    } else {
        Err(RepoError::BlockHash(cid.to_string()))
    }
}

/// The CIDv1 (DAG-CBOR, sha2-256) of encoded bytes.
pub fn cid_of(data: &[u8]) -> Cid {
    let digest = Sha256::digest(data);
    // A 32-byte digest always fits a 64-byte multihash.
    match cid::multihash::Multihash::<64>::wrap(SHA2_256, &digest) {
        Ok(hash) => Cid::new_v1(DAG_CBOR, hash),
        Err(_) => Cid::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CAR v1 with one root and the given blocks, framed by hand (varint lengths < 128).
    fn car(root: Cid, blocks: &[(Cid, &[u8])]) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Header {
            roots: Vec<Cid>,
            version: u64,
        }
        let header = serde_ipld_dagcbor::to_vec(&Header { roots: vec![root], version: 1 }).expect("header");
        let mut out = vec![header.len() as u8];
        out.extend_from_slice(&header);
        for (cid, data) in blocks {
            let cid = cid.to_bytes();
            out.push((cid.len() + data.len()) as u8);
            out.extend_from_slice(&cid);
            out.extend_from_slice(data);
        }
        out
    }

    #[tokio::test]
    async fn reads_blocks_and_checks_hashes() {
        let a: &[u8] = &[0xa1, 0x61, 0x61, 0x01]; // {"a": 1}
        let b: &[u8] = &[0xa1, 0x61, 0x62, 0x02];
        let (ca, cb) = (cid_of(a), cid_of(b));
        let parsed = read_car(&car(ca, &[(ca, a), (cb, b)]), 1 << 20).await.expect("valid CAR");
        assert_eq!(parsed.roots, vec![ca]);
        assert_eq!(parsed.get(&cb).map(|b| b.as_ref()), Some(b));

        // A block stored under another block's CID.
        let err = read_car(&car(ca, &[(ca, b)]), 1 << 20).await.expect_err("hash mismatch");
        assert_eq!(err.reason(), "bad_block_hash");
        // Truncated, empty, oversized.
        let whole = car(ca, &[(ca, a)]);
        for cut in [0, 1, 5, whole.len() - 1] {
            let err = read_car(&whole[..cut], 1 << 20).await.expect_err("truncated");
            assert_eq!(err.reason(), "bad_car", "cut at {cut}");
        }
        let err = read_car(&whole, 4).await.expect_err("too large");
        assert_eq!(err.reason(), "too_large");
    }
}
