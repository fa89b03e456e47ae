//! The other apps' records that make up most of a real repo and most of the firehose: Bluesky
//! posts, likes, reposts, follows, lists and threadgates, as DAG-CBOR, plus the weights of the
//! operations accounts perform on them. None of them is indexed; they are what the firehose
//! consumer decodes and skips and the backfill walks past.

use ipld_core::ipld::Ipld;

use crate::GenError;
use crate::frames::cbor;
use crate::frames::ipld_map;
use crate::rng::Rng;
use crate::signing::cid_of;
use crate::words;

/// Collection NSIDs.
pub mod nsid {
    pub const POST: &str = "app.bsky.feed.post";
    pub const LIKE: &str = "app.bsky.feed.like";
    pub const REPOST: &str = "app.bsky.feed.repost";
    pub const FOLLOW: &str = "app.bsky.graph.follow";
    pub const LIST: &str = "app.bsky.graph.list";
    pub const THREADGATE: &str = "app.bsky.feed.threadgate";
}

/// One thing an account does in another app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OtherOp {
    Like,
    Post,
    Follow,
    Repost,
    CreateList,
    UpdateList,
    Delete,
}

/// Relative weights of [`OtherOp`]s (per 100): likes, posts and follows dominate, as on the
/// network; a few percent are deletes (unlike, unfollow, deleted post) and list renames.
const MIX: &[(OtherOp, u64)] = &[
    (OtherOp::Like, 44),
    (OtherOp::Post, 25),
    (OtherOp::Follow, 14),
    (OtherOp::Repost, 8),
    (OtherOp::CreateList, 1),
    (OtherOp::UpdateList, 2),
    (OtherOp::Delete, 6),
];

/// Share of posts committed together with a threadgate (a two-op commit).
pub(crate) const THREADGATED: f64 = 0.03;

/// Draws the next operation.
pub(crate) fn draw(rng: &mut Rng) -> OtherOp {
    let total: u64 = MIX.iter().map(|(_, w)| w).sum();
    let mut roll = rng.below(total);
    for (op, weight) in MIX {
        if roll < *weight {
            return *op;
        }
        roll -= weight;
    }
    OtherOp::Post
}

/// A record for preloading a repo: one of the common collections, as `(collection, bytes)`.
pub(crate) fn any_record(
    rng: &mut Rng,
    created_at: &str,
    subject: &Subject,
) -> Result<(&'static str, Vec<u8>), GenError> {
    Ok(match rng.below(10) {
        0..=3 => (nsid::LIKE, subject_record(nsid::LIKE, subject, created_at)?),
        4..=6 => (nsid::POST, post(rng, created_at)?),
        7 | 8 => (nsid::FOLLOW, follow(&subject.did, created_at)?),
        _ => (nsid::REPOST, subject_record(nsid::REPOST, subject, created_at)?),
    })
}

/// A post: a line or two of text, sometimes with a language tag.
pub(crate) fn post(rng: &mut Rng, created_at: &str) -> Result<Vec<u8>, GenError> {
    let text = match rng.below(4) {
        0 => words::title(rng),
        1 => words::description(rng),
        2 => format!("{} {}", words::comment(rng), words::bio(rng)),
        _ => words::bio(rng),
    };
    let mut fields = vec![
        ("$type".to_owned(), Ipld::String(nsid::POST.to_owned())),
        ("text".to_owned(), Ipld::String(text)),
        ("createdAt".to_owned(), Ipld::String(created_at.to_owned())),
    ];
    if rng.chance(0.7) {
        fields.push(("langs".to_owned(), Ipld::List(vec![Ipld::String("en".to_owned())])));
    }
    cbor(&Ipld::Map(fields.into_iter().collect()))
}

/// A post's threadgate (same rkey as the post).
pub(crate) fn threadgate(post_uri: &str, created_at: &str) -> Result<Vec<u8>, GenError> {
    cbor(&ipld_map([
        ("$type", Ipld::String(nsid::THREADGATE.to_owned())),
        ("post", Ipld::String(post_uri.to_owned())),
        ("allow", Ipld::List(vec![])),
        ("createdAt", Ipld::String(created_at.to_owned())),
    ]))
}

/// What a like or repost points at.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    pub did: String,
    pub uri: String,
    pub cid: String,
}

impl Subject {
    /// A post of `did` with rkey `rkey` whose bytes were `record`.
    pub fn post(did: &str, rkey: &str, record: &[u8]) -> Self {
        Self {
            did: did.to_owned(),
            uri: format!("at://{did}/{}/{rkey}", nsid::POST),
            cid: cid_of(record).to_string(),
        }
    }
}

/// A like or repost of `subject` (`collection` is [`nsid::LIKE`] or [`nsid::REPOST`]).
pub(crate) fn subject_record(
    collection: &str,
    subject: &Subject,
    created_at: &str,
) -> Result<Vec<u8>, GenError> {
    cbor(&ipld_map([
        ("$type", Ipld::String(collection.to_owned())),
        (
            "subject",
            ipld_map([
                ("uri", Ipld::String(subject.uri.clone())),
                ("cid", Ipld::String(subject.cid.clone())),
            ]),
        ),
        ("createdAt", Ipld::String(created_at.to_owned())),
    ]))
}

/// A follow of `did`.
pub(crate) fn follow(did: &str, created_at: &str) -> Result<Vec<u8>, GenError> {
    cbor(&ipld_map([
        ("$type", Ipld::String(nsid::FOLLOW.to_owned())),
        ("subject", Ipld::String(did.to_owned())),
        ("createdAt", Ipld::String(created_at.to_owned())),
    ]))
}

/// A curation list.
pub(crate) fn list(rng: &mut Rng, created_at: &str) -> Result<Vec<u8>, GenError> {
    cbor(&ipld_map([
        ("$type", Ipld::String(nsid::LIST.to_owned())),
        ("name", Ipld::String(words::playlist(rng))),
        ("purpose", Ipld::String("app.bsky.graph.defs#curatelist".to_owned())),
        ("description", Ipld::String(words::description(rng))),
        ("createdAt", Ipld::String(created_at.to_owned())),
    ]))
}
