#!/usr/bin/env bash
# Installs the system parts the test suite uses for real (see the shared TESTING notes).
# Arguments are COMMAND:PACKAGE pairs: the Debian PACKAGE is installed only when
# COMMAND is not on PATH (so a machine that has the tool another way is left alone).
# Then kubectl and helm go into .tools/bin (scripts/install-k8s-tools.sh).
# Idempotent; needs root (or sudo) on Debian/Ubuntu for anything missing.
set -euo pipefail

missing=()
for pair in "$@"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "installing: ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$(dirname "$0")/install-k8s-tools.sh" >/dev/null
