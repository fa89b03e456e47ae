//! Presentation: pure, synchronous functions that turn hydrated rows into the lexicon views
//! (`fm.plyr.defs#*`, the generated types). No I/O here. A row whose stored strings do not parse
//! as the view's formats (which the indexer's validation should make impossible) is logged and
//! left out rather than served malformed.

use chrono::{DateTime, Utc};
use jacquard_common::deps::smol_str::SmolStr;
use jacquard_common::types::string::{AtUri, Cid, Datetime, Did, Handle, UriValue};
use plyr_lexicons::com_atproto::repo::strong_ref::StrongRef;
use plyr_lexicons::fm_plyr::{
    AudioView, AudioViewSource, CommentView, LikeView, ListItemView, ListView, ListViewListType, ProfileView,
    ProfileViewBasic, SupportGateView, SupportGateViewType, TrackView, TrackViewerState,
};

use crate::db::actors::ActorRow;
use crate::db::lists::{ItemRow, ListRow};
use crate::db::social::{CommentRow, LikeRow};
use crate::db::tracks::TrackRow;
use crate::hydrate::Hydration;
use plyr_lexicons::com_atproto::label::Label;

/// What presentation needs to know about this deployment.
#[derive(Debug, Clone)]
pub struct Presenter {
    /// This AppView's public base URL (no trailing slash).
    pub public_url: String,
    /// Base of avatar image URLs (`<cdn>/<did>/<cid>@jpeg`); the actor's PDS `getBlob` when empty.
    pub avatar_cdn: String,
    /// Which PDS endpoints blob URLs may point at.
    pub network: plyr_atproto::outbound::NetworkPolicy,
}

/// A stored instant as a lexicon datetime, by the data model's one presentation rule (RFC 3339
/// UTC with microseconds, clamped to years 0000-9999: `format_datetime`'s text). Where it can,
/// jacquard's `Datetime::new` writes that text without the regex its string constructors run (a
/// view shows two or three times); it panics outside the nanosecond range (about 1677-2262), so
/// other instants are built from `format_datetime`'s string.
fn time(t: DateTime<Utc>) -> Datetime {
    let clamped = plyr_atproto::syntax::clamp_presentable(t);
    if clamped.timestamp_nanos_opt().is_some() {
        return Datetime::new(clamped.fixed_offset());
    }
    let shown = plyr_atproto::syntax::format_datetime(t);
    Datetime::try_from(shown).unwrap_or_else(|e| {
        // Unreachable: the formatted value is always a valid datetime. Epoch is a safe answer.
        tracing::warn!(at = ?t, error = %e, "presented datetime does not parse");
        Datetime::raw_str("1970-01-01T00:00:00.000000Z")
    })
}

fn did(s: &str) -> Option<Did> {
    Did::new_owned(s).map_err(|e| tracing::warn!(did = s, error = %e, "stored DID does not parse")).ok()
}

fn at_uri(s: &str) -> Option<AtUri> {
    AtUri::new_owned(s).map_err(|e| tracing::warn!(uri = s, error = %e, "stored AT-URI does not parse")).ok()
}

fn uri(s: &str) -> Option<UriValue> {
    UriValue::new_owned(s).ok()
}

fn cid(s: &str) -> Cid {
    Cid::Str(SmolStr::new(s))
}

/// The actor's handle when it is verified both ways, else `handle.invalid`.
fn handle(a: Option<&ActorRow>) -> Option<Handle> {
    a.filter(|a| a.handle_verified)
        .and_then(|a| a.handle.as_deref())
        .and_then(|h| Handle::new_owned(h).ok())
        .or_else(|| Handle::new_static("handle.invalid").ok())
}

impl Presenter {
    /// A `getBlob` URL on the account's PDS; `None` when the endpoint fails the network policy
    /// (plain http, a private host: never handed out).
    pub fn blob_url(&self, pds: &str, did: &str, cid: &str) -> Option<String> {
        let pds = self.pds(pds)?;
        Some(format!("{pds}/xrpc/com.atproto.sync.getBlob?did={did}&cid={cid}"))
    }

