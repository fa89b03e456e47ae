//! `indexer label apply|negate|list`, run as an operator would: the label stored as the
//! service's DID (signed when a key is given), announced, recorded with who, when and why; bad
//! input refused with a message and nothing written.

use std::process::{Command, Output};

use plyr_atproto::label::{Label, LabelSigner};
use plyr_store::testkit::TestDb;

const SERVICE: &str = "did:web:appview.example";
const ACCOUNT: &str = "did:plc:troll000000000000000000";
const KEY: &str = "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d";

fn indexer(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_indexer"))
        .arg("label")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("PLYR_SERVICE_DID", SERVICE)
        .env("USER", "alice")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run indexer")
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn stored(db: &TestDb) -> Vec<(String, String, String, bool, Option<Vec<u8>>)> {
    sqlx::query_as("SELECT src, uri, val, neg, raw FROM labels ORDER BY uri, val")
        .fetch_all(&db.pool)
        .await
        .expect("labels")
}

#[tokio::test]
async fn operators_apply_negate_and_list_takedowns() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let mut listener = sqlx::postgres::PgListener::connect_with(&db.pool).await?;
    listener.listen(plyr_store::changes::CHANNEL).await?;

    let out = stdout(&indexer(
        &db,
        &["apply", "--subject", ACCOUNT, "--val", "!takedown", "--reason", "spam ring"],
    ));
    assert!(out.contains("applied \"!takedown\"") && out.contains(ACCOUNT), "{out}");
    let note = listener.recv().await?;
    let change = plyr_store::changes::Change::parse(note.payload()).expect("payload");
    assert!(change.labels && change.dids == [ACCOUNT.to_owned()], "{change:?}");

    // Signed with the configured key: the stored label verifies with its public key.
    let track = "at://did:plc:artist00000000000000000/fm.plyr.track/3kabc";
    let signed = indexer(
        &db,
        &[
            "apply",
            "--subject",
            track,
            "--val",
            "copyright-violation",
            "--reason",
            "DMCA #12",
            "--by",
            "bob",
            "--signing-key",
            KEY,
        ],
    );
    stdout(&signed);
    let rows = stored(&db).await;
    assert_eq!(rows.len(), 2);
    let (src, uri, val, neg, raw) = &rows[0];
    assert_eq!(
        (src.as_str(), uri.as_str(), val.as_str(), *neg),
        (SERVICE, track, "copyright-violation", false)
    );
    let label = Label::from_cbor(raw.as_deref().expect("raw")).expect("decodes");
    label.verify(&LabelSigner::from_hex(KEY)?.public_key()?).expect("signed with the key");
    let unsigned = Label::from_cbor(rows[1].4.as_deref().expect("raw")).expect("decodes");
    assert_eq!(unsigned.sig, None);

    stdout(&indexer(
        &db,
        &["negate", "--subject", ACCOUNT, "--val", "!takedown", "--reason", "appeal upheld"],
    ));
    let rows = stored(&db).await;
    assert_eq!(rows[1].2, "!takedown");
    assert!(rows[1].3, "negated");

    let list = stdout(&indexer(&db, &["list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(
        lines[0].contains("alice negated \"!takedown\"") && lines[0].contains("(appeal upheld)"),
        "{list}"
    );
    assert!(
        lines[1].contains("bob applied \"copyright-violation\"") && lines[1].contains(", in force"),
        "{list}"
    );
    assert!(lines[2].contains("alice applied \"!takedown\"") && !lines[2].contains("in force"), "{list}");
    let one = stdout(&indexer(&db, &["list", "--subject", track]));
    assert_eq!(one.lines().count(), 1, "{one}");

    // Bad input: a message naming the problem, exit code 2, nothing written.
    for args in [
        vec!["apply", "--subject", "alice.example", "--val", "x", "--reason", "r"],
        vec!["apply", "--subject", ACCOUNT, "--val", "", "--reason", "r"],
        vec!["apply", "--subject", ACCOUNT, "--val", "x", "--reason", " "],
        vec!["apply", "--subject", ACCOUNT, "--val", "x"],
        vec!["apply", "--subject", ACCOUNT, "--val", "x", "--reason", "r", "--signing-key", "00"],
        vec!["apply", "--subject", ACCOUNT, "--val", "x", "--reason", "r", "--exp", "tomorrow"],
    ] {
        let out = indexer(&db, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(stored(&db).await.len(), 2);
    Ok(())
}
