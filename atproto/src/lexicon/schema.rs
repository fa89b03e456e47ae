//! The typed model of a lexicon document, deserialised with serde.
//!
//! Mirrors the lexicon language (atproto.com/specs/lexicon): one [`LexDef`] enum, tagged by
//! `"type"`, covers every definition that can appear at the top of `defs` or nested inside
//! another; `params`, `permission` and XRPC bodies only appear in fixed places and have
//! their own structs. Unknown fields (`description`, `title:lang`, …) are ignored. Shape
//! rules that serde cannot express live in `check.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::syntax::Format;

/// A lexicon document: `{"lexicon": 1, "id": "<nsid>", "defs": {…}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct LexiconDoc {
    /// Lexicon language version; must be 1.
    pub lexicon: u32,
    /// The NSID this document defines.
    pub id: String,
    /// Optional revision counter.
    #[serde(default)]
    pub revision: Option<u64>,
    /// Optional description.
    #[serde(default)]
    pub description: Option<String>,
    /// Definitions by name; `main` is the one the bare NSID refers to.
    pub defs: BTreeMap<String, LexDef>,
}

/// One definition, tagged by its `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum LexDef {
    /// A repository record type (primary, `main` only).
    Record(LexRecord),
    /// An XRPC query (primary).
    Query(LexXrpc),
    /// An XRPC procedure (primary).
    Procedure(LexXrpc),
    /// An XRPC event stream (primary).
    Subscription(LexSubscription),
    /// An OAuth permission set (primary).
    PermissionSet(LexPermissionSet),
    /// A permissioned space (primary; used by plyr.fm's private media).
    Space(LexSpace),
    /// A named constant, referenced by its full name.
    Token(LexMeta),
    /// An object with named properties.
    Object(LexObject),
    /// `true` / `false`.
    Boolean(LexBoolean),
    /// A 64-bit signed integer.
    Integer(LexInteger),
    /// A UTF-8 string.
    String(LexString),
    /// Raw bytes (`{"$bytes"}` in JSON).
    Bytes(LexBytes),
    /// A CID link (`{"$link"}` in JSON).
    CidLink(LexMeta),
    /// A blob reference.
    Blob(LexBlob),
    /// A list of items of one schema.
    Array(LexArray),
    /// A reference to another definition.
    Ref(LexRef),
    /// One of several object definitions, chosen by `$type`.
    Union(LexUnion),
    /// Any object.
    Unknown(LexMeta),
}

/// A definition with nothing but a description.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LexMeta {
    /// Optional description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `record`: a key type and an object schema.
#[derive(Debug, Clone, Deserialize)]
pub struct LexRecord {
    /// `tid`, `nsid`, `any` or `literal:<key>`.
    pub key: String,
    /// The record's schema; must be an `object`.
    pub record: Box<LexDef>,
}

/// `query` and `procedure`.
#[derive(Debug, Clone, Deserialize)]
pub struct LexXrpc {
    /// Query-string parameters.
    #[serde(default)]
    pub parameters: Option<LexParams>,
    /// Request body (procedures only).
    #[serde(default)]
    pub input: Option<LexBody>,
    /// Response body.
    #[serde(default)]
    pub output: Option<LexBody>,
    /// Named errors the endpoint may return.
    #[serde(default)]
    pub errors: Vec<LexError>,
}

/// `subscription`.
#[derive(Debug, Clone, Deserialize)]
pub struct LexSubscription {
    /// Query-string parameters.
    #[serde(default)]
    pub parameters: Option<LexParams>,
    /// The message schema; must be a `union`.
    #[serde(default)]
    pub message: Option<LexMessage>,
    /// Named errors the stream may return.
    #[serde(default)]
    pub errors: Vec<LexError>,
}

/// `params`: the query-string schema of an XRPC endpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct LexParams {
    /// Must be `"params"`.
    #[serde(rename = "type")]
    pub kind: ParamsTag,
    /// Parameters by name (boolean, integer, string, unknown, or arrays of those).
    #[serde(default)]
    pub properties: BTreeMap<String, LexDef>,
    /// Names of the required parameters.
    #[serde(default)]
    pub required: Vec<String>,
}

/// The only accepted `type` of a [`LexParams`].
#[derive(Debug, Clone, Copy, Deserialize)]
pub enum ParamsTag {
    /// `"params"`.
    #[serde(rename = "params")]
    Params,
}

/// An XRPC request or response body.
#[derive(Debug, Clone, Deserialize)]
pub struct LexBody {
    /// MIME type of the body.
    pub encoding: String,
    /// Schema of a JSON body: `object`, `ref` or `union`.
    #[serde(default)]
    pub schema: Option<Box<LexDef>>,
}

/// A subscription message.
#[derive(Debug, Clone, Deserialize)]
pub struct LexMessage {
    /// Must be a `union`.
    pub schema: Box<LexDef>,
}

