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

// Command demo (make demo) walks the operator's whole life cycle on this
// machine alone: a local control plane (the envtest kube-apiserver and etcd),
// the MAAS simulator with the kubelet-join emulator, and the manager with its
// webhooks (package test/harness), then the samples of config/samples:
//
//	Gateway (1 node) → resize to 3 → CloudAccount validated →
//	TenantCluster provisioned → gateway upgrade with a tenant queued →
//	gateway delete refused → tenant clusters deleted, machines back in MAAS →
//	gateway deleted
//
// It prints each step with what happened and how long it took, and exits 0
// only when every step held.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr/funcr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/test/harness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the flags set.
type config struct {
	hold        bool
	verbose     bool
	deployTime  time.Duration
	stepTimeout time.Duration
	samples     string
	// controlPlanes runs tenant clusters' control planes as real processes.
	controlPlanes bool
	// install starts from a pcg.yaml and maas-gateway install instead.
	install bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.BoolVar(&c.hold, "hold", false, "keep everything running after the walk until Ctrl-C, to look around with kubectl")
	fs.BoolVar(&c.verbose, "v", false, "show the manager's log")
	fs.DurationVar(&c.deployTime, "deploy-time", 3*time.Second, "how long the simulated MAAS takes to deploy a machine")
	fs.DurationVar(&c.stepTimeout, "step-timeout", 2*time.Minute, "how long a step may wait for the operator")
	fs.BoolVar(&c.controlPlanes, "control-planes", true, "run tenant clusters' etcd and kube-apiserver as real "+
		"processes on loopback addresses, so the demo can look inside them (false: MAAS only)")
	fs.BoolVar(&c.install, "install", false, "start from nothing: a pcg.yaml taken by maas-gateway install's code to a "+
		"3-node gateway running in its own cluster (a real API server and etcd per machine)")
	fs.StringVar(&c.samples, "samples", "", "directory of the sample objects (default: config/samples of the repository)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}

	if c.install {
		ctrllog.SetLogger(funcr.New(func(prefix, args string) {}, funcr.Options{}))
		return runInstall(ctx, c, stdout)
	}
	// The demo's own clients log through controller-runtime only for what
	// the API server warns about; show that, compactly.
	ctrllog.SetLogger(funcr.New(func(prefix, args string) {
		_, _ = fmt.Fprintf(stderr, "demo: %s %s\n", prefix, args)
	}, funcr.Options{}))

	t := &timeline{out: stdout, start: time.Now()}
	t.printf("maas-gateway demo: a local control plane, the MAAS simulator and the operator, then the life cycle.\n")
	samples, err := loadSamples(c.samples)
	if err != nil {
		t.printf("demo: %v\n", err)
		return 1
	}

	simCfg := maassim.DefaultConfig()
	simCfg.DeployTime, simCfg.DeployJitter = c.deployTime, c.deployTime/3
	simCfg.ReleaseTime, simCfg.ReleaseJitter = time.Second, 200*time.Millisecond
	simCfg.Inventory = append(simCfg.Inventory, spareGatewayMachines(samples.gateway)...)
	opts := harness.Options{
		Sim:       &simCfg,
		JoinDelay: time.Second,
		// Emulated kubelets answer joins to the gateway's VIP: the sample's.
		JoinEndpoint:  gatewayVIP(samples.gateway) + ":6443",
		ManagerArgs:   []string{"--release-catalog=" + namespace + "/" + catalogName},
		ControlPlanes: c.controlPlanes,
		Log:           stdout,
		KeepDir:       true,
	}
	if c.verbose {
		opts.ManagerOutput = stderr
	}
	t.printf("\n[start] control plane, MAAS simulator (%d machines, %s deployments), manager\n",
		len(simCfg.Inventory), c.deployTime)
	t0 := time.Now()
	env, err := harness.Start(ctx, opts)
	if err != nil {
		t.printf("demo: could not start: %v\n", err)
		return 1
	}
	t.printf("      ok in %s\n", round(time.Since(t0)))
	t.printf("\n  Look alongside:  export KUBECONFIG=%s\n", env.Kubeconfig)
	t.printf("                   kubectl get maas -A\n")
	t.printf("  MAAS simulator:  %s  (machines: http://%s/sim/machines)\n", env.SimURL, env.Sim.Addr())
	t.printf("  Manager log:     %s\n", env.Manager.LogPath())

	d := &demo{env: env, t: t, cfg: c, samples: samples}
	// The demo's client shows the API server's warnings (the webhook's
	// advice, say) in the timeline, as kubectl would print them.
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = warnings{t}
	if d.client, err = client.New(cfg, client.Options{Scheme: env.Scheme}); err != nil {
		t.printf("demo: %v\n", err)
		_ = env.Stop()
		return 1
	}
	ok := t.run(ctx, d.steps())
	t.summary()

	if c.hold && ctx.Err() == nil {
		t.printf("\nHolding (-hold): KUBECONFIG=%s kubectl get maas -A. Ctrl-C to stop.\n", env.Kubeconfig)
		<-ctx.Done()
	}
	dir := env.Dir
	if err := env.Stop(); err != nil {
		t.printf("demo: stopping: %v\n", err)
	}
	if !ok {
		t.printf("\nFAILED at %s. The manager's log is kept: %s\n", t.failed(), strings.TrimSpace(dir+"/manager.log"))
		return 1
	}
	_ = os.RemoveAll(dir)
	t.printf("\nEvery step held.\n")
	return 0
}

// gatewayVIP is the sample Gateway's control-plane endpoint, or the
// harness's when the sample names none.
func gatewayVIP(gw *infrav1.Gateway) string {
	if gw.Spec.ControlPlaneEndpoint != "" {
		return gw.Spec.ControlPlaneEndpoint
	}
	return harness.GatewayVIP
}

// spareGatewayMachines are four machines added to the simulator's built-in
// inventory where the sample Gateway is placed (its zone and resource pool,
// sized above its minimums): that inventory has two gateway-pool machines per
// zone, and a sample pinned to one zone needs its first node, two more for
// the resize and a spare for each node an upgrade replaces.
func spareGatewayMachines(gw *infrav1.Gateway) []maassim.MachineSpec {
	p := gw.Spec.Placement
	if p.Zone == "" {
		return nil
	}
	pool := p.ResourcePool
	if pool == "" {
		pool = "default"
	}
	specs := make([]maassim.MachineSpec, 4)
	for i := range specs {
		specs[i] = maassim.MachineSpec{
			Hostname: fmt.Sprintf("spare-%d", i+1), Zone: p.Zone, Pool: pool, Tags: p.Tags,
			CPU: max(8, int(p.MinCPU)), MemoryMiB: max(32768, p.MinMemoryMiB),
			Disks: []maassim.DiskSpec{{SizeGB: float64(max(480, p.MinDiskGiB*2))}},
			IPs:   []string{fmt.Sprintf("10.20.9.%d", 10+i)},
		}
	}
	return specs
}

// warnings puts the API server's warnings in the timeline.
type warnings struct{ t *timeline }

func (w warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.t.note("Warning: %s", text)
}

// errorf is fmt.Errorf, for brevity in the steps.
var errorf = fmt.Errorf
