//! Opaque pagination cursors.
//!
//! Feeds page by a key that is unique and totally ordered: a time plus the record URI (ties on
//! time are broken by URI), or a number plus the URI (comment positions, like counts), or an
//! offset into a ranking. The key of the last item of a page is the cursor of the next, so a
//! reader paging through a feed sees every item exactly once whatever the page size. Cursors are
//! plain text (`<number>::<uri>`) so operators can read them; clients must treat them as opaque.

use chrono::{DateTime, Utc};

use crate::XrpcError;

/// A position after an item ordered by `(time, uri)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeKey {
    pub at: DateTime<Utc>,
    pub uri: String,
}

/// A position after an item ordered by `(number, uri)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumKey {
    pub n: i64,
    pub uri: String,
}

impl TimeKey {
    /// The start of a newest-first feed: after every real item.
    pub fn newest() -> Self {
        TimeKey { at: DateTime::<Utc>::MAX_UTC, uri: String::new() }
    }

    pub fn encode(&self) -> String {
        format!("{}::{}", self.at.timestamp_micros(), self.uri)
    }

    /// `None` (no cursor) is the start of the feed.
    pub fn decode(cursor: Option<&str>) -> Result<Self, XrpcError> {
        let Some(c) = cursor else { return Ok(Self::newest()) };
        let (n, uri) = split(c)?;
        let at = DateTime::from_timestamp_micros(n).ok_or_else(bad)?;
        Ok(TimeKey { at, uri })
    }
}

impl NumKey {
    pub fn encode(&self) -> String {
        format!("{}::{}", self.n, self.uri)
    }

    /// `None` when no cursor was given.
    pub fn decode(cursor: Option<&str>) -> Result<Option<Self>, XrpcError> {
        let Some(c) = cursor else { return Ok(None) };
        let (n, uri) = split(c)?;
        Ok(Some(NumKey { n, uri }))
    }
}

/// An offset into a ranking (search, recommendations); a missing cursor is 0.
pub fn decode_offset(cursor: Option<&str>) -> Result<i64, XrpcError> {
    match cursor {
        None => Ok(0),
        Some(c) => c.parse::<i64>().ok().filter(|n| (0..=100_000).contains(n)).ok_or_else(bad),
    }
}

fn split(c: &str) -> Result<(i64, String), XrpcError> {
    let (n, uri) = c.split_once("::").ok_or_else(bad)?;
    let n: i64 = n.parse().map_err(|_| bad())?;
    if uri.len() > 8192 || !(uri.is_empty() || uri.starts_with("at://") || uri.starts_with("did:")) {
        return Err(bad());
    }
    Ok((n, uri.to_owned()))
}

fn bad() -> XrpcError {
    XrpcError::InvalidRequest("malformed cursor".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let k = TimeKey {
            at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("time"),
            uri: "at://did:plc:a/fm.plyr.track/3k".into(),
        };
        assert_eq!(TimeKey::decode(Some(&k.encode())).expect("decodes"), k);
        assert_eq!(TimeKey::decode(None).expect("start"), TimeKey::newest());
        for bad in ["", "x", "12", "abc::at://x", "1::http://x"] {
            assert!(TimeKey::decode(Some(bad)).is_err(), "{bad:?}");
        }
        let n = NumKey { n: 42, uri: "at://did:plc:a/fm.plyr.comment/1".into() };
        assert_eq!(NumKey::decode(Some(&n.encode())).expect("decodes"), Some(n));
        assert_eq!(decode_offset(Some("30")).expect("offset"), 30);
        assert!(decode_offset(Some("-1")).is_err());
    }

    #[test]
    fn times_before_1970_and_after_2262_round_trip() {
        for s in [-62_167_219_200, -30_610_224_000, 253_402_300_799] {
            let k = TimeKey {
                at: DateTime::from_timestamp(s, 0).expect("time"),
                uri: "at://did:plc:a/x/1".into(),
            };
            assert_eq!(TimeKey::decode(Some(&k.encode())).expect("decodes"), k, "{}", k.encode());
        }
    }
}
