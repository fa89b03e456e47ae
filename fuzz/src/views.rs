//! Target `record_views`: a Jetstream line whose record passes validation is turned into the
//! rows the AppView would read back (what the write path stores, field for field), then presented
//! by every view that shows it (XRPC `fm.plyr.defs#*` and the REST responses) and serialized.
//! The invariant: every record that passes validation can be shown without a panic.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use plyr_appview::db::actors::ActorRow;
use plyr_appview::db::lists::{ItemRow, ListRow};
use plyr_appview::db::social::{CommentRow, LikeRow};
use plyr_appview::db::tracks::TrackRow;
use plyr_appview::hydrate::{Found, Hydration, Judge};
use plyr_appview::rest::present::{self, Loaded};
use plyr_appview::{AppState, AppviewOptions};
use plyr_atproto::{AtUri, Did, Handle};
use plyr_indexer::write::collections::Row;

use crate::RUNTIME;
use crate::record::Extracted;

static STATE: LazyLock<AppState> = LazyLock::new(|| {
    let _guard = RUNTIME.enter();
    let pool = sqlx::PgPool::connect_lazy("postgres://fuzz@127.0.0.1:1/none").expect("a lazy pool");
    let mut options = AppviewOptions::defaults("127.0.0.1:0".parse().expect("an address"));
    options.public_url = Some("https://appview.fuzz.invalid".into());
    AppState::new(pool, options)
});

pub fn run(data: &[u8]) {
    for e in crate::jetstream::run(data) {
        present_all(&e);
    }
}

/// The actor behind every record, as the indexer leaves it (verified handle, a PDS), with the
/// profile fields `row` sets when it is a profile.
fn actor(e: &Extracted) -> ActorRow {
    let mut a = ActorRow {
        did: Did::from_trusted(e.did.as_str()),
        handle: Some(Handle::from_trusted("artist.fuzz.invalid")),
        handle_verified: true,
        pds_endpoint: Some("https://pds.fuzz.invalid".into()),
        hidden: false,
        indexed_at: e.indexed_at,
        display_name: None,
        avatar_cid: None,
        bio: None,
        plyr_avatar_url: None,
        profile_created_at: None,
        tracks: 1,
        albums: 0,
        playlists: 0,
        likes: 0,
    };
    match &e.row {
        Row::PlyrProfile(p) => {
            a.bio.clone_from(&p.bio);
            a.plyr_avatar_url.clone_from(&p.avatar_url);
            a.profile_created_at = Some(p.created_at);
        }
        Row::BskyProfile(p) => {
            a.display_name.clone_from(&p.display_name);
            a.avatar_cid = p.avatar.as_ref().map(|(cid, _)| cid.clone());
        }
        _ => {}
    }
    a
}

/// A track for likes, comments and list items to point at, when the record is not one.
fn track(e: &Extracted) -> TrackRow {
    let t = match &e.row {
        Row::Track(t) => Some(t.as_ref()),
        _ => None,
    };
    let at = |f: fn(&plyr_indexer::db::tracks::TrackRow) -> DateTime<Utc>| t.map_or(e.indexed_at, f);
    TrackRow {
        uri: AtUri::from_trusted(e.uri.as_str()),
        id: t.map_or(1, |t| t.id),
        cid: e.cid.clone(),
        did: Did::from_trusted(e.did.as_str()),
        rkey: e.uri.rsplit('/').next().unwrap_or_default().to_owned(),
        title: t.map_or_else(|| "t".into(), |t| t.title.clone()),
        artist: t.map_or_else(|| "a".into(), |t| t.artist.clone()),
        album: t.and_then(|t| t.album.clone()),
        duration: t.and_then(|t| t.duration),
        description: t.and_then(|t| t.description.clone()),
        file_type: t.map_or_else(|| "mp3".into(), |t| t.file_type.clone()),
        file_id: t.map_or_else(|| "f".into(), |t| t.file_id.clone()),
        image_url: t.and_then(|t| t.image_url.clone()),
        audio_url: t.and_then(|t| t.audio_url.clone()),
        audio_blob_cid: t.and_then(|t| t.audio_blob.as_ref().map(|b| b.0.clone())),
        audio_blob_mime: t.and_then(|t| t.audio_blob.as_ref().map(|b| b.1.clone())),
        audio_blob_size: t.and_then(|t| t.audio_blob.as_ref().map(|b| b.2)),
        features: t
            .map(|t| t.features.iter().map(|d| Did::from_trusted(d.as_str())).collect())
            .unwrap_or_default(),
        support_gate: t.and_then(|t| t.support_gate.clone()),
        self_labels: t.map(|t| t.self_labels.clone()).unwrap_or_default(),
        created_at: at(|t| t.created_at),
        indexed_at: e.indexed_at,
        sort_at: at(|t| t.sort_at),
        like_count: i64::MAX,
        comment_count: 0,
        play_count: i64::MAX,
    }
}

