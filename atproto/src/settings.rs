//! Checks for the URLs, origins and DIDs an operator configures, run when the flags are parsed
//! so a typo stops the process at startup with a message naming the flag, instead of surfacing
//! later as links that go nowhere or tokens that never verify. Each function has clap's
//! `value_parser` shape (`&str` in, the value or a message out) and returns the value as given
//! (an origin without its trailing `/`).

use url::Url;

use crate::syntax::is_valid_did;

/// An `http://` or `https://` URL with a host (a PLC directory, a public base URL).
pub fn http_url(value: &str) -> Result<String, String> {
    check_url(value, &["http", "https"])?;
    Ok(value.to_owned())
}

/// An `http(s)` URL, or empty (a setting whose empty value turns a feature off).
pub fn http_url_or_empty(value: &str) -> Result<String, String> {
    if value.is_empty() { Ok(String::new()) } else { http_url(value) }
}

/// A `ws://` or `wss://` URL with a host (a Jetstream instance, a relay's firehose).
pub fn websocket_url(value: &str) -> Result<String, String> {
    check_url(value, &["ws", "wss"])?;
    Ok(value.to_owned())
}

/// A web origin, `scheme://host[:port]` over http or https, with no path, query or credentials;
/// a trailing `/` is dropped (a browser's `Origin` header never has one).
pub fn origin(value: &str) -> Result<String, String> {
    let url = check_url(value, &["http", "https"])?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || value.ends_with("//") {
        return Err(format!("{value:?} is not an origin: write scheme://host[:port], with no path"));
    }
    Ok(value.strip_suffix('/').unwrap_or(value).to_owned())
}

/// A DID (`did:plc:...`, `did:web:...`), checked against the atproto DID syntax.
pub fn did(value: &str) -> Result<String, String> {
    if is_valid_did(value) {
        Ok(value.to_owned())
    } else {
        Err(format!("{value:?} is not a DID (did:<method>:<identifier>, e.g. did:web:api.example.com)"))
    }
}

fn check_url(value: &str, schemes: &[&str]) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("{value:?} is not a URL: {e}"))?;
    if !schemes.contains(&url.scheme()) {
        return Err(format!("{value:?} must be a {} URL", schemes.join(" or ")));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{value:?} names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{value:?} carries credentials; configure them elsewhere"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_each_setting_means_and_refuses_the_rest() {
        assert_eq!(http_url("https://plc.directory"), Ok("https://plc.directory".to_owned()));
        assert_eq!(http_url("http://127.0.0.1:2582/"), Ok("http://127.0.0.1:2582/".to_owned()));
        for bad in ["plc.directory", "ftp://x.example", "https://", "https://u:p@x.example", ""] {
            assert!(http_url(bad).is_err(), "{bad:?}");
        }
        assert_eq!(http_url_or_empty(""), Ok(String::new()));
        assert!(http_url_or_empty("cdn").is_err());
        assert!(websocket_url("wss://jetstream1.us-east.bsky.network").is_ok());
        assert!(websocket_url("https://jetstream1.us-east.bsky.network").is_err());
        assert!(origin("https://plyr.fm").is_ok());
        assert!(origin("http://localhost:5173").is_ok());
        assert_eq!(origin("https://plyr.fm/"), Ok("https://plyr.fm".to_owned()));
        for bad in ["https://plyr.fm/app", "https://plyr.fm?x=1", "plyr.fm", "https://plyr.fm//"] {
            assert!(origin(bad).is_err(), "{bad:?}");
        }
        assert!(did("did:web:api.plyr.fm").is_ok());
        assert!(did("did:plc:ewvi7nxzyoun6zhxrhs64oiz").is_ok());
        for bad in ["api.plyr.fm", "did:web:", "DID:web:x", "did:web:x y"] {
            assert!(did(bad).is_err(), "{bad:?}");
        }
    }
}
