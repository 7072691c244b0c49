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
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// etcdObjectLimit is etcd's default request size limit (--max-request-bytes),
// which bounds one object.
const etcdObjectLimit = 1536 * 1024

// TestWorstCaseTenantClusterFitsEtcd builds the largest status the operator
// can write for a TenantCluster (every bounded field at its bound, as many
// machines as status.machines allows, each with the longest record MAAS and
// the cluster can give it) over a spec at the schema's bounds, and measures
// its JSON: it must stay under etcd's object limit, or the status write
// fails and the cluster is stuck.
func TestWorstCaseTenantClusterFitsEtcd(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	addresses := make([]string, 40) // more than a machine record keeps
	for i := range addresses {
		addresses[i] = "fd00:" + strings.Repeat("ffff:", 7)[:35] + fmt.Sprint(i)
	}
	tc := &infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Name: long(253), Namespace: long(63), UID: "0123456789abcdef0123456789abcdef0123",
		Labels: map[string]string{long(63): long(63)}, Finalizers: []string{TenantClusterFinalizer}}}
	tc.Spec.Description = long(1024)
	tc.Spec.ControlPlane.Size = 5
	tc.Spec.ControlPlane.Zones = make([]string, 16)
	for i := range tc.Spec.ControlPlane.Zones {
		tc.Spec.ControlPlane.Zones[i] = long(256)
	}
	for i := range 32 {
		w := infrav1.NodePool{Name: fmt.Sprintf("%s%02d", long(38), i), Size: 6}
		w.Zones, w.Tags = tc.Spec.ControlPlane.Zones, make([]string, 32)
		for j := range w.Tags {
			w.Tags[j] = long(256)
		}
		w.ResourcePool = long(256)
		tc.Spec.Workers = append(tc.Spec.Workers, w)
	}
	st := &tc.Status
	for i := range maxStatusMachines {
		m := machineStatus(maas.Machine{
			SystemID: fmt.Sprintf("%06d", i), Hostname: long(300), Zone: long(300), StatusName: long(100),
			StatusMessage: long(5000), Addresses: addresses,
			Owner: &maas.Owner{Pool: long(100), Template: long(100)},
		})
		m.Node = &infrav1.MachineNode{Name: long(253), Ready: metav1.ConditionFalse, Reason: truncate(long(1000), 256),
			Message: truncate(long(5000), maxNodeMessage), KubeletVersion: truncate(long(100), 64)}
		st.Machines = append(st.Machines, m)
	}
	for i := range 33 {
		st.Pools = append(st.Pools, infrav1.PoolStatus{Name: fmt.Sprintf("%s%02d", long(38), i), Desired: 1000, Ready: 1000, Updated: 1000})
	}
	for i := range 64 {
		st.Packs = append(st.Packs, infrav1.PackStatus{Name: fmt.Sprintf("%s%02d", long(51), i), Namespace: long(63), Chart: long(253),
			Version: long(128), Message: long(2048), State: infrav1.PackFailed, Failures: 1 << 30, LastAttemptTime: &metav1.Time{}})
	}
	// Every condition type the operator sets on a TenantCluster, each with
	// a message at setCondition's cap and the longest reason the API allows.
	for i := range 16 {
		setCondition(&st.Conditions, 1<<40, fmt.Sprintf("Condition%02d", i), metav1.ConditionFalse, long(1024), long(5000))
	}
	st.Workload = &infrav1.WorkloadStatus{Message: long(1024), KubernetesVersions: []string{long(64), long(64), long(64), long(64), long(64), long(64), long(64), long(64)}}
	st.KubeconfigSecretRef = &infrav1.LocalObjectReference{Name: long(253)}
	st.Profile = &infrav1.AppliedProfile{Name: long(253), KubernetesVersion: long(64)}
	st.LoadBalancer = &infrav1.LoadBalancerStatus{Start: long(45), End: long(45), Subnet: long(256)}

	for _, m := range st.Machines[:1] {
		// The CRD counts characters: a cut string ends in one "…".
		if utf8.RuneCountInString(m.Message) > 256 || len(m.Addresses) > maxMachineAddresses || utf8.RuneCountInString(m.Hostname) > 255 {
			t.Fatalf("a machine record is not cut to its bounds: %d-character message, %d addresses", utf8.RuneCountInString(m.Message), len(m.Addresses))
		}
	}
	status, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	object, err := json.Marshal(tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("worst case: status %d bytes (%d machines, %d bytes each), whole object %d bytes, etcd's limit %d",
		len(status), len(st.Machines), len(mustJSON(t, st.Machines[0])), len(object), etcdObjectLimit)
	if len(object) >= etcdObjectLimit {
		t.Fatalf("the largest TenantCluster is %d bytes of JSON, over etcd's %d", len(object), etcdObjectLimit)
	}
	// Room for what this test leaves out: managedFields (stripped from the
	// manager's cache, not from etcd) and pack overrides a user writes.
	if len(status) > 1<<20 {
		t.Fatalf("the largest status is %d bytes, over the 1 MiB it is given", len(status))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
