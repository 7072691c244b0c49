#!/usr/bin/env bash
# Builds the kind CLI at the version go.mod pins (sigs.k8s.io/kind is a
# dependency of the project) into $LOCALBIN and prints its path.
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(dirname "$0")/lib.sh"

v=$(cd "$REPO_ROOT" && go list -m -f '{{.Version}}' sigs.k8s.io/kind)
bin="$LOCALBIN/kind-$v"
if [ ! -x "$bin" ]; then
	log "building kind $v"
	mkdir -p "$LOCALBIN"
	(cd "$REPO_ROOT" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" sigs.k8s.io/kind) ||
		(tmp=$(mktemp -d) && cd "$tmp" && CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS=-mod=mod go install "sigs.k8s.io/kind@$v" && mv "$tmp/kind" "$bin.tmp" && rm -rf "$tmp")
	mv "$bin.tmp" "$bin"
fi
echo "$bin"
