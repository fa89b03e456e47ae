//! Labels (`com.atproto.label.defs#label`): reading one as a labeler sent it, checking its
//! signature, and signing one of our own.
//!
//! A label's signature covers the label's fields exactly as its signer encoded them, minus
//! `sig`, as DAG-CBOR. Signers differ in what they send (skyware always sends `ver: 1` and
//! `neg: false`; others omit `neg` when false), so a [`Label`] keeps the received map and
//! verifies over it re-encoded, never over a struct rebuilt from the fields it understood.
//! Unknown fields are kept (and signed over): the lexicon may grow.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ipld_core::ipld::Ipld;
use k256::ecdsa::signature::Signer;

use crate::data::encode_dag_cbor;
use crate::identity::SigningKey;
use crate::signature::{self, SignatureError};
use crate::syntax::{is_valid_at_uri, is_valid_cid, is_valid_did, parse_datetime};

/// Longest label value (the lexicon's `maxLength`).
pub const MAX_VAL_BYTES: usize = 128;
/// Longest subject URI accepted.
pub const MAX_URI_BYTES: usize = 8192;
/// The label format version we sign.
pub const VERSION: i64 = 1;

/// Why a received label was refused; [`LabelError::reason`] is its metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("a label must be a map")]
    NotAMap,
    #[error("field {0} is missing or of the wrong type")]
    Field(&'static str),
    #[error("field {0} is malformed")]
    Malformed(&'static str),
    #[error("the label is not signed")]
    Unsigned,
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("the label cannot be encoded: {0}")]
    Encode(String),
}

impl LabelError {
    /// The `reason` label of the drop counters.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotAMap | Self::Field(_) | Self::Malformed(_) | Self::Encode(_) => "malformed_label",
            Self::Unsigned => "unsigned_label",
            Self::Signature(_) => "bad_signature",
        }
    }
}

/// One label: the fields this service reads, and the received map the signature covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// The labeler's DID.
    pub src: String,
    /// The subject: a record's AT-URI or an account's DID.
    pub uri: String,
    /// The record version the label is pinned to, if any.
    pub cid: Option<String>,
    pub val: String,
    /// A negation: the label `(src, uri, val)` no longer applies.
    pub neg: bool,
    pub cts: DateTime<Utc>,
    /// After this instant the label no longer applies.
    pub exp: Option<DateTime<Utc>>,
    pub sig: Option<Vec<u8>>,
    /// The received fields minus `sig`, as DAG-CBOR: exactly what the signature covers.
    pub signed_bytes: Vec<u8>,
}

