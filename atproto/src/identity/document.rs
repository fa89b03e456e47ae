//! DID documents: parsing the JSON into the parts atproto uses.
//!
//! A [`DidDocument`] keeps the `id`, the `alsoKnownAs` URIs and the handle claimed by the
//! first `at://` entry, the `#atproto_pds` service endpoint and the `#atproto` signing key, and
//! for a labeler its `#atproto_labeler` endpoint and `#atproto_label` key.
//! The document must be a JSON object of the DID-core shape and its `id` must be the DID that
//! was asked for; unknown members and unrelated methods or services are ignored.

use serde::Deserialize;

use super::IdentityError;
use super::key::{Curve, SigningKey};
use crate::clip;
use crate::syntax::is_valid_handle;

/// Fragment of the verification method holding the atproto signing key.
const KEY_FRAGMENT: &str = "#atproto";
/// Fragment of the service naming the account's PDS.
const PDS_FRAGMENT: &str = "#atproto_pds";
/// Service type of the account's PDS.
const PDS_TYPE: &str = "AtprotoPersonalDataServer";
/// Fragment of the verification method holding a labeler's label-signing key.
const LABEL_KEY_FRAGMENT: &str = "#atproto_label";
/// Fragment of the service naming a labeler's endpoint.
const LABELER_FRAGMENT: &str = "#atproto_labeler";
/// Service type of a labeler.
const LABELER_TYPE: &str = "AtprotoLabeler";

