//! The dataset a bulk load writes: a plyr network as the indexer holds it after indexing every
//! record once (creates only: no edits or deletions), generated record by record from the seed.
//!
//! Each phase draws from its own seeded [`Rng`] per account, so the records do not depend on
//! how a consumer batches them. Artists join over the first 85 % of the period and publish a
//! power-law number of tracks; likes follow a power law over likers and a Zipf law over a random
//! popularity order of tracks, each (liker, track) pair at most once, at a time between the
//! track's publication and the end of the period; comments and playlists come from the same
//! likers; artists list some of their albums; every artist and some listeners have profiles.
//! An account exists (has an `actors` row) only if it wrote at least one `fm.plyr` record,
//! exactly as the indexer decides.

use std::collections::HashSet;

use ipld_core::ipld::Ipld;
use jacquard_common::deps::smol_str::SmolStr;

use super::LoadParams;
use crate::GenError;
use crate::ids::{blob_cid, datetime, hex, plc_did, tid};
use crate::records::{
    self, BskyProfile, Comment, Datetime, Like, List, ListItem, ListListType, Profile, Record, StrongRef,
    Track, nsid,
};
use crate::rng::{PowerLaw, Rng};
use crate::words;

/// Most tracks one artist publishes.
const MAX_TRACKS_PER_ARTIST: u64 = 1_000;
/// Most comments and playlists by one account.
const MAX_COMMENTS_PER_ACCOUNT: u64 = 2_000;
const MAX_PLAYLISTS_PER_ACCOUNT: u64 = 40;
/// Share of listeners (that exist) with an `app.bsky.actor.profile`.
const LISTENER_BSKY_PROFILES: f64 = 0.3;
/// File types, their MIME types and bytes per second of audio.
const FORMATS: &[(&str, &str, u64)] = &[
    ("mp3", "audio/mpeg", 40_000),
    ("m4a", "audio/mp4", 32_000),
    ("wav", "audio/wav", 176_400),
    ("flac", "audio/flac", 110_000),
];
/// `audioBlob` `maxSize` in the track lexicon.
const MAX_AUDIO_BYTES: u64 = 104_857_600;
const SECOND_US: i64 = 1_000_000;

/// One record as the network would carry it: the commit that created it and its content.
#[derive(Debug, Clone)]
pub struct Rec<'a> {
    pub did: &'a str,
    pub collection: &'static str,
    pub rkey: String,
    /// The rev of the commit that created it (a TID of the commit time).
    pub rev: String,
    /// When the network carried the commit (Jetstream `time_us`): the row's `indexed_at`.
    pub time_us: i64,
    pub cid: String,
    pub record: Ipld,
}

/// Receives the records in generation order.
pub trait Sink {
    type Error: From<GenError>;
    fn record(&mut self, rec: Rec<'_>) -> Result<(), Self::Error>;
}

/// One account and what the indexer knows about it at the end.
#[derive(Debug, Clone)]
pub struct Account {
    pub did: String,
    pub handle: String,
    pub name: String,
    pub pds: String,
    pub clock_id: u16,
    pub artist: bool,
    pub deactivated: bool,
    /// Earliest and latest commit time of its records; `None` when it wrote nothing.
    pub first_us: Option<i64>,
    pub last_us: i64,
    /// Counters as `actor_stats` holds them.
    pub tracks: u32,
    pub albums: u32,
    pub playlists: u32,
    pub likes: u32,
    /// Whether it has an `fm.plyr` record (and therefore an `actors` row).
    pub plyr: bool,
}

impl Account {
    /// The rev of its newest commit: `actors.repo_rev`.
    pub fn repo_rev(&self) -> String {
        tid(self.last_us, self.clock_id)
    }

