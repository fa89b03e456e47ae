//! One searched column held in memory: its values (normalized text) in one arena, a trigram
//! index over them, and which documents hold each value. [`Column::nearest`] finds the
//! documents whose matching value is nearest to a query by word similarity, exactly as a GiST
//! `<<->` scan would, without looking at most values; [`Column::containing`] finds the values
//! that contain the query's text through the trigrams any such value must hold (a GIN
//! `LIKE '%q%'` scan).
//!
//! Why it is exact: a value's word similarity to a query is at most the share of the query's
//! trigrams the value holds (a stretch of the value can hold no more of them than the value
//! does). Values are counted by shared trigrams from the posting lists, rarest list first, then
//! scored best count first; once the nearest `k` found score at least what the next count
//! could reach, no other value can displace them. The same bound lets the longest lists (a
//! common first letter's) go unread once `k` values already seen score what a value found only
//! in them could reach. A caller bounds the work with a budget of values scored; past it the
//! answer is the best of the best-counted values, no longer exact.
//!
//! Posting lists are append-only, delta-encoded varints of value ids (ids only grow), so a
//! million short titles cost about 1.5 bytes per trigram occurrence. Equal values are stored
//! once in a shared column (titles and artist names repeat); a value no document holds any more
//! stays in the arena, skipped, until the column is rebuilt.

use std::cell::RefCell;
use std::collections::HashMap;

use super::trigram::{self, Trigram};

/// A document's number within its corpus.
pub type DocId = u32;
pub type ValueId = u32;

/// A value's documents: the first inline, any others aside (most values have one). No first
/// document is [`NONE`]; a first document marked [`MANY`] has others, so a value with one
/// document is read without a map lookup.
const NONE: DocId = DocId::MAX;
const MANY: DocId = 1 << 31;

/// plyr.fm's match predicate: `similarity(column, q) > 0.1` (or the text within the column).
const MATCH: f64 = 0.1;

/// Posting lists at least this long (bytes) may be left unread ([`Column::nearest`]).
const SKIPPABLE: usize = 8 << 10;

#[derive(Debug, Default)]
struct Postings {
    bytes: Vec<u8>,
    last: ValueId,
}

impl Postings {
    fn push(&mut self, id: ValueId) {
        let mut delta = id - self.last;
        self.last = id;
        loop {
            let byte = (delta & 0x7f) as u8;
            delta >>= 7;
            if delta == 0 {
                self.bytes.push(byte);
                return;
            }
            self.bytes.push(byte | 0x80);
        }
    }

    fn for_each(&self, mut f: impl FnMut(ValueId)) {
        self.until(|id| {
            f(id);
            true
        });
    }

    /// Reads the ids in order while `f` says to go on.
    fn until(&self, mut f: impl FnMut(ValueId) -> bool) {
        let (mut id, mut delta, mut shift) = (0u32, 0u32, 0u32);
        for &b in &self.bytes {
            delta |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                id += delta;
                if !f(id) {
                    return;
                }
                delta = 0;
                shift = 0;
            } else {
                shift += 7;
            }
        }
    }
}

/// One column of a corpus.
#[derive(Debug, Default)]
pub struct Column {
    text: String,
    /// Value `i` is `text[ends[i - 1]..ends[i]]`.
    ends: Vec<u32>,
    first_doc: Vec<DocId>,
    other_docs: HashMap<ValueId, Vec<DocId>, IdHash>,
    postings: HashMap<Trigram, Postings>,
    /// Values by their text's hash, for columns whose values repeat (an artist name).
    shared: Option<HashMap<u64, ValueId>>,
}

/// A query as every column reads it: normalized text and its trigram set.
#[derive(Debug, Clone)]
pub struct Needle {
    pub text: String,
    pub trigrams: Vec<Trigram>,
    /// The trigrams every value containing `text` holds ([`trigram::held_by_containing`]).
    pub held: Vec<Trigram>,
    /// `text`'s substring searcher, built once: a search tests thousands of values.
    finder: memchr::memmem::Finder<'static>,
}

impl Needle {
    pub fn new(normalized: &str) -> Self {
        Needle {
            text: normalized.to_owned(),
            trigrams: trigram::trigram_set(normalized),
            held: trigram::held_by_containing(normalized),
            finder: memchr::memmem::Finder::new(normalized.as_bytes()).into_owned(),
        }
    }

