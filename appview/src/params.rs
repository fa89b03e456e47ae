//! Query parameters, checked against the method's lexicon before a handler sees them.
//!
//! The parameter schemas are read once from the embedded lexicon JSON
//! (`plyr_lexicons::schemas::LEXICONS`), so the lexicon stays the one source of truth: required
//! parameters, integer ranges and defaults, string formats and lengths, array lengths. Unknown
//! parameters are ignored, as XRPC servers do. A violation is a 400 `InvalidRequest` naming the
//! parameter.

use std::collections::HashMap;
use std::sync::OnceLock;

use plyr_atproto::{AtUri, Did, Format};
use serde::Deserialize;

use crate::XrpcError;

/// The schema of one parameter.
#[derive(Debug, Clone)]
enum Kind {
    Integer { min: Option<i64>, max: Option<i64>, default: Option<i64> },
    Boolean { default: Option<bool> },
    String { format: Option<Format>, max_length: Option<usize>, default: Option<String> },
    Array { item: Box<Kind>, max_length: Option<usize> },
}

#[derive(Debug, Clone)]
struct MethodSpec {
    params: HashMap<String, Kind>,
    required: Vec<String>,
}

#[derive(Deserialize)]
struct Doc {
    defs: HashMap<String, Def>,
}

#[derive(Deserialize)]
struct Def {
    #[serde(rename = "type")]
    kind: String,
    parameters: Option<ParamsDef>,
}

#[derive(Deserialize)]
struct ParamsDef {
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    properties: HashMap<String, PropDef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PropDef {
    #[serde(rename = "type")]
    kind: String,
    minimum: Option<i64>,
    maximum: Option<i64>,
    max_length: Option<usize>,
    format: Option<Format>,
    default: Option<serde_json::Value>,
    items: Option<Box<PropDef>>,
}

fn kind_of(p: &PropDef) -> Option<Kind> {
    Some(match p.kind.as_str() {
        "integer" => Kind::Integer {
            min: p.minimum,
            max: p.maximum,
            default: p.default.as_ref().and_then(serde_json::Value::as_i64),
        },
        "boolean" => Kind::Boolean { default: p.default.as_ref().and_then(serde_json::Value::as_bool) },
        "string" => Kind::String {
            format: p.format,
            max_length: p.max_length,
            default: p.default.as_ref().and_then(|d| d.as_str().map(str::to_owned)),
        },
        "array" => Kind::Array { item: Box::new(kind_of(p.items.as_deref()?)?), max_length: p.max_length },
        _ => return None,
    })
}

/// Every query method's parameter schema, by NSID, parsed once.
fn specs() -> &'static HashMap<String, MethodSpec> {
    static SPECS: OnceLock<HashMap<String, MethodSpec>> = OnceLock::new();
    SPECS.get_or_init(|| {
        let mut out = HashMap::new();
        for (nsid, json) in plyr_lexicons::schemas::LEXICONS {
            let Ok(doc) = serde_json::from_str::<Doc>(json) else { continue };
            let Some(main) = doc.defs.get("main") else { continue };
            if main.kind != "query" {
                continue;
            }
            let (params, required) = match &main.parameters {
                Some(p) => (
                    p.properties.iter().filter_map(|(k, v)| Some((k.clone(), kind_of(v)?))).collect(),
                    p.required.clone(),
                ),
                None => (HashMap::new(), Vec::new()),
            };
            out.insert((*nsid).to_owned(), MethodSpec { params, required });
        }
        out
    })
}

/// Whether `nsid` is a query this crate's lexicons define.
pub fn is_known_query(nsid: &str) -> bool {
    specs().contains_key(nsid)
}

/// Validated parameters of one request.
#[derive(Debug, Default, Clone)]
pub struct Params {
    values: HashMap<String, Vec<String>>,
    ints: HashMap<String, i64>,
    bools: HashMap<String, bool>,
}

