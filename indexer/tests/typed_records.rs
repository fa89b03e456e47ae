//! The generated record readers never refuse what the lexicon check accepted: each registered
//! collection reads its records into the reader generated from its lexicon *after* validation,
//! so a syntax the validator allows and the reader or the row does not would silently drop
//! records, or silently date them wrong. Every valid string-syntax interop vector is put into
//! each record field of that format; where the lexicon check accepts the record, extraction
//! must succeed, and a datetime vector must be the row's date (never the indexing-time fallback).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use plyr_atproto::Ipld;
use plyr_indexer::write::collections::{self, Origin, Reject};
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_indexer::write::validate::RecordCheck;
use serde_json::{Value, json};

const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
const URI: &str = "at://did:plc:abc/fm.plyr.track/3kabc";

fn vectors(format: &str) -> Vec<String> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../atproto/tests/fixtures/syntax");
    let mut out = Vec::new();
    for set in ["canonical", "monorepo"] {
        let Ok(text) = std::fs::read_to_string(dir.join(set).join(format!("{format}_syntax_valid.txt")))
        else {
            continue;
        };
        out.extend(text.split('\n').filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned));
    }
    assert!(!out.is_empty(), "no {format} vectors under {}", dir.display());
    out
}

fn like(uri: &str, cid: &str, created_at: &str) -> Value {
    json!({"$type": "fm.plyr.like", "subject": {"uri": uri, "cid": cid}, "createdAt": created_at})
}

fn track(audio_url: &str, image_url: &str, did: &str, handle: &str) -> Value {
    json!({
        "$type": "fm.plyr.track", "title": "t", "artist": "a", "fileType": "mp3",
        "createdAt": "2024-01-01T00:00:00Z", "audioUrl": audio_url, "imageUrl": image_url,
        "features": [{"did": did, "handle": handle}],
    })
}

/// (collection, record) pairs for every vector of every format the records use.
fn cases() -> Vec<(&'static str, String, Value)> {
    let mut cases = Vec::new();
    for at in vectors("datetime") {
        cases.push(("fm.plyr.like", at.clone(), like(URI, CID, &at)));
        cases.push((
            "fm.plyr.comment",
            at.clone(),
            json!({"subject": {"uri": URI, "cid": CID}, "text": "x", "timestampMs": 1, "createdAt": at, "updatedAt": at}),
        ));
        cases.push((
            "fm.plyr.list",
            at.clone(),
            json!({"items": [{"subject": {"uri": URI, "cid": CID}}], "createdAt": at, "updatedAt": at}),
        ));
    }
    // A listen claiming a time after it was seen is placed when it was seen (years from 3000 on,
    // after this test's indexing time): not a lost date, so those vectors are left out here.
    for at in vectors("datetime").into_iter().filter(|at| !at.starts_with('3')) {
        let play = |nsid: &str| {
            json!({"$type": nsid, "trackName": "t", "artists": [{"artistName": "a"}],
                                       "musicServiceUri": "https://plyr.fm", "musicServiceBaseDomain": "plyr.fm", "playedTime": at})
        };
        cases.push(("fm.teal.feed.play", at.clone(), play("fm.teal.feed.play")));
        cases.push(("fm.teal.alpha.feed.play", at.clone(), play("fm.teal.alpha.feed.play")));
        cases.push((
            "fm.teal.actor.status",
            at.clone(),
            json!({"time": at, "expiry": at, "item": {"trackName": "t", "artists": [{"artistName": "a"}],
                   "musicServiceUri": "https://plyr.fm", "playedTime": at}}),
        ));
    }
    for uri in vectors("uri") {
        cases.push((
            "fm.teal.feed.play",
            uri.clone(),
            json!({"trackName": "t", "musicServiceUri": "https://plyr.fm", "originUri": uri, "playedTime": "2024-01-01T00:00:00Z"}),
        ));
    }
    for uri in vectors("aturi") {
        cases.push(("fm.plyr.like", uri.clone(), like(&uri, CID, "2024-01-01T00:00:00Z")));
    }
    for cid in vectors("cid") {
        cases.push(("fm.plyr.like", cid.clone(), like(URI, &cid, "2024-01-01T00:00:00Z")));
    }
    for uri in vectors("uri") {
        cases.push(("fm.plyr.track", uri.clone(), track(&uri, &uri, "did:plc:abc", "a.test")));
        cases.push((
            "fm.plyr.actor.profile",
            uri.clone(),
            json!({"avatar": uri, "bio": "b", "createdAt": "2024-01-01T00:00:00Z"}),
        ));
    }
    for did in vectors("did") {
        cases.push((
            "fm.plyr.track",
            did.clone(),
            track("https://audio.plyr.fm/a", "https://x.test/i", &did, "a.test"),
        ));
    }
    for handle in vectors("handle") {
        cases.push((
            "fm.plyr.track",
            handle.clone(),
            track("https://audio.plyr.fm/a", "https://x.test/i", "did:plc:abc", &handle),
        ));
    }
    cases
}

/// When no record carries: a row dated this fell back to its indexing time.
fn indexing_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2999-12-31T23:59:59Z").expect("literal").with_timezone(&Utc)
}

