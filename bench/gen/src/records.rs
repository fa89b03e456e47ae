//! The records the network writes, as the types generated from the lexicons (`plyr-lexicons`
//! for `fm.plyr.*`, `jacquard-api` for `app.bsky.actor.profile`), the constructors the
//! generator needs for their field types, and the records' CIDs.
//!
//! The JSON field order is the generated types' (declaration order, `$type` first), fixed by
//! the types and not by `serde_json`'s features; the CID is computed from the canonical
//! DAG-CBOR form and does not depend on order at all.

use std::collections::BTreeMap;

use jacquard_common::deps::smol_str::SmolStr;
use jacquard_common::types::blob::{Blob, MimeType};
use jacquard_common::types::cid::CidLink;
use jacquard_common::types::string::AtprotoStr;
use jacquard_common::types::value::Data;
use serde::Serialize;

pub use jacquard_api::app_bsky::actor::profile::Profile as BskyProfile;
pub use jacquard_common::types::blob::BlobRef;
pub use jacquard_common::types::string::{AtUri, Cid, Datetime, Did, Handle, UriValue};
pub use plyr_lexicons::com_atproto::label::{SelfLabel, SelfLabels};
pub use plyr_lexicons::com_atproto::repo::strong_ref::StrongRef;
pub use plyr_lexicons::fm_plyr::actor::profile::Profile;
pub use plyr_lexicons::fm_plyr::comment::Comment;
pub use plyr_lexicons::fm_plyr::like::Like;
pub use plyr_lexicons::fm_plyr::list::{Item as ListItem, List, ListListType};
pub use plyr_lexicons::fm_plyr::track::{FeaturedArtist, SupportGate, SupportGateType, Track};

use crate::GenError;
use crate::ids::hex;
use crate::rng::Rng;

/// Collection NSIDs, as the generated record types declare them.
pub mod nsid {
    use jacquard_common::types::collection::Collection;

    pub const TRACK: &str = <super::Track as Collection>::NSID;
    pub const LIKE: &str = <super::Like as Collection>::NSID;
    pub const COMMENT: &str = <super::Comment as Collection>::NSID;
    pub const LIST: &str = <super::List as Collection>::NSID;
    pub const PROFILE: &str = <super::Profile as Collection>::NSID;
    pub const BSKY_PROFILE: &str = <super::BskyProfile as Collection>::NSID;
}

/// `$type` of the one member of a track's `labels` union.
const SELF_LABELS: &str = "com.atproto.label.defs#selfLabels";

/// Any record the network writes.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
#[expect(
    clippy::large_enum_variant,
    reason = "a record lives for one encode (JSON, DAG-CBOR, sha2-256); boxing only adds an allocation"
)]
pub enum Record {
    Track(Track),
    Like(Like),
    Comment(Comment),
    List(List),
    Profile(Profile),
    BskyProfile(BskyProfile),
}

impl Record {
    /// The collection the record belongs to.
    pub fn collection(&self) -> &'static str {
        match self {
            Self::Track(_) => nsid::TRACK,
            Self::Like(_) => nsid::LIKE,
            Self::Comment(_) => nsid::COMMENT,
            Self::List(_) => nsid::LIST,
            Self::Profile(_) => nsid::PROFILE,
            Self::BskyProfile(_) => nsid::BSKY_PROFILE,
        }
    }

    /// The record's CID: CIDv1, DAG-CBOR, sha2-256 of its canonical encoding.
    pub fn cid(&self) -> Result<String, GenError> {
        let json = serde_json::to_value(self)?;
        let ipld = plyr_atproto::record_from_json(json)?;
        Ok(plyr_atproto::cid_for_record(&ipld)?.to_string())
    }
}

fn invalid(what: &str, e: impl std::fmt::Display) -> GenError {
    GenError::Lexicon(format!("{what}: {e}"))
}

/// A `datetime` field from [`crate::ids::datetime`]'s text, kept as written (parsing only
/// checks it): re-rendering would change the precision, and with it the CID.
pub fn datetime(text: &str) -> Result<Datetime, GenError> {
    text.parse().map_err(|e| invalid(text, e))
}

/// A `uri` field.
pub fn uri(text: &str) -> Result<UriValue, GenError> {
    UriValue::new_owned(text).map_err(|e| invalid(text, e))
}

/// A track's cover image URL, drawn as both generators draw it: half the tracks have one.
pub fn cover_url(rng: &mut Rng) -> Result<Option<UriValue>, GenError> {
    rng.chance(0.5)
        .then(|| format!("https://images.plyr.fm/covers/{}.jpg", hex(rng, 16)))
        .as_deref()
        .map(uri)
        .transpose()
}

/// A CID this crate computed, as the string the JSON carries (not parsed again).
pub fn cid(text: &str) -> Cid {
    Cid::Str(SmolStr::new(text))
}

/// A `com.atproto.repo.strongRef` to the record `uri` at version `cid`.
pub fn strong_ref(uri: &str, cid_text: &str) -> Result<StrongRef, GenError> {
    let uri = AtUri::new(SmolStr::new(uri)).map_err(|e| invalid(uri, e))?;
    Ok(StrongRef { cid: cid(cid_text), uri, extra_data: None })
}

/// A blob of `size` bytes with raw-codec CID `cid`.
pub fn blob(cid_text: &str, mime_type: &'static str, size: u64) -> BlobRef {
    BlobRef::Blob(Blob {
        r#ref: CidLink(cid(cid_text)),
        mime_type: MimeType::new(SmolStr::new_static(mime_type)),
        size: size as usize,
    })
}

/// `fm.plyr.track#featuredArtist`: `did`, with the legacy `(handle, display name)` snapshot
/// when given. The handle is taken as is (not lowercased), so the record says what was drawn.
pub fn featured_artist(did: &str, snapshot: Option<(&str, &str)>) -> Result<FeaturedArtist, GenError> {
    let handle = match snapshot {
        Some((handle, _)) => Some(Handle::new(SmolStr::new(handle)).map_err(|e| invalid(handle, e))?),
        None => None,
    };
    Ok(FeaturedArtist {
        did: Did::new_owned(did).map_err(|e| invalid(did, e))?,
        display_name: snapshot.map(|(_, name)| SmolStr::new(name)),
        handle,
        extra_data: None,
    })
}

/// The support gate "anyone who supports the artist".
pub fn support_gate_any() -> SupportGate {
    SupportGate { r#type: SupportGateType::Any, extra_data: None }
}

/// A track's `labels`: one self-label. The generated type drops the union's `$type` (the
/// union has one member), but the data model and the indexer need it, so it rides in
/// `extra_data`.
pub fn self_labels(val: &'static str) -> SelfLabels {
    let tag = Data::String(AtprotoStr::String(SmolStr::new_static(SELF_LABELS)));
    SelfLabels {
        values: vec![SelfLabel { val: SmolStr::new_static(val), extra_data: None }],
        extra_data: Some(BTreeMap::from([(SmolStr::new_static("$type"), tag)])),
    }
}
