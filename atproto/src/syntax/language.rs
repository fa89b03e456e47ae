//! The lexicon `language` format: a BCP-47 tag (RFC 5646), parsed strictly.
//!
//! `language[-extlang][-script][-region]*(-variant)*(-extension)[-privateuse]`, a private-use
//! tag (`x-…`), or one of the grandfathered tags. Stricter than "well-formed": the primary
//! language subtag must be 2-3 lower-case letters (so `JA` and `jaja` are refused), and a
//! variant or extension singleton may not repeat (RFC 5646 §2.2.9), case-insensitively.

/// Tags RFC 5646 keeps for compatibility; matched case-insensitively, as a whole.
const GRANDFATHERED: [&str; 26] = [
    "en-GB-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-BE-FR",
    "sgn-BE-NL",
    "sgn-CH-DE",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

/// More distinct variants than any registered tag carries; longer tags are refused.
const MAX_VARIANTS: usize = 8;

fn alpha(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn alnum(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_variant(s: &str) -> bool {
    alnum(s, 5..=8) || (s.len() == 4 && s.as_bytes()[0].is_ascii_digit() && alnum(s, 4..=4))
}

fn is_region(s: &str) -> bool {
    alpha(s, 2..=2) || (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// `x-` followed by at least one 1-8 character subtag.
fn is_private_use<'a>(mut rest: impl Iterator<Item = &'a str>) -> bool {
    let mut any = false;
    for subtag in rest.by_ref() {
        if !alnum(subtag, 1..=8) {
            return false;
        }
        any = true;
    }
    any
}

/// Whether `s` is a valid language tag (see the module docs).
pub fn is_valid_language(s: &str) -> bool {
    if GRANDFATHERED.iter().any(|g| g.eq_ignore_ascii_case(s)) {
        return true;
    }
    let mut parts = s.split('-').peekable();
    let Some(first) = parts.next() else {
        return false;
    };
    if first.eq_ignore_ascii_case("x") {
        return is_private_use(parts);
    }
    if !(2..=3).contains(&first.len()) || !first.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    for _ in 0..3 {
        parts.next_if(|p| alpha(p, 3..=3));
    }
    parts.next_if(|p| alpha(p, 4..=4));
    parts.next_if(|p| is_region(p));

    let mut variants = [""; MAX_VARIANTS];
    let mut n_variants = 0;
    while let Some(variant) = parts.next_if(|p| is_variant(p)) {
        if n_variants == MAX_VARIANTS
            || variants[..n_variants].iter().any(|v| v.eq_ignore_ascii_case(variant))
        {
            return false;
        }
        variants[n_variants] = variant;
        n_variants += 1;
    }

    let mut singletons = 0u64;
    while let Some(singleton) = parts.next() {
        let &[c] = singleton.as_bytes() else {
            return false;
        };
        if c.eq_ignore_ascii_case(&b'x') {
            return is_private_use(parts);
        }
        let bit = match c.to_ascii_lowercase() {
            d @ b'0'..=b'9' => d - b'0',
            l @ b'a'..=b'z' => l - b'a' + 10,
            _ => return false,
        };
        if singletons & (1 << bit) != 0 {
            return false;
        }
        singletons |= 1 << bit;
        let mut any = false;
        while parts.next_if(|p| alnum(p, 2..=8)).is_some() {
            any = true;
        }
        if !any {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags() {
        let cases = [
            ("en", true),
            ("zh-yue-HK", true),
            ("sr-Latn-RS", true),
            ("es-419", true),
            ("en-US-x-twain", true),
            ("x-whatever", true),
            ("x", false),
            ("en-x", false),
            ("en-a", false),
            ("en-a-bb-b-cc", true),
            ("en-a-bb-A-cc", false),
            ("EN", false),
            ("en--US", false),
            ("", false),
            ("I-DEFAULT", true),
        ];
        for (value, expected) in cases {
            assert_eq!(is_valid_language(value), expected, "{value:?}");
        }
    }
}
