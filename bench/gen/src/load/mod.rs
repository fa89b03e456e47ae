//! `plyr-gen load`: fills a freshly migrated database with a large generated network, for
//! AppView benchmarks, writing the rows the indexer would have written for it.
//!
//! The dataset ([`model`]) is generated on a blocking thread and turned into rows by the
//! indexer's own validation and row extraction ([`encode`]); the rows stream into PostgreSQL
//! with one `COPY` per table while the secondary indexes and key constraints are set aside
//! ([`db`]); they are rebuilt afterwards, in parallel, and every table is vacuumed and analyzed
//! so the first benchmark request meets a settled database. [`stream`] renders the same dataset
//! as a Jetstream stream, which is how the tests prove the two paths agree.

mod db;
pub mod encode;
pub mod model;
pub mod stream;

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::GenError;
use crate::params::YEAR_US;
use crate::rng::Rng;
use encode::{Encoder, Table};
use model::{Counts, Model, Rec, Sink};

pub use stream::jetstream;

/// Bytes of COPY text buffered per table before a chunk is sent.
const CHUNK: usize = 1 << 20;
const SECOND_US: i64 = 1_000_000;

/// The size and shape of a generated dataset. Same parameters, same rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadParams {
    pub seed: u64,
    pub tracks: u64,
    pub likes: u64,
    /// Accounts that publish tracks (each at least one).
    pub artists: u64,
    /// Accounts that only like, comment and make playlists (those that do nothing are not
    /// indexed).
    pub listeners: u64,
    pub comments: u64,
    pub playlists: u64,
    /// Accounts deactivated (hidden) at the end, per 10,000.
    pub deactivated_per_10k: u32,
    /// End of the period (µs since the epoch); records spread over `end_us - span_us .. end_us`.
    pub end_us: i64,
    pub span_us: i64,
}

impl LoadParams {
    /// A dataset of `tracks`, `likes` and `artists` over the year ending at `end_us`, with four
    /// listeners per artist, a comment per 20 likes, a playlist per artist and 0.2 % of the
    /// accounts deactivated.
    pub fn new(seed: u64, tracks: u64, likes: u64, artists: u64, end_us: i64) -> Self {
        Self {
            seed,
            tracks,
            likes,
            artists,
            listeners: artists * 4,
            comments: likes / 20,
            playlists: artists,
            deactivated_per_10k: 20,
            end_us,
            span_us: YEAR_US,
        }
    }

    pub fn start_us(&self) -> i64 {
        self.end_us - self.span_us
    }

    /// When artist `artist` joins: artists join evenly over the first 85 % of the period.
    pub fn join_us(&self, artist: u32) -> i64 {
        let spread = (self.span_us as f64 * 0.85) as i64;
        let step = spread / self.artists.max(1) as i64;
        self.start_us() + i64::from(artist) * step
    }

    /// A time in `lo..hi` (`lo` when the range is empty).
    pub fn between(&self, rng: &mut Rng, lo: i64, hi: i64) -> i64 {
        if hi <= lo { lo } else { lo + rng.below((hi - lo) as u64) as i64 }
    }

    /// Time of every account's `identity` event: a whole second after the period (so
    /// `to_timestamp(us / 1e6)` is exact).
    pub fn identity_us(&self) -> i64 {
        (self.end_us.div_euclid(SECOND_US) + 1) * SECOND_US
    }

    /// Time of the deactivations.
    pub fn status_us(&self) -> i64 {
        self.identity_us() + SECOND_US
    }

    /// Rejects parameters the generator cannot honour.
    pub fn check(&self) -> Result<(), GenError> {
        if self.artists == 0 || self.tracks < self.artists {
            return Err(GenError::Params("need at least one artist and one track per artist"));
        }
        if u32::try_from(self.artists + self.listeners).is_err() || u32::try_from(self.tracks).is_err() {
            return Err(GenError::Params("too many accounts or tracks (32 bits each)"));
        }
        if self.span_us < 86_400 * SECOND_US || self.start_us() < 0 {
            return Err(GenError::Params("the period must be at least a day and start after 1970"));
        }
        Ok(())
    }
}

/// Why a load failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Gen(#[from] GenError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("store: {0}")]
    Store(#[from] plyr_store::StoreError),
    #[error("the indexer's record checks: {0}")]
    Indexer(String),
    /// A generated record the indexer would not index: a bug in the generator.
    #[error("generated record {uri} would be dropped by the indexer: {reason}")]
    Rejected { uri: String, reason: String },
    #[error("table {0} is not empty: load needs a freshly migrated database")]
    NotEmpty(&'static str),
    #[error("a loader task failed: {0}")]
    Task(String),
    #[error("a loader lock was poisoned")]
    Poisoned,
}

/// How to run a load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Connections that rebuild indexes (and vacuum) at once.
    pub jobs: usize,
    /// `maintenance_work_mem` of those connections.
    pub work_mem: String,
    /// Skip the final `VACUUM (ANALYZE)` (tests).
    pub vacuum: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { jobs: 2, work_mem: "1GB".into(), vacuum: true }
    }
}

