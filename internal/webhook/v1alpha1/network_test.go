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
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

var testPaths = networkPaths{pod: field.NewPath("pod"), service: field.NewPath("svc")}

func TestParseCIDR(t *testing.T) {
	tests := []struct {
		in       string
		want     string
		hostBits bool
		wantErr  bool
	}{
		{in: "10.96.0.0/12", want: "10.96.0.0/12"},
		{in: "10.96.0.1/12", want: "10.96.0.0/12", hostBits: true},
		{in: "fd00::/48", want: "fd00::/48"},
		{in: "fd00::1/48", want: "fd00::/48", hostBits: true},
		{in: "10.0.0.0", wantErr: true},
		{in: "10.0.0.0/33", wantErr: true},
		{in: "fe80::%eth0/64", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, hostBits, err := parseCIDR(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseCIDR(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if p.String() != tt.want || hostBits != tt.hostBits {
				t.Errorf("parseCIDR(%q) = %s, %v; want %s, %v", tt.in, p, hostBits, tt.want, tt.hostBits)
			}
		})
	}
}

func TestCheckNetwork(t *testing.T) {
	tests := []struct {
		name           string
		pod, svc       string
		machines       int
		minor          int
		wantErrs       []string // substrings, one per expected error, in order
		wantWarnSubstr string
	}{
		{name: "defaults", pod: DefaultPodCIDR, svc: DefaultServiceCIDR, machines: 10, minor: 34},
		{name: "both empty", machines: 3},
		{name: "pod narrower than a node range", pod: "10.244.0.0/25", svc: DefaultServiceCIDR, machines: 1,
			wantErrs: []string{"pod: Invalid value: \"10.244.0.0/25\": too small: each node takes a /24"}},
		{name: "pod exactly one node range", pod: "10.244.0.0/24", svc: DefaultServiceCIDR, machines: 1},
		{name: "pod too small for the machines", pod: "10.244.0.0/22", svc: DefaultServiceCIDR, machines: 5,
			wantErrs: []string{"has room for 4 nodes (a /24 each) but the cluster asks for 5 machines"}},
		{name: "wide IPv4 pod range is fine", pod: "10.0.0.0/8", svc: "192.168.0.0/16", machines: 1000},
		{name: "IPv6 pod too large", pod: "fd00::/40", svc: "fd01::/112", machines: 1,
			wantErrs: []string{"too large: Kubernetes splits an IPv6 pod range into at most 2^16 node ranges of /64"}},
		{name: "IPv6 pod /48 fine", pod: "fd00::/48", svc: "fd01::/112", machines: 1},
		{name: "IPv6 pod narrower than /64", pod: "fd00::/80", svc: "fd01::/112", machines: 1,
			wantErrs: []string{"too small: each node takes a /64"}},
		{name: "service too small", pod: DefaultPodCIDR, svc: "10.96.0.0/29", machines: 1,
			wantErrs: []string{"svc: Invalid value: \"10.96.0.0/29\": too small: cluster DNS takes the 10th service address, so the range must be /28 or wider"}},
		{name: "service /28 fine", pod: DefaultPodCIDR, svc: "10.96.0.0/28", machines: 1},
		{name: "service wider than /12 refused before 1.34", pod: DefaultPodCIDR, svc: "10.0.0.0/8", machines: 1, minor: 33,
			wantErrs: []string{"too large: Kubernetes before v1.34 accepts a service range of /12 or narrower"}},
		{name: "service wider than /12 accepted from 1.34", pod: "172.16.0.0/16", svc: "10.0.0.0/8", machines: 1, minor: 34},
		{name: "service wider than /12 warned for an unknown version", pod: "172.16.0.0/16", svc: "10.0.0.0/8", machines: 1,
			wantWarnSubstr: "wider than /12, which Kubernetes before v1.34 refuses"},
		{name: "overlap", pod: "10.0.0.0/8", svc: "10.96.0.0/12", machines: 1,
			wantErrs: []string{"overlaps pod 10.0.0.0/8"}},
		{name: "families differ", pod: "fd00::/48", svc: "10.96.0.0/12", machines: 1,
			wantErrs: []string{"must be of the same IP family as pod fd00::/48"}},
		{name: "not a CIDR", pod: "192.168.0.0", svc: "10.96.0.0/12", machines: 1,
			wantErrs: []string{"pod: Invalid value: \"192.168.0.0\": not a CIDR"}},
		{name: "host bits warned", pod: "192.168.1.0/16", svc: DefaultServiceCIDR, machines: 1,
			wantWarnSubstr: "pod 192.168.1.0/16 has host bits set; it is read as 192.168.0.0/16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, errs, warns := checkNetwork(testPaths, tt.pod, tt.svc, tt.machines, tt.minor)
			if len(errs) != len(tt.wantErrs) {
				t.Fatalf("got errors %v, want %d matching %q", errs, len(tt.wantErrs), tt.wantErrs)
			}
			for i, want := range tt.wantErrs {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), want)
				}
			}
			if tt.wantWarnSubstr == "" && len(warns) > 0 {
				t.Errorf("unexpected warnings %q", warns)
			}
			if tt.wantWarnSubstr != "" && !strings.Contains(strings.Join(warns, "\n"), tt.wantWarnSubstr) {
				t.Errorf("warnings %q, want one containing %q", warns, tt.wantWarnSubstr)
			}
		})
	}
}

