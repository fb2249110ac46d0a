"""The hub (`wh serve`) serves the real clients, unmodified and pointed at it with HF_ENDPOINT:
`huggingface_hub` 2.4.0 (with `hf_xet` installed) and the Rust `hf-hub` 0.5 crate (both of its
APIs). What is checked follows hf-api.md §11; the gotchas of §0 are named where a check covers one.

One hub runs for the whole module. The in-process client is imported only once the hub listens,
with HF_HUB_DISABLE_XET=1 (the upload configuration); the default configuration (Xet enabled) and
the Rust crate run in their own processes, each with a fresh HF_HOME."""

import datetime
import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys
import types
import urllib.error
import urllib.request

import numpy as np
import pytest
from safetensors.numpy import save_file

from hub_support import HF_HUB_CHECK, Hub, client_env, executable, git_blob_id, lfs_pointer, run_client, sha256_file

HEX40 = re.compile(r"[0-9a-f]{40}")
REPO = "alice/x"
UPLOAD_TITLE = "Upload folder using huggingface_hub"
# What the hub must store through LFS: by .gitattributes pattern, by binary sample, by size (>= 10 MB).
LFS_PATHS = {"model.safetensors", "raw.dat", "data/corpus.txt"}


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def hub(wh, tmp_path_factory):
    base = tmp_path_factory.mktemp("hub")
    data = base / "data"
    data.mkdir()
    h = Hub(wh, data, base)
    h.create_user("alice")
    h.create_user("bob")
    h.admin("org", "create", "acme")
    h.admin("org", "add-member", "acme", "alice", "--role", "write")
    # Tree listings come in pages of 3, so every recursive listing (list_repo_files, list_repo_tree,
    # snapshot_download) has to follow `Link: rel="next"` across several pages.
    h.start("--page-size", "3")
    yield h
    code = h.stop()
    if code != 0:
        pytest.fail(f"wh serve did not exit 0 on SIGTERM: {code}\n{h.logs()}")


@pytest.fixture(scope="module")
def hf(hub, tmp_path_factory):
    """The `huggingface_hub` package, imported after HF_ENDPOINT and a fresh HF_HOME are set (it
    reads them at import time), with HF_HUB_DISABLE_XET=1 and no ambient token."""
    if "huggingface_hub" in sys.modules:
        pytest.fail("huggingface_hub was imported before the hub started; its HF_ENDPOINT would be stale")
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(client_env(hub.url, tmp_path_factory.mktemp("hf-home"), disable_xet=True))
    import huggingface_hub
    from huggingface_hub.utils._runtime import is_xet_available

    assert huggingface_hub.__version__ == "2.4.0"
    assert huggingface_hub.constants.ENDPOINT == hub.url
    assert not is_xet_available(), "HF_HUB_DISABLE_XET=1 did not take"
    yield huggingface_hub
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def alice(hf, hub):
    return hf.HfApi(token=hub.tokens["alice"])


