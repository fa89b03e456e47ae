//! `fm.plyr.feed.getForYou`: collaborative filtering over likes and playlist additions, with
//! plyr.fm's constants (`plyr-api.md` §3.3): accounts that engaged with the viewer's tracks
//! around the same time vote for the other tracks they engaged with; votes are weighted down by
//! how much the voter engages overall, scores decay with the track's age (48 h half-life) and
//! are penalized by popularity; at most 2 tracks per artist. Too little history: the most
//! engaged-with tracks of the last 30 days (`coldStart: true`).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use jacquard_common::deps::smol_str::SmolStr;
use plyr_atproto::{AtUri, Did};
use plyr_lexicons::fm_plyr::feed::get_for_you::GetForYouOutput;

use super::Ctx;
use crate::db::recs::{self, Edge};
use crate::{XrpcError, cursor};

pub const HALF_LIFE_HOURS: f64 = 48.0;
pub const SMOOTHING: f64 = 0.5;
pub const POPULARITY_PENALTY: f64 = 0.3;
pub const DIVISOR_POWER: f64 = 1.0;
pub const TIME_SHIFT_HOURS: i64 = 24;
pub const SEED_LIMIT: i64 = 500;
pub const MAX_COENGAGERS: usize = 1000;
pub const MAX_PER_ARTIST: usize = 2;
pub const COLD_START_DAYS: i64 = 30;

/// Co-engagers of the viewer: accounts with edges on seed tracks no later than a day after the
/// viewer's own, by overlap (most first), at most [`MAX_COENGAGERS`].
pub fn coengagers(seeds: &[Edge], on_seeds: &[Edge]) -> Vec<Did> {
    let seed_time: HashMap<&str, DateTime<Utc>> = seeds.iter().map(|e| (e.track.as_str(), e.at)).collect();
    let mut overlap: HashMap<&Did, usize> = HashMap::new();
    for e in on_seeds {
        if seed_time.get(e.track.as_str()).is_some_and(|t| e.at <= *t + Duration::hours(TIME_SHIFT_HOURS)) {
            *overlap.entry(&e.did).or_default() += 1;
        }
    }
    let mut ranked: Vec<(&Did, usize)> = overlap.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ranked.into_iter().take(MAX_COENGAGERS).map(|(d, _)| d.clone()).collect()
}

