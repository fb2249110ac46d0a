#!/usr/bin/env bash
# Refresh deny/advisory-db, the RustSec advisory database snapshot that scripts/deny.sh checks
# against, from a git checkout of https://github.com/rustsec/advisory-db given as the argument.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:?usage: scripts/update-advisory-db.sh PATH-TO-ADVISORY-DB-CHECKOUT}
commit=$(git -C "$src" rev-parse HEAD)
date=$(git -C "$src" show -s --format=%cI HEAD)
rm -rf deny/advisory-db
mkdir -p deny/advisory-db
git -C "$src" archive HEAD crates LICENSE.txt | tar -x -C deny/advisory-db
echo "$commit $date" > deny/advisory-db/SNAPSHOT
echo "deny/advisory-db is now $commit ($date)"
