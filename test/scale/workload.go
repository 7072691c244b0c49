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
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/test/harness"
)

const (
	namespace   = "scale"
	gatewayName = "gw"
	accountName = "gw-default"
	secretName  = "maas"
	k8sVersion  = "v1.34.2"
	// rolledVersion is what a chaos roll changes the clusters to.
	rolledVersion = "v1.34.3"
)

// startEnv starts the harness with an inventory large enough for the
// workload (plus a fifth spare for failed deployments and rolls), and a
// Gateway whose default CloudAccount the clusters use. The Gateway has no
// control-plane endpoint, so it takes no machine of its own.
func startEnv(ctx context.Context, c config, extra []string) (*harness.Env, error) {
	return startEnvWith(ctx, c, c.clusters*c.machines, extra, nil)
}

// startEnvWith is startEnv for need machines, with mutate (when not nil)
// adjusting the harness's options: real control planes, for one.
func startEnvWith(ctx context.Context, c config, need int, extra []string,
	mutate func(*harness.Options)) (*harness.Env, error) {
	sim := maassim.DefaultConfig()
	sim.Inventory = maassim.GenerateInventory(need+need/5+10, c.seed)
	sim.DeployTime, sim.DeployJitter = c.deployTime, 0
	sim.ReleaseTime, sim.ReleaseJitter = c.releaseTime, 0
	sim.Seed = c.seed
	// The clusters' VIPs are reserved in MAAS: it must know their subnets.
	// 10.100.x.y for the workload and -mode=tenants, 10.101.x.y for
	// chaos's control-plane phase; with real control planes the harness
	// moves them onto loopback (Env.TenantVIP). x.y.0.1 is each subnet's
	// gateway in MAAS, so the VIPs start at .2.
	for i, cidr := range []string{"10.100.0.0/16", "10.101.0.0/16", "127.100.0.0/16", "127.101.0.0/16"} {
		sim.Subnets = append(sim.Subnets, maassim.SubnetSpec{CIDR: cidr, Name: fmt.Sprintf("scale-vips-%d", i)})
	}
	if c.rateLimit > 0 {
		extra = append(extra, fmt.Sprintf("--maas-rate-limit=%g", c.rateLimit),
			fmt.Sprintf("--maas-rate-burst=%d", int(2*c.rateLimit)))
	}
	var out io.Writer
	if c.verbose {
		out = os.Stderr
	}
	opts := harness.Options{
		Sim: &sim, NoJoin: true, ManagerBinary: c.managerBin,
		PollInterval: c.poll, RetryInterval: time.Second,
		// Longer than any quiet period the chaos run watches: revalidation
		// rewrites the CloudAccount's status by design.
		RevalidateInterval: time.Hour,
		ManagerArgs:        extra, Log: out, ManagerOutput: out, KeepDir: c.keepDir,
		StartTimeout: 5 * time.Minute,
	}
	if mutate != nil {
		mutate(&opts)
	}
	t0 := time.Now()
	env, err := harness.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	progress("harness up in %v: %d simulated machines, manager pid %d, dir %s", time.Since(t0).Round(time.Millisecond),
		len(sim.Inventory), env.Manager.PID(), env.Dir)
	if err := setupGateway(ctx, env); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return env, nil
}

func setupGateway(ctx context.Context, env *harness.Env) error {
	k := env.Client
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := k.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: secretName},
		StringData: map[string]string{infrav1.DefaultAPIKeyKey: env.APIKey},
	}
	if err := k.Create(ctx, secret); err != nil {
		return err
	}
	gw := &infrav1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: gatewayName},
		Spec: infrav1.GatewaySpec{
			MAAS: infrav1.MAASConnection{
				Endpoint: env.SimURL, CredentialsSecretRef: infrav1.SecretKeyReference{Name: secretName},
			},
		},
	}
	gw.Spec.Environment.ClusterNetwork = infrav1.ClusterNetwork{PodCIDR: "172.20.0.0/16", ServiceCIDR: "172.21.0.0/16"}
	if err := retry(ctx, func() error { return k.Create(ctx, gw) }); err != nil {
		return fmt.Errorf("creating the Gateway: %w", err)
	}
	return waitFor(ctx, 2*time.Minute, "the default CloudAccount to be Ready", func() (bool, error) {
		ca := &infrav1.CloudAccount{}
		if err := k.Get(ctx, client.ObjectKey{Namespace: namespace, Name: accountName}, ca); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return meta.IsStatusConditionTrue(ca.Status.Conditions, infrav1.ConditionReady), nil
	})
}

