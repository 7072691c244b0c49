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

package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/maas-gateway/maas-gateway/internal/install"
	"github.com/maas-gateway/maas-gateway/internal/install/installtest"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/internal/packs"
	"github.com/maas-gateway/maas-gateway/internal/pcg"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// installVIP is the new gateway cluster's address: in a subnet of its own
// on loopback (127.23.0.0/24), its machines on 127.23.1-9.Z, beside the
// addresses the tests' worlds use.
const (
	installPrefix = "127.23."
	installVIP    = installPrefix + "0.100"
	installSubnet = installPrefix + "0.0/24"
)

// runInstall is the demo from nothing (-install): a pcg.yaml, and
// maas-gateway install's own code taking it to a gateway of three nodes
// that runs in its own cluster. The bootstrap cluster is a local control
// plane (envtest's kube-apiserver and etcd); MAAS is the simulator; each
// machine MAAS deploys runs the API server and etcd its kubeadm user data
// asks for (the controlplane emulator), so the new cluster is real and
// answers at the VIP. The operator runs in this process where the chart's
// Pod would run, first in the bootstrap cluster, then in the new one. The
// network plugin is given as manifests, as --network-plugin-manifests
// gives it.
func runInstall(ctx context.Context, c config, stdout io.Writer) int {
	t := &timeline{out: stdout, start: time.Now()}
	fail := func(format string, args ...any) int {
		t.printf("demo: "+format+"\n", args...)
		return 1
	}
	t.printf("maas-gateway demo from nothing: a pcg.yaml, a bootstrap cluster, MAAS, and maas-gateway install.\n")
	dir, err := os.MkdirTemp("", "maas-gateway-install-demo-")
	if err != nil {
		return fail("%v", err)
	}

	t.printf("\n[start] bootstrap cluster (local kube-apiserver and etcd), MAAS simulator (%s deployments)\n",
		c.deployTime)
	env, err := envtest.New(envtest.Options{})
	if err != nil {
		return fail("%v", err)
	}
	boot, err := env.Start()
	if err != nil {
		return fail("starting the bootstrap cluster: %v", err)
	}
	defer func() { _ = env.Stop() }()
	simCfg := maassim.DefaultConfig()
	simCfg.DeployTime, simCfg.DeployJitter = c.deployTime, c.deployTime/3
	if simCfg.Inventory, err = installtest.MoveMachines(simCfg.Inventory, installPrefix, 0); err != nil {
		return fail("%v", err)
	}
	simCfg.Subnets = append(simCfg.Subnets, maassim.SubnetSpec{CIDR: installSubnet, Name: "gateway-vip"})
	sim, err := maassim.Start(simCfg)
	if err != nil {
		return fail("starting the MAAS simulator: %v", err)
	}
	defer sim.Close()
	assets, err := envtest.AssetsDir()
	if err != nil {
		return fail("%v", err)
	}
	emu, err := controlplane.New(controlplane.Options{BinDir: assets, Interval: time.Second,
		Log: zap.New(zap.WriteTo(io.Discard))})
	if err != nil {
		return fail("%v", err)
	}
	defer func() { _ = emu.Close() }()
	defer emu.Attach(sim)()
	t.printf("  MAAS simulator:  %s  (machines: http://%s/sim/machines)\n", sim.URL, sim.Addr())

	pcgYAML := installtest.PCG("maas-system", installVIP, sim.URL, sim.DefaultAPIKey())
	pcgPath := filepath.Join(dir, "pcg.yaml")
	if err := os.WriteFile(pcgPath, pcgYAML, 0o600); err != nil {
		return fail("%v", err)
	}
	inst, err := pcg.Load(pcgYAML, pcg.Options{AllowLoopbackEndpoints: true})
	if err != nil {
		return fail("the demo's pcg.yaml: %v", err)
	}
	t.printf("  pcg.yaml:        %s (3 nodes, VIP %s; the API key is in it, so it is mode 0600)\n", pcgPath, installVIP)
	manifests, err := installtest.NetworkPluginManifests()
	if err != nil {
		return fail("%v", err)
	}

	t.printf("\n[install] maas-gateway install -f %s --kubeconfig-out %s/gateway.kubeconfig "+
		"--network-plugin-manifests …\n\n", pcgPath, dir)
	ops := &installtest.InProcess{Ctx: ctx, OnError: func(err error) { t.printf("demo: %v\n", err) }}
	defer ops.Stop()
	kubeconfig := filepath.Join(dir, "gateway.kubeconfig")
	clock := maassim.ClockDeployments(sim.Sim)
	start := time.Now()
	_, err = install.Run(ctx, install.Options{Installation: inst, Bootstrap: boot, KubeconfigOut: kubeconfig,
		Operator: ops, NetworkPlugin: install.PackNetworkPlugin{Source: packs.Source{Manifests: manifests}},
		Out: stdout, Timeout: c.stepTimeout + 3*c.deployTime, PollInterval: time.Second})
	took := time.Since(start)
	clock.Stop()
	if err != nil {
		t.printf("\nFAILED: %v\n(kept: %s)\n", err, dir)
		return 1
	}
	busy := clock.Busy(time.Now())
	t.printf("\nThe gateway runs in its own cluster: KUBECONFIG=%s kubectl get mgw -A\n", kubeconfig)
	t.printf("Install took %s: MAAS deploying %s (%d deployments), the rest %s.\n",
		round(took), round(busy), clock.Deployments(), round(took-busy))
	if c.hold && ctx.Err() == nil {
		t.printf("\nHolding (-hold). Ctrl-C to stop.\n")
		<-ctx.Done()
	}
	_ = os.RemoveAll(dir)
	return 0
}
