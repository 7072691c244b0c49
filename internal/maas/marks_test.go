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
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var demoMarks = Marks{Installation: "gw-1234", Purpose: PurposeVIP, Kind: "TenantCluster", Namespace: "team-a",
	Name: "demo", UID: "5f0c7a8e-1b2c-4d3e-8f90-123456789abc"}

func TestFormatMarks(t *testing.T) {
	long := demoMarks
	long.Name = strings.Repeat("n", 200)
	for _, tt := range []struct {
		name string
		m    Marks
		want string // "" for an error
	}{
		{"vip", demoMarks, "maas-gateway:v1 vip inst=gw-1234 kind=TenantCluster ns=team-a name=demo uid=5f0c7a8e-1b2c-4d3e-8f90-123456789abc"},
		{"cluster-scoped", Marks{Installation: "gw", Purpose: PurposeLoadBalancer, Kind: "Gateway", Name: "main", UID: "u1"},
			"maas-gateway:v1 lb inst=gw kind=Gateway name=main uid=u1"},
		{"escaped", Marks{Installation: "gw", Purpose: PurposeVIP, Kind: "K", Name: "a b=c%d", UID: "ü"},
			"maas-gateway:v1 vip inst=gw kind=K name=a%20b%3Dc%25d uid=%C3%BC"},
		{"no installation", Marks{Purpose: PurposeVIP, Kind: "K", Name: "n", UID: "u"}, ""},
		{"bad installation", Marks{Installation: "gw 1", Purpose: PurposeVIP, Kind: "K", Name: "n", UID: "u"}, ""},
		{"no purpose", Marks{Installation: "gw", Kind: "K", Name: "n", UID: "u"}, ""},
		{"purpose with '='", Marks{Installation: "gw", Purpose: "a=b", Kind: "K", Name: "n", UID: "u"}, ""},
		{"no uid", Marks{Installation: "gw", Purpose: PurposeVIP, Kind: "K", Name: "n"}, ""},
		{"longer than MAAS keeps", long, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FormatMarks(tt.m)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
			back, ok := ParseMarks(got)
			if !ok || back != tt.m {
				t.Fatalf("round trip: %+v %v", back, ok)
			}
		})
	}
}

func TestParseMarks(t *testing.T) {
	for _, tt := range []struct {
		name    string
		comment string
		want    *Marks
	}{
		{"formatted", "maas-gateway:v1 vip inst=gw-1234 kind=TenantCluster ns=team-a name=demo uid=5f0c7a8e-1b2c-4d3e-8f90-123456789abc", &demoMarks},
		{"keys in any order, extra spaces", "  maas-gateway:v1  vip uid=5f0c7a8e-1b2c-4d3e-8f90-123456789abc name=demo ns=team-a kind=TenantCluster inst=gw-1234 ", &demoMarks},
		{"unknown keys skipped", "maas-gateway:v1 vip inst=gw-1234 kind=TenantCluster ns=team-a name=demo uid=5f0c7a8e-1b2c-4d3e-8f90-123456789abc pool=x", &demoMarks},
		{"empty", "", nil},
		{"a human's comment", "reserved for the lab printers", nil},
		{"another prefix", "maas-gateway:v2 vip inst=gw kind=K name=n uid=u", nil},
		{"no purpose", "maas-gateway:v1", nil},
		{"purpose is a pair", "maas-gateway:v1 inst=gw kind=K name=n uid=u", nil},
		{"missing uid", "maas-gateway:v1 vip inst=gw kind=K name=n", nil},
		{"missing installation", "maas-gateway:v1 vip kind=K name=n uid=u", nil},
		{"repeated key", "maas-gateway:v1 vip inst=gw kind=K name=n name=m uid=u", nil},
		{"bare word", "maas-gateway:v1 vip inst=gw kind=K name=n uid=u extra", nil},
		{"empty key", "maas-gateway:v1 vip inst=gw kind=K name=n uid=u =x", nil},
		{"bad escape", "maas-gateway:v1 vip inst=gw kind=K name=n%zz uid=u", nil},
		{"installation not an agent name", "maas-gateway:v1 vip inst=g%20w kind=K name=n uid=u", nil},
		{"empty name", "maas-gateway:v1 vip inst=gw kind=K name= uid=u", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseMarks(tt.comment)
			if tt.want == nil {
				if ok {
					t.Fatalf("parsed %+v from %q", got, tt.comment)
				}
				return
			}
			if !ok || got != *tt.want {
				t.Fatalf("got %+v %v, want %+v", got, ok, *tt.want)
			}
		})
	}
}

