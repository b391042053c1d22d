#!/usr/bin/env bash
# Without a registry, the offline completer's catalogue images (nginx:1.27-alpine,
# redis:7.4-alpine) cannot be pulled. This builds working stand-ins from Debian's
# packages (scripts/docker/images/service-*, FROM the registry-free base image) and gives
# them the catalogue's tags — only where no image has that tag yet, or where the tag is
# an older build of ours (never over an image pulled from a registry). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/build-test-images.sh"
tag() {
  local label='{{index .Config.Labels "clockwork.dev/digest"}}' ours tagged
  ours="$(docker image inspect -f '{{.Id}}' "$1")"
  if tagged="$(docker image inspect -f "{{.Id}} $label" "$2" 2>/dev/null)"; then
    # Another image of that name: leave it, unless it is an earlier build of this one.
    case "$tagged" in "$ours "*|*" <no value>"|*" ") return 0 ;; esac
  fi
  docker tag "$1" "$2"
  echo "tagged $1 as $2"
}
tag clockwork/test-service-redis redis:7.4-alpine
tag clockwork/test-service-nginx nginx:1.27-alpine
