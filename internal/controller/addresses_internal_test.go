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
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

func TestJudgeVIP(t *testing.T) {
	holder := &maas.Marks{Installation: "maas-gateway-1", Purpose: maas.PurposeVIP, Kind: "TenantCluster", Namespace: "team-a", Name: "first", UID: "u1"}
	refusal := func(class maas.Class, reason maas.Reason, msg string, h *maas.Marks) error {
		return &maas.Error{Class: class, Op: "reserve address", Reason: reason, Message: msg, Holder: h}
	}
	for _, tc := range []struct {
		name      string
		err       error
		held      bool
		reason    string
		transient bool
		says      []string
	}{
		{"reserved", nil, true, infrav1.ReasonVIPReserved, false, []string{"10.30.0.10", "reserved"}},
		{"marked for another object", refusal(maas.ClassConflict, maas.ReasonAddressInUse, "The IP address 10.30.0.10 is already in use.", holder),
			false, infrav1.ReasonVIPReservedByOther, false, []string{"10.30.0.10", "TenantCluster team-a/first", "maas-gateway-1"}},
		{"a machine holds it", refusal(maas.ClassConflict, maas.ReasonAddressInUse, "The IP address 10.30.0.10 is already in use. (held by machine node-01 (abc123))", nil),
			false, infrav1.ReasonVIPInUse, false, []string{"10.30.0.10", "node-01", "no machine is allocated"}},
		{"in an unmarked reserved range", refusal(maas.ClassConflict, maas.ReasonAddressInReservedRange, "10.30.0.10 is within the reserved range from 10.30.0.1 to 10.30.0.20", nil),
			false, infrav1.ReasonVIPInReservedRange, false, []string{"reserved range"}},
		{"in a dynamic range", refusal(maas.ClassInvalid, maas.ReasonAddressInDynamicRange, "IP address 10.30.0.10 belongs to an existing dynamic range.", nil),
			false, infrav1.ReasonVIPInDynamicRange, false, []string{"DHCP"}},
		{"outside every subnet", refusal(maas.ClassInvalid, maas.ReasonNoSubnet, "No known subnet for IP address: 10.30.0.10.", nil),
			false, infrav1.ReasonVIPOutsideSubnets, false, []string{"outside every subnet"}},
		{"another conflict", refusal(maas.ClassConflict, "", "keeps changing hands", nil), false, infrav1.ReasonVIPInUse, false, []string{"taken"}},
		{"MAAS unreachable", refusal(maas.ClassTransient, "", "connection refused", nil), false, infrav1.ReasonVIPReservationFailed, true, []string{"retrying"}},
		{"not a MAAS error", errors.New("context deadline exceeded"), false, infrav1.ReasonVIPReservationFailed, true, []string{"retrying"}},
		{"refused otherwise", refusal(maas.ClassUnauthorized, "", "bad key", nil), false, infrav1.ReasonVIPReservationFailed, false, []string{"bad key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := judgeVIP("10.30.0.10", tc.err)
			if v.held != tc.held || v.reason != tc.reason || v.transient != tc.transient {
				t.Fatalf("got held=%v reason=%s transient=%v, want %v %s %v", v.held, v.reason, v.transient, tc.held, tc.reason, tc.transient)
			}
			for _, s := range tc.says {
				if !strings.Contains(v.message, s) {
					t.Errorf("message %q does not say %q", v.message, s)
				}
			}
		})
	}
}

func TestReleasableOrphans(t *testing.T) {
	res := func(name, uid, ip string, id int) maas.Reservation {
		a := netip.MustParseAddr(ip)
		return maas.Reservation{Marks: maas.Marks{Installation: "i", Purpose: maas.PurposeVIP, Kind: "TenantCluster", Namespace: "ns", Name: name, UID: uid},
			Start: a, End: a, RangeID: id}
	}
	alive, dead, recreated := res("alive", "u1", "10.30.0.1", 1), res("dead", "u2", "10.30.0.2", 2), res("again", "old", "10.30.0.3", 3)
	gone := func(o maas.Owner) bool { return o.Name != "alive" }
	t0 := time.Unix(1000, 0)
	const grace = time.Minute
	seen := map[string]time.Time{}

	for _, step := range []struct {
		name     string
		at       time.Time
		marked   []maas.Reservation
		released []string
		next     time.Duration
	}{
		{"first seen: nothing yet", t0, []maas.Reservation{alive, dead, recreated}, nil, grace},
		{"within grace", t0.Add(40 * time.Second), []maas.Reservation{alive, dead, recreated}, nil, 20 * time.Second},
		{"grace passed", t0.Add(grace), []maas.Reservation{alive, dead, recreated}, []string{"dead", "again"}, 0},
		{"dead gone from MAAS, recreated still there", t0.Add(grace + time.Second), []maas.Reservation{alive, recreated}, []string{"again"}, 0},
	} {
		got, next := releasableOrphans("acct", step.marked, gone, seen, step.at, grace)
		var names []string
		for _, r := range got {
			names = append(names, r.Marks.Name)
		}
		if strings.Join(names, ",") != strings.Join(step.released, ",") || next != step.next {
			t.Fatalf("%s: released %v next %s, want %v %s", step.name, names, next, step.released, step.next)
		}
	}
	if len(seen) != 1 {
		t.Fatalf("seen keeps %d entries, want the 1 orphan still in MAAS", len(seen))
	}
	// Another account's sweep leaves this one's clock alone.
	releasableOrphans("other", nil, gone, seen, t0, grace)
	if len(seen) != 1 {
		t.Fatalf("another account's sweep dropped this one's entries")
	}
	// An owner that comes back (a restore from backup) restarts the clock.
	back := func(maas.Owner) bool { return false }
	releasableOrphans("acct", []maas.Reservation{recreated}, back, seen, t0.Add(2*grace), grace)
	if len(seen) != 0 {
		t.Fatalf("an owner back in the cluster is still counted orphaned")
	}
}

func TestAPIDNSName(t *testing.T) {
	for _, tt := range []struct{ name, domain, want string }{
		{"prod", "dc1.example.com", "prod-api.dc1.example.com"},
		{"prod", "", ""},
		{"a.b", "maas", ""}, // MAAS would read "b-api.maas" as the domain
		{strings.Repeat("x", 60), "maas", ""},
		{strings.Repeat("x", 59), "maas", strings.Repeat("x", 59) + "-api.maas"},
	} {
		if got := apiDNSName(tt.name, tt.domain); got != tt.want {
			t.Errorf("apiDNSName(%q, %q) = %q, want %q", tt.name, tt.domain, got, tt.want)
		}
	}
}
