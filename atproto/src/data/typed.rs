//! Reading a validated record into a typed struct (the generated lexicon types) through serde,
//! straight from its [`Ipld`] tree, without re-encoding it.
//!
//! The record is presented in the data model's JSON view: a link reads as `{"$link": "<cid>"}`,
//! bytes as `{"$bytes": "<base64>"}`, and the deserializer says it is human-readable. Types that
//! read CIDs differently in binary formats take their JSON path that way: jacquard's `Cid`, for
//! one, asks a binary deserializer for a CBOR link even where the lexicon says `cid`-format
//! *string* (every strongRef), so a binary view would fail on every like.
//!
//! `$type` is validation's business (the lexicon check compares it with the collection): serde
//! neither requires nor compares the tag of a tagged struct.

use std::fmt;

use base64::Engine as _;
use ipld_core::ipld::Ipld;
use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};

/// Why a record did not fit its typed struct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(String);

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// Reads a data-model value (a record, or any part of one) into `T`.
pub fn from_ipld<'de, T: Deserialize<'de>>(value: &'de Ipld) -> Result<T, DecodeError> {
    T::deserialize(Value(value))
}

/// A value being read.
#[derive(Debug, Clone, Copy)]
struct Value<'de>(&'de Ipld);

impl<'de> IntoDeserializer<'de, DecodeError> for Value<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// `{"<key>": "<text>"}`: how the JSON view shows a link or bytes.
fn wrapped<'de, V: Visitor<'de>>(
    key: &'static str,
    text: String,
    visitor: V,
) -> Result<V::Value, DecodeError> {
    let mut access = MapDeserializer::<_, DecodeError>::new(std::iter::once((key, text)));
    let out = visitor.visit_map(&mut access)?;
    access.end()?;
    Ok(out)
}

impl<'de> de::Deserializer<'de> for Value<'de> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Ipld::Null => visitor.visit_unit(),
            Ipld::Bool(b) => visitor.visit_bool(*b),
            Ipld::Integer(i) => match i64::try_from(*i) {
                Ok(i) => visitor.visit_i64(i),
                Err(_) => visitor.visit_i128(*i),
            },
            Ipld::Float(f) => visitor.visit_f64(*f),
            Ipld::String(s) => visitor.visit_borrowed_str(s),
            Ipld::Bytes(b) => wrapped("$bytes", super::json::BYTES_BASE64.encode(b), visitor),
            Ipld::Link(cid) => wrapped("$link", cid.to_string(), visitor),
            Ipld::List(items) => {
                let mut access = SeqDeserializer::new(items.iter().map(Value));
                let out = visitor.visit_seq(&mut access)?;
                access.end()?;
                Ok(out)
            }
            Ipld::Map(map) => {
                let mut access = MapDeserializer::new(map.iter().map(|(k, v)| (k.as_str(), Value(v))));
                let out = visitor.visit_map(&mut access)?;
                access.end()?;
                Ok(out)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Value(Ipld::Null) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            Ipld::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Ipld::Map(map) => {
                let mut access = MapDeserializer::new(map.iter().map(|(k, v)| (k.as_str(), Value(v))));
                visitor.visit_enum(MapAccessDeserializer::new(&mut access))
            }
            _ => Err(de::Error::custom("expected a string or a single-key map for an enum")),
        }
    }

    fn is_human_readable(&self) -> bool {
        true
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "$type", rename = "x.test.thing", rename_all = "camelCase")]
    struct Thing {
        name: String,
        count: Option<i64>,
        link: Linked,
        #[serde(flatten)]
        extra: BTreeMap<String, serde_json::Value>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Linked {
        #[serde(rename = "$link")]
        link: String,
    }

    fn record(with_type: bool) -> Ipld {
        let cid = crate::cid_for_record(&Ipld::Map(BTreeMap::new())).expect("cid");
        let mut m = BTreeMap::from([
            ("name".to_owned(), Ipld::String("a".into())),
            ("count".to_owned(), Ipld::Null),
            ("link".to_owned(), Ipld::Link(cid)),
            ("raw".to_owned(), Ipld::Bytes(vec![1, 2, 3])),
        ]);
        if with_type {
            m.insert("$type".into(), Ipld::String("x.test.thing".into()));
        }
        Ipld::Map(m)
    }

    #[test]
    fn links_and_bytes_read_as_their_json_view_and_the_type_tag_is_optional() {
        for with_type in [true, false] {
            let thing: Thing = from_ipld(&record(with_type)).expect("decodes");
            assert_eq!(thing.name, "a");
            assert_eq!(thing.count, None);
            assert!(thing.link.link.starts_with("bafy"), "{}", thing.link.link);
            assert_eq!(thing.extra.get("raw"), Some(&serde_json::json!({"$bytes": "AQID"})));
        }
    }

    #[test]
    fn a_value_of_another_shape_is_an_error() {
        assert!(from_ipld::<Thing>(&Ipld::List(vec![])).is_err());
        assert!(from_ipld::<Thing>(&Ipld::String("a".into())).is_err());
        let mut bad = record(true);
        if let Ipld::Map(m) = &mut bad {
            m.insert("name".into(), Ipld::Integer(1));
        }
        assert!(from_ipld::<Thing>(&bad).is_err());
        let mut missing = record(true);
        if let Ipld::Map(m) = &mut missing {
            m.remove("name");
        }
        assert!(from_ipld::<Thing>(&missing).is_err());
    }
}
