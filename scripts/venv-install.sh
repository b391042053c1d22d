#!/usr/bin/env bash
# Installs Clockwork (editable) into a venv, quietly: the output is shown only when it fails.
#   scripts/venv-install.sh VENV PYTHON SPEC     SPEC: '.' (runtime only) or '.[dev]'
# The venv gets pip and uv. uv installs (several times faster than pip, and its cache
# works); pip is the fallback wherever uv cannot. The venv is made without ensurepip
# (7 s of CPU) when PYTHON has a pip of its own to put pip and uv into it.
set -uo pipefail
venv=$1 python=$2 spec=$3
bin=$venv/bin
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pip_flags=(--quiet --disable-pip-version-check --root-user-action=ignore --no-compile)

try() { "$@" >>"$log" 2>&1; }
step() {
  if ! try "$@"; then
    cat "$log" >&2
    echo "failed: $*" >&2
    exit 1
  fi
}

[ -x "$bin/python" ] || step "$python" -m venv --without-pip "$venv"
if [ ! -x "$bin/uv" ] || ! try "$bin/python" -m pip --version; then
  try "$python" -m pip --python "$bin/python" install "${pip_flags[@]}" pip uv ||
    { try "$bin/python" -m ensurepip --default-pip && try "$bin/python" -m pip install "${pip_flags[@]}" uv; }
fi
try "$bin/python" -m pip --version || step "$bin/python" -m ensurepip --default-pip
if [ -x "$bin/uv" ] && try "$bin/uv" pip install --quiet --python "$bin/python" -e "$spec"; then
  exit 0
fi
step "$bin/python" -m pip install "${pip_flags[@]}" -e "$spec"
