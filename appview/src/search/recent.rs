//! Everyone's tracks, newest first: the latest feed's skeleton, held with the search index's
//! track documents so a page costs no statement. A deep page of the latest feed was the one
//! skeleton still read from PostgreSQL per request, about half of an uncached page's CPU.
//!
//! The order is `(sort_at, uri)` descending, exactly the SQL's (AT-URIs compare bytewise
//! there too), kept as document numbers sorted ascending. A replaced or deleted track's old
//! number stays in the order, skipped like a hidden account's, until the index is rebuilt.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use plyr_atproto::AtUri;

use super::column::DocId;
use super::corpus::{Corpus, Dids};
use crate::db::Skel;

/// A time no track has: the order of a document without one.
const NO_TIME: i64 = i64::MIN;

#[derive(Debug, Default)]
pub struct Recent {
    /// Each document's `sort_at` (µs), by number.
    at: Vec<i64>,
    /// Document numbers ascending by `(at, key)`.
    order: Vec<DocId>,
    /// Added since the order was last settled.
    pending: Vec<DocId>,
}

impl Recent {
    /// Records document `doc`'s time; it joins the order at the next [`Recent::settle`].
    pub fn note(&mut self, doc: DocId, at: DateTime<Utc>) {
        let i = doc as usize;
        if self.at.len() <= i {
            self.at.resize(i + 1, NO_TIME);
        }
        self.at[i] = at.timestamp_micros();
        self.pending.push(doc);
    }

    /// Puts the documents noted since the last call into the order.
    pub fn settle(&mut self, corpus: &Corpus, dids: &Dids) {
        if self.pending.is_empty() {
            return;
        }
        let Recent { at, order, pending } = self;
        let time = |d: DocId| at.get(d as usize).copied().unwrap_or(NO_TIME);
        let cmp = |a: &DocId, b: &DocId| time(*a).cmp(&time(*b)).then_with(|| corpus.key_order(dids, *a, *b));
        pending.sort_unstable_by(cmp);
        if order.is_empty() {
            std::mem::swap(order, pending);
        } else if pending.len() <= 32 {
            // A few new tracks (the usual update): each moved into place.
            for d in pending.drain(..) {
                let at = order.partition_point(|x| cmp(x, &d) == Ordering::Less);
                order.insert(at, d);
            }
        } else {
            let mut merged = Vec::with_capacity(order.len() + pending.len());
            let (mut a, mut b) = (order.iter().peekable(), pending.iter().peekable());
            while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
                if cmp(x, y) == Ordering::Greater {
                    merged.push(**y);
                    b.next();
                } else {
                    merged.push(**x);
                    a.next();
                }
            }
            merged.extend(a);
            merged.extend(b);
            *order = merged;
        }
        pending.clear();
    }

    /// Gives back spare capacity (after a build).
    pub fn shrink(&mut self) {
        self.at.shrink_to_fit();
        self.order.shrink_to_fit();
        self.pending.shrink_to_fit();
    }

    pub fn heap_bytes(&self) -> usize {
        self.at.capacity() * 8 + (self.order.capacity() + self.pending.capacity()) * 4
    }

    /// Up to `limit` shown tracks ordered strictly before `(after_at, after_uri)`, newest first.
    pub fn page(
        &self,
        corpus: &Corpus,
        dids: &Dids,
        after_at: DateTime<Utc>,
        after_uri: &str,
        limit: usize,
    ) -> Vec<Skel> {
        let after = after_at.timestamp_micros();
        let time = |d: DocId| self.at.get(d as usize).copied().unwrap_or(NO_TIME);
        // Everything before `end` is older than the cursor. Equal times (rare) compare keys.
        let end = self.order.partition_point(|&d| match time(d).cmp(&after) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => corpus.key_of(dids, d).as_str() < after_uri,
        });
        self.order[..end]
            .iter()
            .rev()
            .filter(|&&d| corpus.shown(dids, d))
            .take(limit)
            .filter_map(|&d| {
                let at = DateTime::from_timestamp_micros(time(d))?;
                Some(Skel { uri: AtUri::from_trusted(corpus.key_of(dids, d)), at })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::column::Column;
    use crate::search::corpus::KeyShape;

    fn time(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).expect("time")
    }

    /// Pages through everything from the top, `per` at a time, by each page's last key.
    fn all_pages(r: &Recent, c: &Corpus, dids: &Dids, per: usize) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        let (mut at, mut uri) = (time(i64::from(i32::MAX)), "~".to_owned());
        loop {
            let page = r.page(c, dids, at, &uri, per);
            let Some(last) = page.last() else { return out };
            (at, uri) = (last.at, last.uri.to_string());
            out.extend(page.into_iter().map(|s| (s.at.timestamp(), s.uri.to_string())));
        }
    }

    #[test]
    fn pages_follow_time_then_uri_descending_skipping_hidden_and_replaced_tracks() {
        let mut dids = Dids::default();
        let mut c = Corpus::new(KeyShape::Record("fm.plyr.track"), [Column::distinct(), Column::shared()]);
        let mut r = Recent::default();
        // Equal times tie-break on the URI, where `did:web:a-b/` sorts before `did:web:a/`.
        let rows = [
            ("did:plc:bbb", "3k1", 10),
            ("did:plc:aaa", "3k2", 20),
            ("did:web:a", "3k3", 20),
            ("did:web:a-b", "3k4", 20),
            ("did:plc:hid", "3k5", 30),
            ("did:plc:ccc", "3k6", 5),
        ];
        for (i, (did, rkey, at)) in rows.iter().enumerate() {
            let d = c.add(&mut dids, did, rkey, 0, [Some("t"), Some("a")]);
            r.note(d, time(*at));
            if i == 2 {
                r.settle(&c, &dids); // some settled one by one, the rest merged
            }
        }
        r.settle(&c, &dids);
        let hidden = dids.id("did:plc:hid");
        dids.set_hidden(hidden, true);
        // Replaced: the old number is skipped, the new one ordered by its new time.
        let d = c.put(&mut dids, "did:plc:ccc", "3k6", 0, [Some("t2"), None]);
        r.note(d, time(25));
        r.settle(&c, &dids);

        let mut want: Vec<(i64, String)> = vec![
            (25, "at://did:plc:ccc/fm.plyr.track/3k6".into()),
            (20, "at://did:web:a/fm.plyr.track/3k3".into()),
            (20, "at://did:web:a-b/fm.plyr.track/3k4".into()),
            (20, "at://did:plc:aaa/fm.plyr.track/3k2".into()),
            (10, "at://did:plc:bbb/fm.plyr.track/3k1".into()),
        ];
        let mut sorted = want.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(sorted, want, "the expectation is (time, uri) descending bytewise");
        for per in 1..=6 {
            assert_eq!(all_pages(&r, &c, &dids, per), want, "pages of {per}");
        }
        // A cursor inside a group of equal times resumes right after the named track.
        let rest = r.page(&c, &dids, time(20), "at://did:web:a/fm.plyr.track/3k3", 10);
        let rest: Vec<String> = rest.into_iter().map(|s| s.uri.to_string()).collect();
        want.drain(..2);
        assert_eq!(rest, want.into_iter().map(|w| w.1).collect::<Vec<_>>());
    }
}
