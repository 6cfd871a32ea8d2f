#!/usr/bin/env bash
# Setup (idempotent), then `heptaview` with the given arguments, built with the
# same profile as the tests so that one build serves both README commands.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
cargo build --locked --quiet --bin heptaview
# glibc gives every thread that allocates its own malloc arena; with a dozen
# stage threads and ONNX Runtime's, resident memory creeps up over long runs
# (benches/README.md, "Memory over a long run"). Two arenas keep it flat.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
exec target/debug/heptaview "$@"
