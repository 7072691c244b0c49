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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	ctrlenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/catalog"
	"github.com/maas-gateway/maas-gateway/internal/install"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/internal/operator"
	"github.com/maas-gateway/maas-gateway/internal/pcg"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

const (
	// The world's machines and VIP are on 127.22.0.0/16, which no other
	// package's world uses: go test runs packages at once, and two
	// emulated API servers cannot both listen on one address (the
	// controller suites use 127.11 and 127.20, internal/workload 127.21).
	vip      = "127.22.0.100"
	catalogs = `releases:
- version: 1.0.0
  osImage: ubuntu/jammy
  kubernetesVersion: v1.34.2
`
)

// inProcess is the OperatorInstaller of the test world: a manager per
// cluster, started once, with the release catalog the chart would publish.
type inProcess struct {
	t       *testing.T
	ctx     context.Context
	mu      sync.Mutex
	running map[string]install.Mode // rest.Config host → mode
	stops   []func()
}

func (p *inProcess) Installed(_ context.Context, cfg *rest.Config, _ string, mode install.Mode) (bool, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.running[cfg.Host]
	return ok && m == mode, "running in-process", nil
}

func (p *inProcess) Install(ctx context.Context, cfg *rest.Config, namespace string, mode install.Mode) (string, error) {
	c, err := install.NewClient(cfg)
	if err != nil {
		return "", err
	}
	if mode == install.ModeInside {
		// What Helm does with the chart's crds/.
		if _, err := ctrlenvtest.InstallCRDs(cfg, ctrlenvtest.CRDInstallOptions{
			Paths: []string{filepath.Join(envtest.RepoRoot(), "config", "crd", "bases")}, MaxTime: time.Minute,
		}); err != nil {
			return "", fmt.Errorf("CRDs: %w", err)
		}
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "gateway-releases"},
		Data: map[string]string{catalog.DataKey: catalogs}}
	if err := c.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	o := operator.Options{
		MAAS:                     maas.Options{MaxAttempts: 2, BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, RateLimit: 1000, RateBurst: 1000},
		PollInterval:             200 * time.Millisecond,
		RevalidateInterval:       2 * time.Second,
		RetryInterval:            200 * time.Millisecond,
		CredentialsCheckInterval: 200 * time.Millisecond,
		CapacityBackoff:          200 * time.Millisecond,
		CapacityBackoffMax:       2 * time.Second,
		RequeueInterval:          time.Second,
		ReleaseCatalog:           types.NamespacedName{Namespace: namespace, Name: "gateway-releases"},
		OutsideGateway:           mode == install.ModeOutside,
	}
	scheme, err := install.Scheme()
	if err != nil {
		return "", err
	}
	skip := true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Cache: o.CacheOptions(), Client: operator.ClientOptions(), Scheme: scheme,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: &skip}})
	if err != nil {
		return "", err
	}
	mctx, cancel := context.WithCancel(p.ctx)
	if _, err := operator.Setup(mctx, mgr, o); err != nil {
		cancel()
		return "", err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(mctx); err != nil {
			p.t.Errorf("operator (%s): %v", mode, err)
		}
	}()
	p.mu.Lock()
	p.running[cfg.Host] = mode
	p.stops = append(p.stops, func() { cancel(); <-done })
	p.mu.Unlock()
	return "started in-process (" + string(mode) + ")", nil
}

