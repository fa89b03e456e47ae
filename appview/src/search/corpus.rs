//! One kind of searchable document (tracks, actors, lists) in memory: each document's key, its
//! author and its searched values, one [`Column`] per searched field, and plyr.fm's ranking over
//! every column's candidates: the values containing the query (as many as a page needs) and the
//! nearest by word similarity (exact value 5, prefix 3 + word similarity, substring
//! 1.5 + word similarity, else word similarity; a document scores its best column; a match is a
//! similarity above 0.1 or a substring in some column, plyr.fm's typo-tolerant predicate).

use std::collections::{HashMap, HashSet};

use super::column::{Column, DocId, IdHash, Needle, ValueId};
use super::trigram;
use crate::db::Hit;

/// Candidates taken per column by word similarity: twice the documents a page reaches, at
/// least 50 and at most 300. The exact, prefix and substring bands do not depend on them: their
/// values are found by the trigrams they must hold ([`Column::containing`]), so ties in word
/// similarity (thousands of handles sharing a prefix) cannot crowd them out.
/// Values scored per candidate at most: bounds a query's time where very many values share
/// a few of its trigrams (a long typo), at the cost of exactness past it.
const SCORED: usize = 4;

/// Values containing the query tested per column at most (read in id order, so mostly in
/// memory order: about 50 ns each).
const BANDED: usize = 2_000;

/// Values of one band scored per column at most (word similarity: about 300 ns each).
const BANDED_SCORED: usize = 400;

fn candidates(wanted: usize) -> usize {
    (2 * wanted).clamp(50, 300)
}

/// Each column value's (relevance, matches) once computed, by column and value id.
type Memo = HashMap<u64, (f64, bool), IdHash>;

/// Strings stored back to back.
#[derive(Debug, Default)]
pub struct Strings {
    text: String,
    ends: Vec<u32>,
}

impl Strings {
    pub fn push(&mut self, s: &str) -> u32 {
        self.text.push_str(s);
        self.ends.push(self.text.len() as u32);
        (self.ends.len() - 1) as u32
    }

    pub fn get(&self, i: u32) -> &str {
        let end = self.ends[i as usize] as usize;
        let start = if i == 0 { 0 } else { self.ends[i as usize - 1] as usize };
        &self.text[start..end]
    }

    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4
    }

    pub fn shrink(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// Interned DIDs, with whether each account is hidden.
#[derive(Debug, Default)]
pub struct Dids {
    names: Strings,
    by_name: HashMap<u64, u32>,
    hidden: Vec<bool>,
}

impl Dids {
    pub fn id(&mut self, did: &str) -> u32 {
        let h = hash(did);
        if let Some(&id) = self.by_name.get(&h)
            && self.names.get(id) == did
        {
            return id;
        }
        let id = self.names.push(did);
        self.by_name.insert(h, id);
        self.hidden.push(false);
        id
    }

    /// The id of `did`, if interned.
    pub fn find(&self, did: &str) -> Option<u32> {
        self.by_name.get(&hash(did)).copied().filter(|&id| self.names.get(id) == did)
    }

    pub fn shrink(&mut self) {
        self.names.shrink();
        self.by_name.shrink_to_fit();
        self.hidden.shrink_to_fit();
    }

    pub fn name(&self, id: u32) -> &str {
        self.names.get(id)
    }

    pub fn set_hidden(&mut self, id: u32, hidden: bool) {
        self.hidden[id as usize] = hidden;
    }

    pub fn hidden(&self, id: u32) -> bool {
        self.hidden.get(id as usize).copied().unwrap_or(false)
    }

    pub fn heap_bytes(&self) -> usize {
        self.names.heap_bytes() + self.by_name.capacity() * 16 + self.hidden.capacity()
    }
}

/// How a document's key is written.
#[derive(Debug, Clone, Copy)]
pub enum KeyShape {
    /// `at://{did}/{collection}/{rkey}`.
    Record(&'static str),
    /// The author's DID.
    Did,
}

/// No document, no value.
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Doc {
    did: u32,
    rkey: u32,
    /// The value id in each column, [`NONE`] where the field is empty.
    values: [u32; 2],
    /// The author's previous document (a list per author, newest first, dead ones included).
    next: DocId,
    /// A kind within the corpus (a list's type), for filtering.
    kind: u8,
    alive: bool,
}

/// One kind of document.
#[derive(Debug)]
pub struct Corpus {
    shape: KeyShape,
    columns: [Column; 2],
    docs: Vec<Doc>,
    rkeys: Strings,
    /// Each author's newest document, by DID id.
    newest: Vec<DocId>,
}

/// A normalized query, as every corpus reads it.
#[derive(Debug, Clone)]
pub struct Query {
    needle: Needle,
}

impl Query {
    /// `text` must be normalized as [`crate::db::search::Query`] normalizes.
    pub fn new(text: &str) -> Self {
        Query { needle: Needle::new(text) }
    }
}

/// Lower-cased, with curly quotes made straight, as the SQL normalizes a column.
pub fn normalize(value: &str) -> String {
    value
        .to_lowercase()
        .chars()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            c => c,
        })
        .collect()
}

