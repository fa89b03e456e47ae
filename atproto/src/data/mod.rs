//! The ATProto data model: IPLD values as atproto uses them, in JSON and in DAG-CBOR.
//!
//! Owns the JSON <-> [`Ipld`] conversion (`{"$link"}`, `{"$bytes"}`, blobs, integer-only
//! numbers), the data-model rules shared by both encodings (see [`check_data_model`]), what is
//! storable ([`check_storable`], [`MAX_RECORD_BYTES`]) and record CIDs (DAG-CBOR, sha2-256,
//! CIDv1). Lexicon validation works on the [`Ipld`] this
//! module produces.

mod cbor;
mod json;
mod json_stream;
mod storable;
mod typed;

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;

pub use cbor::{DAG_CBOR, SHA2_256, cid_for_bytes, cid_for_record, encode_dag_cbor, record_from_cbor};
pub use json::{ipld_from_json, ipld_to_json, record_from_json, record_to_json};
pub use json_stream::JsonData;
pub use storable::{Unstorable, check_storable};
pub use typed::{DecodeError, from_ipld};

/// The default bound on a record's encoded size (its JSON text or DAG-CBOR block), 1 MiB.
/// Consumers drop a larger record *before* decoding it into a tree, whose memory is a multiple
/// of the encoding's; real fm.plyr records are a few KiB.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// A value that is not valid atproto data, or that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum DataModelError {
    /// A record (the top level) must be an object / map.
    #[error("a record must be an object")]
    NotAnObject,
    /// Floats are not part of the data model (integer-like JSON floats such as `1.0` are read
    /// as integers).
    #[error("floating-point numbers are not allowed: {0}")]
    Float(f64),
    /// An integer outside the signed 64-bit range.
    #[error("integer out of the 64-bit signed range")]
    IntegerOutOfRange,
    /// `$type` must be a non-empty string.
    #[error("$type must be a non-empty string")]
    InvalidType,
    /// An object with `$type: "blob"` must be exactly `{$type, ref, mimeType, size}`.
    #[error("malformed blob: {0}")]
    InvalidBlob(&'static str),
    /// `{"$bytes": "<base64>"}` with anything else in it, or bad base64.
    #[error("malformed $bytes: {0}")]
    InvalidBytes(&'static str),
    /// `{"$link": "<cid>"}` with anything else in it, or a string that is not a CIDv1.
    #[error("malformed $link: {0}")]
    InvalidLink(&'static str),
    /// DAG-CBOR encoding failed.
    #[error("DAG-CBOR encoding failed: {0}")]
    Encode(String),
    /// DAG-CBOR decoding failed.
    #[error("DAG-CBOR decoding failed: {0}")]
    Decode(String),
    /// The multihash could not be built.
    #[error("multihash: {0}")]
    Multihash(#[from] cid::multihash::Error),
}

/// Checks the rules an atproto map must follow beyond plain IPLD: `$type`, when present, is
/// a non-empty string, and a `$type: "blob"` map has exactly `ref` (a link), `mimeType` (a
/// string) and `size` (a non-negative integer).
pub(crate) fn check_map(map: &BTreeMap<String, Ipld>) -> Result<(), DataModelError> {
    let Some(kind) = map.get("$type") else {
        return Ok(());
    };
    match kind {
        Ipld::String(s) if s == "blob" => check_blob(map),
        Ipld::String(s) if !s.is_empty() => Ok(()),
        _ => Err(DataModelError::InvalidType),
    }
}

fn check_blob(map: &BTreeMap<String, Ipld>) -> Result<(), DataModelError> {
    if !matches!(map.get("ref"), Some(Ipld::Link(_))) {
        return Err(DataModelError::InvalidBlob("`ref` must be a link"));
    }
    if !matches!(map.get("mimeType"), Some(Ipld::String(_))) {
        return Err(DataModelError::InvalidBlob("`mimeType` must be a string"));
    }
    if !matches!(map.get("size"), Some(Ipld::Integer(n)) if *n >= 0) {
        return Err(DataModelError::InvalidBlob("`size` must be a non-negative integer"));
    }
    if map.len() != 4 {
        return Err(DataModelError::InvalidBlob("unexpected extra fields"));
    }
    Ok(())
}

/// Checks a whole value against the data model: no floats, integers within 64 bits, and the
/// map rules of `$type` and blobs at every depth. JSON input is checked while it is
/// converted; use this for values that came from elsewhere (DAG-CBOR, hand-built).
pub fn check_data_model(value: &Ipld) -> Result<(), DataModelError> {
    match value {
        Ipld::Float(f) => Err(DataModelError::Float(*f)),
        Ipld::Integer(n) if i64::try_from(*n).is_err() => Err(DataModelError::IntegerOutOfRange),
        Ipld::List(items) => items.iter().try_for_each(check_data_model),
        Ipld::Map(map) => {
            check_map(map)?;
            map.values().try_for_each(check_data_model)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: Vec<(&str, Ipld)>) -> Ipld {
        Ipld::Map(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    #[test]
    fn data_model_rules() {
        let s = |v: &str| Ipld::String(v.to_owned());
        let cases = [
            (Ipld::Integer(1), true),
            (Ipld::Float(1.5), false),
            (Ipld::Integer(i128::from(i64::MAX) + 1), false),
            (map(vec![("$type", s("fm.plyr.track"))]), true),
            (map(vec![("$type", s(""))]), false),
            (map(vec![("$type", Ipld::Null)]), false),
            (map(vec![("$type", s("blob")), ("mimeType", s("audio/mpeg"))]), false),
            (Ipld::List(vec![Ipld::Float(0.5)]), false),
        ];
        for (value, ok) in cases {
            assert_eq!(check_data_model(&value).is_ok(), ok, "{value:?}");
        }
    }
}
