//! Lexicon definitions compiled into a flat, pre-resolved graph for validation.
//!
//! Every definition (top-level or nested) becomes a [`Node`] in one `Vec`; refs and union
//! members point at nodes by index once all documents are loaded, so validating a record
//! never parses a schema, formats a ref name or hashes anything but the collection NSID.

use std::collections::HashMap;

use super::schema::{LexBlob, LexBody, LexDef, LexObject, LexString};
use crate::syntax::Format;

/// Index of a [`Node`] in the catalog's arena.
pub(crate) type NodeId = usize;

/// Where a ref points: a node, or a full name (`nsid#name`) not resolved (yet, while
/// compiling; for good, when no loaded document provides it).
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// Resolved.
    Node(NodeId),
    /// Not resolved.
    Missing(Box<str>),
}

/// A compiled definition.
#[derive(Debug)]
pub(crate) enum Node {
    Boolean {
        const_value: Option<bool>,
    },
    Integer(IntegerRule),
    String(Box<StringRule>),
    Bytes {
        min: Option<u64>,
        max: Option<u64>,
    },
    CidLink,
    Blob(BlobRule),
    Array {
        items: NodeId,
        min: Option<u64>,
        max: Option<u64>,
    },
    Object(ObjectRule),
    Ref(Target),
    Union {
        members: Box<[UnionMember]>,
        closed: bool,
    },
    Unknown,
    /// A token; data referring to it must be its full name.
    Token(Box<str>),
    /// A record definition; data is validated against its object.
    Record(NodeId),
    /// A query, procedure or subscription, with its JSON body schemas (a subscription's
    /// message is its output). Not data itself.
    Xrpc {
        kind: &'static str,
        input: Option<NodeId>,
        output: Option<NodeId>,
    },
    /// A definition that does not describe data (permission set, space), by type name.
    NotData(&'static str),
}

#[derive(Debug)]
pub(crate) struct IntegerRule {
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub enum_values: Option<Box<[i64]>>,
    pub const_value: Option<i64>,
}

#[derive(Debug)]
pub(crate) struct StringRule {
    pub format: Option<Format>,
    pub min_bytes: Option<u64>,
    pub max_bytes: Option<u64>,
    pub min_graphemes: Option<u64>,
    pub max_graphemes: Option<u64>,
    pub enum_values: Option<Box<[Box<str>]>>,
    pub const_value: Option<Box<str>>,
}

#[derive(Debug)]
pub(crate) struct BlobRule {
    /// Empty means any type.
    pub accept: Box<[MimePattern]>,
    pub max_size: Option<u64>,
}

/// A compiled `accept` entry.
#[derive(Debug)]
pub(crate) enum MimePattern {
    Any,
    /// `type/*`, stored as `type/`.
    Prefix(Box<str>),
    Exact(Box<str>),
}

#[derive(Debug)]
pub(crate) struct ObjectRule {
    pub properties: Box<[Property]>,
}

#[derive(Debug)]
pub(crate) struct Property {
    pub name: Box<str>,
    pub node: NodeId,
    pub required: bool,
    pub nullable: bool,
}

#[derive(Debug)]
pub(crate) struct UnionMember {
    /// The `$type` that selects this member (`nsid` for a `main`, else `nsid#name`).
    pub type_name: Box<str>,
    pub target: Target,
}

/// Builds the arena. Refs are recorded by full name and patched by [`Compiler::resolve`].
#[derive(Debug, Default)]
pub(crate) struct Compiler {
    pub nodes: Vec<Node>,
    /// Top-level definitions by full name (`nsid#name`, `main` included).
    pub defs: HashMap<String, NodeId>,
}

/// The full name of a ref written inside document `nsid`.
pub(crate) fn full_name(nsid: &str, reference: &str) -> String {
    match reference.split_once('#') {
        Some(("", name)) => format!("{nsid}#{name}"),
        Some(_) => reference.to_owned(),
        None => format!("{reference}#main"),
    }
}

impl Compiler {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Compiles a top-level definition and registers it under `nsid#name`.
    pub fn add_def(&mut self, nsid: &str, name: &str, def: &LexDef) -> NodeId {
        let id = self.compile(nsid, name, def);
        self.defs.insert(format!("{nsid}#{name}"), id);
        id
    }

