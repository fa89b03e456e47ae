//! The generated record types never refuse what the lexicon check accepted: each registered
//! collection reads its records into the type generated from its lexicon *after* validation, so
//! a syntax the validator allows and the generated type does not would silently drop records.
//! Every valid string-syntax interop vector is put into each record field of that format; where
//! the lexicon check accepts the record, extraction must not fail to decode it.
//!
//! One known exception, pinned here: jacquard's `Handle` refuses handles on the reserved TLDs
//! (`.local`, `.arpa`, `.onion`, ...) that the syntax allows and no PDS registers, so a track whose
//! deprecated `features[].handle` snapshot names one is dropped as `undecodable_record`.

use std::path::{Path, PathBuf};

use chrono::Utc;
use plyr_atproto::Ipld;
use plyr_indexer::write::collections::{self, Origin, Reject};
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_indexer::write::validate::RecordCheck;
use serde_json::{Value, json};

const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
const URI: &str = "at://did:plc:abc/fm.plyr.track/3kabc";

/// The TLDs whose handles jacquard's `Handle` refuses although their syntax is valid.
const RESERVED_TLDS: [&str; 3] = [".local", ".arpa", ".onion"];

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

#[test]
fn every_record_the_lexicon_check_accepts_decodes_into_its_generated_type() {
    let check = RecordCheck::embedded().expect("lexicons");
    // Decoding comes before every other rule, so an untrusted audio URL still shows a decode failure.
    let trusted = TrustedOrigins::default();
    let (mut accepted, mut failures) = (0, Vec::new());
    for (nsid, vector, record) in cases() {
        let record: Ipld = plyr_atproto::record_from_json(record).expect("data model");
        if check.check(nsid, &record).is_err() {
            continue;
        }
        accepted += 1;
        let plugin = collections::get(nsid).expect("registered");
        let rkey = if nsid == "fm.plyr.actor.profile" { "self" } else { "3kabc" };
        let origin = Origin { uri: URI, rkey, indexed_at: Utc::now() };
        let refused = matches!(plugin.extract(origin, &record, &trusted), Err(Reject::Undecodable));
        let reserved = nsid == "fm.plyr.track" && RESERVED_TLDS.iter().any(|tld| vector.ends_with(tld));
        if refused != reserved {
            failures.push(format!("{nsid}: {vector:?} (refused: {refused})"));
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
}

#[test]
fn a_record_that_fits_its_type_extracts_the_same_fields_the_lexicon_names() {
    let check = RecordCheck::embedded().expect("lexicons");
    let record = plyr_atproto::record_from_json(json!({
        "$type": "fm.plyr.track", "title": "Song", "artist": "Band", "fileType": "flac",
        "createdAt": "2024-05-06T07:08:09.123Z", "audioUrl": "https://audio.plyr.fm/x", "album": "",
        "duration": 181, "features": [{"did": "did:plc:feat"}], "fileId": "file_1-a",
        "supportGate": {"type": "any"}, "imageUrl": "ftp://x.test/i",
        "labels": {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "sexual"}]},
    }))
    .expect("data model");
    check.check("fm.plyr.track", &record).expect("valid");
    let plugin = collections::get("fm.plyr.track").expect("registered");
    let origin = Origin { uri: URI, rkey: "3kabc", indexed_at: Utc::now() };
    let trusted = TrustedOrigins::new(["https://audio.plyr.fm"]);
    let Ok(collections::Row::Track(row)) = plugin.extract(origin, &record, &trusted) else {
        panic!("a valid track extracts a track row");
    };
    assert_eq!((row.title.as_str(), row.artist.as_str(), row.file_type.as_str()), ("Song", "Band", "flac"));
    assert_eq!(row.album, None, "an empty album is no album");
    assert_eq!(row.duration, Some(181));
    assert_eq!(row.features, vec!["did:plc:feat".to_owned()]);
    assert_eq!(row.file_id, "file_1-a");
    assert_eq!(row.support_gate.as_deref(), Some("any"));
    assert_eq!(row.image_url, None, "only http(s) images are kept");
    assert_eq!(row.self_labels, vec!["sexual".to_owned()]);
    assert_eq!(row.audio_url.as_deref(), Some("https://audio.plyr.fm/x"));
    assert_eq!(row.created_at.to_rfc3339(), "2024-05-06T07:08:09.123+00:00");
}
