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

package main

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// samples are the objects of config/samples, as a user would kubectl apply
// them. The demo adjusts them in memory where this machine differs from a
// data centre: the MAAS endpoint and credentials are the simulator's, and
// fields a sample leaves empty get the values the walk needs.
type samples struct {
	gateway *infrav1.Gateway
	account *infrav1.CloudAccount
	tenant  *infrav1.TenantCluster
	profile *infrav1.ClusterProfile
}

func loadSamples(dir string) (*samples, error) {
	if dir == "" {
		dir = filepath.Join(envtest.RepoRoot(), "config", "samples")
	}
	s := &samples{gateway: &infrav1.Gateway{}, account: &infrav1.CloudAccount{}, tenant: &infrav1.TenantCluster{},
		profile: &infrav1.ClusterProfile{}}
	for file, obj := range map[string]any{
		"infra_v1alpha1_gateway.yaml":        s.gateway,
		"infra_v1alpha1_cloudaccount.yaml":   s.account,
		"infra_v1alpha1_tenantcluster.yaml":  s.tenant,
		"infra_v1alpha1_clusterprofile.yaml": s.profile,
	} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			return nil, fmt.Errorf("reading the samples: %w", err)
		}
		if err := yaml.UnmarshalStrict(data, obj); err != nil {
			return nil, fmt.Errorf("sample %s: %w", file, err)
		}
	}
	return s, nil
}