/// The dates a row took from its record: `createdAt`, and `updatedAt` where the row keeps one.
fn dates(row: &collections::Row) -> Vec<Option<DateTime<Utc>>> {
    match row {
        collections::Row::Like(r) => vec![Some(r.created_at)],
        collections::Row::Comment(r) => vec![Some(r.created_at), r.updated_at],
        collections::Row::List(r) => vec![Some(r.created_at), r.updated_at],
        collections::Row::Track(r) => vec![Some(r.created_at)],
        collections::Row::PlyrProfile(r) => vec![Some(r.created_at)],
        collections::Row::BskyProfile(_) => vec![],
        collections::Row::Play(r) => vec![Some(r.played_at)],
        collections::Row::Status(r) => vec![Some(r.recorded_at), Some(r.started_at)],
    }
}

#[test]
fn every_record_the_lexicon_check_accepts_extracts_with_its_dates() {
    let check = RecordCheck::embedded().expect("lexicons");
    let trusted = TrustedOrigins::new(["https://audio.plyr.fm"]);
    let (mut accepted, mut dated, mut failures) = (0, 0, Vec::new());
    for (nsid, vector, record) in cases() {
        let record: Ipld = plyr_atproto::record_from_json(record).expect("data model");
        if check.check(nsid, &record).is_err() {
            continue;
        }
        accepted += 1;
        let plugin = collections::get(nsid).expect("registered");
        let rkey =
            if nsid == "fm.plyr.actor.profile" || nsid == "fm.teal.actor.status" { "self" } else { "3kabc" };
        let origin = Origin { uri: URI, rkey, indexed_at: indexing_time() };
        match plugin.extract(origin, &record, &trusted) {
            // A track whose audio URL vector is not on the trusted origin is rightly unplayable.
            Err(Reject::NotPlayable) if nsid == "fm.plyr.track" => {}
            Err(why) => failures.push(format!("{nsid}: {vector:?} refused: {}", why.reason())),
            Ok(row) => {
                let fell_back = dates(&row).iter().any(|d| *d == Some(indexing_time()) || d.is_none());
                if fell_back {
                    failures.push(format!("{nsid}: {vector:?} lost a date: {:?}", dates(&row)));
                }
                dated += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} records decode differently from what is expected:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // 466 on the vectors of 2026-12: a much smaller number means the cases stopped being valid.
    assert!(accepted > 400, "only {accepted} records passed the lexicon check: the cases are wrong");
    assert!(dated > 300, "only {dated} records extracted a row: the cases are wrong");
}

/// The row of a track that must pass its lexicon, under the rkey `3kabc`.
fn track_row(record: &Ipld) -> Box<plyr_indexer::db::tracks::TrackRow> {
    RecordCheck::embedded().expect("lexicons").check("fm.plyr.track", record).expect("valid");
    let plugin = collections::get("fm.plyr.track").expect("registered");
    let origin = Origin { uri: URI, rkey: "3kabc", indexed_at: Utc::now() };
    let trusted = TrustedOrigins::new(["https://audio.plyr.fm"]);
    match plugin.extract(origin, record, &trusted) {
        Ok(collections::Row::Track(row)) => row,
        other => panic!("a valid track extracts a track row, not {other:?}"),
    }
}

#[test]
fn a_record_that_fits_its_type_extracts_the_same_fields_the_lexicon_names() {
    let record = plyr_atproto::record_from_json(json!({
        "$type": "fm.plyr.track", "title": "Song", "artist": "Band", "fileType": "flac",
        "createdAt": "2024-05-06T07:08:09.123Z", "audioUrl": "https://audio.plyr.fm/x", "album": "",
        "audioBlob": {"$type": "blob", "ref": {"$link": CID}, "mimeType": "audio/flac", "size": 1234},
        "duration": 181, "features": [{"did": "did:plc:feat"}], "fileId": "file_1-a",
        "supportGate": {"type": "any"}, "imageUrl": "ftp://x.test/i",
        "labels": {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "sexual"}]},
    }))
    .expect("data model");
    let row = track_row(&record);
    assert_eq!((row.title.as_str(), row.artist.as_str(), row.file_type.as_str()), ("Song", "Band", "flac"));
    assert_eq!(row.album, None, "an empty album is no album");
    assert_eq!(row.duration, Some(181));
    assert_eq!(row.features, vec!["did:plc:feat".to_owned()]);
    assert_eq!(row.file_id, "file_1-a");
    assert_eq!(row.support_gate.as_deref(), Some("any"));
    assert_eq!(row.image_url, None, "only http(s) images are kept");
    assert_eq!(row.self_labels, vec!["sexual".to_owned()]);
    assert_eq!(row.audio_url.as_deref(), Some("https://audio.plyr.fm/x"));
    assert_eq!(row.audio_blob, Some((CID.to_owned(), "audio/flac".to_owned(), 1234)));
    assert_eq!(row.created_at.to_rfc3339(), "2024-05-06T07:08:09.123+00:00");
}

#[test]
fn an_open_union_member_it_does_not_know_is_read_as_no_labels() {
    let record = plyr_atproto::record_from_json(json!({
        "$type": "fm.plyr.track", "title": "Song", "artist": "Band", "fileType": "flac",
        "createdAt": "2024-05-06T07:08:09Z", "audioUrl": "https://audio.plyr.fm/x",
        "labels": {"$type": "com.example.labels#other", "values": [{"val": "sexual"}]},
    }))
    .expect("data model");
    // An open union accepts a member it does not name: the record is valid.
    let row = track_row(&record);
    assert!(row.self_labels.is_empty(), "only selfLabels are self-labels: {:?}", row.self_labels);
    assert_eq!(row.file_id, "3kabc", "without a fileId the rkey names the file");
}
