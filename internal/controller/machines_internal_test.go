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
	"testing"

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
