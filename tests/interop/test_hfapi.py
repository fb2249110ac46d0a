"""The rest of `HfApi` (huggingface_hub 2.4.0) against `wh serve`: every method that docs/hub.md
marks "works" is called here or in test_hub.py / test_gating.py, with the real client in its own
process (run_client) and default settings apart from HF_HUB_DISABLE_XET=1 for uploads. Also: the
table in docs/hub.md lists every public HfApi method, the refusals are clear, the hub writes one
access-log line per request (text and JSON) with the request id the client sees, and an empty hub
says how to create its first user."""

import json
import pathlib
import re

import pytest

from hub_support import Hub, client_env, client_runner, run_client, running_hub

ROOT = pathlib.Path(__file__).resolve().parents[2]
HUB_DOC = ROOT / "docs" / "hub.md"
ROW = re.compile(r"^\| `([a-z_]+)` \| (works|refused|not applicable)\b")


@pytest.fixture(scope="module")
def hub(wh, tmp_path_factory):
    base = tmp_path_factory.mktemp("hfapi")
    hubs = running_hub(wh, base, users=("alice", "bob"), start_args=("--log-format", "json"))
    h = next(hubs)
    h.admin("org", "create", "acme")
    h.admin("org", "add-member", "acme", "alice", "--role", "admin")
    yield h
    next(hubs, None)


@pytest.fixture
def client(hub, tmp_path):
    """Runs client code in a fresh process as `user`; an exception in it fails the test."""
    return client_runner(hub, tmp_path, checked=True)


