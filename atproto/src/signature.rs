//! The one ECDSA signature check of this workspace, for repo commits and service tokens alike,
//! as atproto requires it: the 64-byte compact `r ‖ s` encoding only (DER is rejected), `s` in
//! the lower half of the curve order only (high-S is rejected, so a signature has exactly one
//! valid encoding), SHA-256 over the message, secp256k1 or P-256.
//!
//! [`CompactSignature::parse`] checks the shape before any key is looked up (a service token's
//! signature is refused before its issuer is resolved); [`verify`] does both steps.

use std::sync::LazyLock;

use k256::ecdsa::signature::Verifier;
use secp256k1::{Message, Secp256k1, VerifyOnly};
use sha2::{Digest, Sha256};

use crate::identity::{Curve, KeyError, VerifyingKey};

/// Length of a compact `r ‖ s` signature.
pub const COMPACT_LEN: usize = 64;

/// Why a signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not 64 bytes (DER-encoded signatures are 70-72 bytes).
    #[error("signature is {0} bytes, not the 64-byte compact form")]
    NotCompact(usize),
    /// `r` or `s` is zero or not below the curve order.
    #[error("signature scalars are out of range")]
    Malformed,
    /// `s` is in the upper half of the curve order.
    #[error("high-S signature")]
    HighS,
    /// Well-formed, but not made by this key over this message (or the key is on another curve).
    #[error("signature does not verify")]
    Invalid,
    /// The key itself is unusable.
    #[error("key: {0}")]
    Key(#[from] KeyError),
}

/// A well-formed low-S compact signature on one curve.
#[derive(Debug, Clone)]
pub enum CompactSignature {
    /// secp256k1 (`ES256K`).
    K256(k256::ecdsa::Signature),
    /// NIST P-256 (`ES256`).
    P256(p256::ecdsa::Signature),
}

impl CompactSignature {
    /// Checks that `bytes` is a compact low-S signature for `curve`.
    pub fn parse(curve: Curve, bytes: &[u8]) -> Result<Self, SignatureError> {
        if bytes.len() != COMPACT_LEN {
            return Err(SignatureError::NotCompact(bytes.len()));
        }
        let (signature, high_s) = match curve {
            Curve::K256 => {
                let sig = k256::ecdsa::Signature::from_slice(bytes).map_err(|_| SignatureError::Malformed)?;
                let high_s = sig.normalize_s().is_some();
                (Self::K256(sig), high_s)
            }
            Curve::P256 => {
                let sig = p256::ecdsa::Signature::from_slice(bytes).map_err(|_| SignatureError::Malformed)?;
                let high_s = sig.normalize_s().is_some();
                (Self::P256(sig), high_s)
            }
        };
        if high_s {
            return Err(SignatureError::HighS);
        }
        Ok(signature)
    }

    /// Checks this signature over `message` with `key` ([`SignatureError::Invalid`] if the key is
    /// on the other curve).
    pub fn verify(&self, key: &VerifyingKey, message: &[u8]) -> Result<(), SignatureError> {
        match (self, key) {
            (Self::K256(sig), VerifyingKey::K256(key)) => verify_secp256k1(key, message, sig),
            (Self::P256(sig), VerifyingKey::P256(key)) => {
                key.verify(message, sig).map_err(|_| SignatureError::Invalid)
            }
            _ => Err(SignatureError::Invalid),
        }
    }
}

/// Verifies `sig` over `message` (hashed with SHA-256) with `key`, on the key's curve.
pub fn verify(key: &VerifyingKey, message: &[u8], sig: &[u8]) -> Result<(), SignatureError> {
    let curve = match key {
        VerifyingKey::K256(_) => Curve::K256,
        VerifyingKey::P256(_) => Curve::P256,
    };
    CompactSignature::parse(curve, sig)?.verify(key, message)
}

/// The libsecp256k1 context for verification (built once; it is read-only afterwards).
static SECP256K1: LazyLock<Secp256k1<VerifyOnly>> = LazyLock::new(Secp256k1::verification_only);

/// Checks a low-S compact secp256k1 signature with libsecp256k1, about three times as fast as
/// `k256` (whose parsing in [`CompactSignature::parse`] still decides what is malformed or
/// high-S, so both libraries agree on what reaches this point).
fn verify_secp256k1(
    key: &k256::ecdsa::VerifyingKey,
    message: &[u8],
    sig: &k256::ecdsa::Signature,
) -> Result<(), SignatureError> {
    let point = key.to_encoded_point(true);
    let key = secp256k1::PublicKey::from_slice(point.as_bytes()).map_err(|_| SignatureError::Invalid)?;
    let sig =
        secp256k1::ecdsa::Signature::from_compact(&sig.to_bytes()).map_err(|_| SignatureError::Malformed)?;
    let digest: [u8; 32] = Sha256::digest(message).into();
    SECP256K1.verify_ecdsa(&Message::from_digest(digest), &sig, &key).map_err(|_| SignatureError::Invalid)
}

#[cfg(test)]
mod tests {
    use k256::ecdsa::signature::Signer;

    use super::*;

    #[test]
    fn accepts_low_s_and_rejects_everything_else() {
        let signer = k256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("test key");
        let key = VerifyingKey::K256(*signer.verifying_key());
        let sig: k256::ecdsa::Signature = signer.sign(b"hello");
        let sig = sig.normalize_s().unwrap_or(sig);
        assert_eq!(verify(&key, b"hello", &sig.to_bytes()), Ok(()));
        assert_eq!(verify(&key, b"hellO", &sig.to_bytes()), Err(SignatureError::Invalid));
        // The same signature with s negated: valid maths, but high-S.
        let (r, s) = sig.split_scalars();
        let high = k256::ecdsa::Signature::from_scalars(r, -*s).expect("negated s");
        assert_eq!(verify(&key, b"hello", &high.to_bytes()), Err(SignatureError::HighS));
        assert_eq!(
            verify(&key, b"hello", sig.to_der().as_bytes()),
            Err(SignatureError::NotCompact(sig.to_der().len()))
        );
        assert_eq!(verify(&key, b"hello", &[0u8; 64]), Err(SignatureError::Malformed));
        assert_eq!(verify(&key, b"hello", &[]), Err(SignatureError::NotCompact(0)));
    }

    #[test]
    fn shapes_are_refused_on_both_curves_before_any_key() {
        let cases: [(&[u8], SignatureError); 4] = [
            (&[], SignatureError::NotCompact(0)),
            (&[1; 63], SignatureError::NotCompact(63)),
            (&[0; 64], SignatureError::Malformed),    // r = s = 0
            (&[0xff; 64], SignatureError::Malformed), // r, s >= n
        ];
        for curve in [Curve::K256, Curve::P256] {
            for (bytes, want) in &cases {
                assert_eq!(CompactSignature::parse(curve, bytes).err().as_ref(), Some(want), "{curve:?}");
            }
        }
    }

    #[test]
    fn a_signature_on_one_curve_does_not_verify_with_a_key_on_the_other() {
        let signer = k256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("test key");
        let sig: k256::ecdsa::Signature = signer.sign(b"hello");
        let sig = sig.normalize_s().unwrap_or(sig);
        let p256 = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("test key");
        let other = VerifyingKey::P256(*p256.verifying_key());
        let parsed = CompactSignature::parse(Curve::K256, &sig.to_bytes()).expect("well-formed");
        assert_eq!(parsed.verify(&other, b"hello"), Err(SignatureError::Invalid));
    }
}
