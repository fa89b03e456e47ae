//! The operator's alert rules and dashboard in `deploy/`: `promtool` checks the rules and runs
//! their unit tests (`deploy/prometheus/alerts.test.yaml`), and every metric that the rules and
//! the Grafana dashboard query is one the services define, so renaming a metric fails here
//! instead of leaving an alert that never fires or a panel that stays empty.
//!
//! `promtool` comes from Debian's `prometheus` package, installed with apt on first use when it
//! is not on `PATH` (so this test needs the network on a fresh machine).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use plyr_e2e::repo_root;

const RULES: &str = "deploy/prometheus/alerts.yaml";
const RULE_TESTS: &str = "deploy/prometheus/alerts.test.yaml";
const DASHBOARD: &str = "deploy/grafana/plyr.json";

/// The crates whose `src/` define the services' metrics.
const METRIC_CRATES: &[&str] = &["atproto", "store", "indexer", "appview", "deploy/dev"];

/// The metrics macros, and whether each names a histogram (exported with `_sum` and `_count`,
/// and `_bucket` if buckets are ever configured).
const MACROS: &[(&str, bool)] = &[
    ("counter!(", false),
    ("gauge!(", false),
    ("histogram!(", true),
    ("describe_counter!(", false),
    ("describe_gauge!(", false),
    ("describe_histogram!(", true),
];

#[test]
fn promtool_checks_the_rules_and_passes_their_unit_tests() {
    let promtool = promtool();
    for args in [["check", "rules", RULES], ["test", "rules", RULE_TESTS]] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(repo_root())
            .output()
            .unwrap_or_else(|e| panic!("running {} {}: {e}", promtool.display(), args.join(" ")));
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "promtool {} failed ({}):\n{text}", args.join(" "), out.status);
        println!("promtool {}:\n{text}", args.join(" "));
    }
}

