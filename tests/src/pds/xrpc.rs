//! A small XRPC client for driving the local PDS from tests: accounts, record writes, blobs,
//! handles, account status, service auth and service proxying, and the sync reads an indexer
//! uses. Records and results stay `serde_json::Value` where a type would add nothing; every
//! failure is an `anyhow` error naming the method, the HTTP status and the PDS's answer.

use std::time::Duration;

use anyhow::Context as _;
use reqwest::{RequestBuilder, Response};
use serde::Deserialize;
use serde_json::{Value, json};

/// A per-request limit; the local PDS answers in milliseconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An account on the PDS and its session.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub did: String,
    pub handle: String,
    pub access_jwt: String,
    pub refresh_jwt: String,
}

/// A record's `at://` URI and CID, as write methods return them (a `com.atproto.repo.strongRef`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordRef {
    pub uri: String,
    pub cid: String,
}

impl RecordRef {
    /// The record key: the URI's last segment.
    pub fn rkey(&self) -> &str {
        self.uri.rsplit('/').next().unwrap_or_default()
    }

    /// `{"uri", "cid"}`, for a `strongRef` field such as a like's `subject`.
    pub fn strong_ref(&self) -> Value {
        json!({ "uri": self.uri, "cid": self.cid })
    }
}

/// One operation of `com.atproto.repo.applyWrites`.
#[derive(Debug, Clone)]
pub enum Write {
    Create { collection: String, rkey: Option<String>, value: Value },
    Update { collection: String, rkey: String, value: Value },
    Delete { collection: String, rkey: String },
}

impl Write {
    fn to_json(&self) -> Value {
        match self {
            Write::Create { collection, rkey, value } => {
                let mut op = json!({
                    "$type": "com.atproto.repo.applyWrites#create",
                    "collection": collection,
                    "value": value,
                });
                if let Some(rkey) = rkey {
                    op["rkey"] = json!(rkey);
                }
                op
            }
            Write::Update { collection, rkey, value } => json!({
                "$type": "com.atproto.repo.applyWrites#update",
                "collection": collection,
                "rkey": rkey,
                "value": value,
            }),
            Write::Delete { collection, rkey } => json!({
                "$type": "com.atproto.repo.applyWrites#delete",
                "collection": collection,
                "rkey": rkey,
            }),
        }
    }
}

/// XRPC calls against one PDS.
#[derive(Debug, Clone)]
pub struct PdsClient {
    http: reqwest::Client,
    base: String,
    admin_password: String,
}

