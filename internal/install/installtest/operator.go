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

// Package installtest runs maas-gateway install's operator where the chart
// would run its Pod, in-process, for the test world and the demo: envtest
// as the bootstrap cluster, the MAAS simulator, and the controlplane
// emulator's API servers and etcds as the new cluster.
package installtest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	ctrlenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/maas-gateway/maas-gateway/internal/catalog"
	"github.com/maas-gateway/maas-gateway/internal/install"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/internal/operator"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// CatalogName is the release catalog's ConfigMap, in the Gateway's
// namespace, as the chart publishes it.
const CatalogName = "gateway-releases"

// Releases is the catalog of these worlds: release 1.0.0, the Kubernetes
// the emulator's binaries run.
const Releases = `releases:
- version: 1.0.0
  osImage: ubuntu/jammy
  kubernetesVersion: v1.34.2
`

// InProcess is an OperatorInstaller that starts a manager per cluster in
// this process, once, as the chart would run its Pod there.
type InProcess struct {
	// Ctx bounds the managers' lives.
	Ctx context.Context
	// OnError receives a manager's error when it stops on one.
	OnError func(error)

	mu      sync.Mutex
	running map[string]install.Mode // rest.Config host → mode
	stops   []func()
}

func (p *InProcess) Installed(_ context.Context, cfg *rest.Config, _ string, mode install.Mode) (bool, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.running[cfg.Host]
	return ok && m == mode, "running in-process", nil
}

func (p *InProcess) Install(ctx context.Context, cfg *rest.Config, namespace string, mode install.Mode) (string, error) {
	if err := PrepareCluster(ctx, cfg, namespace, mode); err != nil {
		return "", err
	}
	mctx, cancel := context.WithCancel(p.Ctx)
	mgr, err := NewOperator(mctx, cfg, namespace, mode)
	if err != nil {
		cancel()
		return "", err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(mctx); err != nil && p.OnError != nil {
			p.OnError(fmt.Errorf("operator (%s): %w", mode, err))
		}
	}()
	p.mu.Lock()
	if p.running == nil {
		p.running = map[string]install.Mode{}
	}
	p.running[cfg.Host] = mode
	p.stops = append(p.stops, func() { cancel(); <-done })
	p.mu.Unlock()
	return "started in-process (" + string(mode) + ")", nil
}

// Stop stops every manager started, the last first.
func (p *InProcess) Stop() {
	p.mu.Lock()
	stops := p.stops
	p.stops = nil
	p.mu.Unlock()
	for _, stop := range slices.Backward(stops) {
		stop()
	}
}

// PrepareCluster does what the chart does before the manager runs: the
// CRDs (inside; an envtest bootstrap cluster has them already), the
// namespace and the release catalog.
func PrepareCluster(ctx context.Context, cfg *rest.Config, namespace string, mode install.Mode) error {
	c, err := install.NewClient(cfg)
	if err != nil {
		return err
	}
	if mode == install.ModeInside {
		// What Helm does with the chart's crds/.
		if _, err := ctrlenvtest.InstallCRDs(cfg, ctrlenvtest.CRDInstallOptions{
			Paths: []string{filepath.Join(envtest.RepoRoot(), "config", "crd", "bases")}, MaxTime: time.Minute,
		}); err != nil {
			return fmt.Errorf("CRDs: %w", err)
		}
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: CatalogName},
		Data: map[string]string{catalog.DataKey: Releases}}
	if err := c.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// NewOperator is the manager the chart would run in mode, set up with
// ctx, not started; its intervals are short, for a simulated MAAS.
func NewOperator(ctx context.Context, cfg *rest.Config, namespace string, mode install.Mode) (ctrl.Manager, error) {
	o := operator.Options{
		MAAS:                     maas.Options{MaxAttempts: 2, BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, RateLimit: 1000, RateBurst: 1000},
		PollInterval:             200 * time.Millisecond,
		RevalidateInterval:       2 * time.Second,
		RetryInterval:            200 * time.Millisecond,
		CredentialsCheckInterval: 200 * time.Millisecond,
		CapacityBackoff:          200 * time.Millisecond,
		CapacityBackoffMax:       2 * time.Second,
		RequeueInterval:          time.Second,
		ReleaseCatalog:           types.NamespacedName{Namespace: namespace, Name: CatalogName},
		OutsideGateway:           mode == install.ModeOutside,
	}
	scheme, err := install.Scheme()
	if err != nil {
		return nil, err
	}
	skip := true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Cache: o.CacheOptions(), Client: operator.ClientOptions(), Scheme: scheme,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: &skip}})
	if err != nil {
		return nil, err
	}
	if _, err := operator.Setup(ctx, mgr, o); err != nil {
		return nil, err
	}
	return mgr, nil
}

// NetworkPluginManifests is the network plugin of these worlds (the
// DaemonSet the emulated kubelets turn Ready for, see
// controlplane.NetworkPlugin) as the YAML a user gives install.
func NetworkPluginManifests() (string, error) {
	ds := controlplane.NetworkPlugin()
	ds.APIVersion, ds.Kind = "apps/v1", "DaemonSet"
	data, err := yaml.Marshal(ds)
	return string(data), err
}

// MoveMachines moves the simulator's default inventory (machines on
// 10.20.Y.Z) to prefix+(octet+Y).Z, e.g. "127.22." and 64: addresses of a
// world's own, on loopback, where its emulated API servers listen beside
// other worlds'.
func MoveMachines(specs []maassim.MachineSpec, prefix string, octet int) ([]maassim.MachineSpec, error) {
	out := slices.Clone(specs)
	for i := range out {
		var ips []string
		for _, ip := range out[i].IPs {
			var y, z int
			if _, err := fmt.Sscanf(ip, "10.20.%d.%d", &y, &z); err != nil {
				return nil, fmt.Errorf("the inventory has %s, not of 10.20.0.0/16", ip)
			}
			ips = append(ips, fmt.Sprintf("%s%d.%d", prefix, octet+y, z))
		}
		out[i].IPs = ips
	}
	return out, nil
}

// PCG is the pcg.yaml of these worlds: a 3-node gateway named gw in
// namespace, at vip, on the MAAS at endpoint with apiKey, in the
// simulator's gateway pool, running the catalog's release 1.0.0.
func PCG(namespace, vip, endpoint, apiKey string) []byte {
	return fmt.Appendf(nil, `apiVersion: install.maasgateway.io/v1alpha1
kind: GatewayInstallation
name: gw
namespace: %s
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
`, namespace, vip, endpoint, apiKey)
}
