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
	"fmt"
	"slices"
	"testing"
	"time"
)

func machineOf(id string, st Status, o *Owner) Machine {
	return Machine{SystemID: id, Status: st, StatusName: st.String(), Owner: o}
}

func ownerP(name string) *Owner {
	return &Owner{Kind: "TenantCluster", Namespace: "ns", Name: name, UID: "u-" + name}
}

func TestChangedOwners(t *testing.T) {
	a, b := ownerP("a"), ownerP("b")
	base := []Machine{machineOf("1", StatusAllocated, a), machineOf("2", StatusDeploying, b), machineOf("3", StatusAllocated, nil)}
	snap := func(ms ...Machine) *Snapshot {
		return newSnapshot("k", "agent", slices.Clone(ms), time.Unix(0, 0), time.Unix(0, 0), map[string]time.Time{})
	}
	withAddr := machineOf("2", StatusDeploying, b)
	withAddr.Addresses = []string{"10.0.0.1"}
	withMsg := machineOf("2", StatusDeploying, b)
	withMsg.StatusMessage = "Installing OS"
	tests := []struct {
		name          string
		prev          *Snapshot
		next          []Machine
		wantOwners    []string
		wantUnclaimed bool
	}{
		{"first poll: everything is new", nil, base, []string{"a", "b"}, true},
		{"nothing changed", snap(base...), base, nil, false},
		{"status change", snap(base...), []Machine{machineOf("1", StatusDeploying, a), base[1], base[2]}, []string{"a"}, false},
		{"addresses appear", snap(base...), []Machine{base[0], withAddr, base[2]}, []string{"b"}, false},
		{"status message alone is not news", snap(base...), []Machine{base[0], withMsg, base[2]}, nil, false},
		{"machine gone", snap(base...), []Machine{base[1], base[2]}, []string{"a"}, false},
		{"unclaimed gone", snap(base...), base[:2], nil, true},
		{"adopted: unclaimed set and new owner", snap(base...), []Machine{base[0], base[1], machineOf("3", StatusAllocated, a)}, []string{"a"}, true},
		{"moved between owners", snap(base...), []Machine{machineOf("1", StatusAllocated, b), base[1], base[2]}, []string{"a", "b"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			owners, unclaimed := changedOwners(tc.prev, snap(tc.next...))
			var names []string
			for _, o := range owners {
				names = append(names, o.Name)
			}
			slices.Sort(names)
			if !slices.Equal(names, tc.wantOwners) || unclaimed != tc.wantUnclaimed {
				t.Fatalf("owners %v unclaimed %v, want %v %v", names, unclaimed, tc.wantOwners, tc.wantUnclaimed)
			}
		})
	}
}

func TestSnapshotIndexesAndUnclaimedSince(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	since := map[string]time.Time{}
	s1 := newSnapshot("ns/acc", "agent", []Machine{machineOf("b", StatusAllocated, ownerP("x")), machineOf("a", StatusAllocated, nil), machineOf("c", StatusDeployed, ownerP("x"))}, t0, t0, since)
	if got := s1.Machines(); got[0].SystemID != "a" || got[2].SystemID != "c" || s1.Len() != 3 {
		t.Fatalf("machines not sorted by system ID: %v", got)
	}
	if got := s1.ByOwner("TenantCluster", "ns", "x"); len(got) != 2 {
		t.Fatalf("ByOwner = %v", got)
	}
	if got := s1.ByOwner("TenantCluster", "other", "x"); len(got) != 0 {
		t.Fatalf("ByOwner matched another namespace: %v", got)
	}
	if _, ok := s1.Machine("zzz"); ok {
		t.Fatal("found a machine that is not there")
	}
	// Later polls keep the first-seen time; a claimed machine leaves the map.
	s2 := newSnapshot("ns/acc", "agent", []Machine{machineOf("a", StatusAllocated, nil), machineOf("d", StatusAllocated, nil)}, t0.Add(time.Minute), t0.Add(time.Minute), since)
	u := s2.Unclaimed()
	if len(u) != 2 || u[0].Since != t0 || u[1].Since != t0.Add(time.Minute) {
		t.Fatalf("unclaimed = %+v", u)
	}
	newSnapshot("ns/acc", "agent", []Machine{machineOf("d", StatusAllocated, ownerP("y"))}, t0, t0, since)
	if len(since) != 0 {
		t.Fatalf("since still tracks %v", since)
	}
	// A copy handed out is the reader's to change.
	ms := s2.Machines()
	ms[0].SystemID = "changed"
	if got, _ := s2.Machine("a"); got.SystemID != "a" {
		t.Fatal("Machines() shares its slice with the snapshot")
	}
}

