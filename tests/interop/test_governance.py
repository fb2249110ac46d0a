"""Cards and licences against a running hub: the hub's metadata validation (`/api/validate-yaml`,
which `huggingface_hub` calls before an upload) reports the card lint's front-matter errors in the
Hub's wording, and `wh card lint` / `wh license check` read repositories and their parents from
the hub with `--endpoint`. The clients run in their own processes, each with a fresh HF_HOME."""

import json
import subprocess

import pytest

from hub_support import Hub, client_env, run_client

UPLOAD = """
from huggingface_hub import HfApi
api = HfApi()
api.create_repo(params["repo"], exist_ok=True)
for path, text in params["files"].items():
    api.upload_file(path_or_fileobj=text.encode(), path_in_repo=path, repo_id=params["repo"])
result = api.model_info(params["repo"]).sha
"""


@pytest.fixture(scope="module")
def hub(wh, tmp_path_factory):
    base = tmp_path_factory.mktemp("governance")
    data = base / "data"
    data.mkdir()
    h = Hub(wh, data, base)
    h.create_user("alice")
    h.start()
    h.env = client_env(h.url, base / "hf-home", disable_xet=True, token=h.tokens["alice"])
    yield h
    assert h.stop() == 0, h.logs()


def upload(hub, repo, files):
    out = run_client(UPLOAD, hub.env, {"repo": repo, "files": files})
    assert "result" in out, out
    return out["result"]


def wh_run(hub, *args):
    return subprocess.run([hub.wh, *args, "--endpoint", hub.url], capture_output=True, text=True, timeout=120)


def test_upload_of_a_card_with_bad_metadata_fails_with_the_lint_message(hub):
    upload(hub, "alice/cards", {"README.md": "---\nlicense: mit\n---\n# ok\n"})
    for bad, expected in [
        ("license: Apache-2.0", '"license" must be one of [apache-2.0, mit,'),
        ("license: mit\ndatasets:\n- /var/data/images/", '"datasets[0]" with value "/var/data/images/" is not valid'),
        ("license: mit\nwidget: {text: hi}", '"widget" must be an array'),
        ("license: other\nlicense_link: LICENSE", '"license_name" is required when "license" is "other"'),
    ]:
        out = run_client(UPLOAD, hub.env, {"repo": "alice/cards", "files": {"README.md": f"---\n{bad}\n---\n# x\n"}})
        assert out.get("error", {}).get("type") == "ValueError", out
        assert "Invalid metadata in README.md." in out["error"]["text"], out
        assert expected in out["error"]["text"], out
    # Nothing of the refused uploads was committed.
    files = run_client(
        "from huggingface_hub import hf_hub_download\nresult = open(hf_hub_download('alice/cards', 'README.md')).read()",
        hub.env,
    )
    assert files["result"] == "---\nlicense: mit\n---\n# ok\n"


def test_missing_licence_is_a_warning_for_the_client(hub):
    code = """
import warnings
from huggingface_hub import HfApi
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    HfApi().upload_file(path_or_fileobj=b"---\\ntags: [x]\\n---\\n# x\\n", path_in_repo="README.md", repo_id="alice/cards")
result = [str(x.message) for x in w]
"""
    out = run_client(code, hub.env)
    assert any("Warnings while validating metadata in README.md" in m and '"license"' in m for m in out["result"]), out


