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
)

// Loopback returns specs with every IPv4 address moved into 127.0.0.0/8 by
// its first octet (10.20.1.10 becomes 127.20.1.10), so that the machines'
// emulated processes (internal/joinemu/controlplane: etcd on the machine's
// address, kube-apiserver beside it) listen on addresses of this host, all of
// which are loopback on Linux, and the operator dials them as it would on a
// data-centre network. Addresses stay unique when they were, and keep their
// subnets apart. IPv6 addresses are dropped: there is one loopback address.
func Loopback(specs []MachineSpec) []MachineSpec {
	out := slices.Clone(specs)
	for i := range out {
		var ips []string
		for _, ip := range out[i].IPs {
			if a, ok := LoopbackAddr(ip); ok {
				ips = append(ips, a)
			}
		}
		out[i].IPs = ips
	}
	return out
}

// LoopbackAddr moves an IPv4 address into 127.0.0.0/8 as Loopback does
// (a VIP of the same network follows its machines); ok is false for what is
// not an IPv4 address.
func LoopbackAddr(ip string) (string, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Unmap().Is4() {
		return "", false
	}
	b := a.Unmap().As4()
	b[0] = 127
	return netip.AddrFrom4(b).String(), true
}
