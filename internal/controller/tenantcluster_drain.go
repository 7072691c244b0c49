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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// tenantBeforeRelease takes machine systemID out of tc's cluster before
// MAAS gets it back, one non-blocking step per reconcile: cordon and drain
// its Node (PodDisruptionBudgets respected) and wait for the pods to go;
// then, for a control-plane machine, remove its etcd member through the
// members that stay (never below quorum, leadership moved first), while its
// kubelet still works; then delete the Node. A machine whose Node never
// appeared still loses its etcd member (a join that failed half way leaves
// one behind). It returns a drainWait while anything is pending.
func (r *TenantClusterReconciler) tenantBeforeRelease(tc *infrav1.TenantCluster, owned []maas.Machine) func(ctx context.Context, systemID string) error {
	return func(ctx context.Context, systemID string) error {
		victim, ok := findMachine(owned, systemID)
		if !ok || victim.Status != maas.StatusDeployed {
			// Never deployed, or not any more: nothing of it is in the cluster.
			return nil
		}
		cl, err := r.tenantConnection(ctx, tc)
		if err != nil {
			return drainWait{infrav1.ReasonClusterUnreached, fmt.Sprintf("cannot reach the cluster to drain %s: %v", victim.Hostname, err)}
		}
		nodes, synced := cl.Nodes()
		if !synced {
			return drainWait{infrav1.ReasonClusterUnreached, fmt.Sprintf("waiting for the cluster's Nodes to drain %s", victim.Hostname)}
		}
		node := workload.NodeFor(nodes, workload.Machine{SystemID: victim.SystemID, Hostname: victim.Hostname})
		exit := clusterExit{
			client:  cl.Client,
			evicter: cl.Evicter(),
			etcd: func(ctx context.Context, addrs []string) (*workload.Etcd, error) {
				return cl.Etcd(ctx, addrs, time.Now())
			},
			drainTimeout: drainTimeoutOf(tc, victim),
		}
		controlPlane := victim.Owner != nil && victim.Owner.Pool == infrav1.ControlPlanePoolName
		return exit.leave(ctx, victim, node, controlPlane, stayingControlPlanes(owned, victim))
	}
}

// stayingControlPlanes are the addresses of the deployed control-plane
// machines of owned other than victim: the etcd members a removal talks to.
func stayingControlPlanes(owned []maas.Machine, victim maas.Machine) []string {
	var out []string
	for _, m := range owned {
		if m.SystemID != victim.SystemID && m.Owner != nil && m.Owner.Pool == infrav1.ControlPlanePoolName &&
			m.Status == maas.StatusDeployed && len(m.Addresses) > 0 {
			out = append(out, m.Addresses[0])
		}
	}
	return out
}

func drainTimeoutOf(tc *infrav1.TenantCluster, m maas.Machine) time.Duration {
	var d *metav1.Duration
	if m.Owner != nil && m.Owner.Pool == infrav1.ControlPlanePoolName {
		d = tc.Spec.ControlPlane.DrainTimeout
	} else if m.Owner != nil {
		for _, p := range tc.Spec.Workers {
			if p.Name == m.Owner.Pool {
				d = p.DrainTimeout
			}
		}
	}
	if d == nil || d.Duration <= 0 {
		return defaultDrainTimeout
	}
	return d.Duration
}
