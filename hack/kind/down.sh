#!/usr/bin/env bash
# Deletes the kind cluster $KIND_CLUSTER and its kubeconfig.
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(dirname "$0")/lib.sh"

KIND_CLUSTER=${KIND_CLUSTER:-maas-gateway-e2e}
KIND_KUBECONFIG=${KIND_KUBECONFIG:-$LOCALBIN/$KIND_CLUSTER.kubeconfig}

kind=$("$KIND_DIR/kind-cli.sh")
"$kind" delete cluster --name "$KIND_CLUSTER" --kubeconfig "$KIND_KUBECONFIG" >&2
rm -f "$KIND_KUBECONFIG"
