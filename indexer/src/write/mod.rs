//! The one write path: every source (Jetstream, firehose, backfill, replay) hands its events
//! here, and they are applied in batches, each in one transaction together with the stream
//! cursor that covers it, then announced with `NOTIFY`.
//!
//! Inside a batch, events keep stream order. Consecutive commit events form a run that is
//! folded in memory per record ([`plan`]) and written in bulk ([`apply`]); account, identity and
//! sync events are applied one by one between runs.
//!
//! A failed transaction changed nothing. What happens next depends on why it failed
//! ([`failure`]): an outage is waited out ([`outage`]), a part the database rejects for its
//! content is split until the offending event is found and dropped ([`isolate`]).

pub mod apply;
pub mod collections;
pub mod deltas;
pub mod failure;
pub mod isolate;
pub mod outage;
pub mod plan;
pub mod rules;
pub mod validate;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::db::{self, Tx};
use crate::event::{Action, Cursor, Event, EventBody, SourceItem};
use deltas::Deltas;
use outage::DatabaseHealth;
use plan::{Checked, PlannedOp};
use plyr_store::changes::Touched;
use rules::TrustedOrigins;
use validate::RecordCheck;

/// Errors that abort a batch (nothing of it is committed; [`WriteError::failure`] says what
/// to do next).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("lexicons: {0}")]
    Lexicons(#[from] plyr_atproto::LexiconError),
    /// A part's task ended without an answer (it panicked or was cancelled): nothing of that
    /// part was committed.
    #[error("write task failed: {0}")]
    Task(String),
    /// Shutdown came while waiting for the database: the part was not committed (it is
    /// applied again from the stored cursor on the next start).
    #[error("interrupted by shutdown while waiting for the database")]
    Interrupted,
}

/// What a committed batch did.
#[derive(Debug, Default, Clone)]
pub struct BatchReport {
    pub events: usize,
    pub applied: usize,
    pub stale: usize,
    pub dropped: usize,
    pub skipped: usize,
    pub cursors: Vec<Cursor>,
}

/// Which of the concurrent transactions of a batch this is: partition `index` of `count`. Its
/// cursors are stored under `index`; partition 0 also retires the cursors of partitions a run
/// with more of them left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub index: u16,
    pub count: u16,
}

impl Part {
    /// The whole batch in one transaction.
    pub const WHOLE: Part = Part { index: 0, count: 1 };
}

/// A source item whose record was already checked ([`Writer::prepare`]): it carries its row (or
/// why it is dropped) instead of the decoded record, a fraction of the memory while it waits.
#[derive(Debug, Clone)]
pub struct Prepared {
    item: SourceItem,
    checked: Option<Checked>,
}

impl From<SourceItem> for Prepared {
    /// An item with nothing to check (a position, a gap, a delete).
    fn from(item: SourceItem) -> Self {
        Self { item, checked: None }
    }
}

/// What the write path reads from an item of a batch: the item, and its record's outcome when it
/// was prepared (otherwise the fold checks the record itself).
pub trait BatchItem: Send + Sync {
    fn source(&self) -> &SourceItem;
    fn checked(&self) -> Option<&Checked>;
}

impl BatchItem for SourceItem {
    fn source(&self) -> &SourceItem {
        self
    }
    fn checked(&self) -> Option<&Checked> {
        None
    }
}

impl BatchItem for Prepared {
    fn source(&self) -> &SourceItem {
        &self.item
    }
    fn checked(&self) -> Option<&Checked> {
        self.checked.as_ref()
    }
}

/// Applies batches of source items.
#[derive(Debug)]
pub struct Writer {
    pool: PgPool,
    check: RecordCheck,
    trusted: TrustedOrigins,
    health: Arc<DatabaseHealth>,
    max_record_bytes: usize,
    /// How to resolve identities before trusting a replayed file's handles
    /// (`--trust-stream-handles`; see [`crate::identity::resolve_or_trust`]); `None`: never.
    trust_stream_handles: Option<plyr_atproto::identity::IdentityConfig>,
}

