//! Owned, validated identifier types: [`Did`], [`Handle`], [`AtUri`], [`Nsid`] and [`Cid`].
//!
//! Each wraps an `Arc<str>` (cheap to clone into hydration maps and caches) that passed the
//! matching `is_valid_*` check of this module's siblings. [`Did::new`] and friends validate;
//! `from_trusted` skips the check for values read back from our own database, which the indexer
//! validated before writing. Serde writes them as plain strings and validates on the way in; with
//! the `sqlx` feature they bind to and decode from PostgreSQL `text` (decoding trusts the
//! database, like `from_trusted`).
//!
//! Ours rather than jacquard's `Did<'a>`/`Handle<'a>`/`AtUri<'a>`: those carry a lifetime (a
//! `CowStr`), so owned rows would spell `Did<'static>` everywhere; their checks differ in detail
//! from the validators the indexer applies (so "valid" would mean two things); and the orphan
//! rule keeps us from implementing sqlx's traits for them without a wrapper anyway.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;
use std::sync::Arc;

use super::{Format, SyntaxError};

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $format:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates `s`.
            pub fn new(s: &str) -> Result<Self, SyntaxError> {
                $format.check(s)?;
                Ok(Self(Arc::from(s)))
            }

            /// Wraps `s` without checking it. Only for values read back from our own database
            /// (the indexer validated them before writing) or built by code that guarantees the
            /// syntax.
            pub fn from_trusted(s: impl Into<Arc<str>>) -> Self {
                Self(s.into())
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = SyntaxError;
            fn from_str(s: &str) -> Result<Self, SyntaxError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = SyntaxError;
            fn try_from(s: String) -> Result<Self, SyntaxError> {
                $format.check(&s)?;
                Ok(Self(Arc::from(s)))
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.as_ref().to_owned()
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::new(&s).map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "sqlx")]
        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl sqlx::postgres::PgHasArrayType for $name {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
            fn array_compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::postgres::PgHasArrayType>::array_compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(&*self.0, buf)
            }
        }

        /// Trusts the database, like `from_trusted`: the indexer validated what it wrote.
        #[cfg(feature = "sqlx")]
        impl sqlx::Decode<'_, sqlx::Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(Self(Arc::from(<&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?)))
            }
        }
    };
}

identifier!(
    /// A DID (`did:<method>:<identifier>`), checked by [`super::is_valid_did`].
    Did,
    Format::Did
);

identifier!(
    /// A handle (a domain name), checked by [`super::is_valid_handle`]. Kept as written: callers
    /// that compare handles lower-case them first, as the database does.
    Handle,
    Format::Handle
);

identifier!(
    /// An AT-URI (`at://<authority>[/<collection>[/<rkey>]]`), checked by
    /// [`super::is_valid_at_uri`].
    AtUri,
    Format::AtUri
);

identifier!(
    /// A namespaced identifier (`fm.plyr.track`), checked by [`super::is_valid_nsid`].
    Nsid,
    Format::Nsid
);

identifier!(
    /// A CID in string form (`bafyrei...`), checked by [`super::is_valid_cid`]: a strongRef's
    /// `cid`, a record version. Kept as text, as records and the database carry it; blob links
    /// inside records stay `cid::Cid`.
    Cid,
    Format::Cid
);

impl From<cid::Cid> for Cid {
    /// A parsed CID is valid by construction; its string form is the default multibase.
    fn from(cid: cid::Cid) -> Self {
        Self(Arc::from(cid.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    type Check = fn(&str) -> bool;

    #[test]
    fn constructors_validate() {
        let cases: [(Check, &str, bool); 13] = [
            (|s| Did::new(s).is_ok(), "did:plc:7iza6de2dwap2sbkpav7c6c6", true),
            (|s| Did::new(s).is_ok(), "did:web:plyr.fm", true),
            (|s| Did::new(s).is_ok(), "did:plc", false),
            (|s| Handle::new(s).is_ok(), "alice.plyr.fm", true),
            (|s| Handle::new(s).is_ok(), "alice", false),
            (|s| Handle::new(s).is_ok(), "did:plc:abc", false),
            (|s| AtUri::new(s).is_ok(), "at://did:plc:abc/fm.plyr.track/3jzfcijpj2z2a", true),
            (|s| AtUri::new(s).is_ok(), "at://did:plc:abc/fm.plyr.track/", false),
            (|s| AtUri::new(s).is_ok(), "https://plyr.fm", false),
            (|s| Nsid::new(s).is_ok(), "fm.plyr.track", true),
            (|s| Nsid::new(s).is_ok(), "fm..track", false),
            (|s| Cid::new(s).is_ok(), "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", true),
            (|s| Cid::new(s).is_ok(), "not a cid", false),
        ];
        for (check, value, expected) in cases {
            assert_eq!(check(value), expected, "{value:?}");
        }
        let err = Did::new("nope").expect_err("invalid");
        assert_eq!(err.format, Format::Did);
        assert_eq!("did:plc:abc".parse::<Did>().map(|d| d.to_string()), Ok("did:plc:abc".to_owned()));
        assert!(Did::try_from("did:".to_owned()).is_err());
    }

    #[test]
    fn serde_is_a_validated_string() {
        let did = Did::new("did:plc:abc").expect("valid");
        let json = serde_json::to_string(&did).expect("serialize");
        assert_eq!(json, r#""did:plc:abc""#);
        assert_eq!(serde_json::from_str::<Did>(&json).expect("round trip"), did);
        assert!(serde_json::from_str::<Did>(r#""did:plc:""#).is_err());
        assert!(serde_json::from_str::<AtUri>(r#""at://plyr.fm/fm.plyr.track/a/b""#).is_err());
        let uri: AtUri =
            serde_json::from_str(r#""at://plyr.fm/fm.plyr.track/3jzfcijpj2z2a""#).expect("valid");
        assert_eq!(uri.as_str(), "at://plyr.fm/fm.plyr.track/3jzfcijpj2z2a");
    }

    #[test]
    fn maps_keyed_by_identifiers_answer_str_lookups() {
        let mut map: HashMap<Did, u32> = HashMap::new();
        map.insert(Did::new("did:plc:abc").expect("valid"), 1);
        assert_eq!(map.get("did:plc:abc"), Some(&1));
        assert_eq!(map.get("did:plc:xyz"), None);
        let trusted = Handle::from_trusted("anything");
        assert_eq!(trusted, "anything");
        assert_eq!(format!("{trusted:?}"), r#""anything""#);
    }
}
