//! Lexicon interop vectors: documents that must parse or be rejected, the example catalog,
//! and the record data that must validate (or fail) against `example.lexicon.record`.

use std::path::{Path, PathBuf};

use plyr_atproto::{Catalog, LexiconDoc, record_from_json};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lexicon")
}

fn load(relative: &str) -> Vec<Value> {
    let path = fixtures().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is a JSON array")
}

fn name(case: &Value) -> &str {
    case.get("name").and_then(Value::as_str).unwrap_or("<unnamed>")
}

fn check_documents(relative: &str, expect_valid: bool, expected_count: usize) {
    let cases = load(relative);
    assert_eq!(cases.len(), expected_count, "{relative}");
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let doc = case.get("lexicon").cloned().expect("case has a lexicon");
            match (LexiconDoc::from_value(doc), expect_valid) {
                (Ok(_), true) | (Err(_), false) => None,
                (Ok(_), false) => Some(format!("{relative}: {:?} accepted", name(case))),
                (Err(e), true) => Some(format!("{relative}: {:?} rejected: {e}", name(case))),
            }
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn lexicon_documents_valid_and_invalid() {
    let table = [
        ("lexicon-valid.json", true, 3),
        ("lexicon-invalid.json", false, 7),
        ("monorepo/lexicon-valid.json", true, 3),
        ("monorepo/lexicon-invalid.json", false, 6),
    ];
    for (file, valid, count) in table {
        check_documents(file, valid, count);
    }
}

fn catalog() -> Catalog {
    Catalog::load_dir(fixtures().join("catalog")).unwrap_or_else(|e| panic!("catalog: {e}"))
}

#[test]
fn example_catalog_loads_and_resolves() {
    let catalog = catalog();
    let ids: Vec<&str> = catalog.documents().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "example.lexicon.permissionset",
            "example.lexicon.procedure",
            "example.lexicon.query",
            "example.lexicon.record",
            "example.lexicon.subscription",
        ]
    );
    assert_eq!(catalog.record_types().collect::<Vec<_>>(), ["example.lexicon.record"]);
    // The procedure's input refs a Bluesky lexicon that is not part of the set.
    assert_eq!(catalog.unresolved_refs(), ["app.bsky.actor.defs#preferences"]);
}

#[test]
fn other_document_sets_load() {
    let table = [("indigo", 3, 0), ("plyr-upstream", 8, 1)];
    for (dir, documents, unresolved) in table {
        let catalog = Catalog::load_dir(fixtures().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(catalog.documents().count(), documents, "{dir}");
        // plyr-upstream's track refs com.atproto.label.defs and strongRef, which it does not ship.
        assert!(catalog.unresolved_refs().len() >= unresolved, "{dir}: {:?}", catalog.unresolved_refs());
    }
}

#[test]
fn record_data_valid() {
    let catalog = catalog();
    let cases = load("record-data-valid.json");
    assert_eq!(cases.len(), 3);
    for case in &cases {
        let data = record_from_json(case["data"].clone()).unwrap_or_else(|e| panic!("{}: {e}", name(case)));
        let result = catalog.validate_record("example.lexicon.record", &data);
        assert!(
            result.is_ok(),
            "{:?}: {}",
            name(case),
            result.err().map(|v| v.to_string()).unwrap_or_default()
        );
        let rkey = case["rkey"].as_str().expect("rkey");
        assert!(catalog.check_record_key("example.lexicon.record", rkey), "{:?}: rkey {rkey}", name(case));
    }
}

/// Where each invalid case's violation must be (at or below): the one field it sets besides
/// `$type` and a valid `integer` (one level down for `formats`), else `$.integer`.
fn expected_path(data: &Value) -> String {
    let object = data.as_object().expect("object");
    let field = object.iter().find(|(k, v)| *k != "$type" && !(*k == "integer" && v.as_i64() == Some(1)));
    match field {
        Some((k, Value::Object(inner))) if k == "formats" => {
            let (inner_key, _) = inner.iter().next().expect("one format");
            format!("$.formats.{inner_key}")
        }
        Some((k, _)) => format!("$.{k}"),
        None => "$.integer".to_owned(),
    }
}

#[test]
fn record_data_invalid() {
    let catalog = catalog();
    let cases = load("record-data-invalid.json");
    assert_eq!(cases.len(), 50);
    let mut wrong = Vec::new();
    for case in &cases {
        let (label, data) = (name(case), &case["data"]);
        let record = match record_from_json(data.clone()) {
            Ok(record) => record,
            Err(e) => {
                wrong.push(format!("{label:?}: rejected by the data model instead ({e}): {data}"));
                continue;
            }
        };
        match catalog.validate_record("example.lexicon.record", &record) {
            Ok(()) => wrong.push(format!("{label:?}: no violation for {data}")),
            Err(violations) => {
                let path = expected_path(data);
                let at_or_below = |p: &str| {
                    p.strip_prefix(path.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
                };
                if !violations.as_slice().iter().any(|v| at_or_below(&v.path)) {
                    wrong.push(format!("{label:?}: expected a violation at {path}, got: {violations}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} of 50 cases wrong:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn xrpc_bodies_validate_against_query_procedure_and_subscription() {
    use plyr_atproto::{XrpcBody, ipld_from_json};
    use serde_json::json;

    let catalog = catalog();
    let cases = [
        ("example.lexicon.query", XrpcBody::Output, json!({"a": 1, "b": 2}), None),
        ("example.lexicon.query", XrpcBody::Output, json!({"a": "one"}), Some("$.a")),
        ("example.lexicon.query", XrpcBody::Input, json!({}), Some("$")),
        ("example.lexicon.procedure", XrpcBody::Output, json!({"array": [1, 2]}), None),
        ("example.lexicon.procedure", XrpcBody::Input, json!({"preferences": []}), Some("$.preferences")),
        (
            "example.lexicon.subscription",
            XrpcBody::Output,
            json!({"$type": "example.lexicon.subscription#yo", "seq": 1, "yo": true}),
            None,
        ),
        (
            "example.lexicon.subscription",
            XrpcBody::Output,
            json!({"$type": "example.lexicon.subscription#yo", "seq": 1}),
            Some("$.yo"),
        ),
        ("example.lexicon.record", XrpcBody::Output, json!({}), Some("$")),
    ];
    for (nsid, body, value, violation_at) in cases {
        let shown = value.to_string();
        let value = ipld_from_json(value).expect("data");
        let result = catalog.validate_xrpc_body(nsid, body, &value);
        match (violation_at, result) {
            (None, Ok(())) => {}
            (Some(path), Err(violations)) if violations.has_path(path) => {}
            (expected, got) => panic!("{nsid} {body:?} {shown}: expected {expected:?}, got {got:?}"),
        }
    }
}
