#!/usr/bin/env bash
# The kind quick start, end to end:
#   up    create the cluster (kind-config.yaml) if it is not there
#   demo  up, build the operator image, kind load it, helm install, apply the
#         File/Directory examples and wait until they are Ready
# Needs docker, kind, kubectl and helm on PATH (kubectl and helm: scripts/install-k8s-tools.sh
# puts them in .tools/bin, which this script adds to PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$here/.tools/bin:$PATH"
cluster=clockwork
image="clockwork/operator:dev"
for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "kind-demo: $tool is not on PATH" >&2; exit 1; }
done

up() {
  kind get clusters 2>/dev/null | grep -qx "$cluster" || kind create cluster --config "$here/kind-config.yaml" --wait 120s
  kubectl config use-context "kind-$cluster" >/dev/null
}

demo() {
  up
  docker build -t "$image" "$here"
  kind load docker-image "$image" --name "$cluster"
  helm upgrade --install clockwork "$here/charts/clockwork" --namespace clockwork-system --create-namespace \
    --set image.repository="${image%:*}" --set image.tag="${image#*:}" --set image.pullPolicy=Never --wait --timeout 5m
  kubectl apply -f "$here/manifests/examples/file.yaml" -f "$here/manifests/examples/directory.yaml"
  kubectl wait --for=condition=Ready file/app-config directory/app-data --timeout=180s
  kubectl get clockwork
}

"${1:-demo}"
