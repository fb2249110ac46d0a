"""OpenSSF Model Signing: `wh hash`, `wh sign` and `wh verify` against the reference Python tool
(`model-signing==1.1.1`, run through its CLI), in both directions, plus `wh fingerprint`.

The model tree and the expected manifest are those of the worked example of the OpenSSF Model
Signing manifest (the reference's root digest `d871896f…`, also checked in the Rust tests). Keys and certificates are made here with
`cryptography`; nothing touches the network.
"""

import base64
import copy
import datetime
import hashlib
import json
import pathlib
import re
import shutil
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from safetensors.numpy import load_file, save_file

# --- the tools ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ms():
    """argv prefix of the reference CLI, model_signing 1.1.1 from this venv."""
    script = pathlib.Path(sys.executable).parent / "model_signing"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "model_signing"]
    r = subprocess.run(cmd + ["--version"], capture_output=True, text=True)
    if r.returncode != 0 or "1.1.1" not in r.stdout:
        pytest.fail(f"model_signing 1.1.1 is needed (tests/interop/requirements.txt): {r.stdout}{r.stderr}")
    return cmd


def run(cmd, cwd=None):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd)


def out(r):
    return f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"


def ok(r):
    assert r.returncode == 0, out(r)
    return r


def wh_rejects(r):
    """wh verify said no: exit 1 and a message. Returns stdout+stderr for further checks."""
    assert r.returncode == 1, out(r)
    text = r.stdout + r.stderr
    assert text.strip(), "wh verify failed without saying why"
    return text


def ms_rejects(r):
    assert r.returncode != 0 and "Verification failed" in r.stderr, out(r)
    return r.stderr


# --- keys and certificates ---------------------------------------------------------------------

CURVES = {"P-256": (ec.SECP256R1, hashes.SHA256), "P-384": (ec.SECP384R1, hashes.SHA384)}
PASSWORD = "correct horse battery staple"


class Keys:
    """An EC key pair written as PKCS#8 PEM (key.pem), encrypted PKCS#8 (key.enc.pem, PASSWORD)
    and SPKI PEM (key.pub.pem)."""

    def __init__(self, folder, curve, name="key"):
        folder.mkdir(parents=True, exist_ok=True)
        self.curve = curve
        self.hash = CURVES[curve][1]
        self.private = ec.generate_private_key(CURVES[curve][0]())
        self.key = folder / f"{name}.pem"
        self.enc = folder / f"{name}.enc.pem"
        self.pub = folder / f"{name}.pub.pem"
        pkcs8 = serialization.PrivateFormat.PKCS8
        self.key.write_bytes(self.private.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()))
        self.enc.write_bytes(
            self.private.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.BestAvailableEncryption(PASSWORD.encode()))
        )
        self.pub_pem = self.private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.pub.write_bytes(self.pub_pem)

    def sign_pae(self, payload):
        return self.private.sign(pae(payload), ec.ECDSA(self.hash()))

    def verify_pae(self, payload, sig):
        self.private.public_key().verify(sig, pae(payload), ec.ECDSA(self.hash()))


def make_cert(subject_key, subject_cn, issuer_key=None, issuer_cert=None, ca=False):
    """A certificate for subject_key, signed by issuer_key (self-signed if None). CA certificates
    get keyCertSign; leaves get digitalSignature and the codeSigning EKU."""
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "weighhouse tests")])
    issuer_key = issuer_key or subject_key
    issuer_name = issuer_cert.subject if issuer_cert is not None else name
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    ku = dict(
        content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
        encipher_only=False, decipher_only=False,
    )
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **ku), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **ku), critical=True)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    algo = hashes.SHA384() if isinstance(issuer_key.curve, ec.SECP384R1) else hashes.SHA256()
    return b.sign(issuer_key, algo)


def write_cert(path, *certs):
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """Root CA (P-384, self-signed) -> intermediate CA (P-256) -> leaf (P-256), a leaf signed
    directly by the root, and an unrelated root."""
    d = tmp_path_factory.mktemp("pki")
    root = Keys(d, "P-384", "root")
    inter = Keys(d, "P-256", "inter")
    leaf = Keys(d, "P-256", "leaf")
    leaf2 = Keys(d, "P-256", "leaf2")
    other = Keys(d, "P-384", "other")
    root_cert = make_cert(root.private, "wh test root CA", ca=True)
    inter_cert = make_cert(inter.private, "wh test intermediate CA", root.private, root_cert, ca=True)
    other_cert = make_cert(other.private, "unrelated root CA", ca=True)
    return {
        "root": write_cert(d / "root-ca.pem", root_cert),
        "other_root": write_cert(d / "other-ca.pem", other_cert),
        "inter": write_cert(d / "inter-ca.pem", inter_cert),
        # leaf issued by the intermediate, leaf2 issued by the root
        "leaf": (leaf, write_cert(d / "leaf.crt.pem", make_cert(leaf.private, "model signer", inter.private, inter_cert))),
        "leaf2": (leaf2, write_cert(d / "leaf2.crt.pem", make_cert(leaf2.private, "model signer 2", root.private, root_cert))),
    }


