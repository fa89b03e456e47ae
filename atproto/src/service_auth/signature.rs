//! ECDSA signatures as atproto accepts them: 64-byte compact `r || s`, low-S, over SHA-256.
//!
//! The shape is checked before any key is looked up ([`CompactSignature::parse`]): DER and
//! other lengths are [`ServiceAuthError::SignatureEncoding`], an `s` in the upper half of the
//! curve order is [`ServiceAuthError::HighS`] (the reference verifier lets malleable
//! signatures through for service tokens; the atproto cryptography spec does not).

use k256::ecdsa::signature::Verifier;

use super::ServiceAuthError;
use crate::identity::{Curve, SigningKey, VerifyingKey};

/// A well-formed low-S signature on one curve.
#[derive(Debug, Clone)]
pub(crate) enum CompactSignature {
    /// secp256k1 (`ES256K`).
    K256(k256::ecdsa::Signature),
    /// NIST P-256 (`ES256`).
    P256(p256::ecdsa::Signature),
}

impl CompactSignature {
    /// Checks that `bytes` is a compact low-S signature for `curve`.
    pub(crate) fn parse(curve: Curve, bytes: &[u8]) -> Result<Self, ServiceAuthError> {
        if bytes.len() != 64 {
            return Err(ServiceAuthError::SignatureEncoding);
        }
        let (signature, high_s) = match curve {
            Curve::K256 => {
                let sig = k256::ecdsa::Signature::from_slice(bytes)
                    .map_err(|_| ServiceAuthError::SignatureEncoding)?;
                let high_s = sig.normalize_s().is_some();
                (CompactSignature::K256(sig), high_s)
            }
            Curve::P256 => {
                let sig = p256::ecdsa::Signature::from_slice(bytes)
                    .map_err(|_| ServiceAuthError::SignatureEncoding)?;
                let high_s = sig.normalize_s().is_some();
                (CompactSignature::P256(sig), high_s)
            }
        };
        if high_s {
            return Err(ServiceAuthError::HighS);
        }
        Ok(signature)
    }

    /// Whether this signature over `message` verifies with `key` (false if the curves differ).
    pub(crate) fn verifies(&self, key: &SigningKey, message: &[u8]) -> bool {
        match (self, key.verifying_key()) {
            (CompactSignature::K256(sig), Ok(VerifyingKey::K256(vk))) => vk.verify(message, sig).is_ok(),
            (CompactSignature::P256(sig), Ok(VerifyingKey::P256(vk))) => vk.verify(message, sig).is_ok(),
            _ => false,
        }
    }
}

/// Verifies an atproto signature (compact, low-S, SHA-256) over `message` with `key`, on the
/// key's curve: the check behind every service token, usable on its own for other signed data.
pub fn verify_compact_signature(
    key: &SigningKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), ServiceAuthError> {
    let signature = CompactSignature::parse(key.curve(), signature)?;
    if signature.verifies(key, message) { Ok(()) } else { Err(ServiceAuthError::BadSignature) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_shapes() {
        let cases: [(&[u8], ServiceAuthError); 4] = [
            (&[], ServiceAuthError::SignatureEncoding),
            (&[1; 63], ServiceAuthError::SignatureEncoding),
            (&[0; 64], ServiceAuthError::SignatureEncoding), // r = s = 0
            (&[0xff; 64], ServiceAuthError::SignatureEncoding), // r, s >= n
        ];
        for curve in [Curve::K256, Curve::P256] {
            for (bytes, want) in &cases {
                assert_eq!(CompactSignature::parse(curve, bytes).err().as_ref(), Some(want), "{curve:?}");
            }
        }
    }
}