    fn saw(&mut self, time_us: i64, collection: &str) {
        self.first_us = Some(self.first_us.map_or(time_us, |f| f.min(time_us)));
        self.last_us = self.last_us.max(time_us);
        self.plyr |= collection.starts_with("fm.plyr.");
    }
}

/// A published track, as later records refer to it.
#[derive(Debug, Clone)]
pub struct TrackInfo {
    pub owner: u32,
    /// Its URI and CID, built once: every like, comment and list item clones it.
    pub subject: StrongRef,
    pub time_us: i64,
    pub duration: u32,
    /// Distinct likers and comments (`subject_stats`).
    pub likes: u32,
    pub comments: u32,
}

/// Everything generated, once [`Model::generate`] has run.
#[derive(Debug)]
pub struct Model {
    pub params: LoadParams,
    pub accounts: Vec<Account>,
    pub tracks: Vec<TrackInfo>,
    /// Rows written per collection.
    pub counts: Counts,
}

/// Records generated per collection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tracks: u64,
    pub likes: u64,
    pub comments: u64,
    pub lists: u64,
    pub list_items: u64,
    pub plyr_profiles: u64,
    pub bsky_profiles: u64,
}

/// A random stream for one (phase, account) of the seed.
fn stream(seed: u64, phase: u64, index: u64) -> Rng {
    Rng::new(seed ^ phase.rotate_right(8) ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The record's data-model form and CID.
fn encode(record: &Record) -> Result<(Ipld, String), GenError> {
    let ipld = plyr_atproto::record_from_json(serde_json::to_value(record)?)?;
    let cid = plyr_atproto::cid_for_record(&ipld)?.to_string();
    Ok((ipld, cid))
}

/// Makes `times` strictly increasing (after sorting) with every value of the given parity, so
/// two generators of one account's records in one collection never produce the same rkey.
fn distinct_times(times: &mut [i64], parity: i64) {
    times.sort_unstable();
    let mut previous = i64::MIN;
    for t in times.iter_mut() {
        let mut v = (*t).max(previous.saturating_add(1));
        if v.rem_euclid(2) != parity {
            v += 1;
        }
        *t = v;
        previous = v;
    }
}

/// Splits `total` over `n` ranks with Zipf weights `1 / (k + 1 + offset)`, each rank getting
/// at least `min` and at most `cap`. Exact: the parts sum to `total`.
pub fn allocate(total: u64, n: usize, offset: f64, min: u64, cap: u64) -> Result<Vec<u64>, GenError> {
    if n == 0 {
        return if total == 0 { Ok(Vec::new()) } else { Err(GenError::Params("nobody to allocate to")) };
    }
    if (n as u64).saturating_mul(cap) < total || (n as u64).saturating_mul(min) > total || cap < min {
        return Err(GenError::Params("cannot split the total within the per-account limits"));
    }
    let room = (cap - min) as f64;
    let rest = (total - n as u64 * min) as f64;
    let weight = |k: usize| 1.0 / (k as f64 + 1.0 + offset);
    // Weights decrease with rank, so the ranks held at the cap are a prefix: find its length.
    let mut suffix = vec![0.0; n + 1];
    for k in (0..n).rev() {
        suffix[k] = suffix[k + 1] + weight(k);
    }
    let mut capped = 0;
    while capped < n && (rest - capped as f64 * room) * weight(capped) / suffix[capped] > room {
        capped += 1;
    }
    let share = (rest - capped as f64 * room).max(0.0);
    let mut parts: Vec<u64> = (0..n)
        .map(|k| {
            let extra = if k < capped { room } else { (share * weight(k) / suffix[capped]).min(room) };
            min + extra.floor() as u64
        })
        .collect();
    let mut left = total.saturating_sub(parts.iter().sum());
    // Rounding leaves less than one unit per rank: hand it out in rank order, below the cap.
    while left > 0 {
        let before = left;
        for part in parts.iter_mut() {
            if left == 0 {
                break;
            }
            if *part < cap {
                *part += 1;
                left -= 1;
            }
        }
        if left == before {
            return Err(GenError::Internal("allocation could not place every unit"));
        }
    }
    Ok(parts)
}

/// A uniformly random permutation of `0..n`.
fn permutation(rng: &mut Rng, n: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.index(i + 1));
    }
    order
}

