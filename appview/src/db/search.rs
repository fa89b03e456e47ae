//! Trigram search over track titles and artists, actors (handle and display name), and list
//! names.
//!
//! Every kind takes its candidates from nearest-neighbour GiST scans (the [`CANDIDATES`] values
//! of each searched column nearest to the query by word similarity: track titles and artists,
//! migration 0003; handles, display names and list names, migration 0004) and ranks only those,
//! so a query for a common word costs the same as a rare one; results past that many per column
//! are not reached.
//!
//! Candidates match by trigram similarity (`%`, pg_trgm's default threshold, so the GIN
//! indexes apply) or by substring (`LIKE`, also served by the trigram indexes for queries of
//! three characters or more). Ranking, per column, is plyr.fm's: exact match 5, prefix
//! 3 + word similarity, substring 1.5 + word similarity, else word similarity; a row's relevance
//! is its best column. Ties are broken by key so pages are stable.

use sqlx::PgPool;

use super::Hit;

/// A normalized query: lower-case, curly quotes made straight, trimmed, with its LIKE patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub text: String,
    pub prefix: String,
    pub substring: String,
}

impl Query {
    pub fn new(raw: &str) -> Self {
        let text = crate::search::corpus::normalize(raw.trim());
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        Query { prefix: format!("{escaped}%"), substring: format!("%{escaped}%"), text }
    }
}

/// Candidates taken per searched column.
pub const CANDIDATES: i64 = 300;

pub async fn tracks(db: &PgPool, q: &Query, limit: i64, offset: i64) -> sqlx::Result<Vec<Hit>> {
    sqlx::query_as!(
        Hit,
        r#"SELECT key AS "key!", relevance AS "relevance!" FROM (
             SELECT t.uri AS key, GREATEST(
                 CASE WHEN n.title = $1 THEN 5.0 WHEN n.title LIKE $2 THEN 3.0 + word_similarity($1, n.title)
                      WHEN n.title LIKE $3 THEN 1.5 + word_similarity($1, n.title)
                      ELSE word_similarity($1, n.title) END,
                 CASE WHEN n.artist = $1 THEN 5.0 WHEN n.artist LIKE $2 THEN 3.0 + word_similarity($1, n.artist)
                      WHEN n.artist LIKE $3 THEN 1.5 + word_similarity($1, n.artist)
                      ELSE word_similarity($1, n.artist) END)::FLOAT8 AS relevance
               FROM (
                      (SELECT uri FROM tracks ORDER BY $1 <<-> lower(title) LIMIT $6)
                      UNION
                      (SELECT uri FROM tracks ORDER BY $1 <<-> lower(artist) LIMIT $6)
                    ) c
               JOIN tracks t ON t.uri = c.uri
               CROSS JOIN LATERAL (SELECT translate(lower(t.title), '’‘“”', '''''""') AS title,
                                          translate(lower(t.artist), '’‘“”', '''''""') AS artist) n
              WHERE (lower(t.title) % $1 OR lower(t.title) LIKE $3
                     OR lower(t.artist) % $1 OR lower(t.artist) LIKE $3)
                AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did AND a.hidden)
           ) r ORDER BY relevance DESC, key LIMIT $4 OFFSET $5"#,
        q.text,
        q.prefix,
        q.substring,
        limit,
        offset,
        CANDIDATES
    )
    .fetch_all(db)
    .await
}

/// Actors by handle or display name; the key is the DID.
pub async fn actors(db: &PgPool, q: &Query, limit: i64, offset: i64) -> sqlx::Result<Vec<Hit>> {
    sqlx::query_as!(
        Hit,
        r#"SELECT key AS "key!", relevance AS "relevance!" FROM (
             SELECT a.did AS key, GREATEST(
                 CASE WHEN lower(a.handle) = $1 THEN 5.0
                      WHEN lower(a.handle) LIKE $2 THEN 3.0 + word_similarity($1, lower(a.handle))
                      WHEN lower(a.handle) LIKE $3 THEN 1.5 + word_similarity($1, lower(a.handle))
                      ELSE COALESCE(word_similarity($1, lower(a.handle)), 0) END,
                 CASE WHEN n.name = $1 THEN 5.0 WHEN n.name LIKE $2 THEN 3.0 + word_similarity($1, n.name)
                      WHEN n.name LIKE $3 THEN 1.5 + word_similarity($1, n.name)
                      ELSE COALESCE(word_similarity($1, n.name), 0) END)::FLOAT8 AS relevance
               FROM (
                      (SELECT did FROM actors ORDER BY $1 <<-> lower(handle) LIMIT $6)
                      UNION
                      (SELECT did FROM bsky_profiles ORDER BY $1 <<-> lower(display_name) LIMIT $6)
                    ) c
               JOIN actors a ON a.did = c.did
               LEFT JOIN bsky_profiles b ON b.did = a.did
               CROSS JOIN LATERAL (SELECT translate(lower(b.display_name), '’‘“”', '''''""') AS name) n
              WHERE NOT a.hidden
                AND (lower(a.handle) % $1 OR lower(a.handle) LIKE $3
                     OR lower(b.display_name) % $1 OR lower(b.display_name) LIKE $3)
           ) r ORDER BY relevance DESC, key LIMIT $4 OFFSET $5"#,
        q.text,
        q.prefix,
        q.substring,
        limit,
        offset,
        CANDIDATES
    )
    .fetch_all(db)
    .await
}

/// Lists of `list_type` by name; the key is the list URI.
pub async fn lists(db: &PgPool, q: &Query, list_type: &str, limit: i64) -> sqlx::Result<Vec<Hit>> {
    sqlx::query_as!(
        Hit,
        r#"SELECT key AS "key!", relevance AS "relevance!" FROM (
             SELECT l.uri AS key,
                 (CASE WHEN n.name = $1 THEN 5.0 WHEN n.name LIKE $2 THEN 3.0 + word_similarity($1, n.name)
                       WHEN n.name LIKE $3 THEN 1.5 + word_similarity($1, n.name)
                       ELSE word_similarity($1, n.name) END)::FLOAT8 AS relevance
               FROM (SELECT uri FROM lists WHERE name IS NOT NULL AND list_type = $4
                      ORDER BY $1 <<-> lower(name) LIMIT $6) c
               JOIN lists l ON l.uri = c.uri
               CROSS JOIN LATERAL (SELECT translate(lower(l.name), '’‘“”', '''''""') AS name) n
              WHERE l.name IS NOT NULL AND l.list_type = $4
                AND (lower(l.name) % $1 OR lower(l.name) LIKE $3)
                AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = l.did AND a.hidden)
           ) r ORDER BY relevance DESC, key LIMIT $5"#,
        q.text,
        q.prefix,
        q.substring,
        list_type,
        limit,
        CANDIDATES
    )
    .fetch_all(db)
    .await
}

