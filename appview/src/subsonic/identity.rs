//! Who a Subsonic request is from. Subsonic clients always send credentials, in one of three
//! forms: `u` + `p` (plain, or `enc:` and hex), `u` + `t` + `s` (`t` = md5(password + salt)),
//! or OpenSubsonic's `apiKey`. This service has no accounts: by default every credential is
//! accepted, and `u` names the listener when it is the handle or DID of an indexed account (so
//! `getPlaylists` and `getStarred2` show that account's own); any other name browses
//! anonymously. An operator may require one shared password (`--subsonic-password`) instead.
//!
//! A listener named by `u` is never a verified viewer: nobody proved to be that account, so
//! reads stay anonymous (an author's hidden records stay hidden), and `u` only chooses whose
//! public playlists and likes are listed.

use md5::{Digest, Md5};
use plyr_atproto::Did;

use super::Params;
use super::envelope::Failure;
use crate::AppState;
use crate::db::actors;

/// Whose library a request browses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listener {
    Anonymous,
    Account(Did),
}

impl Listener {
    pub fn did(&self) -> Option<&Did> {
        match self {
            Listener::Account(did) => Some(did),
            Listener::Anonymous => None,
        }
    }
}

/// Checks the credentials against `--subsonic-password` when one is set, then names the
/// listener.
pub async fn check(state: &AppState, params: &Params) -> Result<Listener, Failure> {
    if let Some(password) = state.options.subsonic_password.as_ref().map(crate::config::Secret::as_str) {
        verify(password, params)?;
    }
    match params.str("u").filter(|u| !u.is_empty()) {
        Some(u) => listener(state, u).await,
        None => Ok(Listener::Anonymous),
    }
}

/// The account a user name stands for: a DID as it is, a handle when an indexed account has it
/// (verified); anything else is nobody in particular.
pub async fn listener(state: &AppState, name: &str) -> Result<Listener, Failure> {
    if let Ok(did) = Did::new(name) {
        return Ok(Listener::Account(did));
    }
    if name.len() > 253 || !name.contains('.') {
        return Ok(Listener::Anonymous);
    }
    Ok(actors::did_by_handle(&state.db, name).await?.map_or(Listener::Anonymous, Listener::Account))
}

/// Whether the request proves it knows `password`, in whichever form it sent.
fn verify(password: &str, params: &Params) -> Result<(), Failure> {
    let proven = if let Some(key) = params.str("apiKey") {
        same(key.as_bytes(), password.as_bytes())
    } else if let Some(p) = params.str("p") {
        match decode(p) {
            Some(p) => same(p.as_bytes(), password.as_bytes()),
            None => false,
        }
    } else if let (Some(t), Some(s)) = (params.str("t"), params.str("s")) {
        let digest = Md5::new().chain_update(password.as_bytes()).chain_update(s.as_bytes()).finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        same(t.to_ascii_lowercase().as_bytes(), hex.as_bytes())
    } else if params.str("u").is_none() {
        return Err(Failure::missing("u"));
    } else {
        return Err(Failure::missing("p, t and s, or apiKey"));
    };
    if proven { Ok(()) } else { Err(Failure::wrong_credentials()) }
}

/// A `p` as sent: plain, or `enc:` followed by the password's bytes in hex.
fn decode(p: &str) -> Option<String> {
    let Some(hex) = p.strip_prefix("enc:") else { return Some(p.to_owned()) };
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

/// Compares without stopping at the first difference, so the time taken says nothing about
/// how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    #[test]
    fn every_credential_form_proves_the_password() {
        assert_eq!(verify("sesame", &params(&[("u", "x"), ("p", "sesame")])), Ok(()));
        // "sesame" in hex.
        assert_eq!(verify("sesame", &params(&[("u", "x"), ("p", "enc:736573616d65")])), Ok(()));
        // md5("sesame" + "c19b2d"), computed independently (python's hashlib).
        let t = "26719a1196d2a940705a59634eb18eab";
        assert_eq!(verify("sesame", &params(&[("u", "x"), ("t", t), ("s", "c19b2d")])), Ok(()));
        assert_eq!(
            verify("sesame", &params(&[("u", "x"), ("t", &t.to_uppercase()), ("s", "c19b2d")])),
            Ok(())
        );
        assert_eq!(
            verify("sesame", &params(&[("u", "x"), ("t", t), ("s", "c19b2e")])),
            Err(Failure::wrong_credentials()),
            "the digest of another salt is refused"
        );
        assert_eq!(verify("sesame", &params(&[("apiKey", "sesame")])), Ok(()));
    }

    #[test]
    fn wrong_or_missing_credentials_are_refused_with_their_codes() {
        use super::super::envelope::Code;
        let code = |p: &[(&str, &str)]| verify("sesame", &params(p)).err().map(|f| f.code);
        assert_eq!(code(&[("u", "x"), ("p", "open")]), Some(Code::WrongCredentials));
        assert_eq!(code(&[("u", "x"), ("p", "enc:zz")]), Some(Code::WrongCredentials));
        assert_eq!(code(&[("u", "x"), ("p", "enc:736")]), Some(Code::WrongCredentials));
        assert_eq!(code(&[("apiKey", "sesam")]), Some(Code::WrongCredentials));
        assert_eq!(code(&[("u", "x")]), Some(Code::MissingParameter));
        assert_eq!(code(&[]), Some(Code::MissingParameter));
    }
}