impl Corpus {
    /// `columns`: the first searched field, then the second (an actor's display name may be
    /// missing; so may anything but a track's title).
    pub fn new(shape: KeyShape, columns: [Column; 2]) -> Self {
        Corpus { shape, columns, docs: Vec::new(), rkeys: Strings::default(), newest: Vec::new() }
    }

    pub fn heap_bytes(&self) -> usize {
        self.columns.iter().map(Column::heap_bytes).sum::<usize>()
            + self.docs.capacity() * std::mem::size_of::<Doc>()
            + self.rkeys.heap_bytes()
            + self.newest.capacity() * 4
    }

    /// Documents held (for the build's log line).
    pub fn live(&self) -> usize {
        self.docs.iter().filter(|d| d.alive).count()
    }

    /// Adds (or replaces) the document `did`/`rkey` with its field values; its new number.
    pub fn put(
        &mut self,
        dids: &mut Dids,
        did: &str,
        rkey: &str,
        kind: u8,
        fields: [Option<&str>; 2],
    ) -> DocId {
        self.remove(dids, did, rkey);
        self.add(dids, did, rkey, kind, fields)
    }

    /// Adds the document `did`/`rkey`, which the corpus does not hold (a build: every row once);
    /// its number.
    pub fn add(
        &mut self,
        dids: &mut Dids,
        did: &str,
        rkey: &str,
        kind: u8,
        fields: [Option<&str>; 2],
    ) -> DocId {
        let did_id = dids.id(did);
        let doc = self.docs.len() as DocId;
        let mut values = [NONE, NONE];
        for (i, field) in fields.iter().enumerate() {
            if let Some(text) = field {
                values[i] = self.columns[i].add(doc, &normalize(text));
            }
        }
        let rkey_id = self.rkeys.push(rkey);
        if self.newest.len() <= did_id as usize {
            self.newest.resize(did_id as usize + 1, NONE);
        }
        let next = std::mem::replace(&mut self.newest[did_id as usize], doc);
        self.docs.push(Doc { did: did_id, rkey: rkey_id, values, next, kind, alive: true });
        doc
    }

    /// Whether document `d` is held and its author not hidden: what every read may show.
    pub fn shown(&self, dids: &Dids, d: DocId) -> bool {
        self.docs.get(d as usize).is_some_and(|doc| doc.alive && !dids.hidden(doc.did))
    }

    /// Document `d`'s key (an AT-URI or a DID).
    pub fn key_of(&self, dids: &Dids, d: DocId) -> String {
        self.key(dids, &self.docs[d as usize])
    }

    /// Removes the document `did`/`rkey`, if held.
    pub fn remove(&mut self, dids: &Dids, did: &str, rkey: &str) {
        let Some(did_id) = dids.find(did) else { return };
        let mut at = self.newest.get(did_id as usize).copied().unwrap_or(NONE);
        while at != NONE {
            let d = &self.docs[at as usize];
            if d.alive && self.rkeys.get(d.rkey) == rkey {
                break;
            }
            at = d.next;
        }
        if at == NONE {
            return;
        }
        let d = &mut self.docs[at as usize];
        d.alive = false;
        let values = d.values;
        for (i, v) in values.iter().enumerate() {
            if *v != NONE {
                self.columns[i].remove(at, *v);
            }
        }
    }

    /// Gives back spare capacity (after a build).
    pub fn shrink(&mut self) {
        self.columns.iter_mut().for_each(Column::shrink);
        self.docs.shrink_to_fit();
        self.rkeys.shrink();
        self.newest.shrink_to_fit();
    }

