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

	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
)

// fullMAAS answers every allocation with NoCapacity and counts them.
type fullMAAS struct {
	MachineInventory
	allocations map[string]int // by zone
}

func (f *fullMAAS) Allocate(_ context.Context, _ string, _ maas.Owner, c maas.Constraints) (maas.Machine, error) {
	f.allocations[c.Zone]++
	return maas.Machine{}, &maas.Error{Class: maas.ClassNoCapacity, Op: "allocate"}
}

func TestAllocationsStopAtTheFirstNoCapacityPerPoolAndZone(t *testing.T) {
	allocate := func(pool, zone string, slot int) rollout.Action {
		return rollout.Action{Kind: rollout.ActionAllocate, Pool: pool, Zone: zone, Slot: slot}
	}
	for _, tt := range []struct {
		name    string
		actions []rollout.Action
		want    map[string]int
	}{{
		name:    "a pool of many missing machines in one zone asks once",
		actions: []rollout.Action{allocate("workers", "zone-a", 0), allocate("workers", "zone-a", 1), allocate("workers", "zone-a", 2)},
		want:    map[string]int{"zone-a": 1},
	}, {
		name: "each zone is asked: one may have room another lacks",
		actions: []rollout.Action{allocate("workers", "zone-a", 0), allocate("workers", "zone-b", 1),
			allocate("workers", "zone-a", 2), allocate("workers", "zone-b", 3)},
		want: map[string]int{"zone-a": 1, "zone-b": 1},
	}, {
		name:    "no machine in any zone: none in a given one either",
		actions: []rollout.Action{allocate("workers", "", 0), allocate("workers", "zone-a", 1), allocate("workers", "", 2)},
		want:    map[string]int{"": 1},
	}, {
		name:    "another pool is asked on its own",
		actions: []rollout.Action{allocate("control-plane", "", 0), allocate("workers", "", 0), allocate("workers", "", 1)},
		want:    map[string]int{"": 2},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			inv := &fullMAAS{allocations: map[string]int{}}
			e := &poolExecutor{inv: inv, snap: &maas.Snapshot{},
				constraints: func(string) maas.Constraints { return maas.Constraints{} },
				template:    func(string) string { return "t" }}
			out, err := e.run(context.Background(), tt.actions)
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.allocations) != len(tt.want) {
				t.Fatalf("allocations by zone %v, want %v", inv.allocations, tt.want)
			}
			for zone, n := range tt.want {
				if inv.allocations[zone] != n {
					t.Errorf("allocations by zone %v, want %v", inv.allocations, tt.want)
				}
			}
			if len(out.noCapacity) == 0 || len(out.allocated) != 0 {
				t.Errorf("executed %+v: want NoCapacity reported and nothing allocated", out)
			}
		})
	}
}

// returnedMachines is a fake Snapshot.ReturnedSince: the machines given
// back at the times they carry.
type returnedMachines map[time.Time]maas.Machine

func (r returnedMachines) since(t time.Time) []maas.Machine {
	var out []maas.Machine
	for at, m := range r {
		if !at.Before(t) {
			out = append(out, m)
		}
	}
	return out
}

func TestCapacityBackoffAcrossReconciles(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	workers := maas.Constraints{Pool: "default", MinCPU: 8}
	// Each step is one reconcile at a moment (offset from t0) with the
	// pool's constraints; want is whether it asks MAAS.
	type step struct {
		at          time.Duration
		constraints maas.Constraints
		returned    returnedMachines
		want        bool
	}
	big := maas.Constraints{Pool: "default", MinCPU: 16}
	for _, tt := range []struct {
		name  string
		steps []step
	}{{
		name: "the wait doubles with each NoCapacity answer, up to the cap",
		steps: []step{
			{at: 0, want: true},                  // wait 30 s
			{at: 10 * time.Second},               // held
			{at: 29 * time.Second},               // held
			{at: 30 * time.Second, want: true},   // wait 60 s
			{at: 89 * time.Second},               // held
			{at: 90 * time.Second, want: true},   // wait 120 s
			{at: 209 * time.Second},              // held
			{at: 210 * time.Second, want: true},  // wait 240 s
			{at: 450 * time.Second, want: true},  // wait 480 s
			{at: 930 * time.Second, want: true},  // wait 600 s (the cap, not 960)
			{at: 1529 * time.Second},             // held
			{at: 1530 * time.Second, want: true}, // wait 600 s
		},
	}, {
		name: "new constraints ask at once",
		steps: []step{
			{at: 0, want: true},
			{at: 5 * time.Second, constraints: big, want: true},
			{at: 6 * time.Second, constraints: big},
			// Back to the first set: its wait was dropped with the change.
			{at: 7 * time.Second, want: true},
		},
	}, {
		name: "a matching machine given back asks at once",
		steps: []step{
			{at: 0, want: true},
			{at: 10 * time.Second, returned: returnedMachines{t0.Add(5 * time.Second): {SystemID: "small", CPUCount: 4, Pool: "default"}}},
			{at: 11 * time.Second, returned: returnedMachines{t0.Add(-time.Minute): {SystemID: "before", CPUCount: 8, Pool: "default"}}},
			{at: 12 * time.Second, returned: returnedMachines{t0.Add(5 * time.Second): {SystemID: "fits", CPUCount: 8, Pool: "default"}}, want: true},
			// MAAS still had none (someone else took it): the backoff starts anew.
			{at: 13 * time.Second},
			{at: 42 * time.Second, want: true},
		},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			inv := &fullMAAS{allocations: map[string]int{}}
			backoff := &capacityBackoff{}
			for i, s := range tt.steps {
				c := s.constraints
				if c.Pool == "" {
					c = workers
				}
				now := t0.Add(s.at)
				e := &poolExecutor{inv: inv, snap: &maas.Snapshot{}, capacity: backoff,
					owner:       maas.Owner{Kind: "TenantCluster", Namespace: "ns", Name: "tc", UID: "u1"},
					now:         func() time.Time { return now },
					constraints: func(string) maas.Constraints { return c },
					template:    func(string) string { return "t" }}
				if s.returned != nil {
					// What the executor asks of its snapshot, with these
					// machines given back: a match drops the wait.
					backoff.hold(e.capacityKey("workers", c), now, s.returned.since)
				}
				before := inv.allocations[""]
				out, err := e.run(context.Background(), []rollout.Action{{Kind: rollout.ActionAllocate, Pool: "workers", Slot: 0}})
				if err != nil {
					t.Fatal(err)
				}
				asked := inv.allocations[""] > before
				if asked != s.want {
					t.Fatalf("step %d (t0+%s): asked MAAS %v, want %v", i, s.at, asked, s.want)
				}
				msg := out.noCapacity["workers"]
				if !strings.Contains(msg, "next attempt at ") || out.retryAt.IsZero() || !out.retryAt.After(now) {
					t.Fatalf("step %d: status says %q, retry at %s: want the next attempt named", i, msg, out.retryAt)
				}
				if !strings.Contains(msg, out.retryAt.UTC().Format(time.RFC3339)) {
					t.Errorf("step %d: message %q does not name the retry time %s", i, msg, out.retryAt)
				}
			}
		})
	}
}
