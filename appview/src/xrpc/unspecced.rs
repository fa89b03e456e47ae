//! `fm.plyr.unspecced.*`: totals, and search across every kind of thing at once.

use plyr_atproto::{AtUri, Did};
use plyr_lexicons::fm_plyr::unspecced::get_stats::GetStatsOutput;
use plyr_lexicons::fm_plyr::{ListView, ProfileView};
use serde::Serialize;

use super::Ctx;
use crate::XrpcError;
use crate::db::Hit;
use crate::db::search::Query;
use crate::db::tracks;
use crate::moderation::Context;

pub async fn stats(ctx: &Ctx<'_>) -> Result<GetStatsOutput, XrpcError> {
    let t = tracks::totals(&ctx.state.db).await?;
    Ok(GetStatsOutput {
        tracks: t.tracks,
        artists: t.artists,
        likes: t.likes,
        plays: t.plays,
        comments: t.comments,
        lists: t.lists,
        total_duration_seconds: t.duration_seconds,
        extra_data: None,
    })
}

/// The lexicon's `SearchOutput`, its tracks written from the kept JSON views
/// ([`crate::track_views`]) as the track feeds write theirs.
#[derive(Debug, Default, Serialize)]
pub struct SearchPage {
    pub albums: Vec<ListView>,
    pub artists: Vec<ProfileView>,
    pub playlists: Vec<ListView>,
    pub tracks: Vec<crate::track_views::Shown>,
}

pub async fn search(ctx: &Ctx<'_>) -> Result<SearchPage, XrpcError> {
    let q = Query::new(ctx.params.required("q")?);
    let limit = ctx.params.int("limit").unwrap_or(20);
    let types = ctx.params.list("types");
    let wants = |t: &str| types.is_empty() || types.iter().any(|x| x == t);
    let mut out = SearchPage::default();
    if q.text.is_empty() {
        return Ok(out);
    }
    let db = &ctx.state.db;
    let index = &ctx.state.caches.search;
    let (tracks, artists, albums, playlists) = tokio::try_join!(
        async {
            if wants("track") { crate::search::tracks(db, index, &q, limit, 0).await } else { Ok(Vec::new()) }
        },
        async {
            if wants("artist") {
                crate::search::actors(db, index, &q, limit, 0).await
            } else {
                Ok(Vec::new())
            }
        },
        async {
            if wants("album") {
                crate::search::lists(db, index, &q, "album", limit).await
            } else {
                Ok(Vec::new())
            }
        },
        async {
            if wants("playlist") {
                crate::search::lists(db, index, &q, "playlist", limit).await
            } else {
                Ok(Vec::new())
            }
        },
    )?;
    let keys = |hits: Vec<Hit>| -> Vec<AtUri> { hits.into_iter().map(Hit::into_uri).collect() };
    out.tracks = ctx.track_page(&keys(tracks), None, Context::List).await?.tracks;
    let dids: Vec<Did> = artists.into_iter().map(Hit::into_did).collect();
    let h = ctx.hydrator().listing().actors(&dids).await?;
    out.artists =
        dids.iter().filter_map(|d| h.actor(d)).filter_map(|a| ctx.state.presenter.profile(&h, a)).collect();
    let (albums, playlists) = (keys(albums), keys(playlists));
    let all: Vec<AtUri> = albums.iter().chain(&playlists).cloned().collect();
    let h = ctx.hydrator().listing().lists(&all).await?;
    let present = |uris: &[AtUri]| {
        uris.iter().filter_map(|u| h.list(u)).filter_map(|l| ctx.state.presenter.list(&h, l)).collect()
    };
    out.albums = present(&albums);
    out.playlists = present(&playlists);
    Ok(out)
}
