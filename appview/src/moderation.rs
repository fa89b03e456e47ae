//! Which labels a request applies, and what they hide there: ATProto's labeler headers and
//! plyr.fm's moderation contexts, decided once per request and handed to the hydrator, whose
//! rules ([`crate::rules`]) are the only place anything is hidden.
//!
//! - Labelers ([`Applied`]): the service's own DID (operator takedowns) always; the labelers
//!   it follows (`--labelers`) by default; a request's `atproto-accept-labelers: <did>[;redact],
//!   ...` narrows that to the followed ones it names. The answer names the labelers applied in
//!   `atproto-content-labelers`, with `;redact` echoed where the request asked for it.
//! - Values ([`Policy`]): `--hidden-labels` hide a record or an account from every read;
//!   `--list-hidden-labels` hide a track from *list* contexts (latest, top, search, for-you,
//!   activity) only, while *view* contexts (a track by URI, an artist's tracks, a list's items)
//!   show it with its labels, so clients can gate playback. Either way the author, as the
//!   viewer, still sees their own records.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::VARY;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The request header choosing labelers.
pub const ACCEPT_LABELERS: HeaderName = HeaderName::from_static("atproto-accept-labelers");
/// The response header naming the labelers applied.
pub const CONTENT_LABELERS: HeaderName = HeaderName::from_static("atproto-content-labelers");
/// Most labelers a request may name (Bluesky's limit).
pub const MAX_ACCEPTED: usize = 20;

/// The labelers one request applies, in the order the service follows them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Applied {
    /// `(did, redact)`; the service's own DID first.
    labelers: Vec<(String, bool)>,
    /// Their `atproto-content-labelers` value, written once: the defaults serve every request
    /// that names no labelers.
    named: Option<HeaderValue>,
}

impl Applied {
    /// The labelers a request applies: `own` (the service's DID) always, then the `followed`
    /// ones the `atproto-accept-labelers` header names (all of them without the header).
    /// Names the service does not follow, and malformed entries, are ignored.
    pub fn choose(headers: &HeaderMap, own: &str, followed: &[String]) -> Applied {
        let mut labelers = vec![(own.to_owned(), false)];
        let Some(header) = headers.get(ACCEPT_LABELERS).and_then(|v| v.to_str().ok()) else {
            labelers.extend(followed.iter().filter(|d| *d != own).map(|d| (d.clone(), false)));
            return Applied::of(labelers);
        };
        let asked: Vec<(&str, bool)> = header
            .split(',')
            .take(MAX_ACCEPTED)
            .filter_map(|entry| {
                let mut parts = entry.split(';').map(str::trim);
                let did = parts.next().filter(|d| !d.is_empty())?;
                Some((did, parts.any(|p| p.eq_ignore_ascii_case("redact"))))
            })
            .collect();
        for did in followed.iter().filter(|d| *d != own) {
            if let Some((_, redact)) = asked.iter().find(|(a, _)| a == did) {
                labelers.push((did.clone(), *redact));
            }
        }
        if let Some((_, redact)) = asked.iter().find(|(a, _)| *a == own) {
            labelers[0].1 = *redact;
        }
        Applied::of(labelers)
    }

    fn of(labelers: Vec<(String, bool)>) -> Applied {
        let text = labelers
            .iter()
            .map(|(d, redact)| if *redact { format!("{d};redact") } else { d.clone() })
            .collect::<Vec<_>>()
            .join(",");
        Applied { named: HeaderValue::from_str(&text).ok(), labelers }
    }

    /// The labelers' DIDs.
    pub fn dids(&self) -> Vec<String> {
        self.labelers.iter().map(|(d, _)| d.clone()).collect()
    }

    /// These labelers narrowed to `dids` (all of them when `dids` is empty).
    pub fn only(&self, dids: &[&str]) -> Applied {
        let labelers =
            self.labelers.iter().filter(|(d, _)| dids.is_empty() || dids.contains(&d.as_str())).cloned();
        Applied::of(labelers.collect())
    }

    /// Whether labels from `src` apply.
    pub fn includes(&self, src: &str) -> bool {
        self.labelers.iter().any(|(d, _)| d == src)
    }

