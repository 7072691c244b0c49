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
	"net/netip"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

func FuzzCheckNetwork(f *testing.F) {
	f.Add("192.168.0.0/16", "10.96.0.0/12", uint16(3), uint8(34))
	f.Add("10.0.0.0/8", "10.96.0.0/12", uint16(1), uint8(0))
	f.Add("fd00::/48", "fd01::/112", uint16(10), uint8(33))
	f.Add("fd00::1/48", "10.96.0.0/12", uint16(0), uint8(0))
	f.Add("192.168.0.0", "", uint16(1), uint8(1))
	f.Fuzz(func(t *testing.T, pod, svc string, machines uint16, minor uint8) {
		p, s, errs, _ := checkNetwork(testPaths, pod, svc, int(machines), int(minor))
		if len(errs) > 0 || !p.IsValid() || !s.IsValid() {
			return
		}
		if p.Overlaps(s) {
			t.Errorf("accepted overlapping ranges %s and %s", p, s)
		}
		if p.Addr().Is4() != s.Addr().Is4() {
			t.Errorf("accepted ranges of two families %s and %s", p, s)
		}
		if p != p.Masked() || s != s.Masked() {
			t.Errorf("returned unmasked ranges %s, %s", p, s)
		}
	})
}

func FuzzCheckVIP(f *testing.F) {
	f.Add("10.11.12.100", "192.168.0.0/16")
	f.Add("::ffff:192.168.1.1", "192.168.0.0/16")
	f.Add("fe80::1%eth0", "fd00::/48")
	f.Add("192.168.1.1", "not a cidr")
	f.Fuzz(func(t *testing.T, vip, pod string) {
		p, _, _ := parseCIDR(pod)
		addr, errs, warns := checkVIP(field.NewPath("vip"), vip, p, netip.Prefix{}, Options{})
		if len(warns) > 0 {
			t.Errorf("warned %q about %q without the loopback policy", warns, vip)
		}
		// The test-world policy accepts loopback addresses and nothing else
		// that the default refuses.
		_, looseErrs, _ := checkVIP(field.NewPath("vip"), vip, p, netip.Prefix{}, Options{AllowLoopbackEndpoints: true})
		if len(looseErrs) == 0 && len(errs) > 0 && !addr.IsLoopback() {
			t.Errorf("the loopback policy accepted %q, refused by default: %v", vip, errs)
		}
		if len(errs) > 0 {
			return
		}
		if !addr.IsValid() || addr.Zone() != "" || addr.IsLoopback() || addr.IsUnspecified() {
			t.Errorf("accepted %q as %v", vip, addr)
		}
		if p.IsValid() && p.Contains(addr) {
			t.Errorf("accepted %q inside %s", vip, p)
		}
	})
}

func FuzzHostOf(f *testing.F) {
	f.Add("http://10.11.12.13:5240/MAAS")
	f.Add("https://MAAS.example.com/MAAS")
	f.Add("http://[fd00::5%25eth0]:5240/")
	f.Add("http://user:pw@proxy:3128")
	f.Add("::")
	f.Fuzz(func(t *testing.T, raw string) {
		host, addr, ok := hostOf(raw)
		if !ok {
			if host != "" || addr.IsValid() {
				t.Errorf("hostOf(%q) failed but returned %q, %v", raw, host, addr)
			}
			return
		}
		if host == "" || host != strings.ToLower(host) {
			t.Errorf("hostOf(%q) = %q: want a non-empty lower-case host", raw, host)
		}
		if addr.IsValid() && addr.Is4In6() {
			t.Errorf("hostOf(%q) returned a mapped address %v", raw, addr)
		}
	})
}

func FuzzNoProxyCovers(f *testing.F) {
	f.Add("10.11.0.0/16", "10.11.12.13")
	f.Add(".example.com", "maas.example.com")
	f.Add("*", "anything")
	f.Add("[fd00::5]:80", "fd00::5")
	f.Add("10.0.0.1:x", "10.0.0.1")
	f.Fuzz(func(t *testing.T, entry, host string) {
		got := noProxyCovers([]string{entry, "unrelated.invalid"}, host)
		if strings.TrimSuffix(host, ".") == "" && got {
			t.Errorf("an empty host is covered by %q", entry)
		}
		addr, err := netip.ParseAddr(host)
		if err != nil || addr.Zone() != "" {
			return
		}
		if !noProxyCovers([]string{host}, host) {
			t.Errorf("IP %q is not covered by itself", host)
		}
		if p, err := netip.ParsePrefix(strings.TrimSpace(entry)); err == nil && p.Masked().Contains(addr.Unmap()) && !got {
			t.Errorf("IP %q is not covered by the range %q holding it", host, entry)
		}
	})
}

func FuzzCheckCABundle(f *testing.F) {
	f.Add(selfSignedPEM(f))
	f.Add("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	f.Add("")
	f.Add("plain text")
	f.Fuzz(func(t *testing.T, bundle string) {
		err := checkCABundle(bundle)
		if err == nil && !strings.Contains(bundle, "-----BEGIN CERTIFICATE-----") {
			t.Errorf("accepted a bundle without a certificate: %q", bundle)
		}
	})
}

// FuzzCheckPackContent feeds a profile's values and manifests checks: they
// never panic, and what they accept Helm can read (values a mapping,
// manifests at least one named object).
func FuzzCheckPackContent(f *testing.F) {
	f.Add("replicas: 2\nimage:\n  tag: v1\n")
	f.Add("- a list\n")
	f.Add("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\n")
	f.Add("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ .x }}'}\n---\n---\nkind: Secret\n")
	f.Add("{\"a\": {\"b\": null}}")
	f.Add(strings.Repeat("a: [", 200))
	f.Fuzz(func(t *testing.T, text string) {
		if checkValues(text) == nil && strings.TrimSpace(text) != "" {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(text), &m); err != nil {
				t.Errorf("accepted values %q that do not parse: %v", text, err)
			}
		}
		_ = checkManifests(text)
	})
}
