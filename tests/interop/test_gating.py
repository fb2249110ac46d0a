"""Gated repositories with the real `huggingface_hub` client and `wh access`: the author gates a
repo with `update_repo_settings(gated=...)`, downloads raise `GatedRepoError` until a request is
accepted, `model_info` stays readable, a changed agreement needs a new request, and the authors
review requests with `list_*_access_requests`, `accept_/reject_/cancel_access_request` and
`grant_access`. The client runs in its own processes (run_client), never imported here."""

import json
import os
import pty
import select
import subprocess
import time

import pytest

from hub_support import client_runner, running_hub

CARD = """---
license: apache-2.0
extra_gated_prompt: Use these weights kindly.
extra_gated_fields:
  Company: text
  Country: country
  I agree to the terms: checkbox
---
# Gated model

Weights behind a gate.
"""
WEIGHTS = b"\x00\x01\x02 gated weights " * 100
FIELDS = ["--field", "Company=Acme", "--field", "Country=FR", "--field", "I agree to the terms=yes"]


@pytest.fixture(scope="module")
def hub(wh, tmp_path_factory):
    yield from running_hub(wh, tmp_path_factory.mktemp("gating"), users=("alice", "bob", "carol", "dave"))


@pytest.fixture
def client(hub, tmp_path):
    """Runs client code in a fresh process as `user` (None: anonymous), each with its own cache."""
    return client_runner(hub, tmp_path)


def wh_access(hub, user, *args, stdin=subprocess.DEVNULL):
    """Runs `wh access ARGS` as `user` against the hub; returns the CompletedProcess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "WH_"))}
    cmd = [hub.wh, "access", *args, "--endpoint", hub.url]
    if user:
        cmd += ["--token", hub.tokens[user]]
    return subprocess.run(cmd, env=env, stdin=stdin, capture_output=True, text=True, timeout=60)


SETUP = """
from huggingface_hub import HfApi
api = HfApi()
api.create_repo(params["repo"])
api.upload_file(path_or_fileobj=params["card"].encode(), path_in_repo="README.md", repo_id=params["repo"])
api.upload_file(path_or_fileobj=b"Terms v1: be kind.\\n", path_in_repo="LICENSE", repo_id=params["repo"])
api.upload_file(path_or_fileobj=bytes.fromhex(params["weights"]), path_in_repo="model.safetensors", repo_id=params["repo"])
api.update_repo_settings(params["repo"], gated=params["mode"])
result = api.model_info(params["repo"]).gated
"""

DOWNLOAD = """
import pathlib
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError
try:
    path = hf_hub_download(params["repo"], params["file"])
    result = {"ok": pathlib.Path(path).read_bytes().hex()}
except GatedRepoError as e:
    result = {"gated": e.response.status_code, "message": e.response.headers.get("x-error-message")}
"""


def download(client, repo, user, file="model.safetensors"):
    out = client(DOWNLOAD, user, repo=repo, file=file)
    assert "result" in out, out
    return out["result"]


def gated_repo(client, repo, mode, card=CARD):
    out = client(SETUP, "alice", repo=repo, card=card, weights=WEIGHTS.hex(), mode=mode)
    assert out.get("result") == mode, out


def request_json(hub, user, repo, *extra):
    """`wh access request REPO --json` without accepting: prints the agreement, refuses (exit 2)."""
    r = wh_access(hub, user, "request", repo, "--json", *extra)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "not accepted" in r.stderr
    return json.loads(r.stdout)


def test_manual_gate_with_huggingface_hub_and_wh_access(hub, client):
    repo = "alice/gated-manual"
    gated_repo(client, repo, "manual")

    # Anonymous and unapproved downloads raise GatedRepoError; the repo info stays readable.
    anon = download(client, repo, None)
    assert anon["gated"] == 401 and "Please log in" in anon["message"], anon
    denied = download(client, repo, "bob")
    assert denied["gated"] == 403 and f"{hub.url}/{repo}" in denied["message"], denied
    info = client(f"from huggingface_hub import HfApi\nresult = HfApi().model_info({repo!r}).gated", None)
    assert info["result"] == "manual", info
    # The terms themselves are public.
    assert bytes.fromhex(download(client, repo, None, "LICENSE")["ok"]) == b"Terms v1: be kind.\n"

    # bob reads the agreement, then accepts it by its hash.
    shown = request_json(hub, "bob", repo)
    agreement = shown["agreement"]
    assert "Use these weights kindly." in agreement["text"] and "Terms v1" in agreement["text"]
    assert [f["label"] for f in agreement["fields"]] == ["Company", "Country", "I agree to the terms"]
    assert shown["status"] == "not-requested" and shown["requested"] is False
    sha = agreement["sha256"]
    # Without answers and without a terminal to ask them on, nothing is sent.
    r = wh_access(hub, "bob", "request", repo, "--i-accept", sha)
    assert r.returncode == 2 and "--field" in r.stderr, (r.stdout, r.stderr)
    r = wh_access(hub, "bob", "request", repo, "--i-accept", sha, *FIELDS, "--json")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert json.loads(r.stdout)["status"] == "pending"
    assert "gated" in download(client, repo, "bob")

    # alice reviews with huggingface_hub.
    out = client(
        f"""
