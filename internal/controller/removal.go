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

// How a machine leaves the cluster it serves before MAAS gets it back. The
// Gateway and the TenantCluster controllers both go through clusterExit, so
// the gateway's own nodes are drained, waited for and taken out of etcd in
// the same order, by the same code, as a tenant's.

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

// annotationDrainStarted on a Node records when the operator began
// draining it, so that the drain timeout survives operator restarts.
const annotationDrainStarted = "infra.maasgateway.io/drain-started"

// defaultDrainTimeout is a pool's drainTimeout when the object has none
// (written before the field existed, or a Gateway, which has no such field).
const defaultDrainTimeout = 10 * time.Minute

// drainWait is an errWaiting whose text is a condition reason and message.
type drainWait struct {
	reason, msg string
}

func (w drainWait) Error() string { return w.reason + ": " + w.msg }
func (w drainWait) Unwrap() error { return errWaiting }

// clusterExit is what taking a machine out of one cluster needs.
type clusterExit struct {
	// client reads Nodes, Pods and PodDisruptionBudgets from the cluster's
	// API server, uncached (pods are never cached), and writes Nodes.
	client  client.Client
	evicter workload.Evicter
	// etcd connects to the cluster's etcd members at the given machine
	// addresses.
	etcd         func(ctx context.Context, addrs []string) (*workload.Etcd, error)
	drainTimeout time.Duration
}

// leave takes one non-blocking step of taking victim out of the cluster:
// cordon and drain its Node (PodDisruptionBudgets respected) and wait for
// the pods to go; then, for a control-plane machine, remove its etcd member
// through the members at staying (never below quorum, leadership moved
// first), while its kubelet still works; then delete the Node. A machine
// whose Node never appeared (node nil) still loses its etcd member: a join
// that failed half way leaves one behind. It returns a drainWait while
// anything is pending, and nil once MAAS may have the machine.
func (x clusterExit) leave(ctx context.Context, victim maas.Machine, node *corev1.Node, controlPlane bool, staying []string) error {
	if node != nil {
		if err := x.drainStep(ctx, victim, node.Name); err != nil {
			return err
		}
	}
	if controlPlane {
		if err := x.removeEtcdMember(ctx, victim, node, staying); err != nil {
			return err
		}
	}
	if node != nil {
		gone := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node.Name}}
		if err := x.client.Delete(ctx, gone); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting Node %s: %w", node.Name, err)
		}
	}
	return nil
}

// drainStep runs one drain step on the Node of victim and says whether it
// is drained; past the drain timeout it still waits, louder.
func (x clusterExit) drainStep(ctx context.Context, victim maas.Machine, nodeName string) error {
	node := &corev1.Node{}
	if err := x.client.Get(ctx, client.ObjectKey{Name: nodeName}, node); err != nil {
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
		if err := x.client.Patch(ctx, node, patch); err != nil {
			return fmt.Errorf("marking Node %s as draining: %w", nodeName, err)
		}
	}
	st, err := workload.Drain(ctx, x.client, x.evicter, node, now)
	if err != nil {
		return fmt.Errorf("draining Node %s: %w", nodeName, err)
	}
	if st.Done() {
		return nil
	}
	timeout := x.drainTimeout
	if timeout <= 0 {
		timeout = defaultDrainTimeout
	}
	if waited := now.Sub(started); waited >= timeout {
		return drainWait{infrav1.ReasonDrainTimedOut, fmt.Sprintf("Node %s of machine %s not drained after %s (drainTimeout %s): %s; the machine is kept until its pods can go",
			nodeName, victim.SystemID, waited.Round(time.Second), timeout, st)}
	}
	return drainWait{infrav1.ReasonDraining, fmt.Sprintf("draining Node %s of machine %s: %s", nodeName, victim.SystemID, st)}
}

// removeEtcdMember removes victim's etcd member, found by its Node's name
// (kubeadm names members after their node) or by the machine's address,
// talking to the members at staying. A member already gone is fine.
func (x clusterExit) removeEtcdMember(ctx context.Context, victim maas.Machine, node *corev1.Node, staying []string) error {
	if len(staying) == 0 {
		// The last control plane: its etcd goes with it.
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*etcdObserveTimeout)
	defer cancel()
	etcd, err := x.etcd(ctx, staying)
	if err != nil {
		return drainWait{infrav1.ReasonWaitingForQuorum, fmt.Sprintf("cannot reach etcd to remove the member of %s: %v", victim.Hostname, err)}
	}
	defer func() { _ = etcd.Close() }()
	members, err := etcd.Members(ctx)
	if err != nil {
		return drainWait{infrav1.ReasonWaitingForQuorum, fmt.Sprintf("listing etcd members to remove %s's: %v", victim.Hostname, err)}
	}
	owner := memberMachine(victim, node)
	for _, m := range members {
		if !workload.MemberOf(m, owner) {
			continue
		}
		err := etcd.RemoveMember(ctx, m.ID)
		switch {
		case err == nil, errors.Is(err, workload.ErrNotMember):
		case errors.Is(err, workload.ErrQuorum), errors.Is(err, workload.ErrMembershipChanging), errors.Is(err, workload.ErrLastMember):
			return drainWait{infrav1.ReasonWaitingForQuorum, fmt.Sprintf("etcd member %s of machine %s stays for now: %v", m.Name, victim.SystemID, err)}
		default:
			return drainWait{infrav1.ReasonWaitingForQuorum, fmt.Sprintf("removing etcd member %s of machine %s: %v", m.Name, victim.SystemID, err)}
		}
	}
	return nil
}

// memberMachine is what ties an etcd member to machine m, whose Node is
// node (nil while none has appeared).
func memberMachine(m maas.Machine, node *corev1.Node) workload.MemberMachine {
	x := workload.MemberMachine{Hostname: m.Hostname, Addresses: m.Addresses}
	if node != nil {
		x.Node = node.Name
	}
	return x
}

func findMachine(owned []maas.Machine, systemID string) (maas.Machine, bool) {
	for _, m := range owned {
		if m.SystemID == systemID {
			return m, true
		}
	}
	return maas.Machine{}, false
}

// setNodesDrained reports, as condition conditionType, the machines waiting
// to leave their cluster (the drainWait texts of an executor's run). It
// returns the condition's reason.
func setNodesDrained(conds *[]metav1.Condition, generation int64, conditionType string, waiting []string) string {
	if len(waiting) == 0 {
		if c := meta.FindStatusCondition(*conds, conditionType); c != nil && c.Status != metav1.ConditionTrue {
			setCondition(conds, generation, conditionType, metav1.ConditionTrue, infrav1.ReasonDrained,
				"no machine waits to leave the cluster")
		}
		return infrav1.ReasonDrained
	}
	reason := infrav1.ReasonDraining
	msgs := make([]string, 0, len(waiting))
	for _, w := range waiting {
		r, msg, _ := strings.Cut(w, ": ")
		// The worst reason wins: a timeout needs a person.
		if r == infrav1.ReasonDrainTimedOut || (r == infrav1.ReasonWaitingForQuorum && reason != infrav1.ReasonDrainTimedOut) || r == infrav1.ReasonClusterUnreached && reason == infrav1.ReasonDraining {
			reason = r
		}
		msgs = append(msgs, msg)
	}
	setCondition(conds, generation, conditionType, metav1.ConditionFalse, reason,
		truncate(strings.Join(msgs, "; "), 2048))
	return reason
}
