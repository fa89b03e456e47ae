//! Identifier syntaxes: DID, handle, at-identifier, NSID, TID, record key and CID strings.
//!
//! Each check is a single pass over the bytes (no regex, no allocation): these run for every
//! field of every record on the indexer's hot path. The grammar of each is quoted from the
//! atproto specs in the doc comment of its function.

/// Longest DID accepted (the spec caps DIDs at 2 KB).
const DID_MAX_LEN: usize = 2048;
/// Longest handle accepted (a DNS name).
const HANDLE_MAX_LEN: usize = 253;
/// Longest NSID accepted: 253 for the domain authority, 1 for the dot, 63 for the name.
const NSID_MAX_LEN: usize = 317;
/// Longest DNS label, and longest NSID segment.
const LABEL_MAX_LEN: usize = 63;
/// Longest record key.
const RECORD_KEY_MAX_LEN: usize = 512;

/// `did:<method>:<identifier>`: method `[a-z]+`; identifier `[a-zA-Z0-9._:%-]*` not ending in
/// `:` or `%`; at most 2048 characters.
pub fn is_valid_did(s: &str) -> bool {
    if s.len() > DID_MAX_LEN {
        return false;
    }
    let Some(rest) = s.strip_prefix("did:") else {
        return false;
    };
    let Some((method, id)) = rest.split_once(':') else {
        return false;
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    let id_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-');
    match id.as_bytes().last() {
        None | Some(b':' | b'%') => false,
        Some(_) => id.bytes().all(id_char),
    }
}

/// A DNS label: 1-63 of `[a-zA-Z0-9-]`, not starting or ending with `-`.
fn is_dns_label(label: &[u8]) -> bool {
    match (label.first(), label.last()) {
        (Some(first), Some(last)) => {
            label.len() <= LABEL_MAX_LEN
                && *first != b'-'
                && *last != b'-'
                && label.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

/// A domain name with at least two labels, at most 253 characters, and a TLD that starts
/// with a letter (so IP addresses and dotless names are rejected).
pub fn is_valid_handle(s: &str) -> bool {
    if s.len() > HANDLE_MAX_LEN {
        return false;
    }
    let mut labels = 0usize;
    let mut last: &[u8] = &[];
    for label in s.as_bytes().split(|b| *b == b'.') {
        if !is_dns_label(label) {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.first().is_some_and(u8::is_ascii_alphabetic)
}

/// A handle or a DID.
pub fn is_valid_at_identifier(s: &str) -> bool {
    if s.starts_with("did:") { is_valid_did(s) } else { is_valid_handle(s) }
}

/// Reversed domain authority plus a name: at least three `.`-separated segments, at most 317
/// characters. Domain segments are DNS labels and the first must start with a letter; the
/// name is `[a-zA-Z][a-zA-Z0-9]*` (at most 63 characters).
pub fn is_valid_nsid(s: &str) -> bool {
    if s.len() > NSID_MAX_LEN {
        return false;
    }
    let bytes = s.as_bytes();
    let Some(dot) = bytes.iter().rposition(|b| *b == b'.') else {
        return false;
    };
    let (domain, name) = (&bytes[..dot], &bytes[dot + 1..]);
    let name_ok = matches!(name.first(), Some(b) if b.is_ascii_alphabetic())
        && name.len() <= LABEL_MAX_LEN
        && name.iter().all(u8::is_ascii_alphanumeric);
    if !name_ok || !domain.first().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut segments = 0usize;
    for label in domain.split(|b| *b == b'.') {
        if !is_dns_label(label) {
            return false;
        }
        segments += 1;
    }
    segments >= 2
}

/// The base32-sortable alphabet used by TIDs.
fn is_base32_sortable(b: u8) -> bool {
    matches!(b, b'2'..=b'7' | b'a'..=b'z')
}

/// 13 characters of base32-sortable; the first is `2-7` or `a-j` because the top bit of the
/// 64-bit value must be zero.
pub fn is_valid_tid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 13
        && matches!(bytes[0], b'2'..=b'7' | b'a'..=b'j')
        && bytes.iter().all(|b| is_base32_sortable(*b))
}

/// 1-512 of `[A-Za-z0-9._:~-]`, except `.` and `..`.
pub fn is_valid_record_key(s: &str) -> bool {
    (1..=RECORD_KEY_MAX_LEN).contains(&s.len())
        && s != "."
        && s != ".."
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'~' | b'-'))
}

/// The string form of a CID: 8-256 of `[a-zA-Z0-9+=]` (any multibase), but not a CIDv0
/// (`Qm…`), which atproto does not use. This is a syntax check only; decoding happens in
/// [`crate::data`] when a `$link` is parsed.
pub fn is_valid_cid(s: &str) -> bool {
    (8..=256).contains(&s.len())
        && !s.starts_with("Qm")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        let cases: [(&[u8], bool); 7] = [
            (b"a", true),
            (b"-", false),
            (b"a-", false),
            (b"-a", false),
            (b"a-b", true),
            (b"", false),
            (b"a_b", false),
        ];
        for (label, expected) in cases {
            assert_eq!(is_dns_label(label), expected, "{label:?}");
        }
        assert!(is_dns_label(&[b'o'; 63]));
        assert!(!is_dns_label(&[b'o'; 64]));
    }

    type Check = fn(&str) -> bool;

    #[test]
    fn identifiers_table() {
        let cases: [(Check, &str, bool); 12] = [
            (is_valid_did, "did:plc:abc", true),
            (is_valid_did, "did:plc:abc%", false),
            (is_valid_did, "did::abc", false),
            (is_valid_handle, "alice.plyr.fm", true),
            (is_valid_handle, "alice.plyr.fm.", false),
            (is_valid_nsid, "fm.plyr.actor.profile", true),
            (is_valid_nsid, "fm.plyr", false),
            (is_valid_nsid, "fm.plyr.-track", false),
            (is_valid_tid, "3lbb5tsjqbc2x", true),
            (is_valid_tid, "klbb5tsjqbc2x", false),
            (is_valid_record_key, "literal:self", true),
            (is_valid_cid, "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR", false),
        ];
        for (check, value, expected) in cases {
            assert_eq!(check(value), expected, "{value:?}");
        }
    }
}
