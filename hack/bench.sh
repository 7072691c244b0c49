#!/usr/bin/env bash
# make bench: the operator's speed and cost, measured.
#
#   hack/bench.sh [-short] [-no-micro] [-no-scale] [-no-tenants] [scale flags...]
#
# 1. Go micro-benchmarks (planner, bootstrap renderer, API-key parser,
#    inventory cache, webhook handlers, simulator) in the standard format,
#    into $BENCH_OUT/micro.txt: compare two runs with
#    `benchstat old/micro.txt new/micro.txt` (BENCH_COUNT=10 for that).
# 2. The scale runs of test/scale against the envtest control plane, the
#    MAAS simulator and the manager: 100 TenantClusters × 5 machines, then
#    1000 × 3 (BENCH_RUNS="100x5 1000x3"); -short runs 10 × 3 only. Any other
#    flag goes to test/scale (see `go run ./test/scale -h`) and makes a
#    single run. Tables go to stdout and $BENCH_OUT/scale-<run>.txt, the
#    figures to $BENCH_OUT/scale-<run>.json.
# 3. The per-tenant cost of the manager's client cache to tenant clusters,
#    at rest: BENCH_TENANTS (default 20; -short 5) TenantClusters on real
#    emulated control planes (an etcd and a kube-apiserver each), the
#    manager's memory observing them and not, and its requests to their API
#    servers per tenant per minute (test/scale -mode=tenants), into
#    $BENCH_OUT/tenants.txt and $BENCH_OUT/tenants.json.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_OUT=${BENCH_OUT:-bin/bench}
BENCH_COUNT=${BENCH_COUNT:-1}
BENCH_PKGS=${BENCH_PKGS:-"./internal/rollout ./internal/bootstrap ./internal/maas ./internal/webhook/v1alpha1 ./internal/maassim"}
short=false micro=true scale=true tenants=true
args=()
for a in "$@"; do
	case "$a" in
	-short | --short) short=true; args+=("$a") ;;
	-no-micro) micro=false ;;
	-no-scale) scale=false ;;
	-no-tenants) tenants=false ;;
	*) args+=("$a") ;;
	esac
done
if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
	KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh)
	export KUBEBUILDER_ASSETS
fi
mkdir -p "$BENCH_OUT"
log() { echo "bench: $*" >&2; }

if $micro; then
	benchtime=${BENCH_TIME:-1s}
	$short && benchtime=${BENCH_TIME:-100ms}
	log "micro-benchmarks ($benchtime × $BENCH_COUNT) → $BENCH_OUT/micro.txt"
	# shellcheck disable=SC2086 # the package list splits on purpose
	go test -run '^$' -bench . -benchmem -benchtime "$benchtime" -count "$BENCH_COUNT" $BENCH_PKGS | tee "$BENCH_OUT/micro.txt"
	if command -v benchstat >/dev/null; then
		benchstat "$BENCH_OUT/micro.txt"
	fi
fi

$scale || $tenants || exit 0
log "building the manager and the scale harness"
go build -o "$BENCH_OUT/manager" ./cmd/manager
go build -o "$BENCH_OUT/scale" ./test/scale
export MGW_MANAGER_BIN="$PWD/$BENCH_OUT/manager"

runs=${BENCH_RUNS:-"100x5 1000x3"}
$short && runs="short"
for a in "${args[@]}"; do
	case "$a" in -clusters* | -machines* | --clusters* | --machines*) runs="custom" ;; esac
done
$scale || runs=""
for run in $runs; do
	flags=()
	case "$run" in
	short | custom) ;;
	*x*) flags=("-clusters=${run%x*}" "-machines=${run#*x}") ;;
	esac
	log "scale run $run"
	"$BENCH_OUT/scale" -mode=bench "${flags[@]}" "${args[@]}" -json "$BENCH_OUT/scale-$run.json" | tee "$BENCH_OUT/scale-$run.txt"
done

$tenants || exit 0
targs=()
$short && targs+=(-short)
[ -n "${BENCH_TENANTS:-}" ] && targs+=("-clusters=$BENCH_TENANTS")
log "tenant client cache at rest"
"$BENCH_OUT/scale" -mode=tenants "${targs[@]}" -json "$BENCH_OUT/tenants.json" | tee "$BENCH_OUT/tenants.txt"
