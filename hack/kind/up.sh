#!/usr/bin/env bash
# Creates the kind cluster $KIND_CLUSTER (one node, no default CNI: the node
# image carries a static ptp config) from the offline node image, and loads
# the manager and simulator images (`make docker-build`) into it. Prints
# nothing on stdout; the kubeconfig is written to $KIND_KUBECONFIG.
# Idempotent: an existing cluster of that name is kept and the images are
# loaded again.
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(dirname "$0")/lib.sh"

KIND_CLUSTER=${KIND_CLUSTER:-maas-gateway-e2e}
VERSION=${VERSION:-$(cat "$REPO_ROOT/VERSION")}
KIND_KUBECONFIG=${KIND_KUBECONFIG:-$LOCALBIN/$KIND_CLUSTER.kubeconfig}
IMAGES=${IMAGES:-"maas-gateway/manager:v$VERSION maas-gateway/maas-sim:v$VERSION"}

image=$("$KIND_DIR/node-image.sh")
kind=$("$KIND_DIR/kind-cli.sh")
. "$KIND_DIR/docker-env.sh" "$image"

for i in $IMAGES; do
	docker image inspect "$i" >/dev/null 2>&1 || die "image $i not found: run 'make docker-build'"
done

if "$kind" get clusters 2>/dev/null | grep -qxF "$KIND_CLUSTER"; then
	log "cluster $KIND_CLUSTER exists; keeping it"
	"$kind" get kubeconfig --name "$KIND_CLUSTER" >"$KIND_KUBECONFIG"
else
	cfg=$(mktemp)
	trap 'rm -f "$cfg"' EXIT
	cat >"$cfg" <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  # kindnetd cannot be had offline; the node image has a static ptp config.
  disableDefaultCNI: true
nodes:
  - role: control-plane
YAML
	log "creating cluster $KIND_CLUSTER from $image"
	start=$(date +%s)
	"$kind" create cluster --name "$KIND_CLUSTER" --image "$image" --config "$cfg" \
		--kubeconfig "$KIND_KUBECONFIG" --wait 3m >&2
	log "cluster $KIND_CLUSTER up in $(( $(date +%s) - start ))s"
fi
chmod 0600 "$KIND_KUBECONFIG"
for i in $IMAGES; do
	"$kind" load docker-image --name "$KIND_CLUSTER" "$i" >&2
done
# CoreDNS answering is what everything after this relies on.
docker exec "$KIND_CLUSTER-control-plane" kubectl --kubeconfig /etc/kubernetes/admin.conf \
	-n kube-system wait --for=condition=Available deployment/coredns --timeout=3m >&2
log "cluster $KIND_CLUSTER ready; KUBECONFIG=$KIND_KUBECONFIG"
