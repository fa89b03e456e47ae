//! Record readers: `read.rs`, one plain owned struct per record lexicon (and per object, union
//! and blob it reaches), deserialized from a record *after* the lexicon validator accepted it.
//!
//! jacquard's generated types are built for writing and for views: each carries its `$type` and
//! a flattened map of unknown fields, and re-validates every string format as it deserializes.
//! On the indexer's hot path that tripled the cost of reading a record that the catalog had just
//! validated against the same JSON. A reader keeps only what its lexicon declares: strings as
//! `String` (formats are the validator's job), integers as `i64`, unknown fields skipped by
//! serde without buffering. Union members are tagged by `$type`; an open union reads a member it
//! does not know as `Unknown`.
//!
//! Only what records use is supported (object, string, integer, boolean, array, ref, union,
//! blob, cid-link); anything else in a record's reach fails generation with its path.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// A definition: `(nsid, def name)`.
type DefId = (String, String);

/// Generates `read.rs` from every lexicon document (`nsid -> document`).
pub fn generate(docs: &BTreeMap<String, Value>) -> Result<String> {
    let mut g = Gen { docs, names: BTreeMap::new(), taken: BTreeMap::new(), out: String::new() };
    let records: Vec<&String> =
        docs.iter().filter(|(_, d)| d["defs"]["main"]["type"] == "record").map(|(id, _)| id).collect();
    // Name everything first, so a collision fails before anything is written.
    let mut queue: Vec<DefId> = records.iter().map(|id| ((*id).clone(), "main".to_owned())).collect();
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    while let Some(def) = queue.pop() {
        if !seen.insert(def.clone()) {
            continue;
        }
        let object = g.object_of(&def)?;
        g.name(&def)?;
        for (_, prop) in properties(object) {
            queue.extend(g.refs(&def.0, prop)?);
        }
        order.push(def);
    }
    order.sort_by(|a, b| g.names[a].cmp(&g.names[b]));

    g.out.push_str(PRELUDE);
    for def in &order {
        g.object(def)?;
    }
    Ok(g.out)
}

const PRELUDE: &str = "\
//! Plain readers of each record lexicon, for reading a record *after* validation: every field
//! the lexicon declares, owned, with string formats unchecked (the validator checked them) and
//! undeclared fields skipped. Writing and views use the jacquard types beside them.

use serde::Deserialize;

/// A `blob`: its content link, MIME type and size (validation refuses legacy `{cid, mimeType}`
/// blobs unless asked to accept them, and readers do not).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Blob {
    /// `ref`: the blob's CID.
    #[serde(rename = \"ref\")]
    pub r#ref: Link,
    /// `mimeType`.
    #[serde(rename = \"mimeType\")]
    pub mime_type: String,
    /// `size`, in bytes.
    pub size: i64,
}

/// A `cid-link`, in the data model's JSON view.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Link {
    /// The CID, as a string.
    #[serde(rename = \"$link\")]
    pub link: String,
}
";

struct Gen<'d> {
    docs: &'d BTreeMap<String, Value>,
    /// The Rust name of every definition reached.
    names: BTreeMap<DefId, String>,
    /// Rust name -> the definition that has it.
    taken: BTreeMap<String, DefId>,
    out: String,
}