# --- the model of the worked example (spec sections 3.2, 3.3) ----------------------------------

TREE = {
    "config.json": b"hello world\n",
    "empty.bin": b"",
    "weights.bin": bytes(range(256)) * 16,
    "B.txt": b"B\n",
    "a/z.txt": b"z\n",
    "a-b.txt": b"ab\n",
    "a.b/c.txt": b"dot dir file\n",
    "caf\u00e9.txt": b"unicode name\n",
    "sub/tokenizer.txt": b"nested\n",
    "sub/deeper/x.safetensors": b"deep\n",
    "sub/.gitignore": b"sub gitignore\n",
    # ignored by default (git paths at the model root)
    ".git/HEAD": b"ref: refs/heads/main\n",
    ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
    ".github/workflows/ci.yml": b"on: push\n",
    ".gitignore": b"*.tmp\n",
    # ignored by flag
    "README.md": b"ignored by flag\n",
}

# Python order (by path components), from the spec.
EXPECTED = [
    ("c0cde77fa8fef97d476c10aad3d2d54fcc2f336140d073651c2dcccf1e379fd6", "B.txt"),
    ("c865f6c5ab8d1b0bcd383a5e1e3879d22681c96bf462c269b7581d523fbe70ab", "a/z.txt"),
    ("a63d8014dba891345b30174df2b2a57efbb65b4f9f09b98f245d1b3192277ece", "a-b.txt"),
    ("e42a56c66682ce5734283057585a34f91f0c1e0cbcb244c25d0531a1907c54ad", "a.b/c.txt"),
    ("f682a5ef26796a5f98678d3a028d07c8853e6c5fc01005b55bd95852d00fc917", "caf\u00e9.txt"),
    ("a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447", "config.json"),
    ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty.bin"),
    ("150a17624ea4aab2d8484f794ad5868bb117b8d110b9b5d1f3bf2cc69d1b239c", "sub/.gitignore"),
    ("64896f89fd11190013b70103e603a1c5826e56b7fb7d2197ab279b0690043599", "sub/deeper/x.safetensors"),
    ("370a8c04b8a65bb4494275eec227f1b694db04c76da6b0b8ae88ed1ab19790a3", "sub/tokenizer.txt"),
    ("c8f5d0341d54d951a71b136e6e2afcb14d11ed8489a7ae126a8fee0df6ecf193", "weights.bin"),
]
ROOT_DIGEST = "d871896ffd162069b7251bcf4539b6ff6a4738b03ae57a694f71831c84aa3aec"
BYTE_ORDER_ROOT = "5822fcedb04635b17d5c7cf6b0d5d8f92619258e0135f94e9746f5ee8106e1a1"


def make_model(folder, tree=TREE):
    for name, data in tree.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return folder


def root_of(digests_hex):
    return hashlib.sha256(b"".join(bytes.fromhex(d) for d in digests_hex)).hexdigest()


def python_manifest(model, ignore=(), ignore_git=True):
    """[(digest, name)] in model_signing 1.1.1's own order, from its hashing API."""
    from model_signing import hashing

    m = hashing.Config().set_ignored_paths(paths=[model / p for p in ignore], ignore_git_paths=ignore_git).hash(model)
    return [(r.digest.digest_hex, str(r.identifier)) for r in m.resource_descriptors()]


# --- bundles -----------------------------------------------------------------------------------


def pae(payload):
    t = b"application/vnd.in-toto+json"
    return b"DSSEv1 %d %s %d " % (len(t), t, len(payload)) + payload


def read_bundle(path):
    bundle = json.loads(path.read_bytes())
    payload = base64.b64decode(bundle["dsseEnvelope"]["payload"], validate=True)
    return bundle, payload, json.loads(payload)


def write_bundle(path, bundle, statement, keys):
    """Re-sign an edited statement with keys and write the bundle (compact, as Python writes it)."""
    payload = json.dumps(statement, indent=2).encode()
    bundle = copy.deepcopy(bundle)
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(payload).decode()
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(keys.sign_pae(payload)).decode()
    path.write_text(json.dumps(bundle, separators=(",", ":")))


# --- wh hash -----------------------------------------------------------------------------------


def test_hash_reproduces_the_worked_example_manifest(wh, tmp_path):
    model = make_model(tmp_path / "model")
    # the reference agrees with the spec's table
    assert python_manifest(model, ["README.md"]) == EXPECTED
    assert root_of(d for d, _ in EXPECTED) == ROOT_DIGEST
    assert root_of(d for d, _ in sorted(EXPECTED, key=lambda e: e[1].encode())) == BYTE_ORDER_ROOT

    r = ok(run([wh, "hash", model, "--json", "--ignore-path", "README.md"]))
    got = json.loads(r.stdout)
    assert got["root"] == ROOT_DIGEST, got
    assert got["algorithm"] == "sha256"
    assert [(f["digest"], f["name"]) for f in got["files"]] == EXPECTED
    assert {f["name"]: f["size"] for f in got["files"]} == {n: len(TREE[n]) for _, n in EXPECTED}

    # text output: one "<digest>  <name>" line per file, then the root
    r = ok(run([wh, "hash", model, "--ignore-path", "README.md"]))
    lines = r.stdout.rstrip("\n").split("\n")
    assert lines[:-1] == [f"{d}  {n}" for d, n in EXPECTED], r.stdout
    assert lines[-1] == f"root sha256:{ROOT_DIGEST}", r.stdout


