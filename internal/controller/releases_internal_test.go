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

package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// startInventory runs an inventory of one account on srv until the test ends.
func startInventory(t *testing.T, srv *maassim.Server, key, agent string, interval time.Duration) *maas.Inventory {
	t.Helper()
	apiKey, err := maas.ParseAPIKey(srv.DefaultAPIKey())
	if err != nil {
		t.Fatal(err)
	}
	c, err := maas.NewClient(maas.Config{Endpoint: srv.URL, APIKey: apiKey},
		maas.Options{RateLimit: 1000, RateBurst: 1000, BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	inv := maas.NewInventory(maas.InventoryOptions{Interval: interval})
	if err := inv.Register(key, c, agent); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("inventory stopped with %v", err)
		}
	})
	return inv
}

// await polls cond, as Gomega's Eventually does, for up to 30 s.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAFailedReleaseOfALiveClusterIsRetried: a machine a live cluster
// released (a rolling update, a scale-down) whose release MAAS fails is
// released again, by an operator restarted since the release (its
// inventory follows nothing), from what status remembers.
func TestAFailedReleaseOfALiveClusterIsRetried(t *testing.T) {
	const agent, key = "inst-1", "ns/account"
	cfg := maassim.DefaultConfig()
	cfg.Inventory = maassim.GenerateInventory(4, 1)
	cfg.DeployTime, cfg.DeployJitter = 20*time.Millisecond, 0
	cfg.ReleaseTime, cfg.ReleaseJitter = 20*time.Millisecond, 0
	srv, err := maassim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ctx := context.Background()
	tc := &infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "tc", UID: "uid-1"}}
	owner := maas.Owner{Kind: tenantKind, Namespace: "ns", Name: "tc", UID: "uid-1", Pool: "workers", Slot: "0"}

	// The first operator deploys a machine and, rolling the pool, releases it.
	first := startInventory(t, srv, key, agent, time.Hour)
	await(t, "the first poll", func() bool { s, ok := first.Snapshot(key); return ok && !s.PolledAt.IsZero() })
	m, err := first.Allocate(ctx, key, owner, maas.Constraints{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Deploy(ctx, key, m.SystemID, maas.DeployParams{DistroSeries: "jammy"}); err != nil {
		t.Fatal(err)
	}
	await(t, "Deployed", func() bool { sm, _ := srv.Machine(m.SystemID); return sm.Status == maassim.StatusDeployed })
	srv.SetFaults(maassim.Faults{StuckRelease: []string{m.SystemID}, StuckReleaseFails: true})
	if _, err := first.Release(ctx, key, m.SystemID, maas.ReleaseParams{}); err != nil {
		t.Fatal(err)
	}
	was := []infrav1.MachineStatus{{SystemID: m.SystemID, State: "Releasing", Pool: "workers"}}

	// As MAAS does: the release fails, the machine keeps its owner marks
	// but not the agent name, so the installation's list no longer has it.
	await(t, "Releasing failed", func() bool { sm, _ := srv.Machine(m.SystemID); return sm.Status == maassim.StatusFailedReleasing })
	if sm, _ := srv.Machine(m.SystemID); sm.AgentName != "" || sm.Annotations[maas.AnnotationOwnerUID] != owner.UID {
		t.Fatalf("in MAAS after the failed release: agent %q, annotations %v", sm.AgentName, sm.Annotations)
	}

	// A restarted operator: its inventory follows nothing.
	recorder := events.NewFakeRecorder(10)
	second := startInventory(t, srv, key, agent, 20*time.Millisecond)
	r := &TenantClusterReconciler{Inventory: second, Recorder: recorder}
	releases := func() int {
		return srv.Counts()[maassim.RequestKey{Method: "POST", Endpoint: "machines/{id}/", Op: "release"}]
	}
	if n := releases(); n != 1 {
		t.Fatalf("%d release requests before the retry, want 1", n)
	}
	await(t, "the machine back in MAAS's free pool", func() bool {
		snap, ok := second.Snapshot(key)
		if !ok || snap.PolledAt.IsZero() {
			return false
		}
		if s := snap.Machines(); len(s) != 0 {
			t.Fatalf("the installation's list shows %d machines, want none", len(s))
		}
		out, err := r.pendingReleases(ctx, tc, key, snap, was, nil, nil)
		if err != nil {
			t.Logf("reconcile: %v", err)
		}
		if releases() > 1 {
			srv.SetFaults(maassim.Faults{}) // the retry goes through
		}
		was = out
		return len(out) == 0
	})
	if n := releases(); n < 2 {
		t.Fatalf("%d release requests, want the failed one released again", n)
	}
	if sm, _ := srv.Machine(m.SystemID); sm.Status != maassim.StatusReady || len(sm.Annotations) != 0 {
		t.Fatalf("machine after the retry: %s, annotations %v", sm.StatusName, sm.Annotations)
	}
	select {
	case e := <-recorder.Events:
		if !strings.Contains(e, "MachineReleaseRetried") {
			t.Fatalf("event %q, want MachineReleaseRetried", e)
		}
	default:
		t.Fatal("no event says the release was retried")
	}
}
