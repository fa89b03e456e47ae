//! Fetching one repo's [`Snapshot`] from its PDS, by `getRepo` or by `listRecords`.

use jacquard_common::types::string::{Nsid, Tid};
use plyr_atproto::identity::SigningKey;
use serde::Deserialize;
use url::Url;

use super::http::Fetcher;
use super::locate::clip;
use super::snapshot::{self, ListedRecord, Snapshot};
use super::{BackfillConfig, BackfillError, Mode};

/// Records per `listRecords` page (the method's maximum).
const PAGE: usize = 100;

/// `BASE/xrpc/NSID?params`.
pub fn xrpc(base: &Url, nsid: &str, params: &[(&str, &str)]) -> Result<Url, BackfillError> {
    let mut url = base.join(&format!("xrpc/{nsid}")).map_err(|_| BackfillError::Url(clip(base.as_str())))?;
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    Ok(url)
}

/// Parses a JSON answer of `what`.
pub fn json<T: for<'de> Deserialize<'de>>(body: &[u8], what: &'static str) -> Result<T, BackfillError> {
    serde_json::from_slice(body).map_err(|e| BackfillError::Malformed { what, detail: e.to_string() })
}

/// Fetches `did`'s snapshot from `pds` as `config.mode` says.
pub async fn snapshot(
    fetcher: &Fetcher,
    config: &BackfillConfig,
    pds: &Url,
    did: &str,
    key: Option<&SigningKey>,
) -> Result<Snapshot, BackfillError> {
    if config.mode != Mode::Car {
        let limit = if config.mode == Mode::List { usize::MAX } else { config.list_max_records };
        if let Some(snapshot) = by_listing(fetcher, config, pds, did, limit).await? {
            return Ok(snapshot);
        }
    }
    let key = key.ok_or_else(|| BackfillError::NoKey(clip(did)))?;
    by_car(fetcher, config, pds, did, key).await
}

/// `com.atproto.sync.getRepo`, verified.
pub async fn by_car(
    fetcher: &Fetcher,
    config: &BackfillConfig,
    pds: &Url,
    did: &str,
    key: &SigningKey,
) -> Result<Snapshot, BackfillError> {
    let url = xrpc(pds, "com.atproto.sync.getRepo", &[("did", did)])?;
    let car = fetcher.get_public(url, "getRepo", config.max_car_bytes).await?;
    snapshot::from_car(&car, config.max_car_bytes, config.max_record_bytes, did, key).await
}

/// The indexed collections by `listRecords`, at the rev `getLatestCommit` gave *before* the
/// listing (so any live op after it is newer). `None` when the listing passes `limit` records.
pub async fn by_listing(
    fetcher: &Fetcher,
    config: &BackfillConfig,
    pds: &Url,
    did: &str,
    limit: usize,
) -> Result<Option<Snapshot>, BackfillError> {
    #[derive(Deserialize)]
    struct Latest {
        rev: String,
    }
    #[derive(Deserialize)]
    struct Described {
        #[serde(default)]
        collections: Vec<String>,
    }
    #[derive(Deserialize)]
    struct Page {
        records: Vec<ListedRecord>,
        cursor: Option<String>,
    }
    let max = config.max_json_bytes;
    let url = xrpc(pds, "com.atproto.sync.getLatestCommit", &[("did", did)])?;
    let latest: Latest = json(&fetcher.get_public(url, "getLatestCommit", max).await?, "getLatestCommit")?;
    let rev = Tid::new(&latest.rev)
        .map_err(|e| BackfillError::Malformed { what: "getLatestCommit", detail: e.to_string() })?;
    let url = xrpc(pds, "com.atproto.repo.describeRepo", &[("repo", did)])?;
    let described: Described = json(&fetcher.get_public(url, "describeRepo", max).await?, "describeRepo")?;
    let mut records = Vec::new();
    for collection in super::collections().filter(|c| described.collections.iter().any(|d| d == c)) {
        let nsid = Nsid::new_owned(collection)
            .map_err(|e| BackfillError::Malformed { what: "collection", detail: e.to_string() })?;
        let mut cursor: Option<String> = None;
        loop {
            let page_size = PAGE.to_string();
            let mut params = vec![("repo", did), ("collection", collection), ("limit", page_size.as_str())];
            if let Some(c) = cursor.as_deref() {
                params.push(("cursor", c));
            }
            let url = xrpc(pds, "com.atproto.repo.listRecords", &params)?;
            let page: Page = json(&fetcher.get_public(url, "listRecords", max).await?, "listRecords")?;
            let empty = page.records.is_empty();
            let max_record = config.max_record_bytes;
            records.extend(
                page.records.into_iter().filter_map(|r| snapshot::from_listed(did, &nsid, r, max_record)),
            );
            if records.len() > limit {
                return Ok(None);
            }
            match page.cursor {
                // A cursor that does not move would loop forever.
                Some(next) if !empty && cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => break,
            }
        }
    }
    Ok(Some(Snapshot { rev, records, source: "list" }))
}
