//! The record collections the indexer keeps: one module per collection, each a [`Collection`]
//! plugin (what its records must be, the row it extracts, how a run of its changes is written
//! and which counters that moves), and [`ALL`], the one registry that every list of collections
//! reads: the write path, the guard, backfill, the event metrics. Nothing falls back: a
//! collection that is not registered is not indexed.
//!
//! Adding a collection: its lexicon (`lexicons/`, then `plyr-codegen`), a migration creating its
//! table and adding its branch to the `live_records` view (the guard and account purges find
//! live records through it), its `db/` module (its row type and SQL), and one module here
//! registered in [`ALL`]; then its views in the AppView.

pub mod bsky_profile;
pub mod comment;
pub mod like;
pub mod list;
pub mod play;
pub mod plyr_profile;
pub mod status;
pub mod track;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use ipld_core::ipld::Ipld;
use plyr_atproto::{Catalog, Unstorable, Violations};
use serde::de::DeserializeOwned;

use super::deltas::Deltas;
use super::rules::TrustedOrigins;
use crate::db::comments::CommentRow;
use crate::db::likes::LikeRow;
use crate::db::lists::{ListRow, StoredItem};
use crate::db::plays::{PlayRow, StatusRow};
use crate::db::profiles::{BskyProfileRow, PlyrProfileRow};
use crate::db::tracks::TrackRow;
use crate::db::{Meta, Tx};

/// The net change to one record.
#[derive(Debug)]
pub struct Change {
    pub collection: &'static str,
    pub meta: Meta,
    /// Whether the record was live (indexed) before this run.
    pub was_live: bool,
    /// Whether the record had a tombstone before this run.
    pub was_buried: bool,
    /// Time of the first operation on this record that the run applied (an actor's first
    /// sighting must not depend on how events were batched).
    pub first_at: DateTime<Utc>,
    /// Its state after the run: a row, or gone (deleted, or its newest version is invalid).
    pub after: Option<Row>,
}

/// The stored items of the lists a run touches.
pub type StoredItems = [StoredItem];

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

/// One record collection on the write side, typed by the record it reads.
pub trait Collection: Sync + 'static {
    /// Its NSID (for plyr's collections, its generated reader's `NSID`).
    const NSID: &'static str;

    /// What its valid records deserialize into: the reader `plyr-codegen` generated from its
    /// lexicon (`plyr_lexicons::read`).
    type Record: DeserializeOwned;

    /// Whether its records make their author a plyr actor. A collection that is not plyr's
    /// (`app.bsky.actor.profile`) only enriches actors known already.
    const CREATES_ACTORS: bool = true;

    /// Whether its records are kept from any account, not only from plyr's actors (teal.fm's
    /// plays and statuses: a listener need not publish anything on plyr). Outside plyr's
    /// namespace the default keeps a collection to accounts plyr already knows.
    const ANY_ACCOUNT: bool = false;

    /// Checks a storable record: against its lexicon unless the collection says otherwise.
    fn validate(catalog: &Catalog, record: &Ipld) -> Result<(), Invalid> {
        catalog.validate_record(Self::NSID, record).map_err(Invalid::Lexicon)
    }

    /// The row of a valid record, or why it is still not indexed. `raw` is the record as
    /// stored, for the undeclared fields a collection honours (plyr.fm's `fileId` on tracks).
    fn row(
        origin: Origin<'_>,
        record: Self::Record,
        raw: &Ipld,
        trusted: &TrustedOrigins,
    ) -> Result<Row, Reject>;

    /// Removes every record of a deleted account (after `db::actors::bury_account` has
    /// tombstoned them) and takes back from `deltas` what they counted elsewhere.
    fn purge<'a>(tx: &'a mut Tx<'_>, did: &'a str, deltas: &'a mut Deltas)
    -> BoxFuture<'a, sqlx::Result<()>>;

    /// Writes this collection's share of a folded run (rows written, replaced, removed) and adds
    /// the counter changes it implies to `deltas`.
    fn apply<'a>(tx: &'a mut Tx<'_>, run: Run<'a>, deltas: &'a mut Deltas)
    -> BoxFuture<'a, sqlx::Result<()>>;
}

/// A registered collection as the pipeline holds it: a [`Collection`] with its record type
/// erased, so one registry lists them all. Implemented for every [`Collection`] and nothing else.
pub trait Plugin: Sync {
    /// Its NSID.
    fn nsid(&self) -> &'static str;

    /// See [`Collection::CREATES_ACTORS`].
    fn creates_actors(&self) -> bool;