/// Presents `e` through every view that shows its record, and serializes each.
fn present_all(e: &Extracted) {
    let state = &*STATE;
    let p = &state.presenter;
    let actor = actor(e);
    let track = track(e);
    let mut h = Hydration::new(true);
    let found = Found {
        actors: [(Did::from_trusted(e.did.as_str()), Arc::new(actor.clone()))].into(),
        tracks: [(track.uri.clone(), Arc::new(track.clone()))].into(),
        viewer_likes: [(track.uri.clone(), AtUri::from_trusted(e.uri.as_str()))].into(),
        ..Found::default()
    };
    // No label is hidden: every record is presented, whatever self-labels it carries.
    h.absorb(found, Judge { hiding: &[], viewer: None });
    let mut out: Vec<serde_json::Result<String>> = Vec::new();
    out.push(serde_json::to_string(&p.profile(&h, &actor)));
    out.push(serde_json::to_string(&p.profile_basic(&h, &e.did)));
    out.push(serde_json::to_string(&p.track(&h, &track)));
    let loaded = Loaded { h, albums: HashMap::new() };
    out.push(serde_json::to_string(&present::track(state, &loaded, &track, true)));
    out.push(serde_json::to_string(&present::artist(state, &loaded.h, &actor)));
    let h = &loaded.h;
    match &e.row {
        Row::Like(l) => {
            let like = LikeRow {
                uri: AtUri::from_trusted(e.uri.as_str()),
                cid: e.cid.clone(),
                did: Did::from_trusted(e.did.as_str()),
                subject_uri: l.subject_uri.clone(),
                created_at: l.created_at,
                indexed_at: e.indexed_at,
                sort_at: l.sort_at,
            };
            out.push(serde_json::to_string(&p.like(h, &like)));
            out.push(Ok(present::iso(like.created_at)));
        }
        Row::Comment(c) => {
            let comment = CommentRow {
                uri: AtUri::from_trusted(e.uri.as_str()),
                cid: e.cid.clone(),
                did: Did::from_trusted(e.did.as_str()),
                subject_uri: c.subject_uri.clone(),
                text: c.text.clone(),
                timestamp_ms: c.timestamp_ms,
                created_at: c.created_at,
                updated_at: c.updated_at,
                indexed_at: e.indexed_at,
            };
            out.push(serde_json::to_string(&p.comment(h, &comment)));
            out.push(Ok(present::iso(comment.created_at)));
            out.extend(comment.updated_at.map(|t| Ok(present::iso(t))));
        }
        Row::List(l) => {
            let list = ListRow {
                uri: AtUri::from_trusted(e.uri.as_str()),
                id: l.id.clone(),
                cid: e.cid.clone(),
                did: Did::from_trusted(e.did.as_str()),
                rkey: track.rkey.clone(),
                name: l.name.clone(),
                list_type: l.list_type.clone(),
                item_count: i32::try_from(l.items.len()).unwrap_or(i32::MAX),
                created_at: l.created_at,
                updated_at: l.updated_at,
                indexed_at: e.indexed_at,
                sort_at: l.sort_at,
            };
            out.push(serde_json::to_string(&p.list(h, &list)));
            for (i, (uri, cid)) in l.items.iter().enumerate() {
                let item = ItemRow {
                    position: i as i32,
                    subject_uri: AtUri::from_trusted(uri.as_str()),
                    subject_cid: cid.clone(),
                };
                out.push(serde_json::to_string(&p.list_item(&item, p.track(h, &track))));
            }
            out.push(Ok(present::iso(list.created_at)));
            out.extend(l.added_at.iter().map(|t| Ok(present::iso(*t))));
        }
        // Plays and statuses have no view of their own: they are counts and now playing.
        Row::Track(_) | Row::PlyrProfile(_) | Row::BskyProfile(_) | Row::Play(_) | Row::Status(_) => {}
    }
    for json in out {
        json.expect("a view serializes");
    }
}
