//! Likes, download counts, duplicating a repository, squashing a branch's history, a namespace's
//! repository list and request ids: the Hub API calls beyond files and commits.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::Hub;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn likes_are_counted_listed_and_private_ones_stay_private() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    hub.create_repo(&alice, "open").await;
    assert_eq!(
        hub.create_repo_as(&alice, "secret", true).await.status,
        StatusCode::OK
    );

    for (who, repo) in [
        (&alice, "alice/open"),
        (&bob, "alice/open"),
        (&alice, "alice/secret"),
    ] {
        let r = hub
            .call(
                Method::POST,
                &format!("/api/models/{repo}/like"),
                Some(who),
                "",
                Body::empty(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    // Liking twice is one like.
    hub.call(
        Method::POST,
        "/api/models/alice/open/like",
        Some(&bob),
        "",
        Body::empty(),
    )
    .await;
    assert_eq!(
        hub.get("/api/models/alice/open", None).await.json()["likes"],
        2
    );
    let likers = hub.get("/api/models/alice/open/likers", None).await.json();
    let mut names: Vec<&str> = likers
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["user"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["alice", "bob"]);
    let listed = hub
        .get("/api/models?author=alice", Some(&alice))
        .await
        .json();
    let open = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "alice/open")
        .unwrap();
    assert_eq!(open["likes"], 2);

    // alice's likes: bob sees only the public one; alice sees both.
    let seen_by = |token: Option<String>| {
        let hub = &hub;
        async move {
            let v = hub
                .get("/api/users/alice/likes", token.as_deref())
                .await
                .json();
            let mut repos: Vec<String> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    format!(
                        "{}:{}",
                        l["repo"]["type"].as_str().unwrap(),
                        l["repo"]["name"].as_str().unwrap()
                    )
                })
                .collect();
            repos.sort();
            repos
        }
    };
    assert_eq!(seen_by(Some(bob.clone())).await, ["model:alice/open"]);
    assert_eq!(seen_by(None).await, ["model:alice/open"]);
    assert_eq!(
        seen_by(Some(alice.clone())).await,
        ["model:alice/open", "model:alice/secret"]
    );
    // Likers of a private repository: as missing, to a stranger.
    let r = hub.get("/api/models/alice/secret/likers", Some(&bob)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("x-error-code"), "RepoNotFound");

    // Unlike.
    let r = hub
        .call(
            Method::DELETE,
            "/api/models/alice/open/like",
            Some(&bob),
            "",
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        hub.get("/api/models/alice/open", None).await.json()["likes"],
        1
    );
    // Liking needs a user.
    let r = hub
        .call(
            Method::POST,
            "/api/models/alice/open/like",
            None,
            "",
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_counted_as_the_hub_counts_them() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    hub.create_repo(&alice, "m").await;
    hub.commit(
        "alice/m",
        &alice,
        &[
            ("config.json", b"{}"),
            ("weights.bin", b"w"),
            ("sub/config.json", b"{}"),
        ],
    )
    .await;
    // One load: HEAD and GET of config.json, the weights, a nested config (not a query file).
    for (m, path) in [
        (Method::HEAD, "config.json"),
        (Method::GET, "config.json"),
        (Method::GET, "weights.bin"),
        (Method::GET, "sub/config.json"),
    ] {
        let r = hub
            .call(
                m,
                &format!("/alice/m/resolve/main/{path}"),
                None,
                "",
                Body::empty(),
            )
            .await;
        assert!(r.status.is_success());
    }
    // A missing file is no download.
    assert_eq!(
        hub.get("/alice/m/resolve/main/nothing.json", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let info = hub.get("/api/models/alice/m", None).await.json();
    assert_eq!(
        info["downloads"], 2,
        "every HEAD or GET of config.json counts"
    );
    assert!(info.get("downloadsAllTime").is_none(), "only with expand");
    let info = hub
        .get(
            "/api/models/alice/m?expand=downloadsAllTime&expand=downloads",
            None,
        )
        .await
        .json();
    assert_eq!(info["downloadsAllTime"], 2);

    // Counts survive in the database, and listings sort by them.
    hub.app.flush_download_counts().await.unwrap();
    hub.create_repo(&alice, "n").await;
    hub.commit("alice/n", &alice, &[("config.json", b"{}")])
        .await;
    hub.get("/alice/n/resolve/main/config.json", None).await;
    let listed = hub
        .get("/api/models?sort=downloads&expand=downloadsAllTime", None)
        .await
        .json();
    let order: Vec<(&str, i64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["downloads"].as_i64().unwrap()))
        .collect();
    assert_eq!(order, [("alice/m", 2), ("alice/n", 1)]);
    assert_eq!(listed[0]["downloadsAllTime"], 2);
    let asc = hub
        .get("/api/models?sort=downloads&direction=1", None)
        .await
        .json();
    assert_eq!(asc[0]["id"], "alice/n");
    assert_eq!(
        hub.get("/api/models?sort=colour", None).await.status,
        StatusCode::BAD_REQUEST
    );

    // A dataset: the files one address fetches within five minutes are one download.
    let r = hub
        .post_json(
            "/api/repos/create",
            Some(&alice),
            json!({"name": "d", "type": "dataset"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut lines = vec![json!({"key": "header", "value": {"summary": "data"}})];
    for f in ["a.csv", "b.csv"] {
        lines.push(json!({"key": "file", "value": {"path": f, "content": "eCx5Cg==", "encoding": "base64"}}));
    }
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let r = hub
        .call(
            Method::POST,
            "/api/datasets/alice/d/commit/main",
            Some(&alice),
            "application/x-ndjson",
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    for f in ["a.csv", "b.csv", "a.csv"] {
        hub.get(&format!("/datasets/alice/d/resolve/main/{f}"), None)
            .await;
    }
    assert_eq!(
        hub.get("/api/datasets/alice/d", None).await.json()["downloads"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn super_squash_keeps_the_files_and_drops_the_history_of_one_branch() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    hub.create_repo(&alice, "m").await;
    hub.commit("alice/m", &alice, &[("a.txt", b"one")]).await;
    let before = hub.commit("alice/m", &alice, &[("b.txt", b"two")]).await;
    let r = hub
        .post_json("/api/models/alice/m/branch/keep", Some(&alice), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let tree_before = hub
        .get("/api/models/alice/m/tree/main?recursive=true", None)
        .await
        .json();

    let r = hub
        .post_json(
            "/api/models/alice/m/super-squash/main",
            Some(&alice),
            json!({"message": "One commit"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let commits = hub
        .get("/api/models/alice/m/commits/main", None)
        .await
        .json();
    let commits = commits.as_array().unwrap();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0]["title"], "One commit");
    assert_ne!(commits[0]["id"], before);
    let tree_after = hub
        .get("/api/models/alice/m/tree/main?recursive=true", None)
        .await
        .json();
    assert_eq!(tree_before, tree_after, "same files, same blob ids");
    // The other branch keeps its history.
    let kept = hub
        .get("/api/models/alice/m/commits/keep", None)
        .await
        .json();
    assert_eq!(kept[0]["id"], before);
    assert!(kept.as_array().unwrap().len() >= 3);
    // Only writers may squash; a missing branch is RevisionNotFound.
    let bob = hub.user("bob").await;
    let r = hub
        .post_json(
            "/api/models/alice/m/super-squash/main",
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = hub
        .post_json(
            "/api/models/alice/m/super-squash/nope",
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("x-error-code"), "RevisionNotFound");
    assert!(
        hub.audit()
            .await
            .iter()
            .any(|e| e["action"] == "branch.squash")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_copies_the_history_and_keeps_gates_and_privacy() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    hub.create_repo(&alice, "m").await;
    let head = hub.commit("alice/m", &alice, &[("a.txt", b"one")]).await;
    let r = hub
        .post_json(
            "/api/models/alice/m/tag/main",
            Some(&alice),
            json!({"tag": "v1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let r = hub
        .post_json(
            "/api/models/alice/m/duplicate",
            Some(&bob),
            json!({"repository": "bob/copy"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["url"], "http://hub.test/bob/copy");
    let info = hub.get("/api/models/bob/copy", None).await.json();
    assert_eq!(info["sha"], head.as_str(), "same commits, same ids");
    assert_eq!(info["private"], false);
    let refs = hub.get("/api/models/bob/copy/refs", None).await.json();
    assert_eq!(refs["tags"][0]["name"], "v1");
    assert_eq!(
        hub.get("/bob/copy/resolve/main/a.txt", None).await.text(),
        "one"
    );
    // Again: 409 with the url, as exist_ok needs.
    let r = hub
        .post_json(
            "/api/models/alice/m/duplicate",
            Some(&bob),
            json!({"repository": "bob/copy"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["url"], "http://hub.test/bob/copy");
    // Into someone else's namespace: forbidden.
    let r = hub
        .post_json(
            "/api/models/alice/m/duplicate",
            Some(&bob),
            json!({"repository": "alice/x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // A private source: invisible to strangers; its copy is private unless asked otherwise.
    assert_eq!(
        hub.create_repo_as(&alice, "secret", true).await.status,
        StatusCode::OK
    );
    let r = hub
        .post_json(
            "/api/models/alice/secret/duplicate",
            Some(&bob),
            json!({"repository": "bob/s"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = hub
        .post_json(
            "/api/models/alice/secret/duplicate",
            Some(&alice),
            json!({"repository": "alice/s2"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        hub.get("/api/models/alice/s2", Some(&alice)).await.json()["private"],
        true
    );

    // A gated source: only its namespace's members may copy it.
    hub.create_repo(&alice, "g").await;
    hub.commit(
        "alice/g",
        &alice,
        &[("README.md", b"---\nlicense: mit\n---\n# g\n")],
    )
    .await;
    hub.set_gated("alice/g", &alice, json!("auto")).await;
    let r = hub
        .post_json(
            "/api/models/alice/g/duplicate",
            Some(&bob),
            json!({"repository": "bob/g"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(hub.get("/api/models/bob/g", None).await.status == StatusCode::NOT_FOUND);
    assert!(
        hub.audit()
            .await
            .iter()
            .any(|e| e["action"] == "repo.duplicate")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_lists_its_repositories_with_their_storage() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    hub.create_repo(&alice, "m").await;
    hub.commit("alice/m", &alice, &[("a.bin", &[7u8; 1000])])
        .await;
    assert_eq!(
        hub.create_repo_as(&alice, "p", true).await.status,
        StatusCode::OK
    );
    let v = hub
        .get("/api/settings/repositories", Some(&alice))
        .await
        .json();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 2);
    let m = items.iter().find(|i| i["id"] == "alice/m").unwrap();
    assert_eq!(m["type"], "model");
    assert_eq!(m["visibility"], "public");
    assert!(m["storage"].as_u64().unwrap() >= 1000);
    assert!(
        items
            .iter()
            .any(|i| i["id"] == "alice/p" && i["visibility"] == "private")
    );
    // Bob's own list does not show alice's repositories; an organisation's list needs membership.
    assert_eq!(
        hub.get("/api/settings/repositories", Some(&bob))
            .await
            .json(),
        json!([])
    );
    weighhouse_hub::admin::create_org(hub.app.db(), "acme")
        .await
        .unwrap();
    weighhouse_hub::admin::add_member(
        hub.app.db(),
        "acme",
        "alice",
        weighhouse_hub::auth::Role::Write,
    )
    .await
    .unwrap();
    let r = hub
        .post_json("/api/repos/create", Some(&alice), json!({"name": "acme/x"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = hub
        .get(
            "/api/organizations/acme/settings/repositories",
            Some(&alice),
        )
        .await
        .json();
    assert_eq!(v[0]["id"], "acme/x");
    let r = hub
        .get("/api/organizations/acme/settings/repositories", Some(&bob))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        hub.get("/api/settings/repositories", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id() {
    let hub = Hub::new().await;
    let ok = hub.get("/api/health", None).await;
    let id = ok.header("x-request-id").to_string();
    assert_eq!(id.len(), 24, "{id:?}");
    assert_eq!(ok.header("x-content-type-options"), "nosniff");
    let again = hub.get("/api/health", None).await;
    assert_ne!(again.header("x-request-id"), id, "a new id per request");
    let missing = hub.get("/api/models/nobody/nothing", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json()["requestId"].as_str(),
        Some(missing.header("x-request-id")),
        "error bodies name it too"
    );
    assert_eq!(missing.header("x-content-type-options"), "nosniff");

    // A user's HTML or SVG file is served as bytes, never sniffed, in a sandbox.
    let alice = hub.user("alice").await;
    hub.create_repo(&alice, "m").await;
    hub.commit(
        "alice/m",
        &alice,
        &[
            ("page.html", b"<script>alert(1)</script>"),
            ("i.svg", b"<svg onload=alert(1)/>"),
        ],
    )
    .await;
    for f in ["page.html", "i.svg"] {
        let r = hub.get(&format!("/alice/m/resolve/main/{f}"), None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-type"), "application/octet-stream", "{f}");
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{f}");
        assert_eq!(
            r.header("content-security-policy"),
            "sandbox; default-src 'none'",
            "{f}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overviews_members_lfs_objects_and_clear_refusals() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    hub.create_repo(&alice, "m").await;
    assert_eq!(
        hub.create_repo_as(&alice, "p", true).await.status,
        StatusCode::OK
    );
    weighhouse_hub::admin::create_org(hub.app.db(), "acme")
        .await
        .unwrap();
    weighhouse_hub::admin::add_member(
        hub.app.db(),
        "acme",
        "alice",
        weighhouse_hub::auth::Role::Admin,
    )
    .await
    .unwrap();
    let v = hub.get("/api/users/alice/overview", None).await.json();
    assert_eq!(v["user"], "alice");
    assert_eq!(
        v["numModels"], 1,
        "a stranger does not count the private one"
    );
    assert_eq!(v["orgs"][0]["name"], "acme");
    let v = hub
        .get("/api/users/alice/overview", Some(&alice))
        .await
        .json();
    assert_eq!(v["numModels"], 2);
    let v = hub
        .get("/api/organizations/acme/overview", None)
        .await
        .json();
    assert_eq!(
        (v["name"].as_str(), v["numUsers"].as_i64()),
        (Some("acme"), Some(1))
    );
    let v = hub
        .get("/api/organizations/acme/members", None)
        .await
        .json();
    assert_eq!(v[0]["user"], "alice");
    assert_eq!(
        hub.get("/api/organizations/alice/members", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        hub.get("/api/users/nobody/overview", None).await.status,
        StatusCode::NOT_FOUND
    );

    // LFS objects of the whole history, once each.
    let body = bytes::Bytes::from_static(b"0123456789");
    let real = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    hub.app.store().put_bytes(body).await.unwrap();
    for path in ["w.bin", "again/w.bin"] {
        hub.commit_lines(
            "alice/m",
            &alice,
            &[
                json!({"key": "header", "value": {"summary": "lfs"}}),
                json!({"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": real, "size": 10}}),
            ],
        )
        .await;
    }
    let v = hub.get("/api/models/alice/m/lfs-files", None).await.json();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(items[0]["fileOid"], real.as_str());
    assert_eq!(items[0]["filename"], "w.bin");
    assert_eq!(items[0]["size"], 10);

    for (method, uri) in [
        (Method::GET, "/api/models/alice/m/discussions"),
        (Method::POST, "/api/models/alice/m/lfs-files/batch"),
        (Method::GET, "/api/spaces/alice/s/runtime"),
        (Method::GET, "/api/collections"),
        (Method::GET, "/api/users/alice/followers"),
        (Method::GET, "/api/jobs/alice"),
        (Method::GET, "/api/settings/webhooks"),
    ] {
        let r = hub.call(method, uri, Some(&alice), "", Body::empty()).await;
        assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{uri}");
        let message = r.header("x-error-message");
        assert!(
            message.contains("not supported") || message.contains("never run"),
            "{uri}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_folder_and_database_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let hub = Hub::new().await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&hub.data()), 0o700);
    assert_eq!(mode(&hub.data().join("hub.db")), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_organisations_admins_move_or_delete_its_repositories() {
    use weighhouse_hub::{admin, auth::Role};
    let hub = Hub::new().await;
    hub.user("alice").await;
    let bob = hub.user("bob").await;
    admin::create_org(hub.app.db(), "acme").await.unwrap();
    admin::add_member(hub.app.db(), "acme", "alice", Role::Admin)
        .await
        .unwrap();
    admin::add_member(hub.app.db(), "acme", "bob", Role::Write)
        .await
        .unwrap();
    let r = hub
        .post_json("/api/repos/create", Some(&bob), json!({"name": "acme/m"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // A writer may rename inside the organisation, but not take the repository out, nor delete it.
    let mv = |from: &str, to: &str| json!({"fromRepo": from, "toRepo": to, "type": "model"});
    let r = hub
        .post_json("/api/repos/move", Some(&bob), mv("acme/m", "acme/n"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = hub
        .post_json("/api/repos/move", Some(&bob), mv("acme/n", "bob/n"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(
        r.header("x-error-message").contains("admin"),
        "{}",
        r.header("x-error-message")
    );
    let del = json!({"name": "n", "organization": "acme", "type": "model"});
    let r = hub
        .call(
            Method::DELETE,
            "/api/repos/delete",
            Some(&bob),
            "application/json",
            del.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert_eq!(
        hub.get("/api/models/acme/n", Some(&bob)).await.status,
        StatusCode::OK
    );

    // An admin member with an admin token may do both.
    let token = admin::create_token(hub.app.db(), "alice", Role::Admin, "admin")
        .await
        .unwrap();
    let r = hub
        .post_json("/api/repos/move", Some(&token), mv("acme/n", "alice/n"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = hub
        .post_json("/api/repos/create", Some(&bob), json!({"name": "acme/z"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let del = json!({"name": "z", "organization": "acme", "type": "model"});
    let r = hub
        .call(
            Method::DELETE,
            "/api/repos/delete",
            Some(&token),
            "application/json",
            del.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A user's own repositories stay theirs to delete with a write token.
    hub.create_repo(&bob, "own").await;
    let del = json!({"name": "own", "type": "model"});
    let r = hub
        .call(
            Method::DELETE,
            "/api/repos/delete",
            Some(&bob),
            "application/json",
            del.to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}
