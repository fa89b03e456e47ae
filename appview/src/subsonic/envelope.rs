//! The `subsonic-response` envelope: one payload rendered as XML (the protocol's default) or
//! JSON (`f=json`), and the protocol's failures. Failures travel inside a `status="failed"`
//! envelope with HTTP 200, as every Subsonic client expects; an HTTP error reads as "server
//! broken" to them.
//!
//! Payloads are built as serde values and rendered by one rule for both formats (as the
//! Subsonic XSD shapes them): in XML a scalar field is an attribute, an object a child element,
//! an array repeated child elements named after the field, a scalar in an array (or a field of
//! [`TEXT_FIELDS`]) a child element holding text. Nulls are left out of both.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// The Subsonic API version answered (OpenSubsonic builds on 1.16.1).
pub const API_VERSION: &str = "1.16.1";
/// `type` in the envelope: which server this is.
pub const SERVER_TYPE: &str = "plyr-appview";
const XMLNS: &str = "http://subsonic.org/restapi";

/// Fields that are elements holding text in the XSD, not attributes (artist and album info).
const TEXT_FIELDS: [&str; 7] =
    ["biography", "musicBrainzId", "lastFmUrl", "smallImageUrl", "mediumImageUrl", "largeImageUrl", "notes"];

/// The protocol's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Generic = 0,
    MissingParameter = 10,
    WrongCredentials = 40,
    NotAuthorized = 50,
    NotFound = 70,
}

/// A request the protocol answers with a failed envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

impl Failure {
    pub fn missing(name: &str) -> Self {
        Self { code: Code::MissingParameter, message: format!("required parameter is missing: {name}") }
    }

    pub fn not_found(what: &str) -> Self {
        Self { code: Code::NotFound, message: format!("{what} not found") }
    }

    pub fn invalid(name: &str, value: &str) -> Self {
        let value: String = value.chars().take(64).collect();
        Self { code: Code::Generic, message: format!("invalid value for {name}: {value:?}") }
    }

    pub fn generic(message: impl Into<String>) -> Self {
        Self { code: Code::Generic, message: message.into() }
    }

    pub fn not_authorized(message: impl Into<String>) -> Self {
        Self { code: Code::NotAuthorized, message: message.into() }
    }

    pub fn wrong_credentials() -> Self {
        Self { code: Code::WrongCredentials, message: "wrong username or password".into() }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "subsonic: database error");
        Self::generic("the index is not reachable; try again")
    }
}

impl From<crate::hydrate::HydrateError> for Failure {
    fn from(e: crate::hydrate::HydrateError) -> Self {
        e.0.into()
    }
}

impl From<crate::rest::RestError> for Failure {
    fn from(e: crate::rest::RestError) -> Self {
        tracing::error!(error = ?e, "subsonic: read failed");
        Self::generic("the index is not reachable; try again")
    }
}

/// The wire format a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    /// `f=json` (and `jsonp`, answered as plain JSON) is JSON; anything else XML.
    pub fn of(f: Option<&str>) -> Self {
        match f {
            Some("json" | "jsonp") => Format::Json,
            _ => Format::Xml,
        }
    }
}

/// An `ok` envelope around `payload`'s fields.
pub fn ok(format: Format, payload: Map<String, Value>) -> Response {
    render(format, "ok", payload)
}

/// A `failed` envelope carrying `failure`.
pub fn failed(format: Format, failure: &Failure) -> Response {
    let mut payload = Map::new();
    let error = serde_json::json!({ "code": failure.code as u8, "message": failure.message });
    payload.insert("error".into(), error);
    render(format, "failed", payload)
}

fn render(format: Format, status: &str, payload: Map<String, Value>) -> Response {
    let mut body = Map::new();
    body.insert("status".into(), status.into());
    body.insert("version".into(), API_VERSION.into());
    body.insert("type".into(), SERVER_TYPE.into());
    body.insert("serverVersion".into(), env!("CARGO_PKG_VERSION").into());
    body.insert("openSubsonic".into(), true.into());
    for (k, v) in payload {
        body.insert(k, prune(v));
    }
    let (text, content_type) = match format {
        Format::Json => {
            let doc = serde_json::json!({ "subsonic-response": Value::Object(body) });
            (doc.to_string(), "application/json")
        }
        Format::Xml => (to_xml(&body), "text/xml; charset=utf-8"),
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], text).into_response()
}

