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

package install_test

// The whole installer in the test world: envtest is the bootstrap
// cluster, the MAAS simulator the data centre, and the controlplane
// emulator runs a real API server and etcd for each gateway machine at the
// VIP. The OperatorInstaller runs the operator in-process where the chart
// would run its Pod: outside (against envtest, --outside-gateway), then
// inside (against the new cluster, with the CRDs of config/crd/bases).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/install"
	"github.com/maas-gateway/maas-gateway/internal/install/installtest"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/internal/pcg"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

const (
	// Each world's machines and VIP are on 127.22.0.0/16, which no other
	// package's world uses: go test runs packages at once, and two
	// emulated API servers cannot both listen on one address (the
	// controller suites use 127.11 and 127.20, internal/workload 127.21).
	// Within it each world of this package has a third octet of its own
	// (see newWorld), so that two can run at once.
	addressPrefix = "127.22."
	namespace     = "maas-system"
)

// inProcess is the operator of the test world, run in-process and stopped
// before the world stops.
func inProcess(ctx context.Context, t *testing.T) *installtest.InProcess {
	ops := &installtest.InProcess{Ctx: ctx, OnError: func(err error) { t.Error(err) }}
	t.Cleanup(ops.Stop)
	return ops
}

// cni is the network plugin of this world (see controlplane.NetworkPlugin).
type cni struct{}

func (cni) Apply(ctx context.Context, cfg *rest.Config) (string, error) {
	c, err := install.NewClient(cfg)
	if err != nil {
		return "", err
	}
	if err := c.Create(ctx, controlplane.NetworkPlugin()); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	return "the test world's network plugin", nil
}

// installOptions are the installer's options in the test world.
func installOptions(inst *pcg.Installation, boot *rest.Config, kubeconfig string, ops install.OperatorInstaller) install.Options {
	return install.Options{Installation: inst, Bootstrap: boot, KubeconfigOut: kubeconfig, Operator: ops,
		NetworkPlugin: cni{}, Timeout: 4 * time.Minute, PollInterval: time.Second}
}

// envtestBootstrap is the Bootstrapper of this world: envtest stands for
// the kind cluster (KindBootstrap against kind runs in the e2e suite).
// Delete deletes nothing; it records whether the Gateway had left.
type envtestBootstrap struct {
	cfg     *rest.Config
	ensured int
	// deleted records, for each Delete, whether the bootstrap cluster
	// still held the Gateway then.
	deleted []bool
}

func (b *envtestBootstrap) Ensure(context.Context, io.Writer) (*rest.Config, string, error) {
	b.ensured++
	return b.cfg, "envtest as the kind cluster", nil
}

func (b *envtestBootstrap) Delete(ctx context.Context) (string, error) {
	c, err := install.NewClient(b.cfg)
	if err != nil {
		return "", err
	}
	err = c.Get(ctx, client.ObjectKey{Namespace: "maas-system", Name: "gw"}, &infrav1.Gateway{})
	b.deleted = append(b.deleted, !apierrors.IsNotFound(err))
	return "envtest deleted (not really)", nil
}

func (b *envtestBootstrap) Describe() string { return "envtest" }

// world is a bootstrap cluster (envtest), a MAAS (the simulator) whose
// machines run the gateway's API servers and etcds (the controlplane
// emulator), and the pcg.yaml of an installation into it.
type world struct {
	vip  string
	boot *rest.Config
	sim  *maassim.Server
	emu  *controlplane.Emulator
	// pcg is the pcg.yaml; inst, the installation it describes.
	pcg  []byte
	inst *pcg.Installation
	// before is every machine as the world began.
	before []maassim.Machine

	mu sync.Mutex
	// allocations counts, per system ID, the times MAAS allocated it.
	allocations map[string]int
}

// newWorld starts a world on 127.22.octet.0/24 (its VIP) and the octets
// above it (its machines); everything stops when the test ends.
func newWorld(t *testing.T, octet int) *world { return newWorldWith(t, octet, nil) }

