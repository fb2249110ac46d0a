#!/usr/bin/env bash
# Interoperability tests: files `wh convert` writes are read by the real `safetensors` package, and
# dtype conversions are checked against numpy/ml_dtypes. Installs what it needs into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weighhouse/target}"

venv=${WH_VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
cargo build --locked -p weighhouse-cli
WH_BIN="$CARGO_TARGET_DIR/debug/wh" "$venv/bin/python" -m pytest -q tests/interop