/// The atproto-relevant parts of a DID document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DidDocument {
    /// The DID (equal to the one requested).
    pub id: String,
    /// Every `alsoKnownAs` URI, in document order.
    pub also_known_as: Vec<String>,
    /// The handle from the first `at://` entry of `alsoKnownAs`, lowercased; `None` when there
    /// is none or it is not a valid handle. Not verified: see `IdentityResolver::verify`.
    pub handle: Option<String>,
    /// The `#atproto_pds` service endpoint (an `http(s)` URL).
    pub pds_endpoint: Option<String>,
    /// The `#atproto` signing key; `None` when absent or undecodable.
    pub signing_key: Option<SigningKey>,
    /// A labeler's `#atproto_labeler` service endpoint (an `http(s)` URL).
    pub labeler_endpoint: Option<String>,
    /// A labeler's `#atproto_label` key, which signs its labels.
    pub label_key: Option<SigningKey>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDocument {
    id: String,
    also_known_as: Option<Vec<String>>,
    verification_method: Option<Vec<RawMethod>>,
    service: Option<Vec<RawService>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMethod {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    public_key_multibase: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawService {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    service_endpoint: serde_json::Value,
}

impl DidDocument {
    /// Parses a DID document fetched for `expected_did`.
    pub fn parse(expected_did: &str, json: &[u8]) -> Result<Self, IdentityError> {
        let raw: RawDocument = serde_json::from_slice(json)
            .map_err(|e| IdentityError::Malformed(format!("DID document: {e}")))?;
        if raw.id != expected_did {
            return Err(IdentityError::DocumentIdMismatch {
                expected: clip(expected_did),
                got: clip(&raw.id),
            });
        }
        let did = raw.id.as_str();
        let also_known_as = raw.also_known_as.unwrap_or_default();
        let handle = claimed_handle(&also_known_as);
        let services = raw.service.unwrap_or_default();
        let pds_endpoint = services.iter().find_map(|s| endpoint(did, s, PDS_FRAGMENT, PDS_TYPE));
        let labeler_endpoint = services.iter().find_map(|s| endpoint(did, s, LABELER_FRAGMENT, LABELER_TYPE));
        let methods = raw.verification_method.unwrap_or_default();
        let key = |fragment: &str| {
            methods.iter().find(|m| is_fragment(did, &m.id, fragment)).and_then(|m| signing_key(did, m))
        };
        let (signing_key, label_key) = (key(KEY_FRAGMENT), key(LABEL_KEY_FRAGMENT));
        Ok(DidDocument {
            id: raw.id,
            also_known_as,
            handle,
            pds_endpoint,
            signing_key,
            labeler_endpoint,
            label_key,
        })
    }
}

/// `#frag` or `<did>#frag`.
fn is_fragment(did: &str, id: &str, fragment: &str) -> bool {
    id == fragment || id.strip_prefix(did).is_some_and(|rest| rest == fragment)
}

/// The first `at://` entry, if it is a valid handle.
fn claimed_handle(also_known_as: &[String]) -> Option<String> {
    let first = also_known_as.iter().find_map(|uri| uri.strip_prefix("at://"))?;
    let handle = first.to_ascii_lowercase();
    if is_valid_handle(&handle) {
        Some(handle)
    } else {
        tracing::debug!(handle = %clip(first), "DID document claims an invalid handle");
        None
    }
}

/// The endpoint of the service `fragment` of type `kind`, if it is an `http(s)` URL.
fn endpoint(did: &str, service: &RawService, fragment: &str, kind: &str) -> Option<String> {
    if !is_fragment(did, &service.id, fragment) || service.kind != kind {
        return None;
    }
    let endpoint = service.service_endpoint.as_str()?;
    let url = reqwest::Url::parse(endpoint).ok()?;
    let usable = matches!(url.scheme(), "http" | "https") && url.has_host();
    usable.then(|| endpoint.to_owned())
}

fn signing_key(did: &str, method: &RawMethod) -> Option<SigningKey> {
    let multibase = method.public_key_multibase.as_deref()?;
    let key = match method.kind.as_str() {
        "Multikey" => SigningKey::from_multikey(multibase),
        "EcdsaSecp256k1VerificationKey2019" => SigningKey::from_legacy_multibase(Curve::K256, multibase),
        "EcdsaSecp256r1VerificationKey2019" => SigningKey::from_legacy_multibase(Curve::P256, multibase),
        other => {
            tracing::warn!(did, method = %clip(&method.id), kind = %clip(other), "unsupported verification method type");
            return None;
        }
    };
    key.map_err(
        |error| tracing::warn!(did, method = %clip(&method.id), %error, "undecodable verification key"),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

    #[test]
    fn fragments() {
        let cases = [
            ("#atproto", true),
            ("did:plc:ewvi7nxzyoun6zhxrhs64oiz#atproto", true),
            ("did:plc:other#atproto", false),
            ("#atproto_pds", false),
            ("atproto", false),
        ];
        for (id, expected) in cases {
            assert_eq!(is_fragment(DID, id, KEY_FRAGMENT), expected, "{id}");
        }
    }

    #[test]
    fn handles() {
        let uris = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases = [
            (uris(&["at://Alice.Test"]), Some("alice.test")),
            (uris(&["https://x.com", "at://bob.test", "at://carol.test"]), Some("bob.test")),
            (uris(&["at://not a handle", "at://bob.test"]), None),
            (uris(&[]), None),
        ];
        for (input, expected) in cases {
            assert_eq!(claimed_handle(&input).as_deref(), expected, "{input:?}");
        }
    }

    #[test]
    fn malformed_documents() {
        let cases: [&[u8]; 5] = [
            b"",
            b"not json",
            b"[]",
            br#"{"id": 5}"#,
            br#"{"id": "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "alsoKnownAs": "at://x.test"}"#,
        ];
        for input in cases {
            assert!(matches!(DidDocument::parse(DID, input), Err(IdentityError::Malformed(_))), "{input:?}");
        }
    }

    #[test]
    fn pds_endpoint_must_be_an_http_url() {
        let doc = |endpoint: &str| {
            format!(
                r##"{{"id":"{DID}","service":[{{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":{endpoint}}}]}}"##
            )
        };
        let cases = [
            (r#""https://pds.example""#, Some("https://pds.example")),
            (r#""http://localhost:2583""#, Some("http://localhost:2583")),
            (r#""ftp://pds.example""#, None),
            (r#""not a url""#, None),
            (r#"{"origin": "https://pds.example"}"#, None),
        ];
        for (endpoint, expected) in cases {
            let parsed = DidDocument::parse(DID, doc(endpoint).as_bytes());
            assert_eq!(parsed.map(|d| d.pds_endpoint), Ok(expected.map(String::from)), "{endpoint}");
        }
    }

    /// A labeler's document: its label key in either encoding, its endpoint, and neither taken
    /// from the wrong fragment or type.
    #[test]
    fn labeler_service_and_label_key() {
        use k256::elliptic_curve::sec1::ToEncodedPoint;
        let public = k256::SecretKey::from_slice(&[7; 32]).expect("a scalar").public_key();
        let multikey = SigningKey::from_sec1(Curve::K256, public.to_encoded_point(true).as_bytes())
            .expect("on the curve")
            .to_multikey();
        let legacy = multibase::encode(multibase::Base::Base58Btc, public.to_encoded_point(false).as_bytes());
        let k256 = (multikey, legacy);
        let doc = |methods: &str, services: &str| {
            format!(r#"{{"id":"{DID}","verificationMethod":[{methods}],"service":[{services}]}}"#)
        };
        let method = |id: &str, kind: &str, key: &str| {
            format!(r#"{{"id":"{id}","type":"{kind}","controller":"{DID}","publicKeyMultibase":"{key}"}}"#)
        };
        let service = |id: &str, kind: &str| {
            format!(r#"{{"id":"{id}","type":"{kind}","serviceEndpoint":"https://labeler.example"}}"#)
        };
        let parsed = DidDocument::parse(
            DID,
            doc(
                &[method("#atproto", "Multikey", &k256.0), method("#atproto_label", "Multikey", &k256.0)]
                    .join(","),
                &service("#atproto_labeler", "AtprotoLabeler"),
            )
            .as_bytes(),
        )
        .expect("parses");
        assert_eq!(parsed.labeler_endpoint.as_deref(), Some("https://labeler.example"));
        assert_eq!(parsed.label_key.as_ref(), parsed.signing_key.as_ref());
        assert!(parsed.label_key.is_some());

        let legacy = DidDocument::parse(
            DID,
            doc(&method("#atproto_label", "EcdsaSecp256k1VerificationKey2019", &k256.1), "").as_bytes(),
        )
        .expect("parses");
        assert_eq!(legacy.label_key.as_ref(), parsed.label_key.as_ref(), "legacy encoding of the same key");
        assert_eq!(legacy.signing_key, None);

        let wrong = DidDocument::parse(
            DID,
            doc(
                &method("#atproto", "Multikey", &k256.0),
                &service("#atproto_labeler", "AtprotoPersonalDataServer"),
            )
            .as_bytes(),
        )
        .expect("parses");
        assert_eq!((wrong.label_key, wrong.labeler_endpoint), (None, None));
    }
}
