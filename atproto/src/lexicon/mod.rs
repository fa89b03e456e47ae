//! Lexicon documents: their typed model, their validity rules, and the [`Catalog`].
//!
//! A document is parsed with [`LexiconDoc::from_json`] (serde shape plus the rules in
//! `check.rs`); a [`Catalog`] holds many documents keyed by NSID, compiled into a
//! pre-resolved graph that `crate::validate` walks to validate records.

mod catalog;
mod check;
pub(crate) mod compile;
mod schema;

use std::path::PathBuf;

pub use catalog::{Catalog, RecordKeyType};
pub use schema::{
    LexArray, LexBlob, LexBody, LexBoolean, LexBytes, LexDef, LexError, LexInteger, LexMessage, LexMeta,
    LexObject, LexParams, LexPermission, LexPermissionSet, LexRecord, LexRef, LexSpace, LexString,
    LexSubscription, LexUnion, LexXrpc, LexiconDoc, ParamsTag,
};

/// A lexicon document that could not be read, parsed or accepted.
#[derive(Debug, thiserror::Error)]
pub enum LexiconError {
    /// Reading a file or directory failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The JSON does not have the shape of a lexicon document.
    #[error("{origin}: not a lexicon document: {source}")]
    Parse {
        /// Where the JSON came from (a path, or `<json>`).
        origin: String,
        /// The serde error.
        source: serde_json::Error,
    },
    /// The document breaks a lexicon rule.
    #[error("lexicon {id}: {reason}")]
    Invalid {
        /// The document id (as written, possibly not a valid NSID).
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// Two documents with the same id were given to one catalog.
    #[error("lexicon {0} is defined twice")]
    Duplicate(String),
}

impl LexiconDoc {
    /// Parses and checks a document from JSON text.
    pub fn from_json(text: &str) -> Result<Self, LexiconError> {
        let doc: Self = serde_json::from_str(text)
            .map_err(|source| LexiconError::Parse { origin: "<json>".to_owned(), source })?;
        doc.check()?;
        Ok(doc)
    }

    /// Parses and checks a document from an already-parsed JSON value.
    pub fn from_value(value: serde_json::Value) -> Result<Self, LexiconError> {
        let doc: Self = serde_json::from_value(value)
            .map_err(|source| LexiconError::Parse { origin: "<json>".to_owned(), source })?;
        doc.check()?;
        Ok(doc)
    }

    /// Checks the lexicon rules that the serde shape alone does not enforce.
    pub fn check(&self) -> Result<(), LexiconError> {
        check::check_document(self).map_err(|reason| LexiconError::Invalid { id: self.id.clone(), reason })
    }
}
