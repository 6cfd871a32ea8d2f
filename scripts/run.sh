#!/usr/bin/env bash
# Setup (idempotent), then `heptaview` with the given arguments, built with the
# same profile as the tests so that one build serves both README commands.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
cargo build --locked --quiet --bin heptaview
exec target/debug/heptaview "$@"
