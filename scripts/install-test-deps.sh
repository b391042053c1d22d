#!/usr/bin/env bash
# Installs the system parts the test suite uses for real (see shared TESTING notes).
# Idempotent: it only installs what is missing. Needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail

need=()
for pkg in "$@"; do need+=("$pkg"); done

missing=()
for pkg in "${need[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "installing: ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
