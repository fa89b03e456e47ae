//! DAG-CBOR encoding, decoding and record CIDs.
//!
//! A record's CID is CIDv1 with the dag-cbor codec over the sha2-256 of its canonical
//! DAG-CBOR bytes (`serde_ipld_dagcbor` sorts map keys length-first, as DAG-CBOR requires).

use cid::Cid;
use cid::multihash::Multihash;
use ipld_core::ipld::Ipld;
use sha2::{Digest, Sha256};

use super::{DataModelError, check_data_model};

/// Multicodec code of DAG-CBOR.
pub const DAG_CBOR: u64 = 0x71;
/// Multihash code of sha2-256.
pub const SHA2_256: u64 = 0x12;

/// Encodes a value as canonical DAG-CBOR.
pub fn encode_dag_cbor(value: &Ipld) -> Result<Vec<u8>, DataModelError> {
    serde_ipld_dagcbor::to_vec(value).map_err(|e| DataModelError::Encode(e.to_string()))
}

/// The CIDv1 (sha2-256) of already-encoded bytes, tagged with `codec` (use [`DAG_CBOR`] for
/// records, `0x55` raw for blobs).
pub fn cid_for_bytes(codec: u64, bytes: &[u8]) -> Result<Cid, DataModelError> {
    let digest = Sha256::digest(bytes);
    let hash = Multihash::<64>::wrap(SHA2_256, &digest)?;
    Ok(Cid::new_v1(codec, hash))
}

/// The CID of a record: DAG-CBOR encode, sha2-256, CIDv1 dag-cbor.
pub fn cid_for_record(value: &Ipld) -> Result<Cid, DataModelError> {
    cid_for_bytes(DAG_CBOR, &encode_dag_cbor(value)?)
}

/// Decodes a DAG-CBOR record (as found in repo CAR blocks) and checks it against the data
/// model, including that the top level is a map.
pub fn record_from_cbor(bytes: &[u8]) -> Result<Ipld, DataModelError> {
    let value: Ipld =
        serde_ipld_dagcbor::from_slice(bytes).map_err(|e| DataModelError::Decode(e.to_string()))?;
    if !matches!(value, Ipld::Map(_)) {
        return Err(DataModelError::NotAnObject);
    }
    check_data_model(&value)?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let record = Ipld::Map(BTreeMap::from([
            ("$type".to_owned(), Ipld::String("fm.plyr.like".to_owned())),
            ("n".to_owned(), Ipld::Integer(-3)),
        ]));
        let bytes = encode_dag_cbor(&record).expect("encodes");
        assert_eq!(record_from_cbor(&bytes).expect("decodes"), record);
        let cid = cid_for_record(&record).expect("hashes");
        assert_eq!(cid.codec(), DAG_CBOR);
        assert_eq!(cid.hash().code(), SHA2_256);
    }

    #[test]
    fn rejects_non_map_and_float() {
        let cases = [Ipld::Integer(1), Ipld::Map(BTreeMap::from([("f".to_owned(), Ipld::Float(0.5))]))];
        for value in cases {
            let bytes = encode_dag_cbor(&value).expect("encodes");
            assert!(record_from_cbor(&bytes).is_err(), "{value:?}");
        }
    }
}
