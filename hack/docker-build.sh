#!/usr/bin/env bash
# Builds the manager and maas-sim images with the local Docker engine, with
# no registry and nothing pulled: each Go binary is built on the host
# (CGO_ENABLED=0, -trimpath, version and commit through -ldflags) and copied,
# with the host's CA certificates and a passwd/group for UID/GID 65532, into
# an image FROM scratch.
#
# Idempotent: -trimpath builds are reproducible, so unchanged sources give
# byte-identical binaries and Docker's layer cache answers every step with
# the image it already has (same image ID, nothing rebuilt).
#
# Environment: VERSION (default: the VERSION file), COMMIT (default: git),
# IMAGE_PREFIX (default maas-gateway), IMAGES (default "manager maas-sim"),
# LDFLAGS (default: the Makefile's, rebuilt from VERSION and COMMIT).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

VERSION=${VERSION:-$(cat VERSION)}
COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
IMAGE_PREFIX=${IMAGE_PREFIX:-maas-gateway}
IMAGES=${IMAGES:-manager maas-sim}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
PKG=github.com/maas-gateway/maas-gateway
# The same flags as the Makefile's LDFLAGS.
LDFLAGS=${LDFLAGS:-"-s -w -X $PKG/internal/version.Version=$VERSION -X $PKG/internal/version.Commit=$COMMIT"}

log() { echo "docker-build: $*" >&2; }

[ -r "$CA_BUNDLE" ] || { log "no CA bundle at $CA_BUNDLE (apt-get install ca-certificates)"; exit 1; }
command -v docker >/dev/null || { log "docker not found"; exit 1; }

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

for name in $IMAGES; do
	case $name in
	manager) dockerfile=Dockerfile; flags=$LDFLAGS ;;
	maas-sim) dockerfile=hack/images/maas-sim.Dockerfile; flags="$LDFLAGS" ;;
	*) log "unknown image $name"; exit 1 ;;
	esac
	tag="$IMAGE_PREFIX/$name:v$VERSION"
	ctx="$STAGE/$name"
	mkdir -p "$ctx"

	start=$(date +%s)
	CGO_ENABLED=0 go build -trimpath -ldflags "$flags" -o "$ctx/$name" "./cmd/$name"
	if [ "$name" = maas-sim ]; then
		# The emulated control planes (maas-sim -control-planes) run the
		# envtest build of etcd and kube-apiserver: static binaries.
		assets=$(hack/envtest-assets.sh)
		cp "$assets/etcd" "$assets/kube-apiserver" "$ctx/"
	fi
	cp hack/images/passwd hack/images/group "$ctx/"
	cp "$CA_BUNDLE" "$ctx/ca-certificates.crt"
	# Same mode and mtime whatever the checkout, so the cache key is the content.
	chmod 0755 "$ctx/$name"
	[ "$name" != maas-sim ] || chmod 0755 "$ctx/etcd" "$ctx/kube-apiserver"
	chmod 0644 "$ctx/passwd" "$ctx/group" "$ctx/ca-certificates.crt"
	touch -d @0 "$ctx"/*

	before=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
	# The legacy builder (Docker 20.10 without buildx) warns that it is
	# deprecated on every run; its output is shown only when it fails.
	if ! docker build -q -f "$dockerfile" \
		--build-arg VERSION="$VERSION" --build-arg COMMIT="$COMMIT" \
		-t "$tag" "$ctx" >"$STAGE/build.log" 2>&1; then
		cat "$STAGE/build.log" >&2
		exit 1
	fi
	after=$(docker image inspect -f '{{.Id}}' "$tag")
	secs=$(( $(date +%s) - start ))

	size=$(docker image inspect -f '{{.Size}}' "$tag")
	if [ "$before" = "$after" ]; then
		state=unchanged
	else
		state=built
		# The image the tag named before is now untagged; drop it unless
		# something still uses it (docker refuses then, which is fine).
		[ -z "$before" ] || docker image rm "$before" >/dev/null 2>&1 || true
	fi
	printf 'docker-build: %-32s %s %6.1f MB  %ss  (%s)\n' "$tag" "$(echo "${after#sha256:}" | cut -c1-12)" \
		"$(awk -v s="$size" 'BEGIN{print s/1e6}')" "$secs" "$state" >&2
done
