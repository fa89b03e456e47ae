//! `fm.plyr.graph.*`: an actor's lists, and one list with its items in order.

use jacquard_common::deps::smol_str::SmolStr;
use plyr_atproto::AtUri;
use plyr_lexicons::fm_plyr::graph::get_actor_lists::GetActorListsOutput;
use plyr_lexicons::fm_plyr::graph::get_list::GetListOutput;

use super::{Ctx, page};
use crate::XrpcError;
use crate::cursor::TimeKey;
use crate::db::lists;

pub async fn actor_lists(ctx: &Ctx<'_>) -> Result<GetActorListsOutput, XrpcError> {
    let actor = ctx.params.required("actor")?;
    let did = ctx.actor_did(actor).await?.ok_or_else(|| XrpcError::Named {
        name: "ActorNotFound",
        message: format!("actor {actor} is not indexed"),
    })?;
    let limit = ctx.params.limit();
    let after = TimeKey::decode(ctx.params.str("cursor"))?;
    let rows = lists::by_actor(&ctx.state.db, &did, ctx.params.str("listType"), &after, limit + 1).await?;
    let (rows, cursor) = page(rows, limit, |s| TimeKey { at: s.at, uri: s.uri.to_string() }.encode());
    let uris: Vec<AtUri> = rows.into_iter().map(|s| s.uri).collect();
    let h = ctx.hydrator().lists(&uris).await?;
    let lists =
        uris.iter().filter_map(|u| h.list(u)).filter_map(|l| ctx.state.presenter.list(&h, l)).collect();
    Ok(GetActorListsOutput { lists, cursor: cursor.map(SmolStr::from), extra_data: None })
}

pub async fn list(ctx: &Ctx<'_>) -> Result<GetListOutput, XrpcError> {
    let uri = ctx.params.required_at_uri("list")?;
    let not_found = || XrpcError::Named { name: "NotFound", message: format!("list {uri} is not indexed") };
    let limit = ctx.params.limit();
    let after = match ctx.params.str("cursor") {
        None => -1,
        Some(c) => c
            .parse::<i32>()
            .ok()
            .filter(|p| *p >= 0)
            .ok_or_else(|| XrpcError::InvalidRequest("malformed cursor".into()))?,
    };
    let mut h = ctx.hydrator().lists(std::slice::from_ref(&uri)).await?;
    let row = h.list(&uri).cloned().ok_or_else(not_found)?;
    let list = ctx.state.presenter.list(&h, &row).ok_or_else(not_found)?;

    let items = lists::items(&ctx.state.db, &uri, after, limit + 1).await?;
    let (items, cursor) = page(items, limit, |i| i.position.to_string());
    let subjects: Vec<AtUri> = items.iter().map(|i| i.subject_uri.clone()).collect();
    ctx.hydrator().add_tracks(&mut h, &subjects).await?;
    let items = items
        .iter()
        .filter_map(|i| {
            let track = h.track(&i.subject_uri).and_then(|t| ctx.state.presenter.track(&h, t));
            ctx.state.presenter.list_item(i, track)
        })
        .collect();
    Ok(GetListOutput { list, items, cursor: cursor.map(SmolStr::from), extra_data: None })
}
