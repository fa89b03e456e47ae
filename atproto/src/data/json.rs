//! JSON <-> [`Ipld`] following the atproto data-model spec.
//!
//! JSON in: `{"$link": "<cid>"}` becomes a link, `{"$bytes": "<base64>"}` bytes (standard
//! alphabet, padding optional), numbers must be integers (a float with no fractional part,
//! like `123.0`, is read as the integer), and every map follows [`super::check_map`].
//! JSON out is the canonical form: base64 without padding, CIDs in their default multibase.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use cid::Cid;
use ipld_core::ipld::Ipld;
use serde_json::{Map, Number, Value};

use super::{DataModelError, check_map};

/// Standard base64; decoding accepts padded or unpadded input and non-zero trailing bits
/// (the interop vectors use `"123"`), encoding writes no padding.
pub(super) const BYTES_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// JSON numbers beyond 2^53 cannot be told apart from floats, so integer-like floats are
/// accepted only up to there.
const MAX_SAFE_FLOAT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Converts a record (which must be a JSON object) into atproto data.
pub fn record_from_json(value: Value) -> Result<Ipld, DataModelError> {
    match value {
        Value::Object(_) => ipld_from_json(value),
        _ => Err(DataModelError::NotAnObject),
    }
}

/// Converts any JSON value into atproto data, moving its strings rather than copying them.
pub fn ipld_from_json(value: Value) -> Result<Ipld, DataModelError> {
    Ok(match value {
        Value::Null => Ipld::Null,
        Value::Bool(b) => Ipld::Bool(b),
        Value::Number(n) => Ipld::Integer(integer(&n)?.into()),
        Value::String(s) => Ipld::String(s),
        Value::Array(items) => Ipld::List(items.into_iter().map(ipld_from_json).collect::<Result<_, _>>()?),
        Value::Object(map) => object(map)?,
    })
}

fn integer(n: &Number) -> Result<i64, DataModelError> {
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    if n.as_u64().is_some() {
        return Err(DataModelError::IntegerOutOfRange);
    }
    match n.as_f64() {
        Some(f) => integer_from_float(f),
        None => Err(DataModelError::IntegerOutOfRange),
    }
}

/// A JSON float as atproto data: an integer when it is integral and within 2^53 (so the cast is
/// exact), otherwise not data at all.
pub(super) fn integer_from_float(f: f64) -> Result<i64, DataModelError> {
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE_FLOAT_INTEGER {
        Ok(f as i64)
    } else {
        Err(DataModelError::Float(f))
    }
}

/// The string of a `{"$link": "<cid>"}`: a CIDv1.
pub(super) fn link_from_str(s: &str) -> Result<Ipld, DataModelError> {
    let cid = Cid::try_from(s).map_err(|_| DataModelError::InvalidLink("not a CID"))?;
    if cid.version() != cid::Version::V1 {
        return Err(DataModelError::InvalidLink("CIDv0 is not allowed"));
    }
    Ok(Ipld::Link(cid))
}

/// The string of a `{"$bytes": "<base64>"}`.
pub(super) fn bytes_from_str(s: &str) -> Result<Ipld, DataModelError> {
    BYTES_BASE64.decode(s).map(Ipld::Bytes).map_err(|_| DataModelError::InvalidBytes("not base64"))
}

fn object(map: Map<String, Value>) -> Result<Ipld, DataModelError> {
    if let Some(link) = map.get("$link") {
        if map.len() != 1 {
            return Err(DataModelError::InvalidLink("unexpected extra fields"));
        }
        let Value::String(s) = link else {
            return Err(DataModelError::InvalidLink("must be a string"));
        };
        return link_from_str(s);
    }
    if let Some(bytes) = map.get("$bytes") {
        if map.len() != 1 {
            return Err(DataModelError::InvalidBytes("unexpected extra fields"));
        }
        let Value::String(s) = bytes else {
            return Err(DataModelError::InvalidBytes("must be a string"));
        };
        return bytes_from_str(s);
    }
    let converted = map
        .into_iter()
        .map(|(k, v)| Ok((k, ipld_from_json(v)?)))
        .collect::<Result<BTreeMap<_, _>, DataModelError>>()?;
    check_map(&converted)?;
    Ok(Ipld::Map(converted))
}

/// Converts a record back to JSON; the top level must be a map.
pub fn record_to_json(value: &Ipld) -> Result<Value, DataModelError> {
    match value {
        Ipld::Map(_) => ipld_to_json(value),
        _ => Err(DataModelError::NotAnObject),
    }
}

/// Converts atproto data to its JSON form. Fails on floats and on integers beyond 64 bits,
/// which the data model does not have.
pub fn ipld_to_json(value: &Ipld) -> Result<Value, DataModelError> {
    Ok(match value {
        Ipld::Null => Value::Null,
        Ipld::Bool(b) => Value::Bool(*b),
        Ipld::Integer(n) => {
            let n = i64::try_from(*n).map_err(|_| DataModelError::IntegerOutOfRange)?;
            Value::Number(n.into())
        }
        Ipld::Float(f) => return Err(DataModelError::Float(*f)),
        Ipld::String(s) => Value::String(s.clone()),
        Ipld::Bytes(b) => single("$bytes", BYTES_BASE64.encode(b)),
        Ipld::Link(cid) => single("$link", cid.to_string()),
        Ipld::List(items) => Value::Array(items.iter().map(ipld_to_json).collect::<Result<_, _>>()?),
        Ipld::Map(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), ipld_to_json(v)?)))
                .collect::<Result<_, DataModelError>>()?,
        ),
    })
}

fn single(key: &str, value: String) -> Value {
    let mut map = Map::with_capacity(1);
    map.insert(key.to_owned(), Value::String(value));
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn conversions() {
        let cases = [
            (json!({"a": 1}), true),
            (json!({"a": 1.0}), true),
            (json!({"a": 1.5}), false),
            (json!({"a": 18_446_744_073_709_551_615u64}), false),
            (json!({"a": 1e300}), false),
            (json!({"b": {"$bytes": "aGk="}}), true),
            (json!({"b": {"$bytes": "aGk"}}), true),
            (json!({"b": {"$bytes": "!!"}}), false),
            (json!({"l": {"$link": "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR"}}), false),
            (json!([1]), false),
        ];
        for (value, ok) in cases {
            let shown = value.to_string();
            assert_eq!(record_from_json(value).is_ok(), ok, "{shown}");
        }
    }

    #[test]
    fn bytes_round_trip_without_padding() {
        let ipld = record_from_json(json!({"b": {"$bytes": "aGk="}})).expect("valid");
        let back = record_to_json(&ipld).expect("valid");
        assert_eq!(back, json!({"b": {"$bytes": "aGk"}}));
    }
}
