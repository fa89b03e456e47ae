//! Rules every collection shares: times, public ids, and which URLs are trusted.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// How far in the future a record's own timestamp may be before it stops deciding its order.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// The time a feed sorts a record by: its `createdAt`, unless that is more than five minutes
/// after the record was indexed (a wrong clock or a lie), then the time it was indexed.
pub fn sort_time(created_at: DateTime<Utc>, indexed_at: DateTime<Utc>) -> DateTime<Utc> {
    // Checked: `indexed_at` comes from the network and may sit at the end of chrono's range.
    let future = indexed_at.checked_add_signed(MAX_CLOCK_SKEW).is_some_and(|limit| created_at > limit);
    if future { indexed_at } else { created_at }
}

/// The stable public integer id of a track: 52 bits of SHA-256(uri), so it survives a rebuild of
/// the database and stays exact in JavaScript numbers.
pub fn track_id(uri: &str) -> i64 {
    let digest = Sha256::digest(uri.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let id = u64::from_be_bytes(first) >> 12;
    // `>> 12` leaves 52 bits, so the value always fits in i64; never hand out 0.
    i64::try_from(id).unwrap_or(i64::MAX).max(1)
}

/// The stable public UUID of a list (album or playlist), derived from its URI (RFC 9562
/// version 8, "custom").
pub fn list_id(uri: &str) -> String {
    let d = Sha256::digest(uri.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Origins (`scheme://host[:port]`) whose `audioUrl`s are kept.
#[derive(Debug, Clone, Default)]
pub struct TrustedOrigins(Vec<String>);

impl TrustedOrigins {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(origins: I) -> Self {
        Self(origins.into_iter().filter_map(|o| origin_of(o.as_ref())).collect())
    }

    /// Whether `url`'s origin is one of the trusted ones.
    pub fn trusts(&self, url: &str) -> bool {
        origin_of(url).is_some_and(|o| self.0.contains(&o))
    }
}

/// `scheme://host[:port]` of an http(s) URL, lower-cased; `None` for anything else.
fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return None;
    }
    let host = parsed.host_str()?.to_ascii_lowercase();
    Some(match parsed.port() {
        Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
        None => format!("{}://{host}", parsed.scheme()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn future_records_sort_by_index_time() {
        let now = Utc::now();
        assert_eq!(sort_time(now - Duration::days(1), now), now - Duration::days(1));
        assert_eq!(sort_time(now + Duration::minutes(4), now), now + Duration::minutes(4));
        assert_eq!(sort_time(now + Duration::minutes(6), now), now);
        let year_9999 = DateTime::from_timestamp(253_402_300_799, 0).expect("time");
        assert_eq!(sort_time(year_9999, now), now);
        assert_eq!(sort_time(now, DateTime::<Utc>::MAX_UTC), now, "no overflow at the end of the range");
    }

    #[test]
    fn public_ids_are_pinned() {
        // Every public link (`/track/{id}`, `/playlist/{uuid}`) depends on these values: a change
        // to the derivation breaks them all. The expected values were computed independently
        // (Python's hashlib) from the documented rule.
        let cases = [
            (
                "at://did:plc:a/fm.plyr.track/3l2",
                3_769_605_423_231_737,
                "d646fa83-1f2f-8c1a-ab38-5da06b70b197",
            ),
            (
                "at://did:plc:z72i7hdynmk6r22z27h6tvur/fm.plyr.track/3lhkqy7qggc2x",
                3_181_988_590_933_860,
                "b4e0073a-4576-85ae-b290-c805c6da86a5",
            ),
        ];
        for (uri, track, list) in cases {
            assert_eq!(track_id(uri), track, "{uri}");
            assert_eq!(list_id(uri), list, "{uri}");
        }
        assert_ne!(track_id(cases[0].0), track_id("at://did:plc:a/fm.plyr.track/3l3"));
    }

    #[test]
    fn trusted_origins_compare_scheme_host_and_port() {
        let t = TrustedOrigins::new(["https://audio.plyr.fm", "http://localhost:9000/"]);
        assert!(t.trusts("https://audio.plyr.fm/audio/abc.mp3"));
        assert!(t.trusts("https://AUDIO.plyr.fm/x"));
        assert!(t.trusts("http://localhost:9000/a"));
        assert!(!t.trusts("http://audio.plyr.fm/x"), "scheme matters");
        assert!(!t.trusts("https://audio.plyr.fm.evil.com/x"));
        assert!(!t.trusts("https://evil.com/?u=https://audio.plyr.fm"));
        assert!(!t.trusts("http://localhost:9001/a"), "port matters");
        assert!(!t.trusts("ftp://audio.plyr.fm/x"));
    }
}
