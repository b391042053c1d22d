#!/usr/bin/env bash
# Builds clockwork/base:bookworm without any registry: debootstrap a minimal Debian
# and `docker import` it. The root filesystem tarball is cached, so later builds
# (and later CI runs on the same machine) take seconds. Idempotent.
set -euo pipefail

image="${1:-clockwork/base:bookworm}"
cache="${CLOCKWORK_CACHE:-/var/cache/clockwork-test}"

if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

mkdir -p "$cache"
tarball="$cache/bookworm-minbase.tar"
if [ ! -s "$tarball" ]; then
  # The mirror this machine's apt already uses (no other network is reachable).
  mirror="$(grep -rhE '^[[:space:]]*(URIs:|deb[[:space:]])' /etc/apt/sources.list /etc/apt/sources.list.d/ \
              2>/dev/null | grep -oE 'https?://[^ ]+/debian/?' | head -n1 || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
  tar -C "$root" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi
docker import "$tarball" "$image" >/dev/null
