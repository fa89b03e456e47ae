//! The rules a lexicon document must follow beyond its serde shape.
//!
//! Checked once when a document is loaded: the `lexicon` version, the `id` NSID, primary
//! types only at `main`, no bare `ref`/`union`/`unknown` definitions, a record schema that
//! is an object, XRPC bodies and messages of the right kind, parameter types, ref syntax,
//! min <= max bounds, `required`/`nullable` naming real properties, and blob MIME patterns.

use std::collections::BTreeMap;

use super::schema::{LexBody, LexDef, LexObject, LexParams, LexPermissionSet, LexiconDoc};
use crate::syntax::{is_valid_nsid, is_valid_record_key};

/// Why a document is not a valid lexicon (the caller adds the document id).
pub(crate) type CheckResult = Result<(), String>;

/// Checks a whole document.
pub(crate) fn check_document(doc: &LexiconDoc) -> CheckResult {
    if doc.lexicon != 1 {
        return Err(format!("unsupported lexicon version {}", doc.lexicon));
    }
    if !is_valid_nsid(&doc.id) {
        return Err(format!("id {:?} is not a valid NSID", doc.id));
    }
    for (name, def) in &doc.defs {
        check_top_level(name, def).map_err(|reason| format!("#{name}: {reason}"))?;
    }
    Ok(())
}

fn check_top_level(name: &str, def: &LexDef) -> CheckResult {
    if !is_def_name(name) {
        return Err("invalid definition name".to_owned());
    }
    let primary = matches!(
        def,
        LexDef::Record(_)
            | LexDef::Query(_)
            | LexDef::Procedure(_)
            | LexDef::Subscription(_)
            | LexDef::PermissionSet(_)
            | LexDef::Space(_)
    );
    if primary && name != "main" {
        return Err("primary types (record, query, …) may only be defined as `main`".to_owned());
    }
    match def {
        LexDef::Record(record) => {
            check_record_key(&record.key)?;
            match record.record.as_ref() {
                LexDef::Object(object) => check_object(object),
                _ => Err("a record's `record` must be an object".to_owned()),
            }
        }
        LexDef::Query(x) | LexDef::Procedure(x) => {
            x.parameters.as_ref().map_or(Ok(()), check_params)?;
            x.input.as_ref().map_or(Ok(()), check_body)?;
            x.output.as_ref().map_or(Ok(()), check_body)?;
            check_errors(x.errors.iter().map(|e| e.name.as_str()))
        }
        LexDef::Subscription(s) => {
            s.parameters.as_ref().map_or(Ok(()), check_params)?;
            if let Some(message) = &s.message {
                match message.schema.as_ref() {
                    LexDef::Union(_) => check_field(&message.schema)?,
                    _ => return Err("a subscription message must be a union".to_owned()),
                }
            }
            check_errors(s.errors.iter().map(|e| e.name.as_str()))
        }
        LexDef::PermissionSet(set) => check_permission_set(set),
        LexDef::Space(space) => {
            check_record_key(&space.key)?;
            check_nsids(&space.collections, false)
        }
        LexDef::Token(_) => Ok(()),
        LexDef::Ref(_) | LexDef::Union(_) | LexDef::Unknown(_) => {
            Err("ref, union and unknown may not be top-level definitions".to_owned())
        }
        _ => check_field(def),
    }
}

/// Checks a definition used as a field: a property, an array item, a body schema.
fn check_field(def: &LexDef) -> CheckResult {
    match def {
        LexDef::Boolean(_) | LexDef::CidLink(_) | LexDef::Unknown(_) => Ok(()),
        LexDef::Integer(i) => bounds(i.minimum, i.maximum),
        LexDef::String(s) => {
            bounds(s.min_length, s.max_length)?;
            bounds(s.min_graphemes, s.max_graphemes)
        }
        LexDef::Bytes(b) => bounds(b.min_length, b.max_length),
        LexDef::Blob(blob) => {
            if blob.max_size == Some(0) {
                return Err("blob maxSize must be positive".to_owned());
            }
            match blob.accept.iter().flatten().find(|p| !is_mime_pattern(p)) {
                Some(bad) => Err(format!("invalid blob accept pattern {bad:?}")),
                None => Ok(()),
            }
        }
        LexDef::Array(array) => {
            bounds(array.min_length, array.max_length)?;
            check_field(&array.items)
        }
        LexDef::Object(object) => check_object(object),
        LexDef::Ref(r) => check_ref(&r.target),
        LexDef::Union(u) => u.refs.iter().try_for_each(|r| check_ref(r)),
        _ => Err("record, XRPC, permission, space and token definitions cannot be nested".to_owned()),
    }
}

