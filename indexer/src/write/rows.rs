//! One typed row per indexed collection, extracted from a record that passed lexicon validation,
//! plus the collection rules the lexicons cannot express (a track must be playable).

use chrono::{DateTime, Utc};
use ipld_core::ipld::Ipld;

use super::fields::{self, Fields};
use super::rules::{TrustedOrigins, list_id, sort_time, track_id};

/// The collections the write path indexes.
pub const TRACK: &str = "fm.plyr.track";
pub const LIKE: &str = "fm.plyr.like";
pub const COMMENT: &str = "fm.plyr.comment";
pub const LIST: &str = "fm.plyr.list";
pub const PLYR_PROFILE: &str = "fm.plyr.actor.profile";
pub const BSKY_PROFILE: &str = "app.bsky.actor.profile";

/// Whether the write path handles `collection`.
pub fn is_indexed(collection: &str) -> bool {
    matches!(collection, TRACK | LIKE | COMMENT | LIST | PLYR_PROFILE | BSKY_PROFILE)
}

/// Whether the collection is ours (its records create actors); `app.bsky.actor.profile` only
/// enriches actors we already know.
pub fn is_plyr(collection: &str) -> bool {
    collection.starts_with("fm.plyr.")
}

/// Identifies the record a row belongs to and when it was seen.
#[derive(Debug, Clone)]
pub struct Meta {
    pub uri: String,
    pub did: String,
    pub rkey: String,
    pub cid: String,
    pub rev: String,
    pub indexed_at: DateTime<Utc>,
}

impl Meta {
    pub fn origin(&self) -> Origin<'_> {
        Origin { uri: &self.uri, rkey: &self.rkey, indexed_at: self.indexed_at }
    }
}