func TestPatchesSurviveAStalePoll(t *testing.T) {
	a := &account{patches: map[string]patch{}, since: map[string]time.Time{}}
	t0 := time.Now()
	// Allocated after the poll began: the poll's list cannot have it.
	a.patches["new"] = patch{machine: machineOf("new", StatusAllocated, ownerP("x")), at: t0.Add(time.Second)}
	// Released after the poll began: the list still shows it.
	a.patches["rel"] = patch{machine: machineOf("rel", StatusReleasing, ownerP("x")), gone: true, at: t0.Add(time.Second)}
	// Deployed before the poll began: the list is newer.
	a.patches["old"] = patch{machine: machineOf("old", StatusDeploying, ownerP("x")), at: t0.Add(-time.Second)}
	listed := []Machine{machineOf("rel", StatusDeployed, ownerP("x")), machineOf("old", StatusDeployed, ownerP("x"))}

	got, patched := a.reapplyPatchesLocked(listed, t0)
	if !patched {
		t.Fatal("patches laid, yet not reported")
	}
	ids := map[string]Status{}
	for _, x := range got {
		ids[x.SystemID] = x.Status
	}
	if want := map[string]Status{"new": StatusAllocated, "old": StatusDeployed}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("merged list %v, want %v", ids, want)
	}
	if _, ok := a.patches["old"]; ok || len(a.patches) != 2 {
		t.Fatalf("patches left: %v", a.patches)
	}
}

func TestRecordPatchesTheSnapshot(t *testing.T) {
	a := &account{patches: map[string]patch{}, since: map[string]time.Time{}}
	t0 := time.Now()
	a.snap.Store(newSnapshot("k", "agent", []Machine{machineOf("1", StatusDeployed, ownerP("x"))}, t0, t0, a.since))
	a.record(machineOf("2", StatusAllocated, nil)) // allocated, annotate failed
	s := a.snap.Load()
	if _, ok := s.Machine("2"); !ok || len(s.Unclaimed()) != 1 || s.PolledAt != t0 {
		t.Fatalf("allocation not recorded: %+v", s.Machines())
	}
	a.record(machineOf("1", StatusReleasing, ownerP("x")))
	if _, ok := a.snap.Load().Machine("1"); ok {
		t.Fatal("a machine whose release began stays in the snapshot")
	}
	a.record(Machine{}) // nothing to record
	if a.snap.Load().Len() != 1 {
		t.Fatal("an empty machine was recorded")
	}
}