// newWorldWith is newWorld with the simulator's configuration tuned.
func newWorldWith(t *testing.T, octet int, tune func(*maassim.Config)) *world {
	t.Helper()
	w := &world{vip: fmt.Sprintf("%s%d.100", addressPrefix, octet), allocations: map[string]int{}}
	env, err := envtest.New(envtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.boot, err = env.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	c := maassim.DefaultConfig()
	c.Inventory = ownAddresses(t, c.Inventory, octet)
	c.Subnets = append(c.Subnets, maassim.SubnetSpec{CIDR: fmt.Sprintf("%s%d.0/24", addressPrefix, octet), Name: "install-test-vips"})
	if tune != nil {
		tune(&c)
	}
	if w.sim, err = maassim.Start(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.sim.Close)
	w.before = w.sim.Machines()
	t.Cleanup(w.sim.Subscribe(func(e maassim.Event) {
		if e.Type == maassim.EventAllocated {
			w.mu.Lock()
			w.allocations[e.Machine.SystemID]++
			w.mu.Unlock()
		}
	}))
	assets, err := envtest.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	w.emu, err = controlplane.New(controlplane.Options{BinDir: assets, Interval: time.Second, Log: zap.New(zap.WriteTo(io.Discard))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dir := w.emu.Dir()
		if err := w.emu.Close(); err != nil {
			t.Error(err)
		}
		if leaks, _ := controlplane.Leaks(dir); len(leaks) > 0 {
			t.Errorf("processes outlived the emulator: %v", leaks)
		}
	})
	w.emu.Attach(w.sim)

	w.pcg = installtest.PCG(namespace, w.vip, w.sim.URL, w.sim.DefaultAPIKey())
	if w.inst, err = loadInstallation(w.pcg); err != nil {
		t.Fatal(err)
	}
	return w
}

func loadInstallation(data []byte) (*pcg.Installation, error) {
	return pcg.Load(data, pcg.Options{AllowLoopbackEndpoints: true})
}

// checkInstalled checks the end state of an installation whose admin
// kubeconfig was written to kubeconfig: the gateway runs in the new
// cluster on 3 Ready nodes and 3 etcd members; MAAS allocated exactly its
// 3 machines, once each, marked as the installation's, and every other
// machine is as it was; nothing that could act is left in the bootstrap
// cluster.
func (w *world) checkInstalled(ctx context.Context, t *testing.T, kubeconfig string) {
	t.Helper()
	boot, err := install.NewClient(w.boot)
	if err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: namespace, Name: "gw"}
	if err := boot.Get(ctx, key, &infrav1.Gateway{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Gateway is still in the bootstrap cluster (%v)", err)
	}
	for _, l := range []client.ObjectList{&infrav1.CloudAccountList{}, &infrav1.TenantClusterList{}} {
		if err := boot.List(ctx, l, client.InNamespace(namespace)); err != nil {
			t.Fatal(err)
		}
		if n := len(mustItems(t, l)); n > 0 {
			t.Errorf("%d %T left in the bootstrap cluster", n, l)
		}
	}
	if fi, err := os.Stat(kubeconfig); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the kubeconfig written: %v, want mode 0600", err)
	}
	// The kubeconfig written is how the user reaches the new cluster.
	gwCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	target, err := install.NewClient(gwCfg)
	if err != nil {
		t.Fatal(err)
	}
	gw := &infrav1.Gateway{}
	if err := target.Get(ctx, key, gw); err != nil {
		t.Fatalf("the Gateway in the new cluster: %v", err)
	}
	if gw.Status.ReadyReplicas != 3 {
		t.Errorf("readyReplicas %d, want 3", gw.Status.ReadyReplicas)
	}
	members, err := w.emu.EtcdMembers(ctx, w.vip+":6443")
	if err != nil || len(members) != 3 {
		t.Errorf("etcd members %+v (%v), want 3", members, err)
	}
	w.checkMachines(t, gw)
}

// checkMachines checks MAAS against the Gateway: its nodes are the
// machines marked with its identity, deployed, allocated once each under
// one agent name; no other machine was allocated or changed.
func (w *world) checkMachines(t *testing.T, gw *infrav1.Gateway) {
	t.Helper()
	identity := infrav1.IdentityUID(gw)
	nodes := map[string]bool{}
	for _, n := range gw.Status.Nodes {
		nodes[n.SystemID] = true
	}
	if len(nodes) != 3 {
		t.Errorf("the Gateway's status names %d machines, want 3: %+v", len(nodes), gw.Status.Nodes)
	}
	before := map[string]maassim.Machine{}
	for _, m := range w.before {
		before[m.SystemID] = m
	}
	w.mu.Lock()
	allocations := maps.Clone(w.allocations)
	w.mu.Unlock()
	agents := map[string]bool{}
	for _, m := range w.sim.Machines() {
		if n := allocations[m.SystemID]; n > 1 {
			t.Errorf("machine %s was allocated %d times", m.SystemID, n)
		}
		if !nodes[m.SystemID] {
			// Not the gateway's: as it was, never allocated, never marked.
			was := before[m.SystemID]
			if allocations[m.SystemID] > 0 || m.Status != was.Status || m.AgentName != was.AgentName ||
				m.Owner != was.Owner || m.Annotations[maas.AnnotationOwnerKind] != "" {
				t.Errorf("machine %s, none of the gateway's, is orphaned: allocated %d time(s), %s (was %s), agent name %q, owner %q, marks %v",
					m.SystemID, allocations[m.SystemID], m.StatusName, was.StatusName, m.AgentName, m.Owner, m.Annotations)
			}
			continue
		}
		agents[m.AgentName] = true
		if m.Status != maassim.StatusDeployed || allocations[m.SystemID] != 1 || m.AgentName == "" ||
			m.Annotations[maas.AnnotationOwnerKind] != "Gateway" || m.Annotations[maas.AnnotationOwnerUID] != identity {
			t.Errorf("gateway machine %s: %s, allocated %d time(s), agent name %q, marks %v; want Deployed, allocated once, marked Gateway %s",
				m.SystemID, m.StatusName, allocations[m.SystemID], m.AgentName, m.Annotations, identity)
		}
	}
	if len(agents) != 1 {
		t.Errorf("the gateway's machines carry agent names %v, want one", slices.Collect(maps.Keys(agents)))
	}
}

