//! Every SQL statement the AppView runs, in functions named for what they fetch. Handlers and
//! the hydrator call these; nothing else holds SQL. Statements are checked at compile time
//! against the schema (`sqlx::query!`, offline data in `appview/.sqlx/`). [`pool`] opens the
//! read pool with its time limits; [`failure`] says what a failed statement means for a caller.
//!
//! Skeleton queries return keys in feed order (URIs with their sort key); hydration queries
//! take a batch of keys and return rows in no particular order. Identifier columns come back as
//! [`plyr_atproto::Did`] and [`AtUri`] (`AS "did: Did"`), trusted as the indexer validated them.

pub mod actors;
pub mod failure;
pub mod feeds;
pub mod labels;
pub mod lists;
pub mod plays;
pub mod pool;
pub mod recs;
pub mod replica;
pub mod rest;
pub mod search;
pub mod social;
pub mod subsonic;
pub mod tracks;

use plyr_atproto::{AtUri, Did};

pub use pool::{connect, connect_lazy};

/// One item of a feed skeleton: the record and the key it is ordered by.
#[derive(Debug, Clone, PartialEq)]
pub struct Skel {
    pub uri: AtUri,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// One ranked search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub key: String,
    pub relevance: f64,
}

impl Hit {
    /// The key of a track or list hit: its AT-URI, read back from our database.
    pub fn into_uri(self) -> AtUri {
        AtUri::from_trusted(self.key)
    }

    /// The key of an actor hit: its DID, read back from our database.
    pub fn into_did(self) -> Did {
        Did::from_trusted(self.key)
    }
}
