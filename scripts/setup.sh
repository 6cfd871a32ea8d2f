#!/usr/bin/env bash
# Installs what this machine lacks to build, run and test heptaview. Idempotent
# and quiet when there is nothing to do; everything it fetches from PyPI stays
# in the project-local, gitignored .deps/ folder:
#   .deps/venv/          Python tools the tests use as references (requirements*.txt)
#   .deps/onnxruntime/   the ONNX Runtime shared library, from the onnxruntime wheel
# System packages (OpenCV and clang for the opencv crate's bindings; Chromium for
# the browser test of the Rerun web viewer, scripts/browser_check.py) come from apt.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="$root/.deps"
ort_version="1.31.1"   # the release ort 2.0.0-rc.15 (feature api-31) targets
apt_packages=(libopencv-dev clang libclang-dev pkg-config chromium)

say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

as_root() {
    if [[ $(id -u) == 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root (or sudo) to run: $*"; fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_install() {
    say "installing system packages: $*"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. System packages.
command -v dpkg-query >/dev/null || die "this script installs with apt (Debian/Ubuntu); on other systems install OpenCV 4 dev files and libclang yourself"
missing=()
for package in "${apt_packages[@]}"; do installed "$package" || missing+=("$package"); done
command -v python3 >/dev/null || missing+=(python3)
if command -v python3 >/dev/null && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    missing+=(python3-venv)
fi
(( ${#missing[@]} == 0 )) || apt_install "${missing[@]}"

command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (rustup) first"

# 2. Python tools for the tests, in a project-local venv, redone when requirements change.
venv="$deps/venv"
requirements="$root/scripts/requirements.txt"
requirements_nodeps="$root/scripts/requirements-nodeps.txt"
wanted="$(cat "$requirements" "$requirements_nodeps" | sha256sum | cut -d' ' -f1)"
stamp="$venv/.requirements.sha256"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
    say "installing Python tools into .deps/venv (requirements: scripts/requirements.txt)"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$requirements_nodeps"
    # The rerun CLI asks about usage analytics on first run and prints a banner; the tests read its output.
    "$venv/bin/rerun" analytics disable >/dev/null 2>&1 || true
    echo "$wanted" > "$stamp"
fi

# 3. The ONNX Runtime library, copied out of the wheel to where heptaview looks.
library="$deps/onnxruntime/libonnxruntime.so.$ort_version"
if [[ ! -f "$library" ]]; then
    capi="$("$venv/bin/python" -c 'import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), "capi"))')"
    [[ -f "$capi/libonnxruntime.so.$ort_version" ]] || die "the onnxruntime wheel has no $capi/libonnxruntime.so.$ort_version"
    say "installing ONNX Runtime $ort_version into .deps/onnxruntime/"
    mkdir -p "$deps/onnxruntime"
    cp "$capi/libonnxruntime.so.$ort_version" "$library.partial"
    mv "$library.partial" "$library"
fi