    /// See [`Collection::ANY_ACCOUNT`].
    fn any_account(&self) -> bool;

    /// See [`Collection::validate`].
    fn validate(&self, catalog: &Catalog, record: &Ipld) -> Result<(), Invalid>;

    /// Deserializes a validated record into the collection's record type, then builds its row.
    fn extract(&self, origin: Origin<'_>, record: &Ipld, trusted: &TrustedOrigins) -> Result<Row, Reject>;

    /// See [`Collection::purge`].
    fn purge<'a>(
        &self,
        tx: &'a mut Tx<'_>,
        did: &'a str,
        deltas: &'a mut Deltas,
    ) -> BoxFuture<'a, sqlx::Result<()>>;

    /// See [`Collection::apply`].
    fn apply<'a>(
        &self,
        tx: &'a mut Tx<'_>,
        run: Run<'a>,
        deltas: &'a mut Deltas,
    ) -> BoxFuture<'a, sqlx::Result<()>>;
}

/// The registry's entry for collection `C`.
struct Registered<C>(std::marker::PhantomData<fn() -> C>);

impl<C: Collection> Plugin for Registered<C> {
    fn nsid(&self) -> &'static str {
        C::NSID
    }

    fn creates_actors(&self) -> bool {
        C::CREATES_ACTORS
    }

    fn any_account(&self) -> bool {
        C::ANY_ACCOUNT
    }

    fn validate(&self, catalog: &Catalog, record: &Ipld) -> Result<(), Invalid> {
        C::validate(catalog, record)
    }

    fn extract(&self, origin: Origin<'_>, record: &Ipld, trusted: &TrustedOrigins) -> Result<Row, Reject> {
        // Validation ran first, so a record that does not fit its generated type means the
        // validator and the generated type disagree: a counted drop, never a panic.
        let typed = plyr_atproto::data::from_ipld::<C::Record>(record).map_err(|e| {
            tracing::debug!(collection = C::NSID, error = %e, "valid record does not fit its generated type");
            Reject::Undecodable
        })?;
        C::row(origin, typed, record, trusted)
    }

    fn purge<'a>(
        &self,
        tx: &'a mut Tx<'_>,
        did: &'a str,
        deltas: &'a mut Deltas,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        C::purge(tx, did, deltas)
    }

    fn apply<'a>(
        &self,
        tx: &'a mut Tx<'_>,
        run: Run<'a>,
        deltas: &'a mut Deltas,
    ) -> BoxFuture<'a, sqlx::Result<()>> {
        C::apply(tx, run, deltas)
    }
}

/// Registers collection `C`.
const fn plugin<C: Collection>() -> &'static dyn Plugin {
    &Registered::<C>(std::marker::PhantomData)
}

/// Every collection the indexer keeps, in the order a run's changes are written.
pub static ALL: &[&dyn Plugin] = &[
    plugin::<track::Track>(),
    plugin::<comment::Comment>(),
    plugin::<like::Like>(),
    plugin::<list::List>(),
    plugin::<plyr_profile::PlyrProfile>(),
    plugin::<bsky_profile::BskyProfile>(),
    plugin::<play::Play>(),
    plugin::<play::AlphaPlay>(),
    plugin::<status::Status>(),
];

/// Removes every record of a deleted account: tombstones at their revs, then each
/// collection's rows and the counters they held; the account's own counters go too.
pub async fn purge_account(tx: &mut Tx<'_>, did: &str, deltas: &mut Deltas) -> sqlx::Result<()> {
    crate::db::actors::bury_account(tx, did).await?;
    for collection in ALL {
        collection.purge(tx, did, deltas).await?;
    }
    deltas.forget_actor(did);
    Ok(())
}

/// The registered collection named `nsid`.
pub fn get(nsid: &str) -> Option<&'static dyn Plugin> {
    ALL.iter().copied().find(|c| c.nsid() == nsid)
}

/// Whether `nsid` is in plyr's namespace: an account's first record there (of any collection,
/// registered or not) is when plyr starts keeping its Bluesky profile.
pub fn is_plyr(nsid: &str) -> bool {
    nsid.starts_with("fm.plyr.")
}

/// A record's typed row, one variant per collection.
#[derive(Debug, Clone)]
pub enum Row {
    /// Boxed, as is `List`: a row waits in its batch inside every event's check outcome, and
    /// inline these two would make every like and comment as large as a track.
    Track(Box<TrackRow>),
    Like(LikeRow),
    Comment(CommentRow),
    List(Box<ListRow>),
    PlyrProfile(PlyrProfileRow),
    BskyProfile(BskyProfileRow),
    Play(Box<PlayRow>),
    Status(Box<StatusRow>),
}

