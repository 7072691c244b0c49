#!/usr/bin/env bash
# Builds the seven Kubernetes binaries of the kind node (kube-apiserver,
# kube-controller-manager, kube-scheduler, kube-proxy, kubelet, kubeadm,
# kubectl) from k8s.io/kubernetes through the module proxy, and prints the
# directory that holds them.
#
# The module is edited exactly as hack/envtest-assets.sh edits it (staging
# replaces dropped, k8s.io/* v0.0.0 pinned to the matching v0.x) and built
# with the same flags, so both share the Go build cache: whichever runs second
# compiles almost nothing. One `go build` makes all seven. The version ldflags
# go on both k8s.io/component-base/version and k8s.io/client-go/pkg/version:
# kubeadm compares the kubelet's and its own version with them.
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(dirname "$0")/lib.sh"

BINARIES="kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl"
DEST="$KIND_CACHE/k8s/v$K8S_VERSION-$(key "$K8S_VERSION" "$BINARIES" "$(go env GOOS GOARCH)" "$0" "$KIND_DIR/lib.sh")"
STAMP="$DEST/.complete"

have() { [ -f "$STAMP" ]; }

build() {
	have && return 0
	local work src minor stage ver ld pkgs b p
	work=$(mktemp -d)
	trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' RETURN
	log "building Kubernetes v$K8S_VERSION ($BINARIES) from the module proxy"
	src=$(modsrc "k8s.io/kubernetes@v$K8S_VERSION")
	cp -r "$src" "$work/kubernetes"
	chmod -R u+w "$work/kubernetes"
	cd "$work/kubernetes"
	rm -rf vendor go.work go.work.sum
	minor=${K8S_VERSION#*.}; minor=${minor%%.*}
	stage="0.${K8S_VERSION#*.}"
	sed -i -E '/=> \.\/staging\//d' go.mod
	sed -i -E "s#^(\s*k8s\.io/[a-z0-9-]+) v0\.0\.0\$#\1 v$stage#" go.mod
	ver="v$K8S_VERSION" ld=""
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld="$ld -X $p.gitVersion=$ver -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
	done
	pkgs=""
	for b in $BINARIES; do pkgs="$pkgs ./cmd/$b"; done
	GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
	rm -rf "$DEST"; mkdir -p "$DEST"
	# shellcheck disable=SC2086
	CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $ld" -o "$DEST/" $pkgs
	cd - >/dev/null
	touch "$STAMP"
}

have || locked k8s build
have || die "incomplete Kubernetes binaries in $DEST"
echo "$DEST"