impl Model {
    /// Generates the dataset described by `params`, handing every record to `sink`.
    pub fn generate<S: Sink>(params: &LoadParams, sink: &mut S) -> Result<Self, S::Error> {
        params.check()?;
        let mut model = Model {
            params: params.clone(),
            accounts: accounts(params),
            tracks: Vec::with_capacity(params.tracks as usize),
            counts: Counts::default(),
        };
        model.publish(sink)?;
        let popular = permutation(&mut stream(params.seed, 2, 0), model.tracks.len());
        let mut law = PowerLaw::zipf(10.0);
        let likers = permutation(&mut stream(params.seed, 3, 0), model.accounts.len());
        model.like(sink, &likers, &popular, &mut law)?;
        model.comment(sink, &likers, &popular, &mut law)?;
        model.playlists(sink, &likers, &popular, &mut law)?;
        model.profiles(sink)?;
        Ok(model)
    }

    fn emit<S: Sink>(
        &mut self,
        sink: &mut S,
        actor: u32,
        time_us: i64,
        rkey: String,
        record: &Record,
    ) -> Result<String, S::Error> {
        let (ipld, cid) = encode(record)?;
        let collection = record.collection();
        let account = self.accounts.get_mut(actor as usize).ok_or(GenError::Internal("unknown account"))?;
        account.saw(time_us, collection);
        sink.record(Rec {
            did: &account.did,
            collection,
            rkey,
            rev: tid(time_us, account.clock_id),
            time_us,
            cid: cid.clone(),
            record: ipld,
        })?;
        Ok(cid)
    }

    /// `at://` URI of a record of `actor`.
    fn uri(&self, actor: u32, collection: &str, rkey: &str) -> String {
        let did = self.accounts.get(actor as usize).map_or("", |a| a.did.as_str());
        format!("at://{did}/{collection}/{rkey}")
    }

    fn rkey(&self, actor: u32, time_us: i64) -> String {
        tid(time_us - 1, self.accounts.get(actor as usize).map_or(0, |a| a.clock_id))
    }

    /// `createdAt` of a record committed at `time_us`: a little before the commit.
    fn created_at(rng: &mut Rng, time_us: i64) -> Result<Datetime, GenError> {
        records::datetime(&datetime(time_us - rng.range(20, 1_500) as i64 * 1_000))
    }

    /// Every artist's tracks (and the album lists of some of their albums).
    fn publish<S: Sink>(&mut self, sink: &mut S) -> Result<(), S::Error> {
        let p = self.params.clone();
        let quota = allocate(p.tracks, p.artists as usize, 3.0, 1, MAX_TRACKS_PER_ARTIST)?;
        for (artist, count) in quota.into_iter().enumerate() {
            let artist = artist as u32;
            let rng = &mut stream(p.seed, 1, u64::from(artist));
            let join = p.join_us(artist);
            let albums: Vec<String> = (0..rng.range(1, 2)).map(|_| words::album(rng)).collect();
            let mut times: Vec<i64> =
                (0..count).map(|_| p.between(rng, join + SECOND_US, p.end_us)).collect();
            distinct_times(&mut times, 0);
            let mut by_album: Vec<Vec<u32>> = vec![Vec::new(); albums.len()];
            for time_us in times {
                let record = self.track_record(rng, artist, &albums, time_us)?;
                let album = record.album.clone();
                let rkey = self.rkey(artist, time_us);
                let uri = self.uri(artist, nsid::TRACK, &rkey);
                let duration = record.duration.and_then(|d| u32::try_from(d).ok()).unwrap_or(0);
                let cid = self.emit(sink, artist, time_us, rkey, &Record::Track(record))?;
                let id = self.tracks.len() as u32;
                self.tracks.push(TrackInfo {
                    owner: artist,
                    subject: records::strong_ref(&uri, &cid)?,
                    time_us,
                    duration,
                    likes: 0,
                    comments: 0,
                });
                if let Some(i) = albums.iter().position(|a| Some(a.as_str()) == album.as_deref()) {
                    by_album[i].push(id);
                }
            }
            self.counts.tracks += count;
            if let Some(a) = self.accounts.get_mut(artist as usize) {
                a.tracks = count as u32;
            }
            let mut lists: Vec<(String, Vec<u32>, i64)> = Vec::new();
            for (name, tracks) in albums.into_iter().zip(by_album) {
                if tracks.len() >= 2 && rng.chance(0.6) {
                    let newest =
                        tracks.iter().map(|t| self.tracks[*t as usize].time_us).max().unwrap_or(join);
                    lists.push((name, tracks, p.between(rng, newest + SECOND_US, p.end_us)));
                }
            }
            let mut times: Vec<i64> = lists.iter().map(|l| l.2).collect();
            distinct_times(&mut times, 0);
            for ((name, tracks, _), time_us) in lists.into_iter().zip(times) {
                let keep = tracks.len().saturating_sub(500);
                self.list(sink, rng, artist, Some(name), ListListType::Album, &tracks[keep..], time_us)?;
                if let Some(a) = self.accounts.get_mut(artist as usize) {
                    a.albums += 1;
                }
            }
        }
        Ok(())
    }

