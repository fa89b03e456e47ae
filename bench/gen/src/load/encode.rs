//! The rows of a generated dataset in PostgreSQL's COPY text format, table by table.
//!
//! Record rows are what the indexer's own write path derives: each record is checked against
//! its lexicon and turned into its typed row by `plyr_indexer::write` (`validate`, `Plugin::extract`,
//! with the indexer's default trusted audio origin), so ids, `file_id`, `sort_at` and the audio
//! fields follow the indexer's rules by construction. Accounts and counters come from the model
//! as the indexer would have left them after the Jetstream rendering of the same dataset
//! ([`super::stream`]) and a successful identity resolution.

use chrono::{DateTime, Utc};
use plyr_atproto::{AtUri, Did};
use plyr_indexer::db::Meta;
use plyr_indexer::write::collections::{self, Origin, Row};
use plyr_indexer::write::rules::TrustedOrigins;
use plyr_indexer::write::validate::RecordCheck;

use super::model::{Model, Rec};
use super::{LoadError, LoadParams};

/// The audio origin `indexer` trusts by default (`--trusted-audio-origin`).
pub const TRUSTED_AUDIO_ORIGIN: &str = "https://audio.plyr.fm";

/// A table the loader fills, with the columns it writes (the rest keep their defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Tracks,
    Likes,
    Comments,
    Lists,
    ListItems,
    PlyrProfiles,
    BskyProfiles,
    Actors,
    SubjectStats,
    ActorStats,
}

impl Table {
    pub const ALL: [Table; 10] = [
        Table::Tracks,
        Table::Likes,
        Table::Comments,
        Table::Lists,
        Table::ListItems,
        Table::PlyrProfiles,
        Table::BskyProfiles,
        Table::Actors,
        Table::SubjectStats,
        Table::ActorStats,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Tracks => "tracks",
            Table::Likes => "likes",
            Table::Comments => "comments",
            Table::Lists => "lists",
            Table::ListItems => "list_items",
            Table::PlyrProfiles => "plyr_profiles",
            Table::BskyProfiles => "bsky_profiles",
            Table::Actors => "actors",
            Table::SubjectStats => "subject_stats",
            Table::ActorStats => "actor_stats",
        }
    }

    pub fn columns(self) -> &'static str {
        match self {
            Table::Tracks => {
                "uri, id, cid, rev, did, rkey, title, artist, album, duration, description, file_type, \
                 file_id, image_url, audio_url, audio_blob_cid, audio_blob_mime, audio_blob_size, features, \
                 support_gate, self_labels, created_at, indexed_at, sort_at"
            }
            Table::Likes => {
                "uri, cid, rev, did, rkey, subject_uri, subject_cid, created_at, indexed_at, sort_at"
            }
            Table::Comments => {
                "uri, cid, rev, did, rkey, subject_uri, subject_cid, text, timestamp_ms, created_at, \
                 updated_at, indexed_at, sort_at"
            }
            Table::Lists => {
                "uri, id, cid, rev, did, rkey, name, list_type, item_count, created_at, updated_at, \
                 indexed_at, sort_at"
            }
            Table::ListItems => "list_uri, position, subject_uri, subject_cid, added_at",
            Table::PlyrProfiles => "did, uri, cid, rev, bio, avatar_url, created_at, updated_at, indexed_at",
            Table::BskyProfiles => "did, uri, cid, rev, display_name, avatar_cid, avatar_mime, indexed_at",
            Table::Actors => {
                "did, handle, handle_verified, pds_endpoint, status, repo_rev, status_event_us, \
                 identity_event_us, identity_at, indexed_at, updated_at"
            }
            Table::SubjectStats => "subject_uri, likes, comments",
            Table::ActorStats => "did, tracks, albums, playlists, likes",
        }
    }

    /// `COPY <table> (<columns>) FROM STDIN` in text format.
    pub fn copy_statement(self) -> String {
        format!("COPY {} ({}) FROM STDIN", self.name(), self.columns())
    }

    fn index(self) -> usize {
        Table::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// One row being written: columns are tab-separated, the row ends with a newline.
struct Line<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Line<'a> {
    fn new(buf: &'a mut Vec<u8>) -> Self {
        Line { buf, first: true }
    }

    fn sep(&mut self) {
        if !self.first {
            self.buf.push(b'\t');
        }
        self.first = false;
    }

    fn text(&mut self, s: &str) -> &mut Self {
        self.sep();
        escape_into(self.buf, s);
        self
    }

    fn opt(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    fn null(&mut self) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(b"\\N");
        self
    }

    fn int(&mut self, n: i64) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(n.to_string().as_bytes());
        self
    }

    fn opt_int(&mut self, n: Option<i64>) -> &mut Self {
        match n {
            Some(n) => self.int(n),
            None => self.null(),
        }
    }

    fn bool(&mut self, b: bool) -> &mut Self {
        self.sep();
        self.buf.push(if b { b't' } else { b'f' });
        self
    }

    fn time(&mut self, t: DateTime<Utc>) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string().as_bytes());
        self
    }

    fn opt_time(&mut self, t: Option<DateTime<Utc>>) -> &mut Self {
        match t {
            Some(t) => self.time(t),
            None => self.null(),
        }
    }

    /// A `text[]` literal: `{"a","b"}`, elements quoted with `"` and `\` escaped.
    fn array(&mut self, items: &[String]) -> &mut Self {
        let mut literal = String::from("{");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                literal.push(',');
            }
            literal.push('"');
            for c in item.chars() {
                if c == '"' || c == '\\' {
                    literal.push('\\');
                }
                literal.push(c);
            }
            literal.push('"');
        }
        literal.push('}');
        self.text(&literal)
    }

    fn end(&mut self) {
        self.buf.push(b'\n');
    }
}

