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
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// etcdObserveTimeout bounds the etcd part of an observation: a member that
// does not answer in time is reported unhealthy, not waited for.
const etcdObserveTimeout = 5 * time.Second

// workloadView is one look inside a tenant cluster: what its API server
// says of its Nodes and what its etcd says of its members.
type workloadView struct {
	nodes   []corev1.Node
	synced  bool
	healthy bool
	err     error // the cluster could not be reached at all
	probe   error
	members []workload.Member
	etcdErr error
}

// lookInside reads the tenant cluster through the cluster cache
// (credentials signed from the cluster's CA, the VIP of its spec), never
// blocking on it: a cluster not reached yet, or whose Nodes are not listed
// yet, says so, and the cache's Node watch brings the cluster back when its
// Nodes change. nil when the operator does not look inside clusters, or
// before the cluster's first control plane is deployed.
func (r *TenantClusterReconciler) lookInside(ctx context.Context, tc *infrav1.TenantCluster, owned []maas.Machine) *workloadView {
	if !r.insideClusters() || !initialised(owned, infrav1.ControlPlanePoolName) {
		return nil
	}
	v := &workloadView{}
	cl, err := r.tenantConnection(ctx, tc)
	if err != nil {
		v.err = err
		return v
	}
	v.nodes, v.synced = cl.Nodes()
	v.healthy, v.probe = cl.Health()
	if addrs := controlPlaneAddresses(owned); len(addrs) > 0 && v.synced && v.healthy {
		v.members, v.etcdErr = etcdMembers(ctx, cl, addrs)
	} else {
		v.etcdErr = errors.New("the cluster's API server has not answered yet")
	}
	return v
}

// insideClusters says whether the operator operates inside its clusters:
// readiness from their Nodes and etcd, drains before releases.
func (r *TenantClusterReconciler) insideClusters() bool {
	return r.ObserveWorkloads && r.Clusters != nil
}

// nodeState is what the cluster says of machine m, for the planner: Ready
// when its Node is Ready and, for a control-plane machine, its etcd member
// answers too; a cluster not looked at says nothing (NodeAbsent).
func (v *workloadView) nodeState(m maas.Machine) rollout.NodeState {
	if v == nil || !v.synced {
		return rollout.NodeAbsent
	}
	n := workload.NodeFor(v.nodes, workload.Machine{SystemID: m.SystemID, Hostname: m.Hostname})
	switch {
	case n == nil:
		return rollout.NodeAbsent
	case !workload.HealthOf(n).Ready():
		return rollout.NodeNotReady
	case m.Owner != nil && m.Owner.Pool == infrav1.ControlPlanePoolName && !v.memberHealthy(m, n):
		return rollout.NodeNotReady
	}
	return rollout.NodeReady
}

// unhealthySince is when machine m's Node stopped being Ready, as its
// cluster recorded it (the Ready condition's transition time, or the Node's
// creation when it never reported one); zero when the Node is Ready,
// absent, or the cluster was not looked at.
func (v *workloadView) unhealthySince(m maas.Machine) time.Time {
	if v == nil || !v.synced {
		return time.Time{}
	}
	n := workload.NodeFor(v.nodes, workload.Machine{SystemID: m.SystemID, Hostname: m.Hostname})
	if n == nil || workload.HealthOf(n).Ready() {
		return time.Time{}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	return n.CreationTimestamp.Time
}

// Defaults of a TenantCluster's healthCheck, for objects written before it
// existed (the schema defaults the fields of a healthCheck that is set).
const (
	defaultUnhealthyTimeout = 10 * time.Minute
	defaultMaxUnhealthy     = "40%"
)

// healthCheckOf returns how long tc's Nodes may stay not Ready before their
// machines are replaced, and how many machines may be replaced at most
// (a percentage counts against the machines the spec asks for).
func healthCheckOf(tc *infrav1.TenantCluster) (time.Duration, int) {
	timeout := defaultUnhealthyTimeout
	maxUnhealthy := intstr.FromString(defaultMaxUnhealthy)
	if hc := tc.Spec.HealthCheck; hc != nil {
		if hc.UnhealthyTimeout != nil {
			timeout = hc.UnhealthyTimeout.Duration
		}
		if hc.MaxUnhealthy != nil {
			maxUnhealthy = *hc.MaxUnhealthy
		}
	}
	total := int(tc.Spec.ControlPlane.Size)
	for _, p := range tc.Spec.Workers {
		total += int(p.Size)
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&maxUnhealthy, total, false)
	if err != nil || n < 0 {
		// The schema admits neither; replace nothing rather than guess.
		n = 0
	}
	return max(timeout, 0), n
}

func (v *workloadView) memberHealthy(m maas.Machine, n *corev1.Node) bool {
	return workload.VotesFor(v.members, memberMachine(m, n))
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

// etcdMembers lists the etcd members and which answer, through the
// members at addrs.
func etcdMembers(ctx context.Context, cl *workload.Cluster, addrs []string) ([]workload.Member, error) {
	ctx, cancel := context.WithTimeout(ctx, etcdObserveTimeout)
	defer cancel()
	etcd, err := cl.Etcd(ctx, addrs, time.Now())
	if err != nil {
		return nil, err
	}
	defer func() { _ = etcd.Close() }()
	return etcd.Members(ctx)
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