    fn track_record(
        &self,
        rng: &mut Rng,
        artist: u32,
        albums: &[String],
        time_us: i64,
    ) -> Result<Track, GenError> {
        let name = self.accounts.get(artist as usize).map(|a| a.name.clone()).unwrap_or_default();
        let (file_type, mime, rate) = rng.pick(FORMATS).copied().unwrap_or(("mp3", "audio/mpeg", 40_000));
        let duration = rng.range(60, 600);
        let blob = if rng.chance(0.85) {
            let size = (duration * rate + rng.below(rate)).min(MAX_AUDIO_BYTES);
            Some(records::blob(&blob_cid(rng)?, mime, size))
        } else {
            None
        };
        let audio_url = (blob.is_none() || rng.chance(0.35))
            .then(|| format!("https://audio.plyr.fm/audio/{}.{file_type}", hex(rng, 16)));
        let mut features = Vec::new();
        if rng.chance(0.1) {
            let other = rng.below(u64::from(artist) + 1) as u32;
            if other != artist
                && let Some(a) = self.accounts.get(other as usize)
            {
                let snapshot = rng.chance(0.5).then_some((a.handle.as_str(), a.name.as_str()));
                features.push(records::featured_artist(&a.did, snapshot)?);
            }
        }
        // Fields in the order the random draws were always made: the dataset depends on it.
        Ok(Track {
            title: words::title(rng).into(),
            artist: name.into(),
            audio_url: audio_url.as_deref().map(records::uri).transpose()?,
            file_type: file_type.into(),
            album: rng.pick(albums).filter(|_| rng.chance(0.4)).map(Into::into),
            duration: Some(duration as i64),
            features: (!features.is_empty()).then_some(features),
            image_url: records::cover_url(rng)?,
            created_at: Self::created_at(rng, time_us)?,
            support_gate: rng.chance(0.05).then(records::support_gate_any),
            description: rng.chance(0.3).then(|| words::description(rng).into()),
            labels: rng.chance(0.02).then(|| records::self_labels(words::self_label(rng))),
            audio_blob: blob,
            extra_data: None,
        })
    }

