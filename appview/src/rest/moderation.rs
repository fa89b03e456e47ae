//! `GET /moderation/sensitive-images`: the images plyr.fm's frontend blurs, in its shape
//! `{image_ids, urls}`: track covers and avatars of records and accounts carrying one of the
//! `--sensitive-labels` values, from the labelers the request applies or self-labelled.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use plyr_atproto::{AtUri, Did};
use serde_json::{Value, json};

use super::error::RestError;
use crate::AppState;
use crate::db::rest as rest_db;

/// Most self-labelled tracks listed (labelers' subjects are held in memory and all listed).
const MAX_SELF_LABELLED: i64 = 10_000;

pub async fn sensitive_images(State(state): State<AppState>) -> Result<Json<Value>, RestError> {
    let sensitive = &state.policy.sensitive;
    let applied = crate::moderation::current(&state);
    let subjects = state.caches.labels.subjects_carrying(&state.db, &applied, sensitive).await?;
    let mut tracks: Vec<AtUri> = subjects
        .iter()
        .filter(|s| s.starts_with("at://"))
        .filter_map(|s| AtUri::new(s).ok())
        .filter(|u| u.as_str().contains("/fm.plyr.track/"))
        .collect();
    tracks.extend(rest_db::self_labelled_images(&state.db, sensitive, MAX_SELF_LABELLED).await?);
    let dids: Vec<Did> = subjects.iter().filter_map(|s| Did::new(s).ok()).collect();
    let (rows, actors) =
        tokio::try_join!(state.caches.tracks(&state.db, &tracks), state.caches.actors(&state.db, &dids))?;
    let mut urls = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for t in rows.values() {
        if let Some(url) = &t.image_url {
            ids.insert(image_id(url));
            urls.insert(url.clone());
        }
    }
    for a in actors.values() {
        if let Some(url) = state.presenter.avatar(a) {
            ids.insert(a.avatar_cid.clone().unwrap_or_else(|| image_id(url.as_str())));
            urls.insert(url.as_str().to_owned());
        }
    }
    Ok(Json(json!({ "image_ids": ids, "urls": urls })))
}

/// plyr.fm names an image by its file name without the extension
/// (`https://images.plyr.fm/covers/<id>.jpg`).
fn image_id(url: &str) -> String {
    let name = url.rsplit('/').next().unwrap_or(url);
    name.split_once('.').map_or(name, |(id, _)| id).to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn image_ids_are_file_names_without_extensions() {
        assert_eq!(super::image_id("https://images.plyr.fm/covers/dabd853844286163.jpg"), "dabd853844286163");
        assert_eq!(super::image_id("https://x.example/a/b"), "b");
    }
}
