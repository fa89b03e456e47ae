//! The [`Catalog`]: a set of lexicon documents keyed by NSID, compiled once.
//!
//! Building a catalog checks every document, compiles every definition into the arena of
//! `compile.rs` and resolves every ref (`#local`, `nsid`, `nsid#def`). Refs to documents
//! that were not loaded are kept and reported by [`Catalog::unresolved_refs`]; data that
//! reaches one gets a violation, so a partial catalog still validates what it can.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::LexiconError;
use super::compile::{Compiler, Node, NodeId};
use super::schema::{LexDef, LexiconDoc};
use crate::syntax::{is_valid_nsid, is_valid_record_key, is_valid_tid};

/// The record-key type a record lexicon declares (`key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordKeyType {
    /// `tid`: a timestamp identifier.
    Tid,
    /// `nsid`: an NSID.
    Nsid,
    /// `any`: any valid record key.
    Any,
    /// `literal:<value>`: exactly this key (e.g. `self`).
    Literal(String),
}

impl RecordKeyType {
    fn parse(key: &str) -> Self {
        match key {
            "tid" => Self::Tid,
            "nsid" => Self::Nsid,
            "any" => Self::Any,
            other => Self::Literal(other.strip_prefix("literal:").unwrap_or(other).to_owned()),
        }
    }

    /// Whether `rkey` is a valid record key of this type.
    pub fn allows(&self, rkey: &str) -> bool {
        match self {
            Self::Tid => is_valid_tid(rkey),
            Self::Nsid => is_valid_nsid(rkey),
            Self::Any => is_valid_record_key(rkey),
            Self::Literal(literal) => rkey == literal,
        }
    }
}

/// A compiled record definition.
#[derive(Debug)]
pub(crate) struct RecordEntry {
    /// The record's object schema.
    pub object: NodeId,
    /// Its record-key type.
    pub key: RecordKeyType,
}

/// A set of lexicon documents keyed by NSID, compiled for validation. Build it once at
/// startup and share it (`Arc<Catalog>`); it is immutable and `Sync`.
#[derive(Debug)]
pub struct Catalog {
    documents: BTreeMap<String, LexiconDoc>,
    nodes: Vec<Node>,
    records: HashMap<String, RecordEntry>,
    /// Every top-level definition by full name (`nsid#name`).
    defs: HashMap<String, NodeId>,
    unresolved: Vec<String>,
}

impl Catalog {
    /// Builds a catalog from documents, checking each and resolving every ref.
    pub fn from_documents(documents: impl IntoIterator<Item = LexiconDoc>) -> Result<Self, LexiconError> {
        let mut by_id = BTreeMap::new();
        for doc in documents {
            doc.check()?;
            if by_id.contains_key(&doc.id) {
                return Err(LexiconError::Duplicate(doc.id));
            }
            by_id.insert(doc.id.clone(), doc);
        }
        let mut compiler = Compiler::default();
        let mut records = HashMap::new();
        for doc in by_id.values() {
            for (name, def) in &doc.defs {
                let id = compiler.add_def(&doc.id, name, def);
                if let (LexDef::Record(record), Node::Record(object)) = (def, &compiler.nodes[id]) {
                    let entry = RecordEntry { object: *object, key: RecordKeyType::parse(&record.key) };
                    records.insert(doc.id.clone(), entry);
                }
            }
        }
        let unresolved = compiler.resolve();
        Ok(Self { documents: by_id, nodes: compiler.nodes, records, defs: compiler.defs, unresolved })
    }

    /// Loads every `*.json` file under `dir`, recursively (whatever the file names; the
    /// NSID comes from each document's `id`), and builds a catalog from them.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, LexiconError> {
        let mut files = Vec::new();
        collect_json_files(dir.as_ref(), &mut files)?;
        files.sort();
        let documents = files.iter().map(|path| read_document(path)).collect::<Result<Vec<_>, _>>()?;
        Self::from_documents(documents)
    }

    /// The document with this NSID.
    pub fn document(&self, nsid: &str) -> Option<&LexiconDoc> {
        self.documents.get(nsid)
    }

    /// All documents, by NSID.
    pub fn documents(&self) -> impl Iterator<Item = &LexiconDoc> {
        self.documents.values()
    }

    /// NSIDs of the record types this catalog can validate.
    pub fn record_types(&self) -> impl Iterator<Item = &str> {
        self.records.keys().map(String::as_str)
    }

    /// The record-key type of record collection `nsid`.
    pub fn record_key_type(&self, nsid: &str) -> Option<&RecordKeyType> {
        self.records.get(nsid).map(|r| &r.key)
    }

    /// Refs (as `nsid#name`) that point outside the loaded documents, sorted.
    pub fn unresolved_refs(&self) -> &[String] {
        &self.unresolved
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub(crate) fn record(&self, nsid: &str) -> Option<&RecordEntry> {
        self.records.get(nsid)
    }

    /// The node of a top-level definition, by full name (`nsid#name`).
    pub(crate) fn def(&self, full_name: &str) -> Option<NodeId> {
        self.defs.get(full_name).copied()
    }
}

fn collect_json_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LexiconError> {
    let io = |source| LexiconError::Io { path: dir.to_owned(), source };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_json_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
    Ok(())
}

fn read_document(path: &Path) -> Result<LexiconDoc, LexiconError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| LexiconError::Io { path: path.to_owned(), source })?;
    let doc: LexiconDoc = serde_json::from_str(&text)
        .map_err(|source| LexiconError::Parse { origin: path.display().to_string(), source })?;
    doc.check()?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Catalog>();
    }

    #[test]
    fn record_key_types() {
        let cases = [
            ("tid", "3jzfcijpj2z2a", true),
            ("tid", "self", false),
            ("literal:self", "self", true),
            ("literal:self", "other", false),
            ("any", "anything-goes", true),
            ("any", "..", false),
            ("nsid", "fm.plyr.track", true),
        ];
        for (key, rkey, expected) in cases {
            assert_eq!(RecordKeyType::parse(key).allows(rkey), expected, "{key} {rkey}");
        }
    }
}
