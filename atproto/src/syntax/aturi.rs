//! URI syntaxes: the strict lexicon `at-uri` and the generic `uri` format.

use super::identifiers::{is_valid_at_identifier, is_valid_nsid, is_valid_record_key};

/// Longest URI (either kind) accepted: 8 KB.
const URI_MAX_LEN: usize = 8 * 1024;
/// Longest URI scheme accepted.
const SCHEME_MAX_LEN: usize = 81;

/// The restricted AT-URI used in lexicons: `at://<did-or-handle>[/<nsid>[/<record-key>]]`,
/// with no query, no fragment, no trailing slash and at most 8 KB.
pub fn is_valid_at_uri(s: &str) -> bool {
    if s.len() > URI_MAX_LEN {
        return false;
    }
    let Some(rest) = s.strip_prefix("at://") else {
        return false;
    };
    let mut parts = rest.split('/');
    let authority_ok = parts.next().is_some_and(is_valid_at_identifier);
    let collection_ok = parts.next().is_none_or(is_valid_nsid);
    let rkey_ok = parts.next().is_none_or(is_valid_record_key);
    authority_ok && collection_ok && rkey_ok && parts.next().is_none()
}

/// A generic URI: a lower-case scheme (`[a-z][a-z0-9+.-]*`, RFC 3986 §3.1), a colon, and at
/// least one printable non-space ASCII character; at most 8 KB. Deliberately loose past the
/// scheme, like the reference implementations: `uri` fields hold all kinds of schemes.
pub fn is_valid_uri(s: &str) -> bool {
    if s.len() > URI_MAX_LEN {
        return false;
    }
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.len() <= SCHEME_MAX_LEN
        && scheme.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'.' | b'-'));
    scheme_ok && !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_uris() {
        let cases = [
            ("at://did:plc:abc", true),
            ("at://plyr.fm/fm.plyr.track", true),
            ("at://plyr.fm/fm.plyr.track/3jzfcijpj2z2a", true),
            ("at://plyr.fm/fm.plyr.track/", false),
            ("at://plyr.fm/fm.plyr.track/a/b", false),
            ("at://plyr.fm/fm.plyr.track?x=1", false),
            ("at://plyr.fm#frag", false),
            ("https://plyr.fm", false),
        ];
        for (value, expected) in cases {
            assert_eq!(is_valid_at_uri(value), expected, "{value:?}");
        }
    }

    #[test]
    fn generic_uris() {
        let cases = [
            ("https://plyr.fm/track/1", true),
            ("git+ssh://example.com/repo", true),
            ("mailto:someone@example.com", true),
            ("https:", false),
            ("HTTPS://plyr.fm", false),
            ("https://plyr.fm/a b", false),
            ("https://plyr.fm/é", false),
        ];
        for (value, expected) in cases {
            assert_eq!(is_valid_uri(value), expected, "{value:?}");
        }
    }
}
