//! pg_trgm's measures, computed in process so the search index ranks exactly as the SQL it
//! replaces: words are runs of alphanumeric characters, lower-cased, each padded with two spaces
//! before and one after; a string's trigrams are those of its words. `similarity` is the share
//! of trigrams two strings have in common; `word_similarity(q, s)` is the best such share
//! between `q` and a stretch of `s`, found by pg_trgm's own greedy walk (so the figures agree
//! with PostgreSQL's to the last bit of its `real` arithmetic; a test checks them against it).

/// One trigram: its three characters, packed (a character past U+FFFF is folded in by hash,
/// as pg_trgm folds multibyte trigrams).
pub type Trigram = u64;

fn pack(a: char, b: char, c: char) -> Trigram {
    (u64::from(a as u32) << 42) | (u64::from(b as u32) << 21) | u64::from(c as u32)
}

/// The trigrams of `text`, word by word, in order (repeats kept).
pub fn trigrams_in_order(text: &str) -> Vec<Trigram> {
    let mut out = Vec::with_capacity(text.len() + 2);
    trigrams_into(text, &mut out);
    out
}

/// Appends the trigrams of `text` to `out`: each word is read as `"  word "` through a
/// three-character window, without building the padded word.
fn trigrams_into(text: &str, out: &mut Vec<Trigram>) {
    let (mut a, mut b, mut in_word) = (' ', ' ', false);
    for c in text.chars() {
        if c.is_alphanumeric() {
            if !in_word {
                (a, b, in_word) = (' ', ' ', true);
            }
            if c.is_lowercase() || !c.is_alphabetic() {
                // Most characters, and every one of an indexed value (stored lower-cased).
                out.push(pack(a, b, c));
                (a, b) = (b, c);
                continue;
            }
            for c in c.to_lowercase() {
                out.push(pack(a, b, c));
                (a, b) = (b, c);
            }
        } else if in_word {
            out.push(pack(a, b, ' '));
            in_word = false;
        }
    }
    if in_word {
        out.push(pack(a, b, ' '));
    }
}

/// The trigrams every string containing `text` holds, sorted and distinct: those of its words,
/// less the first word's two leading ones (it may end a longer word) and the last word's
/// trailing one (it may begin one), unless `text` itself starts or ends between words. Empty
/// when no trigram is certain (a text of one or two characters).
pub fn held_by_containing(text: &str) -> Vec<Trigram> {
    let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let open_start = text.chars().next().is_some_and(char::is_alphanumeric);
    let open_end = text.chars().next_back().is_some_and(char::is_alphanumeric);
    let mut held = Vec::new();
    let mut word = Vec::new();
    for (i, w) in words.iter().enumerate() {
        word.clear();
        trigrams_into(w, &mut word);
        let from = if i == 0 && open_start { 2 } else { 0 };
        let to = if i + 1 == words.len() && open_end { word.len().saturating_sub(1) } else { word.len() };
        held.extend(word.get(from..to).unwrap_or_default());
    }
    held.sort_unstable();
    held.dedup();
    held
}

/// The distinct trigrams of `text`, sorted.
pub fn trigram_set(text: &str) -> Vec<Trigram> {
    let mut t = trigrams_in_order(text);
    t.sort_unstable();
    t.dedup();
    t
}

/// pg_trgm's `CALCSML`, in its `real` arithmetic.
fn share(count: usize, len1: usize, len2: usize) -> f32 {
    let denominator = (len1 + len2 - count) as f32;
    if denominator == 0.0 { 0.0 } else { count as f32 / denominator }
}

/// `similarity(a, b)` of two sorted trigram sets.
pub fn similarity_of_sets(a: &[Trigram], b: &[Trigram]) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    share(common, a.len(), b.len())
}

/// `word_similarity(q, s)` where `q` is given by its sorted trigram set.
pub fn word_similarity(q: &[Trigram], s: &str) -> f32 {
    similarities(q, s).0
}

