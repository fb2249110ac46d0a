//! Gated repositories end to end in-process: who may download what, requests in manual and
//! automatic mode, agreements that change, and the authors' side of the API.

mod common;

use axum::http::{Method, StatusCode};
use common::{Hub, answers, gated_repo};
use serde_json::{Value, json};
use sha2::Digest;
use weighhouse_hub::admin;
use weighhouse_hub::auth::Role;

const W: &str = "/alice/g/resolve/main/weights/w.bin";

fn assert_gated(r: &common::Resp, status: StatusCode, message_part: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("x-error-code"), "GatedRepo");
    assert!(
        r.header("x-error-message").contains(message_part),
        "{:?} lacks {message_part:?}",
        r.header("x-error-message")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gated_files_need_a_grant_but_metadata_and_terms_stay_readable() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    gated_repo(&hub, &alice, "manual").await;

    for method in [Method::GET, Method::HEAD] {
        let r = hub.call(method.clone(), W, None, "", "").await;
        assert_gated(
            &r,
            StatusCode::UNAUTHORIZED,
            "Access to model alice/g is restricted. You must have access to it and be authenticated to access it. Please log in.",
        );
        let r = hub.call(method, W, Some(&bob), "", "").await;
        assert_gated(
            &r,
            StatusCode::FORBIDDEN,
            "Access to model alice/g is restricted and you are not in the authorized list. Visit http://hub.test/alice/g to ask for access.",
        );
    }
    // Missing files of a gated repository answer the gate, not "not found".
    assert_gated(
        &hub.get("/alice/g/resolve/main/nope.bin", Some(&bob)).await,
        StatusCode::FORBIDDEN,
        "not in the authorized list",
    );
    assert_gated(
        &hub.get("/alice/g/resolve/main/config.json", None).await,
        StatusCode::UNAUTHORIZED,
        "Please log in",
    );
    // The owner, and members of the namespace with any role, bypass the gate.
    let r = hub.get(W, Some(&alice)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..], b"\x01\x02\x03 weights");
    admin::create_org(hub.app.db(), "acme").await.unwrap();
    let carol = hub.user("carol").await;
    admin::add_member(hub.app.db(), "acme", "carol", Role::Read)
        .await
        .unwrap();
    admin::add_member(hub.app.db(), "acme", "alice", Role::Write)
        .await
        .unwrap();
    let r = hub
        .post_json("/api/repos/create", Some(&alice), json!({"name": "acme/g"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    hub.commit("acme/g", &alice, &[("w.bin", b"org weights")])
        .await;
    hub.set_gated("acme/g", &alice, json!("auto")).await;
    assert_eq!(
        hub.get("/acme/g/resolve/main/w.bin", Some(&carol))
            .await
            .status,
        StatusCode::OK
    );
    assert_gated(
        &hub.get("/acme/g/resolve/main/w.bin", Some(&bob)).await,
        StatusCode::FORBIDDEN,
        "Visit http://hub.test/acme/g",
    );

    // The terms, the card and .gitattributes are readable by anyone.
    for file in ["README.md", "LICENSE", "NOTICE", ".gitattributes"] {
        let r = hub
            .get(&format!("/alice/g/resolve/main/{file}"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{file}: {}", r.text());
    }
    // Repository info, tree and paths-info stay readable, and show the mode.
    let info = hub.get("/api/models/alice/g", None).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.json()["gated"], "manual");
    let tree = hub
        .all_pages("/api/models/alice/g/tree/main?recursive=true", "path")
        .await;
    assert!(tree.iter().any(|p| p == "weights/w.bin"), "{tree:?}");
    let pi = hub
        .post_json(
            "/api/models/alice/g/paths-info/main",
            None,
            json!({"paths": ["weights/w.bin"]}),
        )
        .await;
    assert_eq!(pi.status, StatusCode::OK);
    assert_eq!(pi.json()[0]["path"], "weights/w.bin");
    // The gate and its agreement are readable anonymously.
    let g = hub.get("/api/models/alice/g/gate", None).await.json();
    assert_eq!(g["gated"], "manual");
    assert_eq!(g["status"], "not-requested");
    assert_eq!(g["access"], false);
    let a = &g["agreement"];
    assert!(a["text"].as_str().unwrap().contains("Use it kindly."));
    assert!(a["text"].as_str().unwrap().contains("Terms v1: be kind."));
    assert_eq!(a["license_file"], "LICENSE");
    assert_eq!(
        a["sha256"],
        hex::encode(sha2::Sha256::digest(a["text"].as_str().unwrap().as_bytes()))
    );
    let labels: Vec<&str> = a["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Company", "Country", "I agree to the terms"]);

    // Ungating opens the files again.
    hub.set_gated("alice/g", &alice, json!(false)).await;
    assert_eq!(hub.get(W, None).await.status, StatusCode::OK);
    assert_eq!(
        hub.get("/api/models/alice/g", None).await.json()["gated"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_gated_repositories_stay_invisible() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    gated_repo(&hub, &alice, "manual").await;
    let r = hub
        .put_json(
            "/api/models/alice/g/settings",
            Some(&alice),
            json!({"private": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for uri in [W, "/api/models/alice/g/gate"] {
        for who in [None, Some(bob.as_str())] {
            let r = hub.get(uri, who).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(r.header("x-error-code"), "RepoNotFound");
        }
    }
    let sha = "0".repeat(64);
    assert_eq!(
        hub.ask("alice/g", &bob, &sha, answers()).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_requests_are_reviewed_and_bound_to_the_agreement() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    gated_repo(&hub, &alice, "manual").await;
    let sha = hub.agreement_sha("alice/g").await;

    // Asking needs a login, the current agreement's hash and a complete form.
    let r = hub
        .post_json(
            "/api/models/alice/g/ask-access",
            None,
            json!({"agreement_sha256": sha, "fields": answers()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = hub.ask("alice/g", &bob, &"ab".repeat(32), answers()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(r.header("x-error-message").contains("read it again"));
    let r = hub
        .ask("alice/g", &bob, &sha, json!({"Company": "Acme"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.header("x-error-message").contains("Country"));
    let r = hub
        .ask(
            "alice/g",
            &bob,
            &sha,
            json!({"Company": "Acme", "Country": "XX", "I agree to the terms": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = hub.ask("alice/g", &bob, &sha, answers()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "pending");
    assert_eq!(hub.get(W, Some(&bob)).await.status, StatusCode::FORBIDDEN);
    let g = hub.get("/api/models/alice/g/gate", Some(&bob)).await.json();
    assert_eq!(g["status"], "pending");

    // The owner sees the request with its answers, as huggingface_hub reads it.
    let pending = hub
        .get(
            "/api/models/alice/g/user-access-request/pending",
            Some(&alice),
        )
        .await;
    assert_eq!(pending.status, StatusCode::OK);
    let items = pending.json();
    assert_eq!(items.as_array().unwrap().len(), 1);
    let item = &items[0];
    assert_eq!(item["user"]["user"], "bob");
    assert_eq!(item["status"], "pending");
    assert!(item["requestId"].is_string());
    assert!(item["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(item["fields"]["Country"], "FR");
    assert_eq!(item["fields"]["I agree to the terms"], true);

    // Bob may not review requests.
    let r = hub
        .handle(
            "alice/g",
            &bob,
            json!({"user": "bob", "status": "accepted"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        hub.get(
            "/api/models/alice/g/user-access-request/pending",
            Some(&bob)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let r = hub
        .handle(
            "alice/g",
            &alice,
            json!({"user": "bob", "status": "accepted"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = hub.get(W, Some(&bob)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..], b"\x01\x02\x03 weights");
    let g = hub.get("/api/models/alice/g/gate", Some(&bob)).await.json();
    assert_eq!(
        (g["status"].as_str(), g["access"].as_bool()),
        (Some("accepted"), Some(true))
    );

    // A new prompt is a new agreement: the grant no longer counts.
    let card = common::CARD.replace("Use it kindly.", "Use it very kindly.");
    hub.commit("alice/g", &alice, &[("README.md", card.as_bytes())])
        .await;
    let r = hub.get(W, Some(&bob)).await;
    assert_gated(&r, StatusCode::FORBIDDEN, "not in the authorized list");
    let body = r.json();
    assert_eq!(body["status"], "outdated");
    assert_eq!(body["license"], "other");
    assert_eq!(
        body["request_url"],
        "http://hub.test/api/models/alice/g/gate"
    );
    let g = hub.get("/api/models/alice/g/gate", Some(&bob)).await.json();
    assert_eq!(g["status"], "outdated");
    let sha2 = g["agreement"]["sha256"].as_str().unwrap().to_string();
    assert_ne!(sha2, sha);
    // The old hash is refused; the new one starts a new request.
    assert_eq!(
        hub.ask("alice/g", &bob, &sha, answers()).await.status,
        StatusCode::CONFLICT
    );
    let r = hub.ask("alice/g", &bob, &sha2, answers()).await;
    assert_eq!(r.json()["status"], "pending");

    // Rejected, with a reason the user sees; asking again for the same agreement is refused.
    let long = "x".repeat(201);
    let r = hub
        .handle(
            "alice/g",
            &alice,
            json!({"user": "bob", "status": "rejected", "rejectionReason": long}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = hub
        .handle(
            "alice/g",
            &alice,
            json!({"user": "bob", "status": "rejected", "rejectionReason": "No commercial use"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let rejected = hub
        .get(
            "/api/models/alice/g/user-access-request/rejected",
            Some(&alice),
        )
        .await
        .json();
    assert_eq!(rejected[0]["user"]["user"], "bob");
    assert_eq!(rejected[0]["rejectionReason"], "No commercial use");
    let g = hub.get("/api/models/alice/g/gate", Some(&bob)).await.json();
    assert_eq!(g["status"], "rejected");
    assert_eq!(g["rejectionReason"], "No commercial use");
    let r = hub.ask("alice/g", &bob, &sha2, answers()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.header("x-error-message").contains("rejected"));
    let r = hub.get(W, Some(&bob)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["status"], "rejected");
    assert_eq!(r.json()["rejectionReason"], "No commercial use");

    // A changed licence file is a new agreement too, which a rejected user may ask for.
    hub.commit("alice/g", &alice, &[("LICENSE", b"Terms v2.\n")])
        .await;
    let sha3 = hub.agreement_sha("alice/g").await;
    assert_ne!(sha3, sha2);
    let r = hub.ask("alice/g", &bob, &sha3, answers()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "pending");

    // Every step is in the audit log, with the answers kept out of the hashed record.
    let events: Vec<String> = hub
        .audit()
        .await
        .iter()
        .filter(|e| e["event"].as_str().unwrap().starts_with("access."))
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events,
        [
            "access.request",
            "access.accept",
            "access.request",
            "access.reject",
            "access.request"
        ]
    );
    let entries = hub.audit().await;
    let req = entries
        .iter()
        .find(|e| e["event"] == "access.request")
        .unwrap();
    assert_eq!(req["data"]["user"], "bob");
    assert_eq!(req["data"]["agreement_sha256"], sha.as_str());
    assert_eq!(req["data"]["fields_sha256"].as_str().unwrap().len(), 64);
    assert!(
        !req.to_string().contains("Acme"),
        "answers in the hashed record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_mode_grants_at_once_and_ungated_repos_need_no_request() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    gated_repo(&hub, &alice, "auto").await;
    let sha = hub.agreement_sha("alice/g").await;
    assert_eq!(hub.get(W, Some(&bob)).await.status, StatusCode::FORBIDDEN);
    let r = hub.ask("alice/g", &bob, &sha, answers()).await;
    assert_eq!(r.json()["status"], "accepted");
    assert_eq!(hub.get(W, Some(&bob)).await.status, StatusCode::OK);
    let accepted = hub
        .get(
            "/api/models/alice/g/user-access-request/accepted",
            Some(&alice),
        )
        .await
        .json();
    assert_eq!(accepted[0]["user"]["user"], "bob");
    // Asking again changes nothing.
    let r = hub.ask("alice/g", &bob, &sha, answers()).await;
    assert_eq!(r.json()["status"], "accepted");

    hub.create_repo(&alice, "open").await;
    let sha = hub.agreement_sha("alice/open").await;
    let r = hub.ask("alice/open", &bob, &sha, json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.header("x-error-message").contains("not gated"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_handle_and_cancel_need_write_access() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    let carol = hub.user("carol").await;
    gated_repo(&hub, &alice, "manual").await;
    let grant = |token: String, user: &'static str| {
        let hub = &hub;
        async move {
            hub.post_json(
                "/api/models/alice/g/user-access-request/grant",
                Some(&token),
                json!({ "user": user }),
            )
            .await
        }
    };
    assert_eq!(
        grant(bob.clone(), "carol").await.status,
        StatusCode::FORBIDDEN
    );
    let read_only = admin::create_token(hub.app.db(), "alice", Role::Read, "ro")
        .await
        .unwrap();
    assert_eq!(
        grant(read_only.clone(), "carol").await.status,
        StatusCode::FORBIDDEN
    );
    let r = grant(alice.clone(), "nobody").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.header("x-error-message").contains("nobody"));
    let r = hub
        .handle(
            "alice/g",
            &alice,
            json!({"user": "nobody", "status": "accepted"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.header("x-error-message").is_empty());

    let r = grant(alice.clone(), "carol").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "accepted");
    assert_eq!(hub.get(W, Some(&carol)).await.status, StatusCode::OK);
    assert_eq!(
        grant(alice.clone(), "carol").await.status,
        StatusCode::BAD_REQUEST,
        "already has access"
    );
    // Cancel puts the grant back to pending, by request id.
    let accepted = hub
        .get(
            "/api/models/alice/g/user-access-request/accepted",
            Some(&alice),
        )
        .await
        .json();
    let id = accepted[0]["requestId"].as_str().unwrap().to_string();
    let r = hub
        .handle(
            "alice/g",
            &alice,
            json!({"requestId": id, "status": "pending"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(hub.get(W, Some(&carol)).await.status, StatusCode::FORBIDDEN);
    let pending = hub
        .get(
            "/api/models/alice/g/user-access-request/pending",
            Some(&alice),
        )
        .await
        .json();
    assert_eq!(pending[0]["user"]["user"], "carol");
    // A reason only goes with a rejection; the status must be one of the three.
    for body in [
        json!({"user": "carol", "status": "accepted", "rejectionReason": "x"}),
        json!({"user": "carol", "status": "granted"}),
        json!({"status": "accepted"}),
    ] {
        let r = hub.handle("alice/g", &alice, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
    }
    // A grant is stored with the current agreement's hash.
    let sha = hub.agreement_sha("alice/g").await;
    let grants: Vec<Value> = hub
        .audit()
        .await
        .into_iter()
        .filter(|e| e["event"] == "access.grant")
        .collect();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["data"]["agreement_sha256"], sha.as_str());
    assert_eq!(grants[0]["actor"]["user"], "alice");
    // Ungated repositories take no grants.
    hub.create_repo(&alice, "open").await;
    let r = hub
        .post_json(
            "/api/models/alice/open/user-access-request/grant",
            Some(&alice),
            json!({"user": "carol"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

async fn lfs_batch(
    hub: &Hub,
    repo: &str,
    token: Option<&str>,
    oid: &str,
    size: usize,
) -> common::Resp {
    hub.call(
        Method::POST,
        &format!("/{repo}.git/info/lfs/objects/batch"),
        token,
        "application/vnd.git-lfs+json",
        json!({"operation": "download", "transfers": ["basic"], "objects": [{"oid": oid, "size": size}]}).to_string(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lfs_downloads_follow_the_gate() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    gated_repo(&hub, &alice, "manual").await;
    let content = vec![42u8; 4096];
    let oid = hex::encode(sha2::Sha256::digest(&content));
    let r = hub
        .call(
            Method::POST,
            "/alice/g.git/info/lfs/objects/batch",
            Some(&alice),
            "application/vnd.git-lfs+json",
            json!({"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": content.len()}]}).to_string(),
        )
        .await;
    let href = r.json()["objects"][0]["actions"]["upload"]["href"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://hub.test")
        .to_string();
    assert_eq!(
        hub.call(Method::PUT, &href, None, "", content.clone())
            .await
            .status,
        StatusCode::OK
    );
    hub.commit_lines(
        "alice/g",
        &alice,
        &[
            json!({"key": "header", "value": {"summary": "lfs", "description": ""}}),
            json!({"key": "lfsFile", "value": {"path": "model.safetensors", "algo": "sha256", "oid": oid, "size": content.len()}}),
        ],
    )
    .await;

    assert_gated(
        &lfs_batch(&hub, "alice/g", None, &oid, content.len()).await,
        StatusCode::UNAUTHORIZED,
        "Please log in",
    );
    assert_gated(
        &lfs_batch(&hub, "alice/g", Some(&bob), &oid, content.len()).await,
        StatusCode::FORBIDDEN,
        "not in the authorized list",
    );
    // Another repository's endpoint does not hand out this repository's objects.
    hub.create_repo(&bob, "mine").await;
    let r = lfs_batch(&hub, "bob/mine", Some(&bob), &oid, content.len()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.json()["objects"][0].get("actions").is_none(),
        "{}",
        r.text()
    );
    assert_eq!(r.json()["objects"][0]["error"]["code"], 404);
    // The owner downloads without being logged; a granted user is logged.
    let r = lfs_batch(&hub, "alice/g", Some(&alice), &oid, content.len()).await;
    assert!(r.json()["objects"][0]["actions"]["download"]["href"].is_string());
    let r = hub
        .post_json(
            "/api/models/alice/g/user-access-request/grant",
            Some(&alice),
            json!({"user": "bob"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = lfs_batch(&hub, "alice/g", Some(&bob), &oid, content.len()).await;
    let href = r.json()["objects"][0]["actions"]["download"]["href"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://hub.test")
        .to_string();
    let r = hub.get(&href, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..], &content[..]);
    let downloads: Vec<Value> = hub
        .audit()
        .await
        .into_iter()
        .filter(|e| e["event"] == "download")
        .collect();
    assert_eq!(downloads.len(), 1, "{downloads:?}");
    assert_eq!(downloads[0]["data"]["user"], "bob");
    assert_eq!(downloads[0]["data"]["oid"], oid.as_str());
    assert_eq!(downloads[0]["target"]["repo"], "models/alice/g");
    // Objects only older commits hold are still served.
    hub.commit_lines(
        "alice/g",
        &alice,
        &[
            json!({"key": "header", "value": {"summary": "rm", "description": ""}}),
            json!({"key": "deletedFile", "value": {"path": "model.safetensors"}}),
        ],
    )
    .await;
    let r = lfs_batch(&hub, "alice/g", Some(&bob), &oid, content.len()).await;
    assert!(
        r.json()["objects"][0]["actions"]["download"]["href"].is_string(),
        "{}",
        r.text()
    );
}
