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
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"

	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// withLab declares a subnet with a DHCP range and an unmanaged one,
// beside the /24s the default inventory's machines imply (10.20.1.0/24
// for zone-a…), and a machine without inventory addresses.
func withLab(cfg *maassim.Config) {
	cfg.Subnets = []maassim.SubnetSpec{{
		CIDR: "10.50.0.0/24", Name: "lab",
		Dynamic: []maassim.RangeSpec{{Start: "10.50.0.200", End: "10.50.0.250"}},
	}, {CIDR: "10.70.0.0/24", Name: "outside", Unmanaged: true}}
	cfg.Inventory = append(cfg.Inventory, maassim.MachineSpec{Hostname: "bare-1", CPU: 2, MemoryMiB: 4096})
}

// userClient is a client with the key of a new non-admin MAAS user:
// reserving addresses and ranges needs no admin rights.
func userClient(t *testing.T, srv *maassim.Server, name string) *maas.Client {
	t.Helper()
	return newClient(t, srv, srv.AddUser(name, false))
}

func maasError(t *testing.T, err error) *maas.Error {
	t.Helper()
	me, ok := errors.AsType[*maas.Error](err)
	if !ok {
		t.Fatalf("want a *maas.Error, got %T: %v", err, err)
	}
	return me
}

func TestVIPReservedMarkedReleased(t *testing.T) {
	srv := startSim(t, withLab)
	c := userClient(t, srv, "operator")
	ctx := context.Background()
	a, b := owner("demo", ""), owner("other", "")

	res, err := c.ReserveVIP(ctx, maas.VIPRequest{Installation: agent, Owner: a, IP: "10.20.1.100", DNSName: "demo-api.maas"})
	if err != nil {
		t.Fatalf("ReserveVIP: %v", err)
	}
	if res.IP() != netip.MustParseAddr("10.20.1.100") || res.SubnetCIDR != "10.20.1.0/24" || res.RangeID == 0 || !res.Marks.Held(agent, a) {
		t.Fatalf("reservation: %+v", res)
	}
	state := srv.IPAM()
	if len(state.Reservations) != 1 || state.Reservations[0].Owner != "operator" || state.Reservations[0].DNSNames[0] != "demo-api.maas" {
		t.Fatalf("MAAS's reservations: %+v", state.Reservations)
	}
	// The lab's DHCP range, and the marks.
	if len(state.Ranges) != 2 || state.Ranges[1].Start != "10.20.1.100" || state.Ranges[1].End != "10.20.1.100" ||
		!strings.HasPrefix(state.Ranges[1].Comment, "maas-gateway:v1 vip inst="+agent+" kind=TenantCluster ns=team-a name=demo uid=uid-demo") {
		t.Fatalf("MAAS's ranges: %+v", state.Ranges)
	}

	// Repeating it (a requeue, a restart) finds the same reservation.
	again, err := c.ReserveVIP(ctx, maas.VIPRequest{Installation: agent, Owner: a, IP: "10.20.1.100", DNSName: "demo-api.maas"})
	if err != nil || again != res {
		t.Fatalf("repeated ReserveVIP: %+v, %v; want %+v", again, err, res)
	}
	if n := len(srv.IPAM().Ranges); n != 2 {
		t.Fatalf("%d ranges after a repeat", n)
	}

	// Found again from MAAS alone, by its marks.
	all, err := c.Reservations(ctx, agent)
	if err != nil || len(all.Marked) != 1 || len(all.Unmarked) != 0 || all.Of(a)[0] != res || len(all.Of(b)) != 0 {
		t.Fatalf("Reservations: %+v, %v", all, err)
	}
	if other, err := c.Reservations(ctx, "another-installation"); err != nil || len(other.Marked) != 0 {
		t.Fatalf("another installation's: %+v, %v", other, err)
	}

	// Another owner may not release it.
	err = c.ReleaseVIP(ctx, agent, b, "10.20.1.100")
	if me := maasError(t, err); me.Class != maas.ClassNotOwned || me.Holder == nil || !me.Holder.Held(agent, a) {
		t.Fatalf("release by another owner: %v", err)
	}
	if err := c.ReleaseVIP(ctx, agent, a, "10.20.1.100"); err != nil {
		t.Fatalf("ReleaseVIP: %v", err)
	}
	state = srv.IPAM()
	if len(state.Reservations) != 0 || len(state.Ranges) != 1 || len(state.DNSResources) != 0 {
		t.Fatalf("after release: %+v", state) // the lab's DHCP range stays
	}
	if err := c.ReleaseVIP(ctx, agent, a, "10.20.1.100"); err != nil {
		t.Fatalf("repeated ReleaseVIP: %v", err)
	}

	// MAAS may pick the address.
	picked, err := c.ReserveVIP(ctx, maas.VIPRequest{Installation: agent, Owner: a, Subnet: "lab"})
	if err != nil || picked.IP() != netip.MustParseAddr("10.50.0.2") {
		t.Fatalf("ReserveVIP on a subnet: %+v, %v", picked, err)
	}
	if again, err := c.ReserveVIP(ctx, maas.VIPRequest{Installation: agent, Owner: a, Subnet: "10.50.0.0/24"}); err != nil || again != picked {
		t.Fatalf("repeated ReserveVIP on a subnet: %+v, %v; want %+v", again, err, picked)
	}
	if n := len(srv.IPAM().Reservations); n != 1 {
		t.Fatalf("%d reservations after a repeat", n)
	}
}