func TestCheckVIP(t *testing.T) {
	pod := netip.MustParsePrefix("192.168.0.0/16")
	svc := netip.MustParsePrefix("10.96.0.0/12")
	tests := []struct {
		vip      string
		loopback bool // the test-world policy
		wantErr  string
		wantWarn string
	}{
		{vip: "10.11.12.100"},
		{vip: "10.11.12.100", loopback: true},
		{vip: "127.0.0.1", loopback: true, wantWarn: "is a loopback address"},
		{vip: "127.10.0.100", loopback: true, wantWarn: "--allow-loopback-endpoints"},
		{vip: "::1", loopback: true, wantWarn: "is a loopback address"},
		{vip: "0.0.0.0", loopback: true, wantErr: "must be a unicast address"},
		{vip: "169.254.1.1", loopback: true, wantErr: "must be a unicast address"},
		{vip: "::ffff:10.11.12.100"},
		{vip: "fd00::10"},
		{vip: "192.168.3.4", wantErr: "lies inside the pod range 192.168.0.0/16"},
		{vip: "10.100.0.1", wantErr: "lies inside the service range 10.96.0.0/12"},
		{vip: "::ffff:10.100.0.1", wantErr: "lies inside the service range"},
		{vip: "0.0.0.0", wantErr: "must be a unicast address"},
		{vip: "127.0.0.1", wantErr: "must be a unicast address"},
		{vip: "224.0.0.5", wantErr: "must be a unicast address"},
		{vip: "169.254.1.1", wantErr: "must be a unicast address"},
		{vip: "fe80::1%eth0", wantErr: "without an IPv6 zone"},
		{vip: "10.11.12", wantErr: "must be an IP address"},
		{vip: "", wantErr: "must be an IP address"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/loopback=%t", tt.vip, tt.loopback), func(t *testing.T) {
			_, errs, warns := checkVIP(field.NewPath("vip"), tt.vip, pod, svc, Options{AllowLoopbackEndpoints: tt.loopback})
			switch {
			case tt.wantWarn == "" && len(warns) > 0:
				t.Errorf("checkVIP(%q) warned %q, want no warning", tt.vip, warns)
			case tt.wantWarn != "" && (len(warns) != 1 || !strings.Contains(warns[0], tt.wantWarn)):
				t.Errorf("checkVIP(%q) warned %q, want one warning containing %q", tt.vip, warns, tt.wantWarn)
			}
			if tt.wantErr == "" {
				if len(errs) > 0 {
					t.Fatalf("checkVIP(%q) = %v, want no error", tt.vip, errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.wantErr) {
				t.Fatalf("checkVIP(%q) = %v, want one error containing %q", tt.vip, errs, tt.wantErr)
			}
		})
	}
}

func TestCheckOutside(t *testing.T) {
	pod := netip.MustParsePrefix("10.0.0.0/16")
	svc := netip.MustParsePrefix("10.96.0.0/12")
	if errs := checkOutside(testPaths, pod, svc, netip.MustParseAddr("10.11.12.13"), "MAAS"); len(errs) != 0 {
		t.Errorf("address outside both ranges refused: %v", errs)
	}
	errs := checkOutside(testPaths, pod, svc, netip.MustParseAddr("10.0.3.4"), "the MAAS endpoint")
	if len(errs) != 1 || errs[0].Field != "pod" || !strings.Contains(errs[0].Error(), "contains the MAAS endpoint 10.0.3.4") {
		t.Errorf("address in the pod range: got %v", errs)
	}
	errs = checkOutside(testPaths, netip.Prefix{}, svc, netip.MustParseAddr("10.97.0.1"), "x")
	if len(errs) != 1 || errs[0].Field != "svc" {
		t.Errorf("address in the service range with no pod range: got %v", errs)
	}
	if errs := checkOutside(testPaths, pod, svc, netip.Addr{}, "x"); len(errs) != 0 {
		t.Errorf("zero address refused: %v", errs)
	}
}

func TestHostOf(t *testing.T) {
	tests := []struct {
		in     string
		host   string
		ip     string
		wantOK bool
	}{
		{in: "http://10.11.12.13:5240/MAAS", host: "10.11.12.13", ip: "10.11.12.13", wantOK: true},
		{in: "https://MAAS.Example.com/MAAS", host: "maas.example.com", wantOK: true},
		{in: "http://[fd00::5]:5240/MAAS", host: "fd00::5", ip: "fd00::5", wantOK: true},
		{in: "http://user:pw@proxy.example.com:3128", host: "proxy.example.com", wantOK: true},
		{in: "maas.example.com", wantOK: false},
		{in: "http://:5240/", wantOK: false},
		{in: "://bad", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			host, ip, ok := hostOf(tt.in)
			if ok != tt.wantOK || host != tt.host {
				t.Fatalf("hostOf(%q) = %q, %v, %v; want %q, %v", tt.in, host, ip, ok, tt.host, tt.wantOK)
			}
			if (tt.ip == "") != !ip.IsValid() || (tt.ip != "" && ip.String() != tt.ip) {
				t.Errorf("hostOf(%q) address = %v, want %q", tt.in, ip, tt.ip)
			}
		})
	}
}

