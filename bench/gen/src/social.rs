//! What fans do with tracks: likes (Zipf over tracks, power law over likers), unlikes, and
//! timed comments with their edits and deletions.

use crate::GenError;
use crate::records::{Comment, Like, Record, nsid};
use crate::sim::{Fan, Sim, Task};
use crate::wire::{Event, Operation};
use crate::words;
use crate::world::{CommentState, LikeState};

/// Share of comments edited later.
const EDITED_COMMENTS: f64 = 0.08;
/// Tries to find a track the fan has not liked yet.
const LIKE_TRIES: usize = 6;

impl Sim {
    /// A fan likes a popular track it has not liked yet.
    pub fn like(&mut self) -> Result<Option<Event>, GenError> {
        let fan = match self.ready_fan() {
            None => return Ok(None),
            Some(Fan::FirstSeen(identity)) => return Ok(Some(identity)),
            Some(Fan::Ready(fan)) => fan,
        };
        for _ in 0..LIKE_TRIES {
            let Some(track) = self.pick_popular_track() else { return Ok(None) };
            let own = self.world.tracks.get(track as usize).is_some_and(|t| t.owner == fan);
            if own || self.world.liked.contains(&(fan, track)) {
                continue;
            }
            let Some(subject) = self.world.track_ref(track) else { return Ok(None) };
            let record = Like { subject, created_at: self.created_at()?, extra_data: None };
            let rkey = self.new_rkey(fan);
            let event = Event::commit(fan, Operation::Create, rkey.clone(), Record::Like(record))?;
            let id = self.world.likes.len() as u32;
            self.world.likes.push(LikeState { owner: fan, rkey, track, live: true });
            self.world.live_likes.push(id);
            self.world.liked.insert((fan, track));
            if let Some(actor) = self.world.actors.get_mut(fan as usize) {
                actor.likes.push(id);
            }
            return Ok(Some(event));
        }
        Ok(None)
    }

    /// A random live like is taken back.
    pub fn unlike(&mut self) -> Option<Event> {
        let slot = self.rng.index(self.world.live_likes.len());
        let id = *self.world.live_likes.get(slot)?;
        let like = self.world.likes.get(id as usize)?;
        if !self.world.is_active(like.owner) {
            return None;
        }
        let (owner, track) = (like.owner, like.track);
        self.world.live_likes.swap_remove(slot);
        self.world.liked.remove(&(owner, track));
        let like = self.world.likes.get_mut(id as usize)?;
        like.live = false;
        Some(Event::delete(owner, nsid::LIKE, like.rkey.clone()))
    }

    /// A fan comments on a popular track, at a position within its duration.
    pub fn comment(&mut self) -> Result<Option<Event>, GenError> {
        let fan = match self.ready_fan() {
            None => return Ok(None),
            Some(Fan::FirstSeen(identity)) => return Ok(Some(identity)),
            Some(Fan::Ready(fan)) => fan,
        };
        let Some(track) = self.pick_popular_track() else { return Ok(None) };
        let (Some(subject), Some(state)) =
            (self.world.track_ref(track), self.world.tracks.get(track as usize))
        else {
            return Ok(None);
        };
        let duration_ms = state.record.duration.unwrap_or(0).max(0) as u64 * 1_000;
        let record = Comment {
            subject,
            text: words::comment(&mut self.rng).into(),
            timestamp_ms: self.rng.below(duration_ms) as i64,
            created_at: self.created_at()?,
            updated_at: None,
            extra_data: None,
        };
        let rkey = self.new_rkey(fan);
        let event = Event::commit(fan, Operation::Create, rkey.clone(), Record::Comment(record.clone()))?;
        let id = self.world.comments.len() as u32;
        self.world.comments.push(CommentState { owner: fan, rkey, record, live: true });
        self.world.live_comments.push(id);
        if self.rng.chance(EDITED_COMMENTS) {
            self.schedule(1, 3_000, Task::EditComment(id));
        }
        Ok(Some(event))
    }

    /// Edits comment `id` (if it still exists and its author can write).
    pub fn edit_comment(&mut self, id: u32) -> Result<Option<Event>, GenError> {
        let Some(comment) = self.world.comments.get(id as usize) else { return Ok(None) };
        if !comment.live || !self.world.is_active(comment.owner) {
            return Ok(None);
        }
        let (owner, rkey, mut record) = (comment.owner, comment.rkey.clone(), comment.record.clone());
        record.text = words::edited_comment(&mut self.rng, &record.text).into();
        record.updated_at = Some(self.created_at()?);
        let event = Event::commit(owner, Operation::Update, rkey, Record::Comment(record.clone()))?;
        if let Some(comment) = self.world.comments.get_mut(id as usize) {
            comment.record = record;
        }
        Ok(Some(event))
    }

    /// A random live comment is deleted by its author.
    pub fn delete_comment(&mut self) -> Option<Event> {
        let slot = self.rng.index(self.world.live_comments.len());
        let id = *self.world.live_comments.get(slot)?;
        let owner = self.world.comments.get(id as usize)?.owner;
        if !self.world.is_active(owner) {
            return None;
        }
        self.world.live_comments.swap_remove(slot);
        let comment = self.world.comments.get_mut(id as usize)?;
        comment.live = false;
        Some(Event::delete(owner, nsid::COMMENT, comment.rkey.clone()))
    }
}
