//! Tracks: bulk upsert by URI, delete by URI.

use chrono::{DateTime, Utc};

use super::{Meta, Tx};

/// A `tracks` row.
#[derive(Debug, Clone)]
pub struct TrackRow {
    pub id: i64,
    pub title: String,
    pub artist: String,
    pub album: Option<String>,
    pub duration: Option<i32>,
    pub description: Option<String>,
    pub file_type: String,
    pub file_id: String,
    pub image_url: Option<String>,
    pub audio_url: Option<String>,
    pub audio_blob: Option<(String, String, i64)>,
    pub features: Vec<String>,
    pub support_gate: Option<String>,
    pub self_labels: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub sort_at: DateTime<Utc>,
}

pub async fn upsert(tx: &mut Tx<'_>, rows: &[(&Meta, &TrackRow)]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&Meta, &TrackRow) -> String| rows.iter().map(|(m, r)| f(m, r)).collect::<Vec<_>>();
    let opt = |f: fn(&TrackRow) -> Option<String>| rows.iter().map(|(_, r)| f(r)).collect::<Vec<_>>();
    let uri = col(|m, _| m.uri.to_string());
    let cid = col(|m, _| m.cid.as_deref().unwrap_or_default().to_owned());
    let rev = col(|m, _| m.rev.clone());
    let did = col(|m, _| m.did.to_string());
    let rkey = col(|m, _| m.rkey.clone());
    let title = col(|_, r| r.title.clone());
    let artist = col(|_, r| r.artist.clone());
    let file_type = col(|_, r| r.file_type.clone());
    let file_id = col(|_, r| r.file_id.clone());
    let album = opt(|r| r.album.clone());
    let description = opt(|r| r.description.clone());
    let image_url = opt(|r| r.image_url.clone());
    let audio_url = opt(|r| r.audio_url.clone());
    let blob_cid = opt(|r| r.audio_blob.as_ref().map(|b| b.0.clone()));
    let blob_mime = opt(|r| r.audio_blob.as_ref().map(|b| b.1.clone()));
    let support_gate = opt(|r| r.support_gate.clone());
    let blob_size: Vec<Option<i64>> = rows.iter().map(|(_, r)| r.audio_blob.as_ref().map(|b| b.2)).collect();
    let id: Vec<i64> = rows.iter().map(|(_, r)| r.id).collect();
    let duration: Vec<Option<i32>> = rows.iter().map(|(_, r)| r.duration).collect();
    // Arrays of arrays cannot go through UNNEST with ragged lengths: pass each as a JSON array.
    let features: Vec<String> = rows.iter().map(|(_, r)| json_array(&r.features)).collect();
    let labels: Vec<String> = rows.iter().map(|(_, r)| json_array(&r.self_labels)).collect();
    let created: Vec<DateTime<Utc>> = rows.iter().map(|(_, r)| r.created_at).collect();
    let indexed: Vec<DateTime<Utc>> = rows.iter().map(|(m, _)| m.indexed_at).collect();
    let sort: Vec<DateTime<Utc>> = rows.iter().map(|(_, r)| r.sort_at).collect();
    sqlx::query!(
        r#"INSERT INTO tracks (uri, id, cid, rev, did, rkey, title, artist, album, duration, description,
                               file_type, file_id, image_url, audio_url, audio_blob_cid, audio_blob_mime,
                               audio_blob_size, features, support_gate, self_labels, created_at, indexed_at, sort_at)
           SELECT uri, id, cid, rev, did, rkey, title, artist, album, duration, description, file_type, file_id,
                  image_url, audio_url, blob_cid, blob_mime, blob_size,
                  ARRAY(SELECT jsonb_array_elements_text(features::jsonb)), support_gate,
                  ARRAY(SELECT jsonb_array_elements_text(labels::jsonb)), created_at, indexed_at, sort_at
           FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::int[], $11::text[], $12::text[], $13::text[], $14::text[],
                       $15::text[], $16::text[], $17::text[], $18::bigint[], $19::text[], $20::text[],
                       $21::text[], $22::timestamptz[], $23::timestamptz[], $24::timestamptz[])
             AS u(uri, id, cid, rev, did, rkey, title, artist, album, duration, description, file_type, file_id,
                  image_url, audio_url, blob_cid, blob_mime, blob_size, features, support_gate, labels,
                  created_at, indexed_at, sort_at)
           ON CONFLICT (uri) DO UPDATE SET
             cid = EXCLUDED.cid, rev = EXCLUDED.rev, title = EXCLUDED.title, artist = EXCLUDED.artist,
             album = EXCLUDED.album, duration = EXCLUDED.duration, description = EXCLUDED.description,
             file_type = EXCLUDED.file_type, file_id = EXCLUDED.file_id, image_url = EXCLUDED.image_url,
             audio_url = EXCLUDED.audio_url, audio_blob_cid = EXCLUDED.audio_blob_cid,
             audio_blob_mime = EXCLUDED.audio_blob_mime, audio_blob_size = EXCLUDED.audio_blob_size,
             features = EXCLUDED.features, support_gate = EXCLUDED.support_gate,
             self_labels = EXCLUDED.self_labels, created_at = EXCLUDED.created_at,
             indexed_at = EXCLUDED.indexed_at, sort_at = EXCLUDED.sort_at"#,
        &uri,
        &id,
        &cid,
        &rev,
        &did,
        &rkey,
        &title,
        &artist,
        &album as &[Option<String>],
        &duration as &[Option<i32>],
        &description as &[Option<String>],
        &file_type,
        &file_id,
        &image_url as &[Option<String>],
        &audio_url as &[Option<String>],
        &blob_cid as &[Option<String>],
        &blob_mime as &[Option<String>],
        &blob_size as &[Option<i64>],
        &features,
        &support_gate as &[Option<String>],
        &labels,
        &created,
        &indexed,
        &sort,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<()> {
    if !uris.is_empty() {
        sqlx::query!("DELETE FROM tracks WHERE uri = ANY($1)", uris).execute(&mut **tx).await?;
    }
    Ok(())
}

fn json_array(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

/// Removes every track of an account.
/// The play-matching keys (`tracks.play_key`) of the live tracks among `uris`.
pub async fn play_keys(tx: &mut Tx<'_>, uris: &[String]) -> sqlx::Result<Vec<String>> {
    if uris.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar!(r#"SELECT DISTINCT play_key AS "k!" FROM tracks WHERE uri = ANY($1)"#, uris)
        .fetch_all(&mut **tx)
        .await
}

/// The play-matching keys of an account's tracks.
pub async fn account_play_keys(tx: &mut Tx<'_>, did: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(r#"SELECT DISTINCT play_key AS "k!" FROM tracks WHERE did = $1"#, did)
        .fetch_all(&mut **tx)
        .await
}

pub async fn purge(tx: &mut Tx<'_>, did: &str) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM tracks WHERE did = $1", did).execute(&mut **tx).await?;
    Ok(())
}
