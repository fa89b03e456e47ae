//! What "storable" means for a row, whichever rule the data model picked for hostile values
//! (drop the record, or store a safe form): PostgreSQL `text` cannot hold NUL, so no string of a
//! row that reaches the database may contain one.

use plyr_indexer::write::collections::Row;

/// Panics (a fuzzer finding) when `row` holds a value PostgreSQL would reject.
pub fn assert_row(uri: &str, row: &Row) {
    let mut texts: Vec<&str> = Vec::new();
    match row {
        Row::Track(t) => {
            texts.extend([t.title.as_str(), &t.artist, &t.file_type, &t.file_id]);
            texts.extend(
                [&t.album, &t.description, &t.image_url, &t.audio_url, &t.support_gate]
                    .into_iter()
                    .flatten()
                    .map(String::as_str),
            );
            if let Some((cid, mime, _)) = &t.audio_blob {
                texts.extend([cid.as_str(), mime]);
            }
            texts.extend(t.features.iter().chain(&t.self_labels).map(String::as_str));
        }
        Row::Like(l) => texts.extend([l.subject_uri.as_str(), &l.subject_cid]),
        Row::Comment(c) => texts.extend([c.subject_uri.as_str(), &c.subject_cid, &c.text]),
        Row::List(l) => {
            texts.push(&l.id);
            texts.extend([&l.name, &l.list_type].into_iter().flatten().map(String::as_str));
            texts.extend(l.items.iter().flat_map(|(u, c)| [u.as_str(), c]));
        }
        Row::PlyrProfile(p) => {
            texts.extend([&p.bio, &p.avatar_url].into_iter().flatten().map(String::as_str))
        }
        Row::BskyProfile(p) => {
            texts.extend(p.display_name.as_deref());
            if let Some((cid, mime)) = &p.avatar {
                texts.extend([cid.as_str(), mime]);
            }
        }
        Row::Play(p) => {
            texts.push(p.collection);
            texts.extend(heard(&p.heard));
        }
        Row::Status(s) => texts.extend(heard(&s.heard)),
    }
    if let Some(bad) = texts.iter().find(|t| t.contains('\0')) {
        panic!("{uri}: a row passed validation with a NUL in {bad:?}; PostgreSQL cannot store it");
    }
}

/// The texts of a teal.fm play view as stored.
fn heard(h: &plyr_indexer::db::plays::Heard) -> impl Iterator<Item = &str> {
    [h.track_name.as_str(), h.artist_name.as_str()]
        .into_iter()
        .chain([&h.release_name, &h.origin_uri, &h.direct_uri].into_iter().flatten().map(String::as_str))
}