impl Label {
    /// Reads a received label, checking each field's syntax (not the signature).
    pub fn from_ipld(value: Ipld) -> Result<Self, LabelError> {
        let Ipld::Map(mut map) = value else { return Err(LabelError::NotAMap) };
        let sig = match map.remove("sig") {
            None => None,
            Some(Ipld::Bytes(bytes)) => Some(bytes),
            Some(_) => return Err(LabelError::Field("sig")),
        };
        let text = |name: &'static str| match map.get(name) {
            Some(Ipld::String(s)) => Ok(s.clone()),
            _ => Err(LabelError::Field(name)),
        };
        let optional = |name: &'static str| match map.get(name) {
            None | Some(Ipld::Null) => Ok(None),
            Some(Ipld::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(LabelError::Field(name)),
        };
        let (src, uri, val, cts) = (text("src")?, text("uri")?, text("val")?, text("cts")?);
        let (cid, exp) = (optional("cid")?, optional("exp")?);
        let neg = match map.get("neg") {
            None | Some(Ipld::Null) => false,
            Some(Ipld::Bool(b)) => *b,
            Some(_) => return Err(LabelError::Field("neg")),
        };
        if !matches!(map.get("ver"), None | Some(Ipld::Integer(_))) {
            return Err(LabelError::Field("ver"));
        }
        if !is_valid_did(&src) {
            return Err(LabelError::Malformed("src"));
        }
        if uri.len() > MAX_URI_BYTES || !(is_valid_did(&uri) || is_valid_at_uri(&uri)) {
            return Err(LabelError::Malformed("uri"));
        }
        if val.is_empty() || val.len() > MAX_VAL_BYTES {
            return Err(LabelError::Malformed("val"));
        }
        if cid.as_deref().is_some_and(|c| !is_valid_cid(c)) {
            return Err(LabelError::Malformed("cid"));
        }
        let time = |s: &str, name| {
            parse_datetime(s).map(|t| t.with_timezone(&Utc)).map_err(|_| LabelError::Malformed(name))
        };
        let cts = time(&cts, "cts")?;
        let exp = exp.map(|e| time(&e, "exp")).transpose()?;
        let signed_bytes = encode_dag_cbor(&Ipld::Map(map)).map_err(|e| LabelError::Encode(e.to_string()))?;
        Ok(Label { src, uri, cid, val, neg, cts, exp, sig, signed_bytes })
    }

    /// Checks the signature with the labeler's `#atproto_label` key.
    pub fn verify(&self, key: &SigningKey) -> Result<(), LabelError> {
        let sig = self.sig.as_deref().ok_or(LabelError::Unsigned)?;
        let key = key.verifying_key().map_err(SignatureError::from)?;
        Ok(signature::verify(&key, &self.signed_bytes, sig)?)
    }

    /// The label as DAG-CBOR, signature included (what a labeler sends and `queryLabels`
    /// serves, as received).
    pub fn to_cbor(&self) -> Result<Vec<u8>, LabelError> {
        let mut map = self.signed_map()?;
        if let Some(sig) = &self.sig {
            map.insert("sig".to_owned(), Ipld::Bytes(sig.clone()));
        }
        encode_dag_cbor(&Ipld::Map(map)).map_err(|e| LabelError::Encode(e.to_string()))
    }

    /// The label as `com.atproto.label.defs#label` JSON, exactly the fields received (`sig` as
    /// `{"$bytes": ...}`).
    pub fn to_json(&self) -> Result<serde_json::Value, LabelError> {
        let mut map = self.signed_map()?;
        if let Some(sig) = &self.sig {
            map.insert("sig".to_owned(), Ipld::Bytes(sig.clone()));
        }
        crate::data::ipld_to_json(&Ipld::Map(map)).map_err(|e| LabelError::Encode(e.to_string()))
    }

    /// The signed fields as a map.
    pub fn signed_map(&self) -> Result<BTreeMap<String, Ipld>, LabelError> {
        match serde_ipld_dagcbor::from_slice::<Ipld>(&self.signed_bytes) {
            Ok(Ipld::Map(map)) => Ok(map),
            Ok(_) => Err(LabelError::NotAMap),
            Err(e) => Err(LabelError::Encode(e.to_string())),
        }
    }

    /// Reads a stored label: its DAG-CBOR with the signature included ([`Label::to_cbor`]).
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, LabelError> {
        let value: Ipld =
            serde_ipld_dagcbor::from_slice(bytes).map_err(|e| LabelError::Encode(e.to_string()))?;
        Self::from_ipld(value)
    }
}

/// What a label of our own says, before it is signed.
#[derive(Debug, Clone)]
pub struct NewLabel {
    pub src: String,
    pub uri: String,
    pub cid: Option<String>,
    pub val: String,
    pub neg: bool,
    pub cts: DateTime<Utc>,
    pub exp: Option<DateTime<Utc>>,
}

/// A secp256k1 key that signs this service's own labels.
#[derive(Clone)]
pub struct LabelSigner(k256::ecdsa::SigningKey);

impl std::fmt::Debug for LabelSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LabelSigner(secp256k1)")
    }
}

