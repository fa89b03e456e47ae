//! REST presentation: plyr.fm's response objects (`TrackResponse`, `ArtistResponse`, ...) built
//! from the same hydrated rows as the XRPC views, through the same [`Presenter`] for handles,
//! avatars and audio URLs. Pure and synchronous, like `views`. Fields only plyr.fm's private
//! database knows get the defaults `docs/API.md` documents (plays 0, no tags, ...).
//!
//! [`Presenter`]: crate::views::Presenter

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use plyr_atproto::{AtUri, Did};
use serde::Serialize;
use serde_json::{Value, json};

use super::RestError;
use crate::AppState;
use crate::db::actors::ActorRow;
use crate::db::rest::{self as rest_db, TrackAlbum};
use crate::db::tracks::TrackRow;
use crate::hydrate::{Hydration, Hydrator};
use crate::moderation::Context;
use crate::track_views::{Shown, Surface};

/// A time as Python's `datetime.isoformat()` writes a UTC timestamptz: microseconds only when
/// non-zero, and `+00:00`; clamped to years 0000-9999 like every presented time
/// ([`plyr_atproto::syntax::clamp_presentable`]).
pub fn iso(t: DateTime<Utc>) -> String {
    let t = plyr_atproto::syntax::clamp_presentable(t);
    let micros = t.timestamp_subsec_micros();
    let base = t.format("%Y-%m-%dT%H:%M:%S");
    if micros == 0 { format!("{base}+00:00") } else { format!("{base}.{micros:06}+00:00") }
}

/// A cursor as plyr.fm accepts it (`datetime.fromisoformat`): RFC 3339, or a time without
/// offset (UTC). A `+` decoded to a space by a client that did not escape it is forgiven.
pub fn parse_iso(s: &str) -> Result<DateTime<Utc>, RestError> {
    let parse = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc()))
    };
    parse(s)
        .or_else(|| parse(&s.replace(' ', "+")))
        .ok_or_else(|| RestError::BadRequest("invalid cursor format".into()))
}

/// A featured artist, a liker, a playlist owner: the basic account object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserBasic {
    pub did: Did,
    pub handle: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlbumSummary {
    pub id: String,
    pub slug: String,
    pub title: String,
    pub image_url: Option<String>,
    pub thumbnail_url: Option<String>,
}

/// plyr.fm's `TrackResponse`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrackResponse {
    pub id: i64,
    pub title: String,
    pub artist: String,
    pub artist_handle: String,
    pub artist_did: Did,
    pub artist_avatar_url: Option<String>,
    pub file_id: String,
    pub file_type: String,
    pub features: Vec<UserBasic>,
    pub r2_url: Option<String>,
    pub atproto_record_uri: Option<AtUri>,
    pub atproto_record_cid: Option<String>,
    pub atproto_record_url: Option<String>,
    pub play_count: i64,
    pub created_at: String,
    pub image_url: Option<String>,
    pub thumbnail_url: Option<String>,
    pub is_liked: bool,
    pub like_count: i64,
    pub comment_count: i64,
    pub album: Option<AlbumSummary>,
    pub tags: Vec<String>,
    pub copyright_flagged: Option<bool>,
    pub copyright_match: Option<String>,
    pub support_gate: Option<Value>,
    pub gated: bool,
    pub downloadable: bool,
    pub download_policy: &'static str,
    pub artist_support_url: Option<String>,
    pub copyright_song_uri: Option<String>,
    pub copyright_recording_uri: Option<String>,
    pub original_file_id: Option<String>,
    pub original_file_type: Option<String>,
    pub description: Option<String>,
    pub audio_storage: &'static str,
    pub pds_blob_cid: Option<String>,
    pub is_optimizing: bool,
    pub visibility: &'static str,
    pub unlisted: bool,
    pub self_labels: Vec<String>,
    pub operator_labels: Vec<String>,
    pub labels: Vec<String>,
}

/// plyr.fm's `ArtistResponse`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArtistResponse {
    pub did: Did,
    pub handle: String,
    pub display_name: String,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub show_liked_on_profile: bool,
    pub support_url: Option<String>,
}

/// Tracks hydrated for REST: the shared hydration plus the album each track is in.
#[derive(Debug, Default)]
pub struct Loaded {
    pub h: Hydration,
    pub albums: HashMap<AtUri, TrackAlbum>,
}

/// Hydrates `uris` (anonymously: the REST surface has no viewer), as `context` shows them,
/// with their albums.
pub async fn load_tracks(state: &AppState, uris: &[AtUri], context: Context) -> Result<Loaded, RestError> {
    let h = Hydrator::new(state, None).in_context(context).tracks(uris).await?;
    let shown: Vec<&TrackRow> = uris.iter().filter_map(|u| h.track(u)).collect();
    let mut authors: Vec<Did> = shown.iter().map(|t| t.did.clone()).collect();
    authors.sort();
    authors.dedup();
    let kept = state.caches.albums(&state.db, &authors).await?;
    let mut albums = HashMap::new();
    let mut ask = Vec::new();
    for t in shown {
        match kept.get(&t.did) {
            Some(a) if a.is_kept() => {
                if let Some(album) = a.album_of(&t.uri) {
                    albums.insert(t.uri.clone(), album);
                }
            }
            _ => ask.push(t.uri.clone()),
        }
    }
    if !ask.is_empty() {
        albums.extend(
            rest_db::albums_of_tracks(&state.db, &ask).await?.into_iter().map(|a| (a.track_uri.clone(), a)),
        );
    }
    Ok(Loaded { h, albums })
}

