//! `/.well-known/did.json`: the service's `did:web` document, with the `#plyr_appview` service
//! entry PDSes look up to proxy calls here, and `#mention_search` (the Leaflet mention service,
//! `parts.page.mention.search`, as plyr.fm publishes it).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::SERVICE_ID;

pub async fn did_json(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": state.auth.service_did(),
        "service": [{
            "id": format!("#{SERVICE_ID}"),
            "type": "PlyrAppView",
            "serviceEndpoint": state.presenter.public_url,
        }, {
            "id": "#mention_search",
            "type": "MentionSearchService",
            "serviceEndpoint": state.presenter.public_url,
        }],
    }))
}
