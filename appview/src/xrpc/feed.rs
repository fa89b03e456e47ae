//! `fm.plyr.feed.*`: track feeds, likes and comments.

use jacquard_common::deps::smol_str::SmolStr;
use plyr_atproto::AtUri;
use plyr_lexicons::fm_plyr::feed::get_comments::GetCommentsOutput;
use plyr_lexicons::fm_plyr::feed::get_likes::GetLikesOutput;

use super::{Ctx, TrackPage, page};
use crate::XrpcError;
use crate::cursor::{self, NumKey, TimeKey};
use crate::db::feeds::{self, Ranked};
use crate::db::search::Query;
use crate::db::{Hit, social};
use crate::moderation::Context;
use crate::ranking::{self, Metric, Period};

pub async fn latest(ctx: &Ctx<'_>) -> Result<TrackPage, XrpcError> {
    let limit = ctx.params.limit();
    let after = TimeKey::decode(ctx.params.str("cursor"))?;
    let rows = crate::search::latest(&ctx.state.db, &ctx.state.caches.search, &after, limit + 1).await?;
    let (rows, cursor) = page(rows, limit, |s| TimeKey { at: s.at, uri: s.uri.to_string() }.encode());
    let uris: Vec<AtUri> = rows.into_iter().map(|s| s.uri).collect();
    ctx.track_page(&uris, cursor, Context::List).await
}

/// `ActorNotFound` for an actor that is not indexed.
fn actor_not_found(actor: &str) -> XrpcError {
    XrpcError::Named { name: "ActorNotFound", message: format!("actor {actor} is not indexed") }
}

pub async fn actor_tracks(ctx: &Ctx<'_>) -> Result<TrackPage, XrpcError> {
    let actor = ctx.params.required("actor")?;
    let did = ctx.actor_did(actor).await?.ok_or_else(|| actor_not_found(actor))?;
    let limit = ctx.params.limit();
    let after = TimeKey::decode(ctx.params.str("cursor"))?;
    let rows = feeds::by_actor(&ctx.state.db, &did, &after, limit + 1).await?;
    let (rows, cursor) = page(rows, limit, |s| TimeKey { at: s.at, uri: s.uri.to_string() }.encode());
    let uris: Vec<AtUri> = rows.into_iter().map(|s| s.uri).collect();
    ctx.track_page(&uris, cursor, Context::View).await
}

fn top_key(r: &Ranked) -> String {
    format!("{}::{}", r.score, TimeKey { at: r.at, uri: r.uri.to_string() }.encode())
}

/// Position in a ranking just after the entry the cursor names (by its sort key, so a
/// refreshed ranking neither repeats nor skips entries that kept their order).
fn top_offset(ranking: &[Ranked], cursor: Option<&str>) -> Result<usize, XrpcError> {
    let Some(c) = cursor else { return Ok(0) };
    let bad = || XrpcError::InvalidRequest("malformed cursor".into());
    let (n, rest) = c.split_once("::").ok_or_else(bad)?;
    let score: i64 = n.parse().map_err(|_| bad())?;
    let key = TimeKey::decode(Some(rest))?;
    // Descending by (score, at, uri): skip everything ordered at or before the key.
    Ok(ranking.partition_point(|r| (r.score, r.at, r.uri.as_str()) >= (score, key.at, key.uri.as_str())))
}

pub async fn top(ctx: &Ctx<'_>) -> Result<TrackPage, XrpcError> {
    let name = ctx.params.str("period").unwrap_or("all");
    let period = Period::parse(name).ok_or_else(|| {
        XrpcError::InvalidRequest(format!("period must be one of day, week, month, all (got {name:?})"))
    })?;
    let sort = ctx.params.str("sort").unwrap_or("likes");
    let metric = Metric::parse(sort).ok_or_else(|| {
        XrpcError::InvalidRequest(format!("sort must be one of likes, plays (got {sort:?})"))
    })?;
    let ranking = ranking::ranking(ctx.state, metric, period).await?;
    let limit = ctx.params.limit();
    let start = top_offset(&ranking, ctx.params.str("cursor"))?;
    let rest: Vec<Ranked> = ranking.iter().skip(start).take(limit as usize + 1).cloned().collect();
    let (rows, cursor) = page(rest, limit, top_key);
    let uris: Vec<AtUri> = rows.into_iter().map(|r| r.uri).collect();
    ctx.track_page(&uris, cursor, Context::List).await
}

pub async fn tracks(ctx: &Ctx<'_>) -> Result<TrackPage, XrpcError> {
    let uris = ctx.params.at_uris("uris")?;
    ctx.track_page(&uris, None, Context::View).await
}

