"""The audit log is tamper-evident: after real API traffic, `wh admin audit verify` exits 0 with
the head and count on the untouched data folder, and exits 1 naming the entry on copies where an
entry was edited, removed, swapped with another or cut off the end (the anchor file `audit.head`
catches the last). Site administrators export it as NDJSON whose hashes anyone can recompute."""

import hashlib
import json
import shutil
import sqlite3
import subprocess

import httpx
import pytest

from hub_support import Hub

CARD = """---
license: apache-2.0
extra_gated_prompt: Be kind.
extra_gated_fields:
  Company: text
---
# Audited
"""


def canonical(value):
    """The canonical JSON the hub hashes: keys sorted, no whitespace, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def commit(url, token, repo, files):
    import base64

    lines = [{"key": "header", "value": {"summary": "update", "description": ""}}]
    for path, content in files.items():
        lines.append({"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}})
    body = "".join(json.dumps(line) + "\n" for line in lines)
    r = httpx.post(
        f"{url}/api/models/{repo}/commit/main",
        content=body.encode(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def traffic(wh, tmp_path_factory):
    """A hub that saw repository, gating, review, download and export traffic, then stopped.
    Returns its data folder and what the export returned."""
    base = tmp_path_factory.mktemp("audit")
    data = base / "data"
    data.mkdir()
    hub = Hub(wh, data, base)
    root = hub.create_user("root", admin=True)
    alice = hub.create_user("alice")
    bob = hub.create_user("bob")
    url = hub.start()
    try:
        auth = lambda t: {"authorization": f"Bearer {t}"}  # noqa: E731
        r = httpx.post(f"{url}/api/repos/create", json={"name": "g"}, headers=auth(alice))
        assert r.status_code == 200, r.text
        commit(url, alice, "alice/g", {"README.md": CARD.encode(), "w.bin": b"weights"})
        r = httpx.put(f"{url}/api/models/alice/g/settings", json={"gated": "manual"}, headers=auth(alice))
        assert r.status_code == 200, r.text
        gate = httpx.get(f"{url}/api/models/alice/g/gate", headers=auth(bob)).json()
        r = httpx.post(
            f"{url}/api/models/alice/g/ask-access",
            json={"agreement_sha256": gate["agreement"]["sha256"], "fields": {"Company": "Acme"}},
            headers=auth(bob),
        )
        assert r.status_code == 200 and r.json()["status"] == "pending", r.text
        r = httpx.post(f"{url}/api/models/alice/g/user-access-request/handle", json={"user": "bob", "status": "accepted"}, headers=auth(alice))
        assert r.status_code == 200, r.text
        r = httpx.get(f"{url}/alice/g/resolve/main/w.bin", headers=auth(bob))
        assert r.status_code == 200 and r.content == b"weights"
        r = httpx.post(f"{url}/api/models/alice/g/branch/dev", json={}, headers=auth(alice))
        assert r.status_code == 200, r.text

        # Only site administrators export.
        r = httpx.get(f"{url}/api/admin/audit", headers=auth(alice))
        assert r.status_code == 403
        r = httpx.get(f"{url}/api/admin/audit", headers=auth(root))
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
        export = [json.loads(line) for line in r.text.splitlines()]
        r = httpx.get(f"{url}/api/admin/audit", params={"event": "access", "personal": "true"}, headers=auth(root))
        personal = [json.loads(line) for line in r.text.splitlines()]
    finally:
        code = hub.stop()
    assert code == 0, hub.logs()
    return {"data": data, "wh": wh, "export": export, "personal": personal, "base": base}


def verify(wh, data, *extra):
    return subprocess.run([wh, "admin", "audit", "verify", "--data", str(data), *extra], capture_output=True, text=True, timeout=60)


def copy(traffic, name):
    dest = traffic["base"] / name
    shutil.copytree(traffic["data"], dest)
    return dest


def sql(data, *statements):
    db = sqlite3.connect(data / "hub.db")
    try:
        for s in statements:
            db.execute(s)
        db.commit()
    finally:
        db.close()


def test_the_export_is_a_hash_chain_anyone_can_recompute(traffic):
    export = traffic["export"]
    events = [e["event"] for e in export]
    for wanted in ("user.create", "repo.create", "commit", "repo.settings", "access.request", "access.accept", "download", "branch.create"):
        assert wanted in events, (wanted, events)
    prev = "0" * 64
    for i, e in enumerate(export, start=1):
        assert e["seq"] == i and e["prev_hash"] == prev, e
        assert "personal" not in e
        record = {k: v for k, v in e.items() if k != "hash"}
        assert hashlib.sha256(canonical(record).encode()).hexdigest() == e["hash"], e
        prev = e["hash"]
    download = next(e for e in export if e["event"] == "download")
    assert download["data"]["user"] == "bob" and download["data"]["file"] == "w.bin" and download["data"]["bytes"] == 7
    request = next(e for e in traffic["personal"] if e["event"] == "access.request")
    assert request["personal"]["answers"] == {"Company": "Acme"}
    assert request["personal"]["ip"] == "127.0.0.1"
    assert "Acme" not in json.dumps({k: v for k, v in request.items() if k != "personal"})


def test_an_untouched_log_verifies_with_its_head_and_count(traffic):
    data = copy(traffic, "untouched")
    db = sqlite3.connect(data / "hub.db")
    count, = db.execute("SELECT count(*) FROM audit").fetchone()
    head, = db.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    db.close()
    # The export itself was logged.
    assert count == len(traffic["export"]) + 2
    anchor = json.loads((data / "audit.head").read_text())
    assert anchor == {"seq": count, "hash": head}, "the hub wrote its last entry to audit.head when it stopped"
    r = verify(traffic["wh"], data)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "intact" in r.stdout and f"{count} entries" in r.stdout and head in r.stdout, r.stdout
    r = verify(traffic["wh"], data, "--json")
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["intact"] is True and out["count"] == count and out["head"] == {"seq": count, "hash": head}


def test_an_edited_entry_is_named(traffic):
    data = copy(traffic, "edited")
    sql(data, "UPDATE audit SET detail = '{\"user\":\"mallory\"}' WHERE id = 4")
    r = verify(traffic["wh"], data)
    assert r.returncode == 1 and "entry 4 was altered" in r.stdout, (r.stdout, r.stderr)
    r = verify(traffic["wh"], data, "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 1 and (out["intact"], out["seq"], out["problem"]) == (False, 4, "altered"), out


def test_a_removed_entry_is_named(traffic):
    data = copy(traffic, "removed")
    sql(data, "DELETE FROM audit WHERE id = 6")
    r = verify(traffic["wh"], data)
    assert r.returncode == 1 and "entry 6 is missing" in r.stdout, (r.stdout, r.stderr)


def test_swapped_entries_are_named(traffic):
    data = copy(traffic, "swapped")
    sql(data, "UPDATE audit SET id = -1 WHERE id = 3", "UPDATE audit SET id = 3 WHERE id = 7", "UPDATE audit SET id = 7 WHERE id = -1")
    r = verify(traffic["wh"], data, "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 1 and (out["seq"], out["problem"]) == (3, "reordered"), out
    assert "entry 7" in out["message"], out


def test_a_truncated_tail_is_caught_by_the_anchor(traffic):
    data = copy(traffic, "truncated")
    anchor = json.loads((data / "audit.head").read_text())
    sql(data, f"DELETE FROM audit WHERE id > {anchor['seq'] - 2}")
    r = verify(traffic["wh"], data)
    assert r.returncode == 1 and "truncated" in r.stdout and f"entry {anchor['seq']}" in r.stdout, (r.stdout, r.stderr)
    # wh admin keeps the anchor as evidence instead of moving it back.
    r = subprocess.run([traffic["wh"], "admin", "user", "create", "eve", "--data", str(data)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "anchor was not updated" in r.stderr, (r.stdout, r.stderr)
    assert json.loads((data / "audit.head").read_text()) == anchor
    assert verify(traffic["wh"], data).returncode == 1


def test_erasing_personal_data_keeps_the_chain(traffic):
    data = copy(traffic, "erased")
    r = subprocess.run([traffic["wh"], "admin", "audit", "erase", "--user", "bob", "--data", str(data)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    db = sqlite3.connect(data / "hub.db")
    left = db.execute(
        "SELECT count(*) FROM audit WHERE personal IS NOT NULL AND (user_name = 'bob' OR json_extract(detail, '$.user') = 'bob')"
    ).fetchone()[0]
    alice_kept = db.execute("SELECT count(*) FROM audit WHERE personal IS NOT NULL AND user_name = 'alice'").fetchone()[0]
    last_event, = db.execute("SELECT action FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    db.close()
    assert left == 0 and alice_kept > 0 and last_event == "audit.erase"
    r = verify(traffic["wh"], data)
    assert r.returncode == 0 and "intact" in r.stdout, (r.stdout, r.stderr)