    fn key(&self, dids: &Dids, doc: &Doc) -> String {
        let did = dids.name(doc.did);
        match self.shape {
            KeyShape::Record(collection) => format!("at://{did}/{collection}/{}", self.rkeys.get(doc.rkey)),
            KeyShape::Did => did.to_owned(),
        }
    }

    /// Matching documents of `kind` (any kind when `None`) by relevance, then key; hidden
    /// accounts' documents are left out.
    pub fn search(&self, dids: &Dids, q: &Query, kind: Option<u8>, limit: usize, offset: usize) -> Vec<Hit> {
        let keep = |d: DocId| {
            let doc = &self.docs[d as usize];
            doc.alive && kind.is_none_or(|k| doc.kind == k) && !dids.hidden(doc.did)
        };
        let wanted = offset + limit;
        let mut candidates: HashSet<DocId, IdHash> = HashSet::default();
        for column in &self.columns {
            let k = self::candidates(wanted);
            candidates.extend(column.nearest(&q.needle, k, SCORED * k, keep).into_iter().map(|(d, _)| d));
            if let Some(values) = column.containing(&q.needle) {
                take_banded(column, values, &q.needle, (wanted, k), keep, &mut candidates);
            }
        }
        // plyr.fm's score bands do not overlap (exact 5, prefix 3-4, substring 1.5-2.5, else
        // 0-1), so candidates are grouped by their best band from string tests alone, and only
        // the bands a page reaches are scored.
        let mut bands: [Vec<DocId>; 4] = Default::default();
        for d in candidates {
            let doc = &self.docs[d as usize];
            let band = (0..2)
                .filter(|&i| doc.values[i] != NONE)
                .map(|i| q.needle.band(self.columns[i].value(doc.values[i])))
                .max()
                .unwrap_or(0);
            bands[band].push(d);
        }
        let mut hits: Vec<Hit> = Vec::new();
        // Documents share values (a title, an artist): each is scored once.
        let mut memo: Memo = HashMap::default();
        for (level, band) in bands.iter().enumerate().rev() {
            let need = wanted.saturating_sub(hits.len());
            if need == 0 {
                break;
            }
            // An exact value scores 5 whatever else the document holds (nothing scores more),
            // and a common title can be exact for thousands of documents: only the page's
            // share of them is ordered and named.
            let mut scored: Vec<(f64, DocId)> = band
                .iter()
                .filter_map(|&d| {
                    let relevance =
                        if level == 3 { 5.0 } else { self.relevance(&self.docs[d as usize], q, &mut memo)? };
                    Some((relevance, d))
                })
                .collect();
            let order = |a: &(f64, DocId), b: &(f64, DocId)| {
                b.0.total_cmp(&a.0).then_with(|| self.key_order(dids, a.1, b.1))
            };
            if scored.len() > need {
                scored.select_nth_unstable_by(need - 1, order);
                scored.truncate(need);
            }
            scored.sort_by(order);
            hits.extend(
                scored
                    .into_iter()
                    .map(|(relevance, d)| Hit { key: self.key(dids, &self.docs[d as usize]), relevance }),
            );
        }
        hits.into_iter().skip(offset).take(limit).collect()
    }

    /// The order of two documents' keys, without writing them out: `at://{did}/{collection}/…`
    /// with one collection orders by `{did}/` and then the record key.
    pub fn key_order(&self, dids: &Dids, a: DocId, b: DocId) -> std::cmp::Ordering {
        let (a, b) = (&self.docs[a as usize], &self.docs[b as usize]);
        let (da, db) = (dids.name(a.did).as_bytes(), dids.name(b.did).as_bytes());
        match self.shape {
            KeyShape::Did => da.cmp(db),
            KeyShape::Record(_) => slash_terminated_order(da, db)
                .then_with(|| self.rkeys.get(a.rkey).cmp(self.rkeys.get(b.rkey))),
        }
    }

    /// A document's relevance to `q`: its best column's; `None` when no column matches.
    /// `memo` keeps each column value's (relevance, matches) for the other documents holding it.
    fn relevance(&self, doc: &Doc, q: &Query, memo: &mut Memo) -> Option<f64> {
        let mut best: Option<f64> = None;
        let mut matched = false;
        for (i, &v) in doc.values.iter().enumerate() {
            if v == NONE {
                continue;
            }
            let (r, matches) = *memo.entry(((i as u64) << 32) | u64::from(v)).or_insert_with(|| {
                let value = self.columns[i].value(v);
                let (ws, similarity) = trigram::similarities(&q.needle.trigrams, value);
                let ws = f64::from(ws);
                let r = match q.needle.band(value) {
                    3 => 5.0,
                    2 => 3.0 + ws,
                    1 => 1.5 + ws,
                    _ => ws,
                };
                (r, q.needle.matches(value, similarity))
            });
            best = Some(best.map_or(r, |b| b.max(r)));
            matched |= matches;
        }
        best.filter(|_| matched)
    }
}

