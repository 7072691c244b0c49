/*
Copyright 2026 The maas-gateway Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command scale measures the operator at scale (`make bench`) and proves its
// safety under faults (`make chaos`). It starts the envtest control plane,
// the MAAS simulator and the manager as a child process (test/harness),
// drives a workload of TenantClusters through their life, and prints one
// table and a JSON file of figures to compare with DESIGN.md §6.
//
//	go run ./test/scale -mode=bench [-short] [-clusters=100 -machines=5]
//	go run ./test/scale -mode=chaos [-short] [-kills=20] [-control-plane-clusters=2]
//	go run ./test/scale -mode=tenants [-short] [-clusters=20] [-window=10m]
//
// The chaos mode ends with an audit of every simulated machine and exits 1
// on an orphaned, duplicated or leaked machine, or a Secret value found in
// the manager's logs, events or statuses.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// config is the command line.
type config struct {
	mode        string
	short       bool
	clusters    int
	machines    int
	deployTime  time.Duration
	releaseTime time.Duration
	poll        time.Duration
	timeout     time.Duration
	jsonOut     string
	managerBin  string
	seed        int64
	createConc  int

	webhookConc int
	webhookReqs int

	// chaos
	kills           int
	killMin         time.Duration
	killMax         time.Duration
	errorRate       float64
	latency         time.Duration
	failDeployRate  float64
	quiet           time.Duration
	resilienceLimit time.Duration
	keepDir         bool
	createOnly      bool
	settle          time.Duration
	verbose         bool
	profileDir      string
	rateLimit       float64
	foreignSecrets  int
	foreignSize     int

	// tenants, and chaos's control-plane phase
	window      time.Duration
	restSettle  time.Duration
	cpStartConc int
	cpClusters  int
	cpKills     int
}

func parseFlags() config {
	var c config
	flag.StringVar(&c.mode, "mode", "bench",
		"bench, chaos, or tenants (the per-tenant cost of the manager's tenant client cache, at rest, "+
			"with -clusters real control planes)")
	flag.BoolVar(&c.short, "short", false, "a small workload that finishes in about a minute")
	flag.IntVar(&c.clusters, "clusters", 0,
		"TenantClusters (default 100; -short 10; chaos 30, -short 8; tenants 20, -short 5)")
	flag.IntVar(&c.machines, "machines", 0,
		"machines per cluster: 1 control plane + the rest workers (default 5; -short 3)")
	flag.DurationVar(&c.deployTime, "deploy-time", 0,
		"the simulator's deploy time, the physical limit convergence is compared with (default 20s; -short 5s)")
	flag.DurationVar(&c.releaseTime, "release-time", 0, "the simulator's release time (default 2s; -short 500ms)")
	flag.DurationVar(&c.poll, "poll-interval", 0, "the manager's --maas-poll-interval (default 1s; -short 500ms)")
	flag.DurationVar(&c.timeout, "timeout", 0,
		"bound on the whole run (default 30m, -short 5m; chaos 60m, -short 30m; tenants 45m, -short 15m)")
	flag.StringVar(&c.jsonOut, "json", "", "write the figures as JSON to this file")
	flag.StringVar(&c.managerBin, "manager", "",
		"prebuilt manager binary (default: $MGW_MANAGER_BIN, or built by the harness)")
	flag.Int64Var(&c.seed, "seed", 1, "seed of the simulator and of the chaos schedule")
	flag.IntVar(&c.createConc, "create-concurrency", 8, "parallel creates and deletes")
	flag.IntVar(&c.webhookConc, "webhook-concurrency", 100, "concurrent admission requests in the webhook latency test")
	flag.IntVar(&c.webhookReqs, "webhook-requests", 0,
		"admission requests per webhook in the latency test (default 3000; -short 1000)")
	flag.IntVar(&c.kills, "kills", 20, "chaos: SIGKILLs of the manager")
	flag.DurationVar(&c.killMin, "kill-jitter", 3*time.Second,
		"chaos: a kill comes within this long after the restarted manager's first MAAS write")
	flag.DurationVar(&c.killMax, "kill-max-wait", 45*time.Second,
		"chaos: the longest a restarted manager is left without a MAAS write before the next kill")
	flag.Float64Var(&c.errorRate, "error-rate", 0.10, "chaos: share of MAAS requests answered 503")
	flag.DurationVar(&c.latency, "latency", 20*time.Millisecond, "chaos: latency added to every MAAS request")
	flag.Float64Var(&c.failDeployRate, "fail-deploy-rate", 0.05, "chaos: share of deployments that fail")
	flag.DurationVar(&c.quiet, "quiet", 0,
		"chaos: how long no object's resourceVersion may change after convergence (default 2m; -short 20s)")
	flag.DurationVar(&c.resilienceLimit, "resilience-timeout", 0,
		"chaos: how long the operator has to put back a finalizer or a status (default 2m; -short 45s)")
	flag.DurationVar(&c.settle, "settle", 0,
		"chaos: how long convergence after the faults, and the final deletion, may take (default 10m; -short 3m)")
	flag.BoolVar(&c.createOnly, "create-only", false,
		"bench: stop after creation and the webhook test (no deletion phase)")
	flag.BoolVar(&c.keepDir, "keep", false, "keep the harness directory (kubeconfig, manager.log)")
	flag.BoolVar(&c.verbose, "v", false, "show the harness's progress and the manager's output")
	flag.StringVar(&c.profileDir, "profile", "",
		"bench: save the manager's CPU profile of the creation phase and heap profiles to this directory")
	flag.Float64Var(&c.rateLimit, "maas-rate-limit", 0,
		"the manager's --maas-rate-limit in requests/s per MAAS endpoint (0: the manager's default); the burst is twice that")
	flag.IntVar(&c.foreignSecrets, "foreign-secrets", -1,
		"bench: create this many Helm-release-like Secrets in other namespaces and restart the manager "+
			"before the workload, and report its memory then (0: restart and report without creating any)")
	flag.IntVar(&c.foreignSize, "foreign-secret-size", 10<<10, "bytes in each foreign Secret")
	flag.DurationVar(&c.window, "window", 0,
		"tenants: how long the manager at rest is measured (default 10m, which holds the tenant cache's 2-minute "+
			"probes and at least one renewal of every 5-10-minute Node watch; -short 2m, probes only)")
	flag.DurationVar(&c.restSettle, "rest-settle", 30*time.Second,
		"tenants: how long after a restart (every tenant connected) the manager is left before a window starts")
	flag.IntVar(&c.cpStartConc, "control-plane-concurrency", 4,
		"tenants and chaos: how many emulated control planes (etcd + kube-apiserver) start at once")
	flag.IntVar(&c.cpClusters, "control-plane-clusters", -1,
		"chaos: 3-control-plane TenantClusters on real emulated control planes, rolled while the manager is killed, "+
			"their etcd members audited after every kill (default 2; -short 1; 0: none)")
	flag.IntVar(&c.cpKills, "control-plane-kills", 0,
		"chaos: SIGKILLs of the manager during the control-plane rolls (default 8; -short 4)")
	flag.Parse()

	def := func(p *int, normal, short int) {
		if *p == 0 {
			*p = normal
			if c.short {
				*p = short
			}
		}
	}
	defD := func(p *time.Duration, normal, short time.Duration) {
		if *p == 0 {
			*p = normal
			if c.short {
				*p = short
			}
		}
	}
	switch c.mode {
	case "chaos":
		def(&c.clusters, 30, 8)
	case "tenants":
		def(&c.clusters, 20, 5)
	default:
		def(&c.clusters, 100, 10)
	}
	def(&c.machines, 5, 3)
	def(&c.webhookReqs, 3000, 1000)
	defD(&c.deployTime, 20*time.Second, 5*time.Second)
	defD(&c.releaseTime, 2*time.Second, 500*time.Millisecond)
	defD(&c.poll, time.Second, 500*time.Millisecond)
	switch c.mode {
	case "chaos":
		// The control-plane phase starts and rolls real control planes.
		defD(&c.timeout, 60*time.Minute, 30*time.Minute)
	case "tenants":
		defD(&c.timeout, 45*time.Minute, 15*time.Minute)
	}
	defD(&c.timeout, 30*time.Minute, 5*time.Minute)
	defD(&c.settle, 10*time.Minute, 3*time.Minute)
	defD(&c.quiet, 2*time.Minute, 20*time.Second)
	defD(&c.resilienceLimit, 2*time.Minute, 45*time.Second)
	defD(&c.window, 10*time.Minute, 2*time.Minute)
	def(&c.cpKills, 8, 4)
	if c.cpClusters < 0 {
		c.cpClusters = 2
		if c.short {
			c.cpClusters = 1
		}
	}
	if c.managerBin == "" {
		c.managerBin = os.Getenv("MGW_MANAGER_BIN")
	}
	return c
}

func main() {
	c := parseFlags()
	logf.SetLogger(logr.Discard())
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, c.timeout)
	defer cancelT()

	var err error
	var failed bool
	switch c.mode {
	case "bench":
		err = runBench(ctx, c)
	case "chaos":
		failed, err = runChaos(ctx, c)
	case "tenants":
		err = runTenants(ctx, c)
	default:
		err = fmt.Errorf("unknown -mode %q (bench, chaos or tenants)", c.mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(2)
	}
	if failed {
		fmt.Fprintln(os.Stderr, "scale: the audit or a resilience check failed (see above)")
		os.Exit(1)
	}
}

// progress prints a timestamped progress line on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}
