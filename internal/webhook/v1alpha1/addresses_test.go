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

package v1alpha1

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

func TestMachineWithAddress(t *testing.T) {
	machines := []maas.Machine{
		{SystemID: "a1", Hostname: "node-01", Addresses: []string{"10.20.1.10", "fd00::10"}},
		{SystemID: "b2", Hostname: "node-02", Addresses: []string{"not an address", "10.20.1.11"}},
	}
	for _, tc := range []struct {
		ip   string
		want string
	}{
		{"10.20.1.10", "a1"},
		{"10.20.1.11", "b2"},
		{"fd00::10", "a1"},
		{"10.20.1.12", ""},
		{"::ffff:10.20.1.11", "b2"},
	} {
		m, ok := machineWithAddress(machines, netip.MustParseAddr(tc.ip))
		if got := m.SystemID; ok != (tc.want != "") || got != tc.want {
			t.Errorf("%s: got %q (%v), want %q", tc.ip, got, ok, tc.want)
		}
	}
}

// snapshots serves no snapshot, or one that failed.
type snapshots map[string]*maas.Snapshot

func (s snapshots) Snapshot(account string) (*maas.Snapshot, bool) {
	snap, ok := s[account]
	return snap, ok
}

// TestCheckVIPNotMachine runs the check against the inventory the
// operator shares with its webhooks, polling a simulator in which the
// installation deployed a machine.
func TestCheckVIPNotMachine(t *testing.T) {
	if errs, warns := checkVIPNotMachine(nil, "ns/acct", netip.MustParseAddr("10.30.0.10")); errs != nil || warns != nil {
		t.Fatalf("no inventory wired: got %v %v, want the check skipped", errs, warns)
	}
	if errs, warns := checkVIPNotMachine(snapshots{}, "ns/acct", netip.MustParseAddr("10.30.0.10")); errs != nil || len(warns) != 1 ||
		!strings.Contains(warns[0], "could not be checked") {
		t.Fatalf("account not polled: got %v %v, want one warning", errs, warns)
	}

	sim, err := maassim.Start(maassim.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	key, err := maas.ParseAPIKey(sim.DefaultAPIKey())
	if err != nil {
		t.Fatal(err)
	}
	c, err := maas.NewFactory(maas.Options{}).Client(maas.Config{Endpoint: sim.URL, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	inv := maas.NewInventory(maas.InventoryOptions{Interval: 50 * time.Millisecond})
	if err := inv.Register("ns/acct", c, "maas-gateway-test"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { _ = inv.Start(ctx) }()
	m, err := inv.Allocate(ctx, "ns/acct", maas.Owner{Kind: "TenantCluster", Namespace: "ns", Name: "a", UID: "u1"}, maas.Constraints{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inv.Deploy(ctx, "ns/acct", m.SystemID, maas.DeployParams{DistroSeries: "jammy"}); err != nil {
		t.Fatal(err)
	}
	var addr string
	for addr == "" && ctx.Err() == nil {
		if snap, ok := inv.Snapshot("ns/acct"); ok {
			if got, ok := snap.Machine(m.SystemID); ok && len(got.Addresses) > 0 && !snap.PolledAt.IsZero() {
				addr = got.Addresses[0]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if addr == "" {
		t.Fatal("the inventory never showed the machine's address")
	}
	errs, warns := checkVIPNotMachine(inv, "ns/acct", netip.MustParseAddr(addr))
	if len(errs) != 1 || warns != nil || !strings.Contains(errs[0].Error(), m.SystemID) || !strings.Contains(errs[0].Error(), "spec.controlPlaneEndpoint") {
		t.Fatalf("VIP %s of machine %s: got %v %v, want one refusal naming the machine", addr, m.SystemID, errs, warns)
	}
	if errs, warns := checkVIPNotMachine(inv, "ns/acct", netip.MustParseAddr("10.30.0.10")); errs != nil || warns != nil {
		t.Fatalf("a free VIP: got %v %v", errs, warns)
	}
}