/// COPY text escaping: backslash, tab, newline and carriage return.
fn escape_into(buf: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

fn time_of(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::UNIX_EPOCH)
}

/// Turns records into rows, buffering each table's text and handing out full chunks.
#[derive(Debug)]
pub struct Encoder {
    check: RecordCheck,
    trusted: TrustedOrigins,
    buffers: Vec<Vec<u8>>,
    chunk: usize,
}

impl Encoder {
    /// Buffers up to `chunk` bytes per table before [`Encoder::full`] hands them out.
    pub fn new(chunk: usize) -> Result<Self, LoadError> {
        Ok(Self {
            check: RecordCheck::embedded().map_err(|e| LoadError::Indexer(e.to_string()))?,
            trusted: TrustedOrigins::new([TRUSTED_AUDIO_ORIGIN]),
            buffers: vec![Vec::new(); Table::ALL.len()],
            chunk,
        })
    }

    fn buf(&mut self, table: Table) -> &mut Vec<u8> {
        &mut self.buffers[table.index()]
    }

    /// The tables whose buffer reached the chunk size, with their text (taken out).
    pub fn full(&mut self) -> Vec<(Table, Vec<u8>)> {
        let chunk = self.chunk;
        Table::ALL
            .iter()
            .zip(self.buffers.iter_mut())
            .filter(|(_, b)| b.len() >= chunk)
            .map(|(t, b)| (*t, std::mem::take(b)))
            .collect()
    }

    /// Everything still buffered.
    pub fn rest(&mut self) -> Vec<(Table, Vec<u8>)> {
        Table::ALL
            .iter()
            .zip(self.buffers.iter_mut())
            .filter(|(_, b)| !b.is_empty())
            .map(|(t, b)| (*t, std::mem::take(b)))
            .collect()
    }

