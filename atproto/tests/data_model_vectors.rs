//! Data-model interop vectors: JSON -> IPLD -> DAG-CBOR -> CID, and back, plus the JSON
//! that must be accepted or rejected as atproto data.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use plyr_atproto::data::{encode_dag_cbor, record_from_cbor};
use plyr_atproto::{cid_for_record, ipld_to_json, record_from_json, record_to_json};
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data-model").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is a JSON array")
}

fn field<'a>(case: &'a Value, key: &str) -> &'a Value {
    case.get(key).unwrap_or_else(|| panic!("case without {key}: {case}"))
}

#[test]
fn fixtures_json_to_cbor_to_cid_and_back() {
    let cases = load("data-model-fixtures.json");
    assert_eq!(cases.len(), 3);
    for (i, case) in cases.iter().enumerate() {
        let json = field(case, "json");
        let expected_cbor = STANDARD_NO_PAD
            .decode(field(case, "cbor_base64").as_str().expect("string"))
            .expect("fixture base64");
        let expected_cid = field(case, "cid").as_str().expect("string");

        let ipld = record_from_json(json.clone()).unwrap_or_else(|e| panic!("case {i}: {e}: {json}"));
        let cbor = encode_dag_cbor(&ipld).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(cbor, expected_cbor, "case {i}: DAG-CBOR bytes differ for {json}");
        let cid = cid_for_record(&ipld).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(cid.to_string(), expected_cid, "case {i}: CID differs for {json}");

        let decoded = record_from_cbor(&expected_cbor).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(decoded, ipld, "case {i}: CBOR decodes to a different value");
        let back = record_to_json(&decoded).unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(&back, json, "case {i}: JSON round trip differs");
    }
}

#[test]
fn valid_data_is_accepted_and_round_trips() {
    let cases = load("data-model-valid.json");
    assert_eq!(cases.len(), 5);
    for case in &cases {
        let (json, note) = (field(case, "json"), field(case, "note"));
        let ipld = record_from_json(json.clone()).unwrap_or_else(|e| panic!("{note}: rejected: {e}: {json}"));
        let back = ipld_to_json(&ipld).unwrap_or_else(|e| panic!("{note}: {e}"));
        let again = record_from_json(back).unwrap_or_else(|e| panic!("{note}: {e}"));
        assert_eq!(again, ipld, "{note}: JSON round trip changed the value");
        let cbor = encode_dag_cbor(&ipld).unwrap_or_else(|e| panic!("{note}: {e}"));
        assert_eq!(record_from_cbor(&cbor).ok(), Some(ipld), "{note}: CBOR round trip");
    }
}

#[test]
fn invalid_data_is_rejected() {
    let cases = load("data-model-invalid.json");
    assert_eq!(cases.len(), 12);
    let accepted: Vec<String> = cases
        .iter()
        .filter(|case| record_from_json(field(case, "json").clone()).is_ok())
        .map(|case| format!("{}: {}", field(case, "note"), field(case, "json")))
        .collect();
    assert!(accepted.is_empty(), "accepted invalid data:\n{}", accepted.join("\n"));
}

#[test]
fn reading_json_straight_into_data_gives_what_a_parsed_value_gives() {
    let mut seen = 0;
    for name in ["data-model-fixtures.json", "data-model-valid.json", "data-model-invalid.json"] {
        for case in load(name) {
            let json = field(&case, "json");
            let text = json.to_string();
            let expected = format!("{:?}", record_from_json(json.clone()));
            let direct = serde_json::from_str::<plyr_atproto::data::JsonData>(&text)
                .unwrap_or_else(|e| panic!("{name}: not JSON: {e}: {text}"))
                .into_record();
            assert_eq!(format!("{direct:?}"), expected, "{name}: {text}");
            seen += 1;
        }
    }
    assert_eq!(seen, 20);
}
