//! What artists publish: joining (identity, profiles, a schedule of tracks), tracks and their
//! edits and deletions, and both kinds of profile record.

use jacquard_common::deps::smol_str::SmolStr;

use crate::GenError;
use crate::ids::{blob_cid, hex};
use crate::records::{self, BskyProfile, FeaturedArtist, Profile, Record, Track, nsid};
use crate::sim::{Sim, Task};
use crate::wire::{Event, Operation};
use crate::words;
use crate::world::Status;

/// The largest number of tracks one artist publishes.
const MAX_TRACKS_PER_ARTIST: usize = 64;
/// `audioBlob` `maxSize` in the track lexicon.
const MAX_AUDIO_BYTES: u64 = 104_857_600;

/// File types, their MIME types and bytes per second of audio.
const FORMATS: &[(&str, &str, u64)] = &[
    ("mp3", "audio/mpeg", 40_000),
    ("mp3", "audio/mpeg", 24_000),
    ("m4a", "audio/mp4", 32_000),
    ("wav", "audio/wav", 176_400),
    ("flac", "audio/flac", 110_000),
];

impl Sim {
    /// Artist `artist` joins: its first identity event now, its profiles and its tracks
    /// (a power-law number of them, spread over the rest of the stream) on the agenda.
    pub fn onboard(&mut self, artist: u32) -> Result<Event, GenError> {
        self.world.onboarded = self.world.onboarded.max(artist + 1);
        let event = self.appear(artist);
        self.schedule(1, 3, Task::Profile(artist));
        if self.rng.chance(0.5) {
            self.schedule(1, 6, Task::BskyProfile(artist));
        }
        let quota = 1 + self.quota_law.sample(&mut self.rng, MAX_TRACKS_PER_ARTIST);
        self.schedule(2, 30, Task::Track(artist));
        for _ in 1..quota {
            let due = self.rng.range(self.step + 1, self.total);
            self.schedule_at(due, Task::Track(artist));
        }
        Ok(event)
    }