impl PdsClient {
    /// A client for the PDS at `base` (`http://localhost:PORT`).
    pub fn new(base: &str, admin_password: &str) -> PdsClient {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        PdsClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            admin_password: admin_password.to_owned(),
        }
    }

    /// `BASE/xrpc/NSID`.
    pub fn xrpc_url(&self, nsid: &str) -> String {
        format!("{}/xrpc/{nsid}", self.base)
    }

    /// `com.atproto.server.createAccount` (no invite needed; handles end in `.test`).
    pub async fn create_account(&self, handle: &str, email: &str, password: &str) -> anyhow::Result<Account> {
        let body = json!({ "handle": handle, "email": email, "password": password });
        let out =
            self.send(self.post("com.atproto.server.createAccount").json(&body), "createAccount").await?;
        serde_json::from_value(out).context("createAccount: unexpected output")
    }

    /// `com.atproto.server.createSession`: a fresh session for an existing account.
    pub async fn create_session(&self, identifier: &str, password: &str) -> anyhow::Result<Account> {
        let body = json!({ "identifier": identifier, "password": password });
        let out =
            self.send(self.post("com.atproto.server.createSession").json(&body), "createSession").await?;
        serde_json::from_value(out).context("createSession: unexpected output")
    }

    /// `com.atproto.repo.createRecord`; `rkey: None` lets the PDS pick a TID.
    pub async fn create_record(
        &self,
        account: &Account,
        collection: &str,
        record: Value,
        rkey: Option<&str>,
    ) -> anyhow::Result<RecordRef> {
        let mut body = json!({ "repo": account.did, "collection": collection, "record": record });
        if let Some(rkey) = rkey {
            body["rkey"] = json!(rkey);
        }
        let req = self.post("com.atproto.repo.createRecord").bearer_auth(&account.access_jwt).json(&body);
        let out = self.send(req, "createRecord").await?;
        serde_json::from_value(out).context("createRecord: unexpected output")
    }

    /// `com.atproto.repo.putRecord`: creates or replaces the record at `rkey`.
    pub async fn put_record(
        &self,
        account: &Account,
        collection: &str,
        rkey: &str,
        record: Value,
    ) -> anyhow::Result<RecordRef> {
        let body = json!({ "repo": account.did, "collection": collection, "rkey": rkey, "record": record });
        let req = self.post("com.atproto.repo.putRecord").bearer_auth(&account.access_jwt).json(&body);
        let out = self.send(req, "putRecord").await?;
        serde_json::from_value(out).context("putRecord: unexpected output")
    }

    /// `com.atproto.repo.deleteRecord`.
    pub async fn delete_record(&self, account: &Account, collection: &str, rkey: &str) -> anyhow::Result<()> {
        let body = json!({ "repo": account.did, "collection": collection, "rkey": rkey });
        let req = self.post("com.atproto.repo.deleteRecord").bearer_auth(&account.access_jwt).json(&body);
        self.send(req, "deleteRecord").await.map(drop)
    }

    /// `com.atproto.repo.applyWrites`: all `writes` in one commit. Returns the output
    /// (`{commit, results: [{uri, cid, validationStatus} | {}]}`).
    pub async fn apply_writes(&self, account: &Account, writes: &[Write]) -> anyhow::Result<Value> {
        let writes: Vec<Value> = writes.iter().map(Write::to_json).collect();
        let body = json!({ "repo": account.did, "writes": writes });
        let req = self.post("com.atproto.repo.applyWrites").bearer_auth(&account.access_jwt).json(&body);
        self.send(req, "applyWrites").await
    }

    /// `com.atproto.repo.uploadBlob`. Returns the blob object to put in a record
    /// (`{"$type": "blob", "ref": {"$link": CID}, "mimeType", "size"}`).
    pub async fn upload_blob(&self, account: &Account, bytes: Vec<u8>, mime: &str) -> anyhow::Result<Value> {
        let req = self
            .post("com.atproto.repo.uploadBlob")
            .bearer_auth(&account.access_jwt)
            .header(reqwest::header::CONTENT_TYPE, mime)
            .body(bytes);
        let mut out = self.send(req, "uploadBlob").await?;
        let blob = out["blob"].take();
        anyhow::ensure!(blob.is_object(), "uploadBlob: no blob in the output");
        Ok(blob)
    }

    /// `com.atproto.identity.updateHandle`; updates `account.handle` on success.
    pub async fn update_handle(&self, account: &mut Account, handle: &str) -> anyhow::Result<()> {
        let req = self
            .post("com.atproto.identity.updateHandle")
            .bearer_auth(&account.access_jwt)
            .json(&json!({ "handle": handle }));
        self.send(req, "updateHandle").await?;
        account.handle = handle.to_owned();
        Ok(())
    }

    /// `com.atproto.server.deactivateAccount` (emits `#account` with `active: false`).
    pub async fn deactivate_account(&self, account: &Account) -> anyhow::Result<()> {
        let req = self
            .post("com.atproto.server.deactivateAccount")
            .bearer_auth(&account.access_jwt)
            .json(&json!({}));
        self.send(req, "deactivateAccount").await.map(drop)
    }

    /// `com.atproto.server.activateAccount`.
    pub async fn activate_account(&self, account: &Account) -> anyhow::Result<()> {
        let req = self.post("com.atproto.server.activateAccount").bearer_auth(&account.access_jwt);
        self.send(req, "activateAccount").await.map(drop)
    }

    /// Deletes the account for good with `com.atproto.admin.deleteAccount` (basic auth as
    /// `admin`). The PDS then emits `#account` with status `deleted` and drops the account's
    /// earlier events from its sequencer, so a replay from cursor 0 no longer shows them.
    pub async fn delete_account(&self, did: &str) -> anyhow::Result<()> {
        let req = self
            .post("com.atproto.admin.deleteAccount")
            .basic_auth("admin", Some(&self.admin_password))
            .json(&json!({ "did": did }));
        self.send(req, "admin.deleteAccount").await.map(drop)
    }

    /// `com.atproto.server.getServiceAuth`: a service JWT signed with the account's key for `aud`
    /// (a DID) and method `lxm`.
    pub async fn get_service_auth(&self, account: &Account, aud: &str, lxm: &str) -> anyhow::Result<String> {
        let req = self
            .get("com.atproto.server.getServiceAuth")
            .bearer_auth(&account.access_jwt)
            .query(&[("aud", aud), ("lxm", lxm)]);
        let out = self.send(req, "getServiceAuth").await?;
        out["token"].as_str().map(str::to_owned).context("getServiceAuth: no token in the output")
    }

    /// A GET of `nsid` on the account's PDS with `atproto-proxy: <proxy>` (e.g.
    /// `did:web:localhost%3A8080#plyr_appview`), so the PDS forwards it with a service JWT.
    /// Returns the response as is, whatever its status.
    pub async fn proxied_get(
        &self,
        account: &Account,
        nsid: &str,
        params: &[(&str, &str)],
        proxy: &str,
    ) -> anyhow::Result<Response> {
        self.get(nsid)
            .bearer_auth(&account.access_jwt)
            .header("atproto-proxy", proxy)
            .query(params)
            .send()
            .await
            .with_context(|| format!("proxied GET {nsid} via {proxy}"))
    }

    /// A POST of `nsid` with a JSON body, proxied like [`PdsClient::proxied_get`].
    pub async fn proxied_post(
        &self,
        account: &Account,
        nsid: &str,
        body: &Value,
        proxy: &str,
    ) -> anyhow::Result<Response> {
        self.post(nsid)
            .bearer_auth(&account.access_jwt)
            .header("atproto-proxy", proxy)
            .json(body)
            .send()
            .await
            .with_context(|| format!("proxied POST {nsid} via {proxy}"))
    }

    /// An unauthenticated query; the JSON output.
    pub async fn query(&self, nsid: &str, params: &[(&str, &str)]) -> anyhow::Result<Value> {
        self.send(self.get(nsid).query(params), nsid).await
    }

    /// Every record of `collection` in `did`'s repo (`com.atproto.repo.listRecords`, all pages):
    /// `[{uri, cid, value}]`.
    pub async fn list_records(&self, did: &str, collection: &str) -> anyhow::Result<Vec<Value>> {
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut params = vec![("repo", did), ("collection", collection), ("limit", "100")];
            if let Some(cursor) = cursor.as_deref() {
                params.push(("cursor", cursor));
            }
            let mut out = self.query("com.atproto.repo.listRecords", &params).await?;
            let page = out["records"].as_array_mut().context("listRecords: no records array")?;
            if page.is_empty() {
                return Ok(records);
            }
            records.append(page);
            match out["cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(records),
            }
        }
    }

    /// `com.atproto.sync.getRepo`: the repo as CAR v1 bytes.
    pub async fn get_repo(&self, did: &str) -> anyhow::Result<Vec<u8>> {
        let resp = self
            .get("com.atproto.sync.getRepo")
            .query(&[("did", did)])
            .send()
            .await
            .context("getRepo: request")?;
        let status = resp.status();
        let bytes = resp.bytes().await.context("getRepo: reading the body")?;
        anyhow::ensure!(status.is_success(), "getRepo: HTTP {status}: {}", String::from_utf8_lossy(&bytes));
        Ok(bytes.to_vec())
    }

    /// `com.atproto.identity.resolveHandle`: the handle's DID.
    pub async fn resolve_handle(&self, handle: &str) -> anyhow::Result<String> {
        let out = self.query("com.atproto.identity.resolveHandle", &[("handle", handle)]).await?;
        out["did"].as_str().map(str::to_owned).context("resolveHandle: no did in the output")
    }

    fn get(&self, nsid: &str) -> RequestBuilder {
        self.http.get(self.xrpc_url(nsid))
    }

    fn post(&self, nsid: &str) -> RequestBuilder {
        self.http.post(self.xrpc_url(nsid))
    }

    /// Sends `req`; a non-2xx status is an error carrying the XRPC error body. An empty body is
    /// `Value::Null`.
    async fn send(&self, req: RequestBuilder, what: &str) -> anyhow::Result<Value> {
        let resp = req.send().await.with_context(|| format!("{what}: request"))?;
        let status = resp.status();
        let bytes = resp.bytes().await.with_context(|| format!("{what}: reading the body"))?;
        anyhow::ensure!(status.is_success(), "{what}: HTTP {status}: {}", String::from_utf8_lossy(&bytes));
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{what}: the output is not JSON"))
    }
}