pub async fn actor_likes(ctx: &Ctx<'_>) -> Result<TrackPage, XrpcError> {
    let actor = ctx.params.required("actor")?;
    let did = ctx.actor_did(actor).await?.ok_or_else(|| actor_not_found(actor))?;
    let limit = ctx.params.limit();
    let after = TimeKey::decode(ctx.params.str("cursor"))?;
    let rows = feeds::liked_by(&ctx.state.db, &did, &after, limit + 1).await?;
    let (rows, cursor) = page(rows, limit, |l| TimeKey { at: l.at, uri: l.like_uri.to_string() }.encode());
    let mut uris: Vec<AtUri> = Vec::with_capacity(rows.len());
    for r in rows {
        // Several likes of one track by one actor show the track once.
        if !uris.contains(&r.subject_uri) {
            uris.push(r.subject_uri);
        }
    }
    ctx.track_page(&uris, cursor, Context::View).await
}

fn subject(ctx: &Ctx<'_>) -> Result<(AtUri, jacquard_common::types::string::AtUri), XrpcError> {
    let uri = ctx.params.required_at_uri("uri")?;
    let parsed = jacquard_common::types::string::AtUri::new_owned(uri.as_str())
        .map_err(|_| XrpcError::InvalidRequest("uri must be an AT-URI".into()))?;
    Ok((uri, parsed))
}

pub async fn likes(ctx: &Ctx<'_>) -> Result<GetLikesOutput, XrpcError> {
    let (subject, parsed) = subject(ctx)?;
    let limit = ctx.params.limit();
    let after = TimeKey::decode(ctx.params.str("cursor"))?;
    let rows = social::likes_of(&ctx.state.db, &subject, &after, limit + 1).await?;
    let (rows, cursor) = page(rows, limit, |l| TimeKey { at: l.sort_at, uri: l.uri.to_string() }.encode());
    let (rows, h) = ctx.hydrator().records(rows).await?;
    let likes = rows.iter().filter_map(|l| ctx.state.presenter.like(&h, l)).collect();
    Ok(GetLikesOutput { uri: parsed, likes, cursor: cursor.map(SmolStr::from), extra_data: None })
}

pub async fn comments(ctx: &Ctx<'_>) -> Result<GetCommentsOutput, XrpcError> {
    let (subject, parsed) = subject(ctx)?;
    let limit = ctx.params.limit();
    let after = NumKey::decode(ctx.params.str("cursor"))?;
    let rows = social::comments_on(&ctx.state.db, &subject, after.as_ref(), limit + 1).await?;
    let (rows, cursor) = page(rows, limit, |c| NumKey { n: c.timestamp_ms, uri: c.uri.to_string() }.encode());
    let (rows, h) = ctx.hydrator().records(rows).await?;
    let comments = rows.iter().filter_map(|c| ctx.state.presenter.comment(&h, c)).collect();
    Ok(GetCommentsOutput { uri: parsed, comments, cursor: cursor.map(SmolStr::from), extra_data: None })
}

pub async fn search(ctx: &Ctx<'_>) -> Result<TrackPage, XrpcError> {
    let q = Query::new(ctx.params.required("q")?);
    let limit = ctx.params.limit();
    let offset = cursor::decode_offset(ctx.params.str("cursor"))?;
    if q.text.is_empty() {
        return Ok(TrackPage { tracks: Vec::new(), cursor: None });
    }
    let hits = crate::search::tracks(&ctx.state.db, &ctx.state.caches.search, &q, limit + 1, offset).await?;
    let (hits, more) = page(hits, limit, |_| String::new());
    let cursor = more.map(|_| (offset + limit).to_string());
    let uris: Vec<AtUri> = hits.into_iter().map(Hit::into_uri).collect();
    ctx.track_page(&uris, cursor, Context::List).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn r(score: i64, secs: i64, uri: &str) -> Ranked {
        Ranked { uri: AtUri::from_trusted(uri), score, at: DateTime::from_timestamp(secs, 0).expect("time") }
    }

    #[test]
    fn top_cursor_resumes_after_the_named_entry_even_if_the_ranking_changed() {
        let ranking = vec![r(5, 10, "at://a"), r(3, 20, "at://b"), r(3, 10, "at://c"), r(1, 5, "at://d")];
        assert_eq!(top_offset(&ranking, None).expect("start"), 0);
        let after_b = top_key(&ranking[1]);
        assert_eq!(top_offset(&ranking, Some(&after_b)).expect("ok"), 2);
        // "a" gained likes and moved; "b" is gone: resume right where "b" would be.
        let changed = vec![r(9, 10, "at://a"), r(3, 10, "at://c"), r(1, 5, "at://d")];
        assert_eq!(top_offset(&changed, Some(&after_b)).expect("ok"), 1);
        assert!(top_offset(&ranking, Some("nope")).is_err());
    }
}
