#!/usr/bin/env bash
# make chaos: kill and restart the manager (SIGKILL, at least 20 times) while
# TenantClusters are created, resized, rolled and deleted against a MAAS
# simulator answering 10 % of requests with 503, slowly, failing some
# deployments and one release; then audit every machine, look for Secret
# values in the manager's log, events and statuses, and run three resilience
# checks (no change for 2 minutes, finalizers put back, status rebuilt from
# MAAS after a wipe). Exits 1 on any orphan, duplicate, leak or failed check.
#
#   hack/chaos.sh [-short] [test/scale flags...]
#
# The table goes to stdout and $CHAOS_OUT/chaos.txt, the figures to
# $CHAOS_OUT/chaos.json.
set -euo pipefail
cd "$(dirname "$0")/.."

CHAOS_OUT=${CHAOS_OUT:-bin/bench}
if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
	KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh)
	export KUBEBUILDER_ASSETS
fi
mkdir -p "$CHAOS_OUT"
echo "chaos: building the manager and the scale harness" >&2
go build -o "$CHAOS_OUT/manager" ./cmd/manager
go build -o "$CHAOS_OUT/scale" ./test/scale
export MGW_MANAGER_BIN="$PWD/$CHAOS_OUT/manager"
set -o pipefail
"$CHAOS_OUT/scale" -mode=chaos "$@" -json "$CHAOS_OUT/chaos.json" | tee "$CHAOS_OUT/chaos.txt"
