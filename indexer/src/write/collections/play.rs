//! teal.fm plays, `fm.teal.feed.play` and the earlier `fm.teal.alpha.feed.play`: one listen
//! each, kept from any account (a listener need not publish anything on plyr) when it can be
//! about an indexed track: written by plyr.fm, or naming an `fm.plyr.track` AT-URI. Each counts
//! once for the track it matches (`db::plays`); a replaced (putRecord) or deleted play moves its
//! count back first.

use futures_util::future::BoxFuture;
use ipld_core::ipld::Ipld;
use plyr_lexicons::read::{TealAlphaPlay, TealPlay};

use super::{Collection, Origin, Reject, Row, Run, utc};
use crate::db::Tx;
use crate::db::plays::{self, Heard, PlayRow};
use crate::write::deltas::Deltas;
use crate::write::rules::{TrustedOrigins, sort_time};

/// plyr.fm's `musicServiceUri` (current plays) and `musicServiceBaseDomain` (alpha plays).
const PLYR_SERVICE_URI: &str = "https://plyr.fm";
const PLYR_SERVICE_DOMAIN: &str = "plyr.fm";

#[derive(Debug)]
pub struct Play;

#[derive(Debug)]
pub struct AlphaPlay;

impl Collection for Play {
    const NSID: &'static str = TealPlay::NSID;
    type Record = TealPlay;
    const CREATES_ACTORS: bool = false;
    const ANY_ACCOUNT: bool = true;

    fn row(origin: Origin<'_>, play: TealPlay, _: &Ipld, _: &TrustedOrigins) -> Result<Row, Reject> {
        let from_plyr = play.music_service_uri.as_deref().is_some_and(is_plyr_service);
        let artists = play.artists.map(|a| a.into_iter().map(|a| a.artist_name).collect());
        let heard = heard(
            play.track_name,
            artists,
            play.artist_names,
            play.release_name,
            play.duration,
            play.origin_uri,
        );
        row(Self::NSID, origin, heard, from_plyr, play.played_time.as_deref())
    }

    fn purge<'a>(tx: &'a mut Tx<'_>, did: &'a str, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(purge(tx, did, d))
    }

    fn apply<'a>(tx: &'a mut Tx<'_>, run: Run<'a>, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(apply(tx, run, d))
    }
}

impl Collection for AlphaPlay {
    const NSID: &'static str = TealAlphaPlay::NSID;
    type Record = TealAlphaPlay;
    const CREATES_ACTORS: bool = false;
    const ANY_ACCOUNT: bool = true;

    fn row(origin: Origin<'_>, play: TealAlphaPlay, raw: &Ipld, _: &TrustedOrigins) -> Result<Row, Reject> {
        // plyr.fm wrote alpha plays with `musicServiceBaseDomain: "plyr.fm"` and `originUrl`;
        // a newer writer may add the current namespace's `musicServiceUri` as an extra field.
        let undeclared_uri = match raw {
            Ipld::Map(fields) => match fields.get("musicServiceUri") {
                Some(Ipld::String(uri)) => Some(uri.as_str()),
                _ => None,
            },
            _ => None,
        };
        let from_plyr = play.music_service_base_domain.as_deref() == Some(PLYR_SERVICE_DOMAIN)
            || undeclared_uri.is_some_and(is_plyr_service);
        let artists = play.artists.map(|a| a.into_iter().map(|a| a.artist_name).collect());
        let heard = heard(
            play.track_name,
            artists,
            play.artist_names,
            play.release_name,
            play.duration,
            play.origin_url,
        );
        row(Self::NSID, origin, heard, from_plyr, play.played_time.as_deref())
    }

    fn purge<'a>(tx: &'a mut Tx<'_>, did: &'a str, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(purge(tx, did, d))
    }

    fn apply<'a>(tx: &'a mut Tx<'_>, run: Run<'a>, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(apply(tx, run, d))
    }
}

/// Whether a `musicServiceUri` names plyr.fm.
pub(super) fn is_plyr_service(uri: &str) -> bool {
    uri.trim_end_matches('/') == PLYR_SERVICE_URI
}

/// A listen is kept when it can be about an indexed track: written by plyr.fm, or naming one.
pub(super) fn about_plyr(from_plyr: bool, heard: &Heard) -> Result<(), Reject> {
    if from_plyr || heard.direct_uri.is_some() { Ok(()) } else { Err(Reject::NotPlyr) }
}

