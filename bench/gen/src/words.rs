//! Built-in word lists and the small grammars that turn them into artist names, handles,
//! titles, album and playlist names, bios, descriptions and comments. Some output is
//! non-ASCII or carries emoji, so consumers meet real-world text; every string stays far
//! below the lexicons' length and grapheme limits.

use crate::rng::Rng;

#[rustfmt::skip]
const ADJECTIVES: &[&str] = &[
    "velvet", "neon", "quiet", "golden", "broken", "electric", "hollow", "midnight", "paper", "crystal",
    "lazy", "wild", "silver", "faded", "lucid", "amber", "restless", "tender", "cosmic", "dusty", "frozen",
    "gentle", "hazy", "lonely", "lunar", "mellow", "northern", "pale", "rusty", "secret", "solar", "sunken",
    "violet", "wandering", "warm", "drowsy", "distant", "bright", "salty", "slow",
];

#[rustfmt::skip]
const NOUNS: &[&str] = &[
    "river", "signal", "garden", "machine", "harbor", "echo", "orbit", "tide", "forest", "engine", "window",
    "mirror", "lantern", "highway", "satellite", "meadow", "ocean", "cathedral", "arcade", "circuit",
    "desert", "ember", "fever", "glacier", "horizon", "island", "jukebox", "kite", "lighthouse", "memory",
    "motel", "nebula", "pulse", "radio", "rooftop", "shadow", "skyline", "summer", "thunder", "valley",
    "wave", "winter", "comet", "cassette",
];

/// Titles and names that exercise UTF-8 handling (accents, CJK, Cyrillic, Greek, Hangul).
#[rustfmt::skip]
const WORLD: &[&str] = &[
    "Café del Mar", "Überall", "Niño salvaje", "Señales", "夜の街", "Ночной город", "Ça ira", "Ångström",
    "Søndag", "Fête foraine", "Sehnsucht", "サマーデイズ", "꿈의 바다", "Ἥλιος", "Açaí", "Łódź at dawn",
];

const EMOJI: &[&str] = &["🌙", "🔥", "🌊", "✨", "🎧", "💿", "🌵", "🦋", "🎹", "🌃", "🪐", "🫧"];

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Zoë", "Björn", "Chloé", "José", "Ana", "Lúcia", "Søren", "Mei", "Yūki", "Amara", "Theo", "Ines", "Kofi",
    "Maya", "Noor", "Otto", "Priya", "Rafael", "Sasha", "Wren", "Iris", "Jonah", "Leila", "Milo",
];

#[rustfmt::skip]
const PLACES: &[&str] = &[
    "São Paulo", "Reykjavík", "東京", "Kraków", "Montréal", "Lagos", "Berlin", "Oakland", "Seoul", "Lisboa",
];

const INSTRUMENTS: &[&str] =
    &["a borrowed Juno", "a four-track", "an old upright piano", "a laptop and a mic", "modular synths"];

#[rustfmt::skip]
const COMMENTS: &[&str] = &[
    "this part!!", "goosebumps every time", "the drop 🔥🔥", "¡qué temazo!", "すごい", "on repeat all week",
    "that bassline…", "c'est magnifique", "wow", "ok this is my favorite part", "the vocals here 😭",
    "perfect for late night drives", "who mixed this? incredible", "chills", "this needs to be longer",
    "the synth swell 🌊", "heard this live last month", "10/10", "so good it hurts", "🎧🎧🎧",
];

/// First letter upper-cased (ASCII words only, which is all the lists above feed it).
fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// English plural of a word from the lists (`memory` -> `memories`, `echo` -> `echoes`).
fn plural(word: &str) -> String {
    match word.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{stem}ies"),
        _ if word.ends_with('o') => format!("{word}es"),
        _ => format!("{word}s"),
    }
}

fn one<'a>(rng: &mut Rng, list: &[&'a str]) -> &'a str {
    rng.pick(list).copied().unwrap_or("echo")
}

/// An artist's display name: a band-style name, a person's name, or an emoji-decorated one.
pub fn artist_name(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 | 1 => format!("{} {}", capitalize(one(rng, ADJECTIVES)), capitalize(&plural(one(rng, NOUNS)))),
        2 => format!("{} {}", one(rng, FIRST_NAMES), capitalize(one(rng, NOUNS))),
        3 => format!("DJ {}", capitalize(one(rng, NOUNS))),
        4 => format!("{} {}", one(rng, EMOJI), capitalize(one(rng, ADJECTIVES))),
        _ => format!("The {} {}", capitalize(one(rng, ADJECTIVES)), capitalize(one(rng, NOUNS))),
    }
}

/// The ASCII slug of a name (`a-z`, `0-9`, single hyphens), `artist` when nothing is left.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    let short: String = trimmed.chars().take(40).collect();
    let short = short.trim_end_matches('-');
    if short.is_empty() { "artist".to_owned() } else { short.to_owned() }
}