def test_hash_ignore_paths_absolute_and_git_paths(wh, tmp_path):
    model = make_model(tmp_path / "model")
    # an absolute ignore path inside the model is the same as the relative one
    got = json.loads(ok(run([wh, "hash", model, "--json", "--ignore-path", model / "README.md"])).stdout)
    assert got["root"] == ROOT_DIGEST

    # without the flag README.md is part of the manifest, as in model_signing
    got = json.loads(ok(run([wh, "hash", model, "--json"])).stdout)
    want = python_manifest(model)
    assert ("README.md" in [n for _, n in want]) and len(want) == len(EXPECTED) + 1
    assert [(f["digest"], f["name"]) for f in got["files"]] == want
    assert got["root"] == root_of(d for d, _ in want)

    # --no-ignore-git-paths: .git/HEAD, .gitattributes, .github/..., .gitignore are hashed too
    got = json.loads(ok(run([wh, "hash", model, "--json", "--no-ignore-git-paths", "--ignore-path", "README.md"])).stdout)
    want = python_manifest(model, ["README.md"], ignore_git=False)
    names = [n for _, n in want]
    assert {".git/HEAD", ".gitattributes", ".github/workflows/ci.yml", ".gitignore"} <= set(names)
    assert [(f["digest"], f["name"]) for f in got["files"]] == want
    assert got["root"] == root_of(d for d, _ in want)

    # ignoring a directory ignores everything under it (component prefix: "a" is not "a-b.txt")
    got = json.loads(ok(run([wh, "hash", model, "--json", "--ignore-path", "README.md", "--ignore-path", "a"])).stdout)
    assert [f["name"] for f in got["files"]] == [n for _, n in EXPECTED if n != "a/z.txt"]


