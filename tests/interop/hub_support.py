"""Helpers for the hub interoperability tests: start `wh serve`, run `wh admin`, give the clients a
clean environment, run client code in a fresh process, and hash things the way the Hub does."""

import hashlib
import json
import os
import pathlib
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)\s*$")

# Everything a developer's shell could hold that would point a client at another hub, another
# cache or another token, or take it offline.
CLIENT_ENV_PREFIXES = ("HF_", "HUGGINGFACE", "HUGGING_FACE")


def _target_binary(env_name, name):
    """$env_name, else $CARGO_TARGET_DIR/debug/NAME (CARGO_TARGET_DIR defaulting to
    ~/.cache/weighhouse/target), as an absolute path."""
    path = os.environ.get(env_name)
    if not path:
        target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/weighhouse/target")
        path = os.path.join(target, "debug", name)
    return os.path.abspath(path)


# Resolved when the tests are collected, before any fixture narrows the environment.
WH_BIN = _target_binary("WH_BIN", "wh")
HF_HUB_CHECK = _target_binary("WH_HF_HUB_CHECK", "wh-hf-hub-check")


def executable(path, what):
    """`path`, or a test failure (never a skip) saying how to build it."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"no {what} at {path}: build it first (scripts/interop.sh does)")
    return path


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_blob_id(data):
    """The git object id of a blob, which the Hub uses as `oid`/`blobId` and as the ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256, size):
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def client_env(endpoint, hf_home, *, disable_xet, token=None):
    """A copy of this process's environment with only the client settings the tests choose."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLIENT_ENV_PREFIXES)}
    env.pop("DISABLE_SAFETENSORS_CONVERSION", None)
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        DISABLE_SAFETENSORS_CONVERSION="1",
    )
    if disable_xet:
        env["HF_HUB_DISABLE_XET"] = "1"
    if token is not None:
        env["HF_TOKEN"] = token
    return env


class Hub:
    """One `wh serve` process on a free port of 127.0.0.1, with its data directory."""

    def __init__(self, wh, data, log_dir):
        self.wh = str(wh)
        self.data = pathlib.Path(data)
        self.stderr_path = pathlib.Path(log_dir) / "wh-serve.stderr"
        self.stdout_lines = []
        self.proc = None
        self.url = None
        self.tokens = {}  # user -> the token `wh admin user create` printed

    # -- administration (works before and while the hub runs) --

    def admin(self, *args):
        """Runs `wh admin ARGS --data DIR` and returns its stdout."""
        cmd = [self.wh, "admin", *args, "--data", str(self.data)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        return r.stdout

    def last_line(self, *args):
        lines = [line.strip() for line in self.admin(*args).splitlines() if line.strip()]
        assert lines, f"wh admin {' '.join(args)} printed nothing"
        return lines[-1]

    def create_user(self, name, admin=False):
        """Creates the user and returns its first access token (role write)."""
        self.tokens[name] = self.last_line("user", "create", name, *(["--admin"] if admin else []))
        return self.tokens[name]

    def create_token(self, user, role):
        return self.last_line("token", "create", user, "--role", role)

    def audit(self):
        entries = json.loads(self.admin("audit", "list", "--json"))
        assert isinstance(entries, list), f"audit list --json gave {type(entries).__name__}, not a list"
        return entries

    # -- process --

    def start(self, *extra, timeout=60):
        cmd = [self.wh, "serve", "--data", str(self.data), "--listen", "127.0.0.1:0", *extra]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
        lines = queue.Queue()

        def pump():  # keep draining stdout so the server never blocks on a full pipe
            for line in self.proc.stdout:
                self.stdout_lines.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while self.url is None:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise AssertionError(f"`{' '.join(cmd)}` printed no 'listening on' line in {timeout}s\n{self.logs()}")
            if line is None:
                code = self.proc.wait()
                raise AssertionError(f"`{' '.join(cmd)}` exited {code} before listening\n{self.logs()}")
            m = LISTENING.search(line)
            if m:
                self.url = m.group(1)
        return self.url

    def stop(self, timeout=20):
        """SIGTERM, and the exit status (which must be 0)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return "still running after SIGTERM"

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def logs(self, tail=6000):
        err = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return f"--- wh serve stdout ---\n{''.join(self.stdout_lines)[-tail:]}\n--- wh serve stderr ---\n{err[-tail:]}"


def running_hub(wh, base, users=(), start_args=()):
    """For a module fixture (`yield from`): a hub on a fresh data folder under `base`, with these
    users, started with `start_args`; after the tests it must stop cleanly on SIGTERM."""
    data = base / "data"
    data.mkdir()
    hub = Hub(wh, data, base)
    for user in users:
        hub.create_user(user)
    hub.start(*start_args)
    yield hub
    code = hub.stop()
    if code != 0:
        pytest.fail(f"wh serve did not exit 0 on SIGTERM: {code}\n{hub.logs()}")


def client_runner(hub, tmp_path, checked=False):
    """`run(code, user=None, **params)`: client code in a fresh process as `user` (None:
    anonymous), each run with its own cache. With `checked`, a raised exception fails the test
    and `run` returns the code's `result`; otherwise it returns run_client's answer."""
    counter = iter(range(1000))

    def run(code, user=None, **params):
        home = tmp_path / f"hf-home-{next(counter)}"
        env = client_env(hub.url, home, disable_xet=True, token=hub.tokens[user] if user else None)
        out = run_client(code, env, params, cwd=tmp_path if checked else None)
        if not checked:
            return out
        assert "error" not in out, f"{out['error']['text']}\n{out.get('traceback', '')}"
        return out["result"]

    return run


CLIENT_PRELUDE = """
import json, sys, traceback
def _describe(e):
    chain, c = [], e
    while c is not None and len(chain) < 8:
        chain.append(f"{type(c).__name__}: {c}")
        c = c.__cause__ or c.__context__
    return {"type": type(e).__name__, "mro": [k.__name__ for k in type(e).__mro__], "text": "\\n".join(chain)}
"""


def run_client(code, env, params=None, timeout=180, cwd=None):
    """Runs `code` in a fresh interpreter with `env`. The code finds `params` (JSON-encodable) and
    `describe(exception)` in its globals and sets `result` (anything JSON can encode). Returns
    `{"result": ...}`, or `{"error": describe(e), "traceback": ...}` if the code raised."""
    script = (
        CLIENT_PRELUDE
        + f"_code = {code!r}\n"
        + f"_scope = {{'__name__': '__client__', 'describe': _describe, 'params': json.loads({json.dumps(params)!r})}}\n"
        + "try:\n"
        + "    exec(compile(_code, '<client>', 'exec'), _scope)\n"
        + "    _out = {'result': _scope['result']}\n"
        + "except Exception as e:\n"
        + "    _out = {'error': _describe(e), 'traceback': traceback.format_exc()}\n"
        + "print('@@RESULT@@' + json.dumps(_out))\n"
    )
    r = subprocess.run([sys.executable, "-c", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("@@RESULT@@"):
            return json.loads(line[len("@@RESULT@@") :])
    raise AssertionError(f"client process exited {r.returncode} without a result\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