// logMachines shows what MAAS holds, when a test failed.
func (w *world) logMachines(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.sim.Machines() {
		if m.Pool == "gateway" || m.AgentName != "" || w.allocations[m.SystemID] > 0 {
			t.Logf("machine %s (%s, %v): %s (%s), allocated %d time(s), agent name %q, marks %v", m.SystemID, m.Hostname, m.IPs,
				m.StatusName, m.StatusMessage, w.allocations[m.SystemID], m.AgentName, m.Annotations)
		}
	}
}

func TestInstallInTheTestWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real API servers and etcds")
	}
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	w := newWorld(t, 0)
	ops := inProcess(ctx, t)
	kubeconfig := filepath.Join(t.TempDir(), "gateway.kubeconfig")
	bootstrapper := &envtestBootstrap{cfg: w.boot}
	opts := installOptions(w.inst, nil, kubeconfig, ops)
	opts.Bootstrapper = bootstrapper
	var out bytes.Buffer
	opts.Out = &out
	// The installer is stopped twice, after the Gateway is created and
	// after the first node is Ready; each re-run goes on from there.
	// (TestInstallKilledAtEachStep kills it and the operator for real.)
	start := time.Now()
	for _, killAfter := range []string{install.StepGateway, install.StepFirstNode} {
		out.Reset()
		opts.AfterStep = func(step string) error {
			if step == killAfter {
				return errors.New("killed")
			}
			return nil
		}
		if _, err := install.Run(ctx, opts); err == nil || !strings.Contains(err.Error(), killAfter+": killed") {
			t.Fatalf("install killed after %q: %v\n%s", killAfter, err, &out)
		}
		t.Logf("killed after %q:\n%s", killAfter, &out)
		if len(bootstrapper.deleted) > 0 {
			t.Errorf("the bootstrap cluster was deleted by a run killed after %q", killAfter)
		}
	}
	opts.AfterStep = nil
	out.Reset()
	results, err := install.Run(ctx, opts)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, &out)
	}
	t.Logf("installed in %s:\n%s", time.Since(start).Round(time.Second), &out)
	for _, r := range results[:6] { // up to the first node Ready: done before the kill
		if r.Step != install.StepBootstrap && r.Outcome != install.OutcomeSkipped {
			t.Errorf("step %q was %s again after the kill", r.Step, r.Outcome)
		}
	}
	// The bootstrap cluster is deleted once, last, after the Gateway left it.
	if last := results[len(results)-1]; last.Step != install.StepCleanup || last.Outcome != install.OutcomeDone ||
		last.Message != "envtest deleted (not really)" {
		t.Errorf("last step %+v, want the bootstrap cluster's deletion", last)
	}
	if !slices.Equal(bootstrapper.deleted, []bool{false}) {
		t.Errorf("deletions (true: the Gateway was still there) %v, want one after the move", bootstrapper.deleted)
	}
	if bootstrapper.ensured != 3 {
		t.Errorf("the bootstrap cluster was ensured %d times, want once per run (3)", bootstrapper.ensured)
	}
	w.checkInstalled(ctx, t, kubeconfig)
	// With --keep-bootstrap a run again keeps the cluster.
	opts.KeepBootstrap = true
	if again := runAgain(ctx, t, opts); len(bootstrapper.deleted) != 1 || !strings.Contains(again, "bootstrap cluster cleanup: done") ||
		!strings.Contains(again, "kept (--keep-bootstrap): envtest") {
		t.Errorf("--keep-bootstrap: %d deletions\n%s", len(bootstrapper.deleted), again)
	}
}

// runAgain runs an installation that completed once more: every step
// finds its result, nothing is made twice. It returns the run's output.
func runAgain(ctx context.Context, t *testing.T, opts install.Options) string {
	t.Helper()
	var out bytes.Buffer
	opts.Out, opts.AfterStep = &out, nil
	results, err := install.Run(ctx, opts)
	if err != nil {
		t.Fatalf("second install: %v\n%s", err, &out)
	}
	for _, r := range results {
		if r.Outcome == install.OutcomeDone && r.Step != install.StepBootstrap && r.Step != install.StepAllNodes &&
			r.Step != install.StepCleanup {
			t.Errorf("the second run did %q again: %s", r.Step, r.Message)
		}
	}
	if !strings.Contains(out.String(), "already done") {
		t.Errorf("second run:\n%s", &out)
	}
	t.Logf("run again:\n%s", &out)
	return out.String()
}

func mustItems(t *testing.T, l client.ObjectList) []runtime.Object {
	t.Helper()
	items, err := meta.ExtractList(l)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// ownAddresses moves the default inventory's machines (10.20.Y.Z) to
// 127.22.octet+Y.Z (see newWorld).
func ownAddresses(t *testing.T, specs []maassim.MachineSpec, octet int) []maassim.MachineSpec {
	t.Helper()
	out, err := installtest.MoveMachines(specs, addressPrefix, octet)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
