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

package maas

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// listMAAS is a fake MAAS that answers machine lists only: the owned list
// (agent_name) and the followed one (id), each from what the test set.
type listMAAS struct {
	*fakeMAAS

	mu       sync.Mutex
	owned    []map[string]any
	followed map[string]map[string]any // by system ID; listed when asked for
	failIDs  int                       // answer the id list with this status
	ownedN   int
	idLists  [][]string // the ids of each id list asked
	// gate holds owned lists until it receives; arrived and answered are
	// when each owned list came and went.
	gate              chan struct{}
	arrived, answered []time.Time
}

func newListMAAS(t *testing.T) *listMAAS {
	m := &listMAAS{followed: map[string]map[string]any{}}
	m.fakeMAAS = newFakeMAAS(t, func(_ int, r *http.Request) (int, http.Header, string) {
		q := r.URL.Query()
		m.mu.Lock()
		gate := m.gate
		var list []map[string]any
		code := http.StatusOK
		if ids, ok := q["id"]; ok {
			m.idLists = append(m.idLists, ids)
			if m.failIDs != 0 {
				code = m.failIDs
			}
			for _, id := range ids {
				if f, ok := m.followed[id]; ok {
					list = append(list, f)
				}
			}
		} else {
			m.ownedN++
			m.arrived = append(m.arrived, time.Now())
			list = m.owned
		}
		m.mu.Unlock()
		if _, ok := q["id"]; !ok {
			if gate != nil {
				<-gate
			}
			defer func() {
				m.mu.Lock()
				m.answered = append(m.answered, time.Now())
				m.mu.Unlock()
			}()
		}
		if code != http.StatusOK {
			return code, nil, "Service Unavailable"
		}
		b, _ := json.Marshal(list)
		if list == nil {
			b = []byte("[]")
		}
		return code, nil, string(b)
	})
	return m
}

func (m *listMAAS) set(fn func(m *listMAAS)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fn(m)
}

func (m *listMAAS) counts() (owned int, idLists [][]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ownedN, slices.Clone(m.idLists)
}

// machineDoc is a machine's JSON as MAAS lists it, annotated for o if set.
func machineDoc(id string, st Status, o *Owner) map[string]any {
	d := map[string]any{"system_id": id, "hostname": "host-" + id, "status": int(st), "status_name": st.String()}
	if o != nil {
		d["workload_annotations"] = o.annotations()
	}
	return d
}

// drainEvents takes the names of the events queued for TenantClusters (the
// inventory is not started: nothing delivers them).
func drainEvents(inv *Inventory) []string {
	const kind = "TenantCluster"
	inv.mu.Lock()
	subs := inv.subs
	inv.mu.Unlock()
	var names []string
	for _, s := range subs {
		if s.kind != kind {
			continue
		}
		s.mu.Lock()
		for _, k := range s.queue {
			names = append(names, k.name)
		}
		s.queue = nil
		clear(s.pending)
		s.mu.Unlock()
	}
	slices.Sort(names)
	return names
}