impl Loaded {
    /// The visible tracks among `uris`, in order.
    pub fn visible<'a>(&'a self, uris: &'a [AtUri]) -> Vec<&'a TrackRow> {
        uris.iter().filter_map(|u| self.h.track(u)).collect()
    }

    /// `TrackResponse`s of the visible tracks among `uris`, in order. `record_url` fills
    /// `atproto_record_url` (plyr.fm does on `/tracks/` and album pages only).
    pub fn responses(&self, state: &AppState, uris: &[AtUri], record_url: bool) -> Vec<TrackResponse> {
        self.visible(uris).into_iter().map(|t| track(state, self, t, record_url)).collect()
    }

    /// [`Self::responses`] as JSON, from the kept views where they are current
    /// ([`crate::track_views`]): the path of the endpoints that only serialize them.
    pub fn shown(&self, state: &AppState, uris: &[AtUri], record_url: bool) -> Vec<Shown> {
        let (views, surface) = (&state.caches.track_views, Surface::Rest { record_url });
        let rows = uris.iter().filter_map(|u| self.h.track_row(u));
        rows.filter_map(|t| {
            views.kept(surface, &self.h, t, &self.inputs(t), || Some(track(state, self, t, record_url)))
        })
        .map(Shown::Kept)
        .collect()
    }

    /// What a track's response shows besides its rows: its album and the labels labelers applied
    /// (as text; empty when it has neither, the common case, so nothing is allocated).
    fn inputs(&self, t: &TrackRow) -> String {
        let album = self.albums.get(&t.uri).map(|a| (&a.list_id, &a.name));
        let applied = self.h.labels_on(&t.uri);
        if album.is_none() && applied.is_empty() {
            return String::new();
        }
        let vals: Vec<&str> = applied.iter().map(|l| &*l.val).collect();
        serde_json::to_string(&(album, vals)).unwrap_or_default()
    }
}

/// The handle shown for `did`: verified, else `handle.invalid` (as in the XRPC views).
pub fn handle(state: &AppState, h: &Hydration, did: &Did) -> String {
    handle_of(state, did, h.actor(did))
}

/// The name shown for an account: its Bluesky display name, else its handle.
pub fn display_name(state: &AppState, h: &Hydration, did: &Did) -> String {
    display_name_of(state, did, h.actor(did))
}

pub fn avatar(state: &AppState, h: &Hydration, did: &Did) -> Option<String> {
    avatar_of(state, did, h.actor(did))
}

pub fn user_basic(state: &AppState, h: &Hydration, did: &Did) -> UserBasic {
    user_of(state, did, h.actor(did))
}

// The same four from the actor's row (`None`: not known), for credits, which the hydration
// hands out with their rows.

fn handle_of(state: &AppState, did: &Did, a: Option<&ActorRow>) -> String {
    state.presenter.basic(did, a).map_or_else(|| "handle.invalid".to_owned(), |p| p.handle.to_string())
}

fn display_name_of(state: &AppState, did: &Did, a: Option<&ActorRow>) -> String {
    a.and_then(|a| a.display_name.as_deref())
        .filter(|n| !n.trim().is_empty())
        .map_or_else(|| handle_of(state, did, a), str::to_owned)
}

fn avatar_of(state: &AppState, did: &Did, a: Option<&ActorRow>) -> Option<String> {
    state.presenter.basic(did, a).and_then(|p| p.avatar).map(|u| u.as_str().to_owned())
}

fn user_of(state: &AppState, did: &Did, a: Option<&ActorRow>) -> UserBasic {
    UserBasic {
        did: did.clone(),
        handle: handle_of(state, did, a),
        display_name: display_name_of(state, did, a),
        avatar_url: avatar_of(state, did, a),
    }
}

/// Where `/audio/<file_id>` sends a player: the trusted `audioUrl`, else the blob on the
/// artist's PDS. `None` while neither is known (a blob whose PDS is not resolved yet, or is
/// refused by the network policy).
pub fn audio_target(state: &AppState, h: &Hydration, t: &TrackRow) -> Option<String> {
    if let Some(url) = &t.audio_url {
        return Some(url.clone());
    }
    let cid = t.audio_blob_cid.as_deref()?;
    let pds = h.actor(&t.did).and_then(|a| a.pds_endpoint.as_deref())?;
    state.presenter.blob_url(pds, &t.did, cid)
}