    /// Where the query's text first occurs in `value`.
    pub fn find(&self, value: &str) -> Option<usize> {
        self.finder.find(value.as_bytes())
    }

    /// plyr.fm's match predicate for `value`, whose similarity to the query is `similarity`:
    /// above [`MATCH`], or the query's text within it.
    pub fn matches(&self, value: &str, similarity: f32) -> bool {
        f64::from(similarity) > MATCH || self.find(value).is_some()
    }

    /// plyr.fm's band of `value`: 3 equal, 2 prefix, 1 substring, 0 else.
    pub fn band(&self, value: &str) -> usize {
        if value == self.text {
            3
        } else if value.starts_with(self.text.as_str()) {
            2
        } else if self.find(value).is_some() {
            1
        } else {
            0
        }
    }
}

/// The counting of one [`Column::nearest`]: how many of the query's trigrams each value holds,
/// kept so that the few best-counted values are found without passing over the many values
/// that share one trigram with the query (most of those touched).
#[derive(Default)]
struct Tally {
    /// Per value id: lists read that hold it (zero for every value between calls).
    counts: Vec<u8>,
    /// The values counted at all, in the order first seen.
    touched: Vec<ValueId>,
    /// `rose[n]` (n ≥ 2): the values whose count reached `n`, in the order they did; a value
    /// counted `c` appears in `rose[2..=c]`.
    rose: Vec<Vec<ValueId>>,
}

impl Tally {
    fn start(&mut self, values: usize, full: usize) {
        if self.counts.len() < values {
            self.counts.resize(values, 0);
        }
        if self.rose.len() < full + 2 {
            self.rose.resize(full + 2, Vec::new());
        }
    }

    fn count(&mut self, id: ValueId) {
        let c = &mut self.counts[id as usize];
        if *c == 0 {
            self.touched.push(id);
        } else if *c < u8::MAX
            && let Some(rose) = self.rose.get_mut(usize::from(*c) + 1)
        {
            rose.push(id);
        }
        *c = c.saturating_add(1);
    }

    fn count_of(&self, id: ValueId) -> usize {
        usize::from(self.counts[id as usize])
    }

    /// How many values are counted exactly `n` (≥ 1).
    fn how_many(&self, n: usize) -> usize {
        let reached =
            |n: usize| if n == 1 { self.touched.len() } else { self.rose.get(n).map_or(0, Vec::len) };
        reached(n) - reached(n + 1)
    }

    /// The values counted exactly `n` (≥ 1).
    fn counted(&self, n: usize) -> impl Iterator<Item = ValueId> + '_ {
        let from = if n == 1 { &self.touched[..] } else { self.rose.get(n).map_or(&[][..], |r| &r[..]) };
        from.iter().copied().filter(move |&id| self.count_of(id) == n)
    }

    /// Back to zero for the next call.
    fn clear(&mut self) {
        for &id in &self.touched {
            self.counts[id as usize] = 0;
        }
        self.touched.clear();
        self.rose.iter_mut().for_each(Vec::clear);
    }
}

thread_local! {
    static TALLY: RefCell<Tally> = RefCell::new(Tally::default());
}

impl Column {
    /// A column whose values are mostly distinct (titles).
    pub fn distinct() -> Self {
        Column::default()
    }

    /// A column whose values repeat across documents (artist names): equal values are stored once.
    pub fn shared() -> Self {
        Column { shared: Some(HashMap::new()), ..Column::default() }
    }

