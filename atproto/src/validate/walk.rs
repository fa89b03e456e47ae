//! The validation walk: data and compiled schema side by side, collecting violations.

use std::collections::BTreeMap;

use ipld_core::ipld::Ipld;
use unicode_segmentation::UnicodeSegmentation;

use super::{MAX_VIOLATIONS, Path, ValidateOptions, Violation, ViolationKind, Violations, XrpcBody};
use crate::lexicon::Catalog;
use crate::lexicon::compile::{
    BlobRule, MimePattern, Node, NodeId, ObjectRule, StringRule, Target, UnionMember,
};

/// Data-model name of a value, for `expected X, found Y`.
fn kind_name(value: &Ipld) -> &'static str {
    match value {
        Ipld::Null => "null",
        Ipld::Bool(_) => "boolean",
        Ipld::Integer(_) => "integer",
        Ipld::Float(_) => "float",
        Ipld::String(_) => "string",
        Ipld::Bytes(_) => "bytes",
        Ipld::List(_) => "array",
        Ipld::Map(_) => "object",
        Ipld::Link(_) => "cid-link",
    }
}

fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

pub(super) struct Walker<'c> {
    catalog: &'c Catalog,
    options: &'c ValidateOptions,
    violations: Vec<Violation>,
    omitted: u64,
}

impl<'c> Walker<'c> {
    pub(super) fn new(catalog: &'c Catalog, options: &'c ValidateOptions) -> Self {
        Self { catalog, options, violations: Vec::new(), omitted: 0 }
    }

