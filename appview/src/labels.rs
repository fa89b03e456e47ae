//! Labels as this process applies them: the labels in force from the labelers it may apply
//! (its own DID's and `--labelers`) [`Held`] in memory and read again when a writer announces a
//! label change ([`crate::cache::listen`]), so judging a hydration's keys never costs a
//! statement. Expiry and `cid` pins are judged per read ([`HeldLabel::applies`]); which
//! labelers apply is the request's ([`crate::moderation::Applied`]). Self-labels live on the
//! records and are judged from the row.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use sqlx::PgPool;

use crate::db::labels::{self, LabelRow};
use crate::held::Held;
use crate::moderation::Applied;

/// One label in force.
#[derive(Debug)]
pub struct HeldLabel {
    pub src: Box<str>,
    pub val: Box<str>,
    /// The record version the label is pinned to.
    pub cid: Option<Box<str>>,
    pub exp: Option<DateTime<Utc>>,
    /// The label as `com.atproto.label.defs#label` JSON, as its labeler signed it.
    pub json: Box<RawValue>,
}

impl HeldLabel {
    fn from_row(row: LabelRow) -> Option<Self> {
        let json = match row.raw.as_deref().map(plyr_atproto::label::Label::from_cbor) {
            Some(Ok(label)) => label.to_json().ok()?,
            // Written without its signed form (by hand, or before labels were kept so).
            _ => {
                let mut json = serde_json::json!({
                    "src": row.src, "uri": row.uri, "val": row.val,
                    "cts": row.cts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                });
                if let Some(cid) = &row.cid {
                    json["cid"] = cid.as_str().into();
                }
                if let Some(exp) = row.exp {
                    json["exp"] = exp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true).into();
                }
                json
            }
        };
        Some(HeldLabel {
            src: row.src.into(),
            val: row.val.into(),
            cid: row.cid.map(Into::into),
            exp: row.exp,
            json: RawValue::from_string(json.to_string()).ok()?,
        })
    }

    /// Whether the label applies to a subject whose current version is `cid` (`None`: an
    /// account, or a record whose version is not known) under `applied`, at `now`.
    pub fn applies(&self, cid: Option<&str>, applied: &Applied, now: DateTime<Utc>) -> bool {
        applied.includes(&self.src)
            && self.exp.is_none_or(|exp| exp > now)
            && match (&self.cid, cid) {
                (Some(pin), Some(cid)) => **pin == *cid,
                _ => true,
            }
    }
}

/// Labels in force per subject (a record's AT-URI or a DID).
#[derive(Debug, Default)]
struct BySubject(HashMap<Box<str>, Vec<Arc<HeldLabel>>>);

impl BySubject {
    fn from_rows(rows: Vec<LabelRow>) -> Self {
        let mut map: HashMap<Box<str>, Vec<Arc<HeldLabel>>> = HashMap::new();
        for row in rows {
            let uri: Box<str> = row.uri.as_str().into();
            match HeldLabel::from_row(row) {
                Some(label) => map.entry(uri).or_default().push(Arc::new(label)),
                None => tracing::warn!(subject = %uri, "a stored label could not be read; not applied"),
            }
        }
        BySubject(map)
    }
}

/// A key labels are looked up by, with the version of the record it names when known.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub key: &'a str,
    pub cid: Option<&'a str>,
}

/// The labels that apply to each subject that has any.
pub type Applying = HashMap<String, Vec<Arc<HeldLabel>>>;

/// The labels this process applies.
#[derive(Debug, Default)]
pub struct Labels {
    held: Held<BySubject>,
    /// Every labeler this process may apply: what it holds.
    sources: Vec<String>,
}

impl Labels {
    /// Holds the labels of `sources` (the service's own DID and `--labelers`).
    pub fn new(sources: Vec<String>) -> Self {
        Labels { held: Held::default(), sources }
    }