impl<'d> Gen<'d> {
    /// The object schema of a definition: a record's `record`, or an object definition itself.
    fn object_of(&self, (nsid, def): &DefId) -> Result<&'d Value> {
        let d = self
            .docs
            .get(nsid)
            .and_then(|doc| doc["defs"].get(def))
            .with_context(|| format!("readers: {nsid}#{def} is referenced but not defined"))?;
        match d["type"].as_str() {
            Some("record") => Ok(&d["record"]),
            Some("object") => Ok(d),
            other => bail!("readers: {nsid}#{def} is a {other:?}, not an object or record"),
        }
    }

    /// Names a definition: its NSID's last segment (or, in a `defs` document, nothing), then the
    /// definition's name unless it is `main`.
    fn name(&mut self, id: &DefId) -> Result<String> {
        if let Some(name) = self.names.get(id) {
            return Ok(name.clone());
        }
        let last = id.0.rsplit('.').next().unwrap_or(&id.0);
        let mut name = namespace_prefix(&id.0);
        if last != "defs" {
            name.push_str(&pascal(last));
        }
        if id.1 != "main" {
            name.push_str(&pascal(&id.1));
        }
        if let Some(other) = self.taken.get(&name) {
            bail!("readers: {}#{} and {}#{} would both be named {name}", id.0, id.1, other.0, other.1);
        }
        self.taken.insert(name.clone(), id.clone());
        self.names.insert(id.clone(), name.clone());
        Ok(name)
    }

    /// The object definitions a property refers to.
    fn refs(&self, nsid: &str, prop: &Value) -> Result<Vec<DefId>> {
        Ok(match prop["type"].as_str() {
            Some("ref") => vec![resolve(nsid, str_of(prop, "ref")?)],
            Some("union") => prop["refs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|r| resolve(nsid, r))
                .collect(),
            Some("array") => self.refs(nsid, &prop["items"])?,
            _ => Vec::new(),
        })
    }

    /// Writes the struct of an object definition, then the enums of its unions.
    fn object(&mut self, id: &DefId) -> Result<()> {
        let object = self.object_of(id)?;
        let name = self.names[id].clone();
        let required: BTreeSet<&str> = strings(&object["required"]).collect();
        let nullable: BTreeSet<&str> = strings(&object["nullable"]).collect();
        let mut unions = Vec::new();
        let mut fields = String::new();
        for (key, prop) in properties(object) {
            let path = format!("{}#{}.{key}", id.0, id.1);
            let mut ty =
                self.rust_type(&id.0, &name, key, prop, &mut unions).with_context(|| path.clone())?;
            let optional = !required.contains(key.as_str()) || nullable.contains(key.as_str());
            if optional {
                ty = format!("Option<{ty}>");
            }
            let _ = writeln!(fields, "    /// `{key}`{}", describe(prop));
            let default = if optional { ", default" } else { "" };
            let _ = writeln!(fields, "    #[serde(rename = \"{key}\"{default})]");
            let _ = writeln!(fields, "    pub {}: {ty},", field_name(key));
        }
        let lex = if id.1 == "main" { id.0.clone() } else { format!("{}#{}", id.0, id.1) };
        let _ = writeln!(self.out, "\n/// `{lex}`{}", describe(&self.docs[&id.0]["defs"][&id.1]));
        let _ = writeln!(self.out, "#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]");
        let _ = writeln!(self.out, "pub struct {name} {{\n{fields}}}");
        if self.docs[&id.0]["defs"][&id.1]["type"] == "record" {
            let _ = writeln!(
                self.out,
                "\nimpl {name} {{\n    /// The collection's NSID.\n    pub const NSID: &'static str = \"{}\";\n}}",
                id.0
            );
        }
        for (union_name, refs, closed) in unions {
            self.union(&union_name, &id.0, &refs, closed)?;
        }
        Ok(())
    }

    /// The Rust type of a property (before `Option`); unions are queued in `unions`.
    fn rust_type(
        &mut self,
        nsid: &str,
        owner: &str,
        key: &str,
        prop: &Value,
        unions: &mut Vec<(String, Vec<String>, bool)>,
    ) -> Result<String> {
        Ok(match prop["type"].as_str() {
            Some("string") => "String".to_owned(),
            Some("integer") => "i64".to_owned(),
            Some("boolean") => "bool".to_owned(),
            Some("blob") => "Blob".to_owned(),
            Some("cid-link") => "Link".to_owned(),
            Some("ref") => self.name(&resolve(nsid, str_of(prop, "ref")?))?,
            Some("array") => format!("Vec<{}>", self.rust_type(nsid, owner, key, &prop["items"], unions)?),
            Some("union") => {
                let name = format!("{owner}{}", pascal(key));
                // Definitions were all named first, so a clash with one shows here.
                if let Some(other) =
                    self.taken.insert(name.clone(), (nsid.to_owned(), format!("{owner}.{key}")))
                {
                    bail!(
                        "readers: the union {owner}.{key} and {}#{} would both be named {name}",
                        other.0,
                        other.1
                    );
                }
                let refs = strings(&prop["refs"]).map(str::to_owned).collect();
                unions.push((name.clone(), refs, prop["closed"] == true));
                name
            }
            other => bail!("readers do not support a {other:?} property"),
        })
    }

    /// Writes the enum of a union: one variant per member, tagged by its `$type`.
    fn union(&mut self, name: &str, nsid: &str, refs: &[String], closed: bool) -> Result<()> {
        let mut variants = String::new();
        let mut used = BTreeSet::new();
        for r in refs {
            let id = resolve(nsid, r);
            let ty = self.name(&id)?;
            // A member is named by its definition, or for a `main`, by its NSID's last segment.
            let variant =
                if id.1 == "main" { pascal(id.0.rsplit('.').next().unwrap_or(&id.0)) } else { pascal(&id.1) };
            if !used.insert(variant.clone()) {
                bail!("readers: union {name} has two members named {variant}");
            }
            let tag = if id.1 == "main" { id.0.clone() } else { format!("{}#{}", id.0, id.1) };
            let _ = writeln!(
                variants,
                "    /// `{tag}`.\n    #[serde(rename = \"{tag}\")]\n    {variant}({ty}),"
            );
        }
        if !closed {
            let _ = writeln!(
                variants,
                "    /// A member this lexicon does not name (the union is open).\n    #[serde(other)]\n    Unknown,"
            );
        }
        let _ = writeln!(self.out, "\n/// A union, tagged by `$type`.");
        let _ = writeln!(
            self.out,
            "#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]\n#[serde(tag = \"$type\")]"
        );
        let _ = writeln!(self.out, "pub enum {name} {{\n{variants}}}");
        Ok(())
    }
}

/// An object's properties, in document order.
fn properties(object: &Value) -> impl Iterator<Item = (&String, &Value)> {
    object["properties"].as_object().into_iter().flatten()
}

fn strings(v: &Value) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str)
}