impl Params {
    /// Parses `raw` (the URL query string) and checks it against `nsid`'s lexicon.
    pub fn parse(nsid: &str, raw: Option<&str>) -> Result<Self, XrpcError> {
        let spec = specs()
            .get(nsid)
            .ok_or_else(|| XrpcError::Internal(format!("no parameter schema for {nsid}")))?;
        let mut given: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            // Accept the `name[]=` spelling some clients use for arrays.
            let k = k.strip_suffix("[]").unwrap_or(&k).to_owned();
            if spec.params.contains_key(&k) {
                given.entry(k).or_default().push(v.into_owned());
            }
        }
        for name in &spec.required {
            if given.get(name).is_none_or(Vec::is_empty) {
                return Err(invalid(format!("parameter {name} is required")));
            }
        }
        let mut out = Params::default();
        for (name, kind) in &spec.params {
            let values = given.remove(name).unwrap_or_default();
            out.check(name, kind, values)?;
        }
        Ok(out)
    }

    fn check(&mut self, name: &str, kind: &Kind, values: Vec<String>) -> Result<(), XrpcError> {
        if let Kind::Array { item, max_length } = kind {
            if let Some(max) = max_length
                && values.len() > *max
            {
                return Err(invalid(format!("parameter {name} takes at most {max} values")));
            }
            for v in &values {
                check_scalar(name, item, v)?;
            }
            self.values.insert(name.to_owned(), values);
            return Ok(());
        }
        if values.len() > 1 {
            return Err(invalid(format!("parameter {name} was given more than once")));
        }
        match (values.into_iter().next(), kind) {
            (Some(v), Kind::Integer { .. }) => {
                let n = check_scalar(name, kind, &v)?.unwrap_or_default();
                self.ints.insert(name.to_owned(), n);
            }
            (None, Kind::Integer { default: Some(d), .. }) => {
                self.ints.insert(name.to_owned(), *d);
            }
            (Some(v), Kind::Boolean { .. }) => {
                let b = match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(invalid(format!("parameter {name} must be true or false"))),
                };
                self.bools.insert(name.to_owned(), b);
            }
            (None, Kind::Boolean { default: Some(d) }) => {
                self.bools.insert(name.to_owned(), *d);
            }
            (Some(v), Kind::String { .. }) => {
                check_scalar(name, kind, &v)?;
                self.values.insert(name.to_owned(), vec![v]);
            }
            (None, Kind::String { default: Some(d), .. }) => {
                self.values.insert(name.to_owned(), vec![d.clone()]);
            }
            _ => {}
        }
        Ok(())
    }

    /// A string parameter, if given (or defaulted by the lexicon).
    pub fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.first()).map(String::as_str)
    }

    /// A string parameter the lexicon marks required (checked in [`Params::parse`]).
    pub fn required(&self, name: &str) -> Result<&str, XrpcError> {
        self.str(name).ok_or_else(|| invalid(format!("parameter {name} is required")))
    }

    /// A string parameter the lexicon formats as `at-uri` (checked in [`Params::parse`]), typed.
    pub fn at_uri(&self, name: &str) -> Result<Option<AtUri>, XrpcError> {
        self.str(name).map(|v| typed(name, Format::AtUri, AtUri::new(v))).transpose()
    }

    /// A required `at-uri` parameter, typed.
    pub fn required_at_uri(&self, name: &str) -> Result<AtUri, XrpcError> {
        typed(name, Format::AtUri, AtUri::new(self.required(name)?))
    }

    /// An array parameter whose items the lexicon formats as `at-uri`, typed.
    pub fn at_uris(&self, name: &str) -> Result<Vec<AtUri>, XrpcError> {
        self.list(name).iter().map(|v| typed(name, Format::AtUri, AtUri::new(v))).collect()
    }

    /// An array parameter whose items the lexicon formats as `did`, typed.
    pub fn dids(&self, name: &str) -> Result<Vec<Did>, XrpcError> {
        self.list(name).iter().map(|v| typed(name, Format::Did, Did::new(v))).collect()
    }

    /// An array parameter's values (empty when absent).
    pub fn list(&self, name: &str) -> &[String] {
        self.values.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// An integer parameter, if given (or defaulted by the lexicon).
    pub fn int(&self, name: &str) -> Option<i64> {
        self.ints.get(name).copied()
    }

    /// `limit`, defaulted and range-checked by the lexicon.
    pub fn limit(&self) -> i64 {
        self.int("limit").unwrap_or(50)
    }
}