pub fn track(state: &AppState, l: &Loaded, t: &TrackRow, record_url: bool) -> TrackResponse {
    let h = &l.h;
    let gated = t.support_gate.is_some();
    let pds = h.actor(&t.did).and_then(|a| a.pds_endpoint.as_deref()).and_then(|p| state.presenter.pds(p));
    let features =
        h.features_including_hidden(t).filter_map(|(d, a)| a.map(|a| user_of(state, d, Some(a)))).collect();
    let labels = labels(h, t);
    // plyr.fm hands out its own `/audio/` route instead of the direct URL for a track whose
    // labels clients gate (list-hidden values), so playback goes where it can be gated.
    let direct = t.audio_url.clone().filter(|_| !labels.iter().any(|l| state.policy.list_hidden.contains(l)));
    let r2_url = direct.or_else(|| Some(format!("{}/audio/{}", state.presenter.public_url, t.file_id)));
    TrackResponse {
        id: t.id,
        title: t.title.clone(),
        artist: t.artist.clone(),
        artist_handle: handle(state, h, &t.did),
        artist_did: t.did.clone(),
        artist_avatar_url: avatar(state, h, &t.did),
        file_id: t.file_id.clone(),
        file_type: t.file_type.clone(),
        features,
        r2_url,
        atproto_record_uri: Some(t.uri.clone()),
        atproto_record_cid: Some(t.cid.clone()),
        atproto_record_url: pds.filter(|_| record_url).map(|pds| {
            format!(
                "{}/xrpc/com.atproto.repo.getRecord?repo={}&collection=fm.plyr.track&rkey={}",
                pds, t.did, t.rkey
            )
        }),
        play_count: t.play_count,
        created_at: iso(t.created_at),
        image_url: t.image_url.clone(),
        thumbnail_url: None,
        is_liked: false,
        like_count: t.like_count,
        comment_count: t.comment_count,
        album: l.albums.get(&t.uri).map(|a| AlbumSummary {
            id: a.list_id.clone(),
            slug: super::slug::slugify(&a.name),
            title: a.name.clone(),
            image_url: None,
            thumbnail_url: None,
        }),
        tags: Vec::new(),
        copyright_flagged: None,
        copyright_match: None,
        support_gate: t.support_gate.as_deref().map(|g| json!({ "type": g })),
        gated,
        downloadable: !gated,
        download_policy: "open",
        artist_support_url: None,
        copyright_song_uri: None,
        copyright_recording_uri: None,
        original_file_id: None,
        original_file_type: None,
        description: t.description.clone(),
        audio_storage: match (&t.audio_blob_cid, &t.audio_url) {
            (Some(_), Some(_)) => "both",
            (Some(_), None) => "pds",
            _ => "r2",
        },
        pds_blob_cid: t.audio_blob_cid.clone(),
        is_optimizing: false,
        visibility: if t.support_gate.as_deref() == Some("any") { "supporters" } else { "public" },
        unlisted: false,
        self_labels: t.self_labels.clone(),
        operator_labels: Vec::new(),
        labels,
    }
}

/// plyr.fm's `labels`: the record's self-labels and the values applied labelers put on it.
fn labels(h: &Hydration, t: &TrackRow) -> Vec<String> {
    let mut labels = t.self_labels.clone();
    for label in h.labels_on(&t.uri) {
        if !labels.iter().any(|v| *v == *label.val) {
            labels.push(label.val.to_string());
        }
    }
    labels
}

pub fn artist(state: &AppState, h: &Hydration, a: &ActorRow) -> ArtistResponse {
    let created = a.profile_created_at.unwrap_or(a.indexed_at);
    ArtistResponse {
        did: a.did.clone(),
        handle: handle(state, h, &a.did),
        display_name: display_name(state, h, &a.did),
        bio: a.bio.clone(),
        avatar_url: avatar(state, h, &a.did),
        created_at: iso(created),
        updated_at: iso(a.indexed_at.max(created)),
        show_liked_on_profile: false,
        support_url: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_and_read_as_python_isoformat() {
        let t = DateTime::from_timestamp_micros(1_772_208_493_146_107).expect("time");
        assert_eq!(iso(t), "2026-02-27T16:08:13.146107+00:00");
        let whole = DateTime::from_timestamp(1_772_208_493, 0).expect("time");
        assert_eq!(iso(whole), "2026-02-27T16:08:13+00:00");
        for s in [
            "2026-02-27T16:08:13.146107+00:00",
            "2026-02-27T16:08:13.146107Z",
            "2026-02-27T16:08:13.146107 00:00",
            "2026-02-27T16:08:13.146107",
        ] {
            assert_eq!(parse_iso(s).expect(s), t, "{s}");
        }
        assert!(parse_iso("yesterday").is_err());
    }

    #[test]
    fn extreme_times_are_clamped_and_read_back() {
        let cases = [
            (DateTime::<Utc>::MIN_UTC, "0000-01-01T00:00:00+00:00"),
            (DateTime::<Utc>::MAX_UTC, "9999-12-31T23:59:59.999999+00:00"),
            (DateTime::from_timestamp(-30_610_224_000, 0).expect("time"), "1000-01-01T00:00:00+00:00"),
        ];
        for (t, expected) in cases {
            assert_eq!(iso(t), expected);
            assert_eq!(iso(parse_iso(expected).expect(expected)), expected, "a cursor reads back");
        }
    }
}
