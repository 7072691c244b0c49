#!/usr/bin/env bash
# make chaos: kill and restart the manager (SIGKILL, at least 20 times) while
# TenantClusters are created, resized, rolled and deleted against a MAAS
# simulator answering 10 % of requests with 503, slowly, failing some
# deployments and one release; then audit every machine, look for Secret
# values in the manager's log, events and statuses, and run three resilience
# checks (no change for 2 minutes, finalizers put back, status rebuilt from
# MAAS after a wipe). Then a control-plane phase in an environment of its
# own: two (-short: one) TenantClusters of three real emulated control-plane
# machines (etcd and kube-apiserver processes), observed from inside, rolled
# by a Kubernetes version change while the manager is SIGKILLed again (8
# times; -short 4); their etcd members are read after every kill and every
# 500 ms: quorum held, the control-plane size (+1 in an expand-first step, -1
# in a contract-first one), and at the end exactly the size, all reachable,
# no orphan (-control-plane-clusters=0 skips the phase). Exits 1 on any
# orphan, duplicate, leak, failed check or etcd violation.
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