    /// Bytes held, roughly: for the memory figures.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.ends.capacity() * 4
            + self.first_doc.capacity() * 4
            + self.other_docs.values().map(|v| v.capacity() * 4 + 32).sum::<usize>()
            + self.postings.values().map(|p| p.bytes.capacity() + 48).sum::<usize>()
            + self.shared.as_ref().map_or(0, |m| m.capacity() * 16)
    }

    /// Gives back spare capacity (after a build).
    pub fn shrink(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.first_doc.shrink_to_fit();
        self.other_docs.shrink_to_fit();
        self.other_docs.values_mut().for_each(Vec::shrink_to_fit);
        self.postings.shrink_to_fit();
        self.postings.values_mut().for_each(|p| p.bytes.shrink_to_fit());
        if let Some(shared) = self.shared.as_mut() {
            shared.shrink_to_fit();
        }
    }

    pub fn value(&self, id: ValueId) -> &str {
        let end = self.ends[id as usize] as usize;
        let start = if id == 0 { 0 } else { self.ends[id as usize - 1] as usize };
        &self.text[start..end]
    }

    /// Records that `doc` holds `text` (normalized); returns the value's id.
    pub fn add(&mut self, doc: DocId, text: &str) -> ValueId {
        let hash = self.shared.as_ref().map(|_| hash(text));
        if let (Some(map), Some(h)) = (&self.shared, hash)
            && let Some(&id) = map.get(&h)
            && self.value(id) == text
        {
            self.attach(id, doc);
            return id;
        }
        let id = self.ends.len() as ValueId;
        self.text.push_str(text);
        self.ends.push(self.text.len() as u32);
        self.first_doc.push(doc);
        for t in trigram::trigram_set(text) {
            self.postings.entry(t).or_default().push(id);
        }
        if let (Some(map), Some(h)) = (&mut self.shared, hash) {
            map.insert(h, id);
        }
        id
    }

    /// Records that `doc` no longer holds value `id`.
    pub fn remove(&mut self, doc: DocId, id: ValueId) {
        let first = self.first_doc[id as usize];
        if first == NONE {
            return;
        }
        if first & !MANY == doc {
            self.first_doc[id as usize] = match self.other_docs.get_mut(&id) {
                Some(rest) => match rest.pop() {
                    Some(next) if !rest.is_empty() => next | MANY,
                    next => {
                        self.other_docs.remove(&id);
                        next.unwrap_or(NONE)
                    }
                },
                None => NONE,
            };
        } else if let Some(rest) = self.other_docs.get_mut(&id) {
            rest.retain(|d| *d != doc);
            if rest.is_empty() {
                self.other_docs.remove(&id);
                self.first_doc[id as usize] = first & !MANY;
            }
        }
    }

    fn attach(&mut self, id: ValueId, doc: DocId) {
        let first = &mut self.first_doc[id as usize];
        if *first == NONE {
            *first = doc;
        } else {
            *first |= MANY;
            self.other_docs.entry(id).or_default().push(doc);
        }
    }

    /// The values that may contain the query's text (plyr.fm's `LIKE '%q%'`), in id order: those
    /// holding every trigram such a value must hold (the caller tests the text). `None` when
    /// the query has no such trigram (one or two characters): then they cannot be found this
    /// way.
    pub fn containing(&self, q: &Needle) -> Option<Vec<ValueId>> {
        if q.held.is_empty() {
            return None;
        }
        let mut lists = Vec::with_capacity(q.held.len());
        for t in &q.held {
            match self.postings.get(t) {
                Some(p) => lists.push(p),
                None => return Some(Vec::new()),
            }
        }
        lists.sort_by_key(|p| p.bytes.len());
        let mut ids: Vec<ValueId> = Vec::new();
        lists[0].for_each(|id| ids.push(id));
        for p in &lists[1..] {
            // Both ascending: keep the ids this list holds too.
            let (mut at, mut kept) = (0, 0);
            p.until(|id| {
                while at < ids.len() && ids[at] < id {
                    at += 1;
                }
                if at < ids.len() && ids[at] == id {
                    ids[kept] = id;
                    kept += 1;
                    at += 1;
                }
                at < ids.len()
            });
            ids.truncate(kept);
        }
        Some(ids)
    }

    /// Value `id`'s documents.
    fn docs(&self, id: ValueId, mut f: impl FnMut(DocId)) {
        self.docs_while(id, |d| {
            f(d);
            true
        });
    }

    /// Value `id`'s documents while `f` says to go on.
    pub fn docs_while(&self, id: ValueId, mut f: impl FnMut(DocId) -> bool) {
        let first = self.first_doc[id as usize];
        if first != NONE && f(first & !MANY) && first & MANY != 0 {
            for &d in self.other_docs.get(&id).map_or(&[][..], |r| &r[..]) {
                if !f(d) {
                    return;
                }
            }
        }
    }

    /// Up to `k` documents (for which `keep` holds) whose value matches `q` ([`MATCH`]) and is
    /// nearest to it by word similarity, nearest first, with that similarity; values equal to
    /// the query always come first, whatever `k`. At most `budget` values are scored: past it,
    /// the best of those scored (the best-counted ones) stand in for the exact nearest.
    pub fn nearest(
        &self,
        q: &Needle,
        k: usize,
        budget: usize,
        keep: impl Fn(DocId) -> bool,
    ) -> Vec<(DocId, f32)> {
        if q.trigrams.is_empty() || k == 0 {
            return Vec::new();
        }
        let full = q.trigrams.len();
        // Rarest lists first; a long list is skipped, with every longer one, when `k` values
        // already seen are known to score at least what a value seen only in the skipped lists
        // could (their number over `full`). A seen value's count is then short by at most the
        // skipped lists, so its bucket is its count plus those: still an upper bound.
        let mut lists: Vec<&Postings> = q.trigrams.iter().filter_map(|t| self.postings.get(t)).collect();
        let mut scores = Scores::default();
        let ask = Ask { q, k, budget, keep };
        lists.sort_by_key(|p| p.bytes.len());
        TALLY.with(|tally| {
            let tally = &mut *tally.borrow_mut();
            tally.start(self.ends.len(), full);
            let mut skipped = 0;
            for (read, p) in lists.iter().enumerate() {
                let left = lists.len() - read;
                if read > 0 && p.bytes.len() >= SKIPPABLE && self.enough_seen(&ask, tally, left, &mut scores)
                {
                    skipped = left;
                    break;
                }
                p.for_each(|id| tally.count(id));
            }
            // A value's level: its count plus the lists skipped (at most `full`), a bound on the
            // trigrams of the query it holds. Level `level` gathers the counts `counts(level)`.
            let counts = |level: usize| {
                let low = level.saturating_sub(skipped).max(1);
                let high = if level == full { full } else { level.saturating_sub(skipped) };
                low..high + 1
            };
            // Only the best-counted values are ever scored (at most `budget` of them): sort the
            // values into buckets from the top level down to where the budget is surely
            // reached, and the lower ones only if scoring gets that far.
            let mut from = full + 1;
            let mut held = 0;
            while from > 1 && held <= budget {
                from -= 1;
                held += counts(from).map(|n| tally.how_many(n)).sum::<usize>();
            }
            let mut buckets: Vec<Vec<ValueId>> = vec![Vec::new(); full + 1];
            let fill = |buckets: &mut Vec<Vec<ValueId>>, levels: std::ops::Range<usize>| {
                for level in levels {
                    for n in counts(level) {
                        buckets[level].extend(tally.counted(n));
                    }
                }
            };
            fill(&mut buckets, from..full + 1);
            let found =
                self.score_buckets(&ask, (&mut buckets, from), &mut scores, |buckets| fill(buckets, 1..from));
            tally.clear();
            found
        })
    }

    /// The nearest `k` documents among the values in `buckets` (by count of the query's
    /// trigrams they hold; filled from count `filled_from` up), `more` filling the lower ones
    /// when scoring reaches them.
    fn score_buckets<K: Fn(DocId) -> bool>(
        &self,
        &Ask { q, k, budget, ref keep }: &Ask<'_, K>,
        (buckets, filled_from): (&mut Vec<Vec<ValueId>>, usize),
        scores: &mut Scores,
        mut more: impl FnMut(&mut Vec<Vec<ValueId>>),
    ) -> Vec<(DocId, f32)> {
        let full = q.trigrams.len();
        let mut found: Vec<(DocId, f32)> = Vec::new();
        // Values equal to the query first (they hold every trigram of it).
        let mut exact: Vec<ValueId> = Vec::new();
        buckets[full].retain(|&id| {
            let equal = self.len(id) == q.text.len() && self.value(id) == q.text;
            if equal {
                exact.push(id);
            }
            !equal
        });
        for id in exact {
            self.docs(id, |d| {
                if keep(d) {
                    found.push((d, 1.0));
                }
            });
        }
        // Then by similarity, best count first: a value sharing `count` trigrams can reach at
        // most `count / full`, so once `k` documents score that, the rest cannot displace them.
        let mut scored: Vec<(f32, ValueId)> = Vec::new();
        // Scored values not yet known to reach the bound (which only falls), with the
        // documents `keep` lets through; those that reach it are counted once, in `reached`.
        let mut below: Vec<(f32, ValueId)> = Vec::new();
        let mut reached = found.len();
        let (mut filled, mut tried) = (false, 0);
        'counts: for count in (1..=full).rev() {
            let bound = count as f32 / full as f32;
            below.retain(|&(score, id)| {
                let stays = score < bound;
                if !stays {
                    reached += self.kept(id, keep, k);
                }
                stays
            });
            if reached >= k {
                break;
            }
            if count < filled_from && !filled {
                more(buckets);
                filled = true;
            }
            for &id in &buckets[count] {
                if tried >= budget {
                    break 'counts;
                }
                // A value none of whose documents may be shown is not worth scoring (nor the
                // budget: a filtered search would spend it on what it cannot return).
                if self.kept(id, keep, 1) == 0 {
                    continue;
                }
                tried += 1;
                let Some(score) = scores.of(id, || self.score(q, id)) else { continue };
                scored.push((score, id));
                if score >= bound {
                    reached += self.kept(id, keep, k - reached);
                    if reached >= k {
                        break 'counts;
                    }
                } else {
                    below.push((score, id));
                }
            }
        }
        // Best first; among equals the shorter value (closer to an exact or prefix match).
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| self.len(a.1).cmp(&self.len(b.1))));
        for (score, id) in scored {
            if found.len() >= k {
                break;
            }
            self.docs_while(id, |d| {
                if keep(d) {
                    found.push((d, score));
                }
                found.len() < k
            });
        }
        found
    }

    /// Whether `k` documents among the values seen so far score at least `left / full`, what
    /// a value held only by the `left` unread lists could reach. Tries the best-counted values
    /// first and gives up after a few times `k` of them (then every list is read).
    fn enough_seen<K: Fn(DocId) -> bool>(
        &self,
        &Ask { q, k, ref keep, .. }: &Ask<'_, K>,
        tally: &Tally,
        left: usize,
        scores: &mut Scores,
    ) -> bool {
        let full = q.trigrams.len();
        let bound = left as f32 / full as f32;
        let most = 4 * k;
        let (mut tried, mut reached) = (0, 0);
        for id in (1..=full).rev().flat_map(|n| tally.counted(n)) {
            if self.kept(id, keep, 1) == 0 {
                continue;
            }
            if scores.of(id, || self.score(q, id)).is_some_and(|score| score >= bound) {
                reached += self.kept(id, keep, k - reached);
                if reached >= k {
                    return true;
                }
            }
            tried += 1;
            if tried >= most {
                return false;
            }
        }
        false
    }

    /// Value `id`'s word similarity to `q`, if it matches `q` at all: plyr.fm's predicate,
    /// a similarity above [`MATCH`] or the query's text within it (a value that does not is
    /// never shown, so it is no candidate).
    fn score(&self, q: &Needle, id: ValueId) -> Option<f32> {
        let value = self.value(id);
        let (word, plain) = trigram::similarities(&q.trigrams, value);
        q.matches(value, plain).then_some(word)
    }

    /// How many of value `id`'s documents `keep` lets through.
    /// (Counted up to `most`: an artist's name may hold thousands of tracks, and a caller
    /// needs to know no more than whether `k` are reached.)
    fn kept(&self, id: ValueId, keep: &impl Fn(DocId) -> bool, most: usize) -> usize {
        let mut n = 0;
        self.docs_while(id, |d| {
            n += usize::from(keep(d));
            n < most
        });
        n
    }

    /// Value `id`'s length in bytes.
    pub fn len(&self, id: ValueId) -> usize {
        let end = self.ends[id as usize];
        let start = if id == 0 { 0 } else { self.ends[id as usize - 1] };
        (end - start) as usize
    }
}