    /// The typed row(s) of one record, exactly as the indexer derives them (a live record has no
    /// guard row: its rev is on its own row).
    pub fn record(&mut self, rec: &Rec<'_>) -> Result<(), LoadError> {
        let uri = format!("at://{}/{}/{}", rec.did, rec.collection, rec.rkey);
        if let Err(invalid) = self.check.check(rec.collection, &rec.record) {
            return Err(LoadError::Rejected { uri, reason: invalid.to_string() });
        }
        let rejected =
            |e: plyr_atproto::SyntaxError| LoadError::Rejected { uri: uri.clone(), reason: e.to_string() };
        let meta = Meta {
            uri: AtUri::new(&uri).map_err(rejected)?,
            did: Did::new(rec.did).map_err(rejected)?,
            rkey: rec.rkey.clone(),
            cid: Some(plyr_atproto::Cid::from_trusted(rec.cid.as_str())),
            rev: rec.rev.clone(),
            indexed_at: time_of(rec.time_us),
        };
        let collection = collections::get(rec.collection).ok_or_else(|| LoadError::Rejected {
            uri: meta.uri.to_string(),
            reason: "not an indexed collection".into(),
        })?;
        let row = collection
            .extract(Origin::of(&meta), &rec.record, &self.trusted)
            .map_err(|r| LoadError::Rejected { uri: meta.uri.to_string(), reason: r.reason().to_owned() })?;
        if matches!(row, Row::Play(_) | Row::Status(_)) {
            // Plays are matched to tracks and counted by the write path, which COPY bypasses.
            return Err(LoadError::Rejected {
                uri: meta.uri.to_string(),
                reason: "teal.fm records go through the write path, not the bulk loader".into(),
            });
        }
        self.row(&meta, &row);
        Ok(())
    }

    fn row(&mut self, m: &Meta, row: &Row) {
        match row {
            Row::Play(_) | Row::Status(_) => {}
            Row::Track(r) => {
                let blob = r.audio_blob.as_ref();
                Line::new(self.buf(Table::Tracks))
                    .text(&m.uri)
                    .int(r.id)
                    .text(m.cid.as_deref().unwrap_or_default())
                    .text(&m.rev)
                    .text(&m.did)
                    .text(&m.rkey)
                    .text(&r.title)
                    .text(&r.artist)
                    .opt(r.album.as_deref())
                    .opt_int(r.duration.map(i64::from))
                    .opt(r.description.as_deref())
                    .text(&r.file_type)
                    .text(&r.file_id)
                    .opt(r.image_url.as_deref())
                    .opt(r.audio_url.as_deref())
                    .opt(blob.map(|b| b.0.as_str()))
                    .opt(blob.map(|b| b.1.as_str()))
                    .opt_int(blob.map(|b| b.2))
                    .array(&r.features)
                    .opt(r.support_gate.as_deref())
                    .array(&r.self_labels)
                    .time(r.created_at)
                    .time(m.indexed_at)
                    .time(r.sort_at)
                    .end();
            }
            Row::Like(r) => Line::new(self.buf(Table::Likes))
                .text(&m.uri)
                .text(m.cid.as_deref().unwrap_or_default())
                .text(&m.rev)
                .text(&m.did)
                .text(&m.rkey)
                .text(&r.subject_uri)
                .text(&r.subject_cid)
                .time(r.created_at)
                .time(m.indexed_at)
                .time(r.sort_at)
                .end(),
            Row::Comment(r) => Line::new(self.buf(Table::Comments))
                .text(&m.uri)
                .text(m.cid.as_deref().unwrap_or_default())
                .text(&m.rev)
                .text(&m.did)
                .text(&m.rkey)
                .text(&r.subject_uri)
                .text(&r.subject_cid)
                .text(&r.text)
                .int(r.timestamp_ms)
                .time(r.created_at)
                .opt_time(r.updated_at)
                .time(m.indexed_at)
                .time(r.sort_at)
                .end(),
            Row::List(r) => {
                Line::new(self.buf(Table::Lists))
                    .text(&m.uri)
                    .text(&r.id)
                    .text(m.cid.as_deref().unwrap_or_default())
                    .text(&m.rev)
                    .text(&m.did)
                    .text(&m.rkey)
                    .opt(r.name.as_deref())
                    .opt(r.list_type.as_deref())
                    .int(r.items.len() as i64)
                    .time(r.created_at)
                    .opt_time(r.updated_at)
                    .time(m.indexed_at)
                    .time(r.sort_at)
                    .end();
                let items = self.buf(Table::ListItems);
                for (position, ((subject_uri, subject_cid), added_at)) in
                    r.items.iter().zip(&r.added_at).enumerate()
                {
                    Line::new(items)
                        .text(&m.uri)
                        .int(position as i64)
                        .text(subject_uri)
                        .text(subject_cid)
                        .time(*added_at)
                        .end();
                }
            }
            Row::PlyrProfile(r) => Line::new(self.buf(Table::PlyrProfiles))
                .text(&m.did)
                .text(&m.uri)
                .text(m.cid.as_deref().unwrap_or_default())
                .text(&m.rev)
                .opt(r.bio.as_deref())
                .opt(r.avatar_url.as_deref())
                .time(r.created_at)
                .opt_time(r.updated_at)
                .time(m.indexed_at)
                .end(),
            Row::BskyProfile(r) => {
                let avatar = r.avatar.as_ref();
                Line::new(self.buf(Table::BskyProfiles))
                    .text(&m.did)
                    .text(&m.uri)
                    .text(m.cid.as_deref().unwrap_or_default())
                    .text(&m.rev)
                    .opt(r.display_name.as_deref())
                    .opt(avatar.map(|a| a.0.as_str()))
                    .opt(avatar.map(|a| a.1.as_str()))
                    .time(m.indexed_at)
                    .end();
            }
        }
    }

