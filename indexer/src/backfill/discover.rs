//! Finding repos to backfill: `com.atproto.sync.listReposByCollection` on a relay (every
//! `fm.plyr.*` collection, all pages) and `com.atproto.sync.listRepos` on a PDS (its active
//! repos). Both are paged with a hard cap on pages, so a misbehaving server cannot keep us
//! paging forever.

use std::collections::BTreeSet;

use serde::Deserialize;
use url::Url;

use super::BackfillError;
use super::fetch::{json, xrpc};
use super::http::Fetcher;

/// Repos per page asked for.
const PAGE: &str = "1000";
/// Most pages read per listing (10 million repos at 1,000 per page).
const MAX_PAGES: usize = 10_000;

/// The DIDs a relay lists for any of `collections`, deduplicated, in order.
pub async fn by_collection(
    fetcher: &Fetcher,
    relay: &Url,
    collections: impl IntoIterator<Item = &str>,
    max_json: usize,
) -> Result<Vec<String>, BackfillError> {
    #[derive(Deserialize)]
    struct Repo {
        did: String,
    }
    #[derive(Deserialize)]
    struct Page {
        repos: Vec<Repo>,
        cursor: Option<String>,
    }
    let mut dids = BTreeSet::new();
    for collection in collections {
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut params = vec![("collection", collection), ("limit", PAGE)];
            if let Some(c) = cursor.as_deref() {
                params.push(("cursor", c));
            }
            let url = xrpc(relay, "com.atproto.sync.listReposByCollection", &params)?;
            let body = fetcher.get(url, "listReposByCollection", max_json).await?;
            let page: Page = json(&body, "listReposByCollection")?;
            let empty = page.repos.is_empty();
            dids.extend(page.repos.into_iter().map(|r| r.did).filter(|d| valid_did(d)));
            match page.cursor {
                Some(next) if !empty && cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => break,
            }
        }
    }
    Ok(dids.into_iter().collect())
}

/// The active repos a PDS hosts (`listRepos`, all pages).
pub async fn pds_repos(fetcher: &Fetcher, pds: &Url, max_json: usize) -> Result<Vec<String>, BackfillError> {
    #[derive(Deserialize)]
    struct Repo {
        did: String,
        #[serde(default = "active")]
        active: bool,
    }
    #[derive(Deserialize)]
    struct Page {
        repos: Vec<Repo>,
        cursor: Option<String>,
    }
    fn active() -> bool {
        true
    }
    let mut dids = BTreeSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut params = vec![("limit", PAGE)];
        if let Some(c) = cursor.as_deref() {
            params.push(("cursor", c));
        }
        let url = xrpc(pds, "com.atproto.sync.listRepos", &params)?;
        let page: Page = json(&fetcher.get(url, "listRepos", max_json).await?, "listRepos")?;
        let empty = page.repos.is_empty();
        dids.extend(page.repos.into_iter().filter(|r| r.active && valid_did(&r.did)).map(|r| r.did));
        match page.cursor {
            Some(next) if !empty && cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            _ => break,
        }
    }
    Ok(dids.into_iter().collect())
}

/// Whether `did` is a syntactically valid DID (anything else from a listing is ignored).
pub fn valid_did(did: &str) -> bool {
    jacquard_common::types::string::Did::new(did).is_ok()
}