func TestReleasableUnclaimed(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	grace := 10 * time.Minute
	u := []Unclaimed{
		{Machine: machineOf("old", StatusAllocated, nil), Since: t0},
		{Machine: machineOf("young", StatusAllocated, nil), Since: t0.Add(9 * time.Minute)},
		{Machine: machineOf("unknown", StatusAllocated, nil)}, // never seen: never released
	}
	tests := []struct {
		now  time.Time
		want []string
	}{
		{t0, nil},
		{t0.Add(grace - time.Nanosecond), nil},
		{t0.Add(grace), []string{"old"}},
		{t0.Add(time.Hour), []string{"old", "young"}},
	}
	for _, tc := range tests {
		var ids []string
		for _, x := range ReleasableUnclaimed(u, tc.now, grace) {
			ids = append(ids, x.SystemID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("at %v: %v, want %v", tc.now.Sub(t0), ids, tc.want)
		}
	}
}

func TestSatisfies(t *testing.T) {
	mach := Machine{Zone: "z1", Pool: "p1", CPUCount: 8, MemoryMiB: 16384, StorageMB: 240_000, Tags: []string{"ssd", "gpu"}}
	tests := []struct {
		c    Constraints
		want bool
	}{
		{Constraints{}, true},
		{Constraints{Zone: "z1", Pool: "p1", Tags: []string{"gpu"}, MinCPU: 8, MinMemoryMiB: 16384, MinDiskGiB: 200}, true},
		{Constraints{Zone: "z2"}, false},
		{Constraints{NotInZones: []string{"z1"}}, false},
		{Constraints{Pool: "p2"}, false},
		{Constraints{Tags: []string{"ssd", "nvme"}}, false},
		{Constraints{MinCPU: 9}, false},
		{Constraints{MinMemoryMiB: 16385}, false},
		{Constraints{MinDiskGiB: 224}, false}, // 240 GB is 223.5 GiB
		{Constraints{MinDiskGiB: 223}, true},
	}
	for _, tc := range tests {
		if got := mach.Satisfies(tc.c); got != tc.want {
			t.Errorf("Satisfies(%+v) = %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestStorageConstraint(t *testing.T) {
	for gib, want := range map[int64]string{1: "root:2", 100: "root:108", 931: "root:1000", 1000: "root:1074"} {
		if got := (Constraints{MinDiskGiB: gib}).storageConstraint(); got != want {
			t.Errorf("%d GiB: %q, want %q", gib, got, want)
		}
	}
}

func TestDeployProgress(t *testing.T) {
	jammy := DeployParams{OSystem: "ubuntu", DistroSeries: "jammy"}
	deployed := func(st Status, os, series string) Machine {
		x := machineOf("x", st, nil)
		x.OSystem, x.DistroSeries = os, series
		return x
	}
	tests := []struct {
		m        Machine
		p        DeployParams
		wantDone bool
		wantErr  Class // ClassUnknown: no error
	}{
		{deployed(StatusAllocated, "", ""), jammy, false, ClassUnknown},
		{deployed(StatusDeploying, "ubuntu", "jammy"), jammy, true, ClassUnknown},
		{deployed(StatusDeployed, "ubuntu", "jammy"), jammy, true, ClassUnknown},
		{deployed(StatusDeployed, "ubuntu", "jammy"), DeployParams{DistroSeries: "jammy"}, true, ClassUnknown},
		{deployed(StatusDeployed, "ubuntu", "noble"), jammy, false, ClassConflict},
		{deployed(StatusDeployed, "custom", "jammy"), jammy, false, ClassConflict},
		{deployed(StatusFailedDeployment, "", ""), jammy, false, ClassConflict},
		{deployed(StatusReleasing, "", ""), jammy, false, ClassConflict},
	}
	for _, tc := range tests {
		done, err := deployProgress(tc.m, tc.p)
		class := ClassUnknown
		if err != nil {
			class = Classify(err)
		}
		if done != tc.wantDone || class != tc.wantErr {
			t.Errorf("%s %s deploying %s: done=%v err=%v, want %v %v", tc.m.StatusName, tc.m.Image(), tc.p.Image(), done, err, tc.wantDone, tc.wantErr)
		}
	}
}

func TestStatus(t *testing.T) {
	if StatusFailedReleasing.String() != "Releasing failed" || StatusDeployed.String() != "Deployed" || Status(99).String() != "Status(99)" {
		t.Error("status names")
	}
	if !StatusDeploying.Transitional() || StatusDeployed.Transitional() || !StatusFailedDeployment.Failed() || StatusReady.Failed() {
		t.Error("status predicates")
	}
}

func TestOwnerFromAnnotations(t *testing.T) {
	full := testOwner().annotations()
	if o := ownerFromAnnotations(full); o == nil || *o != testOwner() {
		t.Fatalf("round trip: %+v", o)
	}
	for _, k := range []string{AnnotationOwnerKind, AnnotationOwnerName, AnnotationOwnerUID} {
		partial := map[string]string{}
		for kk, v := range full {
			if kk != k {
				partial[kk] = v
			}
		}
		if ownerFromAnnotations(partial) != nil {
			t.Errorf("without %s the machine still has an owner", k)
		}
	}
	if ownerFromAnnotations(nil) != nil {
		t.Error("no annotations, yet an owner")
	}
}

func TestValidateAgentName(t *testing.T) {
	for name, ok := range map[string]bool{
		"maas-gateway-1f2e3d": true, "a": true, "a.b_c-d": true,
		"": false, "has space": false, "slash/y": false, string(make([]byte, 256)): false,
	} {
		if err := ValidateAgentName(name); (err == nil) != ok {
			t.Errorf("ValidateAgentName(%q) = %v", name, err)
		}
	}
}

func TestEventsCoalescePerObject(t *testing.T) {
	inv := NewInventory(InventoryOptions{})
	ch := inv.Events("TenantCluster")
	for range 5 {
		inv.publish("TenantCluster", "ns", "a", "u1")
		inv.publish("TenantCluster", "ns", "b", "u2")
		inv.publish("Gateway", "ns", "g", "u3")
	}
	// Published before Start: delivered once Start runs, once per object.
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = inv.Start(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	got := make([]string, 0, 2)
	for range 2 {
		e := <-ch
		if e.Object.GetObjectKind().GroupVersionKind().Kind != "TenantCluster" {
			t.Fatalf("event %v", e.Object.GetObjectKind())
		}
		got = append(got, e.Object.GetName())
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("events for %v", got)
	}
	select {
	case e := <-ch:
		t.Fatalf("extra event for %s", e.Object.GetName())
	case <-time.After(50 * time.Millisecond):
	}
}

func TestRegister(t *testing.T) {
	inv := NewInventory(InventoryOptions{})
	c1 := testClient(t, "http://127.0.0.1:1", fastOptions())
	c2 := testClient(t, "http://127.0.0.1:2", fastOptions())
	if err := inv.Register("ns/a", c1, "bad agent"); err == nil {
		t.Fatal("bad agent name accepted")
	}
	if err := inv.Register("", c1, "agent"); err == nil {
		t.Fatal("empty key accepted")
	}
	if err := inv.Register("ns/a", c1, "agent"); err != nil {
		t.Fatal(err)
	}
	a1, _ := inv.account("ns/a")
	if err := inv.Register("ns/a", c2, "agent"); err != nil {
		t.Fatal(err)
	}
	if a, _ := inv.account("ns/a"); a != a1 || a.client != c2 {
		t.Fatal("a new client for the same agent must keep the account and use the client")
	}
	if err := inv.Register("ns/a", c2, "agent2"); err != nil {
		t.Fatal(err)
	}
	if a, _ := inv.account("ns/a"); a == a1 || a.agentName != "agent2" {
		t.Fatal("a new agent name must start afresh")
	}
	inv.Unregister("ns/a")
	if inv.Refresh("ns/a") {
		t.Fatal("Refresh of an unregistered account")
	}
	if _, ok := inv.Snapshot("ns/a"); ok {
		t.Fatal("snapshot of an unregistered account")
	}
	if _, err := inv.Deploy(t.Context(), "ns/a", "x", DeployParams{DistroSeries: "jammy"}); !IsInvalid(err) {
		t.Fatalf("Deploy through an unregistered account: %v", err)
	}
}
