//! String-syntax interop vectors: every line of every `syntax/*.txt` file, both the canonical
//! interop set and the monorepo copy, against the matching `plyr_atproto::syntax` validator.

use std::path::{Path, PathBuf};

use plyr_atproto::syntax::{
    is_valid_at_identifier, is_valid_at_uri, is_valid_cid, is_valid_datetime, is_valid_did, is_valid_handle,
    is_valid_language, is_valid_nsid, is_valid_record_key, is_valid_tid, is_valid_uri,
};

type Validator = fn(&str) -> bool;

/// File-name prefix -> validator.
const FAMILIES: [(&str, Validator); 11] = [
    ("atidentifier", is_valid_at_identifier),
    ("aturi", is_valid_at_uri),
    ("cid", is_valid_cid),
    ("datetime", is_valid_datetime),
    ("did", is_valid_did),
    ("handle", is_valid_handle),
    ("language", is_valid_language),
    ("nsid", is_valid_nsid),
    ("recordkey", is_valid_record_key),
    ("tid", is_valid_tid),
    ("uri", is_valid_uri),
];

fn fixture_dir(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/syntax").join(set)
}

/// `(line number, value)` for every case line: not blank, not a `#` comment, and kept
/// exactly as written apart from the newline.
fn cases(text: &str) -> Vec<(usize, &str)> {
    text.split('\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(i, line)| (i + 1, line))
        .collect()
}

/// Runs every file of one set; returns the number of cases per file. Panics with every
/// failing `file:line: value` at once.
fn run_set(set: &str) -> Vec<(String, usize)> {
    let dir = fixture_dir(set);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.map(|e| e.path()).expect("dir entry"))
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();

    let mut counts = Vec::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("utf-8 file name");
        let (family, _) = name.split_once('_').expect("family_kind_validity.txt");
        let (_, validator) = FAMILIES
            .iter()
            .find(|(prefix, _)| *prefix == family)
            .unwrap_or_else(|| panic!("no validator for {name}"));
        let expect_valid = name.ends_with("_valid.txt");
        let text = std::fs::read_to_string(path).expect("read fixture");
        let cases = cases(&text);
        for (line, value) in &cases {
            if validator(value) != expect_valid {
                let verdict = if expect_valid { "rejected" } else { "accepted" };
                failures.push(format!("{set}/{name}:{line}: {verdict} {value:?}"));
            }
        }
        counts.push((name.to_owned(), cases.len()));
    }
    for (name, count) in &counts {
        println!("{set}/{name}: {count} cases");
    }
    assert!(failures.is_empty(), "{} failing vectors:\n{}", failures.len(), failures.join("\n"));
    counts
}

fn total(counts: &[(String, usize)]) -> usize {
    counts.iter().map(|(_, n)| n).sum()
}

#[test]
fn canonical_interop_syntax_vectors() {
    let counts = run_set("canonical");
    assert_eq!(counts.len(), 24, "files: {counts:?}");
    assert_eq!(total(&counts), 536, "cases per file: {counts:?}");
}

#[test]
fn monorepo_syntax_vectors() {
    let counts = run_set("monorepo");
    assert_eq!(counts.len(), 20, "files: {counts:?}");
    assert_eq!(total(&counts), 496, "cases per file: {counts:?}");
}

#[test]
fn comment_and_whitespace_handling() {
    let text = "# comment\n\n value \nplain\n";
    assert_eq!(cases(text), vec![(3, " value "), (4, "plain")]);
}