    pub(super) fn finish(self) -> Result<(), Violations> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(Violations { found: self.violations, omitted: self.omitted })
        }
    }

    /// Records a violation; past [`MAX_VIOLATIONS`] only counts it (its path is not rendered).
    fn report(&mut self, path: &Path<'_>, kind: ViolationKind) {
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(Violation { path: path.to_string(), kind });
        } else {
            self.omitted += 1;
        }
    }

    fn wrong_type(&mut self, path: &Path<'_>, expected: &'static str, value: &Ipld) {
        self.report(path, ViolationKind::WrongType { expected, found: kind_name(value) });
    }

    pub(super) fn record(&mut self, nsid: &str, value: &Ipld) {
        let root = Path::Root;
        let Some(entry) = self.catalog.record(nsid) else {
            self.report(&root, ViolationKind::NoSchema(nsid.to_owned()));
            return;
        };
        if let Ipld::Map(map) = value {
            match map.get("$type") {
                None => {}
                Some(Ipld::String(t)) if t == nsid => {}
                Some(Ipld::String(t)) => {
                    let kind =
                        ViolationKind::RecordTypeMismatch { expected: nsid.to_owned(), found: t.clone() };
                    self.report(&Path::Field(&root, "$type"), kind);
                }
                Some(other) => self.wrong_type(&Path::Field(&root, "$type"), "string", other),
            }
        }
        self.value(entry.object, value, &root);
    }

    /// Validates an XRPC body against the input or output schema of method `nsid`.
    pub(super) fn xrpc_body(&mut self, nsid: &str, body: XrpcBody, value: &Ipld) {
        let root = Path::Root;
        let node = self.catalog.def(&format!("{nsid}#main")).map(|id| self.catalog.node(id));
        let schema = match (node, body) {
            (Some(Node::Xrpc { input, .. }), XrpcBody::Input) => *input,
            (Some(Node::Xrpc { output, .. }), XrpcBody::Output) => *output,
            _ => None,
        };
        match schema {
            Some(schema) => self.value(schema, value, &root),
            None => self.report(&root, ViolationKind::NoSchema(format!("{nsid} ({body:?})"))),
        }
    }

    fn value(&mut self, node: NodeId, value: &Ipld, path: &Path<'_>) {
        let catalog = self.catalog;
        match (catalog.node(node), value) {
            (Node::Boolean { const_value }, Ipld::Bool(b)) => {
                if const_value.is_some_and(|c| c != *b) {
                    self.report(path, ViolationKind::ConstMismatch);
                }
            }
            (Node::Boolean { .. }, _) => self.wrong_type(path, "boolean", value),
            (Node::Integer(rule), Ipld::Integer(n)) => {
                let n = *n;
                if rule.const_value.is_some_and(|c| i128::from(c) != n) {
                    self.report(path, ViolationKind::ConstMismatch);
                }
                if let Some(values) = &rule.enum_values
                    && !values.iter().any(|v| i128::from(*v) == n)
                {
                    self.report(path, ViolationKind::NotInEnum);
                }
                if let Some(min) = rule.min.filter(|m| n < i128::from(*m)) {
                    self.report(path, ViolationKind::BelowMinimum { min, actual: n });
                }
                if let Some(max) = rule.max.filter(|m| n > i128::from(*m)) {
                    self.report(path, ViolationKind::AboveMaximum { max, actual: n });
                }
            }
            (Node::Integer(_), _) => self.wrong_type(path, "integer", value),
            (Node::String(rule), Ipld::String(s)) => self.string(rule, s, path),
            (Node::String(_), _) => self.wrong_type(path, "string", value),
            (Node::Bytes { min, max }, Ipld::Bytes(b)) => self.length(*min, *max, b.len(), "bytes", path),
            (Node::Bytes { .. }, _) => self.wrong_type(path, "bytes", value),
            (Node::CidLink, Ipld::Link(_)) => {}
            (Node::CidLink, _) => self.wrong_type(path, "cid-link", value),
            (Node::Blob(rule), Ipld::Map(map)) => self.blob(rule, map, path),
            (Node::Blob(_), _) => self.wrong_type(path, "blob", value),
            (Node::Array { items, min, max }, Ipld::List(list)) => {
                self.length(*min, *max, list.len(), "items", path);
                for (index, item) in list.iter().enumerate() {
                    self.value(*items, item, &Path::Index(path, index));
                }
            }
            (Node::Array { .. }, _) => self.wrong_type(path, "array", value),
            (Node::Object(rule), Ipld::Map(map)) => self.object(rule, map, path),
            (Node::Object(_), _) => self.wrong_type(path, "object", value),
            (Node::Ref(target), _) => self.target(target, value, path),
            (Node::Union { members, closed }, Ipld::Map(map)) => {
                self.union(members, *closed, value, map, path)
            }
            (Node::Union { .. }, _) => self.wrong_type(path, "object", value),
            (Node::Unknown, Ipld::Map(map)) => {
                if matches!(map.get("$type"), Some(Ipld::String(t)) if t == "blob") {
                    self.report(path, ViolationKind::UnknownIsBlob);
                }
            }
            (Node::Unknown, _) => self.wrong_type(path, "object", value),
            (Node::Token(name), Ipld::String(s)) if s == name.as_ref() => {}
            (Node::Token(name), _) => self.report(path, ViolationKind::TokenMismatch(name.to_string())),
            (Node::Record(object), _) => self.value(*object, value, path),
            (Node::Xrpc { kind, .. } | Node::NotData(kind), _) => {
                self.report(path, ViolationKind::NotData(kind));
            }
        }
    }

    fn target(&mut self, target: &Target, value: &Ipld, path: &Path<'_>) {
        match target {
            Target::Node(node) => self.value(*node, value, path),
            Target::Missing(name) => self.report(path, ViolationKind::UnresolvedRef(name.to_string())),
        }
    }

    fn length(
        &mut self,
        min: Option<u64>,
        max: Option<u64>,
        len: usize,
        unit: &'static str,
        path: &Path<'_>,
    ) {
        let actual = len_u64(len);
        if let Some(min) = min.filter(|m| actual < *m) {
            self.report(path, ViolationKind::TooShort { min, actual, unit });
        }
        if let Some(max) = max.filter(|m| actual > *m) {
            self.report(path, ViolationKind::TooLong { max, actual, unit });
        }
    }

    fn string(&mut self, rule: &StringRule, s: &str, path: &Path<'_>) {
        if rule.const_value.as_deref().is_some_and(|c| c != s) {
            self.report(path, ViolationKind::ConstMismatch);
        }
        if let Some(values) = &rule.enum_values
            && !values.iter().any(|v| v.as_ref() == s)
        {
            self.report(path, ViolationKind::NotInEnum);
        }
        self.length(rule.min_bytes, rule.max_bytes, s.len(), "bytes", path);
        // A string has at most as many graphemes as bytes, so a `maxGraphemes` at or above
        // the byte length holds without segmenting.
        let bytes = len_u64(s.len());
        let must_count =
            rule.min_graphemes.is_some_and(|m| m > 0) || rule.max_graphemes.is_some_and(|m| m < bytes);
        if must_count {
            let graphemes = s.graphemes(true).count();
            self.length(rule.min_graphemes, rule.max_graphemes, graphemes, "graphemes", path);
        }
        if let Some(format) = rule.format
            && !format.is_valid(s)
        {
            self.report(path, ViolationKind::Format(format));
        }
    }

    fn object(&mut self, rule: &ObjectRule, map: &BTreeMap<String, Ipld>, path: &Path<'_>) {
        for property in &rule.properties {
            let field = Path::Field(path, &property.name);
            match map.get(property.name.as_ref()) {
                None if property.required => self.report(&field, ViolationKind::RequiredMissing),
                None => {}
                Some(Ipld::Null) if property.nullable => {}
                Some(Ipld::Null) => self.report(&field, ViolationKind::NullNotAllowed),
                Some(value) => self.value(property.node, value, &field),
            }
        }
    }

    fn union(
        &mut self,
        members: &[UnionMember],
        closed: bool,
        value: &Ipld,
        map: &BTreeMap<String, Ipld>,
        path: &Path<'_>,
    ) {
        let type_name = match map.get("$type") {
            Some(Ipld::String(t)) => t.strip_suffix("#main").unwrap_or(t),
            Some(other) => return self.wrong_type(&Path::Field(path, "$type"), "string", other),
            None => return self.report(path, ViolationKind::UnionMissingType),
        };
        match members.iter().find(|m| m.type_name.as_ref() == type_name) {
            Some(member) => self.target(&member.target, value, path),
            None if closed => self.report(path, ViolationKind::UnionTypeNotAllowed(type_name.to_owned())),
            None => {}
        }
    }

    fn blob(&mut self, rule: &BlobRule, map: &BTreeMap<String, Ipld>, path: &Path<'_>) {
        let (mime, size) = match map.get("$type") {
            Some(Ipld::String(t)) if t == "blob" => {
                let (Some(Ipld::Link(_)), Some(Ipld::String(mime)), Some(Ipld::Integer(size))) =
                    (map.get("ref"), map.get("mimeType"), map.get("size"))
                else {
                    return self
                        .report(path, ViolationKind::MalformedBlob("needs ref (link), mimeType and size"));
                };
                if *size < 0 {
                    return self.report(path, ViolationKind::MalformedBlob("negative size"));
                }
                (mime, Some(*size))
            }
            Some(_) => return self.report(path, ViolationKind::MalformedBlob("$type must be \"blob\"")),
            None => match (map.get("cid"), map.get("mimeType")) {
                (Some(Ipld::String(_)), Some(Ipld::String(mime))) if map.len() == 2 => {
                    if !self.options.allow_legacy_blobs {
                        return self.report(path, ViolationKind::LegacyBlob);
                    }
                    (mime, None)
                }
                _ => return self.report(path, ViolationKind::MalformedBlob("missing $type: \"blob\"")),
            },
        };
        if !rule.accept.is_empty() && !rule.accept.iter().any(|p| mime_matches(p, mime)) {
            self.report(path, ViolationKind::BlobMimeType(mime.clone()));
        }
        if let (Some(max), Some(size)) = (rule.max_size, size)
            && size > i128::from(max)
        {
            self.report(path, ViolationKind::BlobTooLarge { max, size });
        }
    }
}

/// Case-insensitive match of a MIME type (parameters ignored) against an `accept` pattern.
fn mime_matches(pattern: &MimePattern, mime: &str) -> bool {
    let essence = mime.split(';').next().unwrap_or(mime).trim();
    match pattern {
        MimePattern::Any => essence.contains('/'),
        MimePattern::Prefix(prefix) => {
            essence.len() > prefix.len()
                && essence.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        }
        MimePattern::Exact(exact) => essence.eq_ignore_ascii_case(exact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_patterns() {
        let audio = MimePattern::Prefix("audio/".into());
        let png = MimePattern::Exact("image/png".into());
        let cases = [
            (&audio, "audio/mpeg", true),
            (&audio, "Audio/FLAC", true),
            (&audio, "audio/", false),
            (&audio, "image/png", false),
            (&png, "image/png; charset=binary", true),
            (&png, "image/jpeg", false),
            (&MimePattern::Any, "text/plain", true),
            (&MimePattern::Any, "garbage", false),
        ];
        for (pattern, mime, expected) in cases {
            assert_eq!(mime_matches(pattern, mime), expected, "{pattern:?} {mime}");
        }
    }
}