    /// The labels that apply to each of `subjects` under `applied`, now.
    pub async fn on(
        &self,
        db: &PgPool,
        subjects: &[Subject<'_>],
        applied: &Applied,
    ) -> sqlx::Result<Applying> {
        if subjects.is_empty() {
            return Ok(Applying::new());
        }
        let held = self.held.get(|| load(db, &self.sources)).await?;
        if held.0.is_empty() {
            return Ok(Applying::new());
        }
        let now = Utc::now();
        let mut out = Applying::new();
        for s in subjects {
            let Some(labels) = held.0.get(s.key) else { continue };
            let applying: Vec<_> =
                labels.iter().filter(|l| l.applies(s.cid, applied, now)).cloned().collect();
            if !applying.is_empty() {
                out.insert(s.key.to_owned(), applying);
            }
        }
        Ok(out)
    }

    /// Every label in force under `applied` whose subject `matches` (`queryLabels`), at most
    /// `limit`, subjects in order after `after`.
    pub async fn matching(
        &self,
        db: &PgPool,
        applied: &Applied,
        matches: impl Fn(&str) -> bool,
        after: Option<&str>,
        limit: usize,
    ) -> sqlx::Result<Vec<(String, Arc<HeldLabel>)>> {
        let held = self.held.get(|| load(db, &self.sources)).await?;
        let now = Utc::now();
        let mut keys: Vec<&Box<str>> =
            held.0.keys().filter(|k| matches(k) && after.is_none_or(|a| &***k > a)).collect();
        keys.sort();
        let mut out = Vec::new();
        for key in keys {
            for label in &held.0[key] {
                if label.applies(None, applied, now) {
                    out.push((key.to_string(), Arc::clone(label)));
                }
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The subjects carrying one of `values` from a labeler in `applied`, now.
    pub async fn subjects_carrying(
        &self,
        db: &PgPool,
        applied: &Applied,
        values: &[String],
    ) -> sqlx::Result<Vec<String>> {
        let held = self.held.get(|| load(db, &self.sources)).await?;
        let now = Utc::now();
        let mut subjects: Vec<String> = held
            .0
            .iter()
            .filter(|(_, ls)| {
                ls.iter().any(|l| values.iter().any(|v| **v == *l.val) && l.applies(None, applied, now))
            })
            .map(|(k, _)| k.to_string())
            .collect();
        subjects.sort();
        Ok(subjects)
    }

    /// Reads the table again (a label was applied or negated, or announcements were missed).
    /// On failure the labels in memory stay as they were.
    pub async fn reload(&self, db: &PgPool) -> sqlx::Result<()> {
        let held = self.held.reload(|| load(db, &self.sources)).await?;
        metrics::gauge!("appview_labels_subjects").set(held.0.len() as f64);
        Ok(())
    }
}

async fn load(db: &PgPool, sources: &[String]) -> sqlx::Result<BySubject> {
    Ok(BySubject::from_rows(labels::in_force(db, sources).await?))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    fn row(src: &str, uri: &str, val: &str, cid: Option<&str>, exp: Option<i64>) -> LabelRow {
        LabelRow {
            src: src.into(),
            uri: uri.into(),
            val: val.into(),
            cid: cid.map(Into::into),
            cts: DateTime::from_timestamp(1_000, 0).expect("time"),
            exp: exp.map(|s| DateTime::from_timestamp(s, 0).expect("time")),
            raw: None,
        }
    }

    #[test]
    fn labels_apply_by_labeler_expiry_and_version() {
        let applied = Applied::choose(&HeaderMap::new(), "did:web:own", &["did:plc:a".to_owned()]);
        let now = DateTime::from_timestamp(2_000, 0).expect("time");
        let label = |r| HeldLabel::from_row(r).expect("readable");
        assert!(label(row("did:plc:a", "at://x", "porn", None, None)).applies(Some("c1"), &applied, now));
        assert!(!label(row("did:plc:b", "at://x", "porn", None, None)).applies(None, &applied, now));
        assert!(label(row("did:web:own", "at://x", "!takedown", None, None)).applies(None, &applied, now));
        assert!(!label(row("did:plc:a", "at://x", "porn", None, Some(1_999))).applies(None, &applied, now));
        assert!(label(row("did:plc:a", "at://x", "porn", None, Some(2_001))).applies(None, &applied, now));
        let pinned = label(row("did:plc:a", "at://x", "porn", Some("c1"), None));
        assert!(pinned.applies(Some("c1"), &applied, now));
        assert!(!pinned.applies(Some("c2"), &applied, now), "a newer version is not labelled");
        assert!(pinned.applies(None, &applied, now), "a version we do not know is judged labelled");
        let json: serde_json::Value = serde_json::from_str(pinned.json.get()).expect("json");
        assert_eq!(json["cid"], "c1");
        assert_eq!(json["src"], "did:plc:a");
    }

    #[test]
    fn labels_are_grouped_by_subject() {
        let held = BySubject::from_rows(vec![
            row("did:plc:a", "did:plc:x", "!hide", None, None),
            row("did:plc:a", "did:plc:x", "porn", None, None),
            row("did:plc:a", "at://x", "spam", None, None),
        ]);
        assert_eq!(held.0["did:plc:x"].len(), 2);
        assert_eq!(&*held.0["at://x"][0].val, "spam");
    }
}