/// One [`Column::nearest`] call's question.
struct Ask<'a, K> {
    q: &'a Needle,
    k: usize,
    budget: usize,
    keep: K,
}

/// Word similarities computed during one [`Column::nearest`]: the same best-counted values are
/// tried before each skippable list and again when the candidates are scored.
#[derive(Default)]
struct Scores(HashMap<ValueId, Option<f32>, IdHash>);

/// Maps keyed by value id (a lookup per candidate: SipHash would be a hot spot).
pub type IdHash = std::hash::BuildHasherDefault<IdHasher>;

impl Scores {
    fn of(&mut self, id: ValueId, score: impl FnOnce() -> Option<f32>) -> Option<f32> {
        *self.0.entry(id).or_insert_with(score)
    }
}

/// Value and document ids are dense integers: one multiplication spreads them well enough.
#[derive(Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

fn hash(text: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(values: &[&str]) -> Column {
        let mut c = Column::distinct();
        for (doc, v) in values.iter().enumerate() {
            c.add(doc as DocId, v);
        }
        c
    }

    #[test]
    fn postings_round_trip_through_their_encoding() {
        let mut p = Postings::default();
        let ids = [0, 1, 127, 128, 300, 16_384, 2_000_000, 4_000_000_000];
        for id in ids {
            p.push(id);
        }
        let mut back = Vec::new();
        p.for_each(|id| back.push(id));
        assert_eq!(back, ids);
    }

    #[test]
    fn nearest_values_come_first_and_exact_ones_always() {
        let c = column(&["lighthouse", "light years", "morning light", "evening tide", "light"]);
        let hits = c.nearest(&Needle::new("light"), 3, usize::MAX, |_| true);
        let docs: Vec<DocId> = hits.iter().map(|h| h.0).collect();
        assert_eq!(docs[0], 4, "the exact value first: {hits:?}");
        assert_eq!(docs.len(), 3);
        assert!(!docs.contains(&3), "unrelated values are not near: {hits:?}");
        assert!(c.nearest(&Needle::new("zzzz"), 3, usize::MAX, |_| true).is_empty());
    }

    #[test]
    fn the_top_k_is_exact_against_scoring_every_value() {
        let words = ["river", "light", "night", "sound", "house", "lights", "rivers", "drive"];
        let mut values = Vec::new();
        for (i, a) in words.iter().enumerate() {
            for b in words.iter().skip(i) {
                values.push(format!("{a} {b}"));
            }
        }
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        assert_exact(&column(&refs), &values, &["ligt", "river", "hous", "nite", "sounds"], 5);
    }

    /// `nearest` scores the same as scoring every value, for each query.
    fn assert_exact(c: &Column, values: &[String], queries: &[&str], k: usize) {
        for q in queries {
            let needle = Needle::new(q);
            let got: Vec<f32> = c.nearest(&needle, k, usize::MAX, |_| true).iter().map(|h| h.1).collect();
            let mut all: Vec<f32> = values
                .iter()
                .filter_map(|v| {
                    let (word, plain) = trigram::similarities(&needle.trigrams, v);
                    needle.matches(v, plain).then_some(word)
                })
                .collect();
            all.sort_by(|a, b| b.total_cmp(a));
            let want: Vec<f32> = all.into_iter().filter(|s| *s > 0.0).take(k).collect();
            assert_eq!(got, want, "{q}");
        }
    }

    #[test]
    fn skipping_long_lists_keeps_the_top_k_exact() {
        // Enough values that the common trigrams' lists pass the skippable length.
        let words = ["love", "lover", "lovely", "glove", "light", "line", "long", "low", "lost", "alone"];
        let mut values = Vec::new();
        for i in 0..30_000u32 {
            let (a, b) = (words[i as usize % words.len()], words[(i as usize / words.len()) % words.len()]);
            values.push(format!("{a} {b} {i}"));
        }
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let c = column(&refs);
        assert!(c.postings.values().any(|p| p.bytes.len() >= SKIPPABLE), "some list is long enough to skip");
        assert_exact(&c, &values, &["love", "lovely", "glov", "lone", "lo"], 50);
    }

    #[test]
    fn shared_values_are_stored_once_and_removed_per_document() {
        let mut c = Column::shared();
        let a = c.add(0, "alice");
        assert_eq!(c.add(1, "alice"), a);
        let b = c.add(2, "bob");
        assert_ne!(a, b);
        c.remove(0, a);
        let hits = c.nearest(&Needle::new("alice"), 10, usize::MAX, |_| true);
        assert_eq!(hits, vec![(1, 1.0)]);
        c.remove(1, a);
        assert!(c.nearest(&Needle::new("alice"), 10, usize::MAX, |_| true).is_empty());
        let skip_two = c.nearest(&Needle::new("bob"), 10, usize::MAX, |d| d != 2);
        assert!(skip_two.is_empty(), "documents `keep` refuses are left out");

        // Any document of several may go first, and the value may come back.
        let docs = |c: &Column, id| {
            let mut all = Vec::new();
            c.docs(id, |d| all.push(d));
            all.sort();
            all
        };
        let carol = c.add(3, "carol");
        for d in [4, 5, 6, 7] {
            assert_eq!(c.add(d, "carol"), carol);
        }
        assert_eq!(docs(&c, carol), [3, 4, 5, 6, 7]);
        for d in [3, 5, 7] {
            c.remove(d, carol);
        }
        assert_eq!(docs(&c, carol), [4, 6]);
        for d in [6, 4] {
            c.remove(d, carol);
        }
        assert!(docs(&c, carol).is_empty());
        assert_eq!(c.add(8, "carol"), carol);
        assert_eq!(docs(&c, carol), [8]);
    }
}
