//! Memory of checking one record, measured as the growth of the process's peak resident set
//! (`VmHWM`, reset through `/proc/self/clear_refs`; Linux only): decoding a record's JSON into
//! atproto data, then the write path's record check (storability, lexicon validation, the drop
//! detail). A hostile record's violations must not multiply its size: the check holds a bounded
//! report whatever the record. Run with `--nocapture` to see the figures.

use plyr_atproto::data::JsonData;
use plyr_indexer::write::validate::RecordCheck;
use serde_json::json;

/// Resets the peak resident set to the current one.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
}

/// The peak resident set since the last reset, in bytes.
fn peak() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .expect("VmHWM");
    kib * 1024
}

/// How far `f` raised the peak resident set above the one when it started.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    reset_peak();
    let base = peak();
    let out = f();
    (out, peak().saturating_sub(base))
}

const BLOB: &str = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy";

fn track_with(field: &str, value: serde_json::Value) -> String {
    let mut t = json!({
        "$type": "fm.plyr.track", "title": "t", "artist": "a", "fileType": "mp3",
        "createdAt": "2026-01-01T00:00:00Z",
        "audioBlob": { "$type": "blob", "ref": { "$link": BLOB }, "mimeType": "audio/mpeg", "size": 1 },
    });
    t[field] = value;
    t.to_string()
}

/// Records of about `size` bytes shaped to be expensive: thousands of violations (each a
/// wrong type, or several missing fields), many tiny values in an unknown field (valid), one
/// long string.
fn hostile(size: usize) -> Vec<(&'static str, String)> {
    let ints = |n: usize| json!(vec![0; n]);
    let empties = |n: usize| json!(vec![json!({}); n]);
    vec![
        ("features: integers (a violation each)", track_with("features", ints(size / 2))),
        ("features: empty objects (violations each)", track_with("features", empties(size / 3))),
        ("unknown field: integers (valid)", track_with("x", ints(size / 2))),
        ("description: one long string", track_with("description", json!("x".repeat(size)))),
    ]
}

#[test]
fn checking_a_record_costs_a_bounded_multiple_of_its_size() {
    let check = RecordCheck::embedded().expect("lexicons");
    let size = 4 << 20;
    for (shape, text) in hostile(size) {
        let (record, parse_peak) = peak_of(|| {
            let JsonData(data) = serde_json::from_str(&text).expect("JSON");
            data.expect("atproto data")
        });
        let (detail, check_peak) =
            peak_of(|| check.check("fm.plyr.track", &record).err().map(|e| e.to_string()));
        let n = text.len() as f64;
        println!(
            "{shape}: {} bytes; parse peak {:.1}x, check peak {:.2}x{}",
            text.len(),
            parse_peak as f64 / n,
            check_peak as f64 / n,
            detail.map(|d| format!(", detail {} bytes", d.len())).unwrap_or_default()
        );
        // Checking a parsed record allocates a bounded report, not a multiple of the record.
        assert!(check_peak < 4 << 20, "{shape}: the check peaked at {check_peak} bytes");
    }
}