func TestNoProxyCovers(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		host    string
		want    bool
	}{
		{name: "empty list", host: "10.0.0.1", want: false},
		{name: "wildcard", entries: []string{"*"}, host: "maas.example.com", want: true},
		{name: "exact IP", entries: []string{"10.11.12.13"}, host: "10.11.12.13", want: true},
		{name: "other IP", entries: []string{"10.11.12.14"}, host: "10.11.12.13", want: false},
		{name: "CIDR holding the IP", entries: []string{"10.11.0.0/16"}, host: "10.11.12.13", want: true},
		{name: "CIDR with host bits", entries: []string{"10.11.9.9/16"}, host: "10.11.12.13", want: true},
		{name: "CIDR not holding the IP", entries: []string{"10.12.0.0/16"}, host: "10.11.12.13", want: false},
		{name: "CIDR never matches a name", entries: []string{"10.0.0.0/8"}, host: "maas.example.com", want: false},
		{name: "exact name, case-insensitive", entries: []string{"MAAS.example.com"}, host: "maas.example.com", want: true},
		{name: "leading-dot domain", entries: []string{".example.com"}, host: "maas.example.com", want: true},
		{name: "bare domain covers subdomains", entries: []string{"example.com"}, host: "maas.example.com", want: true},
		{name: "star-dot domain", entries: []string{"*.example.com"}, host: "maas.example.com", want: true},
		{name: "suffix that is not a label", entries: []string{"ample.com"}, host: "maas.example.com", want: false},
		{name: "name with port", entries: []string{"maas.example.com:5240"}, host: "maas.example.com", want: true},
		{name: "IP with port", entries: []string{"10.11.12.13:5240"}, host: "10.11.12.13", want: true},
		{name: "bracketed IPv6", entries: []string{"[fd00::5]"}, host: "fd00::5", want: true},
		{name: "IPv6 CIDR", entries: []string{"fd00::/64"}, host: "fd00::5", want: true},
		{name: "domain does not match an IP", entries: []string{"13"}, host: "10.11.12.13", want: false},
		{name: "spaces around entries", entries: []string{" 10.11.12.13 "}, host: "10.11.12.13", want: true},
		{name: "trailing dot on host", entries: []string{"example.com"}, host: "maas.example.com.", want: true},
		{name: "empty host", entries: []string{"*"}, host: "", want: false},
		{name: "lone dot entry", entries: []string{"."}, host: "maas.example.com", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := noProxyCovers(tt.entries, tt.host); got != tt.want {
				t.Errorf("noProxyCovers(%q, %q) = %v, want %v", tt.entries, tt.host, got, tt.want)
			}
		})
	}
}

func TestInvalidNoProxyEntries(t *testing.T) {
	got := invalidNoProxyEntries([]string{"10.0.0.0/8", "10.0.0.0/33", ".svc", "fd00::/64", "a/b"})
	if strings.Join(got, ",") != "10.0.0.0/33,a/b" {
		t.Errorf("invalidNoProxyEntries = %q", got)
	}
}

func TestKubernetesMinor(t *testing.T) {
	for in, want := range map[string]int{
		"v1.34.2": 34, "1.29.0": 29, "v1.33": 33, "": 0, "v2.1.0": 0, "v1.x.0": 0, "v1.-1.0": 0, "v1": 0,
	} {
		if got := kubernetesMinor(in); got != want {
			t.Errorf("kubernetesMinor(%q) = %d, want %d", in, got, want)
		}
	}
}
