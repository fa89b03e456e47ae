//! What a record must be, beyond valid atproto data, to be stored: the one definition every
//! consumer (the indexer's write path for every source, fuzzers) uses.
//!
//! PostgreSQL `text` and `jsonb` cannot hold U+0000, which atproto data allows in any string.
//! A record that has it anywhere (a value or a map key, at any depth) is not storable and is
//! dropped as invalid; storing a cleaned copy instead would index content its author did not
//! sign. Datetimes need no rule here: every valid atproto datetime (years 0000-9999, any offset)
//! is within PostgreSQL's `timestamptz` range, and presentation clamps what an offset carries
//! past year 9999 ([`crate::syntax::format_datetime`]).

use ipld_core::ipld::Ipld;

/// Why a value cannot be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unstorable {
    /// A string or map key contains U+0000.
    #[error("a string contains U+0000")]
    NulCharacter,
}

impl Unstorable {
    /// A low-cardinality name for metrics (`reason` labels).
    pub fn reason(self) -> &'static str {
        match self {
            Self::NulCharacter => "nul_character",
        }
    }
}

/// Checks that every string and map key of `value`, at any depth, can be stored. Pure and
/// allocation-free; recursion depth is that of the value (bounded by its decoder).
pub fn check_storable(value: &Ipld) -> Result<(), Unstorable> {
    match value {
        Ipld::String(s) => text(s),
        Ipld::List(items) => items.iter().try_for_each(check_storable),
        Ipld::Map(map) => map.iter().try_for_each(|(k, v)| {
            text(k)?;
            check_storable(v)
        }),
        Ipld::Null | Ipld::Bool(_) | Ipld::Integer(_) | Ipld::Float(_) | Ipld::Bytes(_) | Ipld::Link(_) => {
            Ok(())
        }
    }
}

/// Whether one string can be stored.
pub fn text(s: &str) -> Result<(), Unstorable> {
    if s.as_bytes().contains(&0) { Err(Unstorable::NulCharacter) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn map(entries: Vec<(&str, Ipld)>) -> Ipld {
        Ipld::Map(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<BTreeMap<_, _>>())
    }

    #[test]
    fn nul_anywhere_is_unstorable() {
        let s = |v: &str| Ipld::String(v.to_owned());
        let cases = [
            (map(vec![("title", s("fine"))]), true),
            (map(vec![("title", s("a\0b"))]), false),
            (map(vec![("ti\0tle", s("fine"))]), false),
            (map(vec![("items", Ipld::List(vec![map(vec![("deep", Ipld::List(vec![s("\0")]))])]))]), false),
            (map(vec![("bytes", Ipld::Bytes(vec![0, 0]))]), true),
            (map(vec![("text", s("snowman \u{2603} and \u{1}"))]), true),
        ];
        for (value, ok) in cases {
            assert_eq!(check_storable(&value).is_ok(), ok, "{value:?}");
        }
        assert_eq!(Unstorable::NulCharacter.reason(), "nul_character");
    }
}
