#!/usr/bin/env bash
# Builds the test images under scripts/docker/images/ FROM the registry-free base.
# An image is rebuilt only when its Dockerfile changed (a content hash label). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/build-base-image.sh"
for dir in "$here"/images/*/; do
  name="clockwork/test-$(basename "$dir")"
  digest="$(cat "$dir"/* | sha256sum | cut -c1-16)"
  current="$(docker image inspect -f '{{index .Config.Labels "clockwork.dev/digest"}}' "$name" 2>/dev/null || true)"
  if [ "$current" != "$digest" ]; then
    docker build -q --label "clockwork.dev/digest=$digest" -t "$name" "$dir" >/dev/null
  fi
done
