//! Splitting a compact JWS into its header, claims and signature bytes, before any trust.
//!
//! The token is `base64url(header) . base64url(payload) . base64url(signature)`, canonical
//! base64url without padding. The header must name `ES256K` or `ES256` and, if it has a `typ`,
//! `JWT`: a PDS access token (`at+jwt`, HS256), a refresh token or a DPoP proof is refused
//! here, before its claims are read. Claims are parsed into fixed types: a claim of the wrong
//! JSON type, a duplicated member or an oversized token is [`ServiceAuthError::Malformed`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer};

use super::ServiceAuthError;
use crate::clip;
use crate::identity::Curve;

/// Longest token read; a PDS's service token is about 450 bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Longest `jti` accepted (the reference PDS sends 32 hex characters).
const MAX_JTI_LEN: usize = 256;
/// `typ` values accepted (compared ASCII case-insensitively, RFC 7515 §4.1.9).
const ACCEPTED_TYPES: [&str; 2] = ["JWT", "application/jwt"];

/// A token whose structure is sound and whose signature is not yet checked.
#[derive(Debug)]
pub(crate) struct UnverifiedToken<'a> {
    /// The curve named by `alg`.
    pub curve: Curve,
    /// The payload's claims.
    pub claims: Claims,
    /// `header_b64 "." payload_b64`, the bytes that were signed.
    pub signing_input: &'a [u8],
    /// The decoded third part.
    pub signature: Vec<u8>,
}

/// The claims this verifier reads; other members are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct Claims {
    pub iss: String,
    pub aud: String,
    pub exp: NumericDate,
    pub iat: Option<NumericDate>,
    pub nbf: Option<NumericDate>,
    pub lxm: Option<String>,
    pub jti: Option<String>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    crit: Option<serde_json::Value>,
}

/// A JWT NumericDate in whole seconds since the epoch (fractions are floored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NumericDate(pub i64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Beyond year 30000 either way: no real token, and safe to add and subtract.
        const LIMIT: i64 = 1 << 40;
        let number = serde_json::Number::deserialize(deserializer)?;
        let seconds = match (number.as_i64(), number.as_f64()) {
            (Some(int), _) => Some(int),
            (None, Some(float)) if float.is_finite() && float.abs() < LIMIT as f64 => {
                Some(float.floor() as i64)
            }
            _ => None,
        };
        match seconds {
            Some(s) if s.abs() < LIMIT => Ok(NumericDate(s)),
            _ => Err(serde::de::Error::custom("not a NumericDate in range")),
        }
    }
}

/// Parses `token` without checking its signature or any claim's value.
pub(crate) fn parse(token: &str) -> Result<UnverifiedToken<'_>, ServiceAuthError> {
    let malformed = |what: &str| ServiceAuthError::Malformed(what.to_owned());
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed("token too long"));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("expected three dot-separated parts"));
    };

    let header: Header = decode_json(header_b64, "header")?;
    if let Some(typ) = header.typ
        && !ACCEPTED_TYPES.iter().any(|t| t.eq_ignore_ascii_case(&typ))
    {
        return Err(ServiceAuthError::WrongTokenType { typ: clip(&typ) });
    }
    if header.crit.is_some() {
        return Err(ServiceAuthError::UnsupportedCritical);
    }
    let curve = match header.alg.as_str() {
        "ES256K" => Curve::K256,
        "ES256" => Curve::P256,
        _ => return Err(ServiceAuthError::UnsupportedAlgorithm { alg: clip(&header.alg) }),
    };

    let claims: Claims = decode_json(payload_b64, "payload")?;
    if claims.jti.as_ref().is_some_and(|jti| jti.is_empty() || jti.len() > MAX_JTI_LEN) {
        return Err(malformed("jti is empty or too long"));
    }
    let signature =
        URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| malformed("signature is not base64url"))?;
    let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    Ok(UnverifiedToken { curve, claims, signing_input, signature })
}

