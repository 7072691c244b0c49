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
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// annotationDrainStarted on a tenant's Node records when the operator began
// draining it, so that the pool's drain timeout survives operator restarts.
const annotationDrainStarted = "infra.maasgateway.io/drain-started"

// Reasons of condition NodesDrained.
const (
	ReasonDrained          = "Drained"
	ReasonDraining         = "Draining"
	ReasonDrainTimedOut    = "DrainTimedOut"
	ReasonWaitingForQuorum = "WaitingForQuorum"
	ReasonClusterUnreached = "ClusterUnreachable"
)

// defaultDrainTimeout is a pool's drainTimeout when the object has none
// (written before the field existed).
const defaultDrainTimeout = 10 * time.Minute

// drainWait is an errWaiting whose text is a condition reason and message.
type drainWait struct {
	reason, msg string
}

func (w drainWait) Error() string { return w.reason + ": " + w.msg }
func (w drainWait) Unwrap() error { return errWaiting }

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
			return drainWait{ReasonClusterUnreached, fmt.Sprintf("cannot reach the cluster to drain %s: %v", victim.Hostname, err)}
		}
		nodes, synced := cl.Nodes()
		if !synced {
			return drainWait{ReasonClusterUnreached, fmt.Sprintf("waiting for the cluster's Nodes to drain %s", victim.Hostname)}
		}
		node := workload.NodeFor(nodes, workload.Machine{SystemID: victim.SystemID, Hostname: victim.Hostname})
		if node != nil {
			if err := r.drainStep(ctx, tc, cl, victim, node.Name); err != nil {
				return err
			}
		}
		if victim.Owner != nil && victim.Owner.Pool == infrav1.ControlPlanePoolName {
			if err := removeEtcdMember(ctx, cl, owned, victim, node); err != nil {
				return err
			}
		}
		if node != nil {
			gone := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node.Name}}
			if err := cl.Client.Delete(ctx, gone); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting Node %s: %w", node.Name, err)
			}
		}
		return nil
	}
}

// drainStep runs one drain step on the Node of victim and says whether it
// is drained; past the pool's drain timeout it still waits, louder.
func (r *TenantClusterReconciler) drainStep(ctx context.Context, tc *infrav1.TenantCluster, cl *workload.Cluster, victim maas.Machine, nodeName string) error {
	node := &corev1.Node{}
	if err := cl.Client.Get(ctx, client.ObjectKey{Name: nodeName}, node); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading Node %s: %w", nodeName, err)
	}
	now := time.Now()
	started, err := time.Parse(time.RFC3339, node.Annotations[annotationDrainStarted])
	if err != nil {
		started = now
		patch := client.MergeFrom(node.DeepCopy())
		if node.Annotations == nil {
			node.Annotations = map[string]string{}
		}
		node.Annotations[annotationDrainStarted] = now.UTC().Format(time.RFC3339)
		if err := cl.Client.Patch(ctx, node, patch); err != nil {
			return fmt.Errorf("marking Node %s as draining: %w", nodeName, err)
		}
	}
	st, err := workload.Drain(ctx, cl.Client, cl.Evicter(), node, now)
	if err != nil {
		return fmt.Errorf("draining Node %s: %w", nodeName, err)
	}
	if st.Done() {
		return nil
	}
	timeout := drainTimeoutOf(tc, victim)
	if waited := now.Sub(started); waited >= timeout {
		return drainWait{ReasonDrainTimedOut, fmt.Sprintf("Node %s of machine %s not drained after %s (drainTimeout %s): %s; the machine is kept until its pods can go",
			nodeName, victim.SystemID, waited.Round(time.Second), timeout, st)}
	}
	return drainWait{ReasonDraining, fmt.Sprintf("draining Node %s of machine %s: %s", nodeName, victim.SystemID, st)}
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

// removeEtcdMember removes victim's etcd member, found by its Node's name
// (kubeadm names members after their node) or by the machine's address,
// talking to the members that stay. A member already gone is fine.
func removeEtcdMember(ctx context.Context, cl *workload.Cluster, owned []maas.Machine, victim maas.Machine, node *corev1.Node) error {
	var others []string
	for _, m := range owned {
		if m.SystemID != victim.SystemID && m.Owner != nil && m.Owner.Pool == infrav1.ControlPlanePoolName &&
			m.Status == maas.StatusDeployed && len(m.Addresses) > 0 {
			others = append(others, m.Addresses[0])
		}
	}
	if len(others) == 0 {
		// The last control plane: its etcd goes with it.
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*etcdObserveTimeout)
	defer cancel()
	etcd, err := cl.Etcd(ctx, others, time.Now())
	if err != nil {
		return drainWait{ReasonWaitingForQuorum, fmt.Sprintf("cannot reach etcd to remove the member of %s: %v", victim.Hostname, err)}
	}
	defer func() { _ = etcd.Close() }()
	members, err := etcd.Members(ctx)
	if err != nil {
		return drainWait{ReasonWaitingForQuorum, fmt.Sprintf("listing etcd members to remove %s's: %v", victim.Hostname, err)}
	}
	for _, m := range members {
		if !isMemberOf(m, victim, node) {
			continue
		}
		err := etcd.RemoveMember(ctx, m.ID)
		switch {
		case err == nil, errors.Is(err, workload.ErrNotMember):
		case errors.Is(err, workload.ErrQuorum), errors.Is(err, workload.ErrMembershipChanging), errors.Is(err, workload.ErrLastMember):
			return drainWait{ReasonWaitingForQuorum, fmt.Sprintf("etcd member %s of machine %s stays for now: %v", m.Name, victim.SystemID, err)}
		default:
			return drainWait{ReasonWaitingForQuorum, fmt.Sprintf("removing etcd member %s of machine %s: %v", m.Name, victim.SystemID, err)}
		}
	}
	return nil
}

func isMemberOf(m workload.Member, victim maas.Machine, node *corev1.Node) bool {
	if node != nil && m.Name == node.Name {
		return true
	}
	if m.Name != "" && strings.EqualFold(m.Name, victim.Hostname) {
		return true
	}
	for _, a := range victim.Addresses {
		if m.Host() == a {
			return true
		}
	}
	return false
}

func findMachine(owned []maas.Machine, systemID string) (maas.Machine, bool) {
	for _, m := range owned {
		if m.SystemID == systemID {
			return m, true
		}
	}
	return maas.Machine{}, false
}

// setNodesDrained reports the machines waiting to leave their cluster.
func setNodesDrained(tc *infrav1.TenantCluster, waiting []string) {
	if len(waiting) == 0 {
		if c := meta.FindStatusCondition(tc.Status.Conditions, infrav1.TenantNodesDrained); c != nil && c.Status != metav1.ConditionTrue {
			setCondition(&tc.Status.Conditions, tc.Generation, infrav1.TenantNodesDrained, metav1.ConditionTrue, ReasonDrained,
				"no machine waits to leave the cluster")
		}
		return
	}
	reason := ReasonDraining
	msgs := make([]string, 0, len(waiting))
	for _, w := range waiting {
		r, msg, _ := strings.Cut(w, ": ")
		// The worst reason wins: a timeout needs a person.
		if r == ReasonDrainTimedOut || (r == ReasonWaitingForQuorum && reason != ReasonDrainTimedOut) || r == ReasonClusterUnreached && reason == ReasonDraining {
			reason = r
		}
		msgs = append(msgs, msg)
	}
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.TenantNodesDrained, metav1.ConditionFalse, reason,
		truncate(strings.Join(msgs, "; "), 2048))
}
