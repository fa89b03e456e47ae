//! Every record in a 20k-event stream is valid against our lexicons and carries its real CID.

mod common;

use std::path::Path;

use common::{generate, parse, text};
use plyr_atproto::{Catalog, Format, cid_for_record, record_from_json};

fn catalog() -> Catalog {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lexicons/schemas");
    Catalog::load_dir(&dir).expect("our lexicons load")
}

#[test]
fn every_record_validates_and_has_its_cid() {
    let catalog = catalog();
    let (lines, _) = generate(11, 20_000);
    let mut validated = 0;
    let mut bsky = 0;
    for event in parse(&lines) {
        let Some(commit) = event.get("commit") else { continue };
        let Some(record) = commit.get("record") else { continue };
        let collection = text(commit, "/collection");
        let rkey = text(commit, "/rkey");
        let value = record_from_json(record.clone()).expect("valid atproto data");
        let cid = cid_for_record(&value).expect("hashes").to_string();
        assert_eq!(text(commit, "/cid"), cid, "CID of {collection}/{rkey}");
        assert_eq!(text(record, "/$type"), collection);
        assert!(Format::Datetime.is_valid(text(record, "/createdAt")), "{record}");
        if collection.starts_with("fm.plyr.") {
            if let Err(violations) = catalog.validate_record(collection, &value) {
                panic!("{collection}/{rkey} is invalid: {violations:?}\n{record}");
            }
            assert!(catalog.check_record_key(collection, rkey), "{collection} rkey {rkey}");
            validated += 1;
        } else {
            assert_eq!(collection, "app.bsky.actor.profile");
            assert_eq!(rkey, "self");
            assert_eq!(text(record, "/avatar/mimeType"), "image/jpeg");
            assert!(text(record, "/avatar/ref/$link").starts_with("bafkrei"));
            assert!(!text(record, "/displayName").is_empty());
            bsky += 1;
        }
    }
    assert!(validated > 15_000, "{validated}");
    let broken = serde_json::json!({"$type": "fm.plyr.like", "createdAt": "2025-01-01T00:00:00.000Z"});
    let broken = record_from_json(broken).expect("valid data");
    assert!(catalog.validate_record("fm.plyr.like", &broken).is_err(), "the validator is live");
    assert!(bsky > 0);
}

#[test]
fn tracks_use_every_shape() {
    let (lines, _) = generate(12, 20_000);
    let tracks: Vec<_> = parse(&lines)
        .into_iter()
        .filter(|e| {
            text(e, "/commit/collection") == "fm.plyr.track" && text(e, "/commit/operation") == "create"
        })
        .filter_map(|e| e.pointer("/commit/record").cloned())
        .collect();
    let has = |pointer: &str| tracks.iter().filter(|t| t.pointer(pointer).is_some()).count();
    assert!(tracks.len() > 200, "{}", tracks.len());
    for field in
        ["/audioBlob", "/audioUrl", "/features/0/did", "/supportGate", "/imageUrl", "/album", "/description"]
    {
        assert!(has(field) > 0, "no track has {field}");
    }
    assert!(has("/labels/values/0/val") > 0 || tracks.len() < 500, "no track has labels");
    let url_only = tracks.iter().filter(|t| t.get("audioBlob").is_none()).count();
    assert!(url_only > 0 && url_only < tracks.len() / 2, "{url_only}");
    for track in &tracks {
        let duration = track["duration"].as_u64().expect("duration");
        assert!((60..=600).contains(&duration));
        assert!(["mp3", "wav", "flac", "m4a"].contains(&text(track, "/fileType")));
        let url = text(track, "/audioUrl");
        assert!(url.is_empty() || url.starts_with("https://audio.plyr.fm/audio/"), "{url}");
    }
    let non_ascii = tracks.iter().filter(|t| !text(t, "/title").is_ascii()).count();
    assert!(non_ascii > 0);
}
