//! `fm.plyr.actor.*`: profiles and actor search.

use jacquard_common::deps::smol_str::SmolStr;
use plyr_atproto::Did;
use plyr_lexicons::fm_plyr::ProfileView;
use plyr_lexicons::fm_plyr::actor::get_profiles::GetProfilesOutput;
use plyr_lexicons::fm_plyr::actor::search_actors::SearchActorsOutput;

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