/// What extracting a row needs to know of its record besides the record: borrowed, so checking
/// a record as it arrives copies none of its identifiers.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub uri: &'a str,
    pub rkey: &'a str,
    pub indexed_at: DateTime<Utc>,
}

impl<'a> Origin<'a> {
    /// The origin of the record `meta` describes.
    pub fn of(meta: &'a Meta) -> Self {
        Origin { uri: &meta.uri, rkey: &meta.rkey, indexed_at: meta.indexed_at }
    }

    /// The record's `createdAt`, or the time it was indexed if chrono cannot represent it.
    pub fn created_at(&self, created_at: &str) -> DateTime<Utc> {
        utc(created_at).unwrap_or(self.indexed_at)
    }
}

/// Why a valid-per-lexicon record is still not indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// A track with neither an audio blob nor a trusted audio URL.
    NotPlayable,
    /// A profile record under a key other than `self`.
    NotSelf,
    /// The record passed its lexicon but does not fit the type generated from it.
    Undecodable,
    /// A teal.fm play or status neither from plyr.fm nor naming a plyr track: another
    /// service's listen, which nothing here counts.
    NotPlyr,
}

impl Reject {
    /// The `reason` label of `indexer_dropped_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotPlayable => "no_playable_audio",
            Self::NotSelf => "profile_not_self",
            Self::Undecodable => "undecodable_record",
            Self::NotPlyr => "not_plyr",
        }
    }

    /// What the log says about it.
    pub fn detail(self) -> &'static str {
        match self {
            Self::NotPlayable => "track has neither an audioBlob nor an audioUrl on a trusted origin",
            Self::NotSelf => "profile records must use the rkey 'self'",
            Self::Undecodable => "record passed its lexicon but does not fit the type generated from it",
            Self::NotPlyr => "a teal.fm record neither from plyr.fm nor naming an fm.plyr.track",
        }
    }
}

/// One collection's changes in a folded run.
#[derive(Debug)]
pub struct Run<'a> {
    /// Its changes, in the order the run first saw each record.
    pub changes: Vec<&'a Change>,
    /// The items the run's lists had before it (list and position order).
    pub stored: &'a StoredItems,
}

impl<'a> Run<'a> {
    /// The changes of `collection` among `changes`.
    pub fn of(collection: &dyn Plugin, changes: &'a [Change], stored: &'a StoredItems) -> Self {
        let nsid = collection.nsid();
        Self { changes: changes.iter().filter(|c| c.collection == nsid).collect(), stored }
    }

    /// URIs of the records that were live before the run.
    pub fn were_live(&self) -> Vec<String> {
        self.changes.iter().filter(|c| c.was_live).map(|c| c.meta.uri.to_string()).collect()
    }

    /// URIs of the records that were live and are now gone.
    pub fn removed(&self) -> Vec<String> {
        self.changes
            .iter()
            .filter(|c| c.was_live && c.after.is_none())
            .map(|c| c.meta.uri.to_string())
            .collect()
    }
}

/// A record's `datetime` field as UTC (validation checked its syntax; a datetime chrono cannot
/// represent reads as absent).
pub fn utc(at: impl AsRef<str>) -> Option<DateTime<Utc>> {
    plyr_atproto::syntax::parse_datetime(at.as_ref()).ok().map(|d| d.with_timezone(&Utc))
}

/// A profile record must be under the key `self`.
fn is_self(origin: &Origin<'_>) -> Result<(), Reject> {
    if origin.rkey == "self" { Ok(()) } else { Err(Reject::NotSelf) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn each_collection_is_registered_once_and_found_by_its_nsid() {
        let nsids: BTreeSet<&str> = ALL.iter().map(|c| c.nsid()).collect();
        assert_eq!(nsids.len(), ALL.len(), "an NSID registered twice");
        for c in ALL {
            assert_eq!(get(c.nsid()).map(|found| found.nsid()), Some(c.nsid()));
            // Only plyr's own collections make actors; anything else only enriches them.
            assert_eq!(c.creates_actors(), is_plyr(c.nsid()), "{}", c.nsid());
            // Only teal.fm's listens are kept from accounts that are not plyr's actors.
            assert_eq!(c.any_account(), c.nsid().starts_with("fm.teal."), "{}", c.nsid());
        }
        for unknown in ["fm.plyr.unknown", "app.bsky.feed.post", "", "fm.plyr.track.extra"] {
            assert!(get(unknown).is_none(), "{unknown} is not registered");
        }
    }
}