fn str_of<'v>(v: &'v Value, key: &str) -> Result<&'v str> {
    v[key].as_str().with_context(|| format!("no string {key:?}"))
}

/// A reference made absolute: `#def` in `nsid`, `other.nsid` (its main) or `other.nsid#def`.
fn resolve(nsid: &str, r: &str) -> DefId {
    match r.split_once('#') {
        Some(("", def)) => (nsid.to_owned(), def.to_owned()),
        Some((other, def)) => (other.to_owned(), def.to_owned()),
        None => (r.to_owned(), "main".to_owned()),
    }
}

/// A doc comment's tail: `: description` on one line, or nothing.
fn describe(v: &Value) -> String {
    let desc = v["description"].as_str().unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ");
    let format = v["format"].as_str().map(|f| format!(" ({f})")).unwrap_or_default();
    if desc.is_empty() { format } else { format!("{format}: {desc}") }
}

/// `featuredArtist` -> `FeaturedArtist`.
/// The prefix that keeps another service's names apart from plyr's and from each other: for an
/// NSID outside `fm.plyr` and `com.atproto`, its segments between the first and the last two
/// (`fm.teal.feed.play` → `Teal`, `fm.teal.alpha.feed.play` → `TealAlpha`).
fn namespace_prefix(nsid: &str) -> String {
    if nsid.starts_with("fm.plyr.") || nsid.starts_with("com.atproto.") {
        return String::new();
    }
    let segments: Vec<&str> = nsid.split('.').collect();
    let middle = segments.get(1..segments.len().saturating_sub(2)).unwrap_or_default();
    middle.iter().map(|s| pascal(s)).collect()
}

fn pascal(s: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `timestampMs` -> `timestamp_ms`; Rust keywords raw.
fn field_name(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    const KEYWORDS: &[&str] =
        &["type", "ref", "self", "match", "fn", "struct", "enum", "loop", "move", "mod", "use"];
    if KEYWORDS.contains(&out.as_str()) { format!("r#{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_fields() {
        assert_eq!(pascal("featuredArtist"), "FeaturedArtist");
        assert_eq!(pascal("strongRef"), "StrongRef");
        assert_eq!(field_name("timestampMs"), "timestamp_ms");
        assert_eq!(field_name("type"), "r#type");
        // Another service's namespaces are prefixed, so its names cannot collide with plyr's.
        assert_eq!(namespace_prefix("fm.plyr.feed.getTracks"), "");
        assert_eq!(namespace_prefix("com.atproto.label.defs"), "");
        assert_eq!(namespace_prefix("fm.teal.feed.play"), "Teal");
        assert_eq!(namespace_prefix("fm.teal.alpha.feed.play"), "TealAlpha");
        assert_eq!(namespace_prefix("a.b"), "");
        assert_eq!(resolve("fm.plyr.track", "#supportGate"), ("fm.plyr.track".into(), "supportGate".into()));
        assert_eq!(
            resolve("x.y", "com.atproto.repo.strongRef"),
            ("com.atproto.repo.strongRef".into(), "main".into())
        );
    }

    #[test]
    fn a_record_its_refs_and_its_unions() {
        let docs: BTreeMap<String, Value> = [(
            "a.b.thing".to_owned(),
            json!({"id": "a.b.thing", "defs": {
                "main": {"type": "record", "record": {"type": "object", "required": ["n"], "properties": {
                    "n": {"type": "integer"},
                    "tags": {"type": "array", "items": {"type": "ref", "ref": "#tag"}},
                    "u": {"type": "union", "refs": ["#tag"]},
                }}},
                "tag": {"type": "object", "required": ["v"], "properties": {"v": {"type": "string"}}},
            }}),
        )]
        .into();
        let out = generate(&docs).expect("generates");
        assert!(out.contains("pub struct Thing {"), "{out}");
        assert!(out.contains("pub n: i64,"), "{out}");
        assert!(out.contains("pub tags: Option<Vec<ThingTag>>,"), "{out}");
        assert!(out.contains("pub enum ThingU {"), "{out}");
        assert!(out.contains("#[serde(rename = \"a.b.thing#tag\")]\n    Tag(ThingTag),"), "{out}");
        assert!(out.contains("#[serde(other)]\n    Unknown,"), "{out}");
        assert!(out.contains("pub const NSID: &'static str = \"a.b.thing\";"), "{out}");
    }

    #[test]
    fn unsupported_types_and_collisions_fail() {
        let bytes: BTreeMap<String, Value> = [(
            "a.b.c".to_owned(),
            json!({"defs": {"main": {"type": "record", "record": {"type": "object", "properties": {"x": {"type": "bytes"}}}}}}),
        )]
        .into();
        assert!(generate(&bytes).is_err());
        let twice: BTreeMap<String, Value> = [
            ("a.b.c".to_owned(), json!({"defs": {"main": {"type": "record", "record": {"type": "object"}}}})),
            ("x.y.c".to_owned(), json!({"defs": {"main": {"type": "record", "record": {"type": "object"}}}})),
        ]
        .into();
        let err = generate(&twice).expect_err("two records named C");
        assert!(err.to_string().contains("would both be named C"), "{err}");
    }
}