    #[expect(clippy::too_many_arguments, reason = "one call per list kind, all fields needed")]
    fn list<S: Sink>(
        &mut self,
        sink: &mut S,
        rng: &mut Rng,
        owner: u32,
        name: Option<String>,
        list_type: ListListType,
        tracks: &[u32],
        time_us: i64,
    ) -> Result<(), S::Error> {
        let items: Vec<ListItem> = tracks
            .iter()
            .filter_map(|t| self.tracks.get(*t as usize))
            .map(|t| ListItem { subject: t.subject.clone(), extra_data: None })
            .collect();
        self.counts.lists += 1;
        self.counts.list_items += items.len() as u64;
        let record = List {
            name: name.map(Into::into),
            list_type: Some(list_type),
            items,
            created_at: Self::created_at(rng, time_us)?,
            updated_at: None,
            extra_data: None,
        };
        let rkey = self.rkey(owner, time_us);
        self.emit(sink, owner, time_us, rkey, &Record::List(record))?;
        Ok(())
    }

    /// Draws up to `n` distinct tracks (Zipf over the popularity order), never `owner`'s own,
    /// falling back to uniform draws when the head is exhausted.
    fn draw_tracks(
        &self,
        rng: &mut Rng,
        law: &mut PowerLaw,
        popular: &[u32],
        owner: Option<u32>,
        n: usize,
    ) -> Vec<u32> {
        let mut seen = HashSet::with_capacity(n);
        let mut picked = Vec::with_capacity(n);
        let mut tries = 0usize;
        while picked.len() < n && tries < 50 * n + 1_000 {
            tries += 1;
            let track = if tries < 20 * n {
                popular.get(law.sample(rng, popular.len())).copied()
            } else {
                popular.get(rng.index(popular.len())).copied()
            };
            let Some(track) = track else { break };
            let own = owner.is_some_and(|o| self.tracks.get(track as usize).is_some_and(|t| t.owner == o));
            if !own && seen.insert(track) {
                picked.push(track);
            }
        }
        picked
    }

    /// A time between `track`'s publication and the end of the period.
    fn after_track(&self, rng: &mut Rng, track: u32) -> i64 {
        let published = self.tracks.get(track as usize).map_or(self.params.start_us(), |t| t.time_us);
        self.params.between(rng, published + SECOND_US, self.params.end_us)
    }

    fn like<S: Sink>(
        &mut self,
        sink: &mut S,
        likers: &[u32],
        popular: &[u32],
        law: &mut PowerLaw,
    ) -> Result<(), S::Error> {
        let p = self.params.clone();
        let cap = (p.tracks / 4).clamp(1, 5_000);
        let quota = allocate(p.likes, likers.len(), 50.0, 0, cap)?;
        for (liker, count) in likers.iter().copied().zip(quota) {
            if count == 0 {
                continue;
            }
            let rng = &mut stream(p.seed, 3, u64::from(liker) + 1);
            let picked = self.draw_tracks(rng, law, popular, Some(liker), count as usize);
            let mut likes: Vec<(i64, u32)> =
                picked.into_iter().map(|t| (self.after_track(rng, t), t)).collect();
            likes.sort_unstable();
            let mut times: Vec<i64> = likes.iter().map(|l| l.0).collect();
            distinct_times(&mut times, 0);
            for ((_, track), time_us) in likes.iter().zip(times) {
                let Some(t) = self.tracks.get_mut(*track as usize) else { continue };
                t.likes += 1;
                let subject = t.subject.clone();
                let record = Like { subject, created_at: Self::created_at(rng, time_us)?, extra_data: None };
                let rkey = self.rkey(liker, time_us);
                self.emit(sink, liker, time_us, rkey, &Record::Like(record))?;
            }
            self.counts.likes += likes.len() as u64;
            if let Some(a) = self.accounts.get_mut(liker as usize) {
                a.likes = likes.len() as u32;
            }
        }
        Ok(())
    }

