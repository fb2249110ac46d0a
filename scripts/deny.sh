#!/usr/bin/env bash
# `cargo deny check` (deny.toml): licences, RustSec advisories, duplicate versions and sources,
# with no network. cargo-deny is installed (once, cached under $HOME/.cache/weighhouse/tools) from
# crates.io; the advisory database is the snapshot committed in deny/advisory-db (its SNAPSHOT
# file names the upstream commit and date), turned here into the git checkout cargo-deny reads.
# scripts/update-advisory-db.sh DIR refreshes the snapshot from a clone of the RustSec database.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
tools="$HOME/.cache/weighhouse/tools"
deny="$tools/bin/cargo-deny"
if ! "$deny" --version 2>/dev/null | grep -qx "cargo-deny $version"; then
    CARGO_TARGET_DIR="$HOME/.cache/weighhouse/tools-target" \
        cargo install --locked --quiet --root "$tools" cargo-deny --version "$version"
fi

# cargo-deny reads the database from DB_PATH/advisory-db-<hash of its URL> and asks git for the
# date of its HEAD; the commit carries the snapshot's own date, so staleness is judged honestly.
read -r commit date < deny/advisory-db/SNAPSHOT
db_root="$HOME/.cache/weighhouse/advisory-dbs"
db="$db_root/advisory-db-3157b0e258782691"
if [ "$(cat "$db/.snapshot" 2>/dev/null)" != "$commit" ]; then
    rm -rf "$db"
    mkdir -p "$db"
    cp -r deny/advisory-db/. "$db/"
    git -C "$db" init --quiet
    git -C "$db" add -A
    GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" \
        git -C "$db" -c user.name=snapshot -c user.email=snapshot@localhost \
        commit --quiet -m "RustSec advisory-db $commit"
    echo "$commit" > "$db/.snapshot"
fi

"$deny" --offline --log-level error check advisories bans licenses sources