/// The stored fields of a play view, from a record of either namespace.
pub fn heard(
    track_name: String,
    artists: Option<Vec<String>>,
    artist_names: Option<Vec<String>>,
    release_name: Option<String>,
    duration: Option<i64>,
    origin: Option<String>,
) -> Heard {
    // `artists` replaced the deprecated `artistNames`; either may be the one a client wrote.
    let artist_name = artists
        .and_then(|a| a.into_iter().next())
        .or_else(|| artist_names.and_then(|a| a.into_iter().next()))
        .unwrap_or_default();
    let direct_uri = origin.as_deref().and_then(plyr_track_uri);
    Heard {
        track_name,
        artist_name,
        release_name: release_name.filter(|r| !r.is_empty()),
        duration: duration.and_then(|d| i32::try_from(d).ok()).filter(|d| *d >= 0),
        origin_uri: origin,
        direct_uri,
    }
}

/// `origin` as the AT-URI of an `fm.plyr.track` named by DID, the only form a track is stored under.
pub fn plyr_track_uri(origin: &str) -> Option<String> {
    plyr_atproto::AtUri::new(origin).ok()?;
    let mut parts = origin.strip_prefix("at://")?.split('/');
    let (did, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    let whole = parts.next().is_none() && !rkey.is_empty();
    (whole && did.starts_with("did:") && collection == plyr_lexicons::read::Track::NSID)
        .then(|| origin.to_owned())
}

fn row(
    collection: &'static str,
    origin: Origin<'_>,
    heard: Heard,
    from_plyr: bool,
    played_time: Option<&str>,
) -> Result<Row, Reject> {
    about_plyr(from_plyr, &heard)?;
    // A play claiming a time well after it was seen is placed when it was seen, as feeds do.
    let played_at =
        played_time.and_then(utc).map_or(origin.indexed_at, |at| sort_time(at, origin.indexed_at));
    Ok(Row::Play(Box::new(PlayRow { collection, heard, played_at })))
}

async fn apply(tx: &mut Tx<'_>, run: Run<'_>, d: &mut Deltas) -> sqlx::Result<()> {
    if run.changes.is_empty() {
        return Ok(());
    }
    // Every play this run replaces or removes stops counting (read under its key's lock, so no
    // track writer moves it meanwhile); every play it writes is matched afresh and counts for
    // its match (under the new keys' locks, taken after the write: `db::plays`).
    let were_live = run.were_live();
    let old_keys = plays::keys_of(tx, &were_live).await?;
    plays::lock_keys(tx, &old_keys, false).await?;
    for play in plays::matched(tx, &were_live).await? {
        d.play(&play.track, play.played_at, -1);
    }
    let mut up = Vec::new();
    for c in &run.changes {
        if let Some(Row::Play(r)) = &c.after {
            up.push((&c.meta, &**r));
        }
    }
    plays::delete(tx, &run.removed()).await?;
    plays::upsert(tx, &up).await?;
    let written: Vec<String> = up.iter().map(|(m, _)| m.uri.to_string()).collect();
    let new_keys = plays::keys_of(tx, &written).await?;
    plays::lock_keys(tx, &new_keys, false).await?;
    d.rematched(&plays::rematch(tx, &written, &[]).await?);
    Ok(())
}

/// A deleted account's plays stop counting. No lock: a track writer re-matching one of them
/// waits for its row, and finds it gone or sees what the delete returned.
async fn purge(tx: &mut Tx<'_>, did: &str, d: &mut Deltas) -> sqlx::Result<()> {
    for play in plays::purge(tx, did).await? {
        d.play(&play.track, play.played_at, -1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_track_uri_named_by_did_is_a_direct_match() {
        let uri = "at://did:plc:abc/fm.plyr.track/3jzfcijpj2z2a";
        assert_eq!(plyr_track_uri(uri).as_deref(), Some(uri));
        for other in [
            "https://plyr.fm/track/12",
            "at://did:plc:abc/fm.plyr.like/3jzfcijpj2z2a",
            "at://alice.example/fm.plyr.track/3jzfcijpj2z2a",
            "at://did:plc:abc/fm.plyr.track",
            "at://did:plc:abc",
        ] {
            assert_eq!(plyr_track_uri(other), None, "{other}");
        }
    }

    #[test]
    fn the_first_artist_counts_and_artists_wins_over_the_deprecated_names() {
        let h = heard(
            "Song".into(),
            Some(vec!["A".into(), "B".into()]),
            Some(vec!["C".into()]),
            Some(String::new()),
            Some(-3),
            Some("https://plyr.fm/track/7".into()),
        );
        assert_eq!(
            (h.artist_name.as_str(), h.release_name, h.duration, h.direct_uri),
            ("A", None, None, None)
        );
        let h = heard("Song".into(), None, Some(vec!["C".into()]), None, Some(184), None);
        assert_eq!((h.artist_name.as_str(), h.duration), ("C", Some(184)));
        assert_eq!(heard("Song".into(), None, None, None, None, None).artist_name, "");
    }

    #[test]
    fn a_trailing_slash_still_names_plyr() {
        assert!(is_plyr_service("https://plyr.fm/"));
        assert!(!is_plyr_service("https://plyr.fm.evil.example"));
        assert!(!is_plyr_service("https://open.spotify.com"));
    }
}
