//! `com.atproto.label.queryLabels` over the labels this AppView holds: those in force from the
//! labelers the request applies ([`crate::moderation`]), each as its labeler signed it.
//! `uriPatterns` are exact subjects or prefixes ending in `*`; `sources` narrows the labelers;
//! the cursor is the last subject of the previous page.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;

use crate::rest::query::Query;
use crate::{AppState, XrpcError};

/// Most patterns one request may name.
const MAX_PATTERNS: usize = 100;

/// One `uriPatterns` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern<'a> {
    Exact(&'a str),
    Prefix(&'a str),
}

impl Pattern<'_> {
    fn parse(text: &str) -> Result<Pattern<'_>, XrpcError> {
        let bad = || XrpcError::InvalidRequest(format!("uriPatterns: {text:?} may only end in *"));
        match text.strip_suffix('*') {
            Some(prefix) if prefix.contains('*') => Err(bad()),
            Some(prefix) => Ok(Pattern::Prefix(prefix)),
            None if text.contains('*') => Err(bad()),
            None => Ok(Pattern::Exact(text)),
        }
    }

    fn matches(&self, subject: &str) -> bool {
        match self {
            Pattern::Exact(s) => subject == *s,
            Pattern::Prefix(p) => subject.starts_with(p),
        }
    }
}

#[derive(serde::Serialize)]
struct Output<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
    labels: Vec<&'a RawValue>,
}

/// `GET /xrpc/com.atproto.label.queryLabels`.
pub async fn query_labels(state: &AppState, raw: Option<&str>) -> Result<Response, XrpcError> {
    let q = Query::parse(raw);
    let bad = |m: &str| XrpcError::InvalidRequest(m.to_owned());
    let texts = q.all("uriPatterns");
    if texts.is_empty() {
        return Err(bad("uriPatterns is required"));
    }
    if texts.len() > MAX_PATTERNS {
        return Err(bad("at most 100 uriPatterns"));
    }
    let patterns = texts.into_iter().map(Pattern::parse).collect::<Result<Vec<_>, _>>()?;
    let limit = match q.str("limit") {
        None => 50,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=250).contains(n))
            .ok_or_else(|| bad("limit must be 1 to 250"))?,
    };
    let applied = crate::moderation::current(state).only(&q.all("sources"));
    let labels = state
        .caches
        .labels
        .matching(
            &state.db,
            &applied,
            |subject| patterns.iter().any(|p| p.matches(subject)),
            q.str("cursor"),
            limit,
        )
        .await?;
    let cursor = (labels.len() >= limit).then(|| labels.last().map(|(k, _)| k.clone())).flatten();
    let out = Output { cursor, labels: labels.iter().map(|(_, l)| l.json.as_ref()).collect() };
    Ok(Json(out).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_exact_or_a_trailing_wildcard() {
        let p = |t| Pattern::parse(t).ok();
        assert_eq!(p("did:plc:a"), Some(Pattern::Exact("did:plc:a")));
        assert_eq!(p("at://did:plc:a/*"), Some(Pattern::Prefix("at://did:plc:a/")));
        assert_eq!(p("*"), Some(Pattern::Prefix("")));
        assert_eq!(p("at://*/x"), None);
        assert_eq!(p("a**"), None);
        assert!(Pattern::Prefix("at://did:plc:a/").matches("at://did:plc:a/fm.plyr.track/1"));
        assert!(!Pattern::Exact("did:plc:a").matches("did:plc:ab"));
    }
}
