//! ECDSA signature checks as atproto requires them: the 64-byte compact `r ‖ s` encoding only
//! (DER is rejected), `s` in the lower half of the curve order only (high-S is rejected, so a
//! signature has exactly one valid encoding), SHA-256 over the message, secp256k1 or P-256.

use std::sync::LazyLock;

use k256::ecdsa::signature::Verifier;
use plyr_atproto::identity::{KeyError, VerifyingKey};
use secp256k1::{Message, Secp256k1, VerifyOnly};
use sha2::{Digest, Sha256};

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
    /// Well-formed, but not made by this key over this message.
    #[error("signature does not verify")]
    Invalid,
    /// The key itself is unusable.
    #[error("key: {0}")]
    Key(#[from] KeyError),
}

/// Verifies `sig` over `message` (hashed with SHA-256) with `key`.
pub fn verify(key: &VerifyingKey, message: &[u8], sig: &[u8]) -> Result<(), SignatureError> {
    if sig.len() != COMPACT_LEN {
        return Err(SignatureError::NotCompact(sig.len()));
    }
    match key {
        VerifyingKey::K256(key) => {
            let parsed = k256::ecdsa::Signature::from_slice(sig).map_err(|_| SignatureError::Malformed)?;
            if parsed.normalize_s().is_some() {
                return Err(SignatureError::HighS);
            }
            verify_secp256k1(key, message, sig)
        }
        VerifyingKey::P256(key) => {
            let sig = p256::ecdsa::Signature::from_slice(sig).map_err(|_| SignatureError::Malformed)?;
            if sig.normalize_s().is_some() {
                return Err(SignatureError::HighS);
            }
            key.verify(message, &sig).map_err(|_| SignatureError::Invalid)
        }
    }
}

/// The libsecp256k1 context for verification (built once; it is read-only afterwards).
static SECP256K1: LazyLock<Secp256k1<VerifyOnly>> = LazyLock::new(Secp256k1::verification_only);

/// Checks a low-S compact secp256k1 signature with libsecp256k1, about three times as fast as
/// `k256` (whose parsing above still decides what is malformed or high-S, so both libraries
/// agree on what reaches this point).
fn verify_secp256k1(
    key: &k256::ecdsa::VerifyingKey,
    message: &[u8],
    sig: &[u8],
) -> Result<(), SignatureError> {
    let point = key.to_encoded_point(true);
    let key = secp256k1::PublicKey::from_slice(point.as_bytes()).map_err(|_| SignatureError::Invalid)?;
    let sig = secp256k1::ecdsa::Signature::from_compact(sig).map_err(|_| SignatureError::Malformed)?;
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
}