    /// The account's PDS endpoint (without a trailing slash) if the network policy allows it.
    pub fn pds<'a>(&self, endpoint: &'a str) -> Option<&'a str> {
        match self.network.check_endpoint(endpoint) {
            Ok(_) => Some(endpoint.trim_end_matches('/')),
            Err(reason) => {
                tracing::debug!(endpoint, %reason, "PDS endpoint refused by the network policy");
                None
            }
        }
    }

    /// The actor's avatar URL, if any.
    pub fn avatar(&self, a: &ActorRow) -> Option<UriValue> {
        if let Some(c) = &a.avatar_cid {
            let url = if !self.avatar_cdn.is_empty() {
                Some(format!("{}/{}/{c}@jpeg", self.avatar_cdn.trim_end_matches('/'), a.did))
            } else {
                a.pds_endpoint.as_deref().and_then(|pds| self.blob_url(pds, &a.did, c))
            };
            if let Some(u) = url.as_deref().and_then(uri) {
                return Some(u);
            }
        }
        a.plyr_avatar_url.as_deref().and_then(uri)
    }

    /// An actor as embedded in other views; an actor not (yet) known, or hidden, shows as
    /// `handle.invalid`.
    pub fn profile_basic(&self, h: &Hydration, did_str: &str) -> Option<ProfileViewBasic> {
        self.basic(did_str, h.actor(did_str))
    }

    /// [`Self::profile_basic`] from the actor's row (`None`: not known).
    pub fn basic(&self, did_str: &str, a: Option<&ActorRow>) -> Option<ProfileViewBasic> {
        Some(ProfileViewBasic {
            did: did(did_str)?,
            handle: handle(a)?,
            display_name: a.and_then(|a| a.display_name.as_deref()).map(SmolStr::new),
            avatar: a.and_then(|a| self.avatar(a)),
            extra_data: None,
        })
    }

    /// An actor with their profile, counts and labels.
    pub fn profile(&self, h: &Hydration, a: &ActorRow) -> Option<ProfileView> {
        Some(ProfileView {
            did: did(&a.did)?,
            handle: handle(Some(a))?,
            display_name: a.display_name.as_deref().map(SmolStr::new),
            avatar: self.avatar(a),
            bio: a.bio.as_deref().map(SmolStr::new),
            track_count: a.tracks,
            album_count: a.albums,
            playlist_count: a.playlists,
            like_count: a.likes,
            created_at: a.profile_created_at.map(time),
            indexed_at: time(a.indexed_at),
            labels: parsed(&label_texts(h, &a.did, Vec::new())),
            extra_data: None,
        })
    }

    /// Where a player fetches the track: the blob on the artist's PDS, or the trusted URL.
    /// While the artist's PDS is not resolved yet (or is refused by the network policy), the
    /// blob is served through this AppView's `/audio/<file_id>` redirect.
    pub fn audio(&self, h: &Hydration, t: &TrackRow) -> Option<AudioView> {
        let (url, source) = match (&t.audio_blob_cid, &t.audio_url) {
            (Some(c), _) => {
                let pds = h.actor(&t.did).and_then(|a| a.pds_endpoint.as_deref());
                let url = pds
                    .and_then(|pds| self.blob_url(pds, &t.did, c))
                    .unwrap_or_else(|| format!("{}/audio/{}", self.public_url, t.file_id));
                (url, AudioViewSource::Blob)
            }
            (None, Some(u)) => (u.clone(), AudioViewSource::Url),
            (None, None) => return None,
        };
        Some(AudioView {
            url: uri(&url)?,
            source,
            cid: t.audio_blob_cid.as_deref().map(cid),
            mime_type: t.audio_blob_mime.as_deref().map(SmolStr::new),
            size: t.audio_blob_size,
            file_type: SmolStr::new(&t.file_type),
            extra_data: None,
        })
    }

    /// A track with its labels, and the viewer's state when the request has a viewer.
    pub fn track(&self, h: &Hydration, t: &TrackRow) -> Option<TrackView> {
        let mut view = self.track_shared(h, t)?;
        view.labels = parsed(&self.track_labels(h, t));
        if h.has_viewer() {
            view.viewer = Some(self.viewer_state(h, &t.uri));
        }
        Some(view)
    }

    /// The labels a view of `t` carries, as JSON texts: its self-labels (src: the author), then
    /// those of the labelers the request applies.
    pub fn track_labels(&self, h: &Hydration, t: &TrackRow) -> Vec<String> {
        let own = t
            .self_labels
            .iter()
            .map(|val| {
                serde_json::json!({
                    "src": t.did.as_str(), "uri": t.uri.as_str(), "cid": t.cid, "val": val,
                    "cts": t.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                })
                .to_string()
            })
            .collect();
        label_texts(h, &t.uri, own)
    }

    /// The viewer's relationship to the track at `uri` (for a request with a viewer).
    pub fn viewer_state(&self, h: &Hydration, uri: &str) -> TrackViewerState {
        TrackViewerState { like: h.viewer_like(uri).and_then(at_uri), extra_data: None }
    }

    /// A track as every viewer sees it (no viewer state).
    pub fn track_shared(&self, h: &Hydration, t: &TrackRow) -> Option<TrackView> {
        let features: Vec<ProfileViewBasic> =
            h.features_including_hidden(t).filter_map(|(d, a)| self.basic(d, a)).collect();
        Some(TrackView {
            uri: at_uri(&t.uri)?,
            cid: cid(&t.cid),
            title: SmolStr::new(&t.title),
            artist: SmolStr::new(&t.artist),
            author: self.profile_basic(h, &t.did)?,
            album: t.album.as_deref().map(SmolStr::new),
            duration: t.duration.map(i64::from),
            description: t.description.as_deref().map(SmolStr::new),
            image_url: t.image_url.as_deref().and_then(uri),
            audio: self.audio(h, t)?,
            features: (!features.is_empty()).then_some(features),
            support_gate: t.support_gate.as_deref().map(|g| SupportGateView {
                r#type: SupportGateViewType::from_value(SmolStr::new(g)),
                extra_data: None,
            }),
            // Per request, like the viewer state: which labelers apply is the request's.
            labels: None,
            like_count: t.like_count,
            play_count: t.play_count,
            comment_count: t.comment_count,
            created_at: time(t.created_at),
            indexed_at: time(t.indexed_at),
            viewer: None,
            extra_data: None,
        })
    }

    pub fn list(&self, h: &Hydration, l: &ListRow) -> Option<ListView> {
        Some(ListView {
            uri: at_uri(&l.uri)?,
            cid: cid(&l.cid),
            name: l.name.as_deref().map(SmolStr::new),
            list_type: l.list_type.as_deref().map(|t| ListViewListType::from_value(SmolStr::new(t))),
            author: self.profile_basic(h, &l.did)?,
            item_count: i64::from(l.item_count),
            created_at: time(l.created_at),
            indexed_at: time(l.indexed_at),
            labels: parsed(&label_texts(h, &l.uri, Vec::new())),
            extra_data: None,
        })
    }

    /// One list entry; the track is included when it is indexed and visible.
    pub fn list_item(&self, item: &ItemRow, track: Option<TrackView>) -> Option<ListItemView> {
        Some(ListItemView {
            position: i64::from(item.position),
            subject: StrongRef {
                uri: at_uri(&item.subject_uri)?,
                cid: cid(&item.subject_cid),
                extra_data: None,
            },
            track,
            extra_data: None,
        })
    }

    pub fn comment(&self, h: &Hydration, c: &CommentRow) -> Option<CommentView> {
        Some(CommentView {
            uri: at_uri(&c.uri)?,
            cid: cid(&c.cid),
            author: self.profile_basic(h, &c.did)?,
            subject: at_uri(&c.subject_uri)?,
            text: SmolStr::new(&c.text),
            timestamp_ms: c.timestamp_ms,
            created_at: time(c.created_at),
            updated_at: c.updated_at.map(time),
            indexed_at: time(c.indexed_at),
            labels: parsed(&label_texts(h, &c.uri, Vec::new())),
            extra_data: None,
        })
    }

    pub fn like(&self, h: &Hydration, l: &LikeRow) -> Option<LikeView> {
        Some(LikeView {
            uri: at_uri(&l.uri)?,
            cid: cid(&l.cid),
            author: self.profile_basic(h, &l.did)?,
            subject: at_uri(&l.subject_uri)?,
            created_at: time(l.created_at),
            indexed_at: time(l.indexed_at),
            extra_data: None,
        })
    }
}

