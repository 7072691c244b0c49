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
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// statusWorld is a cluster of one control-plane machine (cp1) and two
// workers (w1, w2), as MAAS lists them, and what its API server and etcd say.
type statusWorld struct {
	machines []infrav1.MachineStatus
	view     *workloadView
	plan     rollout.Result
}

func deployedMachine(id, pool string) infrav1.MachineStatus {
	return infrav1.MachineStatus{SystemID: id, Hostname: "host-" + id, Pool: pool, State: "Deployed", Addresses: []string{"10.0.0." + id[len(id)-1:]}}
}

func readyNode(id string, ready corev1.ConditionStatus) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "host-" + id}, Spec: corev1.NodeSpec{ProviderID: bootstrap.ProviderID(id)}}
	n.Status.NodeInfo.KubeletVersion = "v1.34.2"
	c := corev1.NodeCondition{Type: corev1.NodeReady, Status: ready}
	if ready != corev1.ConditionTrue {
		c.Reason, c.Message = "KubeletNotReady", "container runtime network not ready: cni plugin not initialized"
	}
	n.Status.Conditions = []corev1.NodeCondition{c}
	return n
}

func etcdMember(id string, healthy bool) workload.Member {
	return workload.Member{ID: uint64(id[len(id)-1]), Name: "host-" + id, Healthy: healthy, PeerURLs: []string{"https://10.0.0." + id[len(id)-1:] + ":2380"}}
}

func donePool(name string, n int) rollout.PoolSummary {
	return rollout.PoolSummary{Name: name, Desired: n, Machines: n, Available: n, Ready: n, Updated: n, Done: true}
}

func joiningPool(name string, desired, ready int) rollout.PoolSummary {
	return rollout.PoolSummary{Name: name, Desired: desired, Machines: desired, Available: ready, Ready: ready, Updated: desired,
		Waiting: "1 deployed machine(s) waiting for a Ready node"}
}

// healthyWorld is a cluster where everything was observed working.
func healthyWorld() statusWorld {
	return statusWorld{
		machines: []infrav1.MachineStatus{deployedMachine("cp1", infrav1.ControlPlanePoolName), deployedMachine("w1", "workers"), deployedMachine("w2", "workers")},
		view: &workloadView{synced: true, healthy: true,
			nodes:   []corev1.Node{readyNode("cp1", corev1.ConditionTrue), readyNode("w1", corev1.ConditionTrue), readyNode("w2", corev1.ConditionTrue)},
			members: []workload.Member{etcdMember("cp1", true)}},
		plan: rollout.Result{Pools: []rollout.PoolSummary{donePool(infrav1.ControlPlanePoolName, 1), donePool("workers", 2)}},
	}
}

// apply computes status as a reconcile does, from a cluster last Running.
func (w statusWorld) apply() *infrav1.TenantCluster {
	tc := &infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Name: "tc", Namespace: "ns", Generation: 3}}
	tc.Status.Phase = infrav1.TenantPhaseProvisioning
	tc.Status.Machines = w.machines
	w.view.record(tc)
	tenantStatus(tc, w.plan, executed{}, w.view)
	setNodesHealthy(tc, w.plan, w.view)
	return tc
}

type wantCondition struct {
	status  metav1.ConditionStatus
	reason  string
	message []string // substrings
}

func checkCondition(t *testing.T, conds []metav1.Condition, condType string, want wantCondition) {
	t.Helper()
	c := meta.FindStatusCondition(conds, condType)
	if c == nil {
		if want.status != "" {
			t.Errorf("no condition %s, want %s", condType, want.status)
		}
		return
	}
	if want.status == "" {
		t.Errorf("condition %s = %s %s %q, want none", condType, c.Status, c.Reason, c.Message)
		return
	}
	if c.Status != want.status || (want.reason != "" && c.Reason != want.reason) {
		t.Errorf("condition %s = %s %s (%q), want %s %s", condType, c.Status, c.Reason, c.Message, want.status, want.reason)
	}
	if c.Message == "" {
		t.Errorf("condition %s has no message", condType)
	}
	for _, s := range want.message {
		if !strings.Contains(c.Message, s) {
			t.Errorf("condition %s message %q does not contain %q", condType, c.Message, s)
		}
	}
}

