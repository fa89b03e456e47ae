//! Reading fields out of a record that has already passed lexicon validation.
//!
//! Validation guarantees types and formats, so these accessors only map the data model onto Rust
//! values; a missing or mistyped field reads as `None`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ipld_core::ipld::Ipld;

/// A record's top-level map.
pub type Fields = BTreeMap<String, Ipld>;

pub fn str_field<'a>(f: &'a Fields, key: &str) -> Option<&'a str> {
    match f.get(key) {
        Some(Ipld::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

pub fn string(f: &Fields, key: &str) -> Option<String> {
    str_field(f, key).map(str::to_owned)
}

pub fn int(f: &Fields, key: &str) -> Option<i128> {
    match f.get(key) {
        Some(Ipld::Integer(i)) => Some(*i),
        _ => None,
    }
}

pub fn map<'a>(f: &'a Fields, key: &str) -> Option<&'a Fields> {
    match f.get(key) {
        Some(Ipld::Map(m)) => Some(m),
        _ => None,
    }
}

pub fn list<'a>(f: &'a Fields, key: &str) -> &'a [Ipld] {
    match f.get(key) {
        Some(Ipld::List(l)) => l.as_slice(),
        _ => &[],
    }
}

/// A datetime field, parsed (validation already checked its syntax).
pub fn datetime(f: &Fields, key: &str) -> Option<DateTime<Utc>> {
    let raw = str_field(f, key)?;
    plyr_atproto::syntax::parse_datetime(raw).ok().map(|d| d.with_timezone(&Utc))
}

/// A `com.atproto.repo.strongRef` field as (uri, cid).
pub fn strong_ref(f: &Fields, key: &str) -> Option<(String, String)> {
    let r = map(f, key)?;
    Some((string(r, "uri")?, string(r, "cid")?))
}

/// A blob field as (CID, MIME type, size).
pub fn blob(f: &Fields, key: &str) -> Option<(String, String, i64)> {
    let b = map(f, key)?;
    let cid = match b.get("ref") {
        Some(Ipld::Link(cid)) => cid.to_string(),
        _ => return None,
    };
    let mime = string(b, "mimeType")?;
    let size = int(b, "size").and_then(|s| i64::try_from(s).ok())?;
    Some((cid, mime, size))
}
