//! Our own record lexicons (`lexicons/schemas`, loaded as a whole folder) against valid and
//! invalid fm.plyr.* records.

use std::path::Path;
use std::sync::LazyLock;

use plyr_atproto::{Catalog, Format, Ipld, ValidateOptions, ViolationKind, record_from_json};
use serde_json::{Value, json};

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lexicons/schemas");
    Catalog::load_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
});

const TRACK_URI: &str = "at://did:plc:7iza6de2dwap2sbkpav7c6c6/fm.plyr.track/3jzfcijpj2z2a";
const RECORD_CID: &str = "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq";
const BLOB_CID: &str = "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity";
const CREATED: &str = "2026-02-27T16:08:13.146107Z";

fn track() -> Value {
    json!({
        "$type": "fm.plyr.track",
        "title": "Night Drive",
        "artist": "plyr.fm",
        "album": "2026",
        "fileType": "wav",
        "audioUrl": "https://audio.plyr.fm/audio/ada9cadc63efd822.wav",
        "audioBlob": {"$type": "blob", "ref": {"$link": BLOB_CID}, "mimeType": "audio/vnd.wave", "size": 12_760_890},
        "imageUrl": "https://images.plyr.fm/cover.png",
        "duration": 265,
        "description": "liner notes",
        "features": [
            {"did": "did:plc:7iza6de2dwap2sbkpav7c6c6", "handle": "alice.bsky.social", "displayName": "Alice"},
            {"did": "did:web:bob.example.com"},
            {"did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz"}
        ],
        "labels": {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "graphic-media"}]},
        "supportGate": {"type": "any"},
        "fileId": "ada9cadc63efd822",
        "createdAt": CREATED
    })
}

fn strong_ref() -> Value {
    json!({"uri": TRACK_URI, "cid": RECORD_CID})
}

fn like() -> Value {
    json!({"$type": "fm.plyr.like", "subject": strong_ref(), "createdAt": CREATED})
}

fn comment() -> Value {
    json!({"$type": "fm.plyr.comment", "subject": strong_ref(), "text": "that drop", "timestampMs": 61_500, "createdAt": CREATED})
}

fn list() -> Value {
    json!({
        "$type": "fm.plyr.list", "name": "late night", "listType": "playlist",
        "items": [{"subject": strong_ref()}, {"subject": strong_ref()}],
        "createdAt": CREATED, "updatedAt": CREATED
    })
}

fn profile() -> Value {
    json!({"$type": "fm.plyr.actor.profile", "bio": "beats 🎧", "avatar": "https://cdn.plyr.fm/a.png", "createdAt": CREATED})
}

fn validate(collection: &str, record: Value) -> Result<(), plyr_atproto::Violations> {
    let record = record_from_json(record).unwrap_or_else(|e| panic!("{collection}: not atproto data: {e}"));
    CATALOG.validate_record(collection, &record)
}

fn set(mut record: Value, pointer: &str, value: Value) -> Value {
    *record.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer} in the record")) = value;
    record
}

#[test]
fn catalog_loads_our_lexicons() {
    let mut records: Vec<&str> = CATALOG.record_types().collect();
    records.sort_unstable();
    let ours = ["fm.plyr.actor.profile", "fm.plyr.comment", "fm.plyr.like", "fm.plyr.list", "fm.plyr.track"];
    for nsid in ours {
        assert!(records.contains(&nsid), "{nsid} missing from {records:?}");
    }
    let ours_unresolved: Vec<&String> = CATALOG
        .unresolved_refs()
        .iter()
        .filter(|r| r.starts_with("fm.plyr.") || r.starts_with("com.atproto."))
        .collect();
    assert!(ours_unresolved.is_empty(), "unresolved: {ours_unresolved:?}");
    let keys = [
        ("fm.plyr.actor.profile", "self", true),
        ("fm.plyr.actor.profile", "3jzfcijpj2z2a", false),
        ("fm.plyr.track", "3jzfcijpj2z2a", true),
        ("fm.plyr.track", "self", false),
    ];
    for (nsid, rkey, ok) in keys {
        assert_eq!(CATALOG.check_record_key(nsid, rkey), ok, "{nsid} {rkey}");
    }
}

#[test]
fn valid_records() {
    let cases = [
        ("fm.plyr.track", track()),
        ("fm.plyr.track", json!({"title": "t", "artist": "a", "fileType": "mp3", "createdAt": CREATED})),
        ("fm.plyr.track", set(track(), "/labels", json!({"$type": "com.example.customLabels", "x": 1}))),
        ("fm.plyr.track", set(track(), "/supportGate/type", json!("copyright"))),
        ("fm.plyr.like", like()),
        ("fm.plyr.comment", comment()),
        ("fm.plyr.list", list()),
        ("fm.plyr.list", set(list(), "/items", json!([]))),
        ("fm.plyr.actor.profile", profile()),
    ];
    for (i, (collection, record)) in cases.into_iter().enumerate() {
        if let Err(violations) = validate(collection, record) {
            panic!("case {i} ({collection}): {violations}");
        }
    }
}

type KindCheck = fn(&ViolationKind) -> bool;

