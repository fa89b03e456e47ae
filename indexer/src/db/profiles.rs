//! fm.plyr.actor.profile and app.bsky.actor.profile (one per actor, rkey `self`).

use chrono::{DateTime, Utc};

use super::{Meta, Tx};

/// A `plyr_profiles` row.
#[derive(Debug, Clone)]
pub struct PlyrProfileRow {
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A `bsky_profiles` row: the two fields of a Bluesky profile that plyr shows.
#[derive(Debug, Clone)]
pub struct BskyProfileRow {
    pub display_name: Option<String>,
    pub avatar: Option<(String, String)>,
}

pub async fn upsert_plyr(tx: &mut Tx<'_>, m: &Meta, r: &PlyrProfileRow) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO plyr_profiles (did, uri, cid, rev, bio, avatar_url, created_at, updated_at, indexed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (did) DO UPDATE SET
             uri = EXCLUDED.uri, cid = EXCLUDED.cid, rev = EXCLUDED.rev, bio = EXCLUDED.bio,
             avatar_url = EXCLUDED.avatar_url, created_at = EXCLUDED.created_at,
             updated_at = EXCLUDED.updated_at, indexed_at = EXCLUDED.indexed_at"#,
        m.did.as_str(),
        m.uri.as_str(),
        m.cid.as_deref().unwrap_or_default(),
        m.rev,
        r.bio,
        r.avatar_url,
        r.created_at,
        r.updated_at,
        m.indexed_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn upsert_bsky(tx: &mut Tx<'_>, m: &Meta, r: &BskyProfileRow) -> sqlx::Result<()> {
    let (avatar_cid, avatar_mime) = r.avatar.clone().unzip();
    sqlx::query!(
        r#"INSERT INTO bsky_profiles (did, uri, cid, rev, display_name, avatar_cid, avatar_mime, indexed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (did) DO UPDATE SET
             uri = EXCLUDED.uri, cid = EXCLUDED.cid, rev = EXCLUDED.rev, display_name = EXCLUDED.display_name,
             avatar_cid = EXCLUDED.avatar_cid, avatar_mime = EXCLUDED.avatar_mime, indexed_at = EXCLUDED.indexed_at"#,
        m.did.as_str(),
        m.uri.as_str(),
        m.cid.as_deref().unwrap_or_default(),
        m.rev,
        r.display_name,
        avatar_cid,
        avatar_mime,
        m.indexed_at,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Removes a plyr profile.
pub async fn delete_plyr(tx: &mut Tx<'_>, uri: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM plyr_profiles WHERE uri = $1", uri).execute(&mut **tx).await?;
    Ok(())
}

/// Removes a Bluesky profile.
pub async fn delete_bsky(tx: &mut Tx<'_>, uri: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM bsky_profiles WHERE uri = $1", uri).execute(&mut **tx).await?;
    Ok(())
}

/// Removes an account's plyr profile.
pub async fn purge_plyr(tx: &mut Tx<'_>, did: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM plyr_profiles WHERE did = $1", did).execute(&mut **tx).await?;
    Ok(())
}

/// Removes an account's Bluesky profile.
pub async fn purge_bsky(tx: &mut Tx<'_>, did: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM bsky_profiles WHERE did = $1", did).execute(&mut **tx).await?;
    Ok(())
}