    fn comment<S: Sink>(
        &mut self,
        sink: &mut S,
        likers: &[u32],
        popular: &[u32],
        law: &mut PowerLaw,
    ) -> Result<(), S::Error> {
        let p = self.params.clone();
        let quota = allocate(p.comments, likers.len(), 50.0, 0, MAX_COMMENTS_PER_ACCOUNT)?;
        for (author, count) in likers.iter().copied().zip(quota) {
            if count == 0 {
                continue;
            }
            let rng = &mut stream(p.seed, 4, u64::from(author) + 1);
            let mut comments: Vec<(i64, u32)> = Vec::with_capacity(count as usize);
            for _ in 0..count {
                if let Some(t) = popular.get(law.sample(rng, popular.len())).copied() {
                    comments.push((self.after_track(rng, t), t));
                }
            }
            comments.sort_unstable();
            let mut times: Vec<i64> = comments.iter().map(|c| c.0).collect();
            distinct_times(&mut times, 0);
            for ((_, track), time_us) in comments.iter().zip(times) {
                let Some(t) = self.tracks.get_mut(*track as usize) else { continue };
                t.comments += 1;
                let subject = t.subject.clone();
                let duration_ms = u64::from(t.duration) * 1_000;
                let record = Comment {
                    subject,
                    text: words::comment(rng).into(),
                    timestamp_ms: rng.below(duration_ms) as i64,
                    created_at: Self::created_at(rng, time_us)?,
                    updated_at: None,
                    extra_data: None,
                };
                let rkey = self.rkey(author, time_us);
                self.emit(sink, author, time_us, rkey, &Record::Comment(record))?;
            }
            self.counts.comments += comments.len() as u64;
        }
        Ok(())
    }

    fn playlists<S: Sink>(
        &mut self,
        sink: &mut S,
        likers: &[u32],
        popular: &[u32],
        law: &mut PowerLaw,
    ) -> Result<(), S::Error> {
        let p = self.params.clone();
        let quota = allocate(p.playlists, likers.len(), 50.0, 0, MAX_PLAYLISTS_PER_ACCOUNT)?;
        for (owner, count) in likers.iter().copied().zip(quota) {
            if count == 0 {
                continue;
            }
            let rng = &mut stream(p.seed, 5, u64::from(owner) + 1);
            let mut lists: Vec<(i64, String, Vec<u32>)> = Vec::new();
            for _ in 0..count {
                let size = rng.range(3, 25) as usize;
                let tracks = self.draw_tracks(rng, law, popular, None, size);
                let newest =
                    tracks.iter().filter_map(|t| self.tracks.get(*t as usize)).map(|t| t.time_us).max();
                let Some(newest) = newest else { continue };
                let time_us = p.between(rng, newest + SECOND_US, p.end_us);
                lists.push((time_us, words::playlist(rng), tracks));
            }
            lists.sort_by_key(|l| l.0);
            let mut times: Vec<i64> = lists.iter().map(|l| l.0).collect();
            // Odd times: album lists (same collection, same account) use even ones.
            distinct_times(&mut times, 1);
            let made = lists.len() as u32;
            for ((_, name, tracks), time_us) in lists.into_iter().zip(times) {
                self.list(sink, rng, owner, Some(name), ListListType::Playlist, &tracks, time_us)?;
            }
            if let Some(a) = self.accounts.get_mut(owner as usize) {
                a.playlists += made;
            }
        }
        Ok(())
    }