@pytest.fixture(scope="module")
def bob(hf, hub):
    return hf.HfApi(token=hub.tokens["bob"])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The folder `upload_folder` sends: a 40 MB safetensors file (multipart LFS), a binary file
    LFS only by its sample, a text file LFS only by its size, small git files, a README with YAML
    front matter, a file two folders down and an empty file."""
    root = tmp_path_factory.mktemp("upload")
    rng = np.random.default_rng(20261127)
    save_file({"embed": rng.standard_normal((2500, 4000), dtype=np.float32)}, str(root / "model.safetensors"), {"format": "np"})
    (root / "config.json").write_text(json.dumps({"model_type": "wh-test", "hidden_size": 4000}, indent=2) + "\n")
    (root / "README.md").write_text("---\nlicense: mit\ntags:\n- weighhouse-test\n---\n\n# x\n\nA test model.\n")
    (root / "sub" / "dir").mkdir(parents=True)
    (root / "sub" / "dir" / "file.txt").write_text("hello from two folders down\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "raw.dat").write_bytes(b"\0" + rng.bytes(4095))
    (root / "data").mkdir()
    line = b"the quick brown fox jumps over the lazy dog 0123456789\n"
    (root / "data" / "corpus.txt").write_bytes((line * (10_000_000 // len(line) + 1))[:10_000_000])
    files = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            rel = p.relative_to(root).as_posix()
            files[rel] = types.SimpleNamespace(path=p, size=p.stat().st_size, sha256=sha256_file(p), data=p.read_bytes() if p.stat().st_size < 1_000_000 else None)
    assert files["model.safetensors"].size > 40_000_000
    return types.SimpleNamespace(root=root, files=files)


@pytest.fixture(scope="module")
def model_repo(alice, folder):
    """alice/x: created, then one upload_folder commit. Nothing else commits to its main branch."""
    url = alice.create_repo(REPO)
    initial = alice.model_info(REPO).sha
    commit = alice.upload_folder(repo_id=REPO, folder_path=folder.root)
    return types.SimpleNamespace(url=url, initial=initial, commit=commit, head=commit.oid)


SECRET = b"\0private weights\0" * 64


@pytest.fixture(scope="module")
def private_repo(alice):
    alice.create_repo("alice/secret", private=True)
    alice.upload_file(path_or_fileobj=SECRET, path_in_repo="weights.bin", repo_id="alice/secret")
    return "alice/secret"


CSV = b"text,label\nhello,1\nworld,0\n"


@pytest.fixture(scope="module")
def dataset_repo(alice):
    url = alice.create_repo("alice/data", repo_type="dataset")
    commit = alice.upload_file(path_or_fileobj=CSV, path_in_repo="train.csv", repo_id="alice/data", repo_type="dataset")
    return types.SimpleNamespace(url=url, commit=commit)


def paths_of(entries):
    return sorted(e.path for e in entries)


def audit_entries(hub, action, repo):
    return [e for e in hub.audit() if e["action"] == action and e["repo"] == repo]


# ---------------------------------------------------------------------------------------------
# identity and repositories


def test_whoami_names_the_token_owner_and_their_orgs(alice, bob):
    me = alice.whoami()
    assert me["name"] == "alice"
    assert "acme" in [org["name"] for org in me.get("orgs", [])]
    assert bob.whoami()["name"] == "bob"


def test_a_bogus_token_is_refused(hf):
    with pytest.raises(hf.errors.HfHubHTTPError) as e:
        hf.HfApi(token="hf_not_a_real_token_0123456789").whoami()
    assert e.value.response.status_code == 401
    assert "Invalid user token" in str(e.value)


def test_create_repo_returns_its_url_and_exist_ok_accepts_a_second_call(hf, hub, alice, model_repo):
    url = model_repo.url
    assert url.repo_id == REPO and url.repo_type == "model"
    assert url.endpoint == hub.url and str(url) == f"{hub.url}/{REPO}"  # gotcha 9: the configured host
    again = alice.create_repo(REPO, exist_ok=True)  # gotcha 15: a 409 that carries the url
    assert again.repo_id == REPO
    with pytest.raises(hf.errors.HfHubHTTPError) as e:
        alice.create_repo(REPO)
    assert e.value.response.status_code == 409


def test_create_repo_without_a_namespace_uses_the_callers(alice):
    assert alice.create_repo("implicit").repo_id == "alice/implicit"
    assert alice.repo_exists("alice/implicit")


def test_a_new_repo_has_an_initial_commit_with_the_default_gitattributes(hf, alice, tmp_path):
    alice.create_repo("alice/fresh")
    assert alice.list_repo_files("alice/fresh") == [".gitattributes"]
    commits = alice.list_repo_commits("alice/fresh")
    assert len(commits) == 1 and HEX40.fullmatch(commits[0].commit_id)
    assert alice.model_info("alice/fresh").sha == commits[0].commit_id
    text = pathlib.Path(hf.hf_hub_download("alice/fresh", ".gitattributes", cache_dir=tmp_path)).read_text()
    for pattern in ("*.safetensors", "*.bin"):
        assert f"{pattern} filter=lfs diff=lfs merge=lfs -text" in text


def test_dataset_repos_live_apart_from_models(hf, hub, alice, dataset_repo, tmp_path):
    url = dataset_repo.url
    assert url.repo_id == "alice/data" and url.repo_type == "dataset"
    assert str(url) == f"{hub.url}/datasets/alice/data"
    info = alice.dataset_info("alice/data")
    assert info.id == "alice/data" and info.sha == dataset_repo.commit.oid
    assert sorted(alice.list_repo_files("alice/data", repo_type="dataset")) == [".gitattributes", "train.csv"]
    path = hf.hf_hub_download("alice/data", "train.csv", repo_type="dataset", cache_dir=tmp_path)
    assert pathlib.Path(path).read_bytes() == CSV
    assert alice.repo_exists("alice/data", repo_type="dataset")
    assert not alice.repo_exists("alice/data")  # no model of that name


def test_private_repo_is_invisible_to_others(hf, hub, alice, bob, private_repo, tmp_path):
    assert alice.model_info(private_repo).private is True
    path = hf.hf_hub_download(private_repo, "weights.bin", token=hub.tokens["alice"], cache_dir=tmp_path / "alice")
    assert pathlib.Path(path).read_bytes() == SECRET

    anonymous = hf.HfApi(token=False)
    for api in (bob, anonymous):
        with pytest.raises(hf.errors.RepositoryNotFoundError) as e:
            api.model_info(private_repo)
        assert not isinstance(e.value, hf.errors.GatedRepoError)
        with pytest.raises(hf.errors.RepositoryNotFoundError):
            api.list_repo_files(private_repo)
        assert api.repo_exists(private_repo) is False
    for name, token in (("bob", hub.tokens["bob"]), ("anonymous", False)):
        with pytest.raises(hf.errors.RepositoryNotFoundError):
            hf.hf_hub_download(private_repo, "weights.bin", token=token, cache_dir=tmp_path / name)


def test_org_members_create_repos_in_the_org_and_strangers_cannot(hf, alice, bob):
    url = alice.create_repo("acme/shared")
    assert url.repo_id == "acme/shared"
    commit = alice.upload_file(path_or_fileobj=b"shared\n", path_in_repo="notes.txt", repo_id="acme/shared")
    assert HEX40.fullmatch(commit.oid)
    with pytest.raises(hf.errors.HfHubHTTPError) as e:
        bob.create_repo("acme/bobs")
    assert e.value.response.status_code == 403
    with pytest.raises(hf.errors.HfHubHTTPError) as e:
        bob.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="acme/shared")
    assert e.value.response.status_code == 403


# ---------------------------------------------------------------------------------------------
# upload


def test_upload_folder_commits_every_file(hub, alice, model_repo, folder):
    commit = model_repo.commit
    assert HEX40.fullmatch(commit.oid) and commit.oid != model_repo.initial
    assert commit.repo_url.repo_id == REPO and commit.repo_url.endpoint == hub.url
    assert commit.commit_url == f"{hub.url}/{REPO}/commit/{commit.oid}"
    assert sorted(alice.list_repo_files(REPO)) == sorted([".gitattributes", *folder.files])


def test_uploading_the_same_folder_again_is_a_no_op(alice, model_repo, folder):
    # A repo of its own, so that a hub which commits anyway does not disturb alice/x. Its LFS
    # objects are already on the hub (from alice/x), which the LFS batch may answer without actions.
    repo = "alice/x-again"
    alice.create_repo(repo)
    first = alice.upload_folder(repo_id=repo, folder_path=folder.root)
    assert sorted(alice.list_repo_files(repo)) == sorted([".gitattributes", *folder.files])
    again = alice.upload_folder(repo_id=repo, folder_path=folder.root)
    assert again.oid == first.oid
    assert alice.model_info(repo).sha == first.oid
    assert len(alice.list_repo_commits(repo)) == 2


def test_upload_file_delete_file_and_delete_folder_make_distinct_commits(hf, alice, tmp_path):
    repo = "alice/edits"
    alice.create_repo(repo)
    c1 = alice.upload_file(path_or_fileobj=b"alpha\n", path_in_repo="notes/a.txt", repo_id=repo)
    c2 = alice.upload_file(path_or_fileobj=b"beta\n", path_in_repo="notes/b.txt", repo_id=repo, commit_message="Add b")
    c3 = alice.upload_file(path_or_fileobj=b"top\n", path_in_repo="top.txt", repo_id=repo)
    assert sorted(alice.list_repo_files(repo)) == [".gitattributes", "notes/a.txt", "notes/b.txt", "top.txt"]

    c4 = alice.delete_file("top.txt", repo)
    assert sorted(alice.list_repo_files(repo)) == [".gitattributes", "notes/a.txt", "notes/b.txt"]
    assert not alice.file_exists(repo, "top.txt")
    c5 = alice.delete_folder("notes", repo)
    assert alice.list_repo_files(repo) == [".gitattributes"]
    assert not alice.file_exists(repo, "notes/a.txt")

    oids = [c.oid for c in (c5, c4, c3, c2, c1)]
    assert all(HEX40.fullmatch(o) for o in oids) and len(set(oids)) == 5
    commits = alice.list_repo_commits(repo)
    assert [c.commit_id for c in commits[:5]] == oids
    assert commits[3].title == "Add b"
    # history stays readable
    old = hf.hf_hub_download(repo, "top.txt", revision=c3.oid, cache_dir=tmp_path)
    assert pathlib.Path(old).read_bytes() == b"top\n"

    with pytest.raises(hf.errors.RemoteEntryNotFoundError):
        alice.delete_file("missing.txt", repo)
    with pytest.raises(hf.errors.HfHubHTTPError) as e:  # parent commit no longer the head
        alice.upload_file(path_or_fileobj=b"late\n", path_in_repo="late.txt", repo_id=repo, parent_commit=c1.oid)
    assert e.value.response.status_code == 412
    assert alice.model_info(repo).sha == c5.oid


def test_a_stranger_cannot_write_to_someone_elses_repo(hf, alice, bob, model_repo):
    with pytest.raises(hf.errors.HfHubHTTPError) as e:
        bob.upload_file(path_or_fileobj=b"vandalism\n", path_in_repo="vandal.txt", repo_id=REPO)
    assert e.value.response.status_code == 403
    assert not isinstance(e.value, hf.errors.RepositoryNotFoundError)
    with pytest.raises(hf.errors.HfHubHTTPError) as e:
        bob.delete_file("config.json", REPO)
    assert e.value.response.status_code == 403
    with pytest.raises(hf.errors.HfHubHTTPError) as e:
        bob.delete_repo(REPO)
    assert e.value.response.status_code == 403
    assert alice.model_info(REPO).sha == model_repo.head


def test_a_read_token_made_while_the_hub_runs_reads_but_cannot_write(hf, hub, private_repo, model_repo):
    api = hf.HfApi(token=hub.create_token("alice", "read"))
    assert api.whoami()["name"] == "alice"
    assert api.model_info(private_repo).private is True
    with pytest.raises(hf.errors.HfHubHTTPError) as e:
        api.upload_file(path_or_fileobj=b"nope\n", path_in_repo="nope.txt", repo_id=REPO)
    assert e.value.response.status_code == 403
    assert api.model_info(REPO).sha == model_repo.head


# ---------------------------------------------------------------------------------------------
# listings and metadata


def test_recursive_tree_lists_folders_and_lfs_files(hf, alice, model_repo, folder):
    entries = list(alice.list_repo_tree(REPO, recursive=True))
    folders = {e.path for e in entries if isinstance(e, hf.RepoFolder)}
    files = {e.path: e for e in entries if isinstance(e, hf.RepoFile)}
    assert folders == {"sub", "sub/dir", "data"}
    assert set(files) == {".gitattributes", *folder.files}
    for rel, local in folder.files.items():
        entry = files[rel]
        assert entry.size == local.size, rel
        assert entry.xet_hash is None, rel  # gotcha 2
        if rel in LFS_PATHS:
            pointer = lfs_pointer(local.sha256, local.size)
            assert entry.lfs is not None, f"{rel} should be stored through LFS"
            assert entry.lfs.sha256 == local.sha256 and entry.lfs.size == local.size, rel
            assert entry.lfs.pointer_size == len(pointer), rel
            assert entry.blob_id == git_blob_id(pointer), rel
        else:
            assert entry.lfs is None, f"{rel} should be a plain git file"
            assert entry.blob_id == git_blob_id(local.path.read_bytes()), rel


def test_tree_of_the_root_and_of_a_sub_folder(hf, alice, model_repo):
    root = list(alice.list_repo_tree(REPO))
    assert paths_of(root) == sorted([".gitattributes", "README.md", "config.json", "data", "empty.txt", "model.safetensors", "raw.dat", "sub"])
    assert {e.path for e in root if isinstance(e, hf.RepoFolder)} == {"data", "sub"}
    sub = list(alice.list_repo_tree(REPO, path_in_repo="sub"))
    assert paths_of(sub) == ["sub/dir"] and isinstance(sub[0], hf.RepoFolder)
    deeper = list(alice.list_repo_tree(REPO, path_in_repo="sub/dir"))
    assert paths_of(deeper) == ["sub/dir/file.txt"] and isinstance(deeper[0], hf.RepoFile)
    with pytest.raises(hf.errors.RemoteEntryNotFoundError):
        list(alice.list_repo_tree(REPO, path_in_repo="no/such/folder"))


def test_paths_info_returns_only_what_exists(hf, alice, model_repo, folder):
    infos = alice.get_paths_info(REPO, ["config.json", "sub", "missing.txt"])
    assert paths_of(infos) == ["config.json", "sub"]
    by_path = {e.path: e for e in infos}
    assert isinstance(by_path["config.json"], hf.RepoFile) and by_path["config.json"].size == folder.files["config.json"].size
    assert isinstance(by_path["sub"], hf.RepoFolder)
    [weights] = alice.get_paths_info(REPO, "model.safetensors")
    assert weights.lfs is not None and weights.lfs.sha256 == folder.files["model.safetensors"].sha256
    assert weights.xet_hash is None


def test_model_info_with_file_metadata(alice, model_repo, folder):
    info = alice.model_info(REPO, files_metadata=True)
    assert info.id == REPO and info.sha == model_repo.head and info.private is False
    siblings = {s.rfilename: s for s in info.siblings}
    assert set(siblings) == {".gitattributes", *folder.files}
    weights, local = siblings["model.safetensors"], folder.files["model.safetensors"]
    assert weights.size == local.size
    assert weights.lfs is not None and weights.lfs.sha256 == local.sha256 and weights.lfs.size == local.size
    config = siblings["config.json"]
    assert config.size == folder.files["config.json"].size and config.lfs is None
    assert config.blob_id == git_blob_id(folder.files["config.json"].data)

    assert alice.model_info(REPO, revision=model_repo.head).sha == model_repo.head
    initial = alice.model_info(REPO, revision=model_repo.initial)
    assert initial.sha == model_repo.initial
    assert [s.rfilename for s in initial.siblings] == [".gitattributes"]


def test_model_info_carries_the_model_card_metadata(alice, model_repo):
    card = alice.model_info(REPO).card_data
    assert card is not None and card["license"] == "mit"


def test_commits_are_listed_newest_first_with_parseable_dates(alice, model_repo):
    commits = alice.list_repo_commits(REPO)
    assert [c.commit_id for c in commits] == [model_repo.head, model_repo.initial]
    assert commits[0].title == UPLOAD_TITLE
    assert commits[0].authors == ["alice"]
    now = datetime.datetime.now(datetime.timezone.utc)
    for c in commits:
        assert c.created_at.tzinfo is not None
        assert abs(now - c.created_at) < datetime.timedelta(minutes=30)
    assert commits[0].created_at >= commits[1].created_at


def test_branches_tags_and_refs(hf, hub, alice, model_repo, folder, tmp_path):
    head, initial = model_repo.head, model_repo.initial
    alice.create_branch(REPO, branch="dev", revision=initial)
    alice.create_branch(REPO, branch="dev", exist_ok=True)
    with pytest.raises(hf.errors.HfHubHTTPError) as e:
        alice.create_branch(REPO, branch="dev")
    assert e.value.response.status_code == 409
    alice.create_branch(REPO, branch="feature/x")  # a '/' arrives as %2F
    alice.create_tag(REPO, tag="v1.0", tag_message="First release", revision=head)

    refs = alice.list_repo_refs(REPO)
    branches = {b.name: b for b in refs.branches}
    assert {name: b.target_commit for name, b in branches.items()} == {"main": head, "dev": initial, "feature/x": head}
    assert branches["main"].ref == "refs/heads/main"
    tags = {t.name: t for t in refs.tags}
    assert tags["v1.0"].ref == "refs/tags/v1.0" and tags["v1.0"].target_commit == head
    assert refs.converts == []

    assert alice.list_repo_files(REPO, revision="dev") == [".gitattributes"]
    assert alice.model_info(REPO, revision="v1.0").sha == head
    for rev in ("feature/x", "v1.0"):
        path = hf.hf_hub_download(REPO, "config.json", revision=rev, cache_dir=tmp_path)
        assert pathlib.Path(path).read_bytes() == folder.files["config.json"].data
    with pytest.raises(hf.errors.RemoteEntryNotFoundError):
        hf.hf_hub_download(REPO, "config.json", revision="dev", cache_dir=tmp_path)

    assert {e["user"] for e in audit_entries(hub, "branch.create", f"models/{REPO}")} == {"alice"}
    assert {e["user"] for e in audit_entries(hub, "tag.create", f"models/{REPO}")} == {"alice"}

    alice.delete_branch(REPO, branch="dev")
    alice.delete_branch(REPO, branch="feature/x")
    alice.delete_tag(REPO, tag="v1.0")
    assert not alice.revision_exists(REPO, "dev")
    assert not alice.revision_exists(REPO, "v1.0")
    refs = alice.list_repo_refs(REPO)
    assert [b.name for b in refs.branches] == ["main"] and "v1.0" not in [t.name for t in refs.tags]
    with pytest.raises(hf.errors.RevisionNotFoundError):
        alice.delete_branch(REPO, branch="dev")
    assert alice.model_info(REPO).sha == head


# ---------------------------------------------------------------------------------------------
# downloads and errors (in process, HF_HUB_DISABLE_XET=1)


def test_hf_hub_download_fills_the_cache_by_commit_and_etag(hf, model_repo, folder, tmp_path):
    head = model_repo.head
    for rel, local in folder.files.items():
        path = pathlib.Path(hf.hf_hub_download(REPO, rel, cache_dir=tmp_path))
        assert path.stat().st_size == local.size, rel  # gotcha 4: a 0 size on HEAD caches an empty file
        assert sha256_file(path) == local.sha256, rel
        assert path.as_posix().endswith(f"/snapshots/{head}/{rel}"), path
        blob = path.resolve().name  # the blob is named after the etag (gotcha 5)
        expected = local.sha256 if rel in LFS_PATHS else git_blob_id(local.path.read_bytes())
        assert blob == expected, rel
    pinned = hf.hf_hub_download(REPO, "config.json", revision=head, cache_dir=tmp_path / "pinned")
    assert pathlib.Path(pinned).read_bytes() == folder.files["config.json"].data


def test_file_metadata_names_commit_etag_and_size_without_xet(hf, model_repo, folder):
    weights = folder.files["model.safetensors"]
    meta = hf.get_hf_file_metadata(hf.hf_hub_url(REPO, "model.safetensors"))
    assert meta.commit_hash == model_repo.head
    assert meta.etag == weights.sha256 and meta.size == weights.size
    assert meta.xet_file_data is None  # gotcha 2
    config = folder.files["config.json"]
    meta = hf.get_hf_file_metadata(hf.hf_hub_url(REPO, "config.json", revision=model_repo.head))
    assert meta.commit_hash == model_repo.head
    assert meta.etag == git_blob_id(config.data) and meta.size == config.size


def test_download_errors_have_their_classes(hf, hub, model_repo, tmp_path):
    """Gotcha 3: without X-Error-Code these all become LocalEntryNotFoundError."""
    token = hub.tokens["alice"]
    with pytest.raises(hf.errors.RepositoryNotFoundError) as e:
        hf.hf_hub_download("alice/no-such-repo", "config.json", token=token, cache_dir=tmp_path)
    assert not isinstance(e.value, hf.errors.GatedRepoError)
    with pytest.raises(hf.errors.RevisionNotFoundError):
        hf.hf_hub_download(REPO, "config.json", revision="no-such-branch", token=token, cache_dir=tmp_path)
    with pytest.raises(hf.errors.RemoteEntryNotFoundError):
        hf.hf_hub_download(REPO, "no-such-file.txt", token=token, cache_dir=tmp_path)
    # the 404 carried X-Repo-Commit, so the client remembers the absence at that commit
    assert (tmp_path / "models--alice--x" / ".no_exist" / model_repo.head / "no-such-file.txt").is_file()


def test_exists_helpers_answer_booleans(alice, model_repo):
    assert alice.repo_exists(REPO) is True
    assert alice.repo_exists("alice/no-such-repo") is False
    assert alice.file_exists(REPO, "config.json") is True
    assert alice.file_exists(REPO, "sub/dir/file.txt") is True
    assert alice.file_exists(REPO, "no-such-file.txt") is False
    assert alice.file_exists("alice/no-such-repo", "config.json") is False
    assert alice.revision_exists(REPO, "main") is True
    assert alice.revision_exists(REPO, model_repo.head) is True
    assert alice.revision_exists(REPO, "no-such-branch") is False


# ---------------------------------------------------------------------------------------------
# the default client configuration (hf_xet installed and enabled), in its own process


DEFAULT_CONFIG_CHECK = """
from huggingface_hub import constants
from huggingface_hub.utils._runtime import is_xet_available
assert not constants.HF_HUB_DISABLE_XET and is_xet_available(), "not the default configuration"
"""


def test_default_client_downloads_over_plain_http(hub, alice, model_repo, folder, tmp_path):
    alice.create_tag(REPO, tag="release", revision=model_repo.head, exist_ok=True)
    code = DEFAULT_CONFIG_CHECK + """