/// What a load wrote and how long each phase took.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub counts: Counts,
    /// Rows per table, as COPY reported them.
    pub rows: Vec<(&'static str, u64)>,
    pub copy_bytes: u64,
    pub copy_time: Duration,
    pub index_time: Duration,
    /// Each index or constraint and its build time, slowest first.
    pub index_builds: Vec<(String, Duration)>,
    pub vacuum_time: Duration,
}

impl LoadReport {
    pub fn total(&self) -> Duration {
        self.copy_time + self.index_time + self.vacuum_time
    }
}

/// Feeds encoded chunks to the async side.
struct ChannelSink {
    encoder: Encoder,
    tx: mpsc::Sender<(Table, Vec<u8>)>,
}

impl ChannelSink {
    fn send(&mut self, chunks: Vec<(Table, Vec<u8>)>) -> Result<(), LoadError> {
        for chunk in chunks {
            self.tx.blocking_send(chunk).map_err(|_| LoadError::Task("the COPY side stopped".into()))?;
        }
        Ok(())
    }
}

impl Sink for ChannelSink {
    type Error = LoadError;

    fn record(&mut self, rec: Rec<'_>) -> Result<(), LoadError> {
        self.encoder.record(&rec)?;
        let full = self.encoder.full();
        self.send(full)
    }
}

/// Generates the dataset and sends its rows, table by table, down `tx`.
fn produce(params: &LoadParams, tx: mpsc::Sender<(Table, Vec<u8>)>) -> Result<Counts, LoadError> {
    let mut sink = ChannelSink { encoder: Encoder::new(CHUNK)?, tx };
    let model = Model::generate(params, &mut sink)?;
    sink.encoder.accounts(&model);
    let rest = sink.encoder.rest();
    sink.send(rest)?;
    Ok(model.counts)
}

/// Migrates the database at `url`, checks it is empty, and loads the dataset of `params`.
pub async fn load(url: &str, params: &LoadParams, options: &LoadOptions) -> Result<LoadReport, LoadError> {
    params.check()?;
    let connections = (Table::ALL.len() + options.jobs + 1) as u32;
    let pool = plyr_store::connect(url, connections).await?;
    plyr_store::migrate(&pool).await?;
    db::ensure_empty(&pool).await?;
    let deferred = db::defer(&pool).await?;

    let started = Instant::now();
    let mut copies = db::Copies::start(&pool).await?;
    let (tx, mut rx) = mpsc::channel::<(Table, Vec<u8>)>(64);
    let generator = {
        let params = params.clone();
        tokio::task::spawn_blocking(move || produce(&params, tx))
    };
    let mut failed = None;
    while let Some((table, chunk)) = rx.recv().await {
        if let Err(e) = copies.send(table, chunk).await {
            failed = Some(e);
            break;
        }
    }
    drop(rx);
    let produced = generator.await.map_err(|e| LoadError::Task(e.to_string()));
    let counts = match (failed, produced) {
        (None, Ok(Ok(counts))) => counts,
        (Some(e), _) | (None, Ok(Err(e)) | Err(e)) => {
            copies.abort("the load failed").await;
            return Err(e);
        }
    };
    let copy_bytes = copies.bytes;
    let rows = copies.finish().await?.into_iter().map(|(t, n)| (t.name(), n)).collect();
    let copy_time = started.elapsed();

    let started = Instant::now();
    let mut index_builds = db::run_parallel(&pool, deferred.indexes, options.jobs, &options.work_mem).await?;
    index_builds.extend(db::run_parallel(&pool, deferred.foreign_keys, 1, &options.work_mem).await?);
    index_builds.sort_by_key(|b| std::cmp::Reverse(b.1));
    let index_time = started.elapsed();

    let started = Instant::now();
    if options.vacuum {
        let vacuums = Table::ALL
            .iter()
            .map(|t| (t.name().to_owned(), format!("VACUUM (ANALYZE) {}", t.name())))
            .collect();
        db::run_parallel(&pool, vacuums, options.jobs, &options.work_mem).await?;
    } else {
        let analyze =
            Table::ALL.iter().map(|t| (t.name().to_owned(), format!("ANALYZE {}", t.name()))).collect();
        db::run_parallel(&pool, analyze, options.jobs, &options.work_mem).await?;
    }
    let vacuum_time = started.elapsed();
    // The indexer keeps the rankings of what it indexed; so does a load.
    plyr_indexer::ranking::refresh(&pool).await?;
    pool.close().await;
    Ok(LoadReport { counts, rows, copy_bytes, copy_time, index_time, index_builds, vacuum_time })
}
