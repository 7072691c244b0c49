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
	clocktesting "k8s.io/utils/clock/testing"

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

// releaseFailing is a machine of tc's owner that first deploys and then
// releases, as a rolling update does, and whose release MAAS fails: it
// keeps its owner marks but not the agent name, so the installation's list
// no longer has it.
func releaseFailing(t *testing.T, owner maas.Owner) (*maassim.Server, *maas.Inventory, maas.Machine) {
	t.Helper()
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
	inv := startInventory(t, srv, releaseKey, releaseAgent, 20*time.Millisecond)
	await(t, "the first poll", func() bool { s, ok := inv.Snapshot(releaseKey); return ok && !s.PolledAt.IsZero() })
	m, err := inv.Allocate(ctx, releaseKey, owner, maas.Constraints{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inv.Deploy(ctx, releaseKey, m.SystemID, maas.DeployParams{DistroSeries: "jammy"}); err != nil {
		t.Fatal(err)
	}
	await(t, "Deployed", func() bool { sm, _ := srv.Machine(m.SystemID); return sm.Status == maassim.StatusDeployed })
	srv.SetFaults(maassim.Faults{StuckRelease: []string{m.SystemID}, StuckReleaseFails: true})
	if _, err := inv.Release(ctx, releaseKey, m.SystemID, maas.ReleaseParams{}); err != nil {
		t.Fatal(err)
	}
	await(t, "Releasing failed", func() bool { sm, _ := srv.Machine(m.SystemID); return sm.Status == maassim.StatusFailedReleasing })
	if sm, _ := srv.Machine(m.SystemID); sm.AgentName != "" || sm.Annotations[maas.AnnotationOwnerUID] != owner.UID {
		t.Fatalf("in MAAS after the failed release: agent %q, annotations %v", sm.AgentName, sm.Annotations)
	}
	return srv, inv, m
}

const releaseAgent, releaseKey = "inst-1", "ns/account"

// releaseRequests counts the release requests srv received.
func releaseRequests(srv *maassim.Server) int {
	return srv.Counts()[maassim.RequestKey{Method: "POST", Endpoint: "machines/{id}/", Op: "release"}]
}

// untilReleased reconciles, as pendingReleases does, from was until MAAS
// has every machine back, letting the retry through once it is asked, and
// checks the retry and its event.
func untilReleased(t *testing.T, srv *maassim.Server, inv *maas.Inventory, m maas.Machine, was []infrav1.MachineStatus) {
	t.Helper()
	ctx := context.Background()
	tc := &infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "tc", UID: "uid-1"}}
	recorder := events.NewFakeRecorder(10)
	r := &TenantClusterReconciler{Inventory: inv, Recorder: recorder}
	// The first release asked again fails too (the fault is lifted once it
	// is asked): the next comes a millisecond later.
	r.releaseRetries.base, r.releaseRetries.max = time.Millisecond, time.Millisecond
	if n := releaseRequests(srv); n != 1 {
		t.Fatalf("%d release requests before the retry, want 1", n)
	}
	await(t, "the machine back in MAAS's free pool", func() bool {
		snap, ok := inv.Snapshot(releaseKey)
		if !ok || snap.PolledAt.IsZero() {
			return false
		}
		if s := snap.Machines(); len(s) != 0 {
			t.Fatalf("the installation's list shows %d machines, want none", len(s))
		}
		out, err := r.pendingReleases(ctx, tc, releaseKey, snap, was, nil, nil)
		if err != nil {
			t.Logf("reconcile: %v", err)
		}
		if releaseRequests(srv) > 1 {
			srv.SetFaults(maassim.Faults{}) // the retry goes through
		}
		was = out
		return len(out) == 0
	})
	if n := releaseRequests(srv); n < 2 {
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

var releaseOwner = maas.Owner{Kind: tenantKind, Namespace: "ns", Name: "tc", UID: "uid-1", Pool: "workers", Slot: "0"}

// TestAFailedReleaseOfALiveClusterIsRetried: a machine a live cluster
// released (a rolling update, a scale-down) whose release MAAS fails is
// released again, by an operator restarted since the release (its
// inventory follows nothing), from what status remembers.
func TestAFailedReleaseOfALiveClusterIsRetried(t *testing.T) {
	srv, _, m := releaseFailing(t, releaseOwner)
	// A restarted operator: its inventory follows nothing.
	second := startInventory(t, srv, releaseKey, releaseAgent, 20*time.Millisecond)
	untilReleased(t, srv, second, m, []infrav1.MachineStatus{{SystemID: m.SystemID, State: "Releasing", Pool: "workers"}})
}

// TestAFailedReleaseStatusNeverRecordedIsRetried: the same release, but
// the status write that was to record it was lost (refused on a conflict):
// the process that released the machine still follows it for its owner,
// and releases it again.
func TestAFailedReleaseStatusNeverRecordedIsRetried(t *testing.T) {
	srv, inv, m := releaseFailing(t, releaseOwner)
	untilReleased(t, srv, inv, m, nil)
}

func TestReleaseRetriesDoubleUpToTheLongestWait(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	b := &releaseRetries{base: time.Minute, max: 5 * time.Minute}
	for i, step := range []struct {
		at   time.Duration // since t0
		ask  bool          // ask when due
		due  bool
		next time.Duration // since t0, once asked (or while not due)
	}{
		{at: 0, ask: true, due: true, next: time.Minute},
		{at: 59 * time.Second, due: false, next: time.Minute},
		{at: time.Minute, ask: true, due: true, next: 3 * time.Minute},
		{at: 2 * time.Minute, due: false, next: 3 * time.Minute},
		{at: 3 * time.Minute, ask: true, due: true, next: 7 * time.Minute},
		{at: 7 * time.Minute, ask: true, due: true, next: 12 * time.Minute}, // 8 min capped at 5
		{at: 12 * time.Minute, ask: true, due: true, next: 17 * time.Minute},
	} {
		now := t0.Add(step.at)
		due, next := b.due("m1", now)
		if due != step.due {
			t.Fatalf("step %d: due %v, want %v", i, due, step.due)
		}
		if !due && !next.Equal(t0.Add(step.next)) {
			t.Fatalf("step %d: not due until %s, want %s", i, next.Sub(t0), step.next)
		}
		if step.ask {
			if _, next := b.asked("m1", now); !next.Equal(t0.Add(step.next)) {
				t.Fatalf("step %d: next at %s, want %s", i, next.Sub(t0), step.next)
			}
		}
	}
	if due, _ := b.due("m2", t0.Add(12*time.Minute)); !due {
		t.Fatal("another machine waits for m1's backoff")
	}
	b.forget("m1")
	if due, _ := b.due("m1", t0.Add(12*time.Minute)); !due {
		t.Fatal("a machine MAAS had back waits when its release fails anew")
	}
	// A machine no longer asked for is dropped, not kept for ever.
	b.asked("m1", t0)
	b.asked("m3", t0.Add(time.Hour))
	if _, kept := b.tried["m1"]; kept {
		t.Fatal("a record an hour old is kept")
	}
	var none *releaseRetries
	if due, _ := none.due("m1", t0); !due {
		t.Fatal("no pacing holds a release")
	}
}

// TestAReleaseMAASKeepsFailingIsAskedAgainWithBackoff: a machine whose
// release MAAS fails every time is released again at once, then after one
// minute, two, four: not at every reconcile.
func TestAReleaseMAASKeepsFailingIsAskedAgainWithBackoff(t *testing.T) {
	srv, inv, m := releaseFailing(t, releaseOwner)
	ctx := context.Background()
	tc := &infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "tc", UID: "uid-1"}}
	clock := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	r := &TenantClusterReconciler{Inventory: inv, Recorder: events.NewFakeRecorder(100), Clock: clock,
		CapacityBackoff: time.Minute, CapacityBackoffMax: 10 * time.Minute}
	r.releaseRetries.base, r.releaseRetries.max = r.CapacityBackoff, r.CapacityBackoffMax
	was := []infrav1.MachineStatus{{SystemID: m.SystemID, State: "Releasing", Pool: "workers"}}
	// reconcile reconciles once MAAS has failed the last release again.
	reconcile := func() []infrav1.MachineStatus {
		t.Helper()
		var snap *maas.Snapshot
		await(t, "Releasing failed in the inventory", func() bool {
			s, ok := inv.Snapshot(releaseKey)
			if !ok {
				return false
			}
			now, _ := s.Followed(m.SystemID)
			snap = s
			return now.Status == maas.StatusFailedReleasing
		})
		out, err := r.pendingReleases(ctx, tc, releaseKey, snap, was, nil, nil)
		if err != nil {
			t.Fatalf("reconcile: %v", err)
		}
		was = out
		return out
	}
	start, asked := clock.Now(), releaseRequests(srv)
	for _, step := range []struct {
		at       time.Duration
		requests int // release requests MAAS received by then, the first included
	}{
		{0, 2}, {time.Second, 2}, {59 * time.Second, 2},
		{time.Minute, 3}, {2 * time.Minute, 3}, {3*time.Minute - time.Second, 3},
		{3 * time.Minute, 4}, {6 * time.Minute, 4}, {7 * time.Minute, 5},
	} {
		clock.SetTime(start.Add(step.at))
		out := reconcile()
		if n := releaseRequests(srv); n != step.requests {
			t.Fatalf("at %s: %d release requests, want %d", step.at, n, step.requests)
		}
		if len(out) != 1 || out[0].SystemID != m.SystemID {
			t.Fatalf("at %s: status %+v, want the machine still on its way back", step.at, out)
		}
		if n := releaseRequests(srv); n == asked && !strings.Contains(out[0].Message, "to be released again at") {
			t.Fatalf("at %s: status says %q of the machine while it waits", step.at, out[0].Message)
		}
		asked = releaseRequests(srv)
	}
}