/// A listener-style handle label: a word and a number, e.g. `comet42`.
pub fn listener_label(rng: &mut Rng) -> String {
    format!("{}{}", one(rng, NOUNS), rng.below(10_000))
}

/// A track title.
pub fn title(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 | 1 => format!("{} {}", capitalize(one(rng, ADJECTIVES)), capitalize(one(rng, NOUNS))),
        2 => capitalize(&plural(one(rng, NOUNS))),
        3 => format!("The {} {}", capitalize(one(rng, ADJECTIVES)), capitalize(one(rng, NOUNS))),
        4 => format!("{} of {}", capitalize(one(rng, NOUNS)), capitalize(&plural(one(rng, NOUNS)))),
        5 => format!(
            "{} {} {}",
            capitalize(one(rng, ADJECTIVES)),
            capitalize(one(rng, NOUNS)),
            one(rng, EMOJI)
        ),
        6 => one(rng, WORLD).to_owned(),
        7 => format!("{}, Pt. {}", capitalize(one(rng, NOUNS)), rng.range(2, 4)),
        8 => format!("{} (interlude)", one(rng, NOUNS)),
        _ => format!("{} {}", capitalize(one(rng, NOUNS)), rng.range(1, 99)),
    }
}

/// An album (or EP) name.
pub fn album(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => format!("{} EP", capitalize(&plural(one(rng, NOUNS)))),
        1 => format!("Live at the {}", capitalize(one(rng, NOUNS))),
        2 => one(rng, WORLD).to_owned(),
        _ => format!("{} {}", capitalize(one(rng, ADJECTIVES)), capitalize(one(rng, NOUNS))),
    }
}

/// A playlist name.
pub fn playlist(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => format!("late night {}", plural(one(rng, NOUNS))),
        1 => format!("songs for {}", plural(one(rng, NOUNS))),
        2 => format!("{} {}", one(rng, EMOJI), one(rng, ADJECTIVES)),
        3 => "mañana mix".to_owned(),
        _ => format!("{} {}", one(rng, ADJECTIVES), one(rng, NOUNS)),
    }
}

/// An artist bio (a sentence or two).
pub fn bio(rng: &mut Rng) -> String {
    let base =
        format!("{} {} music from {}.", capitalize(one(rng, ADJECTIVES)), one(rng, NOUNS), one(rng, PLACES));
    if rng.chance(0.5) {
        format!("{base} Made with {}. {}", one(rng, INSTRUMENTS), one(rng, EMOJI))
    } else {
        base
    }
}

/// Liner notes for a track.
pub fn description(rng: &mut Rng) -> String {
    let mut text = format!("Recorded in {} on {}.", one(rng, PLACES), one(rng, INSTRUMENTS));
    if rng.chance(0.5) {
        text.push_str(&format!(" About {} {}.", one(rng, ADJECTIVES), plural(one(rng, NOUNS))));
    }
    if rng.chance(0.3) {
        text.push(' ');
        text.push_str(one(rng, EMOJI));
    }
    text
}

/// A timed comment.
pub fn comment(rng: &mut Rng) -> String {
    one(rng, COMMENTS).to_owned()
}

/// An edit of a comment: the same text with something added.
pub fn edited_comment(rng: &mut Rng, text: &str) -> String {
    format!("{text} (edit: {})", one(rng, &["typo", "still true", "❤️", "listened again", "wow"]))
}

/// A title after a metadata edit: a version suffix, unless it already has one.
pub fn retitle(rng: &mut Rng, title: &str) -> String {
    if title.ends_with(')') {
        return title.to_owned();
    }
    format!("{title} ({})", one(rng, &["Remastered", "v2", "Radio Edit", "Demo", "Extended Mix"]))
}

/// A self-label value from the global set.
pub fn self_label(rng: &mut Rng) -> &'static str {
    one(rng, &["sexual", "nudity", "graphic-media", "porn"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        for (word, expected) in
            [("memory", "memories"), ("echo", "echoes"), ("highway", "highways"), ("tide", "tides")]
        {
            assert_eq!(plural(word), expected);
        }
    }

    #[test]
    fn slugs_are_handle_labels() {
        let cases = [
            ("Velvet Harbors", "velvet-harbors"),
            ("🌙 Lunar", "lunar"),
            ("Zoë Comet", "zo-comet"),
            ("夜の街", "artist"),
            ("DJ  Echo!", "dj-echo"),
        ];
        for (name, expected) in cases {
            assert_eq!(slug(name), expected, "{name}");
        }
    }

    #[test]
    fn text_stays_short_and_non_empty() {
        let mut rng = Rng::new(5);
        for _ in 0..2_000 {
            for text in [artist_name(&mut rng), title(&mut rng), album(&mut rng), playlist(&mut rng)] {
                assert!(!text.is_empty() && text.chars().count() <= 64, "{text}");
            }
            assert!(bio(&mut rng).chars().count() <= 256);
            assert!(description(&mut rng).len() <= 5000);
        }
    }
}