/// Adds the documents of the values containing the query (among `values`, from
/// [`Column::containing`]) that a page of `wanted` may show, by this column's relevance: every
/// exact value's, then prefix values' and then substring values', each band best word
/// similarity first (at most [`BANDED_SCORED`] of them scored, whole-word and short matches
/// first),
/// until the page is filled, and values tied with the last one taken while fewer than `k`
/// documents are taken (as [`Column::nearest`] takes `k`). A document's relevance is its best
/// column's, so the page is among what each column adds. At most [`BANDED`] values are
/// tested, in id order: past that (thousands of handles sharing a prefix) the bands hold the
/// first of them, no longer all.
fn take_banded(
    column: &Column,
    values: Vec<ValueId>,
    q: &Needle,
    (wanted, k): (usize, usize),
    keep: impl Fn(DocId) -> bool,
    out: &mut HashSet<DocId, IdHash>,
) {
    let mut bands: [Vec<ValueId>; 4] = Default::default();
    for v in values.into_iter().take(BANDED) {
        bands[q.band(column.value(v))].push(v);
    }
    let mut taken = 0;
    // A value's documents, at most `k` of them past the exact band (an artist's name may hold
    // thousands of tracks).
    let mut add = |v: ValueId, taken: &mut usize, most: usize| {
        column.docs_while(v, |d| {
            if keep(d) {
                out.insert(d);
                *taken += 1;
            }
            *taken < most
        })
    };
    for v in std::mem::take(&mut bands[3]) {
        add(v, &mut taken, usize::MAX);
    }
    for band in [2, 1] {
        if taken >= wanted {
            return;
        }
        let values = &mut bands[band];
        let most = BANDED_SCORED.max(wanted);
        if values.len() > most {
            let mut keyed: Vec<((bool, usize), ValueId)> =
                values.iter().map(|&v| (likeness(column.value(v), q), v)).collect();
            keyed.select_nth_unstable_by_key(most - 1, |&(key, _)| key);
            *values = keyed[..most].iter().map(|&(_, v)| v).collect();
        }
        let mut scored: Vec<(f32, ValueId)> =
            values.iter().map(|&v| (trigram::word_similarity(&q.trigrams, column.value(v)), v)).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| column.len(a.1).cmp(&column.len(b.1))));
        let mut last = f32::NAN;
        for (score, v) in scored {
            if taken >= wanted && (score != last || taken >= k) {
                break;
            }
            add(v, &mut taken, k.max(wanted));
            last = score;
        }
    }
}

/// A cheap stand-in for how near a value containing `text` is by word similarity, smaller
/// nearer: whether the text sits inside longer words (a whole-word match scores 1), then the
/// value's length.
fn likeness(value: &str, q: &Needle) -> (bool, usize) {
    let text = q.text.as_str();
    let inside = q.find(value).is_some_and(|at| {
        let before = value[..at].chars().next_back().is_some_and(char::is_alphanumeric);
        let after = value[at + text.len()..].chars().next().is_some_and(char::is_alphanumeric);
        (before && text.starts_with(char::is_alphanumeric))
            || (after && text.ends_with(char::is_alphanumeric))
    });
    (inside, value.len())
}

/// The order of `a/` and `b/` as bytes (one slice comparison: this orders thousands of
/// documents when a common title is searched).
fn slash_terminated_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    a[..n].cmp(&b[..n]).then_with(|| a.get(n).unwrap_or(&b'/').cmp(b.get(n).unwrap_or(&b'/')))
}

