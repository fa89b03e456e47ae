//! XRPC: `/xrpc/<nsid>` dispatch, and the handlers grouped by lexicon namespace
//! (`feed`, `actor`, `graph`, `unspecced`).
//!
//! Every request goes through the same steps: unknown NSID → 501; the optional service token
//! is verified for this method (an invalid one is a 401, never an anonymous answer); the
//! parameters are checked against the method's lexicon; then the handler runs
//! skeleton → hydrate (which applies the visibility rules) → present.

pub mod actor;
pub mod feed;
pub mod foryou;
pub mod graph;
pub mod health;
pub mod labels;
pub mod unspecced;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use plyr_atproto::{AtUri, Did};
use serde::Serialize;

use crate::auth;
use crate::db::social;
use crate::hydrate::Hydrator;
use crate::moderation::Context;
use crate::params::{self, Params};
use crate::{AppState, XrpcError};

/// What a handler gets: the state, the verified viewer (if any), the checked parameters.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub viewer: Option<Did>,
    pub params: Params,
}

impl<'a> Ctx<'a> {
    /// A hydrator for a view context ([`Hydrator::listing`] for a list context).
    pub fn hydrator(&self) -> Hydrator<'_> {
        Hydrator::new(self.state, self.viewer.as_ref())
    }

    /// Hydrates `uris` and presents the visible tracks among them, in the given order, as a page
    /// of JSON views, from the built views where they are current ([`crate::track_views`]).
    pub async fn track_page(
        &self,
        uris: &[AtUri],
        cursor: Option<String>,
        context: Context,
    ) -> Result<TrackPage, XrpcError> {
        let h = self.hydrator().in_context(context).tracks(uris).await?;
        let (views, presenter) = (&self.state.caches.track_views, &self.state.presenter);
        Ok(TrackPage { tracks: uris.iter().filter_map(|u| views.get(presenter, &h, u)).collect(), cursor })
    }

    /// The DID of the `actor` parameter (a handle or a DID), if that actor is indexed.
    pub async fn actor_did(&self, actor: &str) -> Result<Option<Did>, XrpcError> {
        if actor.starts_with("did:") {
            // Not a DID at all: not indexed either.
            let Ok(did) = Did::new(actor) else { return Ok(None) };
            let found = self.state.caches.actors(&self.state.db, std::slice::from_ref(&did)).await?;
            return Ok(found.contains_key(&did).then_some(did));
        }
        Ok(crate::db::actors::did_by_handle(&self.state.db, actor).await?)
    }
}

/// The output of every track feed (`getLatestTracks`, `getActorTracks`, `getTopTracks`,
/// `getTracks`, `getActorLikes`, `searchTracks`): the lexicons' `{tracks, cursor?}` with each
/// track a `fm.plyr.defs#trackView`, written from JSON views (the endpoints' tests check every
/// answer against its lexicon).
#[derive(Debug, Serialize)]
pub struct TrackPage {
    pub tracks: Vec<crate::track_views::Shown>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Takes one more row than asked so it knows whether another page follows: keeps `limit`,
/// and returns the cursor (the key of the last kept row) when there is more.
pub fn page<T>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() > limit {
        rows.truncate(limit);
        let cursor = rows.last().map(key);
        (rows, cursor)
    } else {
        (rows, None)
    }
}

/// `GET /xrpc/<nsid>`.
pub async fn dispatch(
    State(state): State<AppState>,
    Path(nsid): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let started = std::time::Instant::now();
    let result = handle(&state, &nsid, &headers, query.as_deref()).await;
    let status = match &result {
        Ok(_) => "ok",
        Err(e) => e.name(),
    };
    let method = if params::is_known_query(&nsid) { nsid.clone() } else { "unknown".to_owned() };
    metrics::histogram!("appview_xrpc_seconds", "method" => method.clone()).record(started.elapsed());
    metrics::counter!("appview_xrpc_requests_total", "method" => method, "status" => status).increment(1);
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /xrpc/<nsid>`: this service has no procedures.
pub async fn post(Path(nsid): Path<String>) -> XrpcError {
    if params::is_known_query(&nsid) {
        XrpcError::InvalidRequest(format!("{nsid} is a query: use GET"))
    } else {
        unknown_method(&nsid)
    }
}

async fn handle(
    state: &AppState,
    nsid: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, XrpcError> {
    if nsid == "parts.page.mention.search" {
        // Leaflet's mention lookup: not one of our lexicons, anonymous, parameters checked there.
        return crate::mention::search_mentions(state, query).await;
    }
    if nsid == "com.atproto.label.queryLabels" {
        // ATProto's own query, anonymous, parameters checked there.
        return labels::query_labels(state, query).await;
    }
    if !params::is_known_query(nsid) {
        return Err(unknown_method(nsid));
    }
    let viewer = auth::viewer(state, headers, nsid).await?;
    let ctx = Ctx { state, viewer, params: Params::parse(nsid, query)? };
    let mut response = match nsid {
        "fm.plyr.feed.getLatestTracks" => json(feed::latest(&ctx).await?),
        "fm.plyr.feed.getActorTracks" => json(feed::actor_tracks(&ctx).await?),
        "fm.plyr.feed.getTopTracks" => json(feed::top(&ctx).await?),
        "fm.plyr.feed.getTracks" => json(feed::tracks(&ctx).await?),
        "fm.plyr.feed.getActorLikes" => json(feed::actor_likes(&ctx).await?),
        "fm.plyr.feed.getLikes" => json(feed::likes(&ctx).await?),
        "fm.plyr.feed.getComments" => json(feed::comments(&ctx).await?),
        "fm.plyr.feed.searchTracks" => json(feed::search(&ctx).await?),
        "fm.plyr.feed.getForYou" => json(foryou::for_you(&ctx).await?),
        "fm.plyr.actor.getProfile" => json(actor::profile(&ctx).await?),
        "fm.plyr.actor.getProfiles" => json(actor::profiles(&ctx).await?),
        "fm.plyr.actor.searchActors" => json(actor::search(&ctx).await?),
        "fm.plyr.actor.getNowPlaying" => json(actor::now_playing(&ctx).await?),
        "fm.plyr.graph.getActorLists" => json(graph::actor_lists(&ctx).await?),
        "fm.plyr.graph.getList" => json(graph::list(&ctx).await?),
        "fm.plyr.unspecced.getStats" => json(unspecced::stats(&ctx).await?),
        "fm.plyr.unspecced.search" => json(unspecced::search(&ctx).await?),
        other => {
            return Err(XrpcError::MethodNotImplemented(format!("method {other} is not implemented yet")));
        }
    };
    if let Some(viewer) = &ctx.viewer
        && let Some(rev) = social::repo_rev(&state.db, viewer).await?
        && let Ok(value) = HeaderValue::from_str(&rev)
    {
        response.headers_mut().insert("atproto-repo-rev", value);
    }
    Ok(response)
}

fn json<T: Serialize>(body: T) -> Response {
    Json(body).into_response()
}

/// Any `/xrpc/<nsid>` this server does not implement.
pub async fn not_implemented(Path(nsid): Path<String>) -> XrpcError {
    unknown_method(&nsid)
}

fn unknown_method(nsid: &str) -> XrpcError {
    XrpcError::MethodNotImplemented(format!("method {nsid} is not implemented by this service"))
}
