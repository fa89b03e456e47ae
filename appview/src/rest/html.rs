//! Markup for the service's own pages: every string that reaches HTML goes through [`escape`],
//! so text from records (titles, handles, artist names: hostile input) is shown, never
//! interpreted, and [`media_url`] keeps anything but a web URL out of `src` attributes.

use std::borrow::Cow;

/// `s` with `&`, `<`, `>`, `"` and `'` written as character references: safe as element text
/// and as an attribute value in either kind of quotes.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `url` if it is an `http(s)` URL, the only kind a page hands a media element (escaping keeps
/// a `javascript:` URL a string, not harmless as a source).
pub fn media_url(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped_and_the_rest_kept() {
        let cases = [
            ("plain title", "plain title"),
            ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
            (r#"" onmouseover="x"#, "&quot; onmouseover=&quot;x"),
            ("it's", "it&#39;s"),
            ("Tom & Jerry &amp;", "Tom &amp; Jerry &amp;amp;"),
            ("é ♪ 日本 \u{202e}", "é ♪ 日本 \u{202e}"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(escape(input), expected, "{input:?}");
        }
        assert!(matches!(escape("no markup"), Cow::Borrowed(_)), "nothing to escape: no copy");
    }

    #[test]
    fn only_web_urls_are_media_sources() {
        let cases = [
            ("https://audio.plyr.fm/a.mp3", true),
            ("HTTP://127.0.0.1:8080/audio/x", true),
            ("javascript:alert(1)", false),
            ("data:audio/wav;base64,AAAA", false),
            ("//evil.example/a.mp3", false),
            ("http:", false),
        ];
        for (url, ok) in cases {
            assert_eq!(media_url(url).is_some(), ok, "{url}");
        }
    }
}