func clusterName(i int) string { return fmt.Sprintf("tc-%04d", i) }

// newCluster is cluster i: one control-plane machine and machines-1
// workers, on a VIP of its own.
func newCluster(i, machines int) *infrav1.TenantCluster {
	tc := &infrav1.TenantCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: clusterName(i)},
		Spec: infrav1.TenantClusterSpec{
			CloudAccountRef:      infrav1.LocalObjectReference{Name: accountName},
			Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: k8sVersion},
			ControlPlaneEndpoint: fmt.Sprintf("10.100.%d.%d", i/250, i%250+2),
			ControlPlane:         infrav1.ControlPlanePool{Size: 1},
		},
	}
	if machines > 1 {
		tc.Spec.Workers = []infrav1.NodePool{{Name: "workers", Size: int32(machines - 1)}}
	}
	return tc
}

// retry repeats a write while the API server or the webhook (down while
// the manager restarts) refuses it for a passing reason.
func retry(ctx context.Context, fn func() error) error {
	delay := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || apierrors.IsAlreadyExists(err) || apierrors.IsInvalid(err) || apierrors.IsForbidden(err) ||
			apierrors.IsNotFound(err) || attempt >= 60 {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// parallel runs fn(i) for i in [0,n) on conc workers and returns the first error.
func parallel(ctx context.Context, n, conc int, fn func(i int) error) error {
	work := make(chan int)
	var first error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range max(1, conc) {
		wg.Go(func() {
			for i := range work {
				if err := fn(i); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		select {
		case work <- i:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	return cmpErr(first, ctx.Err())
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// waitFor polls cond every 250 ms until it holds, fails, or limit passes.
func waitFor(ctx context.Context, limit time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// listClusters lists the workload's TenantClusters.
func listClusters(ctx context.Context, k client.Reader) ([]infrav1.TenantCluster, error) {
	var l infrav1.TenantClusterList
	if err := k.List(ctx, &l, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	return l.Items, nil
}

// converged reports whether every listed cluster is Running with every
// machine it wants deployed on the current generation.
func converged(tcs []infrav1.TenantCluster) (running int) {
	for i := range tcs {
		tc := &tcs[i]
		if tc.DeletionTimestamp == nil && tc.Status.Phase == infrav1.TenantPhaseRunning &&
			tc.Status.ObservedGeneration == tc.Generation && tc.Status.ReadyMachines == tc.Status.DesiredMachines &&
			tc.Status.DesiredMachines == wanted(tc) {
			running++
		}
	}
	return running
}

// wanted is how many machines a cluster's spec asks for.
func wanted(tc *infrav1.TenantCluster) int32 {
	n := max(tc.Spec.ControlPlane.Size, 1)
	for _, w := range tc.Spec.Workers {
		n += w.Size
	}
	return n
}

// simCounts counts the simulator's machines by status name.
func simCounts(env *harness.Env) map[string]int {
	byStatus := map[string]int{}
	for _, m := range env.Sim.Machines() {
		byStatus[m.StatusName]++
	}
	return byStatus
}

// allFree reports whether every simulated machine is Ready and unowned.
func allFree(env *harness.Env) (free, total int) {
	ms := env.Sim.Machines()
	for _, m := range ms {
		if m.StatusName == "Ready" && m.Owner == "" && m.AgentName == "" {
			free++
		}
	}
	return free, len(ms)
}
