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
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// etcdObserveTimeout bounds the etcd part of an observation: a member that
// does not answer in time is reported unhealthy, not waited for.
const etcdObserveTimeout = 5 * time.Second

// maxNodeMessage bounds a Node's condition message in status.
const maxNodeMessage = 512

// observeWorkload records in status what the tenant cluster says of itself:
// each machine's Node (matched by providerID) and its Ready condition, the
// versions the kubelets report, and the etcd member list of its control
// plane. It reaches the cluster through the cluster cache (credentials
// signed from the cluster's CA, the VIP of its spec) and never blocks on it:
// a cluster not reached yet, or whose Nodes are not listed yet, is reported
// so, and the cache's watch brings the cluster back when its Nodes change.
// Phase and readiness are not derived from it yet: they still come from
// MAAS, which status.workload makes visible next to what the cluster says.
func (r *TenantClusterReconciler) observeWorkload(ctx context.Context, tc *infrav1.TenantCluster, owned []maas.Machine) {
	if r.Clusters == nil || !r.ObserveWorkloads || !initialised(owned) {
		return
	}
	cl, err := r.tenantConnection(ctx, tc)
	if err != nil {
		tc.Status.Workload = &infrav1.WorkloadStatus{Message: truncate("cannot reach the cluster: "+err.Error(), 1024)}
		return
	}
	nodes, synced := cl.Nodes()
	healthy, probeErr := cl.Health()
	ws := &infrav1.WorkloadStatus{Reachable: synced && healthy}
	switch {
	case !synced:
		ws.Message = "waiting for the cluster's API server to list its Nodes"
	case !healthy && probeErr != nil:
		ws.Message = truncate("the cluster's API server does not answer: "+probeErr.Error(), 1024)
	}
	if synced {
		observeNodes(tc, ws, nodes)
	}
	if addrs := controlPlaneAddresses(owned); len(addrs) > 0 && ws.Reachable {
		observeEtcd(ctx, cl, ws, addrs)
	}
	tc.Status.Workload = ws
}

// tenantConnection returns the cluster cache's connection to tc, reading
// the cluster's PKI only when there is none yet (or it is due for renewal).
func (r *TenantClusterReconciler) tenantConnection(ctx context.Context, tc *infrav1.TenantCluster) (*workload.Cluster, error) {
	key := client.ObjectKeyFromObject(tc)
	ep := workload.Endpoint{VIP: tc.Spec.ControlPlaneEndpoint}
	if cl, ok := r.Clusters.Current(key, ep, tc.Spec.Profile.KubernetesVersion); ok {
		return cl, nil
	}
	pki, err := r.ensurePKI(ctx, tc)
	if err != nil {
		return nil, err
	}
	return r.Clusters.Get(key, workload.Access{PKI: pki, Endpoint: ep, KubernetesVersion: tc.Spec.Profile.KubernetesVersion})
}

// observeNodes fills each machine's Node in status and the cluster's Node
// counts and versions.
func observeNodes(tc *infrav1.TenantCluster, ws *infrav1.WorkloadStatus, nodes []corev1.Node) {
	versions := map[string]bool{}
	for _, n := range nodes {
		ws.Nodes++
		h := workload.HealthOf(&n)
		if h.Ready() {
			ws.ReadyNodes++
		}
		if v := n.Status.NodeInfo.KubeletVersion; v != "" {
			versions[v] = true
		}
	}
	for v := range versions {
		ws.KubernetesVersions = append(ws.KubernetesVersions, v)
	}
	slices.Sort(ws.KubernetesVersions)
	if len(ws.KubernetesVersions) > 8 {
		ws.KubernetesVersions = ws.KubernetesVersions[:8]
	}
	for i := range tc.Status.Machines {
		m := &tc.Status.Machines[i]
		n := workload.NodeFor(nodes, workload.Machine{SystemID: m.SystemID, Hostname: m.Hostname})
		if n == nil {
			m.Node = nil
			continue
		}
		h := workload.HealthOf(n)
		mn := &infrav1.MachineNode{Name: n.Name, Ready: metav1.ConditionStatus(h.Status), KubeletVersion: n.Status.NodeInfo.KubeletVersion}
		if !h.Ready() {
			mn.Reason, mn.Message = h.Reason, truncate(h.Message, maxNodeMessage)
		}
		m.Node = mn
	}
}

// observeEtcd counts the etcd members and those that answer.
func observeEtcd(ctx context.Context, cl *workload.Cluster, ws *infrav1.WorkloadStatus, addrs []string) {
	ctx, cancel := context.WithTimeout(ctx, etcdObserveTimeout)
	defer cancel()
	etcd, err := cl.Etcd(ctx, addrs, time.Now())
	if err != nil {
		ws.Message = truncate(fmt.Sprintf("etcd: %v", err), 1024)
		return
	}
	defer func() { _ = etcd.Close() }()
	members, err := etcd.Members(ctx)
	if err != nil {
		ws.Message = truncate(fmt.Sprintf("etcd: %v", err), 1024)
		return
	}
	healthy := int32(0)
	for _, m := range members {
		if m.Healthy {
			healthy++
		}
	}
	ws.EtcdMembers, ws.EtcdHealthy = ptr.To(int32(len(members))), ptr.To(healthy)
}

// controlPlaneAddresses are the first addresses of the deployed
// control-plane machines: where their etcd members serve.
func controlPlaneAddresses(owned []maas.Machine) []string {
	var out []string
	for _, m := range owned {
		if m.Owner != nil && m.Owner.Pool == infrav1.ControlPlanePoolName && m.Status == maas.StatusDeployed && len(m.Addresses) > 0 {
			out = append(out, m.Addresses[0])
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
