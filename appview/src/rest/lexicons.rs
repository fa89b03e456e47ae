//! `/lexicons/`: the lexicon documents this service reads records and answers queries by, at
//! stable paths, served verbatim from the copies compiled into the binary
//! ([`plyr_lexicons::schemas::LEXICONS`], the same ones the indexer validates with and
//! [`crate::params`] checks parameters against). `fm.plyr.*` are defined here; `fm.teal.*` and
//! the `com.atproto` definitions they reference are their authors', vendored.

use std::sync::LazyLock;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::RestError;
use crate::AppState;

/// One document: its NSID, the type of its `main` definition (`record`, `query`, ...; `defs`
/// for a document of shared definitions) and its JSON text.
struct Doc {
    id: &'static str,
    kind: String,
    json: &'static str,
}

static DOCS: LazyLock<Vec<Doc>> = LazyLock::new(|| {
    plyr_lexicons::schemas::LEXICONS
        .iter()
        .map(|(id, json)| {
            let main = serde_json::from_str::<Value>(json)
                .ok()
                .and_then(|v| v.pointer("/defs/main/type").and_then(Value::as_str).map(str::to_owned));
            Doc { id, kind: main.unwrap_or_else(|| "defs".to_owned()), json }
        })
        .collect()
});

/// `GET /lexicons/`: `{lexicons: [{id, type, url}]}`, by NSID.
pub async fn index(State(state): State<AppState>) -> Json<Value> {
    let base = &state.presenter.public_url;
    let docs: Vec<Value> = DOCS
        .iter()
        .map(|d| json!({ "id": d.id, "type": d.kind, "url": format!("{base}/lexicons/{}.json", d.id) }))
        .collect();
    Json(json!({ "lexicons": docs }))
}

/// `GET /lexicons/{nsid}` or `/lexicons/{nsid}.json`: the document as it is in `lexicons/`.
pub async fn document(Path(name): Path<String>) -> Response {
    let nsid = name.strip_suffix(".json").unwrap_or(&name);
    match DOCS.iter().find(|d| d.id == nsid) {
        Some(d) => ([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], d.json).into_response(),
        None => RestError::not_found("lexicon").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_document_is_listed_with_its_main_type() {
        assert_eq!(DOCS.len(), plyr_lexicons::schemas::LEXICONS.len());
        let kind = |id: &str| DOCS.iter().find(|d| d.id == id).map(|d| d.kind.as_str());
        assert_eq!(kind("fm.plyr.track"), Some("record"));
        assert_eq!(kind("fm.plyr.feed.getLatestTracks"), Some("query"));
        assert_eq!(kind("fm.plyr.defs"), Some("defs"));
        for d in DOCS.iter() {
            let v: Value = serde_json::from_str(d.json).expect("JSON");
            assert_eq!(v["id"], d.id, "each document's id is its NSID");
        }
    }

    #[tokio::test]
    async fn documents_answer_by_nsid_with_or_without_json_and_unknown_ones_are_404() {
        for name in ["fm.plyr.track", "fm.plyr.track.json"] {
            let res = document(Path(name.to_owned())).await;
            assert_eq!(res.status(), 200, "{name}");
            assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
        }
        for name in ["fm.plyr.nope", "fm.plyr.track.json.json", "..%2Fsecrets", ""] {
            let res = document(Path(name.to_owned())).await;
            assert_eq!(res.status(), 404, "{name}");
            let body = axum::body::to_bytes(res.into_body(), 1 << 16).await.expect("body");
            assert_eq!(
                serde_json::from_slice::<Value>(&body).expect("JSON"),
                json!({"detail": "lexicon not found"})
            );
        }
    }
}
