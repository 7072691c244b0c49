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
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
)

func TestPackBackoffDoublesUpToItsBound(t *testing.T) {
	for _, tt := range []struct {
		failures int32
		want     time.Duration
	}{
		{0, firstPackBackoff}, {1, firstPackBackoff}, {2, 2 * firstPackBackoff}, {3, 4 * firstPackBackoff},
		{6, maxPackBackoff}, {1 << 30, maxPackBackoff},
	} {
		if got := packBackoff(tt.failures); got != tt.want {
			t.Errorf("packBackoff(%d) = %s, want %s", tt.failures, got, tt.want)
		}
	}
}

func TestInstallOrderPutsTheNetworkFirst(t *testing.T) {
	profile := &infrav1.ClusterProfileSpec{Packs: []infrav1.Pack{
		{Name: "csi", Layer: infrav1.PackLayerCSI}, {Name: "dashboard", Layer: infrav1.PackLayerAddon},
		{Name: "calico", Layer: infrav1.PackLayerCNI}, {Name: "monitoring"},
	}}
	var got []string
	for _, p := range installOrder(profile) {
		got = append(got, p.Name)
	}
	if want := []string{"calico", "csi", "dashboard", "monitoring"}; !slices.Equal(got, want) {
		t.Errorf("install order = %v, want %v", got, want)
	}
}

func TestPacksReadyAndRunning(t *testing.T) {
	installed := func(name string) infrav1.PackStatus {
		return infrav1.PackStatus{Name: name, State: infrav1.PackInstalled, Chart: name, Version: "1.0.0", Revision: 1}
	}
	for _, tt := range []struct {
		name  string
		packs []infrav1.PackStatus
		ready wantCondition // PacksReady
		phase infrav1.TenantClusterPhase
	}{{
		name:  "no packs: ready, and the cluster Running",
		ready: wantCondition{metav1.ConditionTrue, infrav1.ReasonPacksInstalled, []string{"0 pack(s)"}},
		phase: infrav1.TenantPhaseRunning,
	}, {
		name:  "every pack installed: Running",
		packs: []infrav1.PackStatus{installed("cni"), installed("addon")},
		ready: wantCondition{metav1.ConditionTrue, infrav1.ReasonPacksInstalled, []string{"2 pack(s)"}},
		phase: infrav1.TenantPhaseRunning,
	}, {
		name:  "a pack not installed yet: every machine Ready, but not Running",
		packs: []infrav1.PackStatus{installed("cni"), {Name: "addon", State: infrav1.PackPending}},
		ready: wantCondition{metav1.ConditionFalse, infrav1.ReasonPacksPending, []string{"addon"}},
		phase: infrav1.TenantPhaseProvisioning,
	}, {
		name: "a failed pack: Helm's message in PacksReady and Ready",
		packs: []infrav1.PackStatus{installed("cni"),
			{Name: "broken", State: infrav1.PackFailed, Message: `parse error at (broken/templates/cm.yaml:3): unexpected "}"`}},
		ready: wantCondition{metav1.ConditionFalse, infrav1.ReasonPackFailed, []string{"broken: parse error"}},
		phase: infrav1.TenantPhaseProvisioning,
	}} {
		t.Run(tt.name, func(t *testing.T) {
			w := healthyWorld()
			tc := &infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Name: "tc", Namespace: "ns", Generation: 3}}
			tc.Status.Phase = infrav1.TenantPhaseProvisioning
			tc.Status.Machines = w.machines
			w.view.record(tc)
			setPacksReady(tc, tt.packs)
			tenantStatus(tc, w.plan, executed{}, w.view)
			checkCondition(t, tc.Status.Conditions, infrav1.TenantPacksReady, tt.ready)
			if tc.Status.Phase != tt.phase {
				t.Errorf("phase = %s, want %s", tc.Status.Phase, tt.phase)
			}
			ready := wantCondition{metav1.ConditionTrue, infrav1.ReasonRunning, nil}
			if tt.ready.status != metav1.ConditionTrue {
				ready = wantCondition{metav1.ConditionFalse, tt.ready.reason, tt.ready.message}
			}
			checkCondition(t, tc.Status.Conditions, infrav1.ConditionReady, ready)
		})
	}
}

func TestTagLabels(t *testing.T) {
	got := TagLabels([]string{"env:prod", "gpu", "has space", "team:a/b", ":empty", "cost-centre:4711"})
	want := map[string]string{
		TagLabelPrefix + "env":         "prod",
		TagLabelPrefix + "gpu":         "",
		TagLabelPrefix + "cost-centre": "4711",
	}
	if !maps.Equal(got, want) {
		t.Errorf("TagLabels = %v, want %v", got, want)
	}
}