def test_hash_single_file(wh, tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(TREE["weights.bin"])
    got = json.loads(ok(run([wh, "hash", f, "--json"])).stdout)
    digest = hashlib.sha256(TREE["weights.bin"]).hexdigest()
    assert [fi["digest"] for fi in got["files"]] == [digest]
    assert got["root"] == root_of([digest])


# --- sign and verify, both directions ----------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(CURVES))
def keys(request, tmp_path_factory):
    return Keys(tmp_path_factory.mktemp("keys"), request.param)


@pytest.fixture(scope="module")
def wrong_keys(keys, tmp_path_factory):
    return Keys(tmp_path_factory.mktemp("wrong"), keys.curve)


@pytest.fixture(scope="module")
def ms_signed(ms, keys, tmp_path_factory):
    """The worked-example model signed by model_signing (signature inside the model)."""
    model = make_model(tmp_path_factory.mktemp("ms_signed") / "model")
    ok(run(ms + ["sign", "key", model, "--private_key", keys.key, "--signature", model / "model.sig", "--ignore-paths", model / "README.md"]))
    return model


def copy_model(src, dst):
    shutil.copytree(src, dst)
    return dst


def check_wh_bundle(sig, keys, single_file=None):
    """The bundle wh wrote has Python's exact field set (pydantic extra=forbid), the key hint and a
    signature that verifies over the DSSE PAE, and the statement model_signing would write."""
    bundle, payload, st = read_bundle(sig)
    assert set(bundle) == {"mediaType", "verificationMaterial", "dsseEnvelope"}, bundle.keys()
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert bundle["verificationMaterial"] == {"publicKey": {"hint": hashlib.sha256(keys.pub_pem).hexdigest()}, "tlogEntries": []}
    env = bundle["dsseEnvelope"]
    assert env["payloadType"] == "application/vnd.in-toto+json"
    assert len(env["signatures"]) == 1 and env["signatures"][0].get("keyid", "") == ""
    keys.verify_pae(payload, base64.b64decode(env["signatures"][0]["sig"], validate=True))
    assert st["_type"] == "https://in-toto.io/Statement/v1"
    assert st["predicateType"] == "https://model_signing/signature/v1.0"
    ser = st["predicate"]["serialization"]
    assert (ser["method"], ser["hash_type"], ser["allow_symlinks"]) == ("files", "sha256", False)
    res = st["predicate"]["resources"]
    assert all(r["algorithm"] == "sha256" for r in res)
    if single_file is not None:
        digest = hashlib.sha256(single_file.read_bytes()).hexdigest()
        assert [(r["digest"], r["name"]) for r in res] == [(digest, ".")]
        assert st["subject"] == [{"name": single_file.name, "digest": {"sha256": root_of([digest])}}]
    else:
        assert [(r["digest"], r["name"]) for r in res] == EXPECTED
        assert st["subject"][0]["digest"] == {"sha256": ROOT_DIGEST}
        assert {".git", ".gitattributes", ".github", ".gitignore", "README.md", "model.sig"} <= set(ser["ignore_paths"])


def test_model_signing_signs_wh_verifies(wh, keys, ms_signed):
    _, _, st = read_bundle(ms_signed / "model.sig")
    assert st["subject"][0]["digest"]["sha256"] == ROOT_DIGEST
    r = ok(run([wh, "verify", ms_signed, "--public-key", keys.pub]))
    # explicit --signature, from elsewhere in the file system
    ok(run([wh, "verify", ms_signed, "--public-key", keys.pub, "--signature", ms_signed / "model.sig"], cwd="/"))
    assert r.returncode == 0


def test_wh_signs_model_signing_verifies(wh, ms, keys, tmp_path):
    model = make_model(tmp_path / "model")
    ok(run([wh, "sign", model, "--private-key", keys.key, "--ignore-path", "README.md"]))
    sig = model / "model.sig"
    assert sig.is_file(), "wh sign should write MODEL/model.sig by default"
    check_wh_bundle(sig, keys)
    r = ok(run(ms + ["verify", "key", model, "--signature", sig, "--public_key", keys.pub]))
    assert "Verification succeeded" in r.stdout
    ok(run([wh, "verify", model, "--public-key", keys.pub]))


def test_wh_signs_with_an_encrypted_key(wh, ms, keys, tmp_path):
    model = make_model(tmp_path / "model")
    sig = tmp_path / "elsewhere" / "bundle.sigstore.json"
    sig.parent.mkdir()
    ok(run([wh, "sign", model, "--private-key", keys.enc, "--password", PASSWORD, "--signature", sig, "--ignore-path", "README.md"]))
    assert not (model / "model.sig").exists()
    ok(run(ms + ["verify", "key", model, "--signature", sig, "--public_key", keys.pub]))
    ok(run([wh, "verify", model, "--public-key", keys.pub, "--signature", sig]))
    # a wrong password is an error, and nothing is written
    sig2 = tmp_path / "elsewhere" / "wrong.sig"
    r = run([wh, "sign", model, "--private-key", keys.enc, "--password", "wrong", "--signature", sig2])
    assert r.returncode != 0 and not sig2.exists(), out(r)


def test_single_file_model_both_directions(wh, ms, keys, tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(TREE["weights.bin"])
    # model_signing -> wh (wh's default signature path for a file is FILE.sig)
    ok(run(ms + ["sign", "key", f, "--private_key", keys.key, "--signature", tmp_path / "weights.bin.sig"], cwd=tmp_path))
    _, _, st = read_bundle(tmp_path / "weights.bin.sig")
    assert [r["name"] for r in st["predicate"]["resources"]] == ["."]
    ok(run([wh, "verify", f, "--public-key", keys.pub]))
    (tmp_path / "weights.bin.sig").unlink()

    # wh -> model_signing
    ok(run([wh, "sign", f, "--private-key", keys.key]))
    sig = tmp_path / "weights.bin.sig"
    assert sig.is_file(), "wh sign FILE should write FILE.sig"
    check_wh_bundle(sig, keys, single_file=f)
    ok(run(ms + ["verify", "key", f, "--signature", sig, "--public_key", keys.pub], cwd=tmp_path))
    ok(run([wh, "verify", f, "--public-key", keys.pub]))

    # one changed byte: both say no
    data = bytearray(f.read_bytes())
    data[100] ^= 1
    f.write_bytes(bytes(data))
    ms_rejects(run(ms + ["verify", "key", f, "--signature", sig, "--public_key", keys.pub], cwd=tmp_path))
    wh_rejects(run([wh, "verify", f, "--public-key", keys.pub]))


def test_symlinks_refused_by_default_and_followed_with_allow_symlinks(wh, ms, tmp_path):
    keys = Keys(tmp_path / "k", "P-256")
    model = make_model(tmp_path / "model", {"target.txt": b"t\n", "d/f.bin": b"in\n"})
    (model / "link.txt").symlink_to("target.txt")
    (model / "dlink").symlink_to("d")
    for cmd in (["hash", model], ["sign", model, "--private-key", keys.key]):
        r = run([wh, *cmd])
        assert r.returncode != 0 and "link" in (r.stdout + r.stderr), out(r)
    assert not (model / "model.sig").exists()
    # a link to a file is hashed by content under the link's name; a link to a folder is skipped
    got = json.loads(ok(run([wh, "hash", model, "--json", "--allow-symlinks"])).stdout)
    t = hashlib.sha256(b"t\n").hexdigest()
    assert [(f["name"], f["digest"]) for f in got["files"]] == [("d/f.bin", hashlib.sha256(b"in\n").hexdigest()), ("link.txt", t), ("target.txt", t)]
    sig = tmp_path / "ms.sig"
    ok(run(ms + ["sign", "key", model, "--private_key", keys.key, "--signature", sig, "--allow_symlinks"]))
    ok(run([wh, "verify", model, "--public-key", keys.pub, "--signature", sig, "--allow-symlinks"]))
    wh_rejects(run([wh, "verify", model, "--public-key", keys.pub, "--signature", sig]))
    sig = tmp_path / "wh.sig"
    ok(run([wh, "sign", model, "--private-key", keys.key, "--signature", sig, "--allow-symlinks"]))
    ok(run(ms + ["verify", "key", model, "--signature", sig, "--public_key", keys.pub, "--allow_symlinks"]))


def test_git_paths_signed_with_no_ignore_git_paths(wh, ms, tmp_path):
    keys = Keys(tmp_path / "k", "P-256")
    model = make_model(tmp_path / "model")
    ok(run([wh, "sign", model, "--private-key", keys.key, "--no-ignore-git-paths", "--ignore-path", "README.md"]))
    _, _, st = read_bundle(model / "model.sig")
    assert {".git/HEAD", ".gitattributes", ".github/workflows/ci.yml", ".gitignore"} <= {r["name"] for r in st["predicate"]["resources"]}
    ok(run(ms + ["verify", "key", model, "--signature", model / "model.sig", "--public_key", keys.pub, "--no-ignore-git-paths"]))
    ok(run([wh, "verify", model, "--public-key", keys.pub, "--no-ignore-git-paths"]))
    # verifying with the default ignores, the git files look missing, in both tools
    ms_rejects(run(ms + ["verify", "key", model, "--signature", model / "model.sig", "--public_key", keys.pub]))
    text = wh_rejects(run([wh, "verify", model, "--public-key", keys.pub]))
    assert ".git/HEAD" in text, text


def test_bundle_variants_model_signing_accepts(wh, ms, keys, ms_signed, tmp_path):
    """What Python 1.x also writes or accepts: the 1.0.x public key form (rawBytes + keyDetails,
    no hint), no tlogEntries and a null keyid, a compact payload with resources in byte order."""
    bundle, _, st = read_bundle(ms_signed / "model.sig")
    details = {"P-256": "PKIX_ECDSA_P256_SHA_256", "P-384": "PKIX_ECDSA_P384_SHA_384"}[keys.curve]
    legacy = copy.deepcopy(bundle)
    legacy["verificationMaterial"]["publicKey"] = {"rawBytes": base64.b64encode(keys.pub_pem).decode(), "keyDetails": details}
    loose = copy.deepcopy(bundle)
    del loose["verificationMaterial"]["tlogEntries"]
    loose["dsseEnvelope"]["signatures"][0]["keyid"] = None
    compact = copy.deepcopy(bundle)
    st2 = copy.deepcopy(st)
    st2["predicate"]["resources"].sort(key=lambda r: r["name"].encode())
    st2["subject"][0]["digest"]["sha256"] = root_of(r["digest"] for r in st2["predicate"]["resources"])
    payload = json.dumps(st2, separators=(",", ":"), ensure_ascii=False).encode()
    compact["dsseEnvelope"]["payload"] = base64.b64encode(payload).decode()
    compact["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(keys.sign_pae(payload)).decode()
    model = copy_model(ms_signed, tmp_path / "model")
    for name, b in (("legacy", legacy), ("loose", loose), ("compact", compact)):
        sig = tmp_path / f"{name}.sig"
        sig.write_text(json.dumps(b, separators=(",", ":")))
        ok(run(ms + ["verify", "key", model, "--signature", sig, "--public_key", keys.pub]))
        ok(run([wh, "verify", model, "--public-key", keys.pub, "--signature", sig]))


# --- what both verifiers reject ----------------------------------------------------------------


def test_tampered_file_is_rejected(wh, ms, keys, ms_signed, tmp_path):
    model = copy_model(ms_signed, tmp_path / "model")
    data = bytearray((model / "weights.bin").read_bytes())
    data[1234] ^= 0x01
    (model / "weights.bin").write_bytes(bytes(data))
    new = hashlib.sha256(bytes(data)).hexdigest()
    old = dict((n, d) for d, n in EXPECTED)["weights.bin"]
    ms_rejects(run(ms + ["verify", "key", model, "--signature", model / "model.sig", "--public_key", keys.pub]))
    text = wh_rejects(run([wh, "verify", model, "--public-key", keys.pub]))
    assert "weights.bin" in text, text
    assert old in text and new in text, f"the message should give the expected and the actual digest:\n{text}"
    for _, name in EXPECTED:
        if name != "weights.bin":
            assert not re.search(rf"(?<![\w/.-]){re.escape(name)}(?![\w/.-])", text), f"{name} was not changed:\n{text}"


def test_tampered_nested_unicode_file_is_rejected(wh, keys, ms_signed, tmp_path):
    model = copy_model(ms_signed, tmp_path / "model")
    (model / "caf\u00e9.txt").write_bytes(b"unicode name!\n")
    text = wh_rejects(run([wh, "verify", model, "--public-key", keys.pub]))
    assert "caf\u00e9.txt" in text, text


def test_extra_file_is_rejected(wh, ms, keys, ms_signed, tmp_path):
    model = copy_model(ms_signed, tmp_path / "model")
    (model / "sub" / "deeper" / "intruder.bin").write_bytes(b"not signed\n")
    ms_rejects(run(ms + ["verify", "key", model, "--signature", model / "model.sig", "--public_key", keys.pub]))
    text = wh_rejects(run([wh, "verify", model, "--public-key", keys.pub]))
    assert "sub/deeper/intruder.bin" in text, text
    # ... unless unsigned files are ignored, in both tools
    ok(run(ms + ["verify", "key", model, "--signature", model / "model.sig", "--public_key", keys.pub, "--ignore_unsigned_files"]))
    ok(run([wh, "verify", model, "--public-key", keys.pub, "--ignore-unsigned-files"]))
    # ... or it is ignored by name when verifying (relative to the model for wh, to the CWD for model_signing)
    ok(run([wh, "verify", model, "--public-key", keys.pub, "--ignore-path", "sub/deeper/intruder.bin"], cwd="/"))
    # ignoring a folder that holds signed files makes them missing, as in model_signing
    text = wh_rejects(run([wh, "verify", model, "--public-key", keys.pub, "--ignore-path", "sub/deeper"], cwd="/"))
    assert "sub/deeper/x.safetensors" in text, text
    ok(run(ms + ["verify", "key", model, "--signature", model / "model.sig", "--public_key", keys.pub, "--ignore-paths", model / "sub/deeper/intruder.bin"]))


def test_missing_file_is_rejected(wh, ms, keys, ms_signed, tmp_path):
    model = copy_model(ms_signed, tmp_path / "model")
    (model / "a.b" / "c.txt").unlink()
    ms_rejects(run(ms + ["verify", "key", model, "--signature", model / "model.sig", "--public_key", keys.pub]))
    text = wh_rejects(run([wh, "verify", model, "--public-key", keys.pub]))
    assert "a.b/c.txt" in text, text
    # a missing file is not excused by --ignore-unsigned-files
    wh_rejects(run([wh, "verify", model, "--public-key", keys.pub, "--ignore-unsigned-files"]))


def test_missing_empty_file_is_rejected(wh, keys, ms_signed, tmp_path):
    model = copy_model(ms_signed, tmp_path / "model")
    (model / "empty.bin").unlink()
    text = wh_rejects(run([wh, "verify", model, "--public-key", keys.pub]))
    assert "empty.bin" in text, text


def test_wrong_public_key_is_rejected(wh, ms, keys, wrong_keys, ms_signed):
    ms_rejects(run(ms + ["verify", "key", ms_signed, "--signature", ms_signed / "model.sig", "--public_key", wrong_keys.pub]))
    text = wh_rejects(run([wh, "verify", ms_signed, "--public-key", wrong_keys.pub]))
    assert re.search(r"key mismatch|mismatch.*key|key.*mismatch|wrong key", text, re.I), text


def test_wrong_public_key_without_hint_is_rejected(wh, ms, keys, wrong_keys, ms_signed, tmp_path):
    """With no hint in the bundle (allowed by Python), only the ECDSA check can catch the key."""
    model = copy_model(ms_signed, tmp_path / "model")
    bundle = json.loads((model / "model.sig").read_bytes())
    del bundle["verificationMaterial"]["publicKey"]["hint"]
    (model / "model.sig").write_text(json.dumps(bundle, separators=(",", ":")))
    ok(run(ms + ["verify", "key", model, "--signature", model / "model.sig", "--public_key", keys.pub]))
    ok(run([wh, "verify", model, "--public-key", keys.pub]))
    ms_rejects(run(ms + ["verify", "key", model, "--signature", model / "model.sig", "--public_key", wrong_keys.pub]))
    text = wh_rejects(run([wh, "verify", model, "--public-key", wrong_keys.pub]))
    assert re.search(r"signature", text, re.I), text


def test_edited_payload_is_rejected(wh, keys, ms_signed, tmp_path):
    """A statement changed after signing (a digest swapped, root recomputed) fails the signature."""
    model = copy_model(ms_signed, tmp_path / "model")
    bundle, payload, st = read_bundle(model / "model.sig")
    (model / "config.json").write_bytes(b"evil\n")
    for r in st["predicate"]["resources"]:
        if r["name"] == "config.json":
            r["digest"] = hashlib.sha256(b"evil\n").hexdigest()
    st["subject"][0]["digest"]["sha256"] = root_of(r["digest"] for r in st["predicate"]["resources"])
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(st, indent=2).encode()).decode()
    (model / "model.sig").write_text(json.dumps(bundle, separators=(",", ":")))
    text = wh_rejects(run([wh, "verify", model, "--public-key", keys.pub]))
    assert re.search(r"signature", text, re.I), text


def test_inconsistent_root_digest_is_rejected(wh, ms, keys, ms_signed, tmp_path):
    """A validly signed statement whose subject digest is not the root of its resources."""
    model = copy_model(ms_signed, tmp_path / "model")
    bundle, _, st = read_bundle(model / "model.sig")
    st["subject"][0]["digest"]["sha256"] = BYTE_ORDER_ROOT
    write_bundle(model / "model.sig", bundle, st, keys)
    ms_rejects(run(ms + ["verify", "key", model, "--signature", model / "model.sig", "--public_key", keys.pub]))
    wh_rejects(run([wh, "verify", model, "--public-key", keys.pub]))


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}'])
def test_malformed_bundle_is_rejected(wh, tmp_path, content):
    keys = Keys(tmp_path / "k", "P-256")
    model = make_model(tmp_path / "model")
    (model / "model.sig").write_bytes(content)
    wh_rejects(run([wh, "verify", model, "--public-key", keys.pub]))


def test_usage_errors_exit_2(wh, tmp_path):
    keys = Keys(tmp_path / "k", "P-256")
    model = make_model(tmp_path / "model")
    ok(run([wh, "sign", model, "--private-key", keys.key]))
    r = run([wh, "verify", model])  # neither --public-key nor --certificate-chain
    assert r.returncode == 2, out(r)
    r = run([wh, "sign", model])  # no --private-key
    assert r.returncode == 2, out(r)


@pytest.mark.parametrize("bad_name", ["../outside.bin", "/etc/passwd", "sub/../../outside.bin"])
def test_resource_names_outside_the_model_are_rejected(wh, ms, keys, ms_signed, tmp_path, bad_name):
    """A validly signed statement that names a file outside the model: only the name check can
    catch it. model_signing 1.1.1 itself accepts the `..` names with --ignore_unsigned_files (spec
    gotcha 13), which shows the edited bundle is otherwise valid; it refuses the absolute one."""
    model = copy_model(ms_signed, tmp_path / "model")
    if bad_name.startswith("/"):
        target = pathlib.Path(bad_name)
    else:
        target = (model / bad_name).resolve()
        target.write_bytes(b"outside the model\n")
    bundle, _, st = read_bundle(model / "model.sig")
    st["predicate"]["resources"].append({"name": bad_name, "algorithm": "sha256", "digest": hashlib.sha256(target.read_bytes()).hexdigest()})
    st["subject"][0]["digest"]["sha256"] = root_of(r["digest"] for r in st["predicate"]["resources"])
    write_bundle(model / "model.sig", bundle, st, keys)

    if not bad_name.startswith("/"):
        ok(run(ms + ["verify", "key", model, "--signature", model / "model.sig", "--public_key", keys.pub, "--ignore_unsigned_files"]))
    for extra in ([], ["--ignore-unsigned-files"]):
        text = wh_rejects(run([wh, "verify", model, "--public-key", keys.pub, *extra]))
        assert bad_name in text, text


# --- certificates ------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["leaf2", "leaf"], ids=["root-leaf", "root-intermediate-leaf"])
def test_certificate_model_signing_signs_wh_verifies(wh, ms, pki, tmp_path, which):
    leaf_keys, leaf_cert = pki[which]
    model = make_model(tmp_path / "model")
    # model_signing 1.1.1 cannot sign without a --certificate_chain (it parses the empty chain as
    # PEM and fails), so the root-signed leaf carries the root itself.
    chain = ["--certificate_chain", pki["inter"] if which == "leaf" else pki["root"]]
    ok(run(ms + ["sign", "certificate", model, "--private_key", leaf_keys.key, "--signing_certificate", leaf_cert,
                 *chain, "--signature", model / "model.sig", "--ignore-paths", model / "README.md"]))
    ok(run([wh, "verify", model, "--certificate-chain", pki["root"]]))
    text = wh_rejects(run([wh, "verify", model, "--certificate-chain", pki["other_root"]]))
    assert text


@pytest.mark.parametrize("which", ["leaf2", "leaf"], ids=["root-leaf", "root-intermediate-leaf"])
def test_certificate_wh_signs_model_signing_verifies(wh, ms, pki, tmp_path, which):
    leaf_keys, leaf_cert = pki[which]
    model = make_model(tmp_path / "model")
    chain = ["--certificate-chain", pki["inter"]] if which == "leaf" else []
    ok(run([wh, "sign", model, "--private-key", leaf_keys.key, "--certificate", leaf_cert, *chain, "--ignore-path", "README.md"]))
    bundle, payload, st = read_bundle(model / "model.sig")
    vm = bundle["verificationMaterial"]
    assert set(vm) == {"x509CertificateChain", "tlogEntries"}, vm
    der = [base64.b64decode(c["rawBytes"]) for c in vm["x509CertificateChain"]["certificates"]]
    want = [x509.load_pem_x509_certificate(leaf_cert.read_bytes())]
    if which == "leaf":
        want.append(x509.load_pem_x509_certificate(pki["inter"].read_bytes()))
    assert der == [c.public_bytes(serialization.Encoding.DER) for c in want]
    assert st["subject"][0]["digest"]["sha256"] == ROOT_DIGEST
    r = ok(run(ms + ["verify", "certificate", model, "--signature", model / "model.sig", "--certificate_chain", pki["root"]]))
    assert "Verification succeeded" in r.stdout
    ok(run([wh, "verify", model, "--certificate-chain", pki["root"]]))
    ms_rejects(run(ms + ["verify", "certificate", model, "--signature", model / "model.sig", "--certificate_chain", pki["other_root"]]))
    wh_rejects(run([wh, "verify", model, "--certificate-chain", pki["other_root"]]))


def test_certificate_tampered_model_is_rejected(wh, pki, tmp_path):
    leaf_keys, leaf_cert = pki["leaf2"]
    model = make_model(tmp_path / "model")
    ok(run([wh, "sign", model, "--private-key", leaf_keys.key, "--certificate", leaf_cert]))
    (model / "B.txt").write_bytes(b"C\n")
    text = wh_rejects(run([wh, "verify", model, "--certificate-chain", pki["root"]]))
    assert "B.txt" in text, text


def test_certificate_that_does_not_match_the_key_is_refused(wh, pki, tmp_path):
    leaf_keys, _ = pki["leaf"]
    _, other_cert = pki["leaf2"]
    model = make_model(tmp_path / "model")
    r = run([wh, "sign", model, "--private-key", leaf_keys.key, "--certificate", other_cert])
    assert r.returncode != 0 and not (model / "model.sig").exists(), out(r)


# --- wh fingerprint ----------------------------------------------------------------------------


def fingerprint(wh, path):
    text = ok(run([wh, "fingerprint", path])).stdout
    first = text.split("\n", 1)[0].strip()
    j = json.loads(ok(run([wh, "fingerprint", path, "--json"])).stdout)
    assert first and " " not in first, text
    assert j["fingerprint"] == first, (text, j)
    assert j["fingerprint_f32"], j
    return j


def tensors():
    rng = np.random.default_rng(7)
    # integers below 256 in magnitude, scaled by 1/16: exact in bfloat16
    def t(*shape):
        return (rng.integers(-255, 256, size=shape) / 16).astype(np.float32)

    out = {"embed.weight": t(16, 8), "layer.0.weight": t(8, 8), "layer.0.bias": t(8), "head.weight": t(4, 8), "scale": t(1)}
    for a in out.values():
        assert np.array_equal(a.astype(ml_dtypes.bfloat16).astype(np.float32), a)
    return out


def safetensors_header(path):
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n])


