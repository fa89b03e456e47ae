//! Query strings as plyr.fm's FastAPI reads them: repeated keys allowed, integers that do not
//! parse or fall out of a declared range are a 422 naming the parameter, and some limits are
//! clamped silently instead (per endpoint, as plyr.fm does). Unknown parameters are ignored.

use super::RestError;

/// The decoded `key=value` pairs of a query string, in order.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        Query(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (`tags=a&tags=b`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// A required string of `min..=max` characters.
    pub fn required_str(&self, name: &str, min: usize, max: usize) -> Result<&str, RestError> {
        let Some(v) = self.str(name) else {
            return Err(RestError::invalid(
                "query",
                name,
                "missing",
                "Field required",
                serde_json::Value::Null,
            ));
        };
        let n = v.chars().count();
        if n < min {
            return Err(RestError::invalid(
                "query",
                name,
                "string_too_short",
                format!("String should have at least {min} characters"),
                v,
            ));
        }
        if n > max {
            return Err(RestError::invalid(
                "query",
                name,
                "string_too_long",
                format!("String should have at most {max} characters"),
                v,
            ));
        }
        Ok(v)
    }

    /// An integer parameter; `default` when absent, 422 when it does not parse.
    pub fn int(&self, name: &str, default: i64) -> Result<i64, RestError> {
        match self.str(name) {
            None => Ok(default),
            Some(v) => parse_int("query", name, v),
        }
    }

    /// An integer that must lie in `min..=max` (else 422).
    pub fn int_in(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, RestError> {
        let n = self.int(name, default)?;
        let input = self.str(name).unwrap_or_default();
        if n < min {
            return Err(RestError::invalid(
                "query",
                name,
                "greater_than_equal",
                format!("Input should be greater than or equal to {min}"),
                input,
            ));
        }
        if n > max {
            return Err(RestError::invalid(
                "query",
                name,
                "less_than_equal",
                format!("Input should be less than or equal to {max}"),
                input,
            ));
        }
        Ok(n)
    }

    /// An integer clamped silently into `min..=max`.
    pub fn int_clamped(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, RestError> {
        Ok(self.int(name, default)?.clamp(min, max))
    }
}

/// An integer path or query value, FastAPI's way (422 `int_parsing`).
pub fn parse_int(place: &str, name: &str, v: &str) -> Result<i64, RestError> {
    v.trim().parse::<i64>().map_err(|_| {
        RestError::invalid(
            place,
            name,
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
            v,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_parse_clamp_and_reject_like_fastapi() {
        let q =
            Query::parse(Some("limit=500&tags=a&tags=b&q=x&bad=zz&cursor=2026-01-01T00%3A00%3A00%2B00%3A00"));
        assert_eq!(q.int_clamped("limit", 50, 1, 100).expect("clamps"), 100);
        assert_eq!(q.all("tags"), vec!["a", "b"]);
        assert_eq!(q.str("cursor"), Some("2026-01-01T00:00:00+00:00"));
        assert_eq!(q.int("missing", 7).expect("default"), 7);
        assert!(q.int("bad", 1).is_err());
        assert!(q.int_in("limit", 20, 1, 50).is_err());
        assert!(q.required_str("q", 2, 100).is_err());
        assert!(q.required_str("nope", 2, 100).is_err());
        assert_eq!(q.required_str("tags", 1, 100).expect("present"), "a");
    }
}
