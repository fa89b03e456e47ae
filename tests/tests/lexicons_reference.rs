//! Every lexicon document loads in the reference implementation (`@atproto/lexicon` from npm),
//! every ref resolves, and every id matches its file path.

use std::process::Command;

#[test]
fn all_lexicons_load_in_atproto_lexicon() {
    plyr_e2e::ensure_npm_packages().expect("npm packages for tests/js");
    let out = Command::new("node")
        .arg("check-lexicons.mjs")
        .current_dir(plyr_e2e::js_dir())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the reference lexicon implementation rejected a document:\n{stdout}");
    assert!(stdout.contains(" 0 failed"), "unexpected summary: {stdout}");
}
