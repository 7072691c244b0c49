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

package packs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
)

const (
	manifestsChartName = "manifests"
	manifestsFile      = "manifests.yaml"
)

// manifestsChart wraps plain manifests in a chart whose only template
// prints them from a chart file: the text never goes through the template
// engine, so "{{" in a ConfigMap is installed as written.
func manifestsChart(manifests string) *chart.Chart {
	return &chart.Chart{
		Metadata: &chart.Metadata{
			APIVersion:  chart.APIVersionV2,
			Name:        manifestsChartName,
			Version:     manifestsVersion(manifests),
			Description: "Plain manifests installed by maas-gateway packs",
			Type:        "application",
		},
		Templates: []*chart.File{{
			Name: "templates/" + manifestsFile,
			Data: []byte(`{{ .Files.Get "` + manifestsFile + `" }}`),
		}},
		Files: []*chart.File{{Name: manifestsFile, Data: []byte(manifests)}},
	}
}

// manifestsVersion changes with the manifests so that `helm list` in the
// tenant shows that a manifests release changed; build metadata allows a
// hex digest with leading zeros where a pre-release would not.
func manifestsVersion(manifests string) string {
	sum := sha256.Sum256([]byte(manifests))
	return "0.0.0+" + hex.EncodeToString(sum[:])[:12]
}

// digest identifies what a release is made from. It is stored as a release
// label (63 characters at most, hence the truncation to 160 bits) and
// compared on every Apply, so it must depend on nothing else: credentials
// and the version constraint are left out, the resolved version is in.
func digest(src Source, resolvedVersion string, values map[string]any) (string, error) {
	payload := struct {
		Format     int            `json:"f"`
		Repository string         `json:"r,omitempty"`
		Chart      string         `json:"c,omitempty"`
		Version    string         `json:"v"`
		Manifests  string         `json:"m,omitempty"`
		Values     map[string]any `json:"values,omitempty"`
	}{1, strings.TrimSuffix(src.Repository, "/"), src.Chart, resolvedVersion, src.Manifests, values}
	if src.Manifests != "" {
		payload.Values = nil
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("%w: values cannot be encoded: %v", ErrInvalid, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:40], nil
}
