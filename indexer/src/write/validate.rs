//! The one record check in front of the write path, which every source's records pass: the
//! data model's storability rule ([`plyr_atproto::check_storable`]), then lexicon validation
//! against a catalog built once from the lexicon documents embedded in `plyr-lexicons`, the same
//! JSON the generated types came from.

use ipld_core::ipld::Ipld;
use plyr_atproto::{Catalog, LexiconDoc, LexiconError, Unstorable, Violations};

use super::collections;

/// Why a record was dropped before reaching the database.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Invalid {
    /// It cannot be stored whatever its lexicon says (a U+0000 in a string).
    #[error("not storable: {0}")]
    Unstorable(Unstorable),
    /// It violates its lexicon; every violation with its path.
    #[error("{0}")]
    Lexicon(Violations),
    /// An `app.bsky.actor.profile` whose fields we read are not what they must be.
    #[error("bsky profile: {0}")]
    BskyProfile(&'static str),
}

/// Checks records against the lexicons of the collections we index.
#[derive(Debug)]
pub struct RecordCheck {
    catalog: Catalog,
}

impl Invalid {
    /// The `reason` label of `indexer_dropped_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unstorable(why) => why.reason(),
            Self::Lexicon(_) => "invalid_record",
            Self::BskyProfile(_) => "invalid_bsky_profile",
        }
    }
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
    pub fn check_in(&self, collection: &dyn collections::Collection, record: &Ipld) -> Result<(), Invalid> {
        plyr_atproto::check_storable(record).map_err(Invalid::Unstorable)?;
        collection.validate(&self.catalog, record)
    }
}
