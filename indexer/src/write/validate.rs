//! The one record check in front of the write path, which every source's records pass: the
//! data model's storability rule ([`plyr_atproto::check_storable`]), then lexicon validation
//! against a catalog built once from the lexicon documents embedded in `plyr-lexicons`, the same
//! JSON the generated types came from.

use ipld_core::ipld::Ipld;
use plyr_atproto::{Catalog, LexiconDoc, LexiconError};

use super::collections::{self, Invalid};

/// Checks records against the lexicons of the collections we index.
#[derive(Debug)]
pub struct RecordCheck {
    catalog: Catalog,
}

impl RecordCheck {
    /// Builds the catalog from the lexicons embedded in `plyr-lexicons`.
    pub fn embedded() -> Result<Self, LexiconError> {
        let docs = plyr_lexicons::schemas::LEXICONS
            .iter()
            .map(|(_, json)| LexiconDoc::from_json(json))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { catalog: Catalog::from_documents(docs)? })
    }

    /// Checks that `record` can be stored, then validates it as a record of `collection`: as its
    /// plugin requires when it is registered, else against its lexicon.
    pub fn check(&self, collection: &str, record: &Ipld) -> Result<(), Invalid> {
        match collections::get(collection) {
            Some(plugin) => self.check_in(plugin, record),
            None => {
                plyr_atproto::check_storable(record).map_err(Invalid::Unstorable)?;
                self.catalog.validate_record(collection, record).map_err(Invalid::Lexicon)
            }
        }
    }

    /// Checks that `record` can be stored, then validates it as `collection` requires (against
    /// its lexicon, unless the plugin says otherwise).
    pub fn check_in(&self, collection: &dyn collections::Plugin, record: &Ipld) -> Result<(), Invalid> {
        plyr_atproto::check_storable(record).map_err(Invalid::Unstorable)?;
        collection.validate(&self.catalog, record)
    }
}
