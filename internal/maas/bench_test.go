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
	"fmt"
	"testing"
	"time"
)

// inventoryOf builds n machines owned by n/5 clusters, as a poll returns them.
func inventoryOf(n int) []Machine {
	ms := make([]Machine, n)
	for i := range ms {
		ms[i] = Machine{
			SystemID:   fmt.Sprintf("m%05d", i),
			Hostname:   fmt.Sprintf("node-%05d", i),
			Zone:       "zone-a",
			Pool:       "tenants",
			Status:     StatusDeployed,
			StatusName: "Deployed",
			Addresses:  []string{fmt.Sprintf("10.0.%d.%d", i/250, i%250)},
			OSystem:    "ubuntu", DistroSeries: "jammy", PowerState: "on",
			CPUCount: 8, MemoryMiB: 16384, StorageMB: 480000,
			Owner: &Owner{Kind: "TenantCluster", Namespace: "tenants", Name: fmt.Sprintf("c%d", i/5), UID: fmt.Sprintf("uid-%d", i/5), Pool: "workers", Slot: fmt.Sprint(i % 5)},
		}
	}
	return ms
}

// BenchmarkInventorySnapshot measures the inventory's side of one poll of
// 1000 machines (index the list, diff it against the previous poll with a
// few changes) and a reconciler's read (take the snapshot, find its machines).
func BenchmarkInventorySnapshot(b *testing.B) {
	const n = 1000
	prevList := inventoryOf(n)
	now := time.Now()
	prev := newSnapshot("ns/acc", "agent", prevList, now, now, map[string]time.Time{})

	b.Run("poll", func(b *testing.B) {
		b.ReportAllocs()
		since := map[string]time.Time{}
		for b.Loop() {
			list := inventoryOf(0)
			list = append(list, prev.machines...)
			for i := 0; i < n; i += 100 { // ten machines changed state
				list[i].Status = StatusReleasing
			}
			next := newSnapshot("ns/acc", "agent", list, now, now, since)
			owners, _ := changedOwners(prev, next)
			if len(owners) != 10 {
				b.Fatalf("%d owners changed, want 10", len(owners))
			}
		}
	})

	b.Run("read", func(b *testing.B) {
		inv := NewInventory(InventoryOptions{})
		a := &account{key: "ns/acc", patches: map[string]patch{}, since: map[string]time.Time{}}
		a.snap.Store(prev)
		inv.accounts["ns/acc"] = a
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s, ok := inv.Snapshot("ns/acc")
			if !ok {
				b.Fatal("no snapshot")
			}
			if got := s.ByOwner("TenantCluster", "tenants", fmt.Sprintf("c%d", i%(n/5))); len(got) != 5 {
				b.Fatalf("%d machines for one cluster", len(got))
			}
			i++
		}
	})
}