def test_card_lint_reads_a_repository_on_the_hub(hub):
    upload(hub, "alice/linted", {"README.md": "---\nlicense: apache-2.0\nbase_model: nobody/missing-model\n---\n# x\n", "LICENSE": "Apache License\nVersion 2.0\n"})
    r = wh_run(hub, "card", "lint", "alice/linted", "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    report = json.loads(r.stdout)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert [f["rule"] for f in errors] == ["META-005"], report
    assert "nobody/missing-model" in errors[0]["message"] and errors[0]["line"] == 3
    upload(hub, "alice/linted", {"README.md": "---\nlicense: apache-2.0\nbase_model: alice/cards\n---\n# x\n"})
    r = wh_run(hub, "card", "lint", "alice/linted", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert wh_run(hub, "card", "lint", "alice/does-not-exist").returncode == 2


def test_license_check_resolves_parents_on_the_hub(hub):
    first = upload(hub, "alice/nc-parent", {"README.md": "---\nlicense: cc-by-nc-4.0\n---\n# NC\n"})
    upload(hub, "alice/apache-parent", {"README.md": "---\nlicense: apache-2.0\n---\n# A\n", "NOTICE": "Apache parent\nCopyright Alice\n"})
    merged = "---\nlicense: {lic}\nbase_model:\n- alice/nc-parent\n- alice/apache-parent\nbase_model_relation: merge\n---\n# Merged from alice/nc-parent and alice/apache-parent\n"
    upload(hub, "alice/merged", {"README.md": merged.format(lic="apache-2.0")})
    r = wh_run(hub, "license", "check", "alice/merged", "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert [(f["parent"], f["term"]) for f in out["findings"]] == [("alice/nc-parent", "non-commercial")]
    assert out["recommended"] == "cc-by-nc-4.0"
    assert [p["license"] for p in out["parents"]] == ["cc-by-nc-4.0", "apache-2.0"]
    # The hub's own card lint resolves the parents it holds and reports the same term.
    import urllib.request
    with urllib.request.urlopen(f"{hub.url}/api/models/alice/merged/card-lint") as resp:
        lint = json.loads(resp.read())
    lic = [f for f in lint["findings"] if f["rule"] == "LIC-001"]
    assert any(f["severity"] == "policy" and "non-commercial" in f["message"] for f in lic), lint
    # So does `wh card lint` with the hub at hand.
    r = wh_run(hub, "card", "lint", "alice/merged", "--json")
    assert any(f["rule"] == "LIC-001" and f["severity"] == "policy" for f in json.loads(r.stdout)["findings"]), r.stdout

    upload(hub, "alice/merged", {"README.md": merged.format(lic="cc-by-nc-4.0")})
    r = wh_run(hub, "license", "check", "alice/merged")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "verdict: allowed" in r.stdout
    # The Apache parent's NOTICE must be carried: a duty, failing only with --strict.
    assert "[missing] carry alice/apache-parent's NOTICE" in r.stdout, r.stdout
    assert wh_run(hub, "license", "check", "alice/merged", "--strict").returncode == 1

    # A pinned parent revision is read at that revision.
    upload(hub, "alice/nc-parent", {"README.md": "---\nlicense: mit\n---\n# now MIT\n"})
    tune = "---\nlicense: mit\nbase_model: alice/nc-parent\nbase_model_revision: {rev}\n---\n# tune\n"
    upload(hub, "alice/tune", {"README.md": tune.format(rev=first)})
    r = wh_run(hub, "license", "check", "alice/tune", "--json")
    assert r.returncode == 1, r.stdout
    assert json.loads(r.stdout)["parents"][0]["license"] == "cc-by-nc-4.0"
    upload(hub, "alice/tune", {"README.md": "---\nlicense: mit\nbase_model: alice/nc-parent\n---\n# tune\n"})
    assert wh_run(hub, "license", "check", "alice/tune").returncode == 0


def safetensors_bytes():
    header = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + b"\0" * 8


UPLOAD_BINARY = """
from huggingface_hub import HfApi
api = HfApi()
api.create_repo(params["repo"], exist_ok=True)
api.upload_file(path_or_fileobj=bytes.fromhex(params["hex"]), path_in_repo=params["path"], repo_id=params["repo"])
result = True
"""


def test_openness_of_a_repository_on_the_hub(hub):
    upload(hub, "alice/open-weights", {
        "README.md": "---\nlicense: apache-2.0\nlibrary_name: transformers\n---\n# Open\n",
        "LICENSE": "Apache License\nVersion 2.0\n",
        "config.json": '{"architectures": ["LlamaForCausalLM"]}',
    })
    out = run_client(UPLOAD_BINARY, hub.env, {"repo": "alice/open-weights", "path": "model.safetensors", "hex": safetensors_bytes().hex()})
    assert out.get("result") is True, out
    r = wh_run(hub, "openness", "alice/open-weights", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["owd"]["open_weight"] is True, report["owd"]
    assert "Open Weight (OWD v0.3)" in report["labels"]
    # The hub's own evaluation of the same revision agrees.
    import urllib.request
    with urllib.request.urlopen(f"{hub.url}/api/models/alice/open-weights/openness") as resp:
        served = json.loads(resp.read())
    assert served["owd"] == report["owd"]
    # A Llama licence is not Open Weight, whatever the files.
    upload(hub, "alice/open-weights", {"README.md": "---\nlicense: llama3.1\nlibrary_name: transformers\n---\n# Open\n"})
    report = json.loads(wh_run(hub, "openness", "alice/open-weights", "--json").stdout)
    assert report["owd"]["open_weight"] is False
    failed = {c["id"] for c in report["owd"]["criteria"] if c["verdict"] == "fail"}
    assert "OWD-5/6" in failed, report["owd"]["criteria"]