#[test]
fn invalid_records() {
    let too_many_items: Vec<Value> = (0..501).map(|_| json!({"subject": strong_ref()})).collect();
    let mut no_title = track();
    no_title.as_object_mut().map(|o| o.remove("title"));
    let cases: Vec<(&str, &str, Value, &str, KindCheck)> = vec![
        ("257-char title", "fm.plyr.track", set(track(), "/title", json!("x".repeat(257))), "$.title", |k| {
            matches!(k, ViolationKind::TooLong { max: 256, actual: 257, unit: "bytes" })
        }),
        ("missing title", "fm.plyr.track", no_title, "$.title", |k| *k == ViolationKind::RequiredMissing),
        (
            "bad featured did",
            "fm.plyr.track",
            set(track(), "/features/2/did", json!("plc:nope")),
            "$.features[2].did",
            |k| *k == ViolationKind::Format(Format::Did),
        ),
        (
            "image in audioBlob",
            "fm.plyr.track",
            set(track(), "/audioBlob/mimeType", json!("image/png")),
            "$.audioBlob",
            |k| matches!(k, ViolationKind::BlobMimeType(m) if m == "image/png"),
        ),
        (
            "blob over 100 MiB",
            "fm.plyr.track",
            set(track(), "/audioBlob/size", json!(104_857_601)),
            "$.audioBlob",
            |k| matches!(k, ViolationKind::BlobTooLarge { max: 104_857_600, .. }),
        ),
        (
            "legacy blob",
            "fm.plyr.track",
            set(track(), "/audioBlob", json!({"cid": BLOB_CID, "mimeType": "audio/mpeg"})),
            "$.audioBlob",
            |k| *k == ViolationKind::LegacyBlob,
        ),
        (
            "labels without $type",
            "fm.plyr.track",
            set(track(), "/labels", json!({"values": []})),
            "$.labels",
            |k| *k == ViolationKind::UnionMissingType,
        ),
        (
            "selfLabels without values",
            "fm.plyr.track",
            set(track(), "/labels", json!({"$type": "com.atproto.label.defs#selfLabels"})),
            "$.labels.values",
            |k| *k == ViolationKind::RequiredMissing,
        ),
        (
            "negative timestampMs",
            "fm.plyr.comment",
            set(comment(), "/timestampMs", json!(-1)),
            "$.timestampMs",
            |k| matches!(k, ViolationKind::BelowMinimum { min: 0, actual: -1 }),
        ),
        (
            "like subject not an AT-URI",
            "fm.plyr.like",
            set(like(), "/subject/uri", json!("https://plyr.fm/track/1")),
            "$.subject.uri",
            |k| *k == ViolationKind::Format(Format::AtUri),
        ),
        (
            "501 list items",
            "fm.plyr.list",
            set(list(), "/items", Value::Array(too_many_items)),
            "$.items",
            |k| matches!(k, ViolationKind::TooLong { max: 500, actual: 501, unit: "items" }),
        ),
        (
            "list name over 64 graphemes",
            "fm.plyr.list",
            set(list(), "/name", json!("🎧".repeat(40) + &"a".repeat(25))),
            "$.name",
            |k| matches!(k, ViolationKind::TooLong { max: 64, actual: 65, unit: "graphemes" }),
        ),
        (
            "profile with another $type",
            "fm.plyr.actor.profile",
            set(profile(), "/$type", json!("fm.plyr.track")),
            "$.$type",
            |k| matches!(k, ViolationKind::RecordTypeMismatch { .. }),
        ),
        ("unknown collection", "fm.plyr.nope", like(), "$", |k| matches!(k, ViolationKind::NoSchema(_))),
    ];
    for (label, collection, record, path, kind) in cases {
        let record = record_from_json(record).unwrap_or_else(|e| panic!("{label}: not atproto data: {e}"));
        let violations = CATALOG.validate_record(collection, &record).expect_err(label);
        assert!(
            violations.as_slice().iter().any(|v| v.path == path && kind(&v.kind)),
            "{label}: expected a violation at {path}, got: {violations}"
        );
    }
}

#[test]
fn every_violation_is_reported_with_its_path() {
    let record = set(set(track(), "/title", json!("")), "/features/1/did", json!("nope"));
    let violations = validate("fm.plyr.track", record).expect_err("two violations");
    // Properties are walked in lexicon (sorted) order.
    assert_eq!(
        violations.to_string(),
        "$.features[1].did: invalid did; $.title: too short: 0 bytes, minimum 1"
    );
}

#[test]
fn non_object_records() {
    let cases = [Ipld::String("fm.plyr.track".to_owned()), Ipld::List(vec![]), Ipld::Null];
    for record in cases {
        let violations = CATALOG.validate_record("fm.plyr.track", &record).expect_err("not an object");
        assert_eq!(violations.as_slice().len(), 1, "{violations}");
        assert!(violations.has_path("$"), "{violations}");
    }
    // Neither reaches the validator from JSON: the data model refuses them first.
    assert!(record_from_json(json!("a string")).is_err());
    assert!(record_from_json(set(track(), "/duration", json!(2.5))).is_err());
}

#[test]
fn legacy_blobs_only_when_allowed() {
    let legacy = |mime: &str| set(track(), "/audioBlob", json!({"cid": BLOB_CID, "mimeType": mime}));
    let options = ValidateOptions { allow_legacy_blobs: true };
    let cases = [("audio/mpeg", true), ("image/png", false)];
    for (mime, ok) in cases {
        let record = record_from_json(legacy(mime)).expect("data");
        let result = CATALOG.validate_record_with("fm.plyr.track", &record, &options);
        assert_eq!(result.is_ok(), ok, "{mime}: {result:?}");
    }
}