func TestVIPRefusals(t *testing.T) {
	srv := startSim(t, withLab)
	admin := newClient(t, srv, srv.DefaultAPIKey())
	c := userClient(t, srv, "operator")
	bob := userClient(t, srv, "bob")
	ctx := context.Background()
	a := owner("demo", "")

	// A deployed machine's address.
	m, err := admin.Allocate(ctx, maas.AllocateRequest{AgentName: agent, Owner: owner("cp", "0"), Constraints: maas.Constraints{Zone: "zone-a"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Deploy(ctx, agent, m.SystemID, maas.DeployParams{DistroSeries: jammy}); err != nil {
		t.Fatal(err)
	}
	machineIP := simMachine(t, srv, m.SystemID).IPs[0]
	// Another MAAS user's reservation.
	if _, err := bob.ReserveVIP(ctx, maas.VIPRequest{Installation: "bobs-gw", Owner: owner("bobs", ""), IP: "10.20.1.101"}); err != nil {
		t.Fatal(err)
	}
	// A marked pool.
	pool, err := c.ReserveRange(ctx, maas.RangeRequest{Installation: agent, Owner: owner("lb", ""), Subnet: "lab", Start: "10.50.0.100", End: "10.50.0.109"})
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, ip string
		class    maas.Class
		reason   maas.Reason
		holder   *maas.Marks
		message  string
	}{
		{"a machine's", machineIP, maas.ClassConflict, maas.ReasonAddressInUse, nil,
			"The IP address " + machineIP + " is already in use. (held by machine " + m.Hostname + " (" + m.SystemID + "))"},
		// MAAS checks reserved ranges first, so a marked VIP is refused as in one.
		{"another user's, marked", "10.20.1.101", maas.ClassConflict, maas.ReasonAddressInReservedRange, &maas.Marks{Installation: "bobs-gw", Purpose: maas.PurposeVIP,
			Kind: "TenantCluster", Namespace: "team-a", Name: "bobs", UID: "uid-bobs"}, "held by TenantCluster team-a/bobs (uid uid-bobs) of installation bobs-gw"},
		{"in a pool", "10.50.0.105", maas.ClassConflict, maas.ReasonAddressInReservedRange, &pool.Marks,
			"10.50.0.105 is within the reserved range from 10.50.0.100 to 10.50.0.109 (held by TenantCluster team-a/lb"},
		{"the gateway", "10.50.0.1", maas.ClassConflict, maas.ReasonAddressInUse, nil,
			"The IP address 10.50.0.1 is already in use. (the gateway of subnet 10.50.0.0/24)"},
		{"outside every subnet", "192.0.2.10", maas.ClassInvalid, maas.ReasonNoSubnet, nil, "No known subnet for IP address: 192.0.2.10."},
		{"in the DHCP range", "10.50.0.210", maas.ClassInvalid, maas.ReasonAddressInDynamicRange, nil, "belongs to an existing dynamic range"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ReserveVIP(ctx, maas.VIPRequest{Installation: agent, Owner: a, IP: tt.ip})
			me := maasError(t, err)
			if me.Class != tt.class || me.Reason != tt.reason || !strings.Contains(me.Message, tt.message) {
				t.Fatalf("got %v (reason %q)", err, me.Reason)
			}
			if (tt.holder == nil) != (me.Holder == nil) || (tt.holder != nil && *me.Holder != *tt.holder) {
				t.Fatalf("holder %+v, want %+v", me.Holder, tt.holder)
			}
		})
	}
	if n := len(srv.IPAM().Reservations); n != 1 {
		t.Fatalf("refusals left %d reservations, want bob's alone", n)
	}

	// Refused before MAAS is asked.
	for _, req := range []maas.VIPRequest{
		{Installation: agent, Owner: a},
		{Installation: agent, Owner: a, IP: "10.1"},
		{Installation: agent, Owner: a, IP: "10.20.1.5", DNSName: "bad name"},
		{Installation: agent, Owner: maas.Owner{Kind: "TenantCluster", Name: "no-uid"}, IP: "10.20.1.5"},
		{Installation: "bad agent", Owner: a, IP: "10.20.1.5"},
	} {
		before := total(srv)
		if _, err := c.ReserveVIP(ctx, req); !maas.IsInvalid(err) || total(srv) != before {
			t.Fatalf("%+v: %v after %d requests", req, err, total(srv)-before)
		}
	}
}

// TestVIPContested: two objects reserving one address at once. MAAS's
// answers decide: exactly one wins, and the other's error names the winner,
// read from MAAS (its marks) and not from any memory of this process.
func TestVIPContested(t *testing.T) {
	srv := startSim(t, withLab)
	ctx := context.Background()
	round := 0
	for _, name := range []string{"one MAAS user", "two MAAS users"} {
		// Two controllers of one installation share its MAAS key; two
		// installations have keys of their own.
		users := [2]string{"gw", "gw"}
		if name == "two MAAS users" {
			users = [2]string{"gw-x", "gw-y"}
		}
		pair := [2]*maas.Client{userClient(t, srv, users[0]), userClient(t, srv, users[1])}
		for range 10 {
			round++
			ip := fmt.Sprintf("10.50.0.%d", 10+round)
			owners := [2]maas.Owner{owner(fmt.Sprintf("a%d", round), ""), owner(fmt.Sprintf("b%d", round), "")}
			var wg sync.WaitGroup
			var res [2]maas.Reservation
			var errs [2]error
			for i := range 2 {
				wg.Go(func() {
					res[i], errs[i] = pair[i].ReserveVIP(ctx, maas.VIPRequest{Installation: agent, Owner: owners[i], IP: ip})
				})
			}
			wg.Wait()
			if (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("%s, %s: errors %v / %v; want exactly one winner", name, ip, errs[0], errs[1])
			}
			win, lose := 0, 1
			if errs[0] != nil {
				win, lose = 1, 0
			}
			me := maasError(t, errs[lose])
			if me.Class != maas.ClassConflict || (me.Reason != maas.ReasonAddressInUse && me.Reason != maas.ReasonAddressInReservedRange) {
				t.Fatalf("%s, %s: loser's error %v", name, ip, errs[lose])
			}
			switch {
			case me.Holder != nil:
				if !me.Holder.Held(agent, owners[win]) || !strings.Contains(me.Error(), owners[win].String()) {
					t.Fatalf("%s, %s: loser's error %v names %+v, want %s", name, ip, errs[lose], me.Holder, owners[win])
				}
			case users[0] != users[1]:
				// Asked before the winner's marks existed, MAAS can only
				// say which of its users holds the address.
				if !strings.Contains(me.Message, "reserved by MAAS user "+users[win]) {
					t.Fatalf("%s, %s: loser's error %v names no holder", name, ip, errs[lose])
				}
			default:
				t.Fatalf("%s, %s: loser's error %v names no holder", name, ip, errs[lose])
			}
			// MAAS agrees: one reservation, one marking range, the winner's.
			marked := 0
			for _, r := range srv.IPAM().Ranges {
				if r.Start == ip {
					marked++
					if m, ok := maas.ParseMarks(r.Comment); !ok || !m.Held(agent, owners[win]) {
						t.Fatalf("%s: range marks %q", ip, r.Comment)
					}
				}
			}
			if marked != 1 || res[win].IP().String() != ip {
				t.Fatalf("%s: %d marking ranges, winner's %+v", ip, marked, res[win])
			}
		}
	}
}

// TestVIPCrashWindows: the states a crash can leave between the two
// requests of a reservation or of a release, and how they heal.
func TestVIPCrashWindows(t *testing.T) {
	srv := startSim(t, withLab)
	c := userClient(t, srv, "operator")
	ctx := context.Background()
	a := owner("demo", "")
	gc, err := client.GetClient(srv.URL, srv.AddUser("operator", false), "2.0")
	if err != nil {
		t.Fatal(err)
	}

	// Reserved, never marked: listed as unmarked; the owner's retry marks it.
	if _, err = gc.IPAddresses.Reserve(&entity.IPAddressesParams{IP: "10.50.0.20"}); err != nil {
		t.Fatal(err)
	}
	all, err := c.Reservations(ctx, agent)
	if err != nil || len(all.Marked) != 0 || len(all.Unmarked) != 1 || all.Unmarked[0].String() != "10.50.0.20" {
		t.Fatalf("unmarked: %+v, %v", all, err)
	}
	res, err := c.ReserveVIP(ctx, maas.VIPRequest{Installation: agent, Owner: a, IP: "10.50.0.20"})
	if err != nil || !res.Marks.Held(agent, a) {
		t.Fatalf("adopting an unmarked reservation: %+v, %v", res, err)
	}
	if all, _ := c.Reservations(ctx, agent); len(all.Marked) != 1 || len(all.Unmarked) != 0 {
		t.Fatalf("after adoption: %+v", all)
	}

	// Released address, marking range left: the next reservation
	// reserves anew, the next release just drops the range.
	if err := gc.IPAddresses.Release(&entity.IPAddressesParams{IP: "10.50.0.20"}); err != nil {
		t.Fatal(err)
	}
	again, err := c.ReserveVIP(ctx, maas.VIPRequest{Installation: agent, Owner: a, IP: "10.50.0.20"})
	if err != nil || again.RangeID == res.RangeID {
		t.Fatalf("re-reserving under a stale mark: %+v, %v", again, err)
	}
	if st := srv.IPAM(); len(st.Reservations) != 1 || len(st.Ranges) != 2 {
		t.Fatalf("after re-reserving: %+v", st)
	}
	if err := gc.IPAddresses.Release(&entity.IPAddressesParams{IP: "10.50.0.20"}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReleaseVIP(ctx, agent, a, "10.50.0.20"); err != nil {
		t.Fatalf("releasing a mark without its address: %v", err)
	}
	if st := srv.IPAM(); len(st.Reservations) != 0 || len(st.Ranges) != 1 {
		t.Fatalf("after release: %+v", st)
	}

	// The sweep releases an unmarked address, and never a marked one.
	if _, err := gc.IPAddresses.Reserve(&entity.IPAddressesParams{IP: "10.50.0.21"}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReleaseUnmarked(ctx, "10.50.0.21"); err != nil {
		t.Fatalf("ReleaseUnmarked: %v", err)
	}
	if _, err := c.ReserveVIP(ctx, maas.VIPRequest{Installation: agent, Owner: a, IP: "10.50.0.22"}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReleaseUnmarked(ctx, "10.50.0.22"); !maas.IsConflict(err) || maasError(t, err).Holder == nil {
		t.Fatalf("ReleaseUnmarked of a marked address: %v", err)
	}
	if n := len(srv.IPAM().Reservations); n != 1 {
		t.Fatalf("%d reservations, want 10.50.0.22's", n)
	}

	// Marking failed (MAAS unavailable for ranges): the address stays
	// reserved and unmarked, the error says so, and a retry marks it.
	srv.SetFaults(maassim.Faults{Endpoints: []maassim.EndpointFault{{Method: "POST", Endpoint: "ipranges/", ErrorRate: 1}}})
	_, err = c.ReserveVIP(ctx, maas.VIPRequest{Installation: agent, Owner: a, IP: "10.50.0.23"})
	if !maas.IsTransient(err) || !strings.Contains(err.Error(), "reserved but not yet marked") {
		t.Fatalf("marking under faults: %v", err)
	}
	srv.SetFaults(maassim.Faults{})
	if _, err := c.ReserveVIP(ctx, maas.VIPRequest{Installation: agent, Owner: a, IP: "10.50.0.23"}); err != nil {
		t.Fatalf("retry after the fault: %v", err)
	}
}

func TestLoadBalancerRanges(t *testing.T) {
	srv := startSim(t, withLab)
	c := userClient(t, srv, "operator")
	ctx := context.Background()
	a, b := owner("demo", ""), owner("other", "")

	pool, err := c.ReserveRange(ctx, maas.RangeRequest{Installation: agent, Owner: a, Subnet: "10.50.0.0/24", Count: 8})
	if err != nil || pool.Start.String() != "10.50.0.2" || pool.End.String() != "10.50.0.9" || pool.Size() != 8 || pool.Marks.Purpose != maas.PurposeLoadBalancer {
		t.Fatalf("ReserveRange: %+v, %v", pool, err)
	}
	if again, err := c.ReserveRange(ctx, maas.RangeRequest{Installation: agent, Owner: a, Subnet: "lab", Count: 8}); err != nil || again != pool {
		t.Fatalf("repeated ReserveRange: %+v, %v", again, err)
	}
	next, err := c.ReserveRange(ctx, maas.RangeRequest{Installation: agent, Owner: b, Subnet: "lab", Count: 4})
	if err != nil || next.Start.String() != "10.50.0.10" {
		t.Fatalf("second pool: %+v, %v", next, err)
	}
	_, err = c.ReserveRange(ctx, maas.RangeRequest{Installation: agent, Owner: b, Subnet: "lab", Start: "10.50.0.8", End: "10.50.0.12"})
	if me := maasError(t, err); me.Class != maas.ClassConflict || me.Reason != maas.ReasonRangeOverlap || me.Holder == nil {
		t.Fatalf("overlap: %v", err)
	}
	if _, err := c.ReserveRange(ctx, maas.RangeRequest{Installation: agent, Owner: b, Subnet: "10.99.0.0/24", Count: 2}); !maas.IsInvalid(err) {
		t.Fatalf("unknown subnet: %v", err)
	}
	if _, err := c.ReserveRange(ctx, maas.RangeRequest{Installation: agent, Owner: b, Subnet: "outside", Count: 2}); !maas.IsInvalid(err) ||
		!strings.Contains(err.Error(), "not managed") {
		t.Fatalf("unmanaged subnet: %v", err)
	}

	// A machine deployed now gets an address outside both pools.
	admin := newClient(t, srv, srv.DefaultAPIKey())
	m, err := admin.Allocate(ctx, maas.AllocateRequest{AgentName: agent, Owner: owner("w", "0")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Deploy(ctx, agent, m.SystemID, maas.DeployParams{DistroSeries: jammy}); err != nil {
		t.Fatal(err)
	}
	if ip := simMachine(t, srv, m.SystemID).IPs[0]; ip != "10.50.0.14" {
		t.Fatalf("bare-1 got %s, want 10.50.0.14 (after both pools)", ip)
	}

	if err := c.ReleaseRange(ctx, agent, b, pool.RangeID); !maas.IsNotOwned(err) {
		t.Fatalf("release by another owner: %v", err)
	}
	if err := c.ReleaseRange(ctx, agent, a, pool.RangeID); err != nil {
		t.Fatalf("ReleaseRange: %v", err)
	}
	if err := c.ReleaseRange(ctx, agent, a, pool.RangeID); err != nil {
		t.Fatalf("repeated ReleaseRange: %v", err)
	}
	all, err := c.Reservations(ctx, agent)
	if err != nil || len(all.Marked) != 1 || all.Marked[0] != next {
		t.Fatalf("left: %+v, %v", all, err)
	}
}

func TestSubnetFullIsNoCapacityWithoutRetries(t *testing.T) {
	srv := startSim(t, func(cfg *maassim.Config) {
		cfg.Subnets = []maassim.SubnetSpec{{CIDR: "10.60.0.5/32"}} // one address: the gateway's
	})
	c := userClient(t, srv, "operator")
	_, err := c.ReserveVIP(context.Background(), maas.VIPRequest{Installation: agent, Owner: owner("demo", ""), Subnet: "10.60.0.5/32"})
	if me := maasError(t, err); me.Class != maas.ClassNoCapacity || me.Reason != maas.ReasonSubnetFull || me.StatusCode != 503 {
		t.Fatalf("full subnet: %v", err)
	}
	if n := count(srv, "POST", "ipaddresses/", "reserve"); n != 1 {
		t.Fatalf("%d reserve requests, want 1: a full subnet is not a busy MAAS", n)
	}
}
