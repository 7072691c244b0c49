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

package maas_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// runInventory starts inv until the test ends.
func runInventory(t *testing.T, inv *maas.Inventory) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("inventory stopped with %v", err)
		}
	})
}

// waitSnapshot waits until key's snapshot satisfies ok.
func waitSnapshot(t *testing.T, inv *maas.Inventory, key string, ok func(*maas.Snapshot) bool) *maas.Snapshot {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if s, found := inv.Snapshot(key); found && ok(s) {
			return s
		}
		select {
		case <-deadline:
			s, _ := inv.Snapshot(key)
			t.Fatalf("snapshot of %s never got there; last: %+v", key, s)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestInventoryOneListPerAccountPerInterval(t *testing.T) {
	const perAccount = 200
	srv := startSim(t, func(c *maassim.Config) {
		c.Inventory = maassim.GenerateInventory(3*perAccount, 7)
	})
	keys := []string{"team-a/maas", "team-b/maas", "team-c/maas"}
	clients := make([]*maas.Client, len(keys))
	for i := range keys {
		apiKey := srv.AddUser(fmt.Sprintf("user%d", i), false)
		clients[i] = newClient(t, srv, apiKey)
		allocateMany(t, clients[i], fmt.Sprintf("install-%d", i), perAccount, 10)
	}

	// A long interval: each account is listed once at start, then only on Refresh.
	inv := maas.NewInventory(maas.InventoryOptions{Interval: time.Hour})
	for i, k := range keys {
		if err := inv.Register(k, clients[i], fmt.Sprintf("install-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	srv.ResetCounts()
	ctx1, stop1 := context.WithCancel(context.Background())
	stopped1 := make(chan struct{})
	go func() { _ = inv.Start(ctx1); close(stopped1) }()
	for i, k := range keys {
		s := waitSnapshot(t, inv, k, func(s *maas.Snapshot) bool { return !s.PolledAt.IsZero() })
		if s.Err != nil || s.Len() != perAccount {
			t.Fatalf("%s: %d machines, error %v; want %d", k, s.Len(), s.Err, perAccount)
		}
		if got := s.ByOwner("TenantCluster", "team-a", "c3"); len(got) != 10 || got[0].Owner.UID != "uid-c3" {
			t.Fatalf("%s: ByOwner(c3) = %d machines", k, len(got))
		}
		if s.AgentName != fmt.Sprintf("install-%d", i) {
			t.Fatalf("snapshot agent %q", s.AgentName)
		}
	}
	assertOnlyLists := func(want int) {
		t.Helper()
		counts := srv.Counts()
		for k, v := range counts {
			if k != (maassim.RequestKey{Method: "GET", Endpoint: "machines/"}) {
				t.Fatalf("the inventory sent %d %v requests; it may only list", v, k)
			}
		}
		if got := counts[maassim.RequestKey{Method: "GET", Endpoint: "machines/"}]; got != want {
			t.Fatalf("%d list requests for %d accounts × %d machines; want %d", got, len(keys), perAccount, want)
		}
	}
	assertOnlyLists(3)

	firstPolls := map[string]time.Time{}
	for _, k := range keys {
		s, _ := inv.Snapshot(k)
		firstPolls[k] = s.PolledAt
		inv.Refresh(k)
	}
	for _, k := range keys {
		waitSnapshot(t, inv, k, func(s *maas.Snapshot) bool { return s.PolledAt.After(firstPolls[k]) })
	}
	stop1()
	<-stopped1
	assertOnlyLists(6)

	// A short interval: at most one list per account per interval, whatever
	// the machine count (fewer when a list takes longer than the interval).
	const interval = 250 * time.Millisecond
	inv2 := maas.NewInventory(maas.InventoryOptions{Interval: interval})
	for i, k := range keys {
		if err := inv2.Register(k, clients[i], fmt.Sprintf("install-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv.ResetCounts()
	start := time.Now()
	done := make(chan struct{})
	go func() { _ = inv2.Start(ctx); close(done) }()
	for _, k := range keys { // at least two rounds
		waitSnapshot(t, inv2, k, func(s *maas.Snapshot) bool { return s.PolledAt.After(start.Add(interval)) })
	}
	cancel()
	<-done
	elapsed := time.Since(start)
	polls := srv.Counts()[maassim.RequestKey{Method: "GET", Endpoint: "machines/"}]
	if maxPolls := 3 * (int(elapsed/interval) + 1); polls > maxPolls {
		t.Fatalf("%d list requests in %v at %v for 3 accounts; want at most %d", polls, elapsed, interval, maxPolls)
	}
	t.Logf("%d list requests in %v for 3 accounts × %d machines", polls, elapsed, perAccount)
}

// nextEvent returns the next event on ch.
func nextEvent(t *testing.T, ch <-chan event.GenericEvent) *metav1.PartialObjectMetadata {
	t.Helper()
	select {
	case e := <-ch:
		obj, ok := e.Object.(*metav1.PartialObjectMetadata)
		if !ok {
			t.Fatalf("event object is %T", e.Object)
		}
		return obj
	case <-time.After(20 * time.Second):
		t.Fatal("no event")
	}
	return nil
}

// expectEvents reads events until every name in want was seen, failing on
// any other name.
func expectEvents(t *testing.T, ch <-chan event.GenericEvent, kind, namespace string, want ...string) {
	t.Helper()
	left := map[string]bool{}
	for _, w := range want {
		left[w] = true
	}
	for len(left) > 0 {
		obj := nextEvent(t, ch)
		if obj.Kind != kind || obj.APIVersion != "infra.maasgateway.io/v1alpha1" || obj.Namespace != namespace {
			t.Fatalf("event for %s %s %s/%s, want %s in %s", obj.APIVersion, obj.Kind, obj.Namespace, obj.Name, kind, namespace)
		}
		if !left[obj.Name] {
			t.Fatalf("unexpected event for %s/%s (still waiting for %v)", obj.Namespace, obj.Name, left)
		}
		delete(left, obj.Name)
	}
}

func expectQuiet(t *testing.T, ch <-chan event.GenericEvent, within time.Duration) {
	t.Helper()
	select {
	case e := <-ch:
		t.Fatalf("unexpected event for %s/%s", e.Object.GetNamespace(), e.Object.GetName())
	case <-time.After(within):
	}
}

func TestInventoryEventsReachTheOwner(t *testing.T) {
	srv := startSim(t, nil)
	c := newClient(t, srv, srv.DefaultAPIKey())
	ctx := context.Background()
	inv := maas.NewInventory(maas.InventoryOptions{Interval: time.Hour})
	if err := inv.Register("infra/default", c, agent); err != nil {
		t.Fatal(err)
	}
	clusters := inv.Events("TenantCluster")
	gateways := inv.Events("Gateway")
	runInventory(t, inv)
	waitSnapshot(t, inv, "infra/default", func(s *maas.Snapshot) bool { return !s.PolledAt.IsZero() })

	a, err := c.Allocate(ctx, maas.AllocateRequest{AgentName: agent, Owner: owner("alpha", "0")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Allocate(ctx, maas.AllocateRequest{AgentName: agent, Owner: owner("beta", "0")}); err != nil {
		t.Fatal(err)
	}
	gw := maas.Owner{Kind: "Gateway", Namespace: "infra", Name: "gw", UID: "uid-gw", Pool: "control-plane", Slot: "0"}
	if _, err := c.Allocate(ctx, maas.AllocateRequest{AgentName: agent, Owner: gw}); err != nil {
		t.Fatal(err)
	}
	inv.Refresh("infra/default")
	expectEvents(t, clusters, "TenantCluster", "team-a", "alpha", "beta")
	expectEvents(t, gateways, "Gateway", "infra", "gw")

	// A status change is news for its owner only.
	if _, err := c.Deploy(ctx, agent, a.SystemID, maas.DeployParams{DistroSeries: jammy}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv, a.SystemID, maassim.StatusDeployed)
	inv.Refresh("infra/default")
	expectEvents(t, clusters, "TenantCluster", "team-a", "alpha")
	s := waitSnapshot(t, inv, "infra/default", func(s *maas.Snapshot) bool {
		m, ok := s.Machine(a.SystemID)
		return ok && m.Status == maas.StatusDeployed
	})
	if m, _ := s.Machine(a.SystemID); len(m.Addresses) == 0 || m.Image() != "ubuntu/jammy" {
		t.Fatalf("deployed machine in the snapshot: %+v", m)
	}
	expectQuiet(t, gateways, 100*time.Millisecond)

	// Nothing changed: a poll is silent.
	inv.Refresh("infra/default")
	expectQuiet(t, clusters, 200*time.Millisecond)

	// Gone (released to Ready): news for its owner.
	if _, err := c.Release(ctx, agent, a.SystemID, maas.ReleaseParams{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, srv, a.SystemID, maassim.StatusReady)
	inv.Refresh("infra/default")
	expectEvents(t, clusters, "TenantCluster", "team-a", "alpha")
	s = waitSnapshot(t, inv, "infra/default", func(s *maas.Snapshot) bool { _, ok := s.Machine(a.SystemID); return !ok })
	if len(s.ByOwner("TenantCluster", "team-a", "alpha")) != 0 || len(s.ByOwner("TenantCluster", "team-a", "beta")) != 1 {
		t.Fatalf("snapshot after release: %+v", s.Machines())
	}
}

func TestUnclaimedMachineAdoptedOrReleasedAfterGrace(t *testing.T) {
	srv := startSim(t, nil)
	c := newClient(t, srv, srv.DefaultAPIKey())
	ctx := context.Background()
	inv := maas.NewInventory(maas.InventoryOptions{Interval: time.Hour})
	if err := inv.Register("infra/default", c, agent); err != nil {
		t.Fatal(err)
	}
	accounts := inv.Events("CloudAccount")
	runInventory(t, inv)
	waitSnapshot(t, inv, "infra/default", func(s *maas.Snapshot) bool { return !s.PolledAt.IsZero() })

	// The crash: allocated with our agent name, never annotated.
	gc, err := client.GetClient(srv.URL, srv.DefaultAPIKey(), "2.0")
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := gc.Machines.Allocate(&entity.MachineAllocateParams{AgentName: agent, Zone: "zone-a"})
	if err != nil {
		t.Fatal(err)
	}
	inv.Refresh("infra/default")
	expectEvents(t, accounts, "CloudAccount", "infra", "default")
	s := waitSnapshot(t, inv, "infra/default", func(s *maas.Snapshot) bool { return len(s.Unclaimed()) == 1 })
	u := s.Unclaimed()[0]
	if u.Machine.SystemID != orphan.SystemID || u.Machine.Owner != nil || u.Since.IsZero() {
		t.Fatalf("unclaimed = %+v", u)
	}
	if !u.Machine.Satisfies(maas.Constraints{Zone: "zone-a"}) || u.Machine.Satisfies(maas.Constraints{Zone: "zone-b"}) {
		t.Fatal("Satisfies does not judge the zone")
	}

	const grace = 10 * time.Minute
	if got := maas.ReleasableUnclaimed(s.Unclaimed(), u.Since.Add(grace-time.Second), grace); len(got) != 0 {
		t.Fatalf("released within the grace period: %v", got)
	}
	if got := maas.ReleasableUnclaimed(s.Unclaimed(), u.Since.Add(grace), grace); len(got) != 1 || got[0].SystemID != orphan.SystemID {
		t.Fatalf("not releasable once the grace has passed: %v", got)
	}

	// The object that was allocating adopts it; a second claimant is refused.
	o := owner("prod", "2")
	m, err := inv.Adopt(ctx, "infra/default", orphan.SystemID, o)
	if err != nil || m.Owner == nil || *m.Owner != o {
		t.Fatalf("Adopt: %+v, %v", m, err)
	}
	if s, _ := inv.Snapshot("infra/default"); len(s.Unclaimed()) != 0 || len(s.ByOwner("TenantCluster", "team-a", "prod")) != 1 {
		t.Fatalf("adoption not visible at once: unclaimed %v", s.Unclaimed())
	}
	if _, err := inv.Adopt(ctx, "infra/default", orphan.SystemID, owner("other", "0")); !maas.IsConflict(err) {
		t.Fatalf("second claimant: %v, want conflict", err)
	}
	if _, err := inv.Adopt(ctx, "infra/default", orphan.SystemID, o); err != nil {
		t.Fatalf("repeated Adopt: %v", err)
	}
	if sm := simMachine(t, srv, orphan.SystemID); sm.Annotations[maas.AnnotationOwnerName] != "prod" {
		t.Fatalf("annotations in MAAS: %v", sm.Annotations)
	}

	// A second orphan, past its grace, is released by whoever applies the policy.
	orphan2, err := gc.Machines.Allocate(&entity.MachineAllocateParams{AgentName: agent})
	if err != nil {
		t.Fatal(err)
	}
	inv.Refresh("infra/default")
	s = waitSnapshot(t, inv, "infra/default", func(s *maas.Snapshot) bool { return len(s.Unclaimed()) == 1 })
	for _, m := range maas.ReleasableUnclaimed(s.Unclaimed(), time.Now().Add(grace), grace) {
		if _, err := inv.Release(ctx, "infra/default", m.SystemID, maas.ReleaseParams{Comment: "unclaimed past grace"}); err != nil {
			t.Fatal(err)
		}
	}
	waitStatus(t, srv, orphan2.SystemID, maassim.StatusReady)
}

// TestInventoryPathBudget brings machines to Deployed through the inventory
// and counts every MAAS request, polls included.
func TestInventoryPathBudget(t *testing.T) {
	const n = 10
	srv := startSim(t, nil)
	c := newClient(t, srv, srv.DefaultAPIKey())
	ctx := context.Background()
	inv := maas.NewInventory(maas.InventoryOptions{Interval: time.Hour})
	if err := inv.Register("infra/default", c, agent); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounts()
	runInventory(t, inv)
	waitSnapshot(t, inv, "infra/default", func(s *maas.Snapshot) bool { return !s.PolledAt.IsZero() })

	ids := make([]string, 0, n)
	for i := range n {
		m, err := inv.Allocate(ctx, "infra/default", owner("budget", fmt.Sprint(i)), maas.Constraints{Pool: "tenants"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.SystemID)
	}
	if s, _ := inv.Snapshot("infra/default"); len(s.ByOwner("TenantCluster", "team-a", "budget")) != n {
		t.Fatal("allocations are not in the snapshot before the next poll")
	}
	for _, id := range ids {
		if _, err := inv.Deploy(ctx, "infra/default", id, maas.DeployParams{DistroSeries: jammy}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		waitStatus(t, srv, id, maassim.StatusDeployed)
	}
	inv.Refresh("infra/default")
	waitSnapshot(t, inv, "infra/default", func(s *maas.Snapshot) bool {
		for _, m := range s.ByOwner("TenantCluster", "team-a", "budget") {
			if m.Status != maas.StatusDeployed {
				return false
			}
		}
		return true
	})
	reqs := total(srv)
	t.Logf("%d MAAS requests for %d machines brought to Deployed (%.1f each)", reqs, n, float64(reqs)/n)
	if reqs > 4*n {
		t.Fatalf("%d requests for %d machines; the budget is 4 each", reqs, n)
	}
}

// BenchmarkListOwned200 is one inventory poll of 200 machines against the
// simulator: the request, MAAS's JSON, and gomaasclient's decoding.
func BenchmarkListOwned200(b *testing.B) {
	cfg := maassim.DefaultConfig()
	cfg.Inventory = maassim.GenerateInventory(200, 3)
	srv, err := maassim.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	k, _ := maas.ParseAPIKey(srv.DefaultAPIKey())
	c, err := maas.NewClient(maas.Config{Endpoint: srv.URL, APIKey: k}, testOpts())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 200 {
		if _, err := c.Allocate(ctx, maas.AllocateRequest{AgentName: agent, Owner: owner("bench", fmt.Sprint(i))}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		ms, err := c.ListOwned(ctx, agent)
		if err != nil || len(ms) != 200 {
			b.Fatalf("%d machines, %v", len(ms), err)
		}
	}
}

func TestAllocateWhoseAnnotationFailsLeavesUnclaimed(t *testing.T) {
	srv := startSim(t, nil)
	c := newClient(t, srv, srv.DefaultAPIKey())
	ctx := context.Background()
	inv := maas.NewInventory(maas.InventoryOptions{Interval: time.Hour})
	if err := inv.Register("infra/default", c, agent); err != nil {
		t.Fatal(err)
	}
	runInventory(t, inv)
	waitSnapshot(t, inv, "infra/default", func(s *maas.Snapshot) bool { return !s.PolledAt.IsZero() })

	srv.SetFaults(maassim.Faults{Endpoints: []maassim.EndpointFault{
		{Method: "POST", Endpoint: "machines/{id}/", Op: "set_workload_annotations", ErrorRate: 1, ErrorStatus: 500},
	}})
	m, err := inv.Allocate(ctx, "infra/default", owner("prod", "0"), maas.Constraints{})
	if !maas.IsTransient(err) || m.SystemID == "" || m.Owner != nil {
		t.Fatalf("Allocate with annotation failing: %+v, %v", m, err)
	}
	if !strings.Contains(err.Error(), "unclaimed") {
		t.Fatalf("error %q does not say the machine is unclaimed", err)
	}
	if sm := simMachine(t, srv, m.SystemID); sm.AgentName != agent || len(sm.Annotations) != 0 {
		t.Fatalf("in MAAS: agent %q annotations %v", sm.AgentName, sm.Annotations)
	}
	s, _ := inv.Snapshot("infra/default")
	if u := s.Unclaimed(); len(u) != 1 || u[0].Machine.SystemID != m.SystemID {
		t.Fatalf("unclaimed in the snapshot at once: %+v", u)
	}

	srv.SetFaults(maassim.Faults{})
	adopted, err := inv.Adopt(ctx, "infra/default", m.SystemID, owner("prod", "0"))
	if err != nil || adopted.Owner == nil {
		t.Fatalf("Adopt after the fault: %+v, %v", adopted, err)
	}
	inv.Refresh("infra/default")
	s = waitSnapshot(t, inv, "infra/default", func(s *maas.Snapshot) bool { return time.Since(s.PolledAt) < time.Second })
	if len(s.Unclaimed()) != 0 || len(s.ByOwner("TenantCluster", "team-a", "prod")) != 1 {
		t.Fatalf("after adoption and a poll: unclaimed %v", s.Unclaimed())
	}
}

// refreshUntil polls key again and again until its snapshot satisfies ok.
func refreshUntil(t *testing.T, inv *maas.Inventory, key string, ok func(*maas.Snapshot) bool) *maas.Snapshot {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	s, _ := inv.Snapshot(key)
	for !ok(s) {
		if time.Now().After(deadline) {
			t.Fatalf("snapshot of %s never got there", key)
		}
		s = pollOnce(t, inv, key)
	}
	return s
}

// pollOnce has key polled once more, and returns that poll's snapshot.
func pollOnce(t *testing.T, inv *maas.Inventory, key string) *maas.Snapshot {
	t.Helper()
	before, _ := inv.Snapshot(key)
	inv.Refresh(key)
	return waitSnapshot(t, inv, key, func(s *maas.Snapshot) bool { return s.PolledAt.After(before.PolledAt) })
}

// drainEvents reads the events already on their way.
func drainEvents(ch <-chan event.GenericEvent) {
	for {
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

// TestReleasedMachinesFollowedInOneListPerPoll releases a cluster's
// machines through the inventory and follows them to the end: one
// `GET machines/?id=…` per poll for all of them, never a request per
// machine; a release MAAS failed is seen and retried, and the owner hears
// of each change although MAAS drops its annotations with the release.
func TestReleasedMachinesFollowedInOneListPerPoll(t *testing.T) {
	const n = 12
	srv := startSim(t, func(c *maassim.Config) {
		c.DeployTime, c.DeployJitter = 10*time.Millisecond, 0
	})
	c := newClient(t, srv, srv.DefaultAPIKey())
	ctx := context.Background()
	const key = "infra/default"
	inv := maas.NewInventory(maas.InventoryOptions{Interval: time.Hour})
	if err := inv.Register(key, c, agent); err != nil {
		t.Fatal(err)
	}
	clusters := inv.Events("TenantCluster")
	runInventory(t, inv)
	waitSnapshot(t, inv, key, func(s *maas.Snapshot) bool { return !s.PolledAt.IsZero() })

	ids := make([]string, 0, n)
	for i := range n {
		m, err := inv.Allocate(ctx, key, owner("doomed", fmt.Sprint(i)), maas.Constraints{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inv.Deploy(ctx, key, m.SystemID, maas.DeployParams{DistroSeries: jammy}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.SystemID)
	}
	for _, id := range ids {
		waitStatus(t, srv, id, maassim.StatusDeployed)
	}
	srv.SetFaults(maassim.Faults{StuckRelease: ids, StuckReleaseFails: true})
	for _, id := range ids {
		m, err := inv.Release(ctx, key, id, maas.ReleaseParams{Comment: "cluster deleted"})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := inv.Snapshot(key)
		if got, st := s.Followed(id); st != maas.Following || got.Status != m.Status {
			t.Fatalf("%s right after its release: %v %s, want Following %s", id, st, got.StatusName, m.StatusName)
		}
		if _, ok := s.Machine(id); ok {
			t.Fatalf("%s is still in the installation's list", id)
		}
	}

	srv.ResetCounts()
	for range 3 {
		pollOnce(t, inv, key)
	}
	counts := srv.Counts()
	lists := counts[maassim.RequestKey{Method: "GET", Endpoint: "machines/"}]
	gets := counts[maassim.RequestKey{Method: "GET", Endpoint: "machines/{id}/"}]
	if lists != 2*3 || gets != 0 {
		t.Fatalf("3 polls following %d machines: %d lists and %d single reads, want 6 and 0", n, lists, gets)
	}

	// MAAS fails the releases: still annotated, still followed.
	failedAt := time.Now()
	refreshUntil(t, inv, key, func(s *maas.Snapshot) bool {
		for _, id := range ids {
			m, st := s.Followed(id)
			if st != maas.Following || m.Status != maas.StatusFailedReleasing || m.Owner == nil || m.Owner.Name != "doomed" {
				return false
			}
		}
		return true
	})
	drainEvents(clusters)

	// Released again, and this time for good.
	srv.SetFaults(maassim.Faults{})
	for _, id := range ids {
		m, err := inv.RetryRelease(ctx, key, id, maas.ReleaseParams{Comment: "again"})
		if err != nil || m.Status == maas.StatusFailedReleasing {
			t.Fatalf("RetryRelease(%s): %s, %v", id, m.StatusName, err)
		}
		if s, _ := inv.Snapshot(key); func() bool { _, st := s.Followed(id); return st == maas.NotFollowed || st == maas.FollowPending }() {
			t.Fatalf("%s is not followed from the retried release's answer", id)
		}
	}
	s := refreshUntil(t, inv, key, func(s *maas.Snapshot) bool {
		for _, id := range ids {
			if _, st := s.Followed(id); st != maas.FollowReleased {
				return false
			}
		}
		return true
	})
	expectEvents(t, clusters, "TenantCluster", "team-a", "doomed")
	if m, _ := s.Followed(ids[0]); m.Owner != nil || m.Status != maas.StatusReady {
		t.Fatalf("a released machine: %+v", m)
	}
	if o := s.FollowedOwner(ids[0]); o == nil || o.Name != "doomed" {
		t.Fatalf("owner of a released machine: %v", o)
	}
	// Capacity given back: every machine, Ready since the failed releases,
	// none since now.
	if got := s.ReturnedSince(failedAt); len(got) != n || got[0].Status != maas.StatusReady {
		t.Fatalf("ReturnedSince the failed releases: %d machines (%v), want %d Ready", len(got), got, n)
	}
	if got := s.ReturnedSince(time.Now()); len(got) != 0 {
		t.Fatalf("ReturnedSince now: %v, want none", got)
	}

	// Settled machines are no longer listed.
	srv.ResetCounts()
	pollOnce(t, inv, key)
	if lists := srv.Counts()[maassim.RequestKey{Method: "GET", Endpoint: "machines/"}]; lists != 1 {
		t.Fatalf("%d lists once every followed machine settled, want 1", lists)
	}
}

// TestFollowedMachineGone follows machines MAAS does not list for the key:
// one unknown to MAAS, one another user took.
func TestFollowedMachineGone(t *testing.T) {
	srv := startSim(t, nil)
	admin := newClient(t, srv, srv.DefaultAPIKey())
	user := newClient(t, srv, srv.AddUser("tenant", false))
	ctx := context.Background()
	const key = "team-a/maas"
	inv := maas.NewInventory(maas.InventoryOptions{Interval: time.Hour})
	if err := inv.Register(key, user, agent); err != nil {
		t.Fatal(err)
	}
	runInventory(t, inv)
	waitSnapshot(t, inv, key, func(s *maas.Snapshot) bool { return !s.PolledAt.IsZero() })

	taken, err := admin.Allocate(ctx, maas.AllocateRequest{AgentName: "someone-else", Owner: owner("theirs", "0")})
	if err != nil {
		t.Fatal(err)
	}
	mine, err := inv.Allocate(ctx, key, owner("alpha", "0"), maas.Constraints{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inv.Release(ctx, key, mine.SystemID, maas.ReleaseParams{}); err != nil {
		t.Fatal(err)
	}
	inv.Follow(key, taken.SystemID, "nosuch")
	s, _ := inv.Snapshot(key)
	if _, st := s.Followed("nosuch"); st != maas.FollowPending {
		t.Fatalf("a machine just followed: %v, want Pending", st)
	}
	s = pollOnce(t, inv, key)
	for _, id := range []string{taken.SystemID, "nosuch"} {
		if _, st := s.Followed(id); st != maas.FollowGone {
			t.Fatalf("%s: %v, want Gone", id, st)
		}
	}
	// An allocated machine that was off is released at once: settled from
	// the release's own answer, without a list.
	if m, st := s.Followed(mine.SystemID); st != maas.FollowReleased || m.Status != maas.StatusReady {
		t.Fatalf("%s: %v %s, want Released Ready", mine.SystemID, st, m.StatusName)
	}
	if s.FollowErr != nil {
		t.Fatal(s.FollowErr)
	}
}

// agentMachines is the simulator's machines carrying agent.
func agentMachines(srv *maassim.Server) []maassim.Machine {
	var out []maassim.Machine
	for _, m := range srv.Machines() {
		if m.AgentName == agent {
			out = append(out, m)
		}
	}
	return out
}

func TestAllocateWithoutAnAnswerWaitsForAListBeforeAllocatingAgain(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault maassim.EndpointFault
	}{
		{"503 after MAAS committed", maassim.EndpointFault{ErrorStatus: 503}},
		{"504 from a proxy after MAAS committed", maassim.EndpointFault{ErrorStatus: 504}},
		{"connection dropped after MAAS committed", maassim.EndpointFault{Drop: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSim(t, nil)
			c := newClient(t, srv, srv.DefaultAPIKey())
			ctx := context.Background()
			inv := maas.NewInventory(maas.InventoryOptions{Interval: time.Hour})
			const key = "infra/default"
			if err := inv.Register(key, c, agent); err != nil {
				t.Fatal(err)
			}
			runInventory(t, inv)
			waitSnapshot(t, inv, key, func(s *maas.Snapshot) bool { return !s.PolledAt.IsZero() })

			f := tt.fault
			f.Method, f.Endpoint, f.Op, f.ErrorRate, f.AfterCommit = "POST", "machines/", "allocate", 1, true
			// The lists fail too, so the snapshot stays the one from before
			// the allocation for as long as this test needs.
			srv.SetFaults(maassim.Faults{Endpoints: []maassim.EndpointFault{f,
				{Method: "GET", Endpoint: "machines/", ErrorRate: 1, ErrorStatus: 503}}})
			m, err := inv.Allocate(ctx, key, owner("prod", "0"), maas.Constraints{})
			if err == nil || m.SystemID != "" || !maas.MayHaveActed(err) {
				t.Fatalf("Allocate under the fault: %+v, %v; want an error that may have acted", m, err)
			}
			if n := count(srv, "POST", "machines/", "allocate"); n != 1 {
				t.Fatalf("%d allocate requests, want 1: an allocation MAAS may have made is never sent again blindly", n)
			}
			if got := agentMachines(srv); len(got) != 1 {
				t.Fatalf("MAAS holds %d machines of the installation, want the 1 it committed", len(got))
			}

			// A reconciler planning from the stale snapshot asks again.
			_, err = inv.Allocate(ctx, key, owner("prod", "0"), maas.Constraints{})
			if !maas.IsTransient(err) || !strings.Contains(err.Error(), "no machine is allocated until") {
				t.Fatalf("Allocate before a new list: %v, want a transient refusal", err)
			}
			if n := count(srv, "POST", "machines/", "allocate"); n != 1 {
				t.Fatalf("%d allocate requests after the refusal, want 1", n)
			}

			// Once MAAS answers lists again, the machine it allocated shows,
			// unclaimed, for the next allocator to adopt.
			srv.SetFaults(maassim.Faults{})
			s := refreshUntil(t, inv, key, func(s *maas.Snapshot) bool { return s.Err == nil && len(s.Unclaimed()) == 1 })
			if u := s.Unclaimed()[0].Machine.SystemID; u != agentMachines(srv)[0].SystemID {
				t.Fatalf("unclaimed %s, MAAS allocated %s", u, agentMachines(srv)[0].SystemID)
			}
			if _, err := inv.Allocate(ctx, key, owner("prod", "1"), maas.Constraints{}); err != nil {
				t.Fatalf("Allocate after the list: %v", err)
			}
		})
	}
}
