//! The shape of the stream: ordering (time_us, revs), identifiers, references to tracks that
//! exist, and the mix of events.

mod common;

use std::collections::{HashMap, HashSet};

use common::{generate, parse, text};
use plyr_atproto::Format;
use plyr_gen::Operation;
use serde_json::Value;

#[test]
fn times_and_revs_strictly_increase() {
    let (lines, summary) = generate(21, 20_000);
    let events = parse(&lines);
    let mut last_time = i64::MIN;
    let mut last_rev: HashMap<String, String> = HashMap::new();
    let mut rkeys: HashSet<(String, String, String)> = HashSet::new();
    for event in &events {
        let time = event["time_us"].as_i64().expect("time_us");
        assert!(time > last_time, "time_us goes back at {event}");
        last_time = time;
        let did = text(event, "/did");
        assert!(Format::Did.is_valid(did) && did.starts_with("did:plc:") && did.len() == 32, "{did}");
        match text(event, "/kind") {
            "commit" => {
                let rev = text(event, "/commit/rev");
                assert!(Format::Tid.is_valid(rev), "rev {rev}");
                if let Some(previous) = last_rev.insert(did.to_owned(), rev.to_owned()) {
                    assert!(rev > previous.as_str(), "rev of {did} goes back: {previous} then {rev}");
                }
                let rkey = text(event, "/commit/rkey");
                assert!(rkey == "self" || Format::Tid.is_valid(rkey), "rkey {rkey}");
                let collection = text(event, "/commit/collection");
                let created = text(event, "/commit/operation") == "create";
                let key = (did.to_owned(), collection.to_owned(), rkey.to_owned());
                assert_eq!(rkeys.insert(key), created, "{event}");
                let is_delete = text(event, "/commit/operation") == "delete";
                assert_eq!(event.pointer("/commit/record").is_none(), is_delete);
                assert_eq!(event.pointer("/commit/cid").is_none(), is_delete);
            }
            "identity" => {
                assert!(Format::Handle.is_valid(text(event, "/identity/handle")), "{event}");
                assert_eq!(text(event, "/identity/did"), did);
                assert!(Format::Datetime.is_valid(text(event, "/identity/time")));
            }
            "account" => {
                let active = event.pointer("/account/active").and_then(Value::as_bool).expect("active");
                let status = event.pointer("/account/status").and_then(Value::as_str);
                assert!(matches!((active, status), (true, None) | (false, Some("deactivated" | "deleted"))));
            }
            other => panic!("unexpected kind {other}"),
        }
    }
    assert_eq!(summary.first_time_us, events[0]["time_us"].as_i64().expect("time"));
    assert_eq!(summary.last_time_us, last_time);
    assert!(
        last_time <= plyr_gen::DEFAULT_END_US
            && summary.first_time_us >= plyr_gen::DEFAULT_END_US - plyr_gen::YEAR_US
    );
}

/// The live versions (uri -> cids ever written) and durations of tracks, as the stream goes.
#[derive(Default)]
struct Tracks {
    cids: HashMap<String, HashSet<String>>,
    duration_ms: HashMap<String, u64>,
    deleted: HashSet<String>,
}

impl Tracks {
    fn assert_ref(&self, subject: &Value, event: &Value, live: bool) {
        let (uri, cid) = (text(subject, "/uri"), text(subject, "/cid"));
        let versions = self.cids.get(uri).unwrap_or_else(|| panic!("reference to unknown track: {event}"));
        assert!(versions.contains(cid), "reference to an unknown version: {event}");
        assert!(!live || !self.deleted.contains(uri), "reference to a deleted track: {event}");
    }
}

#[test]
fn references_point_at_earlier_tracks() {
    let (lines, _) = generate(22, 20_000);
    let mut tracks = Tracks::default();
    let mut refs = 0;
    for event in parse(&lines) {
        let Some(commit) = event.get("commit") else { continue };
        let uri = format!(
            "at://{}/{}/{}",
            text(&event, "/did"),
            text(commit, "/collection"),
            text(commit, "/rkey")
        );
        let record = commit.get("record");
        match (text(commit, "/collection"), text(commit, "/operation"), record) {
            ("fm.plyr.track", "delete", _) => {
                tracks.deleted.insert(uri);
            }
            ("fm.plyr.track", _, Some(record)) => {
                tracks.cids.entry(uri.clone()).or_default().insert(text(commit, "/cid").to_owned());
                tracks.duration_ms.insert(uri, record["duration"].as_u64().expect("duration") * 1_000);
            }
            ("fm.plyr.like", "create", Some(record)) => {
                tracks.assert_ref(&record["subject"], &event, true);
                refs += 1;
            }
            ("fm.plyr.comment", op, Some(record)) => {
                tracks.assert_ref(&record["subject"], &event, op == "create");
                let at = record["timestampMs"].as_u64().expect("timestampMs");
                assert!(at < tracks.duration_ms[text(record, "/subject/uri")], "{event}");
                assert_eq!(record.get("updatedAt").is_some(), op == "update");
                refs += 1;
            }
            ("fm.plyr.list", _, Some(record)) => {
                for item in record["items"].as_array().expect("items") {
                    tracks.assert_ref(&item["subject"], &event, false);
                    refs += 1;
                }
            }
            _ => {}
        }
    }
    assert!(refs > 10_000, "{refs}");
}

#[test]
fn mix_matches_the_intent() {
    let (lines, summary) = generate(23, 20_000);
    let events = summary.events as f64;
    let share = |n: u64| n as f64 / events;
    let likes = summary.collection("fm.plyr.like");
    assert!(share(likes.create) > 0.5, "likes are the majority: {summary}");
    let updates = share(summary.operation_total(Operation::Update));
    let deletes = share(summary.operation_total(Operation::Delete));
    assert!((0.01..0.08).contains(&updates), "updates {updates}: {summary}");
    assert!((0.01..0.08).contains(&deletes), "deletes {deletes}: {summary}");
    assert!(likes.delete > 0 && summary.collection("fm.plyr.comment").update > 0);
    assert!(summary.collection("fm.plyr.track").delete > 0 && summary.collection("fm.plyr.list").update > 0);
    assert!(summary.collection("fm.plyr.actor.profile").create >= 100);
    assert!(summary.collection("app.bsky.actor.profile").create > 0);
    assert!(summary.deactivations > 0 && summary.reactivations > 0);
    assert!(share(summary.account) < 0.01 && summary.deletions <= summary.deactivations);

    // The summary agrees with the lines.
    let parsed = parse(&lines);
    let kind = |k: &str| parsed.iter().filter(|e| text(e, "/kind") == k).count() as u64;
    assert_eq!((kind("identity"), kind("account")), (summary.identity, summary.account));
    assert_eq!(kind("commit"), summary.commit_total());

    // List types, and tracks per artist: most have 1-3, a few many more.
    let list_types: HashSet<&str> = parsed.iter().map(|e| text(e, "/commit/record/listType")).collect();
    assert!(["album", "playlist", "liked"].iter().all(|t| list_types.contains(t)), "{list_types:?}");
    let mut per_artist: HashMap<&str, usize> = HashMap::new();
    for e in parsed.iter().filter(|e| text(e, "/commit/collection") == "fm.plyr.track") {
        if text(e, "/commit/operation") == "create" {
            *per_artist.entry(text(e, "/did")).or_default() += 1;
        }
    }
    let few = per_artist.values().filter(|n| **n <= 3).count();
    assert!(few * 10 > per_artist.len() * 7, "{few} of {}", per_artist.len());
    assert!(per_artist.values().any(|n| *n >= 10));
}