    /// Every artist's two profiles; a Bluesky profile for some of the listeners that exist.
    fn profiles<S: Sink>(&mut self, sink: &mut S) -> Result<(), S::Error> {
        let p = self.params.clone();
        for actor in 0..self.accounts.len() as u32 {
            let Some(account) = self.accounts.get(actor as usize) else { continue };
            let (artist, name, plyr, first) =
                (account.artist, account.name.clone(), account.plyr, account.first_us);
            let rng = &mut stream(p.seed, 6, u64::from(actor));
            if artist {
                let time_us = p.join_us(actor);
                let avatar =
                    rng.chance(0.7).then(|| format!("https://images.plyr.fm/avatars/{}.jpg", hex(rng, 16)));
                let record = Profile {
                    avatar: avatar.as_deref().map(records::uri).transpose()?,
                    bio: Some(words::bio(rng).into()),
                    created_at: Self::created_at(rng, time_us)?,
                    updated_at: None,
                    extra_data: None,
                };
                self.emit(sink, actor, time_us, "self".to_owned(), &Record::Profile(record))?;
                self.counts.plyr_profiles += 1;
            }
            // Only accounts the indexer knows keep a Bluesky profile: after their first record.
            let Some(first) = first.filter(|_| plyr) else { continue };
            if artist || rng.chance(LISTENER_BSKY_PROFILES) {
                let time_us = first + SECOND_US;
                let avatar = records::blob(&blob_cid(rng)?, "image/jpeg", rng.range(20_000, 900_000));
                let description = rng.chance(0.6).then(|| words::bio(rng).into());
                let record = BskyProfile::new()
                    .display_name(SmolStr::from(name))
                    .maybe_description(description)
                    .avatar(avatar)
                    .created_at(Self::created_at(rng, time_us)?)
                    .build();
                self.emit(sink, actor, time_us, "self".to_owned(), &Record::BskyProfile(record))?;
                self.counts.bsky_profiles += 1;
            }
        }
        Ok(())
    }
}

/// Every account: artists first (`0..artists`, joining in that order), then listeners.
fn accounts(params: &LoadParams) -> Vec<Account> {
    let rng = &mut stream(params.seed, 0, 0);
    let total = params.artists + params.listeners;
    let mut handles: HashSet<String> = HashSet::with_capacity(total as usize);
    let mut accounts = Vec::with_capacity(total as usize);
    for i in 0..total {
        let artist = i < params.artists;
        let name = if artist { words::artist_name(rng) } else { words::listener_label(rng) };
        let (base, suffix) =
            if artist { (words::slug(&name), ".test") } else { (name.clone(), ".plyr.test") };
        let mut handle = format!("{base}{suffix}");
        let mut n = 2;
        while handles.contains(&handle) {
            handle = format!("{base}{n}{suffix}");
            n += 1;
        }
        handles.insert(handle.clone());
        accounts.push(Account {
            did: plc_did(rng),
            handle,
            name,
            pds: format!("https://pds{}.bench.test", rng.range(1, 8)),
            clock_id: rng.below(1024) as u16,
            artist,
            deactivated: i > 0 && rng.below(10_000) < u64::from(params.deactivated_per_10k),
            first_us: None,
            last_us: i64::MIN,
            tracks: 0,
            albums: 0,
            playlists: 0,
            likes: 0,
            plyr: false,
        });
    }
    accounts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_exact_and_bounded() {
        let cases = [
            (1_000_000, 100_000, 3.0, 1, 1_000),
            (10_000_000, 500_000, 50.0, 0, 5_000),
            (10, 10, 0.0, 1, 1),
            (7, 3, 0.0, 0, 3),
            (0, 4, 1.0, 0, 5),
            (1_000, 3, 0.0, 0, 1_000),
        ];
        for (total, n, offset, min, cap) in cases {
            let parts = allocate(total, n, offset, min, cap).expect("allocates");
            assert_eq!(parts.len(), n);
            assert_eq!(parts.iter().sum::<u64>(), total, "{total} over {n}");
            assert!(parts.iter().all(|p| (min..=cap).contains(p)), "{parts:?}");
            assert!(parts.windows(2).all(|w| w[0] + 1 >= w[1]), "non-increasing (up to rounding)");
        }
        assert!(allocate(11, 10, 0.0, 0, 1).is_err());
        assert!(allocate(5, 10, 0.0, 1, 3).is_err());
    }

    #[test]
    fn distinct_times_keep_parity_and_order() {
        let mut t = vec![5, 3, 3, 3, 10];
        distinct_times(&mut t, 1);
        assert_eq!(t, vec![3, 5, 7, 9, 11]);
        let mut t = vec![4, 4, 1];
        distinct_times(&mut t, 0);
        assert_eq!(t, vec![2, 4, 6]);
    }
}
