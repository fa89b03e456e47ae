//! String syntax of ATProto identifiers and the lexicon string `format`s.
//!
//! Owns one validator per format (`is_valid_*`, all `&str -> bool`, no allocation) and the
//! [`Format`] enum that the lexicon layer uses to dispatch on a schema's `format` field, and
//! the validated owned identifier types [`Did`], [`Handle`] and [`AtUri`] built on them.
//! The rules follow the atproto specs strictly, so that both the canonical interop vectors
//! and the newer monorepo copy pass (see `tests/syntax_vectors.rs`).

mod aturi;
mod datetime;
mod identifiers;
mod language;
mod typed;

use serde::Deserialize;

pub use aturi::{is_valid_at_uri, is_valid_uri};
pub use datetime::{
    PRESENTABLE_MAX_US, PRESENTABLE_MIN_US, clamp_presentable, format_datetime, is_valid_datetime,
    parse_datetime,
};
pub use identifiers::{
    is_valid_at_identifier, is_valid_cid, is_valid_did, is_valid_handle, is_valid_nsid, is_valid_record_key,
    is_valid_tid,
};
pub use language::is_valid_language;
pub use typed::{AtUri, Cid, Did, Handle, Nsid};

/// A string that does not match the syntax it was checked against.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {format}: {value:?}")]
pub struct SyntaxError {
    /// The syntax that was expected.
    pub format: Format,
    /// The offending value, cut to at most 64 bytes so errors stay loggable.
    pub value: String,
}

impl SyntaxError {
    pub(crate) fn new(format: Format, value: &str) -> Self {
        let mut end = value.len().min(64);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        Self { format, value: value[..end].to_owned() }
    }
}

/// A lexicon string `format` (the value of `"format"` in a `string` schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `at-identifier`: a handle or a DID.
    AtIdentifier,
    /// `at-uri`: `at://authority[/collection[/rkey]]`.
    AtUri,
    /// `cid`: a CID in string form (CIDv1, any multibase).
    Cid,
    /// `datetime`: RFC 3339 with a mandatory timezone.
    Datetime,
    /// `did`: generic DID syntax.
    Did,
    /// `handle`: a domain name handle.
    Handle,
    /// `nsid`: a namespaced identifier.
    Nsid,
    /// `tid`: a 13-character timestamp identifier.
    Tid,
    /// `record-key`: a repository record key.
    RecordKey,
    /// `uri`: a generic URI.
    Uri,
    /// `language`: a BCP-47 language tag.
    Language,
}

impl Format {
    /// The name used in lexicon documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AtIdentifier => "at-identifier",
            Self::AtUri => "at-uri",
            Self::Cid => "cid",
            Self::Datetime => "datetime",
            Self::Did => "did",
            Self::Handle => "handle",
            Self::Nsid => "nsid",
            Self::Tid => "tid",
            Self::RecordKey => "record-key",
            Self::Uri => "uri",
            Self::Language => "language",
        }
    }

    /// Whether `value` matches this format.
    pub fn is_valid(self, value: &str) -> bool {
        match self {
            Self::AtIdentifier => is_valid_at_identifier(value),
            Self::AtUri => is_valid_at_uri(value),
            Self::Cid => is_valid_cid(value),
            Self::Datetime => is_valid_datetime(value),
            Self::Did => is_valid_did(value),
            Self::Handle => is_valid_handle(value),
            Self::Nsid => is_valid_nsid(value),
            Self::Tid => is_valid_tid(value),
            Self::RecordKey => is_valid_record_key(value),
            Self::Uri => is_valid_uri(value),
            Self::Language => is_valid_language(value),
        }
    }

    /// Like [`Format::is_valid`], with an error that names the format and the value.
    pub fn check(self, value: &str) -> Result<(), SyntaxError> {
        if self.is_valid(value) { Ok(()) } else { Err(SyntaxError::new(self, value)) }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_dispatch() {
        let cases = [
            (Format::Did, "did:plc:7iza6de2dwap2sbkpav7c6c6", true),
            (Format::Did, "did:plc", false),
            (Format::Handle, "plyr.fm", true),
            (Format::AtIdentifier, "did:web:plyr.fm", true),
            (Format::Nsid, "fm.plyr.track", true),
            (Format::AtUri, "at://plyr.fm/fm.plyr.track/3jzfcijpj2z2a", true),
            (Format::Tid, "3jzfcijpj2z2a", true),
            (Format::RecordKey, "self", true),
            (Format::Datetime, "2024-01-01T00:00:00Z", true),
            (Format::Language, "en-GB", true),
            (Format::Uri, "https://plyr.fm", true),
            (Format::Cid, "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq", true),
            (Format::Cid, "Qm", false),
        ];
        for (format, value, expected) in cases {
            assert_eq!(format.is_valid(value), expected, "{format} {value:?}");
        }
    }

    #[test]
    fn error_truncates_long_values_on_char_boundary() {
        let long = "é".repeat(100);
        let err = SyntaxError::new(Format::Handle, &long);
        assert!(err.value.len() <= 64);
        assert!(err.to_string().starts_with("invalid handle: "));
    }
}
