//! Identifiers and timestamps as the network writes them: TIDs, `did:plc` DIDs, blob CIDs,
//! hex file names and RFC 3339 datetimes. All are pure functions of their inputs (and of the
//! seeded [`Rng`] where randomness is needed).

use plyr_atproto::data::cid_for_bytes;

use crate::GenError;
use crate::rng::Rng;

/// The base32-sortable alphabet of TIDs.
const SORTABLE: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
/// RFC 4648 base32, lower case: the alphabet of `did:plc` identifiers.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Multicodec `raw`: the codec of blob CIDs.
const RAW: u64 = 0x55;

/// A TID: `(µs timestamp << 10) | clock id` with the top bit clear, as 13 base32-sortable
/// characters. Later timestamps sort later, so TIDs from one clock strictly increase.
pub fn tid(time_us: i64, clock_id: u16) -> String {
    let micros = u64::try_from(time_us).unwrap_or(0) & ((1 << 53) - 1);
    let value = (micros << 10) | u64::from(clock_id & 0x3ff);
    (0..13).map(|i| char::from(SORTABLE[((value >> (60 - 5 * i)) & 31) as usize])).collect()
}

/// A fresh `did:plc:` identifier: 24 random base32 characters.
pub fn plc_did(rng: &mut Rng) -> String {
    let mut did = String::with_capacity(32);
    did.push_str("did:plc:");
    for _ in 0..2 {
        let bits = rng.next_u64();
        for i in 0..12 {
            did.push(char::from(BASE32[((bits >> (5 * i)) & 31) as usize]));
        }
    }
    did
}

/// `n` lower-case hex characters (at most 16).
pub fn hex(rng: &mut Rng, n: usize) -> String {
    let text = format!("{:016x}", rng.next_u64());
    text[..n.min(16)].to_owned()
}

/// The CID a PDS would give a blob (CIDv1, raw codec, sha2-256) whose bytes are 32 seeded
/// random bytes: `bafkrei…`.
pub fn blob_cid(rng: &mut Rng) -> Result<String, GenError> {
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    Ok(cid_for_bytes(RAW, &bytes)?.to_string())
}

/// RFC 3339 in UTC with milliseconds and `Z`: `2025-06-01T12:34:56.789Z`.
pub fn datetime(time_us: i64) -> String {
    let millis = time_us.div_euclid(1000);
    let secs = millis.div_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let day_secs = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60,
        millis.rem_euclid(1000)
    )
}

/// Gregorian (year, month, day) of a count of days since 1970-01-01, valid for any date the
/// generator produces (proleptic calendar, 400-year eras).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use plyr_atproto::Format;

    use super::*;

    #[test]
    fn datetimes_match_known_instants() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000_000, "2000-02-29T00:00:00.000Z"),
            (1_767_225_599_999_999, "2025-12-31T23:59:59.999Z"),
            (1_767_225_600_123_456, "2026-01-01T00:00:00.123Z"),
        ];
        for (us, expected) in cases {
            assert_eq!(datetime(us), expected);
        }
    }

    #[test]
    fn tids_are_valid_and_sorted() {
        assert_eq!(tid(0, 0), "2222222222222");
        assert_eq!(tid(0, 1023), "22222222222zz");
        let a = tid(1_767_225_600_000_000, 5);
        let b = tid(1_767_225_600_000_001, 0);
        assert_eq!(a.len(), 13);
        assert!(a < b);
        assert!(Format::Tid.is_valid(&a), "{a}");
        assert!(matches!(a.as_bytes()[0], b'2'..=b'7' | b'a'..=b'j'));
    }

    #[test]
    fn dids_and_blob_cids_have_the_right_shape() {
        let mut rng = Rng::new(9);
        let did = plc_did(&mut rng);
        assert_eq!(did.len(), 32);
        assert!(Format::Did.is_valid(&did), "{did}");
        let cid = blob_cid(&mut rng).expect("hashes");
        assert!(cid.starts_with("bafkrei"), "{cid}");
        assert_eq!(hex(&mut rng, 16).len(), 16);
    }
}