impl Writer {
    pub fn new(pool: PgPool, trusted: TrustedOrigins) -> Result<Self, WriteError> {
        let health = Arc::default();
        let max_record_bytes = plyr_atproto::MAX_RECORD_BYTES;
        Ok(Self {
            pool,
            check: RecordCheck::embedded()?,
            trusted,
            health,
            max_record_bytes,
            trust_stream_handles: None,
        })
    }

    /// The same writer, telling sources that hand it undecoded text (replay) to leave records
    /// over `bytes` undecoded. The check itself is the sources': the write path only drops the
    /// [`crate::event::Record::TooLarge`] they produce.
    pub fn with_max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record_bytes = bytes;
        self
    }

    /// The record size bound sources reading for this writer apply.
    pub fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }

    /// The same writer, telling a replay to trust the handles its file's `#identity` events
    /// announce for accounts whose identity does not resolve through `config`.
    pub fn trusting_stream_handles(mut self, config: plyr_atproto::identity::IdentityConfig) -> Self {
        self.trust_stream_handles = Some(config);
        self
    }

    /// Whether (and how resolving first) a replay trusts its file's handles.
    pub fn stream_handles_trust(&self) -> Option<&plyr_atproto::identity::IdentityConfig> {
        self.trust_stream_handles.as_ref()
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether the database answered the last write, shared with every other user of it.
    pub fn health(&self) -> &Arc<DatabaseHealth> {
        &self.health
    }

    /// Applies `items` in order in one transaction, with the newest cursor per source.
    pub async fn apply<T: BatchItem>(&self, items: &[T]) -> Result<BatchReport, WriteError> {
        self.apply_part(items, Part::WHOLE, &[]).await
    }

    /// Checks the record of a commit of an indexed collection and keeps only its outcome (the
    /// decoded record is released). Checking depends on nothing but the op, so the pipeline does
    /// it as events arrive, overlapping the writes of earlier batches; the fold later uses the
    /// outcome exactly as if it had checked the record itself.
    pub fn prepare(&self, mut item: SourceItem) -> Prepared {
        let mut checked = None;
        if let SourceItem::Event { event, .. } = &mut item {
            let (did, indexed_at) = (event.did.as_str(), time_of_us(event.time_us));
            if let EventBody::Commit(op) = &mut event.body {
                let collection = collections::get(op.collection.as_str());
                if let (Some(collection), Action::Create | Action::Update) = (collection, op.action) {
                    let uri = op.uri(did);
                    let origin = collections::Origin { uri: &uri, rkey: op.rkey.as_str(), indexed_at };
                    checked = Some(plan::check_record(collection, origin, op, &self.check, &self.trusted));
                }
                op.record = None;
            }
        }
        Prepared { item, checked }
    }

    /// Applies `items` (partition `part` of a batch) in order in one transaction, with the
    /// newest cursor per source stored under the partition's number. `floor` holds, per source,
    /// the position the run started from: partitions that have stored no cursor yet get it
    /// ([`db::cursors::hold_parts`]), so the source cannot resume past their uncommitted events.
    pub async fn apply_part<T: BatchItem>(
        &self,
        items: &[T],
        part: Part,
        floor: &[Cursor],
    ) -> Result<BatchReport, WriteError> {
        let started = Instant::now();
        let mut report = BatchReport::default();
        let mut tx = self.pool.begin().await?;
        // Safe to skip waiting for the WAL flush: a server crash can only lose the newest commits,
        // each together with the cursor that covers it, so those events are simply replayed.
        sqlx::query!("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
        let mut touched = Touched::default();
        let mut deltas = Deltas::default();
        let mut cursors: Vec<Cursor> = Vec::new();
        // Commits are folded in runs; identity and sync events do not interact with commits and
        // are applied in bulk after the run. An `#account` event ends the run only when the run
        // holds commits of its account (a deletion must purge what came before it and stop what
        // comes after); otherwise it is applied at once, ahead of other accounts' pending commits,
        // which it cannot interact with (its purge touches its own rows and moves counters by
        // deltas, and statuses are read when a run is written). Gaps end a run.
        let mut run: Vec<(&Event, Option<&Checked>)> = Vec::new();
        let mut later: Vec<&Event> = Vec::new();
        for item in items {
            match item.source() {
                SourceItem::Event { event, cursor } => {
                    report.events += 1;
                    remember(&mut cursors, cursor);
                    match event.body {
                        EventBody::Commit(_) => run.push((event, item.checked())),
                        EventBody::Identity { .. } | EventBody::Sync { .. } => later.push(event),
                        EventBody::Account { .. } => {
                            let did = event.did.as_str();
                            let mine = |e: &&Event| e.did.as_str() == did;
                            if run.iter().map(|(e, _)| e).chain(&later).any(mine) {
                                self.flush_run(&mut tx, &mut run, &mut report, &mut touched, &mut deltas)
                                    .await?;
                                self.apply_later(&mut tx, &mut later, &mut report, &mut touched, &mut deltas)
                                    .await?;
                            }
                            self.apply_repo_event(&mut tx, event, &mut report, &mut touched, &mut deltas)
                                .await?;
                        }
                    }
                }
                SourceItem::Position(cursor) => remember(&mut cursors, cursor),
                SourceItem::Backfilled { did, rev } => {
                    db::backfill::mark_done(&mut tx, did.as_str(), rev.as_str()).await?;
                }
                SourceItem::Gap { from, reason } => {
                    self.flush_run(&mut tx, &mut run, &mut report, &mut touched, &mut deltas).await?;
                    self.apply_later(&mut tx, &mut later, &mut report, &mut touched, &mut deltas).await?;
                    let source =
                        cursors.last().map(|c| c.source.clone()).unwrap_or_else(|| "jetstream".into());
                    db::cursors::record_gap(&mut tx, &source, *from, reason).await?;
                    db::repos::queue_all(&mut tx, "cursor-gap").await?;
                    tracing::warn!(%source, from, %reason, "stream gap recorded; known repos queued for backfill");
                }
            }
        }
        self.flush_run(&mut tx, &mut run, &mut report, &mut touched, &mut deltas).await?;
        self.apply_later(&mut tx, &mut later, &mut report, &mut touched, &mut deltas).await?;
        deltas.store(&mut tx).await?;
        for subject in deltas.subjects() {
            touched.uri(subject);
        }
        let index = i16::try_from(part.index).unwrap_or(i16::MAX);
        let count = i16::try_from(part.count).unwrap_or(i16::MAX);
        for cursor in &cursors {
            if let Some(start) = floor.iter().find(|f| f.source == cursor.source) {
                db::cursors::hold_parts(&mut tx, start, count).await?;
            }
            db::cursors::store(&mut tx, cursor, index).await?;
            if part.index == 0 {
                db::cursors::retire_parts(&mut tx, &cursor.source, count).await?;
            }
        }
        plyr_store::changes::announce(&mut *tx, &touched).await?;
        tx.commit().await?;
        metrics::histogram!("indexer_apply_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("indexer_batch_size").record(report.events as f64);
        report.cursors = cursors;
        Ok(report)
    }

    /// Folds and writes the pending run of commit events.
    async fn flush_run(
        &self,
        tx: &mut Tx<'_>,
        run: &mut Vec<(&Event, Option<&Checked>)>,
        report: &mut BatchReport,
        touched: &mut Touched,
        deltas: &mut Deltas,
    ) -> Result<(), WriteError> {
        if run.is_empty() {
            return Ok(());
        }
        let dids: Vec<String> = run
            .iter()
            .map(|(e, _)| e.did.as_str())
            .collect::<HashSet<&str>>()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let known: HashMap<String, db::actors::Known> =
            db::actors::statuses(tx, &dids).await?.into_iter().map(|k| (k.did.clone(), k)).collect();
        // When each DID's first fm.plyr record in this run happened (events arrive in order).
        let mut first_plyr: HashMap<&str, i64> = HashMap::new();
        for (e, _) in run.iter() {
            if matches!(&e.body, EventBody::Commit(op) if collections::is_plyr(op.collection.as_str())) {
                first_plyr.entry(e.did.as_str()).or_insert(e.time_us);
            }
        }
        let mut ops = Vec::with_capacity(run.len());
        for (event, checked) in run.drain(..) {
            let EventBody::Commit(op) = &event.body else { continue };
            let did = event.did.as_str();
            let collection = op.collection.as_str();
            let actor = known.get(did);
            // A Bluesky profile is kept for accounts that use plyr, from the time they were first
            // seen with an fm.plyr record on (a profile written earlier comes with the account's
            // backfill). Comparing event times, never batch membership, makes the decision the
            // same wherever batches split and however often an event is delivered.
            let plyr_since = actor
                .map(|a| a.indexed_at.timestamp_micros())
                .or_else(|| first_plyr.get(did).copied())
                .is_some_and(|since| since <= event.time_us);
            let plugin = collections::get(collection);
            let wanted = plugin.is_some()
                && actor.is_none_or(|a| a.status != "deleted")
                && (collections::is_plyr(collection)
                    || plugin.is_some_and(|p| p.any_account())
                    || plyr_since);
            count_event("commit", collection, if wanted { "accepted" } else { "skipped" });
            if !wanted {
                report.skipped += 1;
                continue;
            }
            ops.push(PlannedOp { did, uri: op.uri(did), indexed_at: time_of(event), op, checked });
        }
        let t0 = Instant::now();
        let uris: Vec<(&str, &str)> =
            ops.iter().map(|p| (p.op.collection.as_str(), p.uri.as_str())).collect();
        let guard = db::guard::fetch(tx, &uris).await?;
        let list_uris: Vec<String> = ops
            .iter()
            .filter(|p| p.op.collection.as_str() == collections::list::NSID)
            .map(|p| p.uri.clone())
            .collect();
        let items = db::lists::items(tx, &list_uris).await?;
        let t1 = Instant::now();
        let (changes, fold) = plan::fold(&ops, &guard, &items, &self.check, &self.trusted);
        let t2 = Instant::now();
        for (uri, reason, detail) in &fold.dropped {
            metrics::counter!("indexer_dropped_total", "reason" => *reason).increment(1);
            // Other services' teal.fm listens are most of that collection's traffic: expected,
            // counted, not worth a warning each.
            if *reason == collections::Reject::NotPlyr.reason() {
                tracing::debug!(%uri, reason, %detail, "record dropped");
            } else {
                tracing::warn!(%uri, reason, %detail, "record dropped");
            }
        }
        metrics::counter!("indexer_stale_ops_total").increment(fold.stale as u64);
        report.applied += fold.applied - fold.dropped.len();
        report.stale += fold.stale;
        report.dropped += fold.dropped.len();
        apply::apply(tx, &changes, &items, deltas, touched).await?;
        tracing::debug!(
            ops = ops.len(),
            guard_ms = (t1 - t0).as_millis() as u64,
            fold_ms = (t2 - t1).as_millis() as u64,
            apply_ms = t2.elapsed().as_millis() as u64,
            "run written"
        );
        Ok(())
    }

    /// Applies the held-back identity events (in bulk, newest per DID) and sync events.
    async fn apply_later(
        &self,
        tx: &mut Tx<'_>,
        later: &mut Vec<&Event>,
        report: &mut BatchReport,
        touched: &mut Touched,
        deltas: &mut Deltas,
    ) -> Result<(), WriteError> {
        let mut identities: HashMap<&str, (Option<&str>, i64)> = HashMap::new();
        for event in later.drain(..) {
            match &event.body {
                EventBody::Identity { handle } => {
                    let handle = storable_handle(handle.as_deref());
                    let e = identities.entry(event.did.as_str()).or_insert((handle, event.time_us));
                    if event.time_us >= e.1 {
                        *e = (handle, event.time_us);
                    }
                }
                _ => self.apply_repo_event(tx, event, report, touched, deltas).await?,
            }
        }
        if identities.is_empty() {
            return Ok(());
        }
        let did: Vec<String> = identities.keys().map(|d| (*d).to_owned()).collect();
        let handle: Vec<Option<String>> = identities.values().map(|(h, _)| h.map(str::to_owned)).collect();
        let at: Vec<i64> = identities.values().map(|(_, t)| *t).collect();
        let applied = db::actors::apply_identities(tx, &did, &handle, &at).await?;
        for d in &applied {
            touched.did(d);
        }
        count_events("identity", "applied", applied.len());
        count_events("identity", "ignored", did.len() - applied.len());
        report.applied += applied.len();
        report.skipped += did.len() - applied.len();
        Ok(())
    }

    /// Applies an `#account` or `#sync` event.
    async fn apply_repo_event(
        &self,
        tx: &mut Tx<'_>,
        event: &Event,
        report: &mut BatchReport,
        touched: &mut Touched,
        deltas: &mut Deltas,
    ) -> Result<(), WriteError> {
        let did = event.did.as_str();
        let outcome = match &event.body {
            EventBody::Commit(_) => "skipped",
            EventBody::Account { active, status } => {
                let status = match (active, status.as_deref()) {
                    (true, _) => Some("active"),
                    // Infrastructure states: the account's content stays as it is.
                    (false, Some("throttled" | "desynchronized")) => None,
                    (false, Some(s)) => Some(s),
                    (false, None) => Some("inactive"),
                };
                match status {
                    None => "ignored",
                    Some(status) => match db::actors::apply_account(tx, did, status, event.time_us).await? {
                        Some(new) => {
                            if new == "deleted" {
                                collections::purge_account(tx, did, deltas).await?;
                                tracing::info!(%did, "account deleted: its records were purged");
                            }
                            touched.did(did);
                            "applied"
                        }
                        // A listener who is not an actor may still have teal.fm records here:
                        // a deleted account's go with it.
                        None if status == "deleted" && !db::actors::exists(tx, did).await? => {
                            collections::purge_account(tx, did, deltas).await?;
                            touched.did(did);
                            "applied"
                        }
                        None => "ignored",
                    },
                }
            }
            EventBody::Identity { .. } => "skipped", // applied in bulk by apply_later
            EventBody::Sync { .. } => {
                if db::repos::queue(tx, did, "desynchronized").await? {
                    "applied"
                } else {
                    "ignored"
                }
            }
        };
        let kind = match &event.body {
            EventBody::Commit(_) => "commit",
            EventBody::Account { .. } => "account",
            EventBody::Identity { .. } => "identity",
            EventBody::Sync { .. } => "sync",
        };
        count_event(kind, "", outcome);
        if outcome == "applied" {
            report.applied += 1;
        } else {
            report.skipped += 1;
        }
        Ok(())
    }
}

/// Keeps the newest cursor per source (items arrive in stream order). Runs once per event: the
/// kept cursor is updated in place, its strings copied only when they change.
pub(crate) fn remember(cursors: &mut Vec<Cursor>, cursor: &Cursor) {
    match cursors.iter_mut().find(|c| c.source == cursor.source) {
        Some(c) => {
            c.value = cursor.value;
            c.time_us = cursor.time_us;
            if c.issuer != cursor.issuer {
                c.issuer.clone_from(&cursor.issuer);
            }
        }
        None => cursors.push(cursor.clone()),
    }
}

/// An `#identity` event's handle as it may be stored: a handle that is not syntactically valid
/// (a U+0000 included, which PostgreSQL cannot store) is read as no handle, and counted; the
/// event still invalidates the account's identity, which the identity worker then resolves.
fn storable_handle(handle: Option<&str>) -> Option<&str> {
    let handle = handle?;
    if plyr_atproto::syntax::is_valid_handle(handle) {
        return Some(handle);
    }
    metrics::counter!("indexer_dropped_total", "reason" => "invalid_handle").increment(1);
    tracing::debug!(handle = %handle.escape_debug().take(256).collect::<String>(), "identity event handle is not a valid handle");
    None
}

fn time_of(event: &Event) -> DateTime<Utc> {
    time_of_us(event.time_us)
}

fn time_of_us(time_us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(time_us).unwrap_or(DateTime::UNIX_EPOCH)
}

fn count_events(kind: &'static str, outcome: &'static str, n: usize) {
    metrics::counter!("indexer_events_total", "kind" => kind, "collection" => "", "outcome" => outcome)
        .increment(n as u64);
}

fn count_event(kind: &'static str, collection: &str, outcome: &'static str) {
    let collection = if collections::get(collection).is_some() || collection.is_empty() {
        collection.to_owned()
    } else {
        "other".to_owned()
    };
    metrics::counter!("indexer_events_total", "kind" => kind, "collection" => collection, "outcome" => outcome).increment(1);
}
