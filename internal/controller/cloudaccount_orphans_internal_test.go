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
	"testing"
	"time"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

func TestOrphanPolicy(t *testing.T) {
	for _, tt := range []struct {
		name  string
		state maas.Status
		check ownerCheck
		want  orphanVerdict
	}{
		// An allocation interrupted before its annotation: nothing deployed.
		{"unmarked allocated", maas.StatusAllocated, ownerUnmarked, orphanRelease},
		// The operator annotates before it deploys: these lost their marks,
		// and may be running nodes. Never released.
		{"unmarked deployed", maas.StatusDeployed, ownerUnmarked, orphanReport},
		{"unmarked deploying", maas.StatusDeploying, ownerUnmarked, orphanReport},
		{"unmarked failed deployment", maas.StatusFailedDeployment, ownerUnmarked, orphanReport},
		{"unmarked broken", maas.StatusBroken, ownerUnmarked, orphanReport},
		{"unmarked rescue", maas.StatusRescueMode, ownerUnmarked, orphanReport},
		{"unmarked releasing", maas.StatusReleasing, ownerUnmarked, orphanKeep},
		{"unmarked erasing", maas.StatusDiskErasing, ownerUnmarked, orphanKeep},

		{"alive allocated", maas.StatusAllocated, ownerAlive, orphanKeep},
		{"alive deployed", maas.StatusDeployed, ownerAlive, orphanKeep},
		{"alive failed", maas.StatusFailedDeployment, ownerAlive, orphanKeep},
		// A failed lookup, or a Gateway's own node: nothing proves an orphan.
		{"unknown deployed", maas.StatusDeployed, ownerUnknown, orphanKeep},
		{"unknown allocated", maas.StatusAllocated, ownerUnknown, orphanKeep},

		{"gone allocated", maas.StatusAllocated, ownerGone, orphanRelease},
		{"gone deploying", maas.StatusDeploying, ownerGone, orphanRelease},
		{"gone deployed", maas.StatusDeployed, ownerGone, orphanRelease},
		{"gone failed deployment", maas.StatusFailedDeployment, ownerGone, orphanRelease},
		{"gone broken", maas.StatusBroken, ownerGone, orphanRelease},
		{"gone releasing", maas.StatusReleasing, ownerGone, orphanKeep},
		{"gone erasing", maas.StatusDiskErasing, ownerGone, orphanKeep},
		{"gone failed releasing", maas.StatusFailedReleasing, ownerGone, orphanKeep},
		{"gone testing", maas.StatusTesting, ownerGone, orphanKeep},
		{"gone rescue", maas.StatusRescueMode, ownerGone, orphanKeep},
	} {
		if got := orphanPolicy(tt.state, tt.check); got != tt.want {
			t.Errorf("%s: orphanPolicy(%s, %d) = %d, want %d", tt.name, tt.state, tt.check, got, tt.want)
		}
	}
}

func TestOrphanReleaseParams(t *testing.T) {
	owner := func(pool string) *maas.Owner {
		return &maas.Owner{Kind: tenantKind, Namespace: "a", Name: "c", UID: "u", Pool: pool}
	}
	for _, tt := range []struct {
		name  string
		m     maas.Machine
		erase bool
	}{
		{"deployed control plane holds the keys", maas.Machine{Status: maas.StatusDeployed, Owner: owner(infrav1.ControlPlanePoolName)}, true},
		{"failed control plane may hold them", maas.Machine{Status: maas.StatusFailedDeployment, Owner: owner(infrav1.ControlPlanePoolName)}, true},
		{"allocated control plane has nothing", maas.Machine{Status: maas.StatusAllocated, Owner: owner(infrav1.ControlPlanePoolName)}, false},
		{"worker", maas.Machine{Status: maas.StatusDeployed, Owner: owner("workers")}, false},
	} {
		p := orphanReleaseParams(tt.m)
		if p.Erase != tt.erase || p.QuickErase != tt.erase {
			t.Errorf("%s: erase %v quick %v, want %v", tt.name, p.Erase, p.QuickErase, tt.erase)
		}
		if p.Comment == "" {
			t.Errorf("%s: no comment", tt.name)
		}
	}
}

// The machines' clock is the reservations' (dueOrphans): an orphan goes
// after the grace, and a machine whose marks name another UID is a new case.
func TestMachineOrphanClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	grace := 5 * time.Minute
	seen := map[string]time.Time{}
	m := maas.Machine{SystemID: "m1", Owner: &maas.Owner{Kind: tenantKind, Namespace: "a", Name: "c", UID: "old"}}
	key := func(m maas.Machine) string { return machineKey("acct", m) }
	all := func(maas.Machine) bool { return true }
	if due, next := dueOrphans("acct", []maas.Machine{m}, key, all, seen, t0, grace); len(due) != 0 || next != grace {
		t.Fatalf("first seen: due %d next %s", len(due), next)
	}
	if due, _ := dueOrphans("acct", []maas.Machine{m}, key, all, seen, t0.Add(grace), grace); len(due) != 1 {
		t.Fatalf("after the grace: due %d, want 1", len(due))
	}
	again := m
	again.Owner = &maas.Owner{Kind: tenantKind, Namespace: "a", Name: "c", UID: "new"}
	if due, next := dueOrphans("acct", []maas.Machine{again}, key, all, seen, t0.Add(grace), grace); len(due) != 0 || next != grace {
		t.Fatalf("marks of another UID restart the clock: due %d next %s", len(due), next)
	}
	if len(seen) != 1 {
		t.Fatalf("seen keeps %d entries, want 1", len(seen))
	}
}
