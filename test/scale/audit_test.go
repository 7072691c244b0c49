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

package main

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

const agent = "maas-gateway-uid-gw"

func owned(id, status, name, uid, pool, slot string) maassim.Machine {
	return maassim.Machine{SystemID: id, Hostname: "h-" + id, StatusName: status, Owner: "admin", AgentName: agent,
		Annotations: map[string]string{
			maas.AnnotationOwnerKind: "TenantCluster", maas.AnnotationOwnerNamespace: "scale",
			maas.AnnotationOwnerName: name, maas.AnnotationOwnerUID: uid, maas.AnnotationPool: pool, maas.AnnotationSlot: slot,
		}}
}

func TestAuditMachines(t *testing.T) {
	a := ownerObject{Kind: "TenantCluster", Namespace: "scale", Name: "a", UID: "uid-a",
		Pools: map[string]int{"control-plane": 1, "workers": 2}}
	free := maassim.Machine{SystemID: "f1", StatusName: "Ready"}
	healthy := []maassim.Machine{
		owned("m1", "Deployed", "a", "uid-a", "control-plane", "0"),
		owned("m2", "Deployed", "a", "uid-a", "workers", "0"),
		owned("m3", "Deployed", "a", "uid-a", "workers", "1"),
		free,
	}
	type counts struct{ foreign, orphans, dups, unsettled, missing int }
	for _, tc := range []struct {
		name     string
		machines []maassim.Machine
		want     counts
	}{
		{"converged", healthy, counts{}},
		{"a recreated object does not own its predecessor's machines",
			append(healthy[:3:3], owned("m4", "Deployed", "a", "uid-old", "workers", "2")), counts{orphans: 1}},
		{"a deleted cluster's machine still allocated",
			append(healthy[:3:3], owned("m4", "Allocated", "gone", "uid-gone", "workers", "0")), counts{orphans: 1}},
		{"two machines in one slot, one too many in the pool",
			append(healthy[:3:3], owned("m4", "Deployed", "a", "uid-a", "workers", "1")), counts{dups: 1, unsettled: 1}},
		{"a pool the spec no longer has",
			append(healthy[:3:3], owned("m4", "Deployed", "a", "uid-a", "old-pool", "0")), counts{orphans: 1}},
		{"a machine more than the size", append(healthy[:3:3], owned("m4", "Deployed", "a", "uid-a", "workers", "2")),
			counts{unsettled: 1}},
		{"a rolled pool whose machine kept the extra slot", []maassim.Machine{
			owned("m1", "Deployed", "a", "uid-a", "control-plane", "1"),
			owned("m2", "Deployed", "a", "uid-a", "workers", "0"),
			owned("m3", "Deployed", "a", "uid-a", "workers", "2"),
		}, counts{}},
		{"still deploying and one missing", []maassim.Machine{
			owned("m1", "Deploying", "a", "uid-a", "control-plane", "0"),
			owned("m2", "Deployed", "a", "uid-a", "workers", "0"),
		}, counts{unsettled: 1, missing: 1}},
		{"another agent's machine", append(healthy[:3:3], maassim.Machine{SystemID: "x", StatusName: "Deployed",
			Owner: "admin", AgentName: "other"}),
			counts{foreign: 1}},
		{"a released machine not yet free", append(healthy[:3:3], maassim.Machine{SystemID: "x",
			StatusName: "Releasing failed", Owner: "admin"}),
			counts{orphans: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := auditMachines(tc.machines, agent, []ownerObject{a})
			got := counts{len(r.Foreign), len(r.Orphans), len(r.Duplicates), len(r.Unsettled), len(r.Missing)}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v: %+v", got, tc.want, r)
			}
			if r.failed() != (tc.want != counts{}) {
				t.Fatalf("failed() = %v for %+v", r.failed(), r)
			}
		})
	}
}

func TestSecretLeaks(t *testing.T) {
	key := "SimConsumerKey0001:SimTokenKey0000001:SimTokenSecret000000000000000001"
	pem := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwda1Jy4dVzT3Hnuuukx0p7yY5R2UjNWjoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n"
	needles := secretNeedles([]corev1.Secret{
		{Data: map[string][]byte{"apiKey": []byte(key)}},
		{Data: map[string][]byte{"tls.key": []byte(pem), "id": []byte("abcdef")}},
	})
	for _, tc := range []struct {
		name, text string
		leaks      int
	}{
		{"clean", "reconciled TenantCluster scale/tc-0001; token abcdef", 0},
		{"the token secret alone", "auth with SimTokenSecret000000000000000001 failed", 1},
		{"one line of a private key", "key: MHcCAQEEIBkg4LVWM9nuwda1Jy4dVzT3Hnuuukx0p7yY5R2UjNWjoAoGCCqGSM49", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := findLeaks(needles, map[string]string{"log": tc.text})
			if len(got) != tc.leaks {
				t.Fatalf("found %d leaks, want %d: %v", len(got), tc.leaks, got)
			}
			for _, l := range got {
				if strings.Contains(l, "SimTokenSecret") || strings.Contains(l, "MHcC") && len(l) > 80 {
					t.Fatalf("the report repeats the secret: %s", l)
				}
			}
		})
	}
}

func TestAuditReservations(t *testing.T) {
	marks := func(installation, kind, name, uid string) string {
		c, err := maas.FormatMarks(maas.Marks{Installation: installation, Purpose: maas.PurposeVIP, Kind: kind, Namespace: "ns", Name: name, UID: uid})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ranges := []maassim.IPRangeInfo{
		{Start: "10.0.0.2", End: "10.0.0.2", Comment: marks(agent, "TenantCluster", "live", "uid-live")},
		{Start: "10.0.0.3", End: "10.0.0.3", Comment: marks(agent, "TenantCluster", "gone", "uid-gone")},
		// Recreated under the same name: the old UID's reservation is an orphan.
		{Start: "10.0.0.4", End: "10.0.0.4", Comment: marks(agent, "TenantCluster", "live", "uid-old")},
		{Start: "10.0.0.5", End: "10.0.0.5", Comment: marks("another-installation", "TenantCluster", "x", "uid-x")},
		{Start: "10.0.0.6", End: "10.0.0.9", Comment: "made by hand"},
	}
	owners := []ownerObject{{Kind: "TenantCluster", Namespace: "ns", Name: "live", UID: "uid-live"}}
	n, orphans := auditReservations(ranges, agent, owners)
	if n != 3 || len(orphans) != 2 {
		t.Fatalf("reservations %d, orphans %v; want 3 and 2", n, orphans)
	}
	for i, want := range []string{"10.0.0.3", "10.0.0.4"} {
		if !strings.Contains(orphans[i], want) {
			t.Errorf("orphan %d = %q, want %s", i, orphans[i], want)
		}
	}
	if (auditReport{OrphanAddresses: orphans}).failed() != true {
		t.Error("an orphaned address does not fail the audit")
	}
}
