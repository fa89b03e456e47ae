//! The records the network writes, as typed structs that serialize to the lexicons' JSON
//! (`fm.plyr.*` and `app.bsky.actor.profile`), and their CIDs.
//!
//! Field order is the struct order, so the JSON lines do not depend on which `serde_json`
//! features the rest of the workspace enables; the CID is computed from the canonical
//! DAG-CBOR form and does not depend on order at all.

use serde::Serialize;

use crate::GenError;

/// Collection NSIDs.
pub mod nsid {
    pub const TRACK: &str = "fm.plyr.track";
    pub const LIKE: &str = "fm.plyr.like";
    pub const COMMENT: &str = "fm.plyr.comment";
    pub const LIST: &str = "fm.plyr.list";
    pub const PROFILE: &str = "fm.plyr.actor.profile";
    pub const BSKY_PROFILE: &str = "app.bsky.actor.profile";
}

/// `{"$link": "<cid>"}`.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    #[serde(rename = "$link")]
    pub link: String,
}

/// A blob reference: `{"$type": "blob", "ref", "mimeType", "size"}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    #[serde(rename = "$type")]
    pub kind: &'static str,
    #[serde(rename = "ref")]
    pub link: Link,
    pub mime_type: &'static str,
    pub size: u64,
}

impl Blob {
    /// A blob with raw-codec CID `cid`.
    pub fn new(cid: String, mime_type: &'static str, size: u64) -> Self {
        Self { kind: "blob", link: Link { link: cid }, mime_type, size }
    }
}

/// `com.atproto.repo.strongRef`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StrongRef {
    pub uri: String,
    pub cid: String,
}

/// `fm.plyr.track#featuredArtist`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Feature {
    pub did: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// `fm.plyr.track#supportGate`.
#[derive(Debug, Clone, Serialize)]
pub struct SupportGate {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// `com.atproto.label.defs#selfLabel`.
#[derive(Debug, Clone, Serialize)]
pub struct SelfLabel {
    pub val: &'static str,
}

/// `com.atproto.label.defs#selfLabels`, as the open union member it is in a track.
#[derive(Debug, Clone, Serialize)]
pub struct SelfLabels {
    #[serde(rename = "$type")]
    pub kind: &'static str,
    pub values: Vec<SelfLabel>,
}

/// `fm.plyr.track`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Track {
    #[serde(rename = "$type")]
    pub kind: &'static str,
    pub title: String,
    pub artist: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_url: Option<String>,
    pub file_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
    pub duration: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Feature>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support_gate: Option<SupportGate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<SelfLabels>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_blob: Option<Blob>,
}

/// `fm.plyr.like`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Like {
    #[serde(rename = "$type")]
    pub kind: &'static str,
    pub subject: StrongRef,
    pub created_at: String,
}

/// `fm.plyr.comment`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    #[serde(rename = "$type")]
    pub kind: &'static str,
    pub subject: StrongRef,
    pub text: String,
    pub timestamp_ms: u64,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// `fm.plyr.list#item`.
#[derive(Debug, Clone, Serialize)]
pub struct ListItem {
    pub subject: StrongRef,
}

/// `fm.plyr.list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct List {
    #[serde(rename = "$type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub list_type: &'static str,
    pub items: Vec<ListItem>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// `fm.plyr.actor.profile` (rkey `self`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(rename = "$type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    pub bio: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// `app.bsky.actor.profile` (rkey `self`), with the fields the AppView reads.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BskyProfile {
    #[serde(rename = "$type")]
    pub kind: &'static str,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub avatar: Blob,
    pub created_at: String,
}

/// Any record the network writes.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
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
