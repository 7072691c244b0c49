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

package pcg

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files of render")

// TestRenderGolden compares render's output, redacted and not, with
// testdata/render/*.golden (go test ./internal/pcg -run TestRenderGolden -update
// rewrites them; review the diff).
func TestRenderGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/render/*.pcg.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inputs = append(inputs, filepath.Join(repoRoot(), "config", "samples", "pcg.yaml"))
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".pcg.yaml")
		if strings.HasSuffix(in, "samples/pcg.yaml") {
			name = "sample"
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := Load(data, Options{})
			if err != nil {
				t.Fatalf("%s is refused:\n%v", in, err)
			}
			for _, show := range []bool{false, true} {
				out, err := inst.Render(show)
				if err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "render", name+".golden")
				if show {
					golden = filepath.Join("testdata", "render", name+".show-secrets.golden")
				}
				if *update {
					if err := os.WriteFile(golden, out, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(out, want) {
					t.Errorf("render(showSecrets=%v) of %s differs from %s:\n%s", show, in, golden, out)
				}
				checkRendering(t, out, show)
			}
		})
	}
}

// checkRendering: the output parses back strictly into the objects it
// claims to be, and holds a secret exactly when asked to.
func checkRendering(t *testing.T, out []byte, show bool) {
	t.Helper()
	docs := strings.Split(strings.TrimPrefix(string(out), "---\n"), "\n---\n")
	gateways := 0
	for _, d := range docs {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(d), &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "Secret":
			var s corev1.Secret
			if err := yaml.UnmarshalStrict([]byte(d), &s); err != nil {
				t.Fatalf("a rendered Secret does not parse: %v", err)
			}
			for k, v := range s.StringData {
				if (v == RedactedValue) == show {
					t.Errorf("Secret %s key %s: redacted=%v with showSecrets=%v", s.Name, k, v == RedactedValue, show)
				}
			}
		case "Gateway":
			var g infrav1.Gateway
			if err := yaml.UnmarshalStrict([]byte(d), &g); err != nil {
				t.Fatalf("the rendered Gateway does not parse: %v", err)
			}
			gateways++
		default:
			t.Errorf("unexpected kind %q", meta.Kind)
		}
	}
	if gateways != 1 {
		t.Errorf("rendered %d Gateways", gateways)
	}
	if !show && (strings.Contains(string(out), "0123456789abcdefghijklmnopqrstuv") || strings.Contains(string(out), "pr@xy")) {
		t.Errorf("the redacted rendering holds a secret")
	}
}
