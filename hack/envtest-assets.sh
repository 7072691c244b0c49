#!/usr/bin/env bash
# Makes kube-apiserver, etcd and kubectl available for envtest and prints the
# directory that holds them (the value for KUBEBUILDER_ASSETS). The same
# directory holds kube-controller-manager, which envtest does not use: the
# emulated tenant control planes of internal/joinemu run it where a test needs
# controllers (the disruption controller behind PodDisruptionBudget status).
#
# setup-envtest downloads prebuilt binaries; where that download cannot be
# made (machines whose only network is the Go module proxy), the binaries are
# built from source fetched through the module proxy. Either way the result is
# cached per version under $ENVTEST_CACHE, and a stamp written last marks a
# complete build, so an interrupted run is redone rather than trusted.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.34.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
GOOS=$(go env GOOS)
GOARCH=$(go env GOARCH)
ENVTEST_CACHE=${ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/maas-gateway/envtest}
DEST="$ENVTEST_CACHE/k8s/${K8S_VERSION}-${GOOS}-${GOARCH}"
STAMP="$DEST/.complete-k8s${K8S_VERSION}-etcd${ETCD_VERSION}"
K8S_BINARIES=${K8S_BINARIES:-"kube-apiserver kubectl kube-controller-manager"}

log() { echo "envtest-assets: $*" >&2; }

have_all() {
	[ -f "$STAMP" ] || return 1
	for b in $K8S_BINARIES etcd; do [ -x "$DEST/$b" ] || return 1; done
}

if have_all; then
	echo "$DEST"
	exit 0
fi
mkdir -p "$DEST"

# Several test runs may ask at once; one builds while the others wait for it.
if [ -z "${ENVTEST_ASSETS_LOCKED:-}" ] && command -v flock >/dev/null; then
	exec env ENVTEST_ASSETS_LOCKED=1 flock "$ENVTEST_CACHE/.lock" "$0" "$@"
fi
if have_all; then
	echo "$DEST"
	exit 0
fi

try_setup_envtest() {
	local dir
	dir=$(timeout 60 go run sigs.k8s.io/controller-runtime/tools/setup-envtest@release-0.22 \
		use "$K8S_VERSION" --bin-dir "$ENVTEST_CACHE/setup-envtest" -p path 2>/dev/null) || return 1
	[ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ] || return 1
	cp "$dir"/kube-apiserver "$dir"/etcd "$dir"/kubectl "$DEST"/
	# setup-envtest ships no kube-controller-manager.
	for b in $K8S_BINARIES; do [ -x "$DEST/$b" ] || return 1; done
}

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# k8s.io/kubernetes is published with replace directives into ./staging and
# k8s.io/* requirements at v0.0.0. Dropping the replaces and pinning the
# staging modules to the matching v0.x release makes it an ordinary module
# that builds from the proxy.
build_kubernetes() {
	local minor=${K8S_VERSION#*.}; minor=${minor%%.*}
	local stage="0.${K8S_VERSION#*.}"
	log "building Kubernetes v$K8S_VERSION ($K8S_BINARIES) from the module proxy"
	local src
	src=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
	cp -r "$src" "$work/kubernetes"
	chmod -R u+w "$work/kubernetes"
	cd "$work/kubernetes"
	rm -rf vendor go.work go.work.sum
	sed -i -E '/=> \.\/staging\//d' go.mod
	sed -i -E "s#^(\s*k8s\.io/[a-z0-9-]+) v0\.0\.0\$#\1 v$stage#" go.mod
	local ver="v$K8S_VERSION" ld=""
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld="$ld -X $p.gitVersion=$ver -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
	done
	local pkgs=""
	for b in $K8S_BINARIES; do pkgs="$pkgs ./cmd/$b"; done
	GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
	CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $ld" -o "$DEST/" $pkgs
	cd - >/dev/null
}

build_etcd() {
	log "building etcd v$ETCD_VERSION from the module proxy"
	mkdir -p "$work/etcd"
	cd "$work/etcd"
	cat >main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
	go mod init envtest/etcd >/dev/null 2>&1
	GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >/dev/null 2>&1
	GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$DEST/etcd" .
	cd - >/dev/null
}

if ! try_setup_envtest; then
	log "setup-envtest could not download v$K8S_VERSION; building from source"
	[ -x "$DEST/etcd" ] && [ -f "$DEST/.etcd-$ETCD_VERSION" ] || { build_etcd; touch "$DEST/.etcd-$ETCD_VERSION"; }
	build_kubernetes
fi
touch "$STAMP"
have_all || { log "incomplete assets in $DEST"; exit 1; }
echo "$DEST"
