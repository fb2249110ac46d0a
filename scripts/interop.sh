#!/usr/bin/env bash
# Interoperability tests: files `wh convert` writes are read by the real `safetensors` package, and
# dtype conversions are checked against numpy/ml_dtypes; the hub (`wh serve`) serves the real
# `huggingface_hub` client and the Rust `hf-hub` crate (through tests/hf-hub-check). Installs what
# it needs into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
# Absolute, so that tests which change folder or build a client's environment still find the binaries.
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-$HOME/.cache/weighhouse/target}")
export CARGO_TARGET_DIR

venv=${WH_VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
cargo build --locked -p weighhouse-cli -p wh-hf-hub-check
WH_BIN="$CARGO_TARGET_DIR/debug/wh" WH_HF_HUB_CHECK="$CARGO_TARGET_DIR/debug/wh-hf-hub-check" \
    "$venv/bin/python" -m pytest -q tests/interop