    /// The `atproto-content-labelers` value: `did[;redact], ...`.
    pub fn header_value(&self) -> Option<HeaderValue> {
        self.named.clone()
    }
}

tokio::task_local! {
    /// The labelers the request being served applies (set by [`layer`] around each request).
    static APPLIED: Arc<Applied>;
}

/// Decides the labelers of each request (from its `atproto-accept-labelers`), serves the
/// request with them, and names them in the answer's `atproto-content-labelers`.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let applied = applied_by(&state, req.headers());
    let named = applied.header_value();
    let mut res = APPLIED.scope(applied, next.run(req)).await;
    if let Some(named) = named {
        res.headers_mut().insert(CONTENT_LABELERS, named);
    }
    res.headers_mut().append(VARY, HeaderValue::from_static("atproto-accept-labelers"));
    res
}

/// The labelers a request with `headers` applies.
pub fn applied_by(state: &AppState, headers: &HeaderMap) -> Arc<Applied> {
    if headers.contains_key(ACCEPT_LABELERS) {
        Arc::new(Applied::choose(headers, state.auth.service_did(), &state.options.labelers))
    } else {
        Arc::clone(&state.applied)
    }
}

/// The labelers of the request being served; the defaults outside one (a background task).
pub fn current(state: &AppState) -> Arc<Applied> {
    APPLIED.try_with(Arc::clone).unwrap_or_else(|_| Arc::clone(&state.applied))
}

/// Where the records being hydrated are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Context {
    /// One thing asked for by name, or one artist's or list's own items.
    #[default]
    View,
    /// A shared list of many people's records (latest, top, search, for-you, activity).
    List,
}

/// The label values the operator acts on.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Hidden everywhere (`--hidden-labels`).
    hidden: Vec<String>,
    /// Hidden from list contexts (`--list-hidden-labels`).
    pub list_hidden: Vec<String>,
    /// Whose images clients blur (`--sensitive-labels`).
    pub sensitive: Vec<String>,
    /// `hidden` then `list_hidden`: what a list context hides.
    in_lists: Vec<String>,
}

impl Policy {
    pub fn new(hidden: Vec<String>, list_hidden: Vec<String>, sensitive: Vec<String>) -> Self {
        let in_lists = hidden.iter().chain(&list_hidden).cloned().collect();
        Policy { hidden, list_hidden, sensitive, in_lists }
    }

    /// The values that hide a record or account in `context`.
    pub fn hiding(&self, context: Context) -> &[String] {
        match context {
            Context::View => &self.hidden,
            Context::List => &self.in_lists,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "did:web:appview.example";

    fn choose(header: Option<&str>, followed: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        if let Some(h) = header {
            headers.insert(ACCEPT_LABELERS, HeaderValue::from_str(h).expect("header"));
        }
        let followed: Vec<String> = followed.iter().map(|s| s.to_string()).collect();
        let applied = Applied::choose(&headers, OWN, &followed);
        applied.header_value().expect("value").to_str().expect("text").to_owned()
    }

    #[test]
    fn requests_choose_among_the_followed_labelers() {
        let followed = ["did:plc:a", "did:plc:b"];
        assert_eq!(choose(None, &followed), format!("{OWN},did:plc:a,did:plc:b"));
        assert_eq!(choose(Some("did:plc:b;redact"), &followed), format!("{OWN},did:plc:b;redact"));
        assert_eq!(choose(Some("did:plc:stranger, did:plc:a"), &followed), format!("{OWN},did:plc:a"));
        assert_eq!(choose(Some(""), &followed), OWN);
        assert_eq!(choose(Some(" ; ,,;redact"), &followed), OWN);
        assert_eq!(choose(Some(&format!("{OWN};redact")), &followed), format!("{OWN};redact"));
        // The service's own DID is never listed twice.
        assert_eq!(choose(None, &[OWN, "did:plc:a"]), format!("{OWN},did:plc:a"));
    }

    #[test]
    fn list_contexts_hide_more() {
        let policy = Policy::new(vec!["!hide".into()], vec!["porn".into()], Vec::new());
        assert_eq!(policy.hiding(Context::View), ["!hide"]);
        assert_eq!(policy.hiding(Context::List), ["!hide", "porn"]);
    }
}
