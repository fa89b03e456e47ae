//! Record validation against a [`Catalog`]: the violations it reports and where.
//!
//! [`Catalog::validate_record`] walks a record ([`Ipld`], as produced by [`crate::data`])
//! against the `main` record definition of its collection and returns every violation with
//! a JSON-path-like location (`$.features[2].did: invalid did`). The walk is in `walk.rs`;
//! the success path allocates nothing: locations are a chain of stack frames, rendered to a
//! string only when a violation is recorded. At most [`MAX_VIOLATIONS`] are kept (the rest are
//! only counted), so a hostile record's report costs a bounded amount of memory whatever its size.

mod walk;

use std::fmt;

use ipld_core::ipld::Ipld;

use crate::lexicon::Catalog;
use crate::syntax::Format;

/// Knobs for [`Catalog::validate_record_with`]. The default is strict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidateOptions {
    /// Accept pre-2023 blobs, `{"cid": "<cid>", "mimeType": "…"}`, where a blob is expected.
    /// Their size is unknown, so `maxSize` cannot be checked. The spec asks readers to cope
    /// with them but writers never to produce them; fm.plyr.* records postdate them, so a
    /// legacy blob there is refused unless this is set.
    pub allow_legacy_blobs: bool,
}

/// Which JSON body of an XRPC method to validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrpcBody {
    /// The request body of a procedure.
    Input,
    /// The response body of a query or procedure, or a subscription's message.
    Output,
}

/// What is wrong at one location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViolationKind {
    /// The catalog has no schema for this record collection or XRPC body.
    #[error("no lexicon schema for {0}")]
    NoSchema(String),
    /// The record's `$type` is not its collection.
    #[error("$type is {found:?}, expected {expected:?}")]
    RecordTypeMismatch {
        /// The collection NSID.
        expected: String,
        /// The record's `$type`.
        found: String,
    },
    /// A required property is absent.
    #[error("required field missing")]
    RequiredMissing,
    /// A property that is not `nullable` is `null`.
    #[error("null is not allowed")]
    NullNotAllowed,
    /// The value has the wrong data-model type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What the schema asks for.
        expected: &'static str,
        /// What the data holds.
        found: &'static str,
    },
    /// A string does not follow its `format`.
    #[error("invalid {0}")]
    Format(Format),
    /// Below a minimum length.
    #[error("too short: {actual} {unit}, minimum {min}")]
    TooShort {
        /// The minimum.
        min: u64,
        /// The measured length.
        actual: u64,
        /// `bytes`, `graphemes` or `items`.
        unit: &'static str,
    },
    /// Above a maximum length.
    #[error("too long: {actual} {unit}, maximum {max}")]
    TooLong {
        /// The maximum.
        max: u64,
        /// The measured length.
        actual: u64,
        /// `bytes`, `graphemes` or `items`.
        unit: &'static str,
    },
    /// An integer below `minimum`.
    #[error("{actual} is below the minimum {min}")]
    BelowMinimum {
        /// The minimum.
        min: i64,
        /// The value.
        actual: i128,
    },
    /// An integer above `maximum`.
    #[error("{actual} is above the maximum {max}")]
    AboveMaximum {
        /// The maximum.
        max: i64,
        /// The value.
        actual: i128,
    },
    /// A value outside a closed `enum`.
    #[error("value is not one of the allowed values")]
    NotInEnum,
    /// A value different from the schema's `const`.
    #[error("value differs from the required constant")]
    ConstMismatch,
    /// A string that should be a token's full name is not.
    #[error("expected the token {0}")]
    TokenMismatch(String),
    /// A blob-shaped value that is not a well-formed blob.
    #[error("malformed blob: {0}")]
    MalformedBlob(&'static str),
    /// A legacy `{cid, mimeType}` blob where they are not allowed.
    #[error("legacy blob not allowed")]
    LegacyBlob,
    /// A blob whose `mimeType` is outside `accept`.
    #[error("blob mimeType {0:?} is not accepted")]
    BlobMimeType(String),
    /// A blob larger than `maxSize`.
    #[error("blob of {size} bytes exceeds maxSize {max}")]
    BlobTooLarge {
        /// The maximum.
        max: u64,
        /// The blob's declared size.
        size: i128,
    },
    /// A union member without `$type`.
    #[error("union value has no $type")]
    UnionMissingType,
    /// A `$type` outside the refs of a closed union.
    #[error("$type {0:?} is not allowed in this closed union")]
    UnionTypeNotAllowed(String),
    /// An `unknown` field holding a blob.
    #[error("a blob is not allowed where any object is expected")]
    UnknownIsBlob,
    /// The schema refers to a definition the catalog does not have.
    #[error("schema ref {0} is not in the catalog")]
    UnresolvedRef(String),
    /// The schema refers to a definition that does not describe data (a query, …).
    #[error("schema ref points at a {0} definition")]
    NotData(&'static str),
}

/// One violation: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct Violation {
    /// JSON-path-like location: `$`, `$.title`, `$.features[2].did`.
    pub path: String,
    /// What is wrong there.
    pub kind: ViolationKind,
}

