//! The `#atproto` signing key of an account, normalised to one form.
//!
//! DID documents publish the key in two encodings: the current `Multikey` (`z` + base58btc of a
//! multicodec prefix and the 33-byte compressed point) and the legacy
//! `EcdsaSecp256{k1,r1}VerificationKey2019` (`z` + base58btc of the raw SEC1 point, often the
//! 65-byte uncompressed form, no prefix). Both become a [`SigningKey`]: a curve and the compressed
//! point, checked to lie on the curve. `did:key` strings are the multikey with a `did:key:` prefix.

use std::fmt;

use k256::elliptic_curve::sec1::ToEncodedPoint;
use multibase::Base;

/// Multicodec varint of a compressed secp256k1 public key (`secp256k1-pub`, 0xe7).
const K256_MULTICODEC: [u8; 2] = [0xe7, 0x01];
/// Multicodec varint of a compressed P-256 public key (`p256-pub`, 0x1200).
const P256_MULTICODEC: [u8; 2] = [0x80, 0x24];
/// Longest multibase string decoded: base58 decoding is quadratic, and a 65-byte key plus a
/// prefix needs about 92 characters.
const MAX_MULTIBASE_LEN: usize = 128;
/// Prefix of a `did:key` DID.
const DID_KEY_PREFIX: &str = "did:key:";

/// An elliptic curve that atproto signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// secp256k1 (`ES256K`).
    K256,
    /// NIST P-256 (`ES256`).
    P256,
}

impl Curve {
    /// The JWT `alg` for signatures on this curve.
    pub fn jwt_alg(self) -> &'static str {
        match self {
            Curve::K256 => "ES256K",
            Curve::P256 => "ES256",
        }
    }

    fn multicodec(self) -> [u8; 2] {
        match self {
            Curve::K256 => K256_MULTICODEC,
            Curve::P256 => P256_MULTICODEC,
        }
    }
}

/// A key that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not a base58btc (`z...`) multibase string of sensible length.
    #[error("key is not a base58btc multibase string")]
    NotMultibase,
    /// A multikey whose multicodec prefix is not secp256k1 or P-256.
    #[error("unsupported key type (multicodec prefix)")]
    UnsupportedCodec,
    /// The bytes are not a point on the curve.
    #[error("key bytes are not a valid {0:?} public key")]
    InvalidPoint(Curve),
    /// A string that does not start with `did:key:`.
    #[error("not a did:key")]
    NotDidKey,
}

/// A verifying key ready for signature checks.
#[derive(Debug, Clone)]
pub enum VerifyingKey {
    /// secp256k1.
    K256(k256::ecdsa::VerifyingKey),
    /// NIST P-256.
    P256(p256::ecdsa::VerifyingKey),
}

/// A public signing key: its curve and compressed SEC1 point (always on the curve).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SigningKey {
    curve: Curve,
    compressed: [u8; 33],
}

impl SigningKey {
    /// From SEC1 bytes (33-byte compressed or 65-byte uncompressed), checking the point.
    pub fn from_sec1(curve: Curve, bytes: &[u8]) -> Result<Self, KeyError> {
        let invalid = || KeyError::InvalidPoint(curve);
        let point = match curve {
            Curve::K256 => k256::PublicKey::from_sec1_bytes(bytes)
                .map_err(|_| invalid())?
                .to_encoded_point(true)
                .as_bytes()
                .to_vec(),
            Curve::P256 => p256::PublicKey::from_sec1_bytes(bytes)
                .map_err(|_| invalid())?
                .to_encoded_point(true)
                .as_bytes()
                .to_vec(),
        };
        let compressed = point.try_into().map_err(|_| invalid())?;
        Ok(SigningKey { curve, compressed })
    }

    /// From a `Multikey` `publicKeyMultibase` (`zQ3s...` for secp256k1, `zDn...` for P-256).
    pub fn from_multikey(multikey: &str) -> Result<Self, KeyError> {
        let bytes = decode_base58btc(multikey)?;
        let (curve, point) = if let Some(point) = bytes.strip_prefix(&K256_MULTICODEC) {
            (Curve::K256, point)
        } else if let Some(point) = bytes.strip_prefix(&P256_MULTICODEC) {
            (Curve::P256, point)
        } else {
            return Err(KeyError::UnsupportedCodec);
        };
        Self::from_sec1(curve, point)
    }

