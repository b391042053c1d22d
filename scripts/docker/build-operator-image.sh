#!/usr/bin/env bash
# Builds the operator image without PyPI inside the build: the host's pip fills
# build/wheelhouse (Clockwork's wheel and every dependency), and the image builds
# FROM a local base (default clockwork/test-python, from build-test-images.sh).
# Usage: build-operator-image.sh [TAG] [BASE_IMAGE]
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
tag="${1:-clockwork/operator:dev}"
base="${2:-clockwork/test-python}"
python="${PYTHON:-$here/.venv/bin/python}"
rm -rf "$here/build/wheelhouse"
"$python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$here/build/wheelhouse" "$here" >&2
docker build -q --build-arg "BASE_IMAGE=$base" -t "$tag" "$here"
