//! The tamper-evident audit log: records hash to what they say, verification names the entry
//! that was edited, removed, reordered or cut off, erasing personal data keeps the chain, and
//! site administrators export it as NDJSON.

mod common;

use axum::http::StatusCode;
use common::{CLIENT, Hub, answers, gated_repo};
use serde_json::{Value, json};
use weighhouse_hub::audit::{self, Problem, canonical_json, sha256_hex};
use weighhouse_hub::{admin, db};

/// A hub with a few dozen entries: users, a gated repository, a request and a download.
async fn busy_hub() -> Hub {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    gated_repo(&hub, &alice, "auto").await;
    let sha = hub.agreement_sha("alice/g").await;
    let r = hub.ask("alice/g", &bob, &sha, answers()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = hub
        .get("/alice/g/resolve/main/weights/w.bin", Some(&bob))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    hub
}

async fn verify(hub: &Hub) -> Result<audit::Intact, audit::Broken> {
    admin::audit_verify(hub.app.db(), &hub.data())
        .await
        .unwrap()
}

async fn exec(hub: &Hub, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(hub.app.db())
        .await
        .unwrap();
}

fn broken(r: Result<audit::Intact, audit::Broken>) -> audit::Broken {
    match r {
        Ok(i) => panic!("the chain verified: {i:?}"),
        Err(b) => b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_canonical_json_chained_by_hash() {
    let hub = busy_hub().await;
    let entries = hub.audit().await;
    assert!(entries.len() >= 8, "{entries:?}");
    let mut prev = audit::GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        let record = json!({
            "seq": e["seq"], "ts": e["ts"], "actor": e["actor"], "event": e["event"],
            "target": e["target"], "data": e["data"], "prev_hash": e["prev_hash"],
        });
        assert_eq!(e["seq"], i as i64 + 1);
        assert_eq!(e["prev_hash"], prev.as_str());
        assert_eq!(e["hash"], sha256_hex(&canonical_json(&record)).as_str());
        prev = e["hash"].as_str().unwrap().to_string();
    }
    let events: Vec<&str> = entries
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for wanted in [
        "user.create",
        "repo.create",
        "commit",
        "repo.settings",
        "access.request",
        "access.accept",
        "download",
    ] {
        assert!(events.contains(&wanted), "{wanted} missing from {events:?}");
    }
    let settings = entries
        .iter()
        .find(|e| e["event"] == "repo.settings")
        .unwrap();
    assert_eq!(
        settings["data"]["gated"],
        json!({"from": "false", "to": "auto"})
    );
    let download = entries.iter().find(|e| e["event"] == "download").unwrap();
    assert_eq!(download["data"]["file"], "weights/w.bin");
    assert_eq!(download["data"]["user"], "bob");
    assert_eq!(download["data"]["bytes"], 11);
    assert_eq!(download["target"]["revision"].as_str().unwrap().len(), 40);
    let ok = verify(&hub).await.unwrap();
    assert_eq!(ok.count, entries.len() as u64);
    assert_eq!(ok.head.unwrap().hash, prev);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_entry_is_named() {
    let hub = busy_hub().await;
    exec(
        &hub,
        "UPDATE audit SET detail = '{\"user\":\"mallory\"}' WHERE id = 3",
    )
    .await;
    let b = broken(verify(&hub).await);
    assert_eq!((b.seq, b.problem), (3, Problem::Altered), "{}", b.message);

    // Rewriting the record and its hash consistently is caught by the next entry.
    let hub = busy_hub().await;
    let (text, at): (String, i64) = sqlx::query_as("SELECT record, at FROM audit WHERE id = 4")
        .fetch_one(hub.app.db())
        .await
        .unwrap();
    let mut rec: Value = serde_json::from_str(&text).unwrap();
    rec["ts"] = json!(db::iso_ms(at + 1000));
    let text = canonical_json(&rec);
    sqlx::query("UPDATE audit SET record = ?, hash = ?, at = ? WHERE id = 4")
        .bind(&text)
        .bind(sha256_hex(&text))
        .bind(at + 1000)
        .execute(hub.app.db())
        .await
        .unwrap();
    let b = broken(verify(&hub).await);
    assert_eq!((b.seq, b.problem), (4, Problem::Altered), "{}", b.message);
    assert!(b.message.contains("entry 4"), "{}", b.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_entry_is_named() {
    let hub = busy_hub().await;
    exec(&hub, "DELETE FROM audit WHERE id = 5").await;
    let b = broken(verify(&hub).await);
    assert_eq!((b.seq, b.problem), (5, Problem::Removed), "{}", b.message);
    assert!(b.message.contains("entry 5 is missing"), "{}", b.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_entries_are_named() {
    let hub = busy_hub().await;
    // Swap the contents of rows 3 and 6, every column but the row id.
    let cols = "at, user_name, token_id, action, repo, detail, prev_hash, hash, record, personal";
    exec(
        &hub,
        &format!("CREATE TABLE t AS SELECT id, {cols} FROM audit WHERE id IN (3, 6)"),
    )
    .await;
    let set: Vec<String> = cols
        .split(", ")
        .map(|c| format!("{c} = (SELECT {c} FROM t WHERE t.id = 9 - audit.id)"))
        .collect();
    exec(
        &hub,
        &format!("UPDATE audit SET {} WHERE id IN (3, 6)", set.join(", ")),
    )
    .await;
    let b = broken(verify(&hub).await);
    assert_eq!((b.seq, b.problem), (3, Problem::Reordered), "{}", b.message);
    assert!(b.message.contains("entry 6"), "{}", b.message);

    // Swapping the row ids instead reads the same.
    let hub = busy_hub().await;
    exec(&hub, "UPDATE audit SET id = -1 WHERE id = 2").await;
    exec(&hub, "UPDATE audit SET id = 2 WHERE id = 4").await;
    exec(&hub, "UPDATE audit SET id = 4 WHERE id = -1").await;
    let b = broken(verify(&hub).await);
    assert_eq!((b.seq, b.problem), (2, Problem::Reordered), "{}", b.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_tail_is_caught_by_the_anchor() {
    let hub = busy_hub().await;
    // Without an anchor, cutting the tail cannot be seen; with one it can.
    let head = admin::write_anchor(hub.app.db(), &hub.data())
        .await
        .unwrap()
        .unwrap();
    let text = std::fs::read_to_string(hub.data().join("audit.head")).unwrap();
    let anchor: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(anchor, json!({"seq": head.seq, "hash": head.hash}));
    assert_eq!(verify(&hub).await.unwrap().anchor.unwrap(), head);
    exec(
        &hub,
        &format!("DELETE FROM audit WHERE id >= {}", head.seq - 1),
    )
    .await;
    let b = broken(verify(&hub).await);
    assert_eq!(
        (b.seq, b.problem),
        (head.seq, Problem::Truncated),
        "{}",
        b.message
    );
    // The anchor is kept as evidence rather than moved back.
    assert!(
        admin::write_anchor(hub.app.db(), &hub.data())
            .await
            .is_err()
    );
    // New entries written over the cut reuse its numbers with other hashes.
    hub.user("carol").await;
    hub.user("dave").await;
    let b = broken(verify(&hub).await);
    assert_eq!(
        (b.seq, b.problem),
        (head.seq, Problem::Anchor),
        "{}",
        b.message
    );

    // A damaged anchor file fails the check too.
    let hub = busy_hub().await;
    std::fs::write(hub.data().join("audit.head"), "not json").unwrap();
    assert_eq!(broken(verify(&hub).await).problem, Problem::Anchor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_personal_data_keeps_the_chain() {
    let hub = busy_hub().await;
    admin::write_anchor(hub.app.db(), &hub.data())
        .await
        .unwrap();
    let q = audit::Query {
        since: 0,
        limit: i64::MAX,
        event: Some("access".into()),
        personal: true,
    };
    let before = audit::export(hub.app.db(), &q).await.unwrap();
    let request = before
        .iter()
        .find(|e| e["event"] == "access.request")
        .unwrap();
    assert_eq!(request["personal"]["answers"]["Company"], "Acme");
    assert_eq!(request["personal"]["ip"], CLIENT);
    let n = admin::audit_erase(hub.app.db(), "bob").await.unwrap();
    assert!(n >= 3, "{n}");
    let after = audit::export(hub.app.db(), &q).await.unwrap();
    for e in &after {
        if e["data"]["user"] == "bob" || e["actor"]["user"] == "bob" {
            assert_eq!(e["personal"], Value::Null, "{e}");
        }
    }
    // Alice's own entries keep theirs.
    let all = audit::export(
        hub.app.db(),
        &audit::Query {
            event: None,
            ..q.clone()
        },
    )
    .await
    .unwrap();
    let create = all.iter().find(|e| e["event"] == "repo.create").unwrap();
    assert_eq!(create["actor"]["user"], "alice");
    assert_eq!(create["personal"]["ip"], CLIENT);
    let ok = verify(&hub).await.unwrap();
    let last = hub.audit().await.pop().unwrap();
    assert_eq!(last["event"], "audit.erase");
    assert_eq!(ok.count, last["seq"].as_u64().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_admins_export_ndjson_and_the_export_is_logged() {
    let hub = busy_hub().await;
    let root = hub.admin_user("root").await;
    let bob_token = admin::create_token(hub.app.db(), "bob", weighhouse_hub::auth::Role::Read, "t")
        .await
        .unwrap();
    assert_eq!(
        hub.get("/api/admin/audit", Some(&bob_token)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        hub.get("/api/admin/audit", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = hub
        .get("/api/admin/audit?since=2&limit=4", Some(&root))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "application/x-ndjson");
    let lines: Vec<Value> = r
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| l["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [3, 4, 5, 6]
    );
    for l in &lines {
        assert!(l.get("personal").is_none());
        let mut rec = l.clone();
        let hash = rec.as_object_mut().unwrap().remove("hash").unwrap();
        assert_eq!(hash, sha256_hex(&canonical_json(&rec)).as_str());
    }
    let r = hub
        .get("/api/admin/audit?event=access&personal=true", Some(&root))
        .await;
    let lines: Vec<Value> = r
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    assert!(
        lines
            .iter()
            .all(|l| l["event"].as_str().unwrap().starts_with("access."))
    );
    assert!(lines.iter().any(|l| l["personal"]["answers"].is_object()));
    assert_eq!(
        hub.get("/api/admin/audit?since=x", Some(&root))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let exports: Vec<Value> = hub
        .audit()
        .await
        .into_iter()
        .filter(|e| e["event"] == "audit.export")
        .collect();
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[0]["actor"]["user"], "root");
    assert_eq!(exports[0]["data"]["count"], 4);
    assert_eq!(exports[1]["data"]["event"], "access");
    assert!(verify(&hub).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_audit_table_is_brought_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
        for sql in [
            "CREATE TABLE audit (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, user_name TEXT, token_id INTEGER, action TEXT NOT NULL, repo TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
            "INSERT INTO audit VALUES (1, 1700000000000, NULL, NULL, 'user.create', NULL, '{\"user\":\"alice\"}', 'x', 'y')",
            "INSERT INTO audit VALUES (2, 1700000001000, 'alice', 1, 'repo.create', 'models/alice/m', '{\"private\":false}', 'y', 'z')",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let pool = weighhouse_hub::open_db(&path).await.unwrap();
    let ok = audit::verify(&pool, None).await.unwrap().unwrap();
    assert_eq!(ok.count, 2);
    let entries = audit::list(&pool, 0, 10).await.unwrap();
    assert_eq!(entries[1]["event"], "repo.create");
    assert_eq!(entries[1]["actor"]["user"], "alice");
    assert_eq!(entries[1]["data"], json!({"private": false}));
    // New entries continue the chain.
    let mut tx = db::write(&pool).await.unwrap();
    audit::record(
        &mut tx,
        &audit::Actor::default(),
        "org.create",
        None,
        json!({"org": "acme"}),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(audit::verify(&pool, None).await.unwrap().unwrap().count, 3);
    // Opening again changes nothing.
    pool.close().await;
    let pool = weighhouse_hub::open_db(&path).await.unwrap();
    assert_eq!(audit::verify(&pool, None).await.unwrap().unwrap().count, 3);
}
