"""The hub's process life: killed with SIGKILL at any moment it restarts with every acknowledged
commit intact and no half-written file visible; on SIGTERM it finishes requests in flight."""

import base64
import hashlib
import json
import random
import signal
import threading
import time

import httpx
import pytest

from hub_support import Hub


def make_hub(wh, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    h = Hub(wh, data, tmp_path)
    token = h.create_user("alice")
    return h, token


def create_repo(url, token, name):
    r = httpx.post(f"{url}/api/repos/create", json={"name": name}, headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text


def upload_lfs(client, url, token, repo, content):
    oid = hashlib.sha256(content).hexdigest()
    r = client.post(
        f"{url}/{repo}.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(content)}], "hash_algo": "sha256"},
        headers={"authorization": f"Bearer {token}", "accept": "application/vnd.git-lfs+json"},
    )
    r.raise_for_status()
    obj = r.json()["objects"][0]
    if "actions" in obj:
        client.put(obj["actions"]["upload"]["href"], content=content).raise_for_status()
    return oid


def commit(client, url, token, repo, title, lines):
    body = json.dumps({"key": "header", "value": {"summary": title, "description": ""}}) + "\n"
    body += "".join(json.dumps(line) + "\n" for line in lines)
    r = client.post(
        f"{url}/api/models/{repo}/commit/main",
        content=body.encode(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"},
    )
    r.raise_for_status()
    return r.json()["commitOid"]


def writer(url, token, repo, worker, stop, acked):
    """Commits files until the server dies; records (commit, path, sha256) of acknowledged ones."""
    rng = random.Random(worker)
    n = 0
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            n += 1
            path = f"w{worker}/f{n}.bin"
            try:
                if n % 3 == 0:
                    content = rng.randbytes(rng.randrange(1, 3_000_000))
                    oid = upload_lfs(client, url, token, repo, content)
                    line = {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": len(content)}}
                else:
                    content = rng.randbytes(rng.randrange(0, 20_000))
                    line = {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}}
                oid = commit(client, url, token, repo, f"worker {worker} file {n}", [line])
            except (httpx.HTTPError, OSError):
                return
            acked.append((oid, path, hashlib.sha256(content).hexdigest()))


def check_blobs(data):
    """Every visible blob is complete: its content hashes to its name; no staging file is left."""
    count = 0
    for f in (data / "blobs").rglob("*"):
        if f.is_file():
            h = hashlib.sha256()
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            assert h.hexdigest() == f.name, f"blob {f} does not hash to its name"
            count += 1
    staging = data / "staging"
    assert not staging.exists() or not any(staging.iterdir()), "staging files visible after restart"
    return count


def test_sigkill_at_any_moment_loses_no_acknowledged_commit(wh, tmp_path):
    hub, token = make_hub(wh, tmp_path)
    repo = "alice/crash"
    acked = []
    rng = random.Random(7)
    for round_ in range(3):
        url = hub.start()
        if round_ == 0:
            create_repo(url, token, "crash")
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(url, token, repo, f"{round_}-{w}", stop, acked)) for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0 + rng.random() * 2.0)
        hub.proc.send_signal(signal.SIGKILL)
        hub.proc.wait()
        stop.set()
        for t in threads:
            t.join(timeout=60)
        hub.url = None

    assert len(acked) >= 10, f"too few commits were acknowledged before the kills ({len(acked)})"
    url = hub.start()
    try:
        check_blobs(hub.data)
        with httpx.Client(timeout=30) as client:
            history = set()
            next_url = f"{url}/api/models/{repo}/commits/main"
            while next_url:
                r = client.get(next_url)
                r.raise_for_status()
                history.update(c["id"] for c in r.json())
                next_url = r.links.get("next", {}).get("url")
            for oid, path, sha in acked:
                assert oid in history, f"acknowledged commit {oid} is not in the history of main"
                r = client.get(f"{url}/{repo}/resolve/{oid}/{path}")
                assert r.status_code == 200, (oid, path, r.status_code, r.text)
                assert hashlib.sha256(r.content).hexdigest() == sha, f"{path} at {oid} has other bytes"
        # The hub still takes commits after the crashes.
        with httpx.Client(timeout=30) as client:
            commit(client, url, token, repo, "after the crashes", [{"key": "deletedFolder", "value": {"path": "w0-0/"}}])
    finally:
        assert hub.stop() == 0, hub.logs()


def test_sigterm_finishes_requests_in_flight(wh, tmp_path):
    hub, token = make_hub(wh, tmp_path)
    url = hub.start()
    create_repo(url, token, "big")
    content = random.Random(1).randbytes(64 << 20)
    with httpx.Client(timeout=60) as client:
        oid = upload_lfs(client, url, token, "alice/big", content)
        commit(client, url, token, "alice/big", "weights", [{"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(content)}}])
    got = bytearray()
    with httpx.Client(timeout=60) as client:
        with client.stream("GET", f"{url}/alice/big/resolve/main/w.bin") as r:
            assert r.status_code == 200
            chunks = r.iter_bytes(1 << 20)
            got += next(chunks)
            hub.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert hub.proc.poll() is None, "the hub exited with a download in flight"
            # New connections are no longer accepted while the old one drains.
            with pytest.raises(httpx.HTTPError):
                httpx.get(f"{url}/api/health", timeout=2)
            for chunk in chunks:
                got += chunk
    assert hashlib.sha256(got).hexdigest() == oid, "the download in flight was cut short"
    assert hub.proc.wait(timeout=20) == 0, hub.logs()


def test_admin_commands_work_on_a_fresh_folder_and_while_the_hub_runs(wh, tmp_path):
    data = tmp_path / "fresh" / "nested"
    hub = Hub(wh, data, tmp_path)
    first = hub.create_user("root", admin=True)
    assert first.startswith("wh_") and (data / "hub.db").exists()
    url = hub.start()
    try:
        token = hub.create_user("carol")
        r = httpx.get(f"{url}/api/whoami-v2", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["name"] == "carol"
        ro = hub.create_token("carol", "read")
        r = httpx.post(f"{url}/api/repos/create", json={"name": "x"}, headers={"authorization": f"Bearer {ro}"})
        assert r.status_code == 403, r.text
        entries = hub.audit()
        actions = [e["action"] for e in entries]
        assert actions.count("user.create") == 2 and "token.create" in actions
        assert all(token not in json.dumps(e) for e in entries), "a token leaked into the audit log"
        out = hub.admin("audit", "verify")
        assert "intact" in out
    finally:
        assert hub.stop() == 0, hub.logs()


def test_a_full_disk_answers_507_and_keeps_nothing(wh, tmp_path):
    """The data folder on a 24 MiB tmpfs: an upload that does not fit is refused with 507 and a
    message, no staging file or blob is left, no commit names it, and the hub keeps serving."""
    import os
    import subprocess

    data = tmp_path / "data"
    data.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(data)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"this test mounts a small tmpfs and needs to run as root: {mounted.stderr.strip()}")
    try:
        h = Hub(wh, data, tmp_path)
        token = h.create_user("alice")
        h.start()
        try:
            create_repo(h.url, token, "full")
            big = os.urandom(40 << 20)
            with httpx.Client(timeout=60) as c:
                oid = hashlib.sha256(big).hexdigest()
                r = c.post(
                    f"{h.url}/alice/full.git/info/lfs/objects/batch",
                    json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(big)}], "hash_algo": "sha256"},
                    headers={"authorization": f"Bearer {token}", "accept": "application/vnd.git-lfs+json"},
                )
                r.raise_for_status()
                put = c.put(r.json()["objects"][0]["actions"]["upload"]["href"], content=big)
                assert put.status_code == 507, (put.status_code, put.text)
                assert "disk is full" in put.headers.get("x-error-message", ""), put.headers
                leftovers = [p for p in (data / "staging").rglob("*") if p.is_file()]
                assert leftovers == [], leftovers
                assert not any(oid in p.name for p in (data / "blobs").rglob("*")), "no blob of the refused upload"
                r = c.post(
                    f"{h.url}/api/models/alice/full/commit/main",
                    content=(json.dumps({"key": "header", "value": {"summary": "x"}}) + "\n"
                             + json.dumps({"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", "oid": oid, "size": len(big)}}) + "\n").encode(),
                    headers={"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"},
                )
                assert r.status_code >= 400, r.text
                # Still serving: a small commit lands.
                small = commit(c, h.url, token, "alice/full", "small", [
                    {"key": "file", "value": {"path": "a.txt", "content": base64.b64encode(b"a").decode(), "encoding": "base64"}},
                ])
                assert len(small) == 40
        finally:
            assert h.stop() == 0, h.logs()
    finally:
        subprocess.run(["umount", str(data)], check=False)