def save_sharded(folder, ts, shards):
    """Save ts as safetensors shards (lists of names, in the order given) with an index."""
    folder.mkdir(parents=True)
    weight_map, total = {}, 0
    for i, names in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file({n: ts[n] for n in names}, str(folder / fname))
        for n in names:
            weight_map[n] = fname
            total += ts[n].nbytes
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    return folder


def test_fingerprint_ignores_sharding_and_order(wh, tmp_path):
    ts = tensors()
    single = tmp_path / "single"
    single.mkdir()
    save_file(ts, str(single / "model.safetensors"))
    sharded = save_sharded(tmp_path / "sharded", ts, [["scale", "layer.0.weight", "head.weight"], ["layer.0.bias", "embed.weight"]])
    a, b = fingerprint(wh, single), fingerprint(wh, sharded)
    assert a["fingerprint"] == b["fingerprint"]
    assert a["fingerprint_f32"] == b["fingerprint_f32"]
    assert fingerprint(wh, single / "model.safetensors")["fingerprint"] == a["fingerprint"]

    # one element changed in one shard
    changed = dict(ts)
    changed["layer.0.bias"] = ts["layer.0.bias"].copy()
    changed["layer.0.bias"][3] += 1
    c = fingerprint(wh, save_sharded(tmp_path / "changed", changed, [["scale", "layer.0.weight", "head.weight"], ["layer.0.bias", "embed.weight"]]))
    assert c["fingerprint"] != a["fingerprint"]
    assert c["fingerprint_f32"] != a["fingerprint_f32"]


