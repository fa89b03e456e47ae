//! `fm.plyr.actor.*`: profiles and actor search.

use jacquard_common::deps::smol_str::SmolStr;
use plyr_atproto::Did;
use plyr_lexicons::fm_plyr::ProfileView;
use plyr_lexicons::fm_plyr::actor::get_profiles::GetProfilesOutput;
use plyr_lexicons::fm_plyr::actor::search_actors::SearchActorsOutput;
use serde::Serialize;

use super::{Ctx, page};
use crate::db::Hit;
use crate::db::search::Query;
use crate::moderation::Context;
use crate::{XrpcError, cursor};

/// Presents the visible actors among `dids`, in order, as `context` shows them.
async fn present(ctx: &Ctx<'_>, dids: &[Did], context: Context) -> Result<Vec<ProfileView>, XrpcError> {
    let h = ctx.hydrator().in_context(context).actors(dids).await?;
    Ok(dids.iter().filter_map(|d| h.actor(d)).filter_map(|a| ctx.state.presenter.profile(&h, a)).collect())
}

pub async fn profile(ctx: &Ctx<'_>) -> Result<ProfileView, XrpcError> {
    let actor = ctx.params.required("actor")?;
    let not_found =
        || XrpcError::Named { name: "ActorNotFound", message: format!("actor {actor} is not indexed") };
    let did = ctx.actor_did(actor).await?.ok_or_else(not_found)?;
    present(ctx, &[did], Context::View).await?.into_iter().next().ok_or_else(not_found)
}

pub async fn profiles(ctx: &Ctx<'_>) -> Result<GetProfilesOutput, XrpcError> {
    let mut dids = Vec::new();
    for actor in ctx.params.list("actors") {
        if let Some(did) = ctx.actor_did(actor).await?
            && !dids.contains(&did)
        {
            dids.push(did);
        }
    }
    Ok(GetProfilesOutput { profiles: present(ctx, &dids, Context::View).await?, extra_data: None })
}

/// `fm.plyr.actor.getNowPlaying`'s output: the listener, and what it plays while its teal.fm
/// status holds.
#[derive(Debug, Serialize)]
pub struct NowPlayingOutput {
    did: Did,
    #[serde(rename = "nowPlaying", skip_serializing_if = "Option::is_none")]
    now_playing: Option<NowPlayingView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NowPlayingView {
    track_name: String,
    artist_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    release_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<i32>,
    started_at: String,
    expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    track: Option<crate::track_views::Shown>,
}

/// A DID names any account (a listener need not be indexed); a handle must be an indexed one's.
pub async fn now_playing(ctx: &Ctx<'_>) -> Result<NowPlayingOutput, XrpcError> {
    let actor = ctx.params.required("actor")?;
    let not_found =
        || XrpcError::Named { name: "ActorNotFound", message: format!("actor {actor} is not indexed") };
    let did = if actor.starts_with("did:") {
        Did::new(actor).map_err(|_| not_found())?
    } else {
        crate::db::actors::did_by_handle(&ctx.state.db, actor).await?.ok_or_else(not_found)?
    };
    let status = crate::db::plays::now_playing(&ctx.state.db, &did, chrono::Utc::now()).await?;
    let Some(status) = status else { return Ok(NowPlayingOutput { did, now_playing: None }) };
    let track = match &status.track {
        Some(uri) => {
            ctx.track_page(std::slice::from_ref(uri), None, Context::View).await?.tracks.into_iter().next()
        }
        None => None,
    };
    let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let view = NowPlayingView {
        track_name: status.track_name,
        artist_name: status.artist_name,
        release_name: status.release_name,
        duration: status.duration,
        started_at: time(status.started_at),
        expires_at: time(status.expires_at),
        track,
    };
    Ok(NowPlayingOutput { did, now_playing: Some(view) })
}

pub async fn search(ctx: &Ctx<'_>) -> Result<SearchActorsOutput, XrpcError> {
    let q = Query::new(ctx.params.required("q")?);
    let limit = ctx.params.limit();
    let offset = cursor::decode_offset(ctx.params.str("cursor"))?;
    if q.text.is_empty() {
        return Ok(SearchActorsOutput { actors: Vec::new(), cursor: None, extra_data: None });
    }
    let hits = crate::search::actors(&ctx.state.db, &ctx.state.caches.search, &q, limit + 1, offset).await?;
    let (hits, more) = page(hits, limit, |_| String::new());
    let dids: Vec<Did> = hits.into_iter().map(Hit::into_did).collect();
    Ok(SearchActorsOutput {
        actors: present(ctx, &dids, Context::List).await?,
        cursor: more.map(|_| SmolStr::from((offset + limit).to_string())),
        extra_data: None,
    })
}