impl LabelSigner {
    /// The key from 64 hex digits (a secp256k1 private key, as `@atproto/crypto` exports it).
    pub fn from_hex(hex: &str) -> Result<Self, LabelError> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(LabelError::Malformed("signing key (64 hex digits)"));
        }
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| LabelError::Malformed("signing key (64 hex digits)"))?;
        k256::ecdsa::SigningKey::from_slice(&bytes)
            .map(Self)
            .map_err(|_| LabelError::Malformed("signing key (not a secp256k1 scalar)"))
    }

    /// The public key, as a DID document would publish it.
    pub fn public_key(&self) -> Result<SigningKey, crate::identity::KeyError> {
        let point = self.0.verifying_key().to_encoded_point(true);
        SigningKey::from_sec1(crate::identity::Curve::K256, point.as_bytes())
    }

    /// Signs `label` (version [`VERSION`], `neg` always present, as skyware signs).
    pub fn sign(&self, label: NewLabel) -> Result<Label, LabelError> {
        let signed_bytes = encode_dag_cbor(&Ipld::Map(unsigned_map(&label)))
            .map_err(|e| LabelError::Encode(e.to_string()))?;
        let sig: k256::ecdsa::Signature = self.0.sign(&signed_bytes);
        let sig = sig.normalize_s().unwrap_or(sig);
        Ok(Label::from_parts(label, signed_bytes, Some(sig.to_bytes().to_vec())))
    }
}

/// An unsigned label of our own (no key configured).
pub fn unsigned(label: NewLabel) -> Result<Label, LabelError> {
    let signed_bytes =
        encode_dag_cbor(&Ipld::Map(unsigned_map(&label))).map_err(|e| LabelError::Encode(e.to_string()))?;
    Ok(Label::from_parts(label, signed_bytes, None))
}

impl Label {
    fn from_parts(label: NewLabel, signed_bytes: Vec<u8>, sig: Option<Vec<u8>>) -> Self {
        let NewLabel { src, uri, cid, val, neg, cts, exp } = label;
        Label { src, uri, cid, val, neg, cts, exp, sig, signed_bytes }
    }
}