/// Decodes one base64url part and parses it as the JSON object `T`.
fn decode_json<T: for<'de> Deserialize<'de>>(part: &str, name: &str) -> Result<T, ServiceAuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ServiceAuthError::Malformed(format!("{name} is not base64url")))?;
    // serde would also read a struct from a JSON array; a JWS part is always an object.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(ServiceAuthError::Malformed(format!("{name} is not a JSON object")));
    }
    serde_json::from_slice(&bytes).map_err(|e| ServiceAuthError::Malformed(format!("{name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), URL_SAFE_NO_PAD.encode([1u8; 64]))
    }

    const HEADER: &str = r#"{"alg":"ES256K","typ":"JWT"}"#;
    const PAYLOAD: &str = r#"{"iss":"did:plc:a","aud":"did:web:b","exp":10,"lxm":"a.b.c"}"#;

    #[test]
    fn parses_a_well_formed_token() {
        let t = token(HEADER, PAYLOAD);
        let parsed = parse(&t);
        let Ok(parsed) = parsed else { panic!("{parsed:?}") };
        assert_eq!(parsed.curve, Curve::K256);
        assert_eq!(parsed.claims.exp, NumericDate(10));
        assert_eq!(parsed.signature.len(), 64);
        assert_eq!(parsed.signing_input, t.rsplit_once('.').map(|(a, _)| a.as_bytes()).unwrap_or_default());
    }

    #[test]
    fn rejects_structural_faults() {
        let good = token(HEADER, PAYLOAD);
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "three"),
            ("a.b".into(), "three"),
            (format!("{good}.x"), "three"),
            (format!("{}=", good), "signature"),
            (good.replacen('.', "=.", 1), "header is not base64url"),
            (token(HEADER, r#"{"iss":"did:plc:a","aud":["did:web:b"],"exp":10}"#), "payload"),
            (token(HEADER, r#"{"iss":"did:plc:a","aud":"x","aud":"y","exp":10}"#), "duplicate"),
            (token(HEADER, r#"{"iss":"did:plc:a","aud":"x","exp":"10"}"#), "payload"),
            (token(HEADER, r#"{"iss":"did:plc:a","aud":"x","exp":1e300}"#), "NumericDate"),
            (token(HEADER, r#"{"iss":"did:plc:a","aud":"x","exp":1,"jti":""}"#), "jti"),
            (token(r#"["ES256K"]"#, PAYLOAD), "header is not a JSON object"),
            ("a".repeat(MAX_TOKEN_LEN + 1), "too long"),
        ];
        for (input, needle) in cases {
            match parse(&input) {
                Err(ServiceAuthError::Malformed(why)) => assert!(why.contains(needle), "{why} / {needle}"),
                other => panic!("{input:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn header_rules() {
        let cases = [
            (r#"{"alg":"none"}"#, Some("UnsupportedAlgorithm")),
            (r#"{"alg":"HS256","typ":"JWT"}"#, Some("UnsupportedAlgorithm")),
            (r#"{"alg":"es256k"}"#, Some("UnsupportedAlgorithm")),
            (r#"{"alg":"ES256K","typ":"at+jwt"}"#, Some("WrongTokenType")),
            (r#"{"alg":"ES256K","typ":"refresh+jwt"}"#, Some("WrongTokenType")),
            (r#"{"alg":"ES256K","typ":"dpop+jwt"}"#, Some("WrongTokenType")),
            (r#"{"alg":"ES256K","crit":["b64"]}"#, Some("UnsupportedCritical")),
            (r#"{"alg":"ES256K"}"#, None),
            (r#"{"alg":"ES256","typ":"jwt"}"#, None),
            (r##"{"alg":"ES256","typ":"application/JWT","kid":"#atproto"}"##, None),
        ];
        for (header, want) in cases {
            let got = parse(&token(header, PAYLOAD)).err().map(|e| format!("{e:?}"));
            match want {
                None => assert_eq!(got, None, "{header}"),
                Some(name) => {
                    assert!(got.as_deref().is_some_and(|g| g.starts_with(name)), "{header}: {got:?}")
                }
            }
        }
    }
}