from huggingface_hub import HfApi
api = HfApi()
pending = api.list_pending_access_requests({repo!r})
result = [{{"user": r.username, "status": r.status, "fields": r.fields, "ts": r.timestamp.isoformat()}} for r in pending]
api.accept_access_request({repo!r}, "bob")
result = {{"pending": result, "accepted": [r.username for r in api.list_accepted_access_requests({repo!r})]}}
""",
        "alice",
    )
    assert "result" in out, out
    (item,) = out["result"]["pending"]
    assert item["user"] == "bob" and item["status"] == "pending"
    assert item["fields"] == {"Company": "Acme", "Country": "FR", "I agree to the terms": True}
    assert out["result"]["accepted"] == ["bob"]
    assert bytes.fromhex(download(client, repo, "bob")["ok"]) == WEIGHTS
    r = wh_access(hub, "bob", "status", repo, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "accepted", r.stdout

    # A new prompt is a new agreement: the grant no longer counts until bob accepts it.
    out = client(
        f"""
from huggingface_hub import HfApi
HfApi().upload_file(path_or_fileobj=params["card"].encode(), path_in_repo="README.md", repo_id={repo!r})
result = True
""",
        "alice",
        card=CARD.replace("Use these weights kindly.", "Use these weights very kindly."),
    )
    assert out.get("result") is True, out
    assert download(client, repo, "bob")["gated"] == 403
    r = wh_access(hub, "bob", "status", repo, "--json")
    assert json.loads(r.stdout)["status"] == "outdated", r.stdout
    # The old hash is refused as a changed agreement.
    r = wh_access(hub, "bob", "request", repo, "--i-accept", sha, *FIELDS)
    assert r.returncode == 1 and "changed" in r.stderr, (r.stdout, r.stderr)
    new_sha = request_json(hub, "bob", repo)["agreement"]["sha256"]
    assert new_sha != sha
    r = wh_access(hub, "bob", "request", repo, "--i-accept", new_sha, *FIELDS)
    assert r.returncode == 0 and "pending" in r.stdout, (r.stdout, r.stderr)

    # Rejected with a reason: listed as rejected, shown to bob, and no second request.
    out = client(
        f"""