fn unsigned_map(label: &NewLabel) -> BTreeMap<String, Ipld> {
    let time = |t: &DateTime<Utc>| Ipld::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    let mut map = BTreeMap::from([
        ("ver".to_owned(), Ipld::Integer(VERSION.into())),
        ("src".to_owned(), Ipld::String(label.src.clone())),
        ("uri".to_owned(), Ipld::String(label.uri.clone())),
        ("val".to_owned(), Ipld::String(label.val.clone())),
        ("neg".to_owned(), Ipld::Bool(label.neg)),
        ("cts".to_owned(), time(&label.cts)),
    ]);
    if let Some(cid) = &label.cid {
        map.insert("cid".to_owned(), Ipld::String(cid.clone()));
    }
    if let Some(exp) = &label.exp {
        map.insert("exp".to_owned(), time(exp));
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "did:plc:labeler00000000000000000";

    fn new_label() -> NewLabel {
        NewLabel {
            src: SRC.into(),
            uri: "at://did:plc:artist/fm.plyr.track/3k".into(),
            cid: None,
            val: "porn".into(),
            neg: false,
            cts: DateTime::parse_from_rfc3339("2026-12-06T10:00:00.123Z").expect("time").with_timezone(&Utc),
            exp: None,
        }
    }

    fn signer() -> LabelSigner {
        LabelSigner::from_hex(&"07".repeat(32)).expect("key")
    }

    #[test]
    fn a_signed_label_survives_the_wire_and_verifies() {
        let label = signer().sign(new_label()).expect("signs");
        let received = Label::from_cbor(&label.to_cbor().expect("encodes")).expect("reads");
        assert_eq!(received, label);
        assert_eq!(received.verify(&signer().public_key().expect("key")), Ok(()));
        let json = received.to_json().expect("json");
        assert_eq!(json["val"], "porn");
        assert_eq!(json["cts"], "2026-12-06T10:00:00.123Z");
        assert_eq!(json["ver"], 1);
        assert!(json["sig"]["$bytes"].is_string(), "{json}");
        let other = LabelSigner::from_hex(&"08".repeat(32)).expect("key");
        assert!(matches!(
            received.verify(&other.public_key().expect("key")),
            Err(LabelError::Signature(SignatureError::Invalid))
        ));
    }

    /// The signature covers what was sent: a signer that omits `neg` and `ver` signs a different
    /// map, and verification must use that map, not one with defaults filled in.
    #[test]
    fn verification_uses_the_fields_as_sent() {
        let mut map = unsigned_map(&new_label());
        map.remove("neg");
        map.remove("ver");
        let bytes = encode_dag_cbor(&Ipld::Map(map.clone())).expect("encodes");
        let sig: k256::ecdsa::Signature = signer().0.sign(&bytes);
        let sig = sig.normalize_s().unwrap_or(sig);
        map.insert("sig".into(), Ipld::Bytes(sig.to_bytes().to_vec()));
        let received = Label::from_ipld(Ipld::Map(map.clone())).expect("reads");
        assert!(!received.neg);
        assert_eq!(received.verify(&signer().public_key().expect("key")), Ok(()));

        // Tampering with any signed field breaks it; so does adding one.
        map.insert("val".into(), Ipld::String("sexual".into()));
        let tampered = Label::from_ipld(Ipld::Map(map.clone())).expect("reads");
        assert!(tampered.verify(&signer().public_key().expect("key")).is_err());
        map.insert("val".into(), Ipld::String("porn".into()));
        map.insert("neg".into(), Ipld::Bool(false));
        let added = Label::from_ipld(Ipld::Map(map)).expect("reads");
        assert!(added.verify(&signer().public_key().expect("key")).is_err());
    }

    #[test]
    fn malformed_labels_are_refused_by_field() {
        let base = || unsigned_map(&new_label());
        let with = |k: &str, v: Ipld| {
            let mut m = base();
            m.insert(k.into(), v);
            Label::from_ipld(Ipld::Map(m)).err()
        };
        let without = |k: &str| {
            let mut m = base();
            m.remove(k);
            Label::from_ipld(Ipld::Map(m)).err()
        };
        assert_eq!(Label::from_ipld(Ipld::String("x".into())).err(), Some(LabelError::NotAMap));
        assert_eq!(without("src"), Some(LabelError::Field("src")));
        assert_eq!(without("cts"), Some(LabelError::Field("cts")));
        assert_eq!(with("src", Ipld::String("alice".into())), Some(LabelError::Malformed("src")));
        assert_eq!(with("uri", Ipld::String("https://x".into())), Some(LabelError::Malformed("uri")));
        assert_eq!(with("val", Ipld::String("v".repeat(129))), Some(LabelError::Malformed("val")));
        assert_eq!(with("val", Ipld::String(String::new())), Some(LabelError::Malformed("val")));
        assert_eq!(with("cid", Ipld::String("nope".into())), Some(LabelError::Malformed("cid")));
        assert_eq!(with("cts", Ipld::String("yesterday".into())), Some(LabelError::Malformed("cts")));
        assert_eq!(with("exp", Ipld::Integer(5)), Some(LabelError::Field("exp")));
        assert_eq!(with("neg", Ipld::String("true".into())), Some(LabelError::Field("neg")));
        assert_eq!(with("sig", Ipld::String("AAAA".into())), Some(LabelError::Field("sig")));
        assert_eq!(with("ver", Ipld::String("1".into())), Some(LabelError::Field("ver")));
        let unsigned = Label::from_ipld(Ipld::Map(base())).expect("reads");
        assert_eq!(unsigned.verify(&signer().public_key().expect("key")), Err(LabelError::Unsigned));
    }

    #[test]
    fn signing_keys_must_be_64_hex_digits() {
        assert!(LabelSigner::from_hex("07").is_err());
        assert!(LabelSigner::from_hex(&"zz".repeat(32)).is_err());
        assert!(LabelSigner::from_hex(&"00".repeat(32)).is_err(), "zero is not a scalar");
        assert!(LabelSigner::from_hex(&format!(" {} ", "07".repeat(32))).is_ok());
    }
}
