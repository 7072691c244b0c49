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

package catalog

import (
	"strings"
	"testing"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

const sample = `
releases:
- version: 1.0.0
  osImage: ubuntu/jammy
  kubernetesVersion: v1.33.4
  components: {manager: 1.0.0}
- version: 1.2.0
  osImage: ubuntu/noble
  kubernetesVersion: v1.34.2
  components: {manager: 1.2.0, kube-vip: v0.8.9}
  notes: Noble nodes, Kubernetes 1.34.
- version: 1.1.0
  osImage: ubuntu/jammy
  kubernetesVersion: v1.34.1
- version: 1.3.0-rc.1
  osImage: ubuntu/noble
  kubernetesVersion: v1.34.3
`

func mustParse(t *testing.T, doc string) *Catalog {
	t.Helper()
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestParseOrdersNewestFirst(t *testing.T) {
	c := mustParse(t, sample)
	var got []string
	for _, r := range c.Releases() {
		got = append(got, r.Version)
	}
	if want := "1.3.0-rc.1 1.2.0 1.1.0 1.0.0"; strings.Join(got, " ") != want {
		t.Fatalf("order = %v, want %s", got, want)
	}
	newest, ok := c.Newest()
	if !ok || newest.Version != "1.3.0-rc.1" {
		t.Fatalf("Newest = %v, %v", newest.Version, ok)
	}
	if r, ok := c.Find("v1.2.0"); !ok || r.Components["kube-vip"] != "v0.8.9" || r.Notes == "" {
		t.Fatalf("Find(v1.2.0) = %+v, %v", r, ok)
	}
	if _, ok := c.Find("9.9.9"); ok {
		t.Fatal("Find(9.9.9) found a release")
	}
}

func TestParseRefusesBadCatalogs(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"not yaml", "releases: [", "release catalog is not valid"},
		{"unknown field", "releases:\n- version: 1.0.0\n  osImage: ubuntu/jammy\n  kubernetesVersion: v1.34.2\n  colour: red\n", "colour"},
		{"bad version", "releases:\n- version: latest\n  osImage: ubuntu/jammy\n  kubernetesVersion: v1.34.2\n", `"latest" is not a semantic version`},
		{"duplicate", "releases:\n- {version: 1.0.0, osImage: ubuntu/jammy, kubernetesVersion: v1.34.2}\n- {version: v1.0.0, osImage: ubuntu/jammy, kubernetesVersion: v1.34.2}\n", "appears twice"},
		{"bad image", "releases:\n- {version: 1.0.0, osImage: 'Ubuntu Jammy', kubernetesVersion: v1.34.2}\n", "osImage"},
		{"bad kubernetes", "releases:\n- {version: 1.0.0, osImage: ubuntu/jammy, kubernetesVersion: '1.34'}\n", "kubernetesVersion"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestUpgradeFrom(t *testing.T) {
	c := mustParse(t, sample)
	cases := []struct {
		current, want string
	}{
		{"1.0.0", "1.2.0"},
		{"1.1.0", "1.2.0"},
		{"1.2.0", ""},
		{"1.3.0-rc.0", "1.3.0-rc.1"},
		{"2.0.0", ""},
		{"garbage", ""},
	}
	for _, tc := range cases {
		r, ok := c.UpgradeFrom(tc.current)
		if got := map[bool]string{true: r.Version}[ok]; got != tc.want {
			t.Errorf("UpgradeFrom(%s) = %q, want %q", tc.current, got, tc.want)
		}
	}
}

func TestResolve(t *testing.T) {
	c := mustParse(t, sample)
	r, err := c.Resolve(infrav1.Release{Version: "1.1.0"})
	if err != nil || r.OSImage != "ubuntu/jammy" || r.KubernetesVersion != "v1.34.1" {
		t.Fatalf("Resolve(1.1.0) = %+v, %v", r, err)
	}
	r, err = c.Resolve(infrav1.Release{Version: "1.1.0", OSImage: "custom-jammy-hardened"})
	if err != nil || r.OSImage != "custom-jammy-hardened" || r.KubernetesVersion != "v1.34.1" {
		t.Fatalf("Resolve with override = %+v, %v", r, err)
	}
	if _, err := c.Resolve(infrav1.Release{Version: "4.0.0"}); err == nil || !strings.Contains(err.Error(), "not in the catalog") {
		t.Fatalf("Resolve(4.0.0) err = %v", err)
	}
	r, err = c.Resolve(infrav1.Release{Version: "4.0.0", OSImage: "ubuntu/noble", KubernetesVersion: "v1.34.9"})
	if err != nil || r.API() != (infrav1.Release{Version: "4.0.0", OSImage: "ubuntu/noble", KubernetesVersion: "v1.34.9"}) {
		t.Fatalf("Resolve(4.0.0 with image and version) = %+v, %v", r, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("releases: []"))
	f.Add([]byte("releases:\n- {version: 1.0.0-rc.1+build.5, osImage: a/b, kubernetesVersion: v1.0.0}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		rs := c.Releases()
		for i := 1; i < len(rs); i++ {
			if !rs[i-1].semver.GreaterThan(rs[i].semver) {
				t.Fatalf("releases not strictly newest first: %s before %s", rs[i-1].Version, rs[i].Version)
			}
		}
		for _, r := range rs {
			if got, ok := c.Find(r.Version); !ok || got.Version != r.Version {
				t.Fatalf("Find(%q) does not return it", r.Version)
			}
		}
	})
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.2.3", "v1.2.3", "1.2.3-rc.1+meta", "", "1..2", "01.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		again, err := ParseVersion(v.String())
		if err != nil || !again.EqualTo(v) {
			t.Fatalf("%q parsed as %s, which does not parse back to itself: %v", s, v, err)
		}
	})
}
