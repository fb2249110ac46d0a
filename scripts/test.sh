#!/usr/bin/env bash
# The whole test suite: repository checks (nothing outside the repository referenced, no import
# circles, the scanner corpus re-verified), formatting, lints, documentation, cargo deny, unit and
# end-to-end tests, the fuzz targets' build and corpus replay, and interoperability tests against
# the real Python libraries.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weighhouse/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

step "toolchain agrees with rust-version"
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
msrv=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml)
case "$toolchain" in "$msrv"|"$msrv".*) ;; *) echo "rust-toolchain.toml ($toolchain) and rust-version ($msrv) differ"; exit 1 ;; esac

step "nothing outside the repository is referenced"
python3 scripts/check_paths.py

step "no import circles between the files of a crate"
python3 scripts/check_cycles.py

step "scanner corpus: every malicious pickle reaches its payload, no benign one does (inert unpickler)"
python3 tests/fixtures/gen/verify_scan_corpus.py

step "cargo fmt"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "cargo deny: licences, advisories, duplicate versions, sources"
scripts/deny.sh

step "cargo test"
cargo test --workspace --locked

step "fuzz targets build"
if cargo +nightly --version >/dev/null 2>&1 && command -v cargo-fuzz >/dev/null 2>&1; then
    (cd fuzz && cargo +nightly fuzz build --dev)
else
    # Without a nightly toolchain the targets are still compiled (uninstrumented) so they cannot rot.
    cargo build --manifest-path fuzz/Cargo.toml --bins
fi

step "interoperability with the reference Python libraries"
scripts/interop.sh
