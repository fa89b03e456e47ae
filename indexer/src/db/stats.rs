//! Aggregate counters, changed by deltas in the batch that changed what they count.

use super::Tx;

/// Per-subject deltas, as parallel columns.
#[derive(Debug, Default)]
pub struct SubjectDeltas {
    pub subject: Vec<String>,
    pub likes: Vec<i32>,
    pub comments: Vec<i32>,
    pub plays: Vec<i32>,
}

/// Adds like, comment and play deltas per subject URI.
pub async fn add_subject(tx: &mut Tx<'_>, d: &SubjectDeltas) -> sqlx::Result<()> {
    if d.subject.is_empty() {
        return Ok(());
    }
    // A counter back at zero is the same as no row: keep it that way, so the result does not
    // depend on how events were split into batches. The upsert names the counters it left at
    // zero (rarely any), so only those are deleted.
    let zero = sqlx::query_scalar!(
        r#"WITH up AS (
             INSERT INTO subject_stats (subject_uri, likes, comments, plays)
             SELECT * FROM UNNEST($1::text[], $2::int[], $3::int[], $4::int[])
             ON CONFLICT (subject_uri) DO UPDATE
               SET likes = subject_stats.likes + EXCLUDED.likes,
                   comments = subject_stats.comments + EXCLUDED.comments,
                   plays = subject_stats.plays + EXCLUDED.plays
             RETURNING subject_uri, likes, comments, plays)
           SELECT subject_uri AS "subject_uri!" FROM up WHERE likes = 0 AND comments = 0 AND plays = 0"#,
        &d.subject,
        &d.likes,
        &d.comments,
        &d.plays,
    )
    .fetch_all(&mut **tx)
    .await?;
    if !zero.is_empty() {
        sqlx::query!(
            "DELETE FROM subject_stats WHERE subject_uri = ANY($1) AND likes = 0 AND comments = 0 AND plays = 0",
            &zero
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Per-actor deltas, as parallel columns.
#[derive(Debug, Default)]
pub struct ActorDeltas {
    pub did: Vec<String>,
    pub tracks: Vec<i32>,
    pub albums: Vec<i32>,
    pub playlists: Vec<i32>,
    pub likes: Vec<i32>,
}

pub async fn add_actor(tx: &mut Tx<'_>, d: &ActorDeltas) -> sqlx::Result<()> {
    if d.did.is_empty() {
        return Ok(());
    }
    let zero = sqlx::query_scalar!(
        r#"WITH up AS (
             INSERT INTO actor_stats (did, tracks, albums, playlists, likes)
             SELECT * FROM UNNEST($1::text[], $2::int[], $3::int[], $4::int[], $5::int[])
             ON CONFLICT (did) DO UPDATE
               SET tracks = actor_stats.tracks + EXCLUDED.tracks,
                   albums = actor_stats.albums + EXCLUDED.albums,
                   playlists = actor_stats.playlists + EXCLUDED.playlists,
                   likes = actor_stats.likes + EXCLUDED.likes
             RETURNING did, tracks, albums, playlists, likes)
           SELECT did AS "did!" FROM up WHERE tracks = 0 AND albums = 0 AND playlists = 0 AND likes = 0"#,
        &d.did,
        &d.tracks,
        &d.albums,
        &d.playlists,
        &d.likes,
    )
    .fetch_all(&mut **tx)
    .await?;
    if !zero.is_empty() {
        sqlx::query!(
            "DELETE FROM actor_stats WHERE did = ANY($1) AND tracks = 0 AND albums = 0 AND playlists = 0 AND likes = 0",
            &zero
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