func TestTenantStatus(t *testing.T) {
	for _, tt := range []struct {
		name             string
		world            func() statusWorld
		phase            infrav1.TenantClusterPhase
		ready, cp, mr    wantCondition
		nodesHealthy     wantCondition
		reachable        bool
		etcdMembers      int32
		machineNodeReady map[string]metav1.ConditionStatus // "" for no Node
	}{{
		name:         "everything observed working: Running",
		world:        healthyWorld,
		phase:        infrav1.TenantPhaseRunning,
		ready:        wantCondition{metav1.ConditionTrue, infrav1.ReasonRunning, []string{"3 of 3"}},
		cp:           wantCondition{metav1.ConditionTrue, infrav1.ReasonDeployed, nil},
		mr:           wantCondition{metav1.ConditionTrue, infrav1.ReasonDeployed, nil},
		nodesHealthy: wantCondition{metav1.ConditionTrue, infrav1.ReasonAllNodesReady, nil},
		reachable:    true, etcdMembers: 1,
		machineNodeReady: map[string]metav1.ConditionStatus{"cp1": metav1.ConditionTrue, "w1": metav1.ConditionTrue, "w2": metav1.ConditionTrue},
	}, {
		name: "a machine deployed in MAAS whose Node never appeared: not Running, and named",
		world: func() statusWorld {
			w := healthyWorld()
			w.view.nodes = w.view.nodes[:2] // no Node for w2
			w.plan.Pools[1] = joiningPool("workers", 2, 1)
			return w
		},
		phase:        infrav1.TenantPhaseProvisioning,
		ready:        wantCondition{metav1.ConditionFalse, infrav1.ReasonDeploying, []string{"no Node in the cluster yet: w2 (host-w2)"}},
		cp:           wantCondition{metav1.ConditionTrue, infrav1.ReasonDeployed, nil},
		mr:           wantCondition{metav1.ConditionFalse, infrav1.ReasonDeploying, []string{"w2 (host-w2)"}},
		nodesHealthy: wantCondition{metav1.ConditionTrue, infrav1.ReasonAllNodesReady, nil},
		reachable:    true, etcdMembers: 1,
		machineNodeReady: map[string]metav1.ConditionStatus{"cp1": metav1.ConditionTrue, "w1": metav1.ConditionTrue, "w2": ""},
	}, {
		name: "a Node NotReady: not Running, the Node and the kubelet's reason named",
		world: func() statusWorld {
			w := healthyWorld()
			w.view.nodes[1] = readyNode("w1", corev1.ConditionFalse)
			w.plan.Pools[1] = joiningPool("workers", 2, 1)
			return w
		},
		phase:        infrav1.TenantPhaseProvisioning,
		ready:        wantCondition{metav1.ConditionFalse, infrav1.ReasonDeploying, []string{"host-w1 of machine w1 (KubeletNotReady)"}},
		cp:           wantCondition{metav1.ConditionTrue, infrav1.ReasonDeployed, nil},
		mr:           wantCondition{metav1.ConditionFalse, infrav1.ReasonDeploying, []string{"Node not Ready"}},
		nodesHealthy: wantCondition{metav1.ConditionFalse, infrav1.ReasonNodeNotReady, []string{"host-w1", "cni plugin not initialized"}},
		reachable:    true, etcdMembers: 1,
		machineNodeReady: map[string]metav1.ConditionStatus{"cp1": metav1.ConditionTrue, "w1": metav1.ConditionFalse, "w2": metav1.ConditionTrue},
	}, {
		name: "the control plane machine's etcd member does not answer: control plane not Ready",
		world: func() statusWorld {
			w := healthyWorld()
			w.view.members[0].Healthy, w.view.members[0].Err = false, "context deadline exceeded"
			// The planner counts its machine not Ready.
			w.plan.Pools[0] = joiningPool(infrav1.ControlPlanePoolName, 1, 0)
			return w
		},
		phase:        infrav1.TenantPhaseProvisioning,
		ready:        wantCondition{metav1.ConditionFalse, infrav1.ReasonEtcdUnhealthy, []string{"0 of 1 etcd members healthy", "host-cp1", "context deadline exceeded"}},
		cp:           wantCondition{metav1.ConditionFalse, infrav1.ReasonEtcdUnhealthy, []string{"host-cp1"}},
		mr:           wantCondition{metav1.ConditionFalse, infrav1.ReasonDeploying, nil},
		nodesHealthy: wantCondition{metav1.ConditionTrue, infrav1.ReasonAllNodesReady, nil},
		reachable:    true, etcdMembers: 1,
		machineNodeReady: map[string]metav1.ConditionStatus{"cp1": metav1.ConditionTrue, "w1": metav1.ConditionTrue, "w2": metav1.ConditionTrue},
	}, {
		name: "an etcd member no machine runs does not answer: not Running though every machine is Ready",
		world: func() statusWorld {
			w := healthyWorld()
			w.view.members = append(w.view.members, workload.Member{ID: 99, IsLearner: true, PeerURLs: []string{"https://10.0.0.250:2380"}})
			return w
		},
		phase:        infrav1.TenantPhaseProvisioning,
		ready:        wantCondition{metav1.ConditionFalse, infrav1.ReasonEtcdUnhealthy, []string{"1 of 2 etcd members healthy", "10.0.0.250"}},
		cp:           wantCondition{metav1.ConditionFalse, infrav1.ReasonEtcdUnhealthy, []string{"(not started)"}},
		mr:           wantCondition{metav1.ConditionTrue, infrav1.ReasonDeployed, nil},
		nodesHealthy: wantCondition{metav1.ConditionTrue, infrav1.ReasonAllNodesReady, nil},
		reachable:    true, etcdMembers: 2,
		machineNodeReady: map[string]metav1.ConditionStatus{"cp1": metav1.ConditionTrue, "w1": metav1.ConditionTrue, "w2": metav1.ConditionTrue},
	}, {
		// Defensive: the planner never says Done then, but status must not
		// claim what was not seen, whatever it is given.
		name: "the tenant's API server unreachable: never Ready, and says why",
		world: func() statusWorld {
			w := healthyWorld()
			w.view = &workloadView{err: errors.New("dial tcp 10.0.0.100:6443: connect: no route to host")}
			return w
		},
		phase:        infrav1.TenantPhaseProvisioning,
		ready:        wantCondition{metav1.ConditionFalse, infrav1.ReasonClusterUnreached, []string{"no route to host"}},
		cp:           wantCondition{metav1.ConditionFalse, infrav1.ReasonClusterUnreached, []string{"spec.controlPlaneEndpoint"}},
		mr:           wantCondition{metav1.ConditionTrue, infrav1.ReasonDeployed, nil},
		nodesHealthy: wantCondition{metav1.ConditionUnknown, infrav1.ReasonNodesUnobserved, nil},
		// Nodes not seen are neither there nor missing.
		machineNodeReady: map[string]metav1.ConditionStatus{"cp1": "", "w1": "", "w2": ""},
	}, {
		name: "the tenant's API server stopped answering after listing its Nodes: nothing claimed from the stale list",
		world: func() statusWorld {
			w := healthyWorld()
			w.view.healthy, w.view.probe = false, errors.New("the server was unable to return a response in the time allotted")
			w.view.members, w.view.etcdErr = nil, errors.New("the cluster's API server has not answered yet")
			w.plan.Pools[0] = joiningPool(infrav1.ControlPlanePoolName, 1, 0)
			return w
		},
		phase:            infrav1.TenantPhaseProvisioning,
		ready:            wantCondition{metav1.ConditionFalse, infrav1.ReasonClusterUnreached, []string{"does not answer", "time allotted"}},
		cp:               wantCondition{metav1.ConditionFalse, infrav1.ReasonClusterUnreached, nil},
		mr:               wantCondition{metav1.ConditionFalse, infrav1.ReasonDeploying, nil},
		nodesHealthy:     wantCondition{metav1.ConditionUnknown, infrav1.ReasonNodesUnobserved, []string{"does not answer"}},
		machineNodeReady: map[string]metav1.ConditionStatus{"cp1": metav1.ConditionTrue, "w1": metav1.ConditionTrue, "w2": metav1.ConditionTrue},
	}, {
		name: "not looking inside (test worlds): MAAS's word, no workload status or NodesHealthy",
		world: func() statusWorld {
			w := healthyWorld()
			w.view = nil
			return w
		},
		phase:            infrav1.TenantPhaseRunning,
		ready:            wantCondition{metav1.ConditionTrue, infrav1.ReasonRunning, nil},
		cp:               wantCondition{metav1.ConditionTrue, infrav1.ReasonDeployed, nil},
		mr:               wantCondition{metav1.ConditionTrue, infrav1.ReasonDeployed, nil},
		machineNodeReady: map[string]metav1.ConditionStatus{"cp1": "", "w1": "", "w2": ""},
	}, {
		name: "the control plane still allocating: Ready says what it waits for",
		world: func() statusWorld {
			w := healthyWorld()
			w.view = nil
			w.plan.Pools[0] = rollout.PoolSummary{Name: infrav1.ControlPlanePoolName, Desired: 1, Waiting: "allocating 1 machine(s)"}
			return w
		},
		phase:            infrav1.TenantPhaseProvisioning,
		ready:            wantCondition{metav1.ConditionFalse, infrav1.ReasonWaitingForControlPlane, []string{"allocating 1 machine(s)"}},
		cp:               wantCondition{metav1.ConditionFalse, infrav1.ReasonDeploying, []string{"0 of 1 control-plane machines deployed"}},
		mr:               wantCondition{metav1.ConditionFalse, infrav1.ReasonDeploying, nil},
		machineNodeReady: map[string]metav1.ConditionStatus{"cp1": "", "w1": "", "w2": ""},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.world()
			tc := w.apply()
			if tc.Status.Phase != tt.phase {
				t.Errorf("phase = %s, want %s", tc.Status.Phase, tt.phase)
			}
			checkCondition(t, tc.Status.Conditions, infrav1.ConditionReady, tt.ready)
			checkCondition(t, tc.Status.Conditions, infrav1.TenantControlPlaneReady, tt.cp)
			checkCondition(t, tc.Status.Conditions, infrav1.TenantMachinesReady, tt.mr)
			checkCondition(t, tc.Status.Conditions, infrav1.TenantNodesHealthy, tt.nodesHealthy)
			if ws := tc.Status.Workload; w.view == nil {
				if ws != nil {
					t.Errorf("workload status %+v while not looking inside", ws)
				}
			} else {
				if ws.Reachable != tt.reachable || (!ws.Reachable && ws.Message == "") {
					t.Errorf("workload reachable = %v (%q), want %v with a message when false", ws.Reachable, ws.Message, tt.reachable)
				}
				if got := ws.EtcdMembers; (got == nil) != (tt.etcdMembers == 0) || (got != nil && *got != tt.etcdMembers) {
					t.Errorf("etcd members = %v, want %d", got, tt.etcdMembers)
				}
				if tt.reachable && (len(ws.KubernetesVersions) != 1 || ws.KubernetesVersions[0] != "v1.34.2") {
					t.Errorf("kubernetes versions = %v", ws.KubernetesVersions)
				}
			}
			for _, m := range tc.Status.Machines {
				want := tt.machineNodeReady[m.SystemID]
				switch {
				case want == "" && m.Node != nil:
					t.Errorf("machine %s has Node %+v, want none", m.SystemID, m.Node)
				case want != "" && (m.Node == nil || m.Node.Ready != want || m.Node.Name != "host-"+m.SystemID):
					t.Errorf("machine %s Node = %+v, want host-%s Ready=%s", m.SystemID, m.Node, m.SystemID, want)
				}
			}
		})
	}
}