import hashlib, pathlib
from huggingface_hub import hf_hub_download, snapshot_download
def sha(p):
    return hashlib.sha256(pathlib.Path(p).read_bytes()).hexdigest()
snap = pathlib.Path(snapshot_download(params["repo"]))
files = {p.relative_to(snap).as_posix(): sha(p) for p in snap.rglob("*") if p.is_file()}
local = {}
for name in ("model.safetensors", "config.json"):
    path = hf_hub_download(params["repo"], name, revision="release", local_dir=params["local_dir"])
    local[name] = [path, sha(path)]
result = {"snapshot": str(snap), "files": files, "local": local}
"""
    local_dir = tmp_path / "local"
    env = client_env(hub.url, tmp_path / "hf-home", disable_xet=False)
    out = run_client(code, env, params={"repo": REPO, "local_dir": str(local_dir)})
    assert "error" not in out, out.get("traceback")
    got = out["result"]
    assert pathlib.Path(got["snapshot"]).name == model_repo.head
    assert set(got["files"]) == {".gitattributes", *folder.files}
    for rel, local in folder.files.items():
        assert got["files"][rel] == local.sha256, rel
    for name, (path, digest) in got["local"].items():
        assert pathlib.Path(path) == local_dir / name
        assert digest == folder.files[name].sha256, name
    alice.delete_tag(REPO, tag="release")


def test_default_client_upload_fails_at_the_xet_token(hub, alice, tmp_path):
    """huggingface_hub >= 1.20 uploads LFS-mode files through Xet whenever hf_xet is installed
    (gotcha 1); the hub answers the write-token request with 501. hf_xet itself fetches that
    token and reports only the status and the URL, so the hub's hint is checked on the wire."""
    repo = "alice/xet-target"
    alice.create_repo(repo)
    before = alice.model_info(repo).sha
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "weights.bin").write_bytes(b"\0" + os.urandom(4095))
    (tmp_path / "blob.safetensors").write_bytes(b"\0" + os.urandom(4095))
    code = DEFAULT_CONFIG_CHECK + """
from huggingface_hub import HfApi
api = HfApi()  # token from HF_TOKEN
result = {}
for name, call in (
    ("upload_file", lambda: api.upload_file(path_or_fileobj=params["file"], path_in_repo="blob.safetensors", repo_id=params["repo"])),
    ("upload_folder", lambda: api.upload_folder(folder_path=params["folder"], repo_id=params["repo"])),
):
    try:
        call()
        result[name] = None
    except Exception as e:
        result[name] = describe(e)
"""
    env = client_env(hub.url, tmp_path / "hf-home", disable_xet=False, token=hub.tokens["alice"])
    params = {"repo": repo, "file": str(tmp_path / "blob.safetensors"), "folder": str(tmp_path / "up")}
    out = run_client(code, env, params=params, timeout=120)
    assert "error" not in out, out.get("traceback")
    for name, error in out["result"].items():
        assert error is not None, f"{name} with Xet enabled unexpectedly succeeded"
        assert "xet-write-token" in error["text"] and "501" in error["text"], f"{name}: {error}"
    assert alice.model_info(repo).sha == before

    request = urllib.request.Request(
        f"{hub.url}/api/models/{repo}/xet-write-token/main", headers={"Authorization": f"Bearer {hub.tokens['alice']}"}
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    assert e.value.code == 501
    assert "HF_HUB_DISABLE_XET=1" in (e.value.headers.get("X-Error-Message") or "")


# ---------------------------------------------------------------------------------------------
# the Rust hf-hub 0.5 crate


def hf_hub_check():
    return executable(HF_HUB_CHECK, "wh-hf-hub-check binary (cargo build -p wh-hf-hub-check)")


def run_rust(hub, home, *args, token=None):
    env = client_env(hub.url, home, disable_xet=False)
    home.mkdir(parents=True, exist_ok=True)
    if token is not None:  # hf-hub reads $HF_HOME/token, not HF_TOKEN
        (home / "token").write_text(token)
    return subprocess.run([hf_hub_check(), *args], env=env, capture_output=True, text=True, timeout=120)


def rust_digests(r):
    assert r.returncode == 0, f"wh-hf-hub-check exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines() if line.strip())
    assert set(lines) == {"sync", "tokio"}, r.stdout
    return {api: tuple(v.split()) for api, v in lines.items()}


def test_rust_hf_hub_downloads_with_both_apis(hub, model_repo, folder, private_repo, tmp_path):
    weights = folder.files["model.safetensors"]
    got = rust_digests(run_rust(hub, tmp_path / "a", REPO, "model.safetensors"))
    assert got == {"sync": (weights.sha256, str(weights.size)), "tokio": (weights.sha256, str(weights.size))}

    config = folder.files["config.json"]
    got = rust_digests(run_rust(hub, tmp_path / "b", REPO, "config.json", model_repo.head))
    assert got["sync"] == got["tokio"] == (config.sha256, str(config.size))

    got = rust_digests(run_rust(hub, tmp_path / "c", private_repo, "weights.bin", token=hub.tokens["alice"]))
    assert got["sync"][0] == got["tokio"][0] == hashlib.sha256(SECRET).hexdigest()
    denied = run_rust(hub, tmp_path / "d", private_repo, "weights.bin")
    assert denied.returncode != 0 and "sync" not in denied.stdout


def test_rust_hf_hub_downloads_from_a_dataset(hub, dataset_repo, tmp_path):
    got = rust_digests(run_rust(hub, tmp_path, "datasets/alice/data", "train.csv"))
    digest = hashlib.sha256(CSV).hexdigest()
    assert got["sync"] == got["tokio"] == (digest, str(len(CSV)))


# ---------------------------------------------------------------------------------------------
# deletion and the audit log


def test_delete_repo(hf, hub, alice, tmp_path):
    repo = "alice/doomed"
    alice.create_repo(repo)
    alice.upload_file(path_or_fileobj=b"soon gone\n", path_in_repo="gone.txt", repo_id=repo)
    alice.delete_repo(repo)
    assert alice.repo_exists(repo) is False
    alice.delete_repo(repo, missing_ok=True)
    with pytest.raises(hf.errors.RepositoryNotFoundError):
        alice.delete_repo(repo)
    with pytest.raises(hf.errors.RepositoryNotFoundError):
        hf.hf_hub_download(repo, "gone.txt", cache_dir=tmp_path)
    assert [e["user"] for e in audit_entries(hub, "repo.delete", f"models/{repo}")] == ["alice"]
    # the name can be used again, and nothing of the old repo comes back
    alice.create_repo(repo)
    assert alice.list_repo_files(repo) == [".gitattributes"]


def test_settings_make_a_repo_private_and_public_again(hf, hub, alice, bob):
    repo = "alice/toggled"
    alice.create_repo(repo)
    alice.upload_file(path_or_fileobj=b"visible?\n", path_in_repo="x.txt", repo_id=repo)
    assert bob.repo_exists(repo) is True
    alice.update_repo_settings(repo, private=True)
    assert alice.model_info(repo).private is True
    assert bob.repo_exists(repo) is False
    with pytest.raises(hf.errors.RepositoryNotFoundError):
        bob.model_info(repo)
    alice.update_repo_settings(repo, private=False)
    assert bob.model_info(repo).private is False
    assert [e["user"] for e in audit_entries(hub, "repo.settings", f"models/{repo}")] == ["alice", "alice"]


def test_move_repo_keeps_history_under_the_new_name(hf, alice):
    alice.create_repo("alice/before-move")
    commit = alice.upload_file(path_or_fileobj=b"moved\n", path_in_repo="m.txt", repo_id="alice/before-move")
    alice.move_repo("alice/before-move", "acme/after-move")
    assert alice.repo_exists("alice/before-move") is False
    assert alice.model_info("acme/after-move").sha == commit.oid
    assert alice.list_repo_files("acme/after-move") == [".gitattributes", "m.txt"]


def test_a_readme_with_invalid_yaml_is_refused_before_anything_is_committed(alice):
    repo = "alice/bad-card"
    alice.create_repo(repo)
    head = alice.model_info(repo).sha
    with pytest.raises(ValueError, match="(?i)invalid metadata"):
        alice.upload_file(path_or_fileobj=b"---\nlicense: [mit\n---\n# x\n", path_in_repo="README.md", repo_id=repo)
    assert alice.model_info(repo).sha == head


def test_audit_log_records_who_created_and_committed(hub, model_repo):
    entries = hub.audit()
    assert entries, "the audit log is empty"
    for e in entries:
        assert {"id", "at", "user", "token", "action", "repo", "detail"} <= set(e), e
        assert datetime.datetime.fromisoformat(e["at"].replace("Z", "+00:00")).tzinfo is not None, e
        assert isinstance(e["detail"], dict), e
    mine = [e for e in entries if e["repo"] == f"models/{REPO}"]
    creates = [e for e in mine if e["action"] == "repo.create"]
    assert len(creates) == 1 and creates[0]["user"] == "alice", creates
    assert any(e["action"] == "commit" and e["user"] == "alice" for e in mine), mine
    text = json.dumps(entries)
    for user, token in hub.tokens.items():
        assert token not in text, f"{user}'s token secret is in the audit log"
