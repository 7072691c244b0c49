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

package controller

import (
	"testing"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
)

func TestInitialised(t *testing.T) {
	cp := func(status string, init bool) maas.Machine {
		return maas.Machine{SystemID: "a", StatusName: status, Owner: &maas.Owner{Pool: infrav1.ControlPlanePoolName, Init: init}}
	}
	worker := maas.Machine{SystemID: "w", StatusName: "Deployed", Owner: &maas.Owner{Pool: "workers"}}
	for _, tt := range []struct {
		name  string
		owned []maas.Machine
		want  bool
	}{
		{"nothing", nil, false},
		{"init node deploying", []maas.Machine{cp("Deploying", true)}, false},
		{"init node deployed", []maas.Machine{cp("Deployed", true)}, true},
		{"a joined control plane outlived the init node", []maas.Machine{cp("Deployed", false)}, true},
		{"only workers deployed", []maas.Machine{cp("Allocated", true), worker}, false},
		{"unannotated machine", []maas.Machine{{SystemID: "u", StatusName: "Deployed"}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := initialised(tt.owned, infrav1.ControlPlanePoolName); got != tt.want {
				t.Errorf("initialised = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTenantPools(t *testing.T) {
	base := func() *infrav1.TenantCluster {
		return &infrav1.TenantCluster{Spec: infrav1.TenantClusterSpec{
			Profile:      &infrav1.ClusterProfileSpec{KubernetesVersion: "v1.34.2"},
			ControlPlane: infrav1.ControlPlanePool{Size: 3, MachineTemplate: infrav1.MachineTemplate{Zones: []string{"a", "b"}}},
			Workers: []infrav1.NodePool{{Name: "w", Size: 2, RollingUpdate: infrav1.ContractFirst,
				MachineTemplate: infrav1.MachineTemplate{ResourcePool: "tenants"}}},
		}}
	}
	pools := tenantPools(base())
	if len(pools) != 2 {
		t.Fatalf("got %d pools, want 2", len(pools))
	}
	cp, w := pools[0], pools[1]
	if cp.Name != infrav1.ControlPlanePoolName || cp.Kind != rollout.KindControlPlane || cp.Size != 3 || cp.MinReady != 2 || len(cp.Zones) != 2 {
		t.Errorf("control plane pool = %+v", cp)
	}
	if w.Name != "w" || w.Kind != rollout.KindWorker || w.Strategy != rollout.ContractFirst || w.MinReady != 0 {
		t.Errorf("worker pool = %+v", w)
	}
	if cp.Template == w.Template {
		t.Error("pools with different resource pools share a template")
	}

	for _, tt := range []struct {
		name    string
		mutate  func(*infrav1.TenantCluster)
		changes bool
	}{
		{"kubernetes version", func(tc *infrav1.TenantCluster) { tc.Spec.Profile.KubernetesVersion = "v1.34.3" }, true},
		{"os image", func(tc *infrav1.TenantCluster) { tc.Spec.Profile.OSImage = "ubuntu/noble" }, true},
		{"constraint", func(tc *infrav1.TenantCluster) { tc.Spec.Workers[0].MinCPU = 8 }, true},
		{"resource pool", func(tc *infrav1.TenantCluster) { tc.Spec.Workers[0].ResourcePool = "other" }, true},
		{"size", func(tc *infrav1.TenantCluster) { tc.Spec.Workers[0].Size = 5 }, false},
		{"zones", func(tc *infrav1.TenantCluster) { tc.Spec.Workers[0].Zones = []string{"c"} }, false},
		{"default image spelled out", func(tc *infrav1.TenantCluster) { tc.Spec.Profile.OSImage = defaultOSImage }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := base()
			tt.mutate(tc)
			if got := tenantPools(tc)[1].Template != w.Template; got != tt.changes {
				t.Errorf("template changed = %v, want %v", got, tt.changes)
			}
		})
	}

	one := base()
	one.Spec.ControlPlane.Size = 0 // unset: the CRD default is 1
	if p := tenantPools(one)[0]; p.Size != 1 || p.MinReady != 1 {
		t.Errorf("default control plane = size %d, minReady %d; want 1, 1", p.Size, p.MinReady)
	}
}
