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

package install

import (
	"context"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
)

// render renders the embedded chart offline, as helm template does.
func render(t *testing.T, h HelmInstaller, mode Mode) string {
	t.Helper()
	ch, err := LoadChart()
	if err != nil {
		t.Fatal(err)
	}
	vals, err := h.values(mode)
	if err != nil {
		t.Fatal(err)
	}
	ac := &action.Configuration{Releases: storage.Init(driver.NewMemory()), Capabilities: chartutil.DefaultCapabilities}
	ac.Capabilities.KubeVersion.Version, ac.Capabilities.KubeVersion.Major, ac.Capabilities.KubeVersion.Minor = "v1.34.2", "1", "34"
	in := action.NewInstall(ac)
	in.ReleaseName, in.Namespace, in.DryRun, in.ClientOnly = ReleaseName, "maas-system", true, true
	rel, err := in.RunWithContext(context.Background(), ch, vals)
	if err != nil {
		t.Fatalf("rendering the embedded chart: %v", err)
	}
	return rel.Manifest
}

func TestEmbeddedChartRendersPerMode(t *testing.T) {
	user := map[string]any{"manager": map[string]any{"extraArgs": []any{"--zap-devel"}},
		"image": map[string]any{"repository": "registry.example/manager"}}
	for _, tc := range []struct {
		mode    Mode
		outside bool
	}{{ModeOutside, true}, {ModeInside, false}} {
		t.Run(string(tc.mode), func(t *testing.T) {
			out := render(t, HelmInstaller{Values: user}, tc.mode)
			if got := strings.Contains(out, `- "--outside-gateway"`); got != tc.outside {
				t.Errorf("--outside-gateway in the manager's args: %v, want %v", got, tc.outside)
			}
			if !strings.Contains(out, `- "--zap-devel"`) {
				t.Error("the user's manager.extraArgs were dropped")
			}
			if !strings.Contains(out, "registry.example/manager") {
				t.Error("the user's image was dropped")
			}
			if strings.Contains(out, "cert-manager.io") {
				t.Error("the chart asks for cert-manager, which neither cluster has")
			}
			if strings.Contains(out, "kind: Gateway\n") {
				t.Error("the chart makes a Gateway: the installer makes it from pcg.yaml")
			}
		})
	}
}

func TestDigestChangesWithModeAndValues(t *testing.T) {
	ch, err := LoadChart()
	if err != nil {
		t.Fatal(err)
	}
	h := HelmInstaller{}
	vo, _ := h.values(ModeOutside)
	vi, _ := h.values(ModeInside)
	a, _ := digest(ch, ModeOutside, vo)
	b, _ := digest(ch, ModeInside, vi)
	c, _ := digest(ch, ModeOutside, vo)
	if a == b || a != c {
		t.Errorf("digests outside %s, inside %s, outside again %s: want equal for equal input only", a, b, c)
	}
}
