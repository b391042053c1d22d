#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs docker.io when missing and starts
# dockerd in the background when nothing answers. Idempotent. Prints nothing on
# success. The PID of a dockerd started here goes to /run/clockwork-dockerd.pid,
# so that it can be stopped by PID.
set -euo pipefail

if ! command -v dockerd >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi

log=/var/log/clockwork-dockerd.log
nohup dockerd >"$log" 2>&1 &
echo $! > /run/clockwork-dockerd.pid

for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  if ! kill -0 "$(cat /run/clockwork-dockerd.pid)" 2>/dev/null; then
    echo "dockerd exited; last lines of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  sleep 0.5
done
echo "dockerd did not answer within 60s; see $log" >&2
exit 1
