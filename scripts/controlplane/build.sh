#!/usr/bin/env bash
# Builds the control plane the cluster tests run against (tests/cluster/): kube-apiserver,
# kube-controller-manager and etcd at the versions in versions.env, from the committed
# wrapper modules kube/ and etcd/ (see pin.sh for why they exist).
#
# The binaries go to a cache folder outside the repository,
#   ${CW_CACHE_DIR:-$HOME/.cache/clockwork}/controlplane/kube-<v>-etcd-<v>/
# and are rebuilt only when the versions, the wrapper go.mod/go.sum or this script change
# (a hash kept in the folder's .stamp). Prints the folder on stdout; build output goes to stderr.
# Cold: minutes (Go compiles Kubernetes; see README.md); cached: well under a second.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${CW_CACHE_DIR:-$HOME/.cache/clockwork}/controlplane"
out="$cache_root/kube-$KUBE_VERSION-etcd-$ETCD_VERSION"
binaries=(kube-apiserver kube-controller-manager etcd)

stamp="$(cat "$here/versions.env" "$here/build.sh" "$here/kube/go.mod" "$here/kube/go.sum" \
  "$here/etcd/go.mod" "$here/etcd/go.sum" | sha256sum | cut -d' ' -f1)"

built() {
  [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ] || return 1
  for binary in "${binaries[@]}"; do [ -x "$out/$binary" ] || return 1; done
}

if built; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: Go is not installed (https://go.dev/dl/)" >&2; exit 1; }
mkdir -p "$cache_root"
# One build at a time per folder; a second caller waits and then finds it built.
exec 9>"$out.lock"
flock 9
if built; then
  echo "$out"
  exit 0
fi

work="$(mktemp -d "$cache_root/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

minor="${KUBE_VERSION#v1.}"
minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done

# Low priority: the machine stays usable while Go compiles.
build() { (cd "$1" && shift && CGO_ENABLED=0 nice -n 19 go build -trimpath -buildvcs=false "$@"); }

start=$SECONDS
echo "build.sh: building kube-apiserver, kube-controller-manager $KUBE_VERSION and etcd $ETCD_VERSION into $out" >&2
build "$here/kube" -ldflags "$ldflags" -o "$work/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
build "$here/kube" -ldflags "$ldflags" -o "$work/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
build "$here/etcd" -ldflags "-s -w" -o "$work/etcd" go.etcd.io/etcd/server/v3

echo "$stamp" >"$work/.stamp"
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
echo "build.sh: built in $((SECONDS - start)) s" >&2
echo "$out"