fn check_object(object: &LexObject) -> CheckResult {
    check_names(&object.properties, &object.required, "required")?;
    check_names(&object.properties, &object.nullable, "nullable")?;
    for (name, def) in &object.properties {
        check_field(def).map_err(|reason| format!("property {name:?}: {reason}"))?;
    }
    Ok(())
}

fn check_params(params: &LexParams) -> CheckResult {
    check_names(&params.properties, &params.required, "required")?;
    for (name, def) in &params.properties {
        let scalar = |d: &LexDef| {
            matches!(d, LexDef::Boolean(_) | LexDef::Integer(_) | LexDef::String(_) | LexDef::Unknown(_))
        };
        let ok = match def {
            LexDef::Array(array) => scalar(&array.items),
            other => scalar(other),
        };
        if !ok {
            return Err(format!(
                "parameter {name:?} must be a boolean, integer, string or unknown (or an array of those)"
            ));
        }
        check_field(def)?;
    }
    Ok(())
}

fn check_body(body: &LexBody) -> CheckResult {
    if body.encoding.is_empty() {
        return Err("a body needs an encoding".to_owned());
    }
    match body.schema.as_deref() {
        None => Ok(()),
        Some(schema @ (LexDef::Object(_) | LexDef::Ref(_) | LexDef::Union(_))) => check_field(schema),
        Some(_) => Err("a body schema must be an object, ref or union".to_owned()),
    }
}

fn check_errors<'a>(mut names: impl Iterator<Item = &'a str>) -> CheckResult {
    match names.find(|n| n.is_empty()) {
        Some(_) => Err("an error needs a name".to_owned()),
        None => Ok(()),
    }
}

fn check_permission_set(set: &LexPermissionSet) -> CheckResult {
    for permission in &set.permissions {
        if permission.kind != "permission" {
            return Err(format!(
                "permission entries must have type \"permission\", not {:?}",
                permission.kind
            ));
        }
        if permission.resource.is_empty() {
            return Err("a permission needs a resource".to_owned());
        }
        check_nsids(&permission.collection, true)?;
        check_nsids(&permission.lxm, true)?;
    }
    Ok(())
}

fn check_nsids(values: &[String], allow_star: bool) -> CheckResult {
    match values.iter().find(|v| !(is_valid_nsid(v) || (allow_star && *v == "*"))) {
        Some(bad) => Err(format!("{bad:?} is not an NSID")),
        None => Ok(()),
    }
}

fn check_names(properties: &BTreeMap<String, LexDef>, names: &[String], what: &str) -> CheckResult {
    match names.iter().find(|n| !properties.contains_key(n.as_str())) {
        Some(missing) => Err(format!("{what} names {missing:?}, which is not a property")),
        None => Ok(()),
    }
}

fn check_record_key(key: &str) -> CheckResult {
    let ok = match key.strip_prefix("literal:") {
        Some(literal) => is_valid_record_key(literal),
        None => matches!(key, "tid" | "nsid" | "any"),
    };
    if ok { Ok(()) } else { Err(format!("invalid record key type {key:?}")) }
}

/// `#name`, `nsid` or `nsid#name`.
pub(crate) fn check_ref(reference: &str) -> CheckResult {
    let ok = match reference.split_once('#') {
        Some((nsid, name)) => (nsid.is_empty() || is_valid_nsid(nsid)) && is_def_name(name),
        None => is_valid_nsid(reference),
    };
    if ok { Ok(()) } else { Err(format!("invalid ref {reference:?}")) }
}

fn is_def_name(name: &str) -> bool {
    name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `*/*`, `type/*` or `type/subtype`.
fn is_mime_pattern(pattern: &str) -> bool {
    match pattern.split_once('/') {
        Some((kind, sub)) => {
            !kind.is_empty() && !sub.is_empty() && !sub.contains('/') && (kind != "*" || sub == "*")
        }
        None => false,
    }
}

fn bounds<T: PartialOrd + std::fmt::Display>(min: Option<T>, max: Option<T>) -> CheckResult {
    match (min, max) {
        (Some(min), Some(max)) if min > max => Err(format!("minimum {min} is above maximum {max}")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_and_patterns() {
        let refs = [
            ("#local", true),
            ("fm.plyr.track", true),
            ("fm.plyr.track#x", true),
            ("#", false),
            ("track", false),
        ];
        for (value, ok) in refs {
            assert_eq!(check_ref(value).is_ok(), ok, "{value:?}");
        }
        let patterns =
            [("audio/*", true), ("*/*", true), ("image/png", true), ("*/png", false), ("audio", false)];
        for (value, ok) in patterns {
            assert_eq!(is_mime_pattern(value), ok, "{value:?}");
        }
    }
}