/// `own` labels, then those the request's labelers put on `key`, as JSON texts.
fn label_texts(h: &Hydration, key: &str, mut own: Vec<String>) -> Vec<String> {
    own.extend(h.labels_on(key).iter().map(|l| l.json.get().to_owned()));
    own
}

/// Labels as the generated type; `None` when there are none (the field is left out).
fn parsed(texts: &[String]) -> Option<Vec<Label>> {
    let labels: Vec<Label> = texts
        .iter()
        .filter_map(|t| {
            serde_json::from_str(t)
                .map_err(|e| tracing::warn!(label = %t, error = %e, "label not presentable"))
                .ok()
        })
        .collect();
    (!labels.is_empty()).then_some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_instant_presents_without_panicking() {
        let at = |s: i64| DateTime::from_timestamp(s, 0).expect("in chrono's range");
        let cases = [
            (DateTime::<Utc>::MIN_UTC, "0000-01-01T00:00:00.000000Z"),
            (DateTime::<Utc>::MAX_UTC, "9999-12-31T23:59:59.999999Z"),
            (at(-62_167_219_200), "0000-01-01T00:00:00.000000Z"),
            (at(-30_610_224_000), "1000-01-01T00:00:00.000000Z"),
            (at(253_402_300_799), "9999-12-31T23:59:59.000000Z"),
            (at(1_700_000_000), "2023-11-14T22:13:20.000000Z"),
            (at(0), "1970-01-01T00:00:00.000000Z"),
            (at(-5_000_000_000), "1811-07-23T15:06:40.000000Z"),
            (at(9_000_000_000), "2255-03-14T16:00:00.000000Z"),
            (at(10_000_000_000), "2286-11-20T17:46:40.000000Z"),
            (
                DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("in range"),
                "2023-11-14T22:13:20.123456Z",
            ),
        ];
        for (t, expected) in cases {
            assert_eq!(time(t).as_str(), expected);
        }
    }
}