func TestReleaseErasesAsThePoolSays(t *testing.T) {
	tc := &infrav1.TenantCluster{Spec: infrav1.TenantClusterSpec{
		Workers: []infrav1.NodePool{
			{Name: "plain"},
			{Name: "secrets", DiskErase: infrav1.DiskEraseFull},
			{Name: "scratch", DiskErase: infrav1.DiskEraseQuick},
		},
	}}
	e := &poolExecutor{erase: func(pool string) infrav1.DiskErase { return diskEraseOf(tc, pool) }}
	deployed := maas.Machine{Status: maas.StatusDeployed}
	for _, tt := range []struct {
		pool              string
		erase, quickErase bool
	}{
		// A control plane holds the CA keys and etcd: erased unless it says otherwise.
		{infrav1.ControlPlanePoolName, true, true},
		{"plain", false, false},
		{"secrets", true, false},
		{"scratch", true, true},
		{"gone-from-the-spec", false, false},
	} {
		p := e.releaseParams(rollout.Action{Pool: tt.pool, Reason: rollout.ReasonUnhealthy}, deployed)
		if p.Erase != tt.erase || p.QuickErase != tt.quickErase {
			t.Errorf("pool %s: erase=%t quick=%t, want %t %t", tt.pool, p.Erase, p.QuickErase, tt.erase, tt.quickErase)
		}
		if p.Comment == "" {
			t.Errorf("pool %s: no release comment", tt.pool)
		}
	}
	tc.Spec.ControlPlane.DiskErase = infrav1.DiskEraseNone
	if p := e.releaseParams(rollout.Action{Pool: infrav1.ControlPlanePoolName}, deployed); p.Erase {
		t.Errorf("a control plane that says None is erased")
	}
	if p := (&poolExecutor{}).releaseParams(rollout.Action{Pool: infrav1.ControlPlanePoolName}, deployed); p.Erase {
		t.Errorf("an executor without an erase policy erases")
	}
	// A machine never deployed holds nothing to wipe.
	tc.Spec.ControlPlane.DiskErase = infrav1.DiskEraseFull
	if p := e.releaseParams(rollout.Action{Pool: infrav1.ControlPlanePoolName}, maas.Machine{Status: maas.StatusAllocated}); p.Erase {
		t.Errorf("a machine never deployed is erased")
	}
	for _, st := range []maas.Status{maas.StatusDeployed, maas.StatusDeploying, maas.StatusFailedDeployment} {
		if p := e.releaseParams(rollout.Action{Pool: infrav1.ControlPlanePoolName}, maas.Machine{Status: st}); !p.Erase {
			t.Errorf("a machine %v is not erased", st)
		}
	}
}

func TestLoadBalancerRangeGoesToItsPack(t *testing.T) {
	tc := &infrav1.TenantCluster{Spec: infrav1.TenantClusterSpec{
		LoadBalancer: &infrav1.LoadBalancerPool{Addresses: 4, Pack: "kube-vip", ValuesKey: "config.range-global"},
	}}
	values := map[string]any{"config": map[string]any{"interface": "eth0"}, "replicas": 1}
	if err := withLoadBalancerRange(tc, "kube-vip", values); err == nil {
		t.Fatal("a pool not reserved yet is handed to its pack")
	}
	if err := withLoadBalancerRange(tc, "other", values); err != nil {
		t.Fatalf("another pack waits for the pool: %v", err)
	}
	tc.Status.LoadBalancer = &infrav1.LoadBalancerStatus{Start: "10.30.0.16", End: "10.30.0.19"}
	if err := withLoadBalancerRange(tc, "kube-vip", values); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"config": map[string]any{"interface": "eth0", "range-global": "10.30.0.16-10.30.0.19"}, "replicas": 1}
	if !reflect.DeepEqual(values, want) {
		t.Errorf("values = %v, want %v", values, want)
	}
	// The default key, over a scalar in the way.
	tc.Spec.LoadBalancer.ValuesKey = ""
	values = map[string]any{"loadBalancerRange": map[string]any{"x": 1}}
	if err := withLoadBalancerRange(tc, "kube-vip", values); err != nil || values["loadBalancerRange"] != "10.30.0.16-10.30.0.19" {
		t.Errorf("values = %v (%v)", values, err)
	}
}
