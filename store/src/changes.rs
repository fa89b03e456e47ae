//! The change-notification contract between every writer (the indexer's write path, its
//! identity worker, its ranker) and the AppViews: what a transaction changed, announced on
//! [`CHANNEL`] with `NOTIFY` when it commits, so every AppView process drops the cached entries of
//! those URIs and DIDs, and reloads the rankings or the labels when they were replaced. Writers
//! build a [`Touched`] and [`announce`] it inside their transaction; listeners read each payload
//! with [`Change::parse`].
//!
//! A payload is limited to 8,000 bytes; past that, listeners are told to drop everything. The
//! set stops growing as soon as it could no longer fit, so a catching-up batch of thousands of
//! records costs no more than a payload's worth of copies, hashing and JSON.

use std::collections::HashSet;

/// The channel writers announce committed changes on.
pub const CHANNEL: &str = "plyr_changes";

/// Payloads at or above this size become `{"all":true}` (PostgreSQL refuses 8,000 bytes).
pub const PAYLOAD_LIMIT: usize = 7_900;

/// The URIs and DIDs a transaction changed, or "too many to list".
#[derive(Debug, Default)]
pub struct Touched {
    uris: HashSet<String>,
    dids: HashSet<String>,
    /// The payload's size so far if every key needs no escaping (an estimate that only
    /// decides when to stop collecting; [`Touched::payload`] measures the real one).
    bytes: usize,
    all: bool,
    rankings: bool,
    labels: bool,
}

impl Touched {
    pub fn uri(&mut self, uri: &str) {
        if !self.all && !self.uris.contains(uri) {
            self.grow(uri.len());
            if !self.all {
                self.uris.insert(uri.to_owned());
            }
        }
    }

    pub fn did(&mut self, did: &str) {
        if !self.all && !self.dids.contains(did) {
            self.grow(did.len());
            if !self.all {
                self.dids.insert(did.to_owned());
            }
        }
    }

    /// The top-track rankings were replaced.
    pub fn rankings(&mut self) {
        self.rankings = true;
    }

    /// A labeler's label was applied or negated.
    pub fn labels(&mut self) {
        self.labels = true;
    }

    pub fn is_empty(&self) -> bool {
        !self.all && !self.rankings && !self.labels && self.uris.is_empty() && self.dids.is_empty()
    }

    /// Whether the change is too large to list and listeners must drop everything.
    pub fn is_everything(&self) -> bool {
        self.all
    }

    /// The `NOTIFY` payload: `{"uris":[…],"dids":[…]}` (with `"rankings":true` when they were
    /// replaced, `"labels":true` when a label changed), or `{"all":true}` when that would not fit.
    pub fn payload(&self) -> String {
        const ALL: &str = r#"{"all":true}"#;
        if self.all {
            return ALL.to_owned();
        }
        let mut payload = serde_json::json!({ "uris": self.uris, "dids": self.dids });
        if self.rankings {
            payload["rankings"] = serde_json::Value::Bool(true);
        }
        if self.labels {
            payload["labels"] = serde_json::Value::Bool(true);
        }
        let payload = payload.to_string();
        if payload.len() < PAYLOAD_LIMIT { payload } else { ALL.to_owned() }
    }

    fn grow(&mut self, key: usize) {
        // `{"uris":[],"dids":[]}` plus quotes and a comma per key.
        self.bytes = self.bytes.max(21) + key + 3;
        if self.bytes >= PAYLOAD_LIMIT {
            self.all = true;
            self.uris = HashSet::new();
            self.dids = HashSet::new();
        }
    }
}

/// Announces `touched` on [`CHANNEL`] (nothing when it is empty). Inside a transaction the
/// notification is delivered when, and only if, it commits.
pub async fn announce<'e, E: sqlx::PgExecutor<'e>>(executor: E, touched: &Touched) -> sqlx::Result<()> {
    if touched.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(touched.payload()).execute(executor).await?;
    Ok(())
}

/// What one announcement says changed, as a listener reads it.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Change {
    #[serde(default)]
    pub uris: Vec<String>,
    #[serde(default)]
    pub dids: Vec<String>,
    /// Too much changed to list: drop everything.
    #[serde(default)]
    pub all: bool,
    /// The top-track rankings were replaced: reload them.
    #[serde(default)]
    pub rankings: bool,
    /// A labeler's label was applied or negated: reload the labels.
    #[serde(default)]
    pub labels: bool,
}