    /// The `actors`, `subject_stats` and `actor_stats` rows: what the write path leaves after
    /// indexing every record, then the identity and account events [`super::stream`] ends with,
    /// and a successful identity resolution (verified handle, PDS endpoint).
    pub fn accounts(&mut self, model: &Model) {
        let params: &LoadParams = &model.params;
        let identity_us = params.identity_us();
        let status_us = params.status_us();
        for a in model.accounts.iter().filter(|a| a.plyr) {
            let Some(first_us) = a.first_us else { continue };
            let (status, status_event_us, updated_us) = if a.deactivated {
                ("deactivated", status_us, status_us)
            } else {
                ("active", 0, identity_us)
            };
            Line::new(self.buf(Table::Actors))
                .text(&a.did)
                .text(&a.handle.to_lowercase())
                .bool(true)
                .text(&a.pds)
                .text(status)
                .text(&a.repo_rev())
                .int(status_event_us)
                .int(identity_us)
                .time(time_of(identity_us))
                .time(time_of(first_us))
                .time(time_of(updated_us))
                .end();
            if a.tracks > 0 || a.albums > 0 || a.playlists > 0 || a.likes > 0 {
                Line::new(self.buf(Table::ActorStats))
                    .text(&a.did)
                    .int(i64::from(a.tracks))
                    .int(i64::from(a.albums))
                    .int(i64::from(a.playlists))
                    .int(i64::from(a.likes))
                    .end();
            }
        }
        for t in model.tracks.iter().filter(|t| t.likes > 0 || t.comments > 0) {
            Line::new(self.buf(Table::SubjectStats))
                .text(t.subject.uri.as_str())
                .int(i64::from(t.likes))
                .int(i64::from(t.comments))
                .end();
        }
    }
}

/// A short description of a row count, for reports: `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_arrays_are_escaped() {
        let mut buf = Vec::new();
        Line::new(&mut buf)
            .text("a\tb\\c\nd")
            .null()
            .array(&["x\"y".to_owned(), "z\\".to_owned()])
            .array(&[])
            .bool(true)
            .time(time_of(1_767_225_600_123_456))
            .end();
        let line = String::from_utf8(buf).expect("utf-8");
        assert_eq!(
            line,
            "a\\tb\\\\c\\nd\t\\N\t{\"x\\\\\"y\",\"z\\\\\\\\\"}\t{}\tt\t2026-01-01 00:00:00.123456+00\n"
        );
    }

    #[test]
    fn thousands_separators() {
        for (n, s) in [(0, "0"), (999, "999"), (1_000, "1,000"), (10_000_000, "10,000,000")] {
            assert_eq!(thousands(n), s);
        }
    }
}
