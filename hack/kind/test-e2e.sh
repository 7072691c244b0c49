#!/usr/bin/env bash
# `make test-e2e`: brings the kind cluster up (up.sh), runs the e2e suite
# (go test -tags e2e ./test/e2e/...) against it and deletes it again.
#
# When the suite fails, pod logs, events, the objects and the simulator's
# machines are dumped into $ARTIFACTS (default _artifacts/), and with
# KEEP_CLUSTER=1 the cluster is kept for a look (make kind-down removes it).
# The host's sysctls are recorded before the cluster is created; the suite
# fails if any of them changed (see host-sysctls.txt).
set -euo pipefail
# shellcheck source=hack/kind/lib.sh
. "$(dirname "$0")/lib.sh"

export KIND_CLUSTER=${KIND_CLUSTER:-maas-gateway-e2e}
export VERSION=${VERSION:-$(cat "$REPO_ROOT/VERSION")}
export KIND_KUBECONFIG=${KIND_KUBECONFIG:-$LOCALBIN/$KIND_CLUSTER.kubeconfig}
ARTIFACTS=${ARTIFACTS:-$REPO_ROOT/_artifacts}
E2E_TIMEOUT=${E2E_TIMEOUT:-30m}
E2E_FLAGS=${E2E_FLAGS:-}

rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
started=$(date +%s)

# The host's values before anything of the cluster ran.
baseline="$ARTIFACTS/host-sysctls.before"
grep -v '^#' "$KIND_DIR/host-sysctls.txt" | while read -r s; do
	[ -n "$s" ] && [ -r "/proc/sys/$s" ] && printf '%s=%s\n' "$s" "$(tr '\t' ' ' <"/proc/sys/$s")"
done >"$baseline"

"$KIND_DIR/up.sh"
up=$(date +%s)
# The install spec's installer makes a kind cluster of its own with the kind
# library: from the same node image, and through the docker wrapper where
# this engine refuses --privileged (docker-env.sh puts it first on PATH).
E2E_NODE_IMAGE=$("$KIND_DIR/node-image.sh")
export E2E_NODE_IMAGE
# shellcheck source=hack/kind/docker-env.sh
. "$KIND_DIR/docker-env.sh" "$E2E_NODE_IMAGE"

dump() {
	log "dumping the cluster's state into $ARTIFACTS"
	local k8s kc
	k8s=$("$KIND_DIR/k8s-binaries.sh")
	kc() { "$k8s/kubectl" --kubeconfig "$KIND_KUBECONFIG" --request-timeout=20s "$@"; }
	kc get nodes,all,events -A -o wide >"$ARTIFACTS/cluster.txt" 2>&1 || true
	kc get gateways,cloudaccounts,tenantclusters,secrets,configmaps -A -o yaml >"$ARTIFACTS/objects.yaml" 2>&1 || true
	kc get events -A --sort-by=.lastTimestamp >"$ARTIFACTS/events.txt" 2>&1 || true
	kc describe pods -A >"$ARTIFACTS/pods-describe.txt" 2>&1 || true
	mkdir -p "$ARTIFACTS/logs"
	kc get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}' 2>/dev/null |
		while read -r ns pod; do
			kc -n "$ns" logs "$pod" --all-containers --timestamps >"$ARTIFACTS/logs/$ns.$pod.log" 2>&1 || true
			kc -n "$ns" logs "$pod" --all-containers --timestamps --previous >"$ARTIFACTS/logs/$ns.$pod.previous.log" 2>/dev/null ||
				rm -f "$ARTIFACTS/logs/$ns.$pod.previous.log"
		done
	# The simulator's admin API, through a port-forward: its connections
	# arrive in the Pod on loopback, where the API needs no key.
	local pf port=""
	"$k8s/kubectl" --kubeconfig "$KIND_KUBECONFIG" -n maas-sim port-forward svc/maas-sim :5240 \
		>"$ARTIFACTS/sim-port-forward.log" 2>&1 &
	pf=$!
	for _ in $(seq 50); do
		port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$ARTIFACTS/sim-port-forward.log" | head -n1)
		[ -n "$port" ] && break
		sleep 0.2
	done
	if [ -n "$port" ]; then
		for p in machines counts faults; do
			curl -sS --max-time 20 "http://127.0.0.1:$port/sim/$p" >"$ARTIFACTS/sim-$p.json" 2>&1 || true
		done
	fi
	kill "$pf" 2>/dev/null || true
	wait "$pf" 2>/dev/null || true
	"$("$KIND_DIR/kind-cli.sh")" export logs --name "$KIND_CLUSTER" "$ARTIFACTS/kind" >/dev/null 2>&1 || true
}

rc=0
(
	cd "$REPO_ROOT"
	# shellcheck disable=SC2086
	KUBECONFIG="$KIND_KUBECONFIG" E2E_ARTIFACTS="$ARTIFACTS" E2E_SYSCTL_BASELINE="$baseline" \
		E2E_KIND_CLUSTER="$KIND_CLUSTER" E2E_VERSION="$VERSION" \
		go test -v -tags e2e -count=1 -timeout "$E2E_TIMEOUT" ./test/e2e/... -args -ginkgo.v $E2E_FLAGS
) 2>&1 | tee "$ARTIFACTS/e2e.log" || rc=$?
done_at=$(date +%s)

if [ "$rc" -ne 0 ]; then
	dump
	if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
		log "suite failed; cluster $KIND_CLUSTER kept (KUBECONFIG=$KIND_KUBECONFIG; make kind-down removes it)"
	else
		"$KIND_DIR/down.sh" || true
	fi
else
	"$KIND_DIR/down.sh"
fi
log "up $((up - started))s, suite $((done_at - up))s, total $(( $(date +%s) - started ))s; artifacts in $ARTIFACTS"
exit "$rc"