func (p *inProcess) stop() {
	for _, stop := range slices.Backward(p.stops) {
		stop()
	}
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

func TestInstallInTheTestWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real API servers and etcds")
	}
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	env, err := envtest.New(envtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bootCfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()

	c := maassim.DefaultConfig()
	c.Inventory = ownAddresses(t, c.Inventory)
	c.Subnets = append(c.Subnets, maassim.SubnetSpec{CIDR: "127.22.0.0/24", Name: "install-test-vips"})
	sim, err := maassim.Start(c)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	assets, err := envtest.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	emu, err := controlplane.New(controlplane.Options{BinDir: assets, Interval: time.Second, Log: zap.New(zap.WriteTo(io.Discard))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		dir := emu.Dir()
		if err := emu.Close(); err != nil {
			t.Error(err)
		}
		if leaks, _ := controlplane.Leaks(dir); len(leaks) > 0 {
			t.Errorf("processes outlived the emulator: %v", leaks)
		}
	}()
	emu.Attach(sim)

	inst, err := pcg.Load([]byte(fmt.Sprintf(`apiVersion: install.maasgateway.io/v1alpha1
kind: GatewayInstallation
name: gw
namespace: maas-system
replicas: 3
controlPlaneEndpoint: %s
maas:
  endpoint: %s
  apiKey: %s
placement:
  resourcePool: gateway
environment:
  podCIDR: 172.20.0.0/16
  serviceCIDR: 172.21.0.0/16
release:
  version: 1.0.0
`, vip, sim.URL, sim.DefaultAPIKey())), pcg.Options{AllowLoopbackEndpoints: true})
	if err != nil {
		t.Fatal(err)
	}
	ops := &inProcess{t: t, ctx: ctx, running: map[string]install.Mode{}}
	defer ops.stop()
	kubeconfig := filepath.Join(t.TempDir(), "gateway.kubeconfig")
	bootstrapper := &envtestBootstrap{cfg: bootCfg}
	opts := install.Options{Installation: inst, Bootstrapper: bootstrapper, KubeconfigOut: kubeconfig, Operator: ops,
		NetworkPlugin: cni{}, Timeout: 4 * time.Minute, PollInterval: time.Second}
	var out bytes.Buffer
	opts.Out = &out
	// The installer is killed twice, after the Gateway is created and
	// after the first node is Ready; each re-run goes on from there.
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

	boot, err := install.NewClient(bootCfg)
	if err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: "maas-system", Name: "gw"}
	if err := boot.Get(ctx, key, &infrav1.Gateway{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Gateway is still in the bootstrap cluster (%v)", err)
	}
	for _, l := range []client.ObjectList{&infrav1.CloudAccountList{}, &infrav1.TenantClusterList{}} {
		if err := boot.List(ctx, l, client.InNamespace("maas-system")); err != nil {
			t.Fatal(err)
		}
		if n := len(mustItems(t, l)); n > 0 {
			t.Errorf("%d %T left in the bootstrap cluster", n, l)
		}
	}
	if fi, err := os.Stat(kubeconfig); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the kubeconfig written: %v, mode %v, want 0600", err, fi.Mode().Perm())
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
	members, err := emu.EtcdMembers(ctx, vip+":6443")
	if err != nil || len(members) != 3 {
		t.Errorf("etcd members %+v (%v), want 3", members, err)
	}
	identity := infrav1.IdentityUID(gw)
	owned := 0
	for _, m := range sim.Machines() {
		if m.Annotations[maas.AnnotationOwnerKind] != "Gateway" {
			continue
		}
		owned++
		if m.Annotations[maas.AnnotationOwnerUID] != identity {
			t.Errorf("machine %s is marked with owner %s, not the installation's %s", m.SystemID,
				m.Annotations[maas.AnnotationOwnerUID], identity)
		}
	}
	if owned != 3 {
		t.Errorf("%d machines owned by the Gateway, want 3", owned)
	}

	// Run again: every step finds its result, nothing is made twice;
	// with --keep-bootstrap the cluster is kept.
	out.Reset()
	opts.KeepBootstrap = true
	results, err = install.Run(ctx, opts)
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
	if len(bootstrapper.deleted) != 1 || !strings.Contains(out.String(), "bootstrap cluster cleanup: done") ||
		!strings.Contains(out.String(), "kept (--keep-bootstrap): envtest") {
		t.Errorf("--keep-bootstrap: %d deletions\n%s", len(bootstrapper.deleted), &out)
	}
	t.Logf("run again:\n%s", &out)
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
// 127.22.Y.Z (see vip).
func ownAddresses(t *testing.T, specs []maassim.MachineSpec) []maassim.MachineSpec {
	t.Helper()
	out := slices.Clone(specs)
	for i := range out {
		var ips []string
		for _, ip := range out[i].IPs {
			host, ok := strings.CutPrefix(ip, "10.20.")
			if !ok {
				t.Fatalf("the default inventory has %s, not of 10.20.0.0/16", ip)
			}
			ips = append(ips, "127.22."+host)
		}
		out[i].IPs = ips
	}
	return out
}
