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
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// reconcileDelete refuses while TenantClusters depend on the gateway (the
// webhook says so at once; this holds when it is bypassed), then does what
// spec.deletionPolicy says and lets the object go.
func (r *GatewayReconciler) reconcileDelete(ctx context.Context, gw *infrav1.Gateway) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(gw, GatewayFinalizer) {
		return ctrl.Result{}, nil
	}
	gw.Status.Phase = infrav1.GatewayPhaseDeleting
	deps, err := r.Finder.OfGateway(ctx, gw)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(deps) > 0 {
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonInUse,
			"deletion waits for these TenantClusters to be deleted first: "+dependents.Summary(deps, 5))
		return ctrl.Result{RequeueAfter: r.RequeueInterval}, r.Status().Update(ctx, gw)
	}
	if gw.Spec.DeletionPolicy == infrav1.GatewayDecommission {
		done, err := r.decommission(ctx, gw)
		if err != nil || !done {
			return ctrl.Result{RequeueAfter: r.RequeueInterval}, err
		}
	} else {
		r.retain(ctx, gw)
	}
	controllerutil.RemoveFinalizer(gw, GatewayFinalizer)
	return ctrl.Result{}, r.Update(ctx, gw)
}

// retain lets the gateway's machines be and says so, with what a person
// can do with them: the gateway cluster usually runs this very manager, and
// a Gateway deleted by mistake or to reinstall the operator must not take
// the cluster down.
func (r *GatewayReconciler) retain(ctx context.Context, gw *infrav1.Gateway) {
	kept := make([]string, 0, len(gw.Status.Nodes))
	for _, n := range gw.Status.Nodes {
		// A machine whose release began (status keeps it until MAAS has
		// it back) is not kept: it is leaving whatever happens.
		if !n.Adopted && !leavingMAASState(n.State) {
			kept = append(kept, n.SystemID)
		}
	}
	if len(kept) == 0 {
		return
	}
	slices.Sort(kept)
	vip := ""
	if meta.IsStatusConditionTrue(gw.Status.Conditions, infrav1.ConditionVIPReserved) {
		vip = fmt.Sprintf(", and so does the reservation of VIP %s in MAAS", gw.Spec.ControlPlaneEndpoint)
	}
	msg := fmt.Sprintf("deletionPolicy Retain: machines %s stay deployed (MAAS agent name %s)%s; "+
		"list them in spec.adoptMachines of a new Gateway to manage them again, or release them in MAAS; "+
		"set deletionPolicy Decommission before deleting to have them released",
		strings.Join(kept, ", "), AgentName(gw), vip)
	r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "MachinesRetained", "Delete", msg)
	logf.FromContext(ctx).Info("Gateway deleted, machines retained", "machines", kept)
}

// decommission takes one step of releasing the machines the gateway
// allocated, and says whether none is left. It holds while the inventory
// has not listed the installation's machines: letting the object go then
// would leave every machine deployed with nothing to find it by.
func (r *GatewayReconciler) decommission(ctx context.Context, gw *infrav1.Gateway) (bool, error) {
	key := AccountKey(types.NamespacedName{Namespace: gw.Namespace, Name: DefaultAccountName(gw)})
	snap, ok := r.Inventory.Snapshot(key)
	if !ok {
		setCondition(&gw.Status.Conditions, gw.Generation, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonInventoryUnknown,
			fmt.Sprintf("deletionPolicy Decommission waits for MAAS to list this installation's machines (see CloudAccount %s): "+
				"releasing none until they are known; set deletionPolicy Retain to let the Gateway go and keep them",
				DefaultAccountName(gw)))
		return false, r.Status().Update(ctx, gw)
	}
	owned := ownedBy(snap, gatewayKind, gw)
	if len(owned) == 0 {
		// MAAS clears a machine's agent name as its release begins: one
		// whose release then fails is in no list of the installation's,
		// and only status.nodes still knows of it. The object goes once
		// every released machine is back in MAAS's pool.
		if back, err := r.releasesSettled(ctx, gw, key, snap); !back || err != nil {
			return false, err
		}
		// The VIP goes with the last machine, not before: a reservation
		// released while a node still answers on the address would let
		// MAAS hand it to another machine.
		return true, r.releaseGatewayAddresses(ctx, gw, key)
	}
	// From outside the gateway cluster its Nodes are not in this cluster:
	// a Node here that bears a gateway machine's name is another
	// cluster's (the bootstrap cluster's own), never to be drained or
	// deleted. The gateway's etcd members still leave one at a time, at
	// the machines' addresses; the gateway cluster ends with its machines.
	nodes := &corev1.NodeList{}
	if !r.Nodes.Outside {
		if err := r.List(ctx, nodes); err != nil {
			return false, err
		}
	}
	var adopted []infrav1.GatewayNode
	for _, n := range gw.Status.Nodes {
		if n.Adopted && !slices.Contains(gw.Status.RetiredMachines, n.SystemID) {
			adopted = append(adopted, n)
		}
	}
	members := gatewayMembers(owned, adopted)
	var released []string
	for _, step := range planDecommission(owned, nodes.Items, r.Nodes.Self, len(adopted) > 0) {
		m := step.machine
		if step.leave {
			// One member at a time, as in any other removal: the nodes
			// staying keep serving with a quorum.
			staying := stayingAddresses(members, append(released, m.SystemID)...)
			if err := r.leaveGateway(ctx, gw, m, step.node, staying); err != nil {
				r.nodesDrained(gw, []string{err.Error()})
				if uerr := r.Status().Update(ctx, gw); uerr != nil {
					return false, uerr
				}
				return false, client.IgnoreNotFound(ignoreWaiting(err))
			}
		}
		if step.last {
			r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "ReleasingLastNode", "Release",
				"releasing machine %s, the node this manager runs on, last and without a drain: the gateway cluster ends with it", m.SystemID)
		}
		if _, err := r.Inventory.Release(ctx, key, m.SystemID, maas.ReleaseParams{Comment: "maas-gateway: Gateway deleted", Erase: true, QuickErase: true}); err != nil && !maas.IsNotFound(err) {
			return false, fmt.Errorf("releasing %s: %w", m.SystemID, err)
		}
		released = append(released, m.SystemID)
		r.Recorder.Eventf(gw, nil, corev1.EventTypeNormal, "MachineReleased", "Release", "released machine %s: the gateway is deleted", m.SystemID)
	}
	if len(released) > 0 {
		// Not done before a later pass, whose list no longer shows them as
		// the installation's, has followed them back (releasesSettled).
		for i := range gw.Status.Nodes {
			if slices.Contains(released, gw.Status.Nodes[i].SystemID) {
				gw.Status.Nodes[i].State, gw.Status.Nodes[i].Ready = stateReleasing, false
			}
		}
		return false, r.Status().Update(ctx, gw)
	}
	return true, r.releaseGatewayAddresses(ctx, gw, key)
}