/// Drops nulls at every depth, so neither format carries them.
fn prune(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, prune(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().filter(|v| !v.is_null()).map(prune).collect()),
        v => v,
    }
}

/// The envelope as an XML document (see the module header for the mapping).
pub fn to_xml(body: &Map<String, Value>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut root = Map::new();
    root.insert("xmlns".into(), XMLNS.into());
    root.extend(body.iter().map(|(k, v)| (k.clone(), v.clone())));
    element(&mut out, "subsonic-response", &root);
    out
}

fn element(out: &mut String, name: &str, fields: &Map<String, Value>) {
    out.push('<');
    out.push_str(name);
    let mut children = false;
    for (k, v) in fields {
        match scalar(v) {
            Some(text) if !TEXT_FIELDS.contains(&k.as_str()) => {
                out.push(' ');
                out.push_str(k);
                out.push_str("=\"");
                escape(out, &text);
                out.push('"');
            }
            None if v.is_null() => {}
            _ => children = true,
        }
    }
    if !children {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for (k, v) in fields {
        match v {
            Value::Object(m) => element(out, k, m),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(m) => element(out, k, m),
                        other => text_element(out, k, other),
                    }
                }
            }
            v if TEXT_FIELDS.contains(&k.as_str()) => text_element(out, k, v),
            _ => {}
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn text_element(out: &mut String, name: &str, v: &Value) {
    let Some(text) = scalar(v) else { return };
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape(out, &text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Escapes markup and drops the characters XML 1.0 cannot carry at all (a record's title may
/// hold any control character; one would make the whole document unreadable).
fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn xml(payload: Value) -> String {
        let Value::Object(m) = payload else { panic!("object") };
        to_xml(&m)
    }

    #[test]
    fn scalars_are_attributes_objects_and_arrays_are_elements() {
        let doc = xml(json!({
            "status": "ok",
            "artists": {"ignoredArticles": "", "index": [{"name": "A", "artist": [{"id": "did:plc:a", "name": "Ann", "albumCount": 2}]}]},
            "openSubsonicExtensions": [{"name": "formPost", "versions": [1]}],
            "artistInfo2": {"biography": "b & <c>", "smallImageUrl": "https://x/y?a=1&b=2"},
        }));
        // Attributes come in name order (XML gives their order no meaning).
        assert!(
            doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<subsonic-response status=\"ok\" xmlns=\"http://subsonic.org/restapi\">"),
            "{doc}"
        );
        assert!(
            doc.contains("<artists ignoredArticles=\"\"><index name=\"A\"><artist albumCount=\"2\" id=\"did:plc:a\" name=\"Ann\"/></index></artists>"),
            "{doc}"
        );
        assert!(
            doc.contains(
                "<openSubsonicExtensions name=\"formPost\"><versions>1</versions></openSubsonicExtensions>"
            ),
            "{doc}"
        );
        assert!(doc.contains("<artistInfo2><biography>b &amp; &lt;c&gt;</biography><smallImageUrl>https://x/y?a=1&amp;b=2</smallImageUrl></artistInfo2>"), "{doc}");
        assert!(doc.ends_with("</subsonic-response>"));
    }

    #[test]
    fn hostile_text_stays_well_formed() {
        let doc = xml(json!({"song": {"title": "a\u{0}b\u{1}\"q\"'\u{FFFF}\nz"}}));
        assert!(doc.contains("title=\"ab&quot;q&quot;&apos;&#10;z\""), "{doc}");
    }

    #[test]
    fn nulls_are_left_out_of_both_formats() {
        let v = prune(json!({"a": null, "b": [null, {"c": null, "d": 1}]}));
        assert_eq!(v, json!({"b": [{"d": 1}]}));
    }

    #[test]
    fn json_is_the_same_envelope() {
        assert_eq!(Format::of(Some("json")), Format::Json);
        assert_eq!(Format::of(Some("jsonp")), Format::Json);
        assert_eq!(Format::of(Some("xml")), Format::Xml);
        assert_eq!(Format::of(None), Format::Xml);
    }
}