func TestTenantStatusUpdatingOnceRunning(t *testing.T) {
	w := healthyWorld()
	w.plan.Pools[1] = joiningPool("workers", 2, 1)
	tc := &infrav1.TenantCluster{}
	tc.Status.Phase = infrav1.TenantPhaseRunning
	tc.Status.Machines = w.machines
	w.view.record(tc)
	tenantStatus(tc, w.plan, executed{}, w.view)
	if tc.Status.Phase != infrav1.TenantPhaseUpdating {
		t.Errorf("a Running cluster that loses a machine is %s, want Updating", tc.Status.Phase)
	}
}

func TestMachinesReadyNoCapacity(t *testing.T) {
	w := healthyWorld()
	w.view = nil
	w.plan.Pools[1] = rollout.PoolSummary{Name: "workers", Desired: 2, Waiting: "allocating 2 machine(s)"}
	tc := &infrav1.TenantCluster{}
	tc.Status.Machines = w.machines
	tenantStatus(tc, w.plan, executed{noCapacity: map[string]string{"workers": "no machine with 8 CPUs in zone b"}}, nil)
	want := wantCondition{metav1.ConditionFalse, infrav1.ReasonNoCapacity, []string{"pool workers: no machine with 8 CPUs in zone b"}}
	checkCondition(t, tc.Status.Conditions, infrav1.TenantMachinesReady, want)
	checkCondition(t, tc.Status.Conditions, infrav1.ConditionReady, want)
}

