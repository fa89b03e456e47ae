//! `replay --trust-stream-handles`: a replayed file's `#identity` events name handles (before the
//! accounts' first records, as a generated sample has them). Without the option no handle is
//! shown as verified; with it, an account whose DID resolves gets what the network says (not what
//! the file claims), and the others get the handle the file announced last, shown as verified.

mod support;

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use clap::Parser;
use plyr_indexer::IndexerOptions;
use plyr_store::testkit::TestDb;
use serde_json::{Value, json};
use support::{ALICE, BOB, CAROL, T0, cid_of, tid, track};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Indexer {
    #[command(flatten)]
    options: IndexerOptions,
}

/// A PLC directory and handle-resolving PDS on loopback that know only Alice, as
/// `alice-real.test`; returns its URL.
async fn directory() -> String {
    async fn document(Path(did): Path<String>) -> axum::response::Response {
        if did != ALICE {
            return StatusCode::NOT_FOUND.into_response();
        }
        axum::Json(json!({
            "id": did,
            "alsoKnownAs": ["at://alice-real.test"],
            "service": [{ "id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                          "serviceEndpoint": "https://pds.example.com" }],
        }))
        .into_response()
    }
    async fn resolve(Query(q): Query<std::collections::HashMap<String, String>>) -> axum::response::Response {
        match q.get("handle").map(String::as_str) {
            Some("alice-real.test") => axum::Json(json!({ "did": ALICE })).into_response(),
            _ => (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "HandleNotFound" }))).into_response(),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new()
        .route("/xrpc/com.atproto.identity.resolveHandle", axum::routing::get(resolve))
        .route("/{did}", axum::routing::get(document));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Identity events first (Bob announces two handles), then a track by each account.
fn stream() -> String {
    let mut lines = Vec::new();
    let mut t = T0;
    let mut at = || {
        t += 1_000_000;
        t
    };
    for (did, handle) in
        [(ALICE, "alice-claimed.test"), (BOB, "bob-old.test"), (CAROL, "Carol.Test"), (BOB, "bob.test")]
    {
        let identity = json!({ "did": did, "handle": handle, "seq": 1, "time": "2026-01-01T00:00:00Z" });
        lines.push(json!({ "did": did, "time_us": at(), "kind": "identity", "identity": identity }));
    }
    for (n, did) in [ALICE, BOB, CAROL].into_iter().enumerate() {
        let record = track(&format!("Track {n}"));
        let commit = json!({
            "rev": tid(n as u64), "operation": "create", "collection": "fm.plyr.track",
            "rkey": tid(n as u64), "cid": cid_of(&record), "record": record,
        });
        lines.push(json!({ "did": did, "time_us": at(), "kind": "commit", "commit": commit }));
    }
    lines.iter().map(Value::to_string).collect::<Vec<_>>().join("\n") + "\n"
}

/// `(did, handle, verified)` of every actor, by DID.
async fn handles(db: &TestDb) -> Vec<(String, Option<String>, bool)> {
    sqlx::query_as("SELECT did, handle, handle_verified FROM actors ORDER BY did")
        .fetch_all(&db.pool)
        .await
        .expect("actors")
}

#[tokio::test]
async fn a_replay_trusts_announced_handles_only_where_identities_do_not_resolve() {
    let directory = directory().await;
    let path = std::env::temp_dir().join(format!("plyr-trusted-handles-{}.jsonl", std::process::id()));
    std::fs::write(&path, stream()).expect("write the stream");
    let options = |trust: bool| {
        let mut args = vec!["indexer", "--plc-url", &directory, "--handle-pds", &directory];
        if trust {
            args.push("--trust-stream-handles");
        }
        Indexer::try_parse_from(args).expect("options").options
    };
    let replay = |db: &TestDb, trust: bool| {
        let (pool, options, path) = (db.pool.clone(), options(trust), path.clone());
        async move {
            plyr_indexer::cli::replay_file(pool, &options, &path, true, CancellationToken::new())
                .await
                .expect("replay")
        }
    };

    let db = TestDb::new().await.expect("db");
    replay(&db, false).await;
    let shown: Vec<_> = handles(&db).await.into_iter().filter(|(_, _, verified)| *verified).collect();
    assert_eq!(shown, Vec::new(), "without the option nothing is shown as verified");

    replay(&db, true).await;
    let mut expected = vec![
        (ALICE.to_owned(), Some("alice-real.test".to_owned()), true),
        (BOB.to_owned(), Some("bob.test".to_owned()), true),
        (CAROL.to_owned(), Some("carol.test".to_owned()), true),
    ];
    expected.sort();
    assert_eq!(handles(&db).await, expected, "Alice resolves; Bob's newest and Carol's claims are trusted");
    let pds: Option<String> = sqlx::query_scalar("SELECT pds_endpoint FROM actors WHERE did = $1")
        .bind(ALICE)
        .fetch_one(&db.pool)
        .await
        .expect("pds");
    assert_eq!(pds.as_deref(), Some("https://pds.example.com"), "a resolved identity is stored whole");
    let _ = std::fs::remove_file(&path);
}