/// A named XRPC error.
#[derive(Debug, Clone, Deserialize)]
pub struct LexError {
    /// The error name, e.g. `NotFound`.
    pub name: String,
}

/// `permission-set`.
#[derive(Debug, Clone, Deserialize)]
pub struct LexPermissionSet {
    /// Short human title.
    #[serde(default)]
    pub title: Option<String>,
    /// Longer human description.
    #[serde(default)]
    pub detail: Option<String>,
    /// The permissions granted.
    pub permissions: Vec<LexPermission>,
}

/// One permission of a permission set.
#[derive(Debug, Clone, Deserialize)]
pub struct LexPermission {
    /// Must be `"permission"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `repo`, `rpc`, `blob`, `account`, `identity`, `space`, …
    pub resource: String,
    /// Collections (NSIDs or `*`) for `repo` and `space`.
    #[serde(default)]
    pub collection: Vec<String>,
    /// Lexicon methods (NSIDs or `*`) for `rpc`.
    #[serde(default)]
    pub lxm: Vec<String>,
}

/// `space`: a permissioned collection container.
#[derive(Debug, Clone, Deserialize)]
pub struct LexSpace {
    /// Record-key type of the space.
    pub key: String,
    /// Collections the space may hold.
    #[serde(default)]
    pub collections: Vec<String>,
}

/// `object`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LexObject {
    /// Properties by name.
    #[serde(default)]
    pub properties: BTreeMap<String, LexDef>,
    /// Properties that must be present.
    #[serde(default)]
    pub required: Vec<String>,
    /// Properties that may be `null`.
    #[serde(default)]
    pub nullable: Vec<String>,
}

/// `boolean`.
#[derive(Debug, Clone, Deserialize)]
pub struct LexBoolean {
    /// Value the field must have.
    #[serde(default, rename = "const")]
    pub const_value: Option<bool>,
    /// Default value (informational).
    #[serde(default)]
    pub default: Option<bool>,
}

/// `integer`.
#[derive(Debug, Clone, Deserialize)]
pub struct LexInteger {
    /// Smallest accepted value.
    #[serde(default)]
    pub minimum: Option<i64>,
    /// Largest accepted value.
    #[serde(default)]
    pub maximum: Option<i64>,
    /// Closed set of accepted values.
    #[serde(default, rename = "enum")]
    pub enum_values: Option<Vec<i64>>,
    /// Value the field must have.
    #[serde(default, rename = "const")]
    pub const_value: Option<i64>,
    /// Default value (informational).
    #[serde(default)]
    pub default: Option<i64>,
}

/// `string`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LexString {
    /// Syntax the value must follow.
    #[serde(default)]
    pub format: Option<Format>,
    /// Minimum length in UTF-8 bytes.
    #[serde(default)]
    pub min_length: Option<u64>,
    /// Maximum length in UTF-8 bytes.
    #[serde(default)]
    pub max_length: Option<u64>,
    /// Minimum length in extended grapheme clusters.
    #[serde(default)]
    pub min_graphemes: Option<u64>,
    /// Maximum length in extended grapheme clusters.
    #[serde(default)]
    pub max_graphemes: Option<u64>,
    /// Suggested values; other values remain valid.
    #[serde(default)]
    pub known_values: Vec<String>,
    /// Closed set of accepted values.
    #[serde(default, rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    /// Value the field must have.
    #[serde(default, rename = "const")]
    pub const_value: Option<String>,
    /// Default value (informational).
    #[serde(default)]
    pub default: Option<String>,
}

/// `bytes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LexBytes {
    /// Minimum length in bytes.
    #[serde(default)]
    pub min_length: Option<u64>,
    /// Maximum length in bytes.
    #[serde(default)]
    pub max_length: Option<u64>,
}

/// `blob`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LexBlob {
    /// Accepted MIME types (`audio/*`, `image/png`, `*/*`); none means any.
    #[serde(default)]
    pub accept: Option<Vec<String>>,
    /// Largest accepted size in bytes.
    #[serde(default)]
    pub max_size: Option<u64>,
}

/// `array`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LexArray {
    /// Schema of every item.
    pub items: Box<LexDef>,
    /// Minimum number of items.
    #[serde(default)]
    pub min_length: Option<u64>,
    /// Maximum number of items.
    #[serde(default)]
    pub max_length: Option<u64>,
}

/// `ref`: `#local`, `nsid` (its `main`) or `nsid#name`.
#[derive(Debug, Clone, Deserialize)]
pub struct LexRef {
    /// The reference.
    #[serde(rename = "ref")]
    pub target: String,
}

/// `union`: refs to object definitions, told apart by `$type`.
#[derive(Debug, Clone, Deserialize)]
pub struct LexUnion {
    /// The allowed definitions.
    pub refs: Vec<String>,
    /// When true, a `$type` outside `refs` is a violation; unions are open by default.
    #[serde(default)]
    pub closed: bool,
}
