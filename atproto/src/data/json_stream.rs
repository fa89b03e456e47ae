//! JSON read straight into atproto data while it is parsed, without a `serde_json::Value` in
//! between: one pass and one allocation per string instead of two trees.
//!
//! [`JsonData`] follows exactly the rules of [`super::ipld_from_json`] (same values, same
//! errors, decided in the same order), so a decoder can swap one for the other: a field typed
//! `JsonData` parses any JSON value and keeps a data-model violation as a value, leaving JSON
//! syntax errors to the surrounding parser.

use std::collections::BTreeMap;
use std::fmt;

use ipld_core::ipld::Ipld;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::json::{bytes_from_str, integer_from_float, link_from_str};
use super::{DataModelError, check_map};

/// A JSON value read as atproto data, or why it is not atproto data.
#[derive(Debug)]
pub struct JsonData(pub Result<Ipld, DataModelError>);

impl JsonData {
    /// The value as a record: it must be a map.
    pub fn into_record(self) -> Result<Ipld, DataModelError> {
        match self.0? {
            map @ Ipld::Map(_) => Ok(map),
            _ => Err(DataModelError::NotAnObject),
        }
    }
}

impl<'de> Deserialize<'de> for JsonData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DataVisitor).map(JsonData)
    }
}

struct DataVisitor;