// releasesSettled follows the machines the gateway released (status.nodes
// keeps them, so that a restart mid-decommission still knows of them),
// releasing again those MAAS failed to release, and says whether all are
// back.
func (r *GatewayReconciler) releasesSettled(ctx context.Context, gw *infrav1.Gateway, key string, latest *maas.Snapshot) (bool, error) {
	owned := ownedBy(latest, gatewayKind, gw)
	var current []infrav1.GatewayNode
	for _, n := range gw.Status.Nodes {
		if n.Adopted || slices.ContainsFunc(owned, func(m maas.Machine) bool { return m.SystemID == n.SystemID }) {
			current = append(current, n)
		}
	}
	nodes, releasing, err := r.withReleasingNodes(ctx, gw, key, latest, current, nil)
	if !releasing && err == nil {
		return true, nil
	}
	gw.Status.Nodes = nodes
	msg := "deletionPolicy Decommission waits for MAAS to take its machines back"
	if err != nil {
		msg += ": " + err.Error()
	}
	setCondition(&gw.Status.Conditions, gw.Generation, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonDeleting, msg)
	if uerr := r.Status().Update(ctx, gw); uerr != nil {
		return false, uerr
	}
	return false, nil
}

// decommissionStep is one machine of a decommission.
type decommissionStep struct {
	machine maas.Machine
	node    *corev1.Node
	// leave: the machine leaves the cluster (drain, etcd member, Node)
	// before its release.
	leave bool
	// last: the machine the manager runs on, with no node staying after
	// it. Draining it would evict the manager with nowhere to go (the
	// reconcile would never finish: the Gateway would stay Deleting), and
	// the last etcd member cannot be removed; the cluster ends with it.
	last bool
}

// planDecommission orders the release of the gateway's owned machines: the
// one whose Node is self (the manager's) goes last, so the manager is
// there to finish the others. othersStay is whether nodes the operator
// does not release (adopted ones) keep the cluster going after it.
func planDecommission(owned []maas.Machine, nodes []corev1.Node, self string, othersStay bool) []decommissionStep {
	steps := make([]decommissionStep, 0, len(owned))
	for _, m := range owned {
		var node *corev1.Node
		for i := range nodes {
			if systemIDOf(&nodes[i]) == m.SystemID {
				node = &nodes[i]
			}
		}
		step := decommissionStep{machine: m, node: node, leave: m.Status == maas.StatusDeployed || node != nil}
		if self != "" && node != nil && node.Name == self && !othersStay {
			step.leave, step.last = false, true
		}
		steps = append(steps, step)
	}
	isSelf := func(s decommissionStep) bool { return self != "" && s.node != nil && s.node.Name == self }
	slices.SortStableFunc(steps, func(a, b decommissionStep) int {
		switch {
		case isSelf(a) == isSelf(b):
			return 0
		case isSelf(a):
			return 1
		default:
			return -1
		}
	})
	return steps
}