/// `word_similarity(q, s)` and `similarity(q, s)` at once, from one reading of `s`'s trigrams
/// (a search's relevance needs both for every candidate).
pub fn similarities(q: &[Trigram], s: &str) -> (f32, f32) {
    if q.is_empty() {
        return (0.0, 0.0);
    }
    SCRATCH.with(|scratch| {
        let Scratch { trigrams, distinct, positions, found, last, slots } = &mut *scratch.borrow_mut();
        trigrams.clear();
        distinct.clear();
        positions.clear();
        found.clear();
        trigrams_into(s, trigrams);
        // Number each distinct trigram of `s` through a small open-addressed table (this is
        // the hottest loop of a search: every candidate value passes through it).
        let size = (2 * trigrams.len()).next_power_of_two().max(16);
        slots.clear();
        slots.resize(size, u32::MAX);
        let mask = size - 1;
        // Most of a value's trigrams are not the query's: a 64-bit filter of the query's
        // answers for most of them without the binary search.
        let filter = q.iter().fold(0u64, |f, t| f | filter_bit(*t));
        let mut any = false;
        for &t in trigrams.iter() {
            let mut at = (t.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize & mask;
            loop {
                let slot = slots[at];
                if slot == u32::MAX {
                    slots[at] = distinct.len() as u32;
                    positions.push(distinct.len());
                    distinct.push(t);
                    let hit = filter & filter_bit(t) != 0 && q.binary_search(&t).is_ok();
                    any |= hit;
                    found.push(hit);
                    break;
                }
                if distinct[slot as usize] == t {
                    positions.push(slot as usize);
                    break;
                }
                at = (at + 1) & mask;
            }
        }
        if !any {
            return (0.0, 0.0);
        }
        let common = found.iter().filter(|f| **f).count();
        let plain = share(common, q.len(), distinct.len());
        last.clear();
        last.resize(found.len(), usize::MAX);
        (greedy_walk(positions, found, last, q.len()), plain)
    })
}

fn filter_bit(t: Trigram) -> u64 {
    1 << (t.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58)
}

#[derive(Default)]
struct Scratch {
    trigrams: Vec<Trigram>,
    distinct: Vec<Trigram>,
    positions: Vec<usize>,
    found: Vec<bool>,
    last: Vec<usize>,
    slots: Vec<u32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// pg_trgm's walk over `s` (`iterate_word_similarity`, plain mode): each time a trigram the
/// query has is reached, the stretch ending there is scored, and its start is moved right while
/// that raises the score; the best score seen is the answer.
/// `last` holds `usize::MAX` for each distinct trigram on entry.
fn greedy_walk(positions: &[usize], found: &[bool], last: &mut [usize], query_len: usize) -> f32 {
    let (mut lower, mut distinct, mut count) = (None::<usize>, 0usize, 0usize);
    let mut best = 0.0f32;
    for (i, &t) in positions.iter().enumerate() {
        if lower.is_some() || found[t] {
            if last[t] == usize::MAX {
                distinct += 1;
                if found[t] {
                    count += 1;
                }
            }
            last[t] = i;
        }
        if !found[t] {
            continue;
        }
        let start = match lower {
            Some(l) => l,
            None => {
                distinct = 1;
                i
            }
        };
        let mut current = share(count, query_len, distinct);
        let (mut try_count, mut try_distinct, mut new_lower) = (count, distinct, start);
        for (candidate, &tc) in positions.iter().enumerate().take(i + 1).skip(start) {
            let score = share(try_count, query_len, try_distinct);
            if score > current {
                current = score;
                distinct = try_distinct;
                count = try_count;
                new_lower = candidate;
            }
            if last[tc] == candidate {
                try_distinct -= 1;
                if found[tc] {
                    try_count -= 1;
                }
            }
        }
        best = best.max(current);
        for p in &positions[start..new_lower] {
            // Trigrams whose last sighting fell before the new start leave the stretch.
            if last[*p] < new_lower {
                last[*p] = usize::MAX;
            }
        }
        lower = Some(new_lower);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_padded_alphanumeric_runs() {
        let t = trigrams_in_order("Hi, A!");
        let expect = [
            pack(' ', ' ', 'h'),
            pack(' ', 'h', 'i'),
            pack('h', 'i', ' '),
            pack(' ', ' ', 'a'),
            pack(' ', 'a', ' '),
        ];
        assert_eq!(t, expect);
        assert!(trigrams_in_order("  ...  ").is_empty());
    }

    #[test]
    fn a_containing_string_holds_the_inner_trigrams() {
        for (text, within) in [
            ("wave", "microwaves"),
            ("ave mach", "wave machines"),
            ("wave,", "a wave, then"),
            (" a b ", "x a b y"),
            ("light years", "twilight yearsx"),
            ("ab", "cabd"),
        ] {
            let held = held_by_containing(text);
            let all = trigram_set(within);
            assert!(held.iter().all(|t| all.binary_search(t).is_ok()), "{text:?} in {within:?}");
        }
        assert_eq!(
            held_by_containing("wave"),
            [pack('a', 'v', 'e'), pack('w', 'a', 'v')],
            "only the inner two"
        );
        assert!(held_by_containing("ab").is_empty());
        assert_eq!(held_by_containing(" ab "), trigram_set("ab"), "bounded on both sides: all");
        assert_eq!(held_by_containing("ab cd").len(), 3, "`ab ` and the two leading of `cd`");
    }

    #[test]
    fn known_values_from_postgresql() {
        // SELECT similarity('word', 'two words'), word_similarity('word', 'two words');
        assert_eq!(similarity_of_sets(&trigram_set("word"), &trigram_set("two words")), 0.36363637);
        assert_eq!(word_similarity(&trigram_set("word"), "two words"), 0.8);
        assert_eq!(word_similarity(&trigram_set("light"), "light"), 1.0);
        assert_eq!(word_similarity(&trigram_set("zzz"), "light"), 0.0);
        assert_eq!(similarities(&trigram_set("word"), "two words"), (0.8, 0.36363637));
        assert_eq!(similarities(&trigram_set("word"), "Two Words, two words"), (0.8, 0.36363637));
    }
}