impl Change {
    /// Reads a payload; one that cannot be read means "drop everything" (`None` says so, for
    /// the listener's log).
    pub fn parse(payload: &str) -> Option<Change> {
        serde_json::from_str(payload).ok()
    }

    /// "Drop everything".
    pub fn everything() -> Change {
        Change { all: true, ..Change::default() }
    }

    /// Whether this says anything besides "the rankings (or labels) were replaced" (the
    /// ranker's own announcements change nothing it ranks from).
    pub fn touches_records(&self) -> bool {
        self.all || !self.uris.is_empty() || !self.dids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::{Change, PAYLOAD_LIMIT, Touched};

    #[test]
    fn listeners_read_what_writers_announce() {
        let mut t = Touched::default();
        t.uri("at://did:plc:a/fm.plyr.track/1");
        t.did("did:plc:a");
        let change = Change::parse(&t.payload()).expect("readable");
        assert_eq!(change.uris, vec!["at://did:plc:a/fm.plyr.track/1".to_owned()]);
        assert_eq!(change.dids, vec!["did:plc:a".to_owned()]);
        assert!(!change.all);
        assert_eq!(Change::parse(r#"{"all":true}"#), Some(Change::everything()));
        assert_eq!(Change::parse("not json"), None);
    }

    #[test]
    fn small_changes_are_listed_once_each() {
        let mut t = Touched::default();
        assert!(t.is_empty());
        t.uri("at://did:plc:a/fm.plyr.track/1");
        t.uri("at://did:plc:a/fm.plyr.track/1");
        t.did("did:plc:a");
        let v: serde_json::Value = serde_json::from_str(&t.payload()).expect("json");
        assert_eq!(v["uris"], serde_json::json!(["at://did:plc:a/fm.plyr.track/1"]));
        assert_eq!(v["dids"], serde_json::json!(["did:plc:a"]));
        assert!(!t.is_everything());
    }

    #[test]
    fn replaced_rankings_are_announced_apart_from_record_changes() {
        let mut t = Touched::default();
        t.rankings();
        assert!(!t.is_empty());
        let change = Change::parse(&t.payload()).expect("readable");
        assert!(change.rankings);
        assert!(!change.touches_records(), "the ranker's own announcement changes no record");
        t.uri("at://did:plc:a/fm.plyr.like/1");
        let change = Change::parse(&t.payload()).expect("readable");
        assert!(change.rankings && change.touches_records());
        assert!(!Change::parse(r#"{"uris":["at://did:plc:a/fm.plyr.like/1"]}"#).expect("readable").rankings);
        assert!(Change::everything().touches_records());
    }

    #[test]
    fn label_changes_are_announced_apart_from_record_changes() {
        let mut t = Touched::default();
        t.labels();
        assert!(!t.is_empty());
        let change = Change::parse(&t.payload()).expect("readable");
        assert!(change.labels && !change.rankings && !change.touches_records());
        assert!(!Change::parse(r#"{"uris":[]}"#).expect("readable").labels);
    }

    #[test]
    fn a_change_too_large_for_one_payload_becomes_everything_and_stops_collecting() {
        let mut t = Touched::default();
        for i in 0..10_000 {
            t.uri(&format!("at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/fm.plyr.like/{i:013}"));
        }
        assert!(t.is_everything());
        assert!(!t.is_empty());
        assert_eq!(t.payload(), r#"{"all":true}"#);
        t.did("did:plc:b");
        assert_eq!(t.payload(), r#"{"all":true}"#, "stays everything");
    }

    #[test]
    fn every_listed_payload_fits_and_the_cut_comes_at_the_limit() {
        let mut t = Touched::default();
        let mut last_listed = 0;
        for i in 0..400 {
            t.uri(&format!("at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/fm.plyr.like/{i:013}"));
            let p = t.payload();
            assert!(p.len() < PAYLOAD_LIMIT);
            if !t.is_everything() {
                last_listed = p.len();
            }
        }
        assert!(t.is_everything());
        assert!(last_listed > PAYLOAD_LIMIT - 100, "listed up to the limit, not far short: {last_listed}");
    }
}