    /// From a legacy `EcdsaSecp256{k1,r1}VerificationKey2019` `publicKeyMultibase`: base58btc of
    /// the raw SEC1 point with no multicodec prefix.
    pub fn from_legacy_multibase(curve: Curve, multibase: &str) -> Result<Self, KeyError> {
        Self::from_sec1(curve, &decode_base58btc(multibase)?)
    }

    /// From a `did:key:z...` string.
    pub fn from_did_key(did_key: &str) -> Result<Self, KeyError> {
        let multikey = did_key.strip_prefix(DID_KEY_PREFIX).ok_or(KeyError::NotDidKey)?;
        Self::from_multikey(multikey)
    }

    /// The curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The 33-byte compressed SEC1 point.
    pub fn compressed(&self) -> &[u8; 33] {
        &self.compressed
    }

    /// The `Multikey` form: `z` + base58btc(multicodec prefix ++ compressed point).
    pub fn to_multikey(&self) -> String {
        let mut bytes = Vec::with_capacity(2 + self.compressed.len());
        bytes.extend_from_slice(&self.curve.multicodec());
        bytes.extend_from_slice(&self.compressed);
        multibase::encode(Base::Base58Btc, bytes)
    }

    /// The `did:key:z...` form.
    pub fn did_key(&self) -> String {
        format!("{DID_KEY_PREFIX}{}", self.to_multikey())
    }

    /// The key as a `k256` or `p256` ECDSA verifying key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        let invalid = || KeyError::InvalidPoint(self.curve);
        Ok(match self.curve {
            Curve::K256 => VerifyingKey::K256(
                k256::ecdsa::VerifyingKey::from_sec1_bytes(&self.compressed).map_err(|_| invalid())?,
            ),
            Curve::P256 => VerifyingKey::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&self.compressed).map_err(|_| invalid())?,
            ),
        })
    }
}

impl fmt::Display for SigningKey {
    /// Formats as `did:key:z...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.did_key())
    }
}

/// Decodes a `z`-prefixed base58btc multibase string, refusing other bases and long inputs.
fn decode_base58btc(s: &str) -> Result<Vec<u8>, KeyError> {
    if s.len() > MAX_MULTIBASE_LEN {
        return Err(KeyError::NotMultibase);
    }
    match multibase::decode(s) {
        Ok((Base::Base58Btc, bytes)) => Ok(bytes),
        _ => Err(KeyError::NotMultibase),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_malformed_keys() {
        let cases = [
            ("", KeyError::NotMultibase),
            ("Q3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF", KeyError::NotMultibase),
            ("z0OIl", KeyError::NotMultibase),
            ("z", KeyError::UnsupportedCodec),
            // ed25519 multikey (0xed 0x01 prefix): not an atproto signing curve
            ("z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", KeyError::UnsupportedCodec),
        ];
        for (input, expected) in cases {
            assert_eq!(SigningKey::from_multikey(input), Err(expected), "{input:?}");
        }
        let long = format!("z{}", "1".repeat(MAX_MULTIBASE_LEN));
        assert_eq!(SigningKey::from_multikey(&long), Err(KeyError::NotMultibase));
        assert_eq!(SigningKey::from_did_key("did:web:x"), Err(KeyError::NotDidKey));
    }

    #[test]
    fn rejects_points_off_the_curve() {
        // 0x05 is not a SEC1 tag; ten bytes is no SEC1 length.
        let k = SigningKey::from_sec1(Curve::K256, &[0x05; 33]);
        assert_eq!(k, Err(KeyError::InvalidPoint(Curve::K256)));
        let p = SigningKey::from_sec1(Curve::P256, &[0x04; 10]);
        assert_eq!(p, Err(KeyError::InvalidPoint(Curve::P256)));
    }
}
