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
	"time"

	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
)

// TestAnAllocationWithoutAnAnswerTakesOneMachine runs the pool executor's
// reconciles for a pool missing one machine while MAAS commits the first
// allocation and the answer is lost: exactly one machine is taken, and it
// is the pool's, not an unclaimed orphan beside a second one.
func TestAnAllocationWithoutAnAnswerTakesOneMachine(t *testing.T) {
	const agent, key = "inst-1", "ns/account"
	for _, tt := range []struct {
		name  string
		fault maassim.EndpointFault
	}{
		{"503 after MAAS committed", maassim.EndpointFault{ErrorStatus: 503}},
		{"connection dropped after MAAS committed", maassim.EndpointFault{Drop: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := maassim.DefaultConfig()
			cfg.Inventory = maassim.GenerateInventory(8, 1)
			srv, err := maassim.Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			apiKey, err := maas.ParseAPIKey(srv.DefaultAPIKey())
			if err != nil {
				t.Fatal(err)
			}
			c, err := maas.NewClient(maas.Config{Endpoint: srv.URL, APIKey: apiKey},
				maas.Options{RateLimit: 1000, RateBurst: 1000, BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			// Polled only when refreshed: a snapshot stays as stale as
			// nothing but this change makes it.
			inv := maas.NewInventory(maas.InventoryOptions{Interval: time.Hour})
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

			f := tt.fault
			f.Method, f.Endpoint, f.Op, f.ErrorRate, f.AfterCommit = "POST", "machines/", "allocate", 1, true
			owner := maas.Owner{Kind: tenantKind, Namespace: "ns", Name: "tc", UID: "uid-1"}
			faulted := false
			deadline := time.Now().Add(30 * time.Second)
			for {
				snap, ok := inv.Snapshot(key)
				if !ok || snap.PolledAt.IsZero() {
					if time.Now().After(deadline) {
						t.Fatal("no first poll")
					}
					time.Sleep(5 * time.Millisecond) // awaiting the inventory, as Eventually would
					continue
				}
				if len(snap.ByOwner(tenantKind, "ns", "tc")) == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the pool never got its machine; MAAS: %+v", srv.Machines())
				}
				if !faulted {
					srv.SetFaults(maassim.Faults{Endpoints: []maassim.EndpointFault{f}})
				}
				// One reconcile: plan from the snapshot read above.
				e := &poolExecutor{inv: inv, account: key, owner: owner, snap: snap,
					constraints: func(string) maas.Constraints { return maas.Constraints{} },
					template:    func(string) string { return "t" }}
				_, _ = e.run(ctx, []rollout.Action{{Kind: rollout.ActionAllocate, Pool: "workers", Slot: 0}})
				if !faulted {
					faulted = true
					srv.SetFaults(maassim.Faults{})
				}
				time.Sleep(5 * time.Millisecond) // the controller's requeue after an error
			}
			var taken []maassim.Machine
			for _, m := range srv.Machines() {
				if m.AgentName == agent {
					taken = append(taken, m)
				}
			}
			if len(taken) != 1 {
				t.Fatalf("MAAS holds %d machines of the installation for one missing machine, want 1: %+v", len(taken), taken)
			}
			if uid := taken[0].Annotations[maas.AnnotationOwnerUID]; uid != owner.UID {
				t.Fatalf("machine %s is annotated for %q, want the pool's owner: no orphan", taken[0].SystemID, uid)
			}
		})
	}
}
