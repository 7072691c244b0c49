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
	"strings"
	"testing"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

func chartPack(name string, layer infrav1alpha1.PackLayer, version string) infrav1alpha1.Pack {
	return infrav1alpha1.Pack{Name: name, Layer: layer, Namespace: "kube-system",
		Chart: &infrav1alpha1.ChartSource{Repository: "https://charts.example.com", Name: name, Version: version}}
}

func TestValidateProfile(t *testing.T) {
	for _, tt := range []struct {
		name    string
		packs   []infrav1alpha1.Pack
		wantErr []string // substrings of the one error; none for valid
	}{
		{name: "no packs"},
		{name: "a cni, a csi and add-ons", packs: []infrav1alpha1.Pack{
			chartPack("calico", infrav1alpha1.PackLayerCNI, "3.29.1"), chartPack("csi", infrav1alpha1.PackLayerCSI, "v1.2.3"),
			{Name: "extra", Layer: infrav1alpha1.PackLayerAddon, Manifests: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: extra\n"},
		}},
		{name: "two network plugins", packs: []infrav1alpha1.Pack{
			chartPack("calico", infrav1alpha1.PackLayerCNI, "3.29.1"), chartPack("cilium", infrav1alpha1.PackLayerCNI, "1.18.4"),
		}, wantErr: []string{"spec.packs", "calico, cilium", "one cni pack at most"}},
		{name: "a version range is not a version", packs: []infrav1alpha1.Pack{chartPack("a", infrav1alpha1.PackLayerAddon, ">=1.0.0")},
			wantErr: []string{"spec.packs[0].chart.version", "exact semantic version"}},
		{name: "a partial version", packs: []infrav1alpha1.Pack{chartPack("a", infrav1alpha1.PackLayerAddon, "1.2")},
			wantErr: []string{"spec.packs[0].chart.version"}},
		{name: "values that are a list", packs: []infrav1alpha1.Pack{func() infrav1alpha1.Pack {
			p := chartPack("a", infrav1alpha1.PackLayerAddon, "1.0.0")
			p.Values = "- replicas: 2\n"
			return p
		}()}, wantErr: []string{"spec.packs[0].values", "not a YAML mapping"}},
		{name: "values that are no YAML", packs: []infrav1alpha1.Pack{func() infrav1alpha1.Pack {
			p := chartPack("a", infrav1alpha1.PackLayerAddon, "1.0.0")
			p.Values = "replicas: [2\n"
			return p
		}()}, wantErr: []string{"spec.packs[0].values"}},
		{name: "manifests without a kind", packs: []infrav1alpha1.Pack{{Name: "m", Manifests: "apiVersion: v1\nmetadata:\n  name: x\n"}},
			wantErr: []string{"spec.packs[0].manifests", "document 1", "apiVersion, kind and metadata.name"}},
		{name: "the second manifest unnamed", packs: []infrav1alpha1.Pack{{Name: "m",
			Manifests: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: ConfigMap\n"}},
			wantErr: []string{"document 2"}},
		{name: "manifests that hold nothing", packs: []infrav1alpha1.Pack{{Name: "m", Manifests: "---\n# nothing\n"}},
			wantErr: []string{"no Kubernetes object"}},
		{name: "neither chart nor manifests", packs: []infrav1alpha1.Pack{{Name: "m"}},
			wantErr: []string{"spec.packs[0].chart", "chart or manifests"}},
		{name: "both chart and manifests", packs: []infrav1alpha1.Pack{func() infrav1alpha1.Pack {
			p := chartPack("a", infrav1alpha1.PackLayerAddon, "1.0.0")
			p.Manifests = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"
			return p
		}()}, wantErr: []string{"exactly one of chart and manifests"}},
		{name: "a duplicate name", packs: []infrav1alpha1.Pack{chartPack("a", infrav1alpha1.PackLayerAddon, "1.0.0"), chartPack("a", infrav1alpha1.PackLayerAddon, "1.0.1")},
			wantErr: []string{"spec.packs[1].name", "Duplicate"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			errs := validateProfile(specPath, &infrav1alpha1.ClusterProfileSpec{KubernetesVersion: "v1.34.2", Packs: tt.packs})
			if len(tt.wantErr) == 0 {
				if len(errs) > 0 {
					t.Fatalf("refused: %v", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("want one error, got %v", errs)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(errs[0].Error(), want) {
					t.Errorf("error %q does not contain %q", errs[0].Error(), want)
				}
			}
		})
	}
}

func TestValidateProfileNodePackages(t *testing.T) {
	for _, tt := range []struct {
		name    string
		np      infrav1alpha1.NodePackages
		wantErr string
	}{
		{name: "upstream repository"},
		{name: "a mirror", np: infrav1alpha1.NodePackages{KubernetesRepository: "https://mirror.example.com/k8s/v1.34/deb/"}},
		{name: "shell in the URL", np: infrav1alpha1.NodePackages{KubernetesRepository: "https://x.example.com/$(reboot)/"},
			wantErr: "spec.nodePackages"},
		{name: "not a key", np: infrav1alpha1.NodePackages{KubernetesRepositoryKey: "hello"}, wantErr: "packages.kubernetesRepositoryKey"},
		{name: "a package name with a space", np: infrav1alpha1.NodePackages{ContainerdPackage: "containerd; reboot"}, wantErr: "packages.containerdPackage"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			np := tt.np
			errs := validateProfile(specPath, &infrav1alpha1.ClusterProfileSpec{KubernetesVersion: "v1.34.2", NodePackages: &np})
			switch {
			case tt.wantErr == "" && len(errs) > 0:
				t.Fatalf("refused: %v", errs)
			case tt.wantErr != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.wantErr)):
				t.Fatalf("errors %v, want one containing %q", errs, tt.wantErr)
			}
		})
	}
}
