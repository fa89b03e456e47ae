//! ATProto building blocks shared by the indexer and the AppView.
//!
//! - [`syntax`]: validators for every atproto string format (DID, handle, NSID, AT-URI, TID,
//!   record key, datetime, CID, language, URI) and the validated [`Did`], [`Handle`] and [`AtUri`]
//!   types (PostgreSQL text with the `sqlx` feature).
//! - [`data`]: the atproto data model: JSON <-> [`Ipld`] and record CIDs.
//! - [`lexicon`]: lexicon documents and the [`Catalog`] that compiles them.
//! - [`validate`]: record validation against a catalog, reporting every [`Violation`].
//! - [`service_auth`]: verifying the inter-service JWTs a PDS sends when it proxies a call.
//! - [`outbound`]: which hosts URLs from the network may name (fetches and redirects).
//! - [`repo`]: repositories as the firehose and `getRepo` carry them: CAR, signed commit, MST.
//! - [`settings`]: startup checks of the URLs, origins and DIDs an operator configures.
//! - [`signature`]: the one ECDSA check (compact, low-S) behind commits, service tokens and labels.
//! - [`label`]: labelers' signed labels as received, verified and signed.
//!
//! The indexer's hot path is: [`record_from_json`] (Jetstream) or [`record_from_cbor`]
//! (firehose), then [`Catalog::validate_record`], then [`cid_for_record`] if it needs to
//! check the CID.

pub mod data;
pub mod identity;
pub mod label;
pub mod lexicon;
pub mod outbound;
pub mod repo;
pub mod service_auth;
pub mod settings;
pub mod signature;
pub mod syntax;
pub mod validate;

pub use data::{
    DataModelError, MAX_RECORD_BYTES, Unstorable, check_data_model, check_storable, cid_for_record,
    ipld_from_json, ipld_to_json, record_from_cbor, record_from_json, record_to_json,
};
pub use ipld_core::ipld::Ipld;
pub use lexicon::{Catalog, LexiconDoc, LexiconError, RecordKeyType};
pub use syntax::{AtUri, Cid, Did, Format, Handle, Nsid, SyntaxError};
pub use validate::{MAX_VIOLATIONS, ValidateOptions, Violation, ViolationKind, Violations, XrpcBody};

/// Cuts an untrusted value to at most 64 bytes (on a char boundary) so that errors stay loggable.
pub(crate) fn clip(value: &str) -> String {
    const MAX: usize = 64;
    if value.len() <= MAX {
        return value.to_owned();
    }
    let mut end = MAX;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &value[..end])
}