/// What extracting a row needs to know of its record besides the record: borrowed, so checking
/// a record as it arrives copies none of its identifiers.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub uri: &'a str,
    pub rkey: &'a str,
    pub indexed_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct TrackRow {
    pub id: i64,
    pub title: String,
    pub artist: String,
    pub album: Option<String>,
    pub duration: Option<i32>,
    pub description: Option<String>,
    pub file_type: String,
    pub file_id: String,
    pub image_url: Option<String>,
    pub audio_url: Option<String>,
    pub audio_blob: Option<(String, String, i64)>,
    pub features: Vec<String>,
    pub support_gate: Option<String>,
    pub self_labels: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub sort_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct LikeRow {
    pub subject_uri: String,
    pub subject_cid: String,
    pub created_at: DateTime<Utc>,
    pub sort_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct CommentRow {
    pub subject_uri: String,
    pub subject_cid: String,
    pub text: String,
    pub timestamp_ms: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub sort_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ListRow {
    pub id: String,
    pub name: Option<String>,
    pub list_type: Option<String>,
    /// (subject uri, subject cid) in list order.
    pub items: Vec<(String, String)>,
    /// When each item's subject first appeared in the list (parallel to `items`); filled in by
    /// the fold, which sees every version of the list.
    pub added_at: Vec<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub sort_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct PlyrProfileRow {
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct BskyProfileRow {
    pub display_name: Option<String>,
    pub avatar: Option<(String, String)>,
}

/// A record's typed row.
#[derive(Debug, Clone)]
pub enum Row {
    /// Boxed, as is `List`: a row waits in its batch inside every event's [`Checked`], and
    /// inline these two would make every like and comment as large as a track.
    Track(Box<TrackRow>),
    Like(LikeRow),
    Comment(CommentRow),
    List(Box<ListRow>),
    PlyrProfile(PlyrProfileRow),
    BskyProfile(BskyProfileRow),
}

/// Why a valid-per-lexicon record is still not indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// A track with neither an audio blob nor a trusted audio URL.
    NotPlayable,
    /// A profile record under a key other than `self`.
    NotSelf,
    /// The record is not a map (validation would have said so).
    NotAnObject,
}

impl Reject {
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotPlayable => "no_playable_audio",
            Self::NotSelf => "profile_not_self",
            Self::NotAnObject => "not_an_object",
        }
    }
}

/// Builds the typed row for a validated record of `collection`.
pub fn extract(
    collection: &str,
    meta: Origin<'_>,
    record: &Ipld,
    trusted: &TrustedOrigins,
) -> Result<Row, Reject> {
    let Ipld::Map(f) = record else { return Err(Reject::NotAnObject) };
    let created = |f: &Fields| fields::datetime(f, "createdAt").unwrap_or(meta.indexed_at);
    Ok(match collection {
        TRACK => Row::Track(Box::new(track(meta, f, created(f), trusted)?)),
        LIKE => {
            let (subject_uri, subject_cid) = fields::strong_ref(f, "subject").ok_or(Reject::NotAnObject)?;
            let created_at = created(f);
            Row::Like(LikeRow {
                subject_uri,
                subject_cid,
                created_at,
                sort_at: sort_time(created_at, meta.indexed_at),
            })
        }
        COMMENT => {
            let (subject_uri, subject_cid) = fields::strong_ref(f, "subject").ok_or(Reject::NotAnObject)?;
            let created_at = created(f);
            Row::Comment(CommentRow {
                subject_uri,
                subject_cid,
                text: fields::string(f, "text").unwrap_or_default(),
                timestamp_ms: fields::int(f, "timestampMs").and_then(|v| i64::try_from(v).ok()).unwrap_or(0),
                created_at,
                updated_at: fields::datetime(f, "updatedAt"),
                sort_at: sort_time(created_at, meta.indexed_at),
            })
        }
        LIST => {
            let items: Vec<(String, String)> = fields::list(f, "items")
                .iter()
                .filter_map(|item| match item {
                    Ipld::Map(m) => fields::strong_ref(m, "subject"),
                    _ => None,
                })
                .collect();
            let created_at = created(f);
            let version_time = fields::datetime(f, "updatedAt").unwrap_or(created_at);
            Row::List(Box::new(ListRow {
                added_at: vec![version_time; items.len()],
                id: list_id(meta.uri),
                name: fields::string(f, "name"),
                list_type: fields::string(f, "listType"),
                items,
                created_at,
                updated_at: fields::datetime(f, "updatedAt"),
                sort_at: sort_time(created_at, meta.indexed_at),
            }))
        }
        PLYR_PROFILE => {
            if meta.rkey != "self" {
                return Err(Reject::NotSelf);
            }
            Row::PlyrProfile(PlyrProfileRow {
                bio: fields::string(f, "bio"),
                avatar_url: fields::string(f, "avatar"),
                created_at: created(f),
                updated_at: fields::datetime(f, "updatedAt"),
            })
        }
        _ => {
            if meta.rkey != "self" {
                return Err(Reject::NotSelf);
            }
            let avatar = fields::blob(f, "avatar").map(|(cid, mime, _)| (cid, mime));
            Row::BskyProfile(BskyProfileRow { display_name: fields::string(f, "displayName"), avatar })
        }
    })
}

fn track(
    meta: Origin<'_>,
    f: &Fields,
    created_at: DateTime<Utc>,
    trusted: &TrustedOrigins,
) -> Result<TrackRow, Reject> {
    let audio_blob = fields::blob(f, "audioBlob");
    let audio_url = fields::string(f, "audioUrl").filter(|u| trusted.trusts(u));
    if audio_blob.is_none() && audio_url.is_none() {
        return Err(Reject::NotPlayable);
    }
    let features = fields::list(f, "features")
        .iter()
        .filter_map(|x| match x {
            Ipld::Map(m) => fields::string(m, "did"),
            _ => None,
        })
        .collect();
    let self_labels = fields::map(f, "labels")
        .filter(|l| fields::str_field(l, "$type") == Some("com.atproto.label.defs#selfLabels"))
        .map(|l| {
            fields::list(l, "values")
                .iter()
                .filter_map(|v| match v {
                    Ipld::Map(m) => fields::string(m, "val"),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    // plyr.fm writes an undeclared `fileId` (its storage key); otherwise the rkey names the file.
    let file_id = fields::string(f, "fileId")
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .unwrap_or_else(|| meta.rkey.to_owned());
    let image_url =
        fields::string(f, "imageUrl").filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    Ok(TrackRow {
        id: track_id(meta.uri),
        title: fields::string(f, "title").unwrap_or_default(),
        artist: fields::string(f, "artist").unwrap_or_default(),
        album: fields::string(f, "album").filter(|a| !a.is_empty()),
        duration: fields::int(f, "duration").and_then(|d| i32::try_from(d).ok()),
        description: fields::string(f, "description"),
        file_type: fields::string(f, "fileType").unwrap_or_default(),
        file_id,
        image_url,
        audio_url,
        audio_blob,
        features,
        support_gate: fields::map(f, "supportGate").and_then(|g| fields::string(g, "type")),
        self_labels,
        created_at,
        sort_at: sort_time(created_at, meta.indexed_at),
    })
}
