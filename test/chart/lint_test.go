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

package chart_test

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
)

func lint(t *testing.T, vals map[string]any) *action.LintResult {
	t.Helper()
	l := action.NewLint()
	l.Strict = true
	l.Namespace = "maas-system"
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	l.KubeVersion = kv
	return l.Run([]string{chartDir}, vals)
}

// TestLint runs helm lint --strict on the default and the full values: no
// error, no warning.
func TestLint(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"default": nil,
		"full":    fullValues(t),
	} {
		t.Run(name, func(t *testing.T) {
			res := lint(t, vals)
			for _, m := range res.Messages {
				t.Logf("lint: %s", m)
			}
			if action.HasWarningsOrErrors(res) {
				t.Fatalf("helm lint found problems: %v", res.Errors)
			}
		})
	}
}

// TestSchemaRejectsMistakes shows values.schema.json catches misspelt keys
// and impossible values before anything is rendered.
func TestSchemaRejectsMistakes(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets map[string]any
		want string
	}{
		{"misspelt top-level key", map[string]any{"webhooks.enabled": false}, "webhooks"},
		{"misspelt nested key", map[string]any{"gateway.replica": 3}, "replica"},
		{"gateway of 2 nodes", map[string]any{"gateway.replicas": 2}, "replicas"},
		{"unknown failure policy", map[string]any{"webhook.failurePolicy": "Retry"}, "failurePolicy"},
		{"release without kubernetesVersion", map[string]any{"releases": []any{map[string]any{"version": "1.0.0", "osImage": "ubuntu/jammy"}}}, "kubernetesVersion"},
		{"malformed API key", map[string]any{"maas.apiKey": "not-a-key"}, "apiKey"},
		{"bad duration", map[string]any{"manager.forceDeleteAfter": "14 minutes"}, "forceDeleteAfter"},
		{"no MAAS requests allowed", map[string]any{"manager.maasRateLimit": 0}, "maasRateLimit"},
		{"no share kept for the Gateway", map[string]any{"manager.maasGatewayShare": 0}, "maasGatewayShare"},
		{"the whole rate for the Gateway", map[string]any{"manager.maasGatewayShare": 1}, "maasGatewayShare"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := lint(t, with(nil, tc.sets))
			if len(res.Errors) == 0 {
				t.Fatalf("helm lint accepted %v", tc.sets)
			}
			all := ""
			for _, err := range res.Errors {
				all += err.Error() + "\n"
			}
			if !strings.Contains(all, tc.want) {
				t.Fatalf("lint errors do not name %q:\n%s", tc.want, all)
			}
		})
	}
}