/// Scores the candidate tracks (co-engagers' edges on tracks that are not seeds), best first.
/// `created` gives each candidate's creation time and author; candidates by the viewer or
/// unknown are skipped. `popularity` is each candidate's total edge count.
pub fn score(
    viewer: &Did,
    seeds: &[Edge],
    coengager_edges: &[Edge],
    created: &HashMap<AtUri, (Did, DateTime<Utc>)>,
    popularity: &HashMap<AtUri, i64>,
    now: DateTime<Utc>,
) -> Vec<(AtUri, f64)> {
    let seed_set: HashSet<&str> = seeds.iter().map(|e| e.track.as_str()).collect();
    let mut totals: HashMap<&str, f64> = HashMap::new();
    for e in coengager_edges {
        *totals.entry(e.did.as_str()).or_default() += 1.0;
    }
    let mut raw: HashMap<&AtUri, (f64, f64)> = HashMap::new();
    for e in coengager_edges {
        if seed_set.contains(e.track.as_str()) {
            continue;
        }
        let total = totals.get(e.did.as_str()).copied().unwrap_or(1.0);
        let entry = raw.entry(&e.track).or_default();
        entry.0 += 1.0 / total.powf(DIVISOR_POWER);
        entry.1 += 1.0;
    }
    let mut out: Vec<(AtUri, f64)> = raw
        .into_iter()
        .filter_map(|(track, (raw, paths))| {
            let (author, at) = created.get(track)?;
            if author == viewer {
                return None;
            }
            let age_hours = ((now - *at).num_seconds() as f64 / 3600.0).max(0.0);
            let pop = popularity.get(track).copied().unwrap_or(1).max(1) as f64;
            let s = raw * paths.powf(SMOOTHING) * 0.5f64.powf(age_hours / HALF_LIFE_HOURS)
                / pop.powf(POPULARITY_PENALTY);
            Some((track.clone(), s))
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

pub async fn for_you(ctx: &Ctx<'_>) -> Result<GetForYouOutput, XrpcError> {
    let viewer = ctx.viewer.clone().ok_or_else(|| {
        XrpcError::AuthRequired("getForYou needs a viewer: call it through your PDS".into())
    })?;
    let limit = ctx.params.int("limit").unwrap_or(30);
    let offset = cursor::decode_offset(ctx.params.str("cursor"))?;
    let fetch = (offset + limit) * 3;
    let db = &ctx.state.db;

    let seeds = recs::seeds(db, &viewer, SEED_LIMIT).await?;
    let mut ranked: Vec<AtUri> = Vec::new();
    if !seeds.is_empty() {
        let seed_tracks: Vec<AtUri> = seeds.iter().map(|e| e.track.clone()).collect();
        let on_seeds = recs::edges_on(db, &viewer, &seed_tracks).await?;
        let co = coengagers(&seeds, &on_seeds);
        if !co.is_empty() {
            let edges = recs::edges_of(db, &co).await?;
            let seed_set: HashSet<&str> = seed_tracks.iter().map(AtUri::as_str).collect();
            let mut candidates: Vec<AtUri> = edges
                .iter()
                .filter(|e| !seed_set.contains(e.track.as_str()))
                .map(|e| e.track.clone())
                .collect();
            candidates.sort();
            candidates.dedup();
            let (rows, pop) = tokio::try_join!(
                ctx.state.caches.tracks(db, &candidates),
                recs::popularity(db, &candidates)
            )?;
            let created = rows.values().map(|t| (t.uri.clone(), (t.did.clone(), t.created_at))).collect();
            let pop = pop.into_iter().collect();
            ranked = score(&viewer, &seeds, &edges, &created, &pop, Utc::now())
                .into_iter()
                .take(usize::try_from(fetch * 2).unwrap_or(usize::MAX))
                .map(|(t, _)| t)
                .collect();
        }
    }
    let cold_start = ranked.is_empty();
    if cold_start {
        let since = Utc::now() - Duration::days(COLD_START_DAYS);
        ranked = recs::popular_since(db, &viewer, since, fetch).await?;
    }

    // Visible tracks only, at most MAX_PER_ARTIST per artist, in rank order.
    let h = ctx.hydrator().listing().tracks(&ranked).await?;
    let mut per_artist: HashMap<&str, usize> = HashMap::new();
    let mut kept = Vec::new();
    for uri in &ranked {
        let Some(t) = h.track(uri) else { continue };
        let n = per_artist.entry(t.did.as_str()).or_default();
        if *n >= MAX_PER_ARTIST {
            continue;
        }
        *n += 1;
        kept.push(t);
    }
    let start = usize::try_from(offset).unwrap_or(0);
    let end = start + usize::try_from(limit).unwrap_or(0);
    let more = kept.len() > end;
    let tracks = kept
        .into_iter()
        .skip(start)
        .take(end - start)
        .filter_map(|t| ctx.state.presenter.track(&h, t))
        .collect();
    Ok(GetForYouOutput {
        tracks,
        cursor: more.then(|| SmolStr::from(end.to_string())),
        cold_start,
        extra_data: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(did: &str, track: &str, hours: i64) -> Edge {
        Edge {
            did: Did::from_trusted(did),
            track: AtUri::from_trusted(track),
            at: DateTime::from_timestamp(1_700_000_000 + hours * 3600, 0).expect("time"),
        }
    }

    #[test]
    fn coengagers_must_engage_within_a_day_after_the_viewer() {
        let seeds = vec![e("v", "s1", 0), e("v", "s2", 0)];
        let on = vec![e("a", "s1", 10), e("a", "s2", 1), e("b", "s1", 30), e("c", "s2", -100)];
        // a: 2 hits; b: too late; c: earlier is fine.
        assert_eq!(coengagers(&seeds, &on), vec![Did::from_trusted("a"), Did::from_trusted("c")]);
    }

    #[test]
    fn scores_weight_by_voter_activity_age_and_popularity() {
        let now = DateTime::from_timestamp(1_700_000_000 + 1000 * 3600, 0).expect("time");
        let seeds = vec![e("v", "s1", 0)];
        // a engages little (2 edges), b a lot (5 edges).
        let edges = vec![
            e("a", "s1", 0),
            e("a", "x", 0),
            e("b", "s1", 0),
            e("b", "y", 0),
            e("b", "y2", 0),
            e("b", "y3", 0),
            e("b", "own", 0),
        ];
        let at = now - Duration::hours(48);
        let created: HashMap<AtUri, (Did, DateTime<Utc>)> =
            [("x", "artist1"), ("y", "artist2"), ("y2", "artist2"), ("y3", "artist3"), ("own", "v")]
                .into_iter()
                .map(|(t, a)| (AtUri::from_trusted(t), (Did::from_trusted(a), at)))
                .collect();
        let pop = HashMap::new();
        let v = Did::from_trusted("v");
        let s = score(&v, &seeds, &edges, &created, &pop, now);
        assert_eq!(s[0].0, "x", "a's single vote weighs 1/2, b's votes 1/5 each");
        assert!((s[0].1 - 0.5 * 0.5).abs() < 1e-9, "48 h old: half the score; got {}", s[0].1);
        assert!(s.iter().all(|(t, _)| t != "own" && t != "s1"), "no seeds, nothing by the viewer");
        let mut pop = HashMap::new();
        pop.insert(AtUri::from_trusted("x"), 1000);
        let s = score(&v, &seeds, &edges, &created, &pop, now);
        assert_ne!(s[0].0, "x", "popularity penalizes");
    }
}
