//! Which collections the firehose source passes on: exact NSIDs, `prefix.*` groups, or `*`.

/// A set of collection patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionFilter {
    exact: Vec<String>,
    prefixes: Vec<String>,
    all: bool,
}

impl CollectionFilter {
    /// From patterns such as `fm.plyr.*`, `app.bsky.actor.profile` or `*`.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Self {
        let mut filter = Self { exact: Vec::new(), prefixes: Vec::new(), all: false };
        for pattern in patterns.iter().map(AsRef::as_ref) {
            match pattern.strip_suffix('*') {
                Some("") => filter.all = true,
                // `fm.plyr.*` keeps the dot, so `fm.plyrx.track` does not match.
                Some(prefix) => filter.prefixes.push(prefix.to_owned()),
                None => filter.exact.push(pattern.to_owned()),
            }
        }
        filter
    }

    /// Every collection.
    pub fn all() -> Self {
        Self::new(&["*"])
    }

    /// Whether `collection` is wanted.
    pub fn matches(&self, collection: &str) -> bool {
        self.all
            || self.exact.iter().any(|c| c == collection)
            || self.prefixes.iter().any(|p| collection.starts_with(p.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let f = CollectionFilter::new(&["fm.plyr.*", "app.bsky.actor.profile"]);
        let cases = [
            ("fm.plyr.track", true),
            ("fm.plyr.actor.profile", true),
            ("fm.plyrx.track", false),
            ("app.bsky.actor.profile", true),
            ("app.bsky.feed.post", false),
        ];
        for (collection, expected) in cases {
            assert_eq!(f.matches(collection), expected, "{collection}");
        }
        assert!(CollectionFilter::all().matches("anything.at.all"));
    }
}