/// Checks one scalar value; returns the parsed integer for integer parameters.
fn check_scalar(name: &str, kind: &Kind, v: &str) -> Result<Option<i64>, XrpcError> {
    match kind {
        Kind::Integer { min, max, .. } => {
            let n: i64 = v.parse().map_err(|_| invalid(format!("parameter {name} must be an integer")))?;
            if let Some(min) = min
                && n < *min
            {
                return Err(invalid(format!("parameter {name} must be at least {min}")));
            }
            if let Some(max) = max
                && n > *max
            {
                return Err(invalid(format!("parameter {name} must be at most {max}")));
            }
            Ok(Some(n))
        }
        Kind::String { format, max_length, .. } => {
            if let Some(max) = max_length
                && v.len() > *max
            {
                return Err(invalid(format!("parameter {name} is longer than {max} bytes")));
            }
            if let Some(f) = format
                && !f.is_valid(v)
            {
                return Err(invalid(format!("parameter {name} must be a valid {f}")));
            }
            Ok(None)
        }
        Kind::Boolean { .. } => match v {
            "true" | "false" => Ok(None),
            _ => Err(invalid(format!("parameter {name} must be true or false"))),
        },
        Kind::Array { .. } => Err(invalid(format!("parameter {name} cannot nest arrays"))),
    }
}

/// A typed identifier, or the error [`Params::parse`] gives for a value not of that `format`.
fn typed<T>(name: &str, format: Format, r: Result<T, plyr_atproto::SyntaxError>) -> Result<T, XrpcError> {
    r.map_err(|_| invalid(format!("parameter {name} must be a valid {format}")))
}

fn invalid(message: String) -> XrpcError {
    XrpcError::InvalidRequest(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_ranges_formats_and_arrays_come_from_the_lexicons() {
        let p = Params::parse("fm.plyr.feed.getLatestTracks", None).expect("no params");
        assert_eq!(p.limit(), 50);
        assert!(Params::parse("fm.plyr.feed.getLatestTracks", Some("limit=0")).is_err());
        assert!(Params::parse("fm.plyr.feed.getLatestTracks", Some("limit=101")).is_err());
        assert!(Params::parse("fm.plyr.feed.getLatestTracks", Some("limit=x")).is_err());
        assert_eq!(Params::parse("fm.plyr.feed.getLatestTracks", Some("limit=7")).expect("ok").limit(), 7);
        assert!(Params::parse("fm.plyr.actor.getProfile", None).is_err(), "actor is required");
        assert!(Params::parse("fm.plyr.actor.getProfile", Some("actor=not%20a%20handle")).is_err());
        let p = Params::parse("fm.plyr.actor.getProfile", Some("actor=alice.test&junk=1")).expect("ok");
        assert_eq!(p.str("actor"), Some("alice.test"));
        let uris: Vec<String> = (0..26).map(|i| format!("uris=at://did:plc:abc/fm.plyr.track/{i}")).collect();
        assert!(Params::parse("fm.plyr.feed.getTracks", Some(&uris.join("&"))).is_err(), "max 25");
        let p = Params::parse("fm.plyr.feed.getTracks", Some(&uris[..2].join("&"))).expect("ok");
        assert_eq!(p.list("uris").len(), 2);
        assert!(Params::parse("fm.plyr.feed.getTracks", Some("uris=nope")).is_err());
        assert_eq!(Params::parse("fm.plyr.feed.getTopTracks", None).expect("ok").str("period"), Some("all"));
        assert!(Params::parse("fm.plyr.feed.getLatestTracks", Some("limit=1&limit=2")).is_err());
        assert!(is_known_query("fm.plyr.unspecced.search"));
        assert!(!is_known_query("fm.plyr.track"));
    }
}