from huggingface_hub import HfApi
api = HfApi()
api.reject_access_request({repo!r}, "bob", rejection_reason="No commercial use")
result = [(r.username, r.status) for r in api.list_rejected_access_requests({repo!r})]
""",
        "alice",
    )
    assert out.get("result") == [["bob", "rejected"]], out
    r = wh_access(hub, "bob", "status", repo)
    assert r.returncode == 0 and "No commercial use" in r.stdout and "rejected" in r.stdout, r.stdout
    r = wh_access(hub, "bob", "request", repo, "--i-accept", new_sha, *FIELDS)
    assert r.returncode == 1 and "rejected" in r.stderr, (r.stdout, r.stderr)
    assert download(client, repo, "bob")["gated"] == 403


def test_auto_mode_grants_on_request(hub, client):
    repo = "alice/gated-auto"
    gated_repo(client, repo, "auto")
    assert download(client, repo, "carol")["gated"] == 403
    sha = request_json(hub, "carol", repo)["agreement"]["sha256"]
    r = wh_access(hub, "carol", "request", repo, "--i-accept", sha, *FIELDS, "--json")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert json.loads(r.stdout)["status"] == "accepted"
    assert bytes.fromhex(download(client, repo, "carol")["ok"]) == WEIGHTS
    out = client(
        f"from huggingface_hub import HfApi\nresult = [r.username for r in HfApi().list_accepted_access_requests({repo!r})]",
        "alice",
    )
    assert out.get("result") == ["carol"], out


def test_authors_review_with_wh_access_and_grant_access(hub, client):
    repo = "alice/gated-review"
    gated_repo(client, repo, "manual")
    # Only writers of the namespace review; unknown users are named.
    r = wh_access(hub, "bob", "list", repo)
    assert r.returncode == 1 and "403" in r.stderr, (r.stdout, r.stderr)
    r = wh_access(hub, "alice", "grant", repo, "nobody")
    assert r.returncode == 1 and "nobody" in r.stderr, (r.stdout, r.stderr)

    out = client(f'from huggingface_hub import HfApi\nHfApi().grant_access({repo!r}, "dave")\nresult = True', "alice")
    assert out.get("result") is True, out
    assert bytes.fromhex(download(client, repo, "dave")["ok"]) == WEIGHTS
    r = wh_access(hub, "alice", "list", repo, "--status", "accepted", "--json")
    assert r.returncode == 0 and [i["user"]["user"] for i in json.loads(r.stdout)] == ["dave"], r.stdout
    # cancel_access_request puts dave back to pending, and the gate closes again.
    out = client(f'from huggingface_hub import HfApi\nHfApi().cancel_access_request({repo!r}, "dave")\nresult = True', "alice")
    assert out.get("result") is True, out
    assert download(client, repo, "dave")["gated"] == 403
    r = wh_access(hub, "alice", "list", repo, "--json")
    assert [i["user"]["user"] for i in json.loads(r.stdout)] == ["dave"], r.stdout
    r = wh_access(hub, "alice", "approve", repo, "dave")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "ok" in download(client, repo, "dave")
    r = wh_access(hub, "alice", "reject", repo, "dave", "--reason", "Terms broken")
    assert r.returncode == 0, (r.stdout, r.stderr)
    r = wh_access(hub, "alice", "list", repo, "--status", "rejected")
    assert "dave" in r.stdout and "Terms broken" in r.stdout, r.stdout
    r = wh_access(hub, "alice", "grant", repo, "dave")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "ok" in download(client, repo, "dave")

    # Usage and connection errors exit 2.
    r = wh_access(hub, "alice", "list", "not-a-repo-id")
    assert r.returncode == 2, (r.stdout, r.stderr)
    r = subprocess.run(
        [hub.wh, "access", "status", repo, "--endpoint", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 2, (r.stdout, r.stderr)


def test_request_confirmed_by_typing_the_repo_id_on_a_terminal(hub, client):
    repo = "alice/gated-tty"
    gated_repo(client, repo, "auto")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "WH_"))}
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [hub.wh, "access", "request", repo, "--endpoint", hub.url, "--token", hub.tokens["bob"]],
        env=env, stdin=slave, stderr=slave, stdout=subprocess.PIPE, text=True,
    )
    os.close(slave)
    seen = b""
    answers = [(b"Company", b"Acme\n"), (b"Country", b"FR\n"), (b"I agree", b"yes\n"), (b"type the repository id", repo.encode() + b"\n")]
    deadline = time.monotonic() + 60
    try:
        for prompt, answer in answers:
            while prompt not in seen:
                assert time.monotonic() < deadline, seen.decode(errors="replace")
                ready, _, _ = select.select([master], [], [], 1)
                if ready:
                    try:
                        seen += os.read(master, 4096)
                    except OSError:
                        break
            os.write(master, answer)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 0, (stdout, seen.decode(errors="replace"))
    assert "Use these weights kindly." in stdout and "accepted" in stdout, stdout
    assert bytes.fromhex(download(client, repo, "bob")["ok"]) == WEIGHTS