func TestSetNodesHealthyRemediation(t *testing.T) {
	for _, tt := range []struct {
		name string
		plan rollout.Result
		want wantCondition
	}{
		{"replacing", rollout.Result{Unhealthy: []string{"w1"}}, wantCondition{metav1.ConditionFalse, infrav1.ReasonRemediating, []string{"w1"}}},
		{"held", rollout.Result{Unhealthy: []string{"w1", "w2"}, RemediationHeld: true}, wantCondition{metav1.ConditionFalse, infrav1.ReasonRemediationHeld, []string{"w1, w2", "maxUnhealthy"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := healthyWorld()
			tc := &infrav1.TenantCluster{}
			tc.Status.Machines = w.machines
			w.view.record(tc)
			setNodesHealthy(tc, tt.plan, w.view)
			checkCondition(t, tc.Status.Conditions, infrav1.TenantNodesHealthy, tt.want)
		})
	}
}

func TestDeletionStatus(t *testing.T) {
	began := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	allowedAt := began.Add(DefaultForceDeleteAfter)
	newCluster := func() *infrav1.TenantCluster {
		tc := &infrav1.TenantCluster{Spec: infrav1.TenantClusterSpec{CloudAccountRef: infrav1.LocalObjectReference{Name: "acct"}}}
		tc.Status.Phase = infrav1.TenantPhaseRunning
		tc.Status.Machines = []infrav1.MachineStatus{{SystemID: "a", State: "Deployed"}, {SystemID: "b", State: "Releasing"}}
		setDeleting(&tc.Status, metav1.NewTime(allowedAt))
		return tc
	}
	for _, tt := range []struct {
		name string
		step func(tc *infrav1.TenantCluster)
		cond string
		want wantCondition
	}{
		{"waiting for MAAS to release", setReleasingCondition, infrav1.ConditionReady,
			wantCondition{metav1.ConditionFalse, infrav1.ReasonDeleting, []string{"2 machines", "a (Deployed), b (Releasing)", "2026-12-06T12:14:00Z"}}},
		{"waiting for the account", setDeletionWaitsForAccount, infrav1.ConditionReady,
			wantCondition{metav1.ConditionFalse, infrav1.ReasonCloudAccountNotReady, []string{"CloudAccount acct", "release 2 machines"}}},
		{"waiting for a list from MAAS", setDeletionWaitsForMAAS, infrav1.ConditionReady,
			wantCondition{metav1.ConditionFalse, infrav1.ReasonPolling, nil}},
		{"force delete too early", func(tc *infrav1.TenantCluster) { setForceDeleteTooEarly(tc, allowedAt, DefaultForceDeleteAfter) }, infrav1.TenantForceDeleted,
			wantCondition{metav1.ConditionFalse, infrav1.ReasonTooEarly, []string{"refused until 2026-12-06T12:14:00Z", "14m0s"}}},
		{"force deleted, machines left", func(tc *infrav1.TenantCluster) {
			setForceDeletedCondition(tc, []string{"a", "b"}, "; released in MAAS: 10.30.0.10")
		}, infrav1.TenantForceDeleted,
			wantCondition{metav1.ConditionTrue, infrav1.ReasonForceDeleted, []string{"may be left allocated or releasing in MAAS: a, b; released in MAAS: 10.30.0.10"}}},
		{"force deleted, nothing left", func(tc *infrav1.TenantCluster) { setForceDeletedCondition(tc, nil, "") }, infrav1.TenantForceDeleted,
			wantCondition{metav1.ConditionTrue, infrav1.ReasonForceDeleted, []string{"no machine was left"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := newCluster()
			tt.step(tc)
			if tc.Status.Phase != infrav1.TenantPhaseDeleting || !tc.Status.ForceDeleteAllowedAt.Time.Equal(allowedAt) {
				t.Errorf("phase %s, force delete allowed at %v", tc.Status.Phase, tc.Status.ForceDeleteAllowedAt)
			}
			checkCondition(t, tc.Status.Conditions, tt.cond, tt.want)
		})
	}

	tc := newCluster()
	if _, first := setForceDeleteTooEarly(tc, allowedAt, DefaultForceDeleteAfter); !first {
		t.Error("the first refusal is not new")
	}
	if _, first := setForceDeleteTooEarly(tc, allowedAt, DefaultForceDeleteAfter); first {
		t.Error("a repeated refusal is announced again")
	}
}

func TestQueuedAndWaitingStatus(t *testing.T) {
	gw := &infrav1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "gw-ns", Name: "gw"}}
	tc := &infrav1.TenantCluster{}
	clearQueuedCondition(tc)
	if len(tc.Status.Conditions) != 0 {
		t.Fatalf("a cluster never queued has conditions %v", tc.Status.Conditions)
	}
	setWaitingForMAAS(tc, nil)
	if tc.Status.Phase != infrav1.TenantPhasePending {
		t.Errorf("phase %s before the first list of machines, want Pending", tc.Status.Phase)
	}
	checkCondition(t, tc.Status.Conditions, infrav1.ConditionReady, wantCondition{metav1.ConditionFalse, infrav1.ReasonPolling, nil})
	setWaitingForMAAS(tc, errors.New("503 Service Unavailable"))
	checkCondition(t, tc.Status.Conditions, infrav1.ConditionReady, wantCondition{metav1.ConditionFalse, infrav1.ReasonUnreachable, []string{"MAAS does not answer", "503"}})

	msg := setQueuedCondition(tc, gw)
	if tc.Status.Phase != infrav1.TenantPhaseQueued || !strings.Contains(msg, "gw-ns/gw") {
		t.Errorf("queued: phase %s, message %q", tc.Status.Phase, msg)
	}
	checkCondition(t, tc.Status.Conditions, infrav1.TenantQueued, wantCondition{metav1.ConditionTrue, infrav1.ReasonGatewayUpgrading, []string{"resumes when the upgrade completes"}})
	checkCondition(t, tc.Status.Conditions, infrav1.ConditionReady, wantCondition{metav1.ConditionFalse, infrav1.ReasonQueued, nil})
	clearQueuedCondition(tc)
	checkCondition(t, tc.Status.Conditions, infrav1.TenantQueued, wantCondition{metav1.ConditionFalse, infrav1.ReasonNotQueued, nil})

	setInvalidConfiguration(tc, "spec.network.podCIDR: not a CIDR")
	if tc.Status.Phase != infrav1.TenantPhaseFailed {
		t.Errorf("phase %s, want Failed", tc.Status.Phase)
	}
	checkCondition(t, tc.Status.Conditions, infrav1.ConditionReady, wantCondition{metav1.ConditionFalse, infrav1.ReasonInvalidConfiguration, []string{"fixed", "podCIDR"}})
}

func TestRemediatesOnlyOnWhatAnAnsweringClusterSays(t *testing.T) {
	for _, tt := range []struct {
		name   string
		inside bool
		view   *workloadView
		want   bool
	}{
		{"not looking inside clusters", false, &workloadView{synced: true, healthy: true}, false},
		{"cluster not looked at yet", true, nil, false},
		{"cluster not reached", true, &workloadView{err: errors.New("dial tcp: refused")}, false},
		{"Nodes not listed yet", true, &workloadView{healthy: true}, false},
		{"Nodes listed, then the API server stopped answering", true, &workloadView{synced: true, probe: errors.New("timeout")}, false},
		{"Nodes listed from an answering API server", true, &workloadView{synced: true, healthy: true}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := remediates(tt.inside, tt.view); got != tt.want {
				t.Errorf("remediates = %v, want %v", got, tt.want)
			}
		})
	}
}