def test_fingerprint_bf16_copy_keeps_the_f32_variant(wh, tmp_path):
    ts = tensors()
    (tmp_path / "f32").mkdir()
    (tmp_path / "bf16").mkdir()
    save_file(ts, str(tmp_path / "f32" / "model.safetensors"))
    save_file({k: v.astype(ml_dtypes.bfloat16) for k, v in ts.items()}, str(tmp_path / "bf16" / "model.safetensors"))
    assert {v["dtype"] for k, v in safetensors_header(tmp_path / "bf16" / "model.safetensors").items() if k != "__metadata__"} == {"BF16"}
    a, b = fingerprint(wh, tmp_path / "f32"), fingerprint(wh, tmp_path / "bf16")
    assert a["fingerprint"] != b["fingerprint"]
    assert a["fingerprint_f32"] == b["fingerprint_f32"]


def test_fingerprint_pytorch_bin_shards_equal_safetensors(wh, fixtures, tmp_path):
    """The same GPT-2 weights as two pytorch .bin shards, two safetensors shards and one merged
    safetensors file (made here) have one fingerprint."""
    st = fixtures / "gpt2_st"
    merged = {}
    for f in sorted(st.glob("*.safetensors")):
        merged.update(load_file(str(f)))
    (tmp_path / "one").mkdir()
    save_file(dict(sorted(merged.items(), reverse=True)), str(tmp_path / "one" / "model.safetensors"))
    fps = {k: fingerprint(wh, p) for k, p in (("bin", fixtures / "gpt2_bin"), ("st", st), ("one", tmp_path / "one"))}
    assert len({v["fingerprint"] for v in fps.values()}) == 1, fps
    assert len({v["fingerprint_f32"] for v in fps.values()}) == 1, fps