fn hash<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_as_their_uris_would() {
        let dids = ["did:web:a", "did:web:a-b", "did:web:ab", "did:plc:x", "did:web:a.b", "did:web:"];
        for a in dids {
            for b in dids {
                let want = format!("at://{a}/c/r").cmp(&format!("at://{b}/c/r"));
                assert_eq!(slash_terminated_order(a.as_bytes(), b.as_bytes()), want, "{a} {b}");
            }
        }
    }

    #[test]
    fn a_prefix_match_is_found_among_many_values_of_equal_word_similarity() {
        // Every "deep wave N" holds the word "wave" (word similarity 1) but not "wave,": plyr.fm
        // ranks them below the one title that starts with the query (3 + similarity).
        let mut dids = Dids::default();
        let mut c = Corpus::new(KeyShape::Record("fm.plyr.track"), [Column::shared(), Column::shared()]);
        for i in 0..400 {
            c.put(
                &mut dids,
                "did:plc:a",
                &format!("{i:03}"),
                0,
                [Some(&format!("deep wave {i}")), Some("Alice")],
            );
        }
        c.put(&mut dids, "did:plc:z", "last", 0, [Some("Wave, Then Silence"), Some("Zed")]);
        let hits = c.search(&dids, &Query::new("wave,"), None, 10, 0);
        assert_eq!(hits.len(), 10);
        assert_eq!(hits[0].key, "at://did:plc:z/fm.plyr.track/last", "{hits:?}");
        assert!(hits[0].relevance > 3.0);
        assert!(hits[1..].iter().all(|h| h.relevance <= 1.0), "{hits:?}");
        // A substring match outranks them too.
        c.put(&mut dids, "did:plc:y", "mid", 0, [Some("the wave, again"), Some("Yan")]);
        let hits = c.search(&dids, &Query::new("wave,"), None, 10, 0);
        assert_eq!(hits[1].key, "at://did:plc:y/fm.plyr.track/mid", "{hits:?}");
        assert!((1.5..=2.5).contains(&hits[1].relevance), "{hits:?}");
    }

    #[test]
    fn ranks_as_plyr_fm_exact_then_prefix_then_substring_then_similar() {
        let mut dids = Dids::default();
        let mut c = Corpus::new(KeyShape::Record("fm.plyr.track"), [Column::distinct(), Column::shared()]);
        c.put(&mut dids, "did:plc:a", "1", 0, [Some("Lighthouse Keeper"), Some("Alice")]);
        c.put(&mut dids, "did:plc:a", "2", 0, [Some("Light"), Some("Alice")]);
        c.put(&mut dids, "did:plc:b", "3", 0, [Some("Twilight"), Some("Bob")]);
        c.put(&mut dids, "did:plc:b", "4", 0, [Some("Ligt Show"), Some("Bob")]);
        c.put(&mut dids, "did:plc:b", "5", 0, [Some("Nothing Alike"), Some("Bob")]);
        let hits = c.search(&dids, &Query::new("light"), None, 10, 0);
        let keys: Vec<&str> = hits.iter().map(|h| h.key.rsplit('/').next().unwrap_or("")).collect();
        assert_eq!(keys, ["2", "1", "3", "4"], "{hits:?}");
        assert_eq!(hits[0].relevance, 5.0);
        assert!(hits[1].relevance > 3.0 && hits[1].relevance < 4.0);
        assert!(hits[2].relevance > 1.5 && hits[2].relevance < 2.5);
        assert!(hits[3].relevance < 1.0);
        assert_eq!(hits[0].key, "at://did:plc:a/fm.plyr.track/2");

        // The artist column counts too; a hidden account's documents are gone; so is a removed one.
        // ("Nothing Alike" is similar enough to match, and ranks last.)
        let alice: Vec<String> =
            c.search(&dids, &Query::new("alice"), None, 10, 0).into_iter().map(|h| h.key).collect();
        assert_eq!(alice.len(), 3);
        assert_eq!(alice[2], "at://did:plc:b/fm.plyr.track/5");
        let a = dids.id("did:plc:a");
        dids.set_hidden(a, true);
        assert_eq!(c.search(&dids, &Query::new("alice"), None, 10, 0).len(), 1);
        c.remove(&dids, "did:plc:b", "3");
        let keys: Vec<String> =
            c.search(&dids, &Query::new("light"), None, 10, 0).into_iter().map(|h| h.key).collect();
        assert_eq!(keys, ["at://did:plc:b/fm.plyr.track/4"]);
        // Replacing a document re-reads its values.
        c.put(&mut dids, "did:plc:b", "4", 0, [Some("Something Else"), Some("Bob")]);
        assert!(c.search(&dids, &Query::new("light"), None, 10, 0).is_empty());
        assert_eq!(c.live(), 4);
    }
}
