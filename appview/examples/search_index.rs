//! Measures the in-process search index alone on an indexed database: how long it takes to
//! build, what it holds, and the time one thread spends per query (no HTTP, no hydration), for
//! track, actor, album and playlist searches, over queries drawn from the database's own titles: whole words,
//! two-word phrases, 4-letter prefixes and one-letter typos.
//!
//!     DATABASE_URL=postgres://.../plyr_bench_appview \
//!       cargo run --release -p plyr-appview --example search_index -- [QUERIES]
//!
//! QUERIES (default 1500) distinct queries are drawn with a fixed seed, so runs compare.
//! `ROUNDS=N` repeats each kind N times (this machine's noise: read the fastest round);
//! `SLOW_US=N` prints each query slower than N µs; `DUMP=FILE` appends every answer (kind,
//! query, keys with their relevance), so two builds' rankings can be diffed; `KINDS=tracks,actors`
//! measures only those kinds (default: all four).

use std::time::Instant;

use plyr_appview::db::search::Query;
use plyr_appview::search::{self, SearchIndex};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("DATABASE_URL is required"))?;
    let count: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(1500);
    let db = sqlx::PgPool::connect(&url).await?;
    let index = SearchIndex::default();
    let started = Instant::now();
    index.rebuild(&db).await?;
    println!("built in {:.2} s", started.elapsed().as_secs_f64());

    let titles: Vec<String> =
        sqlx::query_scalar("SELECT lower(title) FROM tracks ORDER BY md5(uri) LIMIT $1")
            .bind(count as i64)
            .fetch_all(&db)
            .await?;
    let mut queries: Vec<String> = Vec::new();
    for (i, t) in titles.iter().enumerate() {
        let words: Vec<&str> = t.split_whitespace().collect();
        let Some(first) = words.first() else { continue };
        let q = match i % 4 {
            0 => (*first).to_owned(),
            1 => words.iter().take(2).copied().collect::<Vec<_>>().join(" "),
            2 => first.chars().take(4).collect(),
            _ => {
                let mut chars: Vec<char> = t.chars().collect();
                let at = chars.len() / 2;
                chars.remove(at);
                chars.into_iter().collect()
            }
        };
        queries.push(q);
    }
    queries.sort();
    queries.dedup();
    println!("{} distinct queries", queries.len());
    let setting = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u128>().ok());
    let rounds = setting("ROUNDS").unwrap_or(1) as usize;
    let slow = setting("SLOW_US");
    let kinds = std::env::var("KINDS").unwrap_or_else(|_| "tracks,actors,albums,playlists".to_owned());
    for kind in kinds.split(',').flat_map(|k| std::iter::repeat_n(k, rounds)) {
        let mut times: Vec<f64> = Vec::with_capacity(queries.len());
        let mut hits = 0;
        for q in &queries {
            let q_text = q.clone();
            let q = Query::new(q);
            let started = Instant::now();
            let found = match kind {
                "tracks" => search::tracks(&db, &index, &q, 25, 0).await?,
                "actors" => search::actors(&db, &index, &q, 25, 0).await?,
                list_type => search::lists(&db, &index, &q, &list_type[..list_type.len() - 1], 25).await?,
            };
            times.push(started.elapsed().as_secs_f64() * 1e6);
            if slow.is_some_and(|us| started.elapsed().as_micros() > us) {
                println!("slow {kind} {q_text:?} {} us", started.elapsed().as_micros());
            }
            hits += found.len();
            if let Ok(path) = std::env::var("DUMP") {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path)?;
                writeln!(
                    f,
                    "{kind}\t{}\t{}",
                    q_text,
                    found
                        .iter()
                        .map(|h| format!("{}:{:.4}", h.key, h.relevance))
                        .collect::<Vec<_>>()
                        .join(" ")
                )?;
            }
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
        let at = |p: f64| {
            times
                .get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0.0)
        };
        println!(
            "{kind}: mean {mean:.0} us, p50 {:.0} us, p99 {:.0} us, max {:.0} us per query; {:.1} hits per query",
            at(0.5),
            at(0.99),
            at(1.0),
            hits as f64 / times.len().max(1) as f64
        );
    }
    Ok(())
}
