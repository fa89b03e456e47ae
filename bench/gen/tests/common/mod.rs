//! Helpers shared by the integration tests: generate a stream and parse its lines.

use plyr_gen::{NetworkParams, Summary, jetstream_lines};
use serde_json::Value;

/// The lines and summary of the network for `seed` with `events` events (default sizes).
pub fn generate(seed: u64, events: usize) -> (Vec<String>, Summary) {
    let mut network = jetstream_lines(&NetworkParams::new(seed, events)).expect("valid parameters");
    let lines: Vec<String> = network.by_ref().collect::<Result<_, _>>().expect("generates");
    (lines, network.summary().clone())
}

/// Every line parsed as JSON.
pub fn parse(lines: &[String]) -> Vec<Value> {
    lines.iter().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
}

/// A string field at a JSON pointer, or "".
pub fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}