func TestReleasedFrom(t *testing.T) {
	a, b := ownerP("a"), ownerP("b")
	tests := []struct {
		name  string
		m     Machine
		owner *Owner
		want  bool
	}{
		{"ready without annotations", machineOf("1", StatusReady, nil), a, true},
		{"new without annotations", machineOf("1", StatusNew, nil), nil, true},
		{"releasing, still annotated", machineOf("1", StatusReleasing, a), a, false},
		{"release failed, still annotated", machineOf("1", StatusFailedReleasing, a), a, false},
		{"disk erasing", machineOf("1", StatusDiskErasing, a), a, false},
		{"annotated for another object since", machineOf("1", StatusDeployed, b), a, true},
		{"annotated, owner unknown", machineOf("1", StatusDeployed, b), nil, false},
		{"allocated to someone, unannotated", machineOf("1", StatusAllocated, nil), a, false},
	}
	for _, tc := range tests {
		if got := releasedFrom(&tc.m, tc.owner); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFollowThroughPolls(t *testing.T) {
	f := newListMAAS(t)
	inv := NewInventory(InventoryOptions{Interval: time.Hour})
	if inv.Follow("ns/acc", "x") || inv.Unfollow("ns/acc", "x") {
		t.Fatal("Follow or Unfollow of an unregistered account")
	}
	if err := inv.Register("ns/acc", testClient(t, f.URL, fastOptions()), "agent"); err != nil {
		t.Fatal(err)
	}
	inv.Events("TenantCluster")
	a, _ := inv.account("ns/acc")
	ctx := context.Background()
	snap := func() *Snapshot { s, _ := inv.Snapshot("ns/acc"); return s }
	state := func(id string) FollowState { _, st := snap().Followed(id); return st }

	// Nothing followed: one list per poll.
	inv.poll(ctx, a)
	if owned, ids := f.counts(); owned != 1 || len(ids) != 0 {
		t.Fatalf("%d owned lists, id lists %v", owned, ids)
	}

	alpha := ownerP("alpha")
	if !inv.Follow("ns/acc", "f1", "f2", "f3") || state("f1") != FollowPending || state("zz") != NotFollowed {
		t.Fatal("a machine just followed is not Pending")
	}

	// The followed list fails: the owned list is stored all the same, and
	// the followed machines stay Pending (not polled yet is not released).
	f.set(func(m *listMAAS) { m.failIDs = http.StatusServiceUnavailable })
	before := snap().PolledAt
	inv.poll(ctx, a)
	s := snap()
	if s.Err != nil || !s.PolledAt.After(before) || !IsTransient(s.FollowErr) {
		t.Fatalf("after a failed followed list: Err %v, FollowErr %v, polled again %v", s.Err, s.FollowErr, s.PolledAt.After(before))
	}
	if state("f1") != FollowPending {
		t.Fatalf("f1 is %v after a failed list", state("f1"))
	}
	if got := drainEvents(inv); len(got) != 0 {
		t.Fatalf("events %v after a failed list", got)
	}

	// It succeeds: all in one request; f1 releasing, f2 already back, f3
	// unknown to MAAS, f4 back too and followed for beta, who hears of it
	// although MAAS no longer says whose it was.
	if !inv.FollowFor("ns/acc", *ownerP("beta"), "f4") {
		t.Fatal("FollowFor")
	}
	f.set(func(m *listMAAS) {
		m.failIDs = 0
		m.followed["f1"] = machineDoc("f1", StatusReleasing, alpha)
		m.followed["f2"] = machineDoc("f2", StatusReady, nil)
		m.followed["f4"] = machineDoc("f4", StatusReady, nil)
	})
	inv.poll(ctx, a)
	s = snap()
	if s.FollowErr != nil {
		t.Fatalf("FollowErr %v after a good list", s.FollowErr)
	}
	if _, ids := f.counts(); len(ids) != 2 || !slices.Equal(ids[1], []string{"f1", "f2", "f3", "f4"}) {
		t.Fatalf("id lists %v, want one per poll naming them all", ids)
	}
	m1, st1 := s.Followed("f1")
	if st1 != Following || m1.Status != StatusReleasing || s.FollowedOwner("f1") == nil || *s.FollowedOwner("f1") != *alpha {
		t.Fatalf("f1: %v %+v owner %v", st1, m1, s.FollowedOwner("f1"))
	}
	if state("f2") != FollowReleased || state("f3") != FollowGone || state("f4") != FollowReleased {
		t.Fatalf("f2 %v, f3 %v, f4 %v; want Released, Gone, Released", state("f2"), state("f3"), state("f4"))
	}
	if got := drainEvents(inv); !slices.Equal(got, []string{"alpha", "beta"}) {
		t.Fatalf("events %v, want alpha's and beta's", got)
	}

	// Settled machines are no longer asked for; nothing changed, no event.
	inv.poll(ctx, a)
	if _, ids := f.counts(); !slices.Equal(ids[len(ids)-1], []string{"f1"}) {
		t.Fatalf("last id list %v, want f1 alone", ids[len(ids)-1])
	}
	if got := drainEvents(inv); len(got) != 0 {
		t.Fatalf("events %v without a change", got)
	}

	// Released: the annotations are gone, the event still goes to alpha.
	f.set(func(m *listMAAS) { m.followed["f1"] = machineDoc("f1", StatusReady, nil) })
	inv.poll(ctx, a)
	if m, st := snap().Followed("f1"); st != FollowReleased || m.Status != StatusReady || m.Owner != nil {
		t.Fatalf("f1: %v %+v", st, m)
	}
	if got := drainEvents(inv); !slices.Equal(got, []string{"alpha"}) {
		t.Fatalf("events %v, want alpha's", got)
	}
	_, ids := f.counts()
	inv.poll(ctx, a)
	if _, after := f.counts(); len(after) != len(ids) {
		t.Fatalf("an id list with nothing left to follow: %v", after[len(ids):])
	}

	// Following a settled machine again changes nothing; it stays readable
	// until unfollowed or its retention ends.
	inv.Follow("ns/acc", "f1")
	if state("f1") != FollowReleased {
		t.Fatalf("Follow turned a settled machine %v", state("f1"))
	}
	inv.Unfollow("ns/acc", "f1")
	if state("f1") != NotFollowed || state("f2") != FollowReleased {
		t.Fatal("Unfollow")
	}
	a.mu.Lock()
	a.expireFollowsLocked(time.Now().Add(inv.opts.FollowRetention), inv.opts.FollowRetention)
	a.mu.Unlock()
	inv.poll(ctx, a)
	if state("f2") != NotFollowed || state("f3") != NotFollowed {
		t.Fatalf("after the retention: f2 %v, f3 %v", state("f2"), state("f3"))
	}
}

// A list that began before a machine was followed anew says nothing about
// the new following.
func TestFollowIgnoresListsOlderThanTheFollowing(t *testing.T) {
	a := &account{follows: map[string]*follow{}}
	t0 := time.Now()
	a.follows["f1"] = newFollow(machineOf("f1", StatusReleasing, ownerP("a")), nil, t0.Add(time.Second))
	a.follows["f2"] = &follow{state: FollowPending, armed: t0.Add(-time.Second)}
	owners := a.followListedLocked(nil, []string{"f1", "f2"}, t0, t0.Add(2*time.Second))
	if a.follows["f1"].state != Following || a.follows["f2"].state != FollowGone {
		t.Fatalf("f1 %v, f2 %v; want Following (untouched), Gone", a.follows["f1"].state, a.follows["f2"].state)
	}
	if len(owners) != 0 {
		t.Fatalf("news for %v", owners)
	}
}

func TestRefreshGap(t *testing.T) {
	tests := []struct {
		interval, took, want time.Duration
	}{
		{10 * time.Second, 20 * time.Millisecond, 250 * time.Millisecond},
		{time.Second, 0, 250 * time.Millisecond},
		{200 * time.Millisecond, time.Millisecond, 50 * time.Millisecond},
		{10 * time.Second, 3 * time.Second, 3 * time.Second},       // a slow MAAS: no more than half its time listing
		{time.Second, 3 * time.Second, time.Second},                // never beyond the interval
		{time.Hour, 10 * time.Millisecond, 250 * time.Millisecond}, // tests' "only on Refresh"
	}
	for _, tc := range tests {
		inv := NewInventory(InventoryOptions{Interval: tc.interval})
		if got := inv.refreshGap(tc.took); got != tc.want {
			t.Errorf("interval %v, last poll %v: gap %v, want %v", tc.interval, tc.took, got, tc.want)
		}
	}
}

// TestRefreshesCoalesce sends bursts of Refresh while a poll is in flight
// and right after one: each burst costs one poll, at the end of the gap.
func TestRefreshesCoalesce(t *testing.T) {
	f := newListMAAS(t)
	inv := NewInventory(InventoryOptions{Interval: time.Hour})
	if err := inv.Register("ns/acc", testClient(t, f.URL, fastOptions()), "agent"); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	f.set(func(m *listMAAS) { m.gate = gate })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = inv.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// waitPolls waits for n polls to be stored.
	waitPolls := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var last time.Time
			f.mu.Lock()
			if len(f.answered) >= n {
				last = f.answered[n-1]
			}
			f.mu.Unlock()
			if s, ok := inv.Snapshot("ns/acc"); ok && !last.IsZero() && !s.PolledAt.Before(last) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("never got to %d polls", n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	gap := inv.refreshGap(0)
	// spacing checks that list n started at least the gap after list n-1 ended.
	spacing := func(n int) {
		t.Helper()
		f.mu.Lock()
		defer f.mu.Unlock()
		if d := f.arrived[n-1].Sub(f.answered[n-2]); d < gap {
			t.Fatalf("list %d started %v after the last ended, want at least %v", n, d, gap)
		}
	}

	for { // the first poll is in flight, held at the gate
		if owned, _ := f.counts(); owned == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for range 10 {
		inv.Refresh("ns/acc")
	}
	f.set(func(m *listMAAS) { m.gate = nil })
	gate <- struct{}{}
	waitPolls(2)
	spacing(2)

	for range 20 { // a burst right after a poll
		inv.Refresh("ns/acc")
	}
	waitPolls(3)
	spacing(3)

	time.Sleep(2 * gap) // what must not happen: more polls for the same bursts
	if owned, _ := f.counts(); owned != 3 {
		t.Fatalf("%d lists for 2 bursts of refreshes after the first poll, want 3", owned)
	}
}

func TestListCache(t *testing.T) {
	doc := func(id string, st Status, o *Owner, addr string) string {
		d := machineDoc(id, st, o)
		d["ip_addresses"] = []string{addr}
		d["zone"] = map[string]any{"name": "zone-a", "id": 1}
		b, _ := json.Marshal(d)
		return string(b)
	}
	a1 := doc("a", StatusDeployed, ownerP("x"), "10.0.0.1")
	b1 := doc("b", StatusDeploying, ownerP("y"), "10.0.0.2")
	b2 := doc("b", StatusDeployed, ownerP("y"), "10.0.0.2")
	c := newListCache()
	read := func(docs ...string) ([]Machine, uint64, bool) {
		t.Helper()
		c.begin()
		if _, err := decodeMachines(strings.NewReader("["+strings.Join(docs, ",")+"]"), c); err != nil {
			t.Fatal(err)
		}
		gen, unchanged := c.commit()
		return c.list(), gen, unchanged
	}
	l1, gen, unchanged := read(a1, b1)
	if gen != 1 || unchanged || len(l1) != 2 || l1[0].SystemID != "a" || l1[1].Status != StatusDeploying || l1[0].Zone != "zone-a" {
		t.Fatalf("first list: gen %d unchanged %v %+v", gen, unchanged, l1)
	}
	l2, gen, unchanged := read(a1, b1)
	if gen != 2 || !unchanged || l2[0].Owner != l1[0].Owner || &l2[0].Addresses[0] != &l1[0].Addresses[0] {
		t.Fatal("the same list again: not reported unchanged, or machines decoded anew")
	}
	l3, gen, unchanged := read(a1, b2)
	if gen != 3 || unchanged || l3[1].Status != StatusDeployed || l3[0].Owner != l1[0].Owner || l3[1].Owner == l1[1].Owner {
		t.Fatal("one machine changed: not decoded, or the other decoded anew")
	}
	if _, _, unchanged := read(b2, a1); unchanged {
		t.Fatal("another order is another list")
	}
	// A list that fails half-way leaves the cache as the last good list left it.
	c.begin()
	if _, err := decodeMachines(strings.NewReader("["+b2+`,{"system_id":`), c); err == nil {
		t.Fatal("a truncated list decoded")
	}
	if _, gen, unchanged := read(b2, a1); gen != 5 || !unchanged {
		t.Fatalf("after a failed list: gen %d unchanged %v, want 5 true", gen, unchanged)
	}
	// Bad JSON in a machine is an error, not a machine.
	c.begin()
	if _, err := decodeMachines(strings.NewReader(`[{"system_id":1}]`), c); err == nil {
		t.Fatal("a machine with a numeric system ID decoded")
	}
}

func TestPollReusesAnUnchangedList(t *testing.T) {
	f := newListMAAS(t)
	x := ownerP("x")
	f.set(func(m *listMAAS) {
		m.owned = []map[string]any{machineDoc("1", StatusDeployed, x), machineDoc("2", StatusDeploying, x)}
	})
	inv := NewInventory(InventoryOptions{Interval: time.Hour})
	if err := inv.Register("ns/acc", testClient(t, f.URL, fastOptions()), "agent"); err != nil {
		t.Fatal(err)
	}
	inv.Events("TenantCluster")
	a, _ := inv.account("ns/acc")
	ctx := context.Background()
	same := func(s1, s2 *Snapshot) bool { return &s1.machines[0] == &s2.machines[0] }

	inv.poll(ctx, a)
	s1 := a.snap.Load()
	drainEvents(inv)
	inv.poll(ctx, a)
	s2 := a.snap.Load()
	if !same(s1, s2) || !s2.PolledAt.After(s1.PolledAt) || s2.Len() != 2 {
		t.Fatal("an unchanged list built a new snapshot")
	}
	if got := drainEvents(inv); len(got) != 0 {
		t.Fatalf("events %v for an unchanged list", got)
	}

	// A change this process made and MAAS does not show: the list wins
	// once it is newer, and the snapshot is built anew.
	a.record(machineOf("3", StatusAllocated, x))
	inv.poll(ctx, a)
	s3 := a.snap.Load()
	if same(s2, s3) || s3.Len() != 2 {
		t.Fatalf("after a patch the list no longer shows: %d machines, reused %v", s3.Len(), same(s2, s3))
	}
	drainEvents(inv)
	inv.poll(ctx, a)
	if !same(s3, a.snap.Load()) {
		t.Fatal("an unchanged list after a patched snapshot built a new snapshot")
	}

	f.set(func(m *listMAAS) { m.owned[1] = machineDoc("2", StatusDeployed, x) })
	inv.poll(ctx, a)
	if m, _ := a.snap.Load().Machine("2"); m.Status != StatusDeployed {
		t.Fatalf("a changed machine: %s", m.StatusName)
	}
	if got := drainEvents(inv); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("events %v, want x's", got)
	}
}

// The owner read from a list (JSON) is the owner written (Owner.annotations).
func TestOwnerFromListedAnnotations(t *testing.T) {
	o := testOwner()
	o.Template, o.Init = "0123456789ab", true
	for _, want := range []*Owner{&o, nil} {
		b, _ := json.Marshal([]map[string]any{machineDoc("m1", StatusDeployed, want)})
		for _, cache := range []*listCache{nil, newListCache()} {
			cache.begin()
			got, err := decodeMachines(strings.NewReader(string(b)), cache)
			if cache != nil {
				cache.commit()
				got = cache.list()
			}
			if err != nil || len(got) != 1 {
				t.Fatalf("%d machines, %v", len(got), err)
			}
			if (got[0].Owner == nil) != (want == nil) || (want != nil && *got[0].Owner != *want) {
				t.Fatalf("owner %+v, want %+v", got[0].Owner, want)
			}
		}
	}
}