/// Most violations kept per validation; later ones are counted in [`Violations::omitted`].
pub const MAX_VIOLATIONS: usize = 16;

/// The violations found in one record: the first [`MAX_VIOLATIONS`], in the order found (never
/// empty when returned as an error), and how many more there were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations {
    found: Vec<Violation>,
    omitted: u64,
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.found.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        if self.omitted > 0 {
            write!(f, "; and {} more", self.omitted)?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

impl Violations {
    /// A report of exactly these violations.
    pub fn new(found: Vec<Violation>) -> Self {
        Self { found, omitted: 0 }
    }

    /// The violations kept, in the order found.
    pub fn as_slice(&self) -> &[Violation] {
        &self.found
    }

    /// How many violations were found beyond those kept.
    pub fn omitted(&self) -> u64 {
        self.omitted
    }

    /// Whether any kept violation is at exactly `path`.
    pub fn has_path(&self, path: &str) -> bool {
        self.found.iter().any(|v| v.path == path)
    }
}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.found.into_iter()
    }
}

/// A location in the data, as a chain of borrowed frames (no allocation while walking).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("$"),
            Self::Field(parent, name) => write!(f, "{parent}.{name}"),
            Self::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

impl Catalog {
    /// Validates `record` against the `main` record definition of collection `nsid`
    /// (strict options). `nsid` is the collection as received (Jetstream's `collection`);
    /// an unknown one is reported as a violation at `$`.
    pub fn validate_record(&self, nsid: &str, record: &Ipld) -> Result<(), Violations> {
        self.validate_record_with(nsid, record, &ValidateOptions::default())
    }

    /// Like [`Catalog::validate_record`], with explicit options.
    pub fn validate_record_with(
        &self,
        nsid: &str,
        record: &Ipld,
        options: &ValidateOptions,
    ) -> Result<(), Violations> {
        let mut walker = walk::Walker::new(self, options);
        walker.record(nsid, record);
        walker.finish()
    }

    /// Validates an XRPC request or response body (JSON converted with
    /// [`crate::ipld_from_json`]) against method `nsid`'s schema. Meant for tests and
    /// debugging of the AppView's responses; it formats the lookup key, so it allocates.
    pub fn validate_xrpc_body(&self, nsid: &str, body: XrpcBody, value: &Ipld) -> Result<(), Violations> {
        let options = ValidateOptions::default();
        let mut walker = walk::Walker::new(self, &options);
        walker.xrpc_body(nsid, body, value);
        walker.finish()
    }

    /// Whether `rkey` is a valid record key for collection `nsid` (its `key` type: `tid`,
    /// `literal:self`, …). False for an unknown collection.
    pub fn check_record_key(&self, nsid: &str, rkey: &str) -> bool {
        self.record_key_type(nsid).is_some_and(|key| key.allows(rkey))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_json_path() {
        let root = Path::Root;
        let features = Path::Field(&root, "features");
        let second = Path::Index(&features, 2);
        let did = Path::Field(&second, "did");
        let cases =
            [(root, "$"), (features, "$.features"), (second, "$.features[2]"), (did, "$.features[2].did")];
        for (path, expected) in cases {
            assert_eq!(path.to_string(), expected);
        }
    }

    #[test]
    fn violations_display_every_entry() {
        let mut violations = Violations::new(vec![
            Violation { path: "$.title".to_owned(), kind: ViolationKind::RequiredMissing },
            Violation { path: "$.features[2].did".to_owned(), kind: ViolationKind::Format(Format::Did) },
        ]);
        assert_eq!(violations.to_string(), "$.title: required field missing; $.features[2].did: invalid did");
        assert!(violations.has_path("$.title"));
        violations.omitted = 3;
        assert_eq!(
            violations.to_string(),
            "$.title: required field missing; $.features[2].did: invalid did; and 3 more"
        );
    }
}