// FuzzParseMarks: no comment, however damaged or hostile, panics the
// parser; what it accepts names an owner and formats back (when it fits)
// to a comment that parses to the same marks.
func FuzzParseMarks(f *testing.F) {
	for _, s := range []string{
		"maas-gateway:v1 vip inst=gw-1234 kind=TenantCluster ns=team-a name=demo uid=5f0c",
		"maas-gateway:v1 lb inst=gw kind=Gateway name=main uid=u1 extra=1",
		"maas-gateway:v1 vip inst=gw kind=K name=a%20b%3Dc%25d uid=%C3%BC",
		"maas-gateway:v1 vip inst=gw kind=K name=n name=m uid=u",
		"reserved for the lab printers", "", "maas-gateway:v1 x =",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, comment string) {
		m, ok := ParseMarks(comment)
		if !ok {
			if m != (Marks{}) {
				t.Fatalf("refused %q but returned %+v", comment, m)
			}
			return
		}
		if m.Installation == "" || m.Kind == "" || m.Name == "" || m.UID == "" || m.Purpose == "" {
			t.Fatalf("accepted %q with a missing field: %+v", comment, m)
		}
		out, err := FormatMarks(m)
		if err != nil {
			// Parse checks what Format does, so only the length may fail:
			// escaping what was written raw can make it too long to keep.
			if !strings.Contains(err.Error(), "more than") {
				t.Fatalf("accepted %q but cannot format it: %v", comment, err)
			}
			return
		}
		if len(out) > MaxCommentLen {
			t.Fatalf("formatted %d characters", len(out))
		}
		back, ok := ParseMarks(out)
		if !ok || back != m {
			t.Fatalf("%q → %+v → %q → %+v %v", comment, m, out, back, ok)
		}
	})
}

func TestClassifyAddressAnswers(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		class  Class
		reason Reason
	}{
		{http.StatusNotFound, "The IP address 10.0.0.5 is already in use.", ClassConflict, ReasonAddressInUse},
		{http.StatusNotFound, "10.0.0.5 is within the reserved range from 10.0.0.1 to 10.0.0.9", ClassConflict, ReasonAddressInReservedRange},
		{http.StatusForbidden, "IP address 10.0.0.5 belongs to an existing dynamic range. To reserve this IP address, a MAC address is required. (Create a device instead.)",
			ClassInvalid, ReasonAddressInDynamicRange},
		{http.StatusBadRequest, "No known subnet for IP address: 192.0.2.1.", ClassInvalid, ReasonNoSubnet},
		{http.StatusBadRequest, "Unable to identify subnet: 10.9.0.0/24.", ClassInvalid, ReasonNoSubnet},
		{http.StatusServiceUnavailable, "No more IPs available in subnet: 10.0.0.0/24.", ClassNoCapacity, ReasonSubnetFull},
		{http.StatusBadRequest, `{"start_ip": ["Requested reserved range conflicts with an existing range."], "end_ip": ["Requested reserved range conflicts with an existing range."]}`,
			ClassConflict, ReasonRangeOverlap},
		{http.StatusBadRequest, "IP address 10.0.0.5 does not exist, is not the correct type of address, or does not belong to the requesting user.\nIf you are sure you want to release this address, use force=true as a MAAS administrator.",
			ClassNotFound, ReasonNotReserved},
		// Everything else keeps the status's class and no reason.
		{http.StatusNotFound, "No Domain matches the given query.", ClassNotFound, ""},
		{http.StatusForbidden, "", ClassUnauthorized, ""},
		{http.StatusServiceUnavailable, "", ClassTransient, ""},
		{http.StatusBadRequest, "Must supply either the 'subnet' or the 'ip' parameter.", ClassInvalid, ""},
	} {
		if class, reason := classifyAddress(tt.status, tt.body); class != tt.class || reason != tt.reason {
			t.Errorf("%d %q: got %v %q, want %v %q", tt.status, tt.body, class, reason, tt.class, tt.reason)
		}
	}
}

func TestReleasableUnmarked(t *testing.T) {
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	a, b, c := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	seen := []UnmarkedAddress{
		{IP: a, Since: now.Add(-10 * time.Minute)}, // past the grace
		{IP: b, Since: now.Add(-5 * time.Minute)},  // exactly at it
		{IP: c, Since: now.Add(-time.Minute)},      // still within it
		{IP: c},                                    // never seen: no clock, never released
	}
	for _, tt := range []struct {
		grace time.Duration
		want  []netip.Addr
	}{
		{5 * time.Minute, []netip.Addr{a, b}},
		{time.Hour, nil},
		{0, []netip.Addr{a, b, c}},
	} {
		if got := ReleasableUnmarked(seen, now, tt.grace); !slices.Equal(got, tt.want) {
			t.Errorf("grace %v: got %v, want %v", tt.grace, got, tt.want)
		}
	}
}