def documented():
    """{method: status} from the table in docs/hub.md."""
    rows = {}
    for line in HUB_DOC.read_text().splitlines():
        m = ROW.match(line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def test_the_table_lists_every_hfapi_method_and_every_working_one_is_tested(hub):
    rows = documented()
    out = run_client(
        "from huggingface_hub import HfApi\n"
        "result = sorted(n for n in dir(HfApi) if not n.startswith('_') and callable(getattr(HfApi, n)))\n",
        client_env(hub.url, pathlib.Path("/nonexistent-hf-home"), disable_xet=True),
    )
    methods = out["result"]
    assert len(methods) > 150
    assert sorted(rows) == methods, (
        f"missing from docs/hub.md: {sorted(set(methods) - set(rows))}; "
        f"not in HfApi: {sorted(set(rows) - set(methods))}"
    )
    tests = "".join(p.read_text() for p in pathlib.Path(__file__).parent.glob("test_*.py"))
    untested = [m for m, status in rows.items() if status == "works" and not re.search(rf"\b{m}\(", tests)]
    assert not untested, f"marked works in docs/hub.md but called by no interop test: {untested}"


REPOS = r"""
import io, json, os
from huggingface_hub import HfApi, CommitOperationAdd, CommitOperationCopy, CommitOperationDelete
from huggingface_hub import get_full_repo_name, list_models
import numpy as np
from safetensors.numpy import save

api = HfApi()
repo = api.create_repo("tour", exist_ok=True).repo_id
weights = save({"w": np.arange(12, dtype=np.float32).reshape(3, 4)})
info = api.create_commit(repo, [
    CommitOperationAdd("model.safetensors", weights),
    CommitOperationAdd("config.json", b'{"model_type": "tiny"}'),
    CommitOperationAdd("notes/a.txt", b"a"),
    CommitOperationAdd("notes/b.txt", b"b"),
], commit_message="first")
api.create_commit(repo, [CommitOperationCopy("notes/a.txt", "notes/c.txt"),
                         CommitOperationCopy("model.safetensors", "copy.safetensors")], commit_message="copy")
api.copy_files(f"hf://{repo}/notes/b.txt", f"hf://{repo}/notes/d.txt")
api.delete_files(repo, ["notes/a.txt", "notes/b.txt"])
files = sorted(api.list_repo_files(repo))

meta = api.get_safetensors_metadata(repo)
parsed = api.parse_safetensors_file_metadata(repo, "model.safetensors")
rr = api.resolve_revision(repo)
future = api.run_as_future(api.model_info, repo)
result = {
    "files": files,
    "params": meta.parameter_count,
    "tensor": {k: [v.dtype, v.shape] for k, v in parsed.tensors.items()},
    "resolved": str(rr.commit_hash) if hasattr(rr, "commit_hash") else str(rr),
    "future_sha": future.result().sha,
    "full": get_full_repo_name("tour"),
    "full_org": api.get_full_repo_name("x", organization="acme"),
    "auth": type(api.auth_check(repo)).__name__,
    "info_type": type(api.repo_info(repo)).__name__,
    "listed": [m.id for m in list_models(author="alice")],
}
"""


def test_commits_copies_deletes_and_safetensors_metadata(client):
    r = client(REPOS, user="alice")
    assert r["files"] == [".gitattributes", "config.json", "copy.safetensors", "model.safetensors", "notes/c.txt", "notes/d.txt"]
    assert r["params"] == {"F32": 12}
    assert r["tensor"] == {"w": ["F32", [3, 4]]}
    assert r["full"] == "alice/tour" and r["full_org"] == "acme/x"
    assert r["info_type"] == "ModelInfo"
    assert "alice/tour" in r["listed"]
    assert re.fullmatch(r"[0-9a-f]{40}", r["future_sha"])


PRE = r"""
import hashlib
from huggingface_hub import HfApi, CommitOperationAdd, hf_hub_download
api = HfApi()
repo = api.create_repo("pre", exist_ok=True).repo_id
data = bytes(range(256)) * 4096 * 12          # 12 MiB: LFS by size
op = CommitOperationAdd("big.bin", data)
api.preupload_lfs_files(repo, [op])
api.create_commit(repo, [op], commit_message="big")
lfs = list(api.list_lfs_files(repo))
path = hf_hub_download(repo, "big.bin")
checks = result = {
    "lfs": [(f.filename, f.size, f.file_oid) for f in lfs],
    "sha": hashlib.sha256(open(path, "rb").read()).hexdigest(),
    "want": hashlib.sha256(data).hexdigest(),
}
"""


def test_preupload_and_lfs_listing(client):
    r = client(PRE, user="alice")
    assert r["sha"] == r["want"]
    assert r["lfs"] == [["big.bin", 12 * 1024 * 1024, r["want"]]]


VERIFY = r"""
from huggingface_hub import HfApi, snapshot_download
api = HfApi()
local = snapshot_download(params["repo"])
out = api.verify_repo_checksums(params["repo"], local_dir=local)
result = {"mismatches": [str(m) for m in getattr(out, "mismatches", [])], "type": type(out).__name__,
          "checked": getattr(out, "checked_count", None)}
"""


def test_verify_repo_checksums(client):
    client(
        "from huggingface_hub import HfApi\n"
        "api = HfApi(); r = api.create_repo('v', exist_ok=True).repo_id\n"
        "api.upload_file(path_or_fileobj=b'x' * 100, path_in_repo='a.bin', repo_id=r)\n"
        "result = r\n",
        user="alice",
    )
    r = client(VERIFY, user="alice", repo="alice/v")
    assert r["mismatches"] == [], r


SOCIAL = r"""
import os
import httpx
from huggingface_hub import HfApi
api = HfApi()
repo = params["repo"]
# There is no like() in huggingface_hub (likes come from people, not scripts): like over HTTP.
r = httpx.post(f"{api.endpoint}/api/models/{repo}/like", headers={"authorization": "Bearer " + os.environ["HF_TOKEN"]})
r.raise_for_status()
likers = [u.username for u in api.list_repo_likers(repo)]
liked = api.list_liked_repos()
info = api.model_info(repo)
api.unlike(repo)
after = api.model_info(repo).likes
result = {"likers": likers, "liked": liked.models, "total": liked.total, "likes": info.likes, "after": after,
          "user": api.get_user_overview("alice").num_models,
          "org": api.get_organization_overview("acme").name,
          "members": [u.username for u in api.list_organization_members("acme")]}
"""


def test_likes_and_accounts(client):
    client("from huggingface_hub import HfApi\nresult = HfApi().create_repo('liked', exist_ok=True).repo_id\n", user="alice")
    r = client(SOCIAL, user="bob", repo="alice/liked")
    assert r["likers"] == ["bob"]
    assert r["liked"] == ["alice/liked"] and r["total"] == 1
    assert (r["likes"], r["after"]) == (1, 0)
    assert r["user"] >= 1 and r["org"] == "acme" and r["members"] == ["alice"]


HISTORY = r"""
from huggingface_hub import HfApi, hf_hub_download
api = HfApi()
repo = api.create_repo("hist", exist_ok=True).repo_id
for i in range(3):
    api.upload_file(path_or_fileobj=f"v{i}".encode(), path_in_repo="f.txt", repo_id=repo, commit_message=f"c{i}")
before = len(api.list_repo_commits(repo))
api.super_squash_history(repo)
after = [c.title for c in api.list_repo_commits(repo)]
copy = api.duplicate_repo(repo, "alice/hist-copy")
again = api.duplicate_repo(repo, "alice/hist-copy", exist_ok=True)
result = {"before": before, "after": after, "copy": copy.repo_id, "again": again.repo_id,
          "pending": copy.files_copy_pending,
          "text": open(hf_hub_download("alice/hist-copy", "f.txt"), encoding="utf-8").read(),
          "same_sha": api.model_info("alice/hist-copy").sha == api.model_info(repo).sha,
          "mine": sorted(r.id for r in api.list_user_repos())}
"""


def test_super_squash_duplicate_and_list_user_repos(client):
    r = client(HISTORY, user="alice")
    assert r["before"] == 4
    assert r["after"] == ["Super-squash branch 'main' using huggingface_hub"]
    assert r["copy"] == r["again"] == "alice/hist-copy"
    assert r["pending"] is False and r["same_sha"] is True
    assert r["text"] == "v2"
    assert "alice/hist" in r["mine"] and "alice/hist-copy" in r["mine"]


KINDS = r"""
from huggingface_hub import HfApi, list_datasets, list_spaces
api = HfApi()
d = api.create_repo("ds", repo_type="dataset", exist_ok=True).repo_id
s = api.create_repo("sp", repo_type="space", space_sdk="static", exist_ok=True).repo_id
api.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="t.csv", repo_id=d, repo_type="dataset")
from huggingface_hub import hf_hub_download
hf_hub_download(d, "t.csv", repo_type="dataset")
hf_hub_download(d, "t.csv", repo_type="dataset", force_download=True)
result = {
    "datasets": [x.id for x in list_datasets(author="alice")],
    "spaces": [x.id for x in list_spaces(author="alice")],
    "space": api.space_info(s).id,
    "dataset_downloads": api.dataset_info(d).downloads,
}
"""


def test_datasets_and_spaces(client):
    r = client(KINDS, user="alice")
    assert "alice/ds" in r["datasets"] and "alice/sp" in r["spaces"]
    assert r["space"] == "alice/sp"
    assert r["dataset_downloads"] == 1, "one address, one five-minute window: one download"


DOWNLOADS = r"""
from huggingface_hub import HfApi, snapshot_download
api = HfApi()
repo = api.create_repo("dl", exist_ok=True).repo_id
api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=repo)
api.upload_file(path_or_fileobj=b"w" * 10, path_in_repo="model.bin", repo_id=repo)
for _ in range(2):
    snapshot_download(repo, force_download=True)
info = api.model_info(repo, expand=["downloads", "downloadsAllTime"])
top = [m.id for m in api.list_models(sort="downloads", limit=1)]
result = {"downloads": info.downloads, "all": info.downloads_all_time, "top": top}
"""


def test_download_counts_and_sorting(client):
    r = client(DOWNLOADS, user="alice")
    # Each snapshot_download sends HEAD and GET of config.json: the Hub counts each request.
    assert r["downloads"] == 4 and r["all"] == 4
    assert r["top"] == ["alice/dl"]


REFUSED = r"""
from huggingface_hub import HfApi
api = HfApi()
out = {}
for name, call in [
    ("discussions", lambda: list(api.get_repo_discussions(params["repo"]))),
    ("collections", lambda: list(api.list_collections(owner="alice"))),
    ("runtime", lambda: api.get_space_runtime("alice/sp")),
    ("followers", lambda: list(api.list_user_followers("alice"))),
    ("webhooks", lambda: list(api.list_webhooks())),
    ("lfs_delete", lambda: api.permanently_delete_lfs_files(params["repo"], list(api.list_lfs_files(params["repo"])))),
]:
    try:
        call()
        out[name] = "no error"
    except Exception as e:
        out[name] = f"{type(e).__name__}: {e}"
result = out
"""


def test_unsupported_methods_fail_with_a_message_that_says_so(client):
    r = client(REFUSED, user="alice", repo="alice/pre")
    for name, text in r.items():
        assert "not supported" in text or "never run" in text, f"{name}: {text}"
        assert "501" in text, f"{name}: {text}"


def test_access_log_lines_carry_the_request_id_the_client_saw(hub, client):
    code = r"""
import httpx
r = httpx.get(params["url"] + "/api/models/nobody/nothing", headers={"authorization": "Bearer " + params["token"]})
result = {"status": r.status_code, "id": r.headers.get("x-request-id"), "body": r.json()}
"""
    r = client(code, url=hub.url, token=hub.tokens["bob"])
    assert r["status"] == 404 and r["body"]["requestId"] == r["id"]
    lines = [json.loads(line) for line in hub.stderr_path.read_text().splitlines() if line.startswith("{")]
    access = [entry for entry in lines if entry.get("target") == "wh::access"]
    assert access, hub.logs()
    mine = [entry for entry in access if entry.get("request_id") == r["id"]]
    assert len(mine) == 1, hub.logs()
    entry = mine[0]
    assert entry["method"] == "GET" and entry["path"] == "/api/models/nobody/nothing"
    assert entry["status"] == 404 and entry["user"] == "bob"
    assert "bytes" in entry and "duration_ms" in entry
    log_text = hub.stderr_path.read_text()
    for token in hub.tokens.values():
        assert token not in log_text, "a token reached the log"


def test_an_empty_hub_says_how_to_create_the_first_user_and_logs_text(wh, tmp_path):
    h = Hub(wh, tmp_path / "data", tmp_path)
    (tmp_path / "data").mkdir()
    h.start()
    try:
        import httpx

        r = httpx.get(h.url + "/api/health")
        assert r.status_code == 200 and r.headers["x-request-id"]
    finally:
        assert h.stop() == 0
    err = h.stderr_path.read_text()
    assert "no users yet" in err and "wh admin user create" in err and "--admin" in err, err
    assert "wh::access" in err and "path=/api/health" in err and "status=200" in err, err
    # With a user, the note is gone.
    h2 = Hub(wh, tmp_path / "data", tmp_path / "second")
    (tmp_path / "second").mkdir()
    h2.create_user("root", admin=True)
    h2.start()
    assert h2.stop() == 0
    assert "no users yet" not in h2.stderr_path.read_text()


def test_hf_repos_ls_and_duplicate_on_the_command_line(hub, client, tmp_path):
    import os
    import subprocess
    import sys

    client("from huggingface_hub import HfApi\nresult = HfApi().create_repo('cli', exist_ok=True).repo_id\n", user="alice")
    hf = os.path.join(os.path.dirname(sys.executable), "hf")
    env = client_env(hub.url, tmp_path / "hf-home-cli", disable_xet=True, token=hub.tokens["alice"])
    dup = subprocess.run([hf, "repos", "duplicate", "alice/cli", "alice/cli-copy"], env=env, capture_output=True, text=True, timeout=120)
    assert dup.returncode == 0, dup.stderr
    ls = subprocess.run([hf, "repos", "ls", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert ls.returncode == 0, ls.stderr
    ids = {r["id"] for r in json.loads(ls.stdout)}
    assert {"alice/cli", "alice/cli-copy"} <= ids, ls.stdout