    fn compile(&mut self, nsid: &str, name: &str, def: &LexDef) -> NodeId {
        let node = match def {
            LexDef::Record(record) => {
                let object = self.compile(nsid, name, &record.record);
                Node::Record(object)
            }
            LexDef::Query(x) | LexDef::Procedure(x) => Node::Xrpc {
                kind: if matches!(def, LexDef::Query(_)) { "query" } else { "procedure" },
                input: self.body(nsid, name, x.input.as_ref()),
                output: self.body(nsid, name, x.output.as_ref()),
            },
            LexDef::Subscription(s) => Node::Xrpc {
                kind: "subscription",
                input: None,
                output: s.message.as_ref().map(|m| self.compile(nsid, name, &m.schema)),
            },
            LexDef::PermissionSet(_) => Node::NotData("permission-set"),
            LexDef::Space(_) => Node::NotData("space"),
            LexDef::Token(_) => Node::Token(format!("{nsid}#{name}").into()),
            LexDef::Object(object) => Node::Object(self.object(nsid, name, object)),
            LexDef::Boolean(b) => Node::Boolean { const_value: b.const_value },
            LexDef::Integer(i) => Node::Integer(IntegerRule {
                min: i.minimum,
                max: i.maximum,
                enum_values: i.enum_values.as_deref().map(Into::into),
                const_value: i.const_value,
            }),
            LexDef::String(s) => Node::String(Box::new(string_rule(s))),
            LexDef::Bytes(b) => Node::Bytes { min: b.min_length, max: b.max_length },
            LexDef::CidLink(_) => Node::CidLink,
            LexDef::Blob(blob) => Node::Blob(blob_rule(blob)),
            LexDef::Array(array) => Node::Array {
                items: self.compile(nsid, name, &array.items),
                min: array.min_length,
                max: array.max_length,
            },
            LexDef::Ref(r) => Node::Ref(Target::Missing(full_name(nsid, &r.target).into())),
            LexDef::Union(u) => Node::Union {
                members: u
                    .refs
                    .iter()
                    .map(|r| {
                        let full = full_name(nsid, r);
                        let type_name = full.strip_suffix("#main").unwrap_or(&full).into();
                        UnionMember { type_name, target: Target::Missing(full.into()) }
                    })
                    .collect(),
                closed: u.closed,
            },
            LexDef::Unknown(_) => Node::Unknown,
        };
        self.push(node)
    }

    fn body(&mut self, nsid: &str, name: &str, body: Option<&LexBody>) -> Option<NodeId> {
        let schema = body?.schema.as_ref()?;
        Some(self.compile(nsid, name, schema))
    }

    fn object(&mut self, nsid: &str, name: &str, object: &LexObject) -> ObjectRule {
        let properties = object
            .properties
            .iter()
            .map(|(prop, def)| Property {
                name: prop.as_str().into(),
                node: self.compile(nsid, name, def),
                required: object.required.iter().any(|r| r == prop),
                nullable: object.nullable.iter().any(|n| n == prop),
            })
            .collect();
        ObjectRule { properties }
    }

    /// Points every ref and union member at its node; returns the names left unresolved.
    pub fn resolve(&mut self) -> Vec<String> {
        let mut missing = Vec::new();
        let defs = &self.defs;
        let mut fix = |target: &mut Target| {
            if let Target::Missing(name) = target {
                match defs.get(name.as_ref()) {
                    Some(id) => *target = Target::Node(*id),
                    None => missing.push(name.to_string()),
                }
            }
        };
        for node in &mut self.nodes {
            match node {
                Node::Ref(target) => fix(target),
                Node::Union { members, .. } => members.iter_mut().for_each(|m| fix(&mut m.target)),
                _ => {}
            }
        }
        missing.sort();
        missing.dedup();
        missing
    }
}

fn string_rule(s: &LexString) -> StringRule {
    StringRule {
        format: s.format,
        min_bytes: s.min_length,
        max_bytes: s.max_length,
        min_graphemes: s.min_graphemes,
        max_graphemes: s.max_graphemes,
        enum_values: s.enum_values.as_ref().map(|values| values.iter().map(|v| v.as_str().into()).collect()),
        const_value: s.const_value.as_deref().map(Into::into),
    }
}

fn blob_rule(blob: &LexBlob) -> BlobRule {
    let accept = blob
        .accept
        .iter()
        .flatten()
        .map(|pattern| match pattern.strip_suffix('*') {
            Some("*/") => MimePattern::Any,
            Some(prefix) => MimePattern::Prefix(prefix.to_ascii_lowercase().into()),
            None => MimePattern::Exact(pattern.to_ascii_lowercase().into()),
        })
        .collect();
    BlobRule { accept, max_size: blob.max_size }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names() {
        let cases = [
            ("fm.plyr.track", "#featuredArtist", "fm.plyr.track#featuredArtist"),
            ("fm.plyr.like", "com.atproto.repo.strongRef", "com.atproto.repo.strongRef#main"),
            ("fm.plyr.track", "com.atproto.label.defs#selfLabels", "com.atproto.label.defs#selfLabels"),
        ];
        for (nsid, reference, expected) in cases {
            assert_eq!(full_name(nsid, reference), expected);
        }
    }
}