impl<'de> Visitor<'de> for DataVisitor {
    type Value = Result<Ipld, DataModelError>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Ok(Ipld::Null))
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Ok(Ipld::Bool(b)))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Ok(Ipld::Integer(n.into())))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(n).map(|n| Ipld::Integer(n.into())).map_err(|_| DataModelError::IntegerOutOfRange))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Self::Value, E> {
        Ok(integer_from_float(f).map(|n| Ipld::Integer(n.into())))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Ok(Ipld::String(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Ok(Ipld::String(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        let mut error = None;
        // Every element is read even after a bad one, so the parser stays in step.
        while let Some(JsonData(item)) = seq.next_element()? {
            match item {
                Ok(item) if error.is_none() => items.push(item),
                Ok(_) => {}
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        Ok(match error {
            Some(e) => Err(e),
            None => Ok(Ipld::List(items)),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries: BTreeMap<String, Result<Ipld, DataModelError>> = BTreeMap::new();
        // The values of `$link` and `$bytes` as they were: only a string is meaningful there.
        let (mut link, mut bytes): (Option<Special>, Option<Special>) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "$link" => link = Some(map.next_value()?),
                "$bytes" => bytes = Some(map.next_value()?),
                _ => {
                    let JsonData(value) = map.next_value()?;
                    entries.insert(key, value); // a repeated key keeps its last value, as serde_json's map does
                }
            }
        }
        let others = entries.len();
        if let Some(link) = link {
            if others + usize::from(bytes.is_some()) != 0 {
                return Ok(Err(DataModelError::InvalidLink("unexpected extra fields")));
            }
            let Special::String(s) = link else {
                return Ok(Err(DataModelError::InvalidLink("must be a string")));
            };
            return Ok(link_from_str(&s));
        }
        if let Some(bytes) = bytes {
            if others != 0 {
                return Ok(Err(DataModelError::InvalidBytes("unexpected extra fields")));
            }
            let Special::String(s) = bytes else {
                return Ok(Err(DataModelError::InvalidBytes("must be a string")));
            };
            return Ok(bytes_from_str(&s));
        }
        // The first bad value in key order, as converting a parsed map finds it.
        let mut converted = BTreeMap::new();
        for (key, value) in entries {
            match value {
                Ok(value) => {
                    converted.insert(key, value);
                }
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(check_map(&converted).map(|()| Ipld::Map(converted)))
    }
}

/// The value under `$link` or `$bytes`: a string, or anything else (skipped unread).
enum Special {
    String(String),
    Other,
}

impl<'de> Deserialize<'de> for Special {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SpecialVisitor)
    }
}

struct SpecialVisitor;

impl<'de> Visitor<'de> for SpecialVisitor {
    type Value = Special;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E>(self, s: &str) -> Result<Special, E> {
        Ok(Special::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Special, E> {
        Ok(Special::String(s))
    }

    fn visit_unit<E>(self) -> Result<Special, E> {
        Ok(Special::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Special, E> {
        Ok(Special::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Special, E> {
        Ok(Special::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Special, E> {
        Ok(Special::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Special, E> {
        Ok(Special::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Special, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Special::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Special, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Special::Other)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::JsonData;
    use crate::data::ipld_from_json;

    /// Both readings of `text`: the same value, or errors that print the same.
    fn same(text: &str) {
        let parsed: Value = serde_json::from_str(text).expect("valid JSON");
        let through_value = format!("{:?}", ipld_from_json(parsed));
        let JsonData(direct) = serde_json::from_str(text).expect("valid JSON");
        assert_eq!(format!("{direct:?}"), through_value, "{text}");
    }

    #[test]
    fn reads_exactly_as_through_a_parsed_value() {
        let cid = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
        for text in [
            "null",
            "true",
            "0",
            "-0",
            "-9223372036854775808",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551616",
            "1.0",
            "-2.0",
            "1.5",
            "1e300",
            "9007199254740992.0",
            "9007199254740994.0",
            "\"snowman \\u2603\"",
            "[]",
            "[1, [2, {\"a\": 1.5}], 3.5]",
            "{}",
            r#"{"b": 2, "a": 1, "a": 3}"#,
            r#"{"z": 1.5, "a": 2.5}"#,
            r#"{"$type": ""}"#,
            r#"{"$type": 1}"#,
            r#"{"$type": "fm.plyr.track", "title": "x"}"#,
            &format!(r#"{{"$link": "{cid}"}}"#),
            &format!(r#"{{"$link": "{cid}", "$link": "x"}}"#),
            &format!(r#"{{"$link": "{cid}", "a": 1}}"#),
            &format!(r#"{{"a": 1.5, "$link": "{cid}"}}"#),
            &format!(r#"{{"$link": "{cid}", "$bytes": "aGk"}}"#),
            r#"{"$link": 1.5}"#,
            r#"{"$link": {"$link": 1}}"#,
            r#"{"$link": "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR"}"#,
            r#"{"$link": "not a cid"}"#,
            r#"{"$bytes": "aGk="}"#,
            r#"{"$bytes": "aGk"}"#,
            r#"{"$bytes": "!!"}"#,
            r#"{"$bytes": ["a"]}"#,
            r#"{"$bytes": "aGk", "x": 1}"#,
            &format!(
                r#"{{"$type": "blob", "ref": {{"$link": "{cid}"}}, "mimeType": "audio/mpeg", "size": 10}}"#
            ),
            &format!(
                r#"{{"$type": "blob", "ref": {{"$link": "{cid}"}}, "mimeType": "audio/mpeg", "size": -1}}"#
            ),
            &format!(
                r#"{{"$type": "blob", "ref": {{"$link": "{cid}"}}, "mimeType": "a", "size": 1, "x": 1}}"#
            ),
            r#"{"$type": "blob", "ref": "x", "mimeType": "a", "size": 1}"#,
            r#"{"list": [{"$bytes": "!!"}, 1.5], "n": {"deep": [[[{"$type": ""}]]]}}"#,
        ] {
            same(text);
        }
    }

    #[test]
    fn records_must_be_maps_and_syntax_errors_stay_parser_errors() {
        let record = |t: &str| serde_json::from_str::<JsonData>(t).map(JsonData::into_record);
        assert!(matches!(record(r#"{"a": 1}"#), Ok(Ok(_))));
        assert!(matches!(record("[1]"), Ok(Err(crate::DataModelError::NotAnObject))));
        assert!(matches!(record(r#"{"a": 1.5}"#), Ok(Err(crate::DataModelError::Float(_)))));
        assert!(record(r#"{"a": }"#).is_err(), "not JSON");
        assert!(record(r#"{"a": "\ud800"}"#).is_err(), "a lone surrogate is not a string");
    }
}