/// What the in-process search index holds of a track.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackText {
    pub did: String,
    pub rkey: String,
    pub title: String,
    pub artist: String,
    /// Its place in the latest feed.
    pub sort_at: chrono::DateTime<chrono::Utc>,
}

/// What the search index holds of an actor.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorText {
    pub did: String,
    pub handle: Option<String>,
    pub display_name: Option<String>,
    pub hidden: bool,
}

/// What the search index holds of a named list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListText {
    pub did: String,
    pub rkey: String,
    pub list_type: Option<String>,
    pub name: String,
}

/// Every track, streamed (the index is built from it when an AppView starts).
pub fn all_track_texts(db: &PgPool) -> impl futures_util::Stream<Item = sqlx::Result<TrackText>> + '_ {
    sqlx::query_as!(TrackText, "SELECT did, rkey, title, artist, sort_at FROM tracks").fetch(db)
}

/// The tracks among `uris` that exist.
pub async fn track_texts(db: &PgPool, uris: &[String]) -> sqlx::Result<Vec<TrackText>> {
    sqlx::query_as!(
        TrackText,
        "SELECT did, rkey, title, artist, sort_at FROM tracks WHERE uri = ANY($1)",
        uris
    )
    .fetch_all(db)
    .await
}

/// Every actor with its Bluesky display name, streamed.
pub fn all_actor_texts(db: &PgPool) -> impl futures_util::Stream<Item = sqlx::Result<ActorText>> + '_ {
    sqlx::query_as!(
        ActorText,
        r#"SELECT a.did AS "did!", a.handle, b.display_name AS "display_name?", a.hidden AS "hidden!"
             FROM actors a LEFT JOIN bsky_profiles b ON b.did = a.did"#
    )
    .fetch(db)
}

/// The actors among `dids` that exist.
pub async fn actor_texts(db: &PgPool, dids: &[String]) -> sqlx::Result<Vec<ActorText>> {
    sqlx::query_as!(
        ActorText,
        r#"SELECT a.did AS "did!", a.handle, b.display_name AS "display_name?", a.hidden AS "hidden!"
             FROM actors a LEFT JOIN bsky_profiles b ON b.did = a.did WHERE a.did = ANY($1)"#,
        dids
    )
    .fetch_all(db)
    .await
}

/// Every named list, streamed.
pub fn all_list_texts(db: &PgPool) -> impl futures_util::Stream<Item = sqlx::Result<ListText>> + '_ {
    sqlx::query_as!(
        ListText,
        r#"SELECT did, rkey, list_type AS "list_type?", name AS "name!" FROM lists WHERE name IS NOT NULL"#
    )
    .fetch(db)
}

/// The named lists among `uris` that exist.
pub async fn list_texts(db: &PgPool, uris: &[String]) -> sqlx::Result<Vec<ListText>> {
    sqlx::query_as!(
        ListText,
        r#"SELECT did, rkey, list_type AS "list_type?", name AS "name!" FROM lists WHERE name IS NOT NULL AND uri = ANY($1)"#,
        uris
    )
    .fetch_all(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::Query;

    #[test]
    fn queries_are_normalized_and_like_patterns_escaped() {
        let q = Query::new("  Don’t 100%_Stop ");
        assert_eq!(q.text, "don't 100%_stop");
        assert_eq!(q.prefix, "don't 100\\%\\_stop%");
        assert_eq!(q.substring, "%don't 100\\%\\_stop%");
    }
}