    /// A track from the agenda: postponed while the artist is deactivated, dropped once it is
    /// deleted.
    pub fn scheduled_track(&mut self, artist: u32) -> Result<Option<Event>, GenError> {
        match self.world.actor(artist).map(|a| a.status) {
            Some(Status::Active) => self.create_track(artist).map(Some),
            Some(Status::Deactivated) => {
                self.schedule(100, 2_000, Task::Track(artist));
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// `artist` publishes a new track.
    pub fn create_track(&mut self, artist: u32) -> Result<Event, GenError> {
        let record = self.track_record(artist)?;
        let rkey = self.new_rkey(artist);
        let event = Event::commit(artist, Operation::Create, rkey.clone(), Record::Track(record.clone()))?;
        self.world.add_track(&mut self.rng, artist, rkey, event.cid().unwrap_or_default(), record)?;
        Ok(event)
    }

    fn track_record(&mut self, artist: u32) -> Result<Track, GenError> {
        let rng = &mut self.rng;
        let (name, album) = match self.world.actor(artist) {
            Some(a) => (a.name.clone(), rng.pick(&a.albums).cloned()),
            None => return Err(GenError::Internal("track for an unknown artist")),
        };
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
        let features = if rng.chance(0.1) { self.features(artist)? } else { Vec::new() };
        let rng = &mut self.rng;
        // Fields in the order the random draws were always made: the stream depends on it.
        Ok(Track {
            title: words::title(rng).into(),
            artist: name.into(),
            audio_url: audio_url.as_deref().map(records::uri).transpose()?,
            file_type: file_type.into(),
            album: album.filter(|_| rng.chance(0.4)).map(Into::into),
            duration: Some(duration as i64),
            features: (!features.is_empty()).then_some(features),
            image_url: records::cover_url(rng)?,
            created_at: self.created_at()?,
            support_gate: self.rng.chance(0.05).then(records::support_gate_any),
            description: self.rng.chance(0.3).then(|| words::description(&mut self.rng).into()),
            labels: self.rng.chance(0.02).then(|| records::self_labels(words::self_label(&mut self.rng))),
            audio_blob: blob,
            extra_data: None,
        })
    }

    /// One or two other joined artists, sometimes with the legacy handle/name snapshot.
    fn features(&mut self, artist: u32) -> Result<Vec<FeaturedArtist>, GenError> {
        let mut features: Vec<FeaturedArtist> = Vec::new();
        for _ in 0..self.rng.range(1, 2) {
            let other = self.rng.below(u64::from(self.world.onboarded)) as u32;
            let Some(actor) = self.world.actor(other) else { continue };
            if other == artist || features.iter().any(|f| f.did.as_str() == actor.did) {
                continue;
            }
            let snapshot = self.rng.chance(0.5).then_some((actor.handle.as_str(), actor.name.as_str()));
            features.push(records::featured_artist(&actor.did, snapshot)?);
        }
        Ok(features)
    }

    /// A metadata edit of a random track: a version suffix on the title, or new liner notes.
    pub fn update_track(&mut self) -> Result<Option<Event>, GenError> {
        let Some(id) = self.pick_any_track() else { return Ok(None) };
        let Some(track) = self.world.tracks.get(id as usize) else { return Ok(None) };
        let (owner, rkey, mut record) = (track.owner, track.rkey.clone(), track.record.clone());
        let title = words::retitle(&mut self.rng, &record.title);
        if title == record.title {
            record.description = Some(words::description(&mut self.rng).into());
        }
        record.title = title.into();
        let event = Event::commit(owner, Operation::Update, rkey, Record::Track(record.clone()))?;
        if let Some(track) = self.world.tracks.get_mut(id as usize) {
            track.subject.cid = records::cid(event.cid().unwrap_or_default());
            track.record = record;
        }
        Ok(Some(event))
    }

    /// Deletes a random track.
    pub fn delete_track(&mut self) -> Option<Event> {
        let id = self.pick_any_track()?;
        self.world.unrank(id);
        let track = self.world.tracks.get_mut(id as usize)?;
        track.live = false;
        Some(Event::delete(track.owner, nsid::TRACK, track.rkey.clone()))
    }

    /// Writes the artist's `fm.plyr.actor.profile`: created the first time, updated after.
    pub fn profile(&mut self, artist: u32) -> Result<Option<Event>, GenError> {
        if !self.world.is_active(artist) {
            return Ok(None);
        }
        let bio = Some(words::bio(&mut self.rng).into());
        let now = self.created_at()?;
        let existing = self.world.actor(artist).and_then(|a| a.profile.clone());
        let (operation, record) = match existing {
            Some(old) => (Operation::Update, Profile { bio, updated_at: Some(now), ..old }),
            None => {
                let avatar = self
                    .rng
                    .chance(0.7)
                    .then(|| format!("https://images.plyr.fm/avatars/{}.jpg", hex(&mut self.rng, 16)));
                let avatar = avatar.as_deref().map(records::uri).transpose()?;
                (
                    Operation::Create,
                    Profile { avatar, bio, created_at: now, updated_at: None, extra_data: None },
                )
            }
        };
        if let Some(actor) = self.world.actors.get_mut(artist as usize) {
            actor.profile = Some(record.clone());
        }
        Event::commit(artist, operation, "self".to_owned(), Record::Profile(record)).map(Some)
    }

    /// A bio edit by a random artist that has a profile.
    pub fn update_profile(&mut self) -> Result<Option<Event>, GenError> {
        let Some(artist) = self.pick_artist() else { return Ok(None) };
        if self.world.actor(artist).is_none_or(|a| a.profile.is_none()) {
            return Ok(None);
        }
        self.profile(artist)
    }

    /// Writes the artist's `app.bsky.actor.profile`, with a JPEG avatar blob.
    pub fn bsky_profile(&mut self, artist: u32) -> Result<Option<Event>, GenError> {
        let Some(name) =
            self.world.actor(artist).filter(|a| a.status == Status::Active).map(|a| a.name.clone())
        else {
            return Ok(None);
        };
        let avatar = records::blob(&blob_cid(&mut self.rng)?, "image/jpeg", self.rng.range(20_000, 900_000));
        let description = self.rng.chance(0.6).then(|| words::bio(&mut self.rng).into());
        let record = BskyProfile::new()
            .display_name(SmolStr::from(name))
            .maybe_description(description)
            .avatar(avatar)
            .created_at(self.created_at()?)
            .build();
        Event::commit(artist, Operation::Create, "self".to_owned(), Record::BskyProfile(record)).map(Some)
    }
}