#[test]
fn the_rules_and_the_dashboard_query_only_metrics_the_code_defines() {
    let defined = defined_metrics();
    for sure in ["indexer_events_total", "indexer_jetstream_dropped_total", "appview_xrpc_seconds"] {
        assert!(defined.contains(sure), "the source scan missed {sure}: found {defined:?}");
    }
    let rules = read(RULES);
    let recorded: BTreeSet<String> = yaml_values(&rules, "record").into_iter().collect();
    let mut queries: Vec<(String, String)> =
        yaml_values(&rules, "expr").into_iter().map(|e| (RULES.to_owned(), e)).collect();
    let alerts = yaml_values(&rules, "alert").len();
    assert!(
        alerts >= 7 && queries.len() >= alerts,
        "{RULES}: {alerts} alerts, {} expressions",
        queries.len()
    );

    let dashboard: serde_json::Value = serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is JSON");
    let before = queries.len();
    json_exprs(&dashboard, &mut queries);
    assert!(queries.len() - before >= 10, "{DASHBOARD}: only {} queries found", queries.len() - before);

    let mut unknown: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, expr) in &queries {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{file}: no metric found in {expr:?}");
        for name in names {
            if !known(&name, &defined, &recorded) {
                unknown.entry(name).or_default().push(format!("{file}: {}", expr.trim()));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "metrics queried in deploy/ that no code defines (renamed or removed?):\n{}",
        unknown
            .iter()
            .map(|(n, at)| format!("  {n}\n    in {}", at.join("\n    in ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Whether `name` is exported: a metric the code names, a histogram's series, a recording
/// rule's output, or Prometheus's own `up`.
fn known(name: &str, defined: &Defined, recorded: &BTreeSet<String>) -> bool {
    name == "up"
        || defined.contains(name)
        || recorded.contains(name)
        || ["_bucket", "_sum", "_count"]
            .iter()
            .any(|s| name.strip_suffix(s).is_some_and(|base| defined.histograms.contains(base)))
}

/// The metric names the services' sources define.
#[derive(Debug, Default)]
struct Defined {
    names: BTreeSet<String>,
    histograms: BTreeSet<String>,
}

impl Defined {
    fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

/// Reads every metrics macro of the services' sources: a literal name, or a constant
/// (`const DROPPED_TOTAL: &str = "..."`) resolved by its name to every value so named (a
/// name passed in as a parameter resolves to nothing: its callers pass the constants).
fn defined_metrics() -> Defined {
    let mut files = Vec::new();
    for krate in METRIC_CRATES {
        plyr_e2e::rust_files(&repo_root().join(krate).join("src"), &mut files);
    }
    let sources: Vec<String> = files.iter().map(|f| read_path(f)).collect();
    let mut consts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for src in &sources {
        for (name, value) in str_consts(src) {
            consts.entry(name).or_default().insert(value);
        }
    }
    let mut defined = Defined::default();
    for src in &sources {
        for &(mac, histogram) in MACROS {
            for (at, _) in src.match_indices(mac) {
                // `counter!(` inside `describe_counter!(` is found by both; either way a name.
                let arg = src[at + mac.len()..].trim_start();
                let names: Vec<String> = if let Some(rest) = arg.strip_prefix('"') {
                    rest.split('"').next().map(str::to_owned).into_iter().collect()
                } else {
                    let path: String = arg
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    let ident = path.rsplit("::").next().unwrap_or_default();
                    consts.get(ident).into_iter().flatten().cloned().collect()
                };
                for name in names {
                    if histogram {
                        defined.histograms.insert(name.clone());
                    }
                    defined.names.insert(name);
                }
            }
        }
    }
    defined
}

/// `const NAME: &str = "value";` (or `&'static str`) declarations of a source file.
fn str_consts(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in src.lines() {
        let Some(rest) = line.trim_start().split_once("const ").map(|(_, r)| r) else { continue };
        let Some((name, rest)) = rest.split_once(':') else { continue };
        let Some((ty, value)) = rest.split_once('=') else { continue };
        let literal = value.trim().strip_prefix('"').and_then(|v| v.strip_suffix("\";"));
        if let Some(literal) = literal.filter(|_| matches!(ty.trim(), "&str" | "&'static str")) {
            out.push((name.trim().to_owned(), literal.to_owned()));
        }
    }
    out
}

/// The metric names a PromQL expression selects: identifiers that are not functions,
/// aggregations, keywords, label names (in `{...}`, `by (...)`, `on (...)`, ...), strings,
/// durations or Grafana variables (`$__rate_interval`, `${x}`).
fn metric_names(expr: &str) -> Vec<String> {
    const AGGREGATIONS: &[&str] = &[
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ];
    const LABEL_LISTS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];
    const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '{' || c == '[' || (c == '$' && chars.get(i + 1) == Some(&'{')) {
            i = skip_group(&chars, i);
        } else if c == '#' {
            i = chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |n| i + n);
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' || c.is_ascii_digit() || c == '$' {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace()).copied();
            if c.is_ascii_digit() || c == '$' || KEYWORDS.contains(&word.as_str()) {
                // A number or duration, a Grafana variable, an operator.
            } else if LABEL_LISTS.contains(&word.as_str()) {
                if next == Some('(') {
                    i = skip_group(&chars, chars[i..].iter().position(|&c| c == '(').map_or(i, |n| i + n));
                }
            } else if next != Some('(') && !AGGREGATIONS.contains(&word.as_str()) {
                names.push(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The index after the string opening at `chars[open]`.
fn skip_string(chars: &[char], open: usize) -> usize {
    let quote = chars[open];
    let mut i = open + 1;
    while i < chars.len() && chars[i] != quote {
        i += if chars[i] == '\\' && quote != '`' { 2 } else { 1 };
    }
    i + 1
}

/// The index after the bracket closing the one at `chars[open]` (`(`, `{`, `[`, or `$` of `${`),
/// skipping strings inside it.
fn skip_group(chars: &[char], open: usize) -> usize {
    let open = if chars[open] == '$' { open + 1 } else { open };
    let (opening, closing) = match chars[open] {
        '(' => ('(', ')'),
        '{' => ('{', '}'),
        _ => ('[', ']'),
    };
    let mut depth = 0;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => {
                i = skip_string(chars, i);
                continue;
            }
            c if c == opening => depth += 1,
            c if c == closing => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

/// The values of every `key:` in a YAML document: plain, quoted, or a `|`/`>` block (whose
/// lines are joined with newlines, which PromQL reads as spaces).
fn yaml_values(yaml: &str, key: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start().trim_start_matches("- ");
        let Some(value) = trimmed.strip_prefix(key).and_then(|r| r.strip_prefix(':')) else { continue };
        let indent = line.len() - line.trim_start().len();
        let value = value.trim();
        if value.starts_with('|') || value.starts_with('>') {
            let block: Vec<&str> = lines[n + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
                .map(|l| l.trim())
                .collect();
            out.push(block.join("\n"));
        } else if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            out.push(inner.replace("''", "'"));
        } else if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            out.push(inner.replace("\\\"", "\"").replace("\\\\", "\\"));
        } else {
            out.push(value.to_owned());
        }
    }
    out
}

/// Every `"expr"` string of a Grafana dashboard (panel targets, rows' nested panels, variables).
fn json_exprs(value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push((DASHBOARD.to_owned(), e.clone())),
                    _ => json_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_exprs(v, out)),
        _ => {}
    }
}

/// `promtool` on `PATH`, else Debian's `prometheus` package installed to get it.
fn promtool() -> PathBuf {
    if let Some(found) = on_path("promtool") {
        return found;
    }
    if let Err(err) = plyr_e2e::debian::install("prometheus") {
        panic!("installing Debian's prometheus package (for promtool) failed: {err:#}");
    }
    on_path("promtool").unwrap_or_else(|| panic!("the prometheus package installed no promtool on PATH"))
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

fn read(relative: &str) -> String {
    read_path(&repo_root().join(relative))
}

fn read_path(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn metric_names_skip_functions_labels_strings_and_variables() {
    let cases: &[(&str, &[&str])] = &[
        ("up == 0", &["up"]),
        (r#"max(indexer_leader) < 1 or absent(indexer_leader)"#, &["indexer_leader", "indexer_leader"]),
        (
            r#"sum by (job, instance) (rate(a_total{status=~"x|y", le="}"}[5m])) / on(instance) group_left(job) b"#,
            &["a_total", "b"],
        ),
        ("sum(rate(c_sum[$__rate_interval])) / sum(rate(c_count[${interval}])) * 60", &["c_sum", "c_count"]),
        (r#"(x > 300) unless on(instance) (leader == 0) # a comment naming not_a_metric"#, &["x", "leader"]),
        (r#"histogram_quantile(0.99, sum without (method) (h_bucket offset 1h)) > 1e-3"#, &["h_bucket"]),
        (r#"label_replace(m, "dst", "$1", "src", "(.*)")"#, &["m"]),
    ];
    for (expr, expected) in cases {
        assert_eq!(metric_names(expr), *expected, "{expr}");
    }
}

#[test]
fn yaml_values_read_plain_quoted_and_block_scalars() {
    let yaml = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n      - record: r:x\n        \
                expr: 'sum(''q'')'\n      - alert: B\n        expr: >-\n          sum(a)\n          / sum(b)\n        for: 1m\n";
    assert_eq!(yaml_values(yaml, "expr"), ["up == 0", "sum('q')", "sum(a)\n/ sum(b)"]);
    assert_eq!(yaml_values(yaml, "alert"), ["A", "B"]);
    assert_eq!(yaml_values(yaml, "record"), ["r:x"]);
}
