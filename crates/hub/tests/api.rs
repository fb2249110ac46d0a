//! The hub's HTTP API driven in-process: access rules, bad input, atomic commits, git ids.

use std::path::Path;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;
use weighhouse_hub::admin;
mod common;

use common::{Hub, Resp};

fn header_line(title: &str) -> Value {
    json!({"key": "header", "value": {"summary": title, "description": ""}})
}

fn file_line(path: &str, content: &[u8]) -> Value {
    json!({"key": "file", "value": {"path": path, "content": base64::engine::general_purpose::STANDARD.encode(content), "encoding": "base64"}})
}

fn assert_error(r: &Resp, status: StatusCode, message_part: &str) {
    assert_eq!(
        r.status,
        status,
        "body: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(
        r.header("x-error-message").contains(message_part),
        "{:?} lacks {message_part:?}",
        r.header("x-error-message")
    );
    assert!(r.json()["error"].as_str().unwrap().contains(message_part));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_repos_are_invisible_to_strangers() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    assert_eq!(
        hub.create_repo_as(&alice, "secret", true).await.status,
        StatusCode::OK
    );
    assert_eq!(
        hub.create_repo_as(&alice, "open", false).await.status,
        StatusCode::OK
    );

    // Every answer carries its own request id (header and error body); apart from it, the
    // answers must be identical.
    let without_id = |r: &common::Resp| {
        let mut v = r.json();
        assert_eq!(v["requestId"].as_str(), Some(r.header("x-request-id")));
        v.as_object_mut().expect("error object").remove("requestId");
        serde_json::to_vec(&v).expect("json")
    };
    let missing = without_id(&hub.get("/api/models/alice/nothing", Some(&bob)).await);
    for who in [Some(bob.as_str()), None] {
        for uri in [
            "/api/models/alice/secret",
            "/api/models/alice/secret/tree/main",
            "/alice/secret/resolve/main/.gitattributes",
            "/api/models/alice/secret/refs",
        ] {
            let r = hub.get(uri, who).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(r.header("x-error-code"), "RepoNotFound");
            assert_eq!(
                without_id(&r),
                missing,
                "a private repo answers exactly like a missing one"
            );
        }
    }
    assert_eq!(
        hub.get("/api/models/alice/secret", Some(&alice))
            .await
            .status,
        StatusCode::OK
    );
    // Writing to a private repo of someone else: still "not found"; to a public one: forbidden.
    let r = hub
        .commit_raw(
            "alice/secret",
            &bob,
            &[header_line("x"), file_line("a.txt", b"a")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = hub
        .commit_raw(
            "alice/open",
            &bob,
            &[header_line("x"), file_line("a.txt", b"a")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = hub.create_repo_as(&bob, "alice/mine", false).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Organisation roles: read members see private repos but cannot write; write members can.
    admin::create_org(hub.app.db(), "acme").await.unwrap();
    admin::add_member(
        hub.app.db(),
        "acme",
        "alice",
        weighhouse_hub::auth::Role::Write,
    )
    .await
    .unwrap();
    admin::add_member(
        hub.app.db(),
        "acme",
        "bob",
        weighhouse_hub::auth::Role::Read,
    )
    .await
    .unwrap();
    assert_eq!(
        hub.post_json(
            "/api/repos/create",
            Some(&alice),
            json!({"name": "lab", "organization": "acme", "private": true})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        hub.get("/api/models/acme/lab", Some(&bob)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        hub.commit_raw(
            "acme/lab",
            &bob,
            &[header_line("x"), file_line("a.txt", b"a")]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        hub.commit_raw(
            "acme/lab",
            &alice,
            &[header_line("x"), file_line("a.txt", b"a")]
        )
        .await
        .status,
        StatusCode::OK
    );
    // A read-only token cannot write even to the user's own namespace.
    let ro = admin::create_token(
        hub.app.db(),
        "alice",
        weighhouse_hub::auth::Role::Read,
        "ro",
    )
    .await
    .unwrap();
    assert_eq!(
        hub.commit_raw(
            "alice/open",
            &ro,
            &[header_line("x"), file_line("a.txt", b"a")]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        hub.get("/api/models/alice/secret", Some(&ro)).await.status,
        StatusCode::OK
    );

    // Bogus tokens are refused everywhere with the text clients recognise.
    let r = hub.get("/api/models/alice/open", Some("wh_bogus")).await;
    assert_error(
        &r,
        StatusCode::UNAUTHORIZED,
        "Invalid credentials in Authorization header",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    hub.create_repo_as(&alice, "m", false).await;
    let head = hub.get("/api/models/alice/m", None).await.json()["sha"]
        .as_str()
        .unwrap()
        .to_string();

    for path in [
        "../etc/passwd",
        "/abs.txt",
        "a\\b.txt",
        "a\u{0}b",
        "a\u{1}b",
        "a/../../b",
        "a//b",
        ".git/config",
    ] {
        let r = hub
            .commit_raw(
                "alice/m",
                &alice,
                &[header_line("bad"), file_line(path, b"x")],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{path:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(
            r.header("x-error-message").contains("file path"),
            "{path:?}"
        );
    }
    let bad_lines: Vec<(&str, &str)> = vec![
        ("{not json\n", "not a valid JSON"),
        (
            "{\"key\":\"file\",\"value\":{\"path\":\"a\",\"content\":\"AA==\"}}\n",
            "first line",
        ),
        (
            "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n{\"key\":\"launch\",\"value\":{}}\n",
            "unknown operation",
        ),
        (
            "{\"key\":\"header\",\"value\":{\"summary\":\"x\"}}\n{\"key\":\"file\",\"value\":{\"path\":\"a\",\"content\":\"***\"}}\n",
            "base64",
        ),
        ("", "no header"),
    ];
    for (body, msg) in bad_lines {
        let r = hub
            .call(
                Method::POST,
                "/api/models/alice/m/commit/main",
                Some(&alice),
                "application/x-ndjson",
                body.to_string(),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, msg);
    }
    let never = "ab".repeat(32);
    let r = hub
        .commit_raw("alice/m", &alice, &[header_line("lfs"), json!({"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": never, "size": 10}})])
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "never uploaded");
    // A commit that fails half-way (second operation bad) leaves nothing behind.
    let r = hub
        .commit_raw(
            "alice/m",
            &alice,
            &[
                header_line("half"),
                file_line("ok.txt", b"fine"),
                file_line("../x", b"bad"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = hub
        .commit_raw(
            "alice/m",
            &alice,
            &[
                header_line("del"),
                json!({"key": "deletedFile", "value": {"path": "nope.txt"}}),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.header("x-error-message").contains("doesn't exist"));
    assert_eq!(
        hub.get("/api/models/alice/m", None).await.json()["sha"],
        head.as_str(),
        "no partial commit"
    );

    // Oversized JSON.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(5 << 20));
    let r = hub
        .call(
            Method::POST,
            "/api/repos/create",
            Some(&alice),
            "application/json",
            big,
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!r.header("x-error-message").is_empty());
    // Malformed JSON.
    let r = hub
        .call(
            Method::POST,
            "/api/repos/create",
            Some(&alice),
            "application/json",
            "{\"name\":",
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "Invalid JSON");
    // Repository names.
    for name in ["a b", "a/b/c", "-x", "x..y", "ü", "x.git", ""] {
        let r = hub.create_repo_as(&alice, name, false).await;
        assert!(
            r.status == StatusCode::BAD_REQUEST,
            "{name:?}: {}",
            r.status
        );
        assert!(!r.header("x-error-message").is_empty());
    }
    // Branch and tag names.
    let r = hub
        .post_json("/api/models/alice/m/branch/a..b", Some(&alice), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = hub
        .post_json(
            "/api/models/alice/m/tag/main",
            Some(&alice),
            json!({"tag": "bad tag"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Unknown revisions and files carry the codes the clients map to exceptions.
    let r = hub.get("/alice/m/resolve/nope/.gitattributes", None).await;
    assert_eq!(
        (r.status, r.header("x-error-code")),
        (StatusCode::NOT_FOUND, "RevisionNotFound")
    );
    let r = hub.get("/alice/m/resolve/main/nope.txt", None).await;
    assert_eq!(
        (r.status, r.header("x-error-code")),
        (StatusCode::NOT_FOUND, "EntryNotFound")
    );
    assert_eq!(r.header("x-repo-commit"), head);
    let r = hub
        .get("/api/models/alice/m/xet-write-token/main", Some(&alice))
        .await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    assert!(r.header("x-error-message").contains("HF_HUB_DISABLE_XET=1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lfs_upload_with_wrong_content_leaves_nothing_reachable() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    hub.create_repo_as(&alice, "m", false).await;
    let content = vec![7u8; 1 << 20];
    let claimed = hex::encode(sha2::Sha256::digest(b"other bytes"));
    let r = hub
        .call(
            Method::POST,
            "/alice/m.git/info/lfs/objects/batch",
            Some(&alice),
            "application/vnd.git-lfs+json",
            json!({"operation": "upload", "transfers": ["basic"], "objects": [{"oid": claimed, "size": content.len()}]}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let href = r.json()["objects"][0]["actions"]["upload"]["href"]
        .as_str()
        .unwrap()
        .to_string();
    let path = href.strip_prefix("http://hub.test").unwrap();
    let r = hub.call(Method::PUT, path, None, "", content.clone()).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "does not match");
    let sha: weighhouse_store::Sha256 = claimed.parse().unwrap();
    assert_eq!(hub.app.store().size(&sha).await.unwrap(), None);
    let actual: weighhouse_store::Sha256 =
        hex::encode(sha2::Sha256::digest(&content)).parse().unwrap();
    assert_eq!(hub.app.store().size(&actual).await.unwrap(), None);
    let staging = hub.data().join("staging");
    assert_eq!(
        std::fs::read_dir(staging).unwrap().count(),
        0,
        "no staging file left"
    );
    let r = hub
        .commit_raw("alice/m", &alice, &[header_line("x"), json!({"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": claimed, "size": content.len()}})])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A tampered upload URL is refused.
    let tampered = format!("{}x", path);
    assert_eq!(
        hub.call(Method::PUT, &tampered, None, "", content)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_to_one_branch_are_all_kept() {
    let hub = Arc::new(Hub::new().await);
    let alice = hub.user("alice").await;
    hub.create_repo_as(&alice, "m", false).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let hub = Arc::clone(&hub);
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move {
            let r = hub
                .commit_raw(
                    "alice/m",
                    &alice,
                    &[
                        header_line(&format!("commit {i}")),
                        file_line(&format!("f{i}.txt"), format!("{i}").as_bytes()),
                    ],
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::OK,
                "{}",
                String::from_utf8_lossy(&r.body)
            );
            r.json()["commitOid"].as_str().unwrap().to_string()
        }));
    }
    let mut oids = Vec::new();
    for t in tasks {
        oids.push(t.await.unwrap());
    }
    let files = hub
        .all_pages("/api/models/alice/m/tree/main?recursive=true", "path")
        .await;
    for i in 0..16 {
        assert!(
            files.contains(&format!("f{i}.txt")),
            "f{i}.txt lost: {files:?}"
        );
    }
    let history = hub
        .all_pages("/api/models/alice/m/commits/main", "id")
        .await;
    assert_eq!(history.len(), 17, "16 commits and the initial one");
    for oid in &oids {
        assert!(history.contains(oid));
    }
}

fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_tree_and_blob_ids_are_the_ones_git_computes() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    hub.create_repo_as(&alice, "m", false).await;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("config.json", b"{\"a\": 1}\n".to_vec()),
        ("a/b/c.txt", b"deep".to_vec()),
        ("a.txt", b"sorted before a/".to_vec()),
        ("a-b/x", b"dash".to_vec()),
        ("empty", Vec::new()),
        ("weights.safetensors", vec![1u8; 2000]),
    ];
    let mut lines = vec![
        json!({"key": "header", "value": {"summary": "Add files", "description": "With a body.\n\nTwo paragraphs."}}),
    ];
    lines.extend(files.iter().map(|(p, c)| file_line(p, c)));
    let r = hub.commit_raw("alice/m", &alice, &lines).await;
    assert_eq!(r.status, StatusCode::OK);
    let oid = r.json()["commitOid"].as_str().unwrap().to_string();
    let info = hub.get("/api/models/alice/m?blobs=true", None).await.json();

    // Rebuild the same history with git itself: the initial commit, then ours.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"], &[]);
    let write = |p: &str, c: &[u8]| {
        let path = d.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, c).unwrap();
    };
    let gitattributes = hub
        .get("/alice/m/resolve/main/.gitattributes", None)
        .await
        .body;
    write(".gitattributes", &gitattributes);
    let commits = hub
        .get("/api/models/alice/m/commits/main", None)
        .await
        .json();
    let initial = commits.as_array().unwrap().last().unwrap();
    let date = |c: &Value| {
        let s = c["date"].as_str().unwrap();
        let t =
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
        format!("@{} +0000", t.unix_timestamp())
    };
    let env = |name: &str, email: &str, when: &str| -> Vec<(String, String)> {
        vec![
            ("GIT_AUTHOR_NAME".into(), name.into()),
            ("GIT_AUTHOR_EMAIL".into(), email.into()),
            ("GIT_AUTHOR_DATE".into(), when.into()),
            ("GIT_COMMITTER_NAME".into(), name.into()),
            ("GIT_COMMITTER_EMAIL".into(), email.into()),
            ("GIT_COMMITTER_DATE".into(), when.into()),
        ]
    };
    let e = env("system", "system@weighhouse.invalid", &date(initial));
    let e: Vec<(&str, &str)> = e.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    git(d, &["add", "-A"], &[]);
    git(
        d,
        &[
            "-c",
            "commit.gpgsign=false",
            "commit",
            "-q",
            "--cleanup=verbatim",
            "-m",
            "initial commit\n",
        ],
        &e,
    );
    assert_eq!(
        git(d, &["rev-parse", "HEAD"], &[]),
        initial["id"].as_str().unwrap()
    );

    for (p, c) in &files {
        let sibling = info["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["rfilename"] == *p)
            .unwrap();
        if sibling.get("lfs").is_some() {
            // LFS files are pointer files in git.
            let sha = hex::encode(sha2::Sha256::digest(c));
            write(
                p,
                format!(
                    "version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {}\n",
                    c.len()
                )
                .as_bytes(),
            );
            assert_eq!(sibling["lfs"]["sha256"], sha.as_str());
        } else {
            write(p, c);
        }
    }
    let e = env(
        "alice",
        "alice@users.weighhouse.invalid",
        &date(&commits[0]),
    );
    let e: Vec<(&str, &str)> = e.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    git(d, &["add", "-A"], &[]);
    git(
        d,
        &[
            "-c",
            "commit.gpgsign=false",
            "commit",
            "-q",
            "--cleanup=verbatim",
            "-m",
            "Add files\n\nWith a body.\n\nTwo paragraphs.\n",
        ],
        &e,
    );
    for (p, _) in &files {
        let sibling = info["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["rfilename"] == *p)
            .unwrap();
        assert_eq!(
            git(d, &["rev-parse", &format!("HEAD:{p}")], &[]),
            sibling["blobId"].as_str().unwrap(),
            "{p}"
        );
    }
    let found = hub
        .post_json(
            "/api/models/alice/m/paths-info/main",
            None,
            json!({"paths": ["a", "missing"]}),
        )
        .await
        .json();
    assert_eq!(found.as_array().unwrap().len(), 1);
    let folder = &found[0];
    assert_eq!(folder["type"], "directory");
    assert_eq!(
        git(d, &["rev-parse", "HEAD:a"], &[]),
        folder["oid"].as_str().unwrap()
    );
    assert_eq!(
        git(d, &["rev-parse", "HEAD"], &[]),
        oid,
        "commit ids match git's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_shows_only_what_the_caller_may_see() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    hub.create_repo_as(&alice, "pub-a", false).await;
    hub.create_repo_as(&alice, "priv-a", true).await;
    hub.create_repo_as(&bob, "pub-b", false).await;
    let ids = |r: Resp| -> Vec<String> {
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect()
    };
    let anon = ids(hub.get("/api/models", None).await);
    assert_eq!(anon.len(), 2);
    assert!(!anon.contains(&"alice/priv-a".to_string()));
    assert!(ids(hub.get("/api/models", Some(&alice)).await).contains(&"alice/priv-a".to_string()));
    assert!(!ids(hub.get("/api/models", Some(&bob)).await).contains(&"alice/priv-a".to_string()));
    assert_eq!(
        ids(hub.get("/api/models?author=bob", None).await),
        vec!["bob/pub-b"]
    );
    assert_eq!(
        ids(hub.get("/api/models?search=PUB-A", None).await),
        vec!["alice/pub-a"]
    );
    let first = hub.get("/api/models?limit=1", Some(&alice)).await;
    assert!(first.header("link").contains("cursor=1"));
    assert!(
        hub.get("/api/datasets", None)
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_metadata_is_validated_on_validate_yaml_and_on_commit() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    hub.create_repo_as(&alice, "m", false).await;
    let head = hub.get("/api/models/alice/m", None).await.json()["sha"]
        .as_str()
        .unwrap()
        .to_string();

    let bad = "---\nlicense: Apache-2.0\ndatasets: [/data/x]\n---\n# m\n";
    let r = hub
        .post_json(
            "/api/validate-yaml",
            None,
            json!({"content": bad, "repoType": "model"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let errors: Vec<String> = r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("\"license\" must be one of [apache-2.0, mit,"));
    assert!(errors[1].starts_with("\"datasets[0]\" with value \"/data/x\" is not valid"));
    // No metadata and no licence are warnings, as on the Hub.
    for ok in ["# no metadata\n", "---\ntags: [x]\n---\n"] {
        let r = hub
            .post_json("/api/validate-yaml", None, json!({"content": ok}))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["errors"], json!([]));
        assert_eq!(r.json()["warnings"].as_array().unwrap().len(), 1);
    }

    // The commit API refuses the same card and commits nothing.
    let r = hub
        .commit_raw(
            "alice/m",
            &alice,
            &[
                header_line("card"),
                file_line("README.md", bad.as_bytes()),
                file_line("x.txt", b"x"),
            ],
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "Invalid metadata in README.md");
    assert!(
        r.header("x-error-message")
            .contains("\"license\" must be one of")
    );
    let now = hub.get("/api/models/alice/m", None).await.json()["sha"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(now, head);
    let good = "---\nlicense: apache-2.0\n---\n# m\n";
    let r = hub
        .commit_raw(
            "alice/m",
            &alice,
            &[header_line("card"), file_line("README.md", good.as_bytes())],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
}

fn tiny_safetensors() -> Vec<u8> {
    let mut header = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.to_vec();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(&[0u8; 8]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openness_and_card_lint_of_a_revision_and_the_repo_page() {
    let hub = Hub::new().await;
    let alice = hub.user("alice").await;
    let bob = hub.user("bob").await;
    hub.create_repo_as(&alice, "open", false).await;
    let card = "---\nlicense: apache-2.0\nlibrary_name: transformers\n---\n# Open <model>\n";
    let r = hub
        .commit_raw(
            "alice/open",
            &alice,
            &[
                header_line("weights"),
                file_line("README.md", card.as_bytes()),
                file_line("LICENSE", b"Apache License\nVersion 2.0\n"),
                file_line("config.json", br#"{"architectures": ["LlamaForCausalLM"]}"#),
                file_line("model.safetensors", &tiny_safetensors()),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );

    let report = hub.get("/api/models/alice/open/openness", None).await;
    assert_eq!(report.status, StatusCode::OK);
    let v = report.json();
    assert_eq!(v["owd"]["open_weight"], true, "{v}");
    assert_eq!(v["repo"], "alice/open");
    let owd2b = v["owd"]["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "OWD-2b")
        .unwrap()
        .clone();
    assert_eq!(owd2b["verdict"], "pass", "{owd2b}");

    // Gating makes OWD-7 a warning for an allowlisted licence; a Llama licence fails OWD.
    let r = hub
        .call(
            Method::PUT,
            "/api/models/alice/open/settings",
            Some(&alice),
            "application/json",
            json!({"gated": "manual"}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = hub
        .get("/api/models/alice/open/openness", None)
        .await
        .json();
    let owd7 = v["owd"]["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "OWD-7")
        .unwrap()
        .clone();
    assert_eq!(owd7["verdict"], "warn", "{owd7}");

    let lint = hub
        .get("/api/models/alice/open/card-lint", None)
        .await
        .json();
    assert_eq!(lint["errors"], 0, "{lint}");
    assert!(
        lint["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "CARD-001")
    );

    // The page shows the labels, the gate's agreement and the files.
    let page = hub.get("/alice/open", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").starts_with("text/html"));
    let html = String::from_utf8(page.body.to_vec()).unwrap();
    assert!(html.contains("Open Weight (OWD v0.3)"), "{html}");
    assert!(html.contains("Gated access (manual)"));
    assert!(html.contains("model.safetensors"));

    // Private repositories stay invisible to strangers here too.
    hub.create_repo_as(&alice, "secret", true).await;
    assert_eq!(
        hub.get("/alice/secret", Some(&bob)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        hub.get("/api/models/alice/secret/openness", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        hub.get("/alice/secret", Some(&alice)).await.status,
        StatusCode::OK
    );
}
