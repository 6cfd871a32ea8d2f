#!/usr/bin/env bash
# The whole test suite from a fresh clone: setup (idempotent), formatting,
# lints, then every test of the workspace. CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
echo "== cargo test"
# Last, so that the output ends with the test runner's own summary.
cargo test --workspace --locked
