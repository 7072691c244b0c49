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

package maassim

import (
	"net/netip"
	"slices"
	"testing"
)

func TestLoopback(t *testing.T) {
	in := []MachineSpec{
		{Hostname: "a", IPs: []string{"10.20.1.10", "fd00::10"}},
		{Hostname: "b", IPs: []string{"::ffff:10.20.2.11"}},
		{Hostname: "c"},
	}
	out := Loopback(in)
	if got := out[0].IPs; !slices.Equal(got, []string{"127.20.1.10"}) {
		t.Errorf("a: %v", got)
	}
	if got := out[1].IPs; !slices.Equal(got, []string{"127.20.2.11"}) {
		t.Errorf("b: %v", got)
	}
	if len(out[2].IPs) != 0 {
		t.Errorf("c: %v", out[2].IPs)
	}
	if in[0].IPs[0] != "10.20.1.10" {
		t.Errorf("the input changed: %v", in[0].IPs)
	}
	if _, ok := LoopbackAddr("not an ip"); ok {
		t.Error("LoopbackAddr accepted a non-address")
	}
}

// Every machine of the built-in and generated inventories keeps a unique
// loopback address.
func TestLoopbackInventoriesStayUnique(t *testing.T) {
	for name, inv := range map[string][]MachineSpec{
		"default":   DefaultInventory(),
		"generated": GenerateInventory(3000, 1),
	} {
		seen := map[string]string{}
		for _, m := range Loopback(inv) {
			if len(m.IPs) == 0 {
				t.Fatalf("%s: %s lost its address", name, m.Hostname)
			}
			for _, ip := range m.IPs {
				if !netip.MustParseAddr(ip).IsLoopback() {
					t.Fatalf("%s: %s has %s", name, m.Hostname, ip)
				}
				if other, dup := seen[ip]; dup {
					t.Fatalf("%s: %s and %s share %s", name, m.Hostname, other, ip)
				}
				seen[ip] = m.Hostname
			}
		}
	}
}
