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

// A TenantCluster's status, computed by small pure functions: no client, no
// clock (time comes in as arguments), each table-tested without an API
// server. A status says only what was observed: what MAAS listed, and what
// the cluster's own API server and etcd said when the operator looked inside.

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
	"github.com/maas-gateway/maas-gateway/internal/workload"
)

// maxNodeMessage bounds a Node's condition message in status: enough for a
// kubelet's message, small enough that 300 machine records fit etcd.
const maxNodeMessage = 256

// pending sets phase Pending and Ready=False: the cluster cannot start yet.
func pending(tc *infrav1.TenantCluster, reason, msg string) {
	tc.Status.Phase = infrav1.TenantPhasePending
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.ConditionReady, metav1.ConditionFalse, reason, msg)
}

// setWaitingForMAAS sets Ready=False while the inventory has no current
// list of the account's machines: none yet (err nil), or MAAS failed.
func setWaitingForMAAS(tc *infrav1.TenantCluster, err error) {
	if err != nil {
		setCondition(&tc.Status.Conditions, tc.Generation, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonUnreachable, maasUnreachable(err))
		return
	}
	if tc.Status.Phase == "" {
		tc.Status.Phase = infrav1.TenantPhasePending
	}
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonPolling, "waiting for the first list of machines from MAAS")
}

// setQueuedCondition queues the cluster's provisioning while gw upgrades,
// and returns the message, for the event that announces it.
func setQueuedCondition(tc *infrav1.TenantCluster, gw *infrav1.Gateway) string {
	tc.Status.Phase = infrav1.TenantPhaseQueued
	msg := fmt.Sprintf("provisioning is queued while Gateway %s/%s upgrades; it resumes when the upgrade completes", gw.Namespace, gw.Name)
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.TenantQueued, metav1.ConditionTrue, infrav1.ReasonGatewayUpgrading, msg)
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonQueued, msg)
	return msg
}

// clearQueuedCondition sets Queued=False on a cluster that was queued; one
// that never was has no such condition.
func clearQueuedCondition(tc *infrav1.TenantCluster) {
	if meta.FindStatusCondition(tc.Status.Conditions, infrav1.TenantQueued) != nil {
		setCondition(&tc.Status.Conditions, tc.Generation, infrav1.TenantQueued, metav1.ConditionFalse, infrav1.ReasonNotQueued, "provisioning is not waiting for the gateway")
	}
}

// setInvalidConfiguration fails the cluster whose spec cannot be rendered
// into its nodes' configuration (why says what the renderer refused).
func setInvalidConfiguration(tc *infrav1.TenantCluster, why string) {
	tc.Status.Phase = infrav1.TenantPhaseFailed
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonInvalidConfiguration,
		"the spec cannot be turned into the nodes' configuration; nothing is allocated until it is fixed: "+why)
}

// tenantMachines is status.machines, sorted by system ID.
func tenantMachines(owned []maas.Machine) []infrav1.MachineStatus {
	out := make([]infrav1.MachineStatus, 0, len(owned))
	for _, m := range owned {
		out = append(out, machineStatus(m))
	}
	slices.SortFunc(out, func(a, b infrav1.MachineStatus) int { return strings.Compare(a.SystemID, b.SystemID) })
	return out
}

// tenantStatus sets pools, counts, conditions and phase from the plan, what
// this reconcile did, and what v saw inside the cluster (nil while the
// operator does not look inside). Status.Machines and Status.Workload must
// already hold what v saw (v.record).
func tenantStatus(tc *infrav1.TenantCluster, plan rollout.Result, done executed, v *workloadView) {
	st := &tc.Status
	setPoolStatus(st, plan)
	inside := v.controlPlaneProblem()
	setControlPlaneReadyCondition(st, tc.Generation, plan.Pools[0], inside)
	setMachinesReadyCondition(st, tc.Generation, plan, done.noCapacity)
	setReadyCondition(st, tc.Generation, plan, inside, packsProblem(st))
}

// packsProblem is what keeps the cluster's packs from being Ready, from
// condition PacksReady (set before); zero when they are, or when the
// condition was never set.
func packsProblem(st *infrav1.TenantClusterStatus) insideProblem {
	c := meta.FindStatusCondition(st.Conditions, infrav1.TenantPacksReady)
	if c == nil || c.Status == metav1.ConditionTrue {
		return insideProblem{}
	}
	return insideProblem{c.Reason, "packs: " + c.Message}
}

// setPoolStatus sets status.pools and the machine counts.
func setPoolStatus(st *infrav1.TenantClusterStatus, plan rollout.Result) {
	st.Pools = st.Pools[:0]
	st.ReadyMachines, st.DesiredMachines = 0, 0
	for _, p := range plan.Pools {
		st.Pools = append(st.Pools, infrav1.PoolStatus{Name: p.Name, Desired: int32(p.Desired), Ready: int32(p.Ready), Updated: int32(p.Updated)})
		st.ReadyMachines += int32(p.Ready)
		st.DesiredMachines += int32(p.Desired)
	}
}

// insideProblem is what the cluster's API server or etcd says that keeps
// its control plane from being Ready; zero when nothing does, or when the
// operator does not look inside.
type insideProblem struct {
	reason, msg string
}

// controlPlaneProblem is what v saw wrong with the cluster's control plane:
// an API server that cannot be reached, does not answer or has not listed
// its Nodes, or etcd members that cannot be listed or do not all answer.
// What was not seen is never taken as well.
func (v *workloadView) controlPlaneProblem() insideProblem {
	switch {
	case v == nil:
		return insideProblem{}
	case v.err != nil:
		return insideProblem{infrav1.ReasonClusterUnreached, "cannot reach the cluster's API server at spec.controlPlaneEndpoint: " + v.err.Error()}
	case !v.healthy && v.probe != nil:
		return insideProblem{infrav1.ReasonClusterUnreached, "the cluster's API server does not answer: " + v.probe.Error()}
	case !v.healthy:
		return insideProblem{infrav1.ReasonClusterUnreached, "waiting for the cluster's API server to answer"}
	case !v.synced:
		return insideProblem{infrav1.ReasonClusterUnreached, "waiting for the cluster's API server to list its Nodes"}
	case v.members == nil:
		msg := "the cluster's etcd members could not be listed"
		if v.etcdErr != nil {
			msg += ": " + v.etcdErr.Error()
		}
		return insideProblem{infrav1.ReasonEtcdUnhealthy, msg}
	}
	var sick []string
	for _, m := range v.members {
		if m.Healthy {
			continue
		}
		s := fmt.Sprintf("%s (peer %s)", memberName(m), m.Host())
		if m.Err != "" {
			s += ": " + m.Err
		}
		sick = append(sick, s)
	}
	if len(sick) == 0 {
		return insideProblem{}
	}
	return insideProblem{infrav1.ReasonEtcdUnhealthy, fmt.Sprintf("%d of %d etcd members healthy; not answering: %s",
		len(v.members)-len(sick), len(v.members), strings.Join(sick, "; "))}
}

// setControlPlaneReadyCondition says whether the control-plane pool has its
// machines Ready and, seen from inside, the API server answers and every
// etcd member is healthy.
func setControlPlaneReadyCondition(st *infrav1.TenantClusterStatus, gen int64, cp rollout.PoolSummary, inside insideProblem) {
	if cp.Done && inside.reason == "" {
		setCondition(&st.Conditions, gen, infrav1.TenantControlPlaneReady, metav1.ConditionTrue, infrav1.ReasonDeployed,
			fmt.Sprintf("%d of %d control-plane machines deployed", cp.Ready, cp.Desired))
		return
	}
	if cp.Done {
		setCondition(&st.Conditions, gen, infrav1.TenantControlPlaneReady, metav1.ConditionFalse, inside.reason, inside.msg)
		return
	}
	reason := infrav1.ReasonDeploying
	msg := joinNonEmpty("; ", fmt.Sprintf("%d of %d control-plane machines deployed", cp.Ready, cp.Desired), cp.Waiting, nodeGaps(st, infrav1.ControlPlanePoolName))
	if inside.reason != "" {
		reason, msg = inside.reason, inside.msg+"; "+msg
	}
	setCondition(&st.Conditions, gen, infrav1.TenantControlPlaneReady, metav1.ConditionFalse, reason, msg)
}

// setMachinesReadyCondition says whether every pool has its machines Ready,
// or what they wait for: MAAS capacity (noCapacity, by pool), deployments,
// Nodes that have not joined or are not Ready.
func setMachinesReadyCondition(st *infrav1.TenantClusterStatus, gen int64, plan rollout.Result, noCapacity map[string]string) {
	if plan.Done() {
		setCondition(&st.Conditions, gen, infrav1.TenantMachinesReady, metav1.ConditionTrue, infrav1.ReasonDeployed,
			fmt.Sprintf("%d of %d machines deployed", st.ReadyMachines, st.DesiredMachines))
		return
	}
	if len(noCapacity) > 0 {
		var capacity []string
		for _, pool := range slices.Sorted(maps.Keys(noCapacity)) {
			capacity = append(capacity, fmt.Sprintf("pool %s: %s", pool, noCapacity[pool]))
		}
		setCondition(&st.Conditions, gen, infrav1.TenantMachinesReady, metav1.ConditionFalse, infrav1.ReasonNoCapacity,
			"MAAS has no machine matching "+strings.Join(capacity, "; "))
		return
	}
	var waiting []string
	for _, p := range plan.Pools {
		if !p.Done && p.Waiting != "" {
			waiting = append(waiting, p.Name+": "+p.Waiting)
		}
	}
	msg := joinNonEmpty("; ", strings.Join(waiting, "; "), nodeGaps(st, ""))
	if msg == "" {
		// Every pool is done; what is left are steps outside them.
		msg = fmt.Sprintf("%d step(s) left on machines no pool counts, such as the release of a machine whose pool left the spec", len(plan.Actions))
	}
	setCondition(&st.Conditions, gen, infrav1.TenantMachinesReady, metav1.ConditionFalse, infrav1.ReasonDeploying, msg)
}

// setReadyCondition sets phase and Ready from the plan and the conditions
// ControlPlaneReady and MachinesReady (set before it): Running only when
// every machine is Ready on the current template, nothing seen inside the
// cluster says otherwise, and its packs are installed.
func setReadyCondition(st *infrav1.TenantClusterStatus, gen int64, plan rollout.Result, inside, packs insideProblem) {
	if plan.Done() && inside.reason == "" && packs.reason == "" {
		st.Phase = infrav1.TenantPhaseRunning
		setCondition(&st.Conditions, gen, infrav1.ConditionReady, metav1.ConditionTrue, infrav1.ReasonRunning,
			fmt.Sprintf("%d of %d machines deployed on the current template", st.ReadyMachines, st.DesiredMachines))
		return
	}
	outdated := slices.ContainsFunc(plan.Pools, func(p rollout.PoolSummary) bool { return p.Outdated > 0 })
	if outdated || st.Phase == infrav1.TenantPhaseRunning || st.Phase == infrav1.TenantPhaseUpdating {
		st.Phase = infrav1.TenantPhaseUpdating
	} else {
		st.Phase = infrav1.TenantPhaseProvisioning
	}
	cp := meta.FindStatusCondition(st.Conditions, infrav1.TenantControlPlaneReady)
	machines := meta.FindStatusCondition(st.Conditions, infrav1.TenantMachinesReady)
	switch {
	case plan.Done() && inside.reason == "":
		setCondition(&st.Conditions, gen, infrav1.ConditionReady, metav1.ConditionFalse, packs.reason, packs.msg)
	case cp != nil && cp.Status != metav1.ConditionTrue && cp.Reason != infrav1.ReasonDeploying:
		// The cluster itself says what is wrong: that, before any count.
		setCondition(&st.Conditions, gen, infrav1.ConditionReady, metav1.ConditionFalse, cp.Reason, "the control plane is not Ready: "+cp.Message)
	case cp != nil && cp.Status != metav1.ConditionTrue && machines.Reason != infrav1.ReasonNoCapacity:
		setCondition(&st.Conditions, gen, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonWaitingForControlPlane, "waiting for the control plane: "+cp.Message)
	default:
		setCondition(&st.Conditions, gen, infrav1.ConditionReady, metav1.ConditionFalse, machines.Reason, "waiting for machines: "+machines.Message)
	}
}

// nodeGaps names the deployed machines of pool ("" for all) whose Node has
// not appeared in the cluster, or is not Ready; "" when there are none, or
// when the cluster's API server was not reached: a Node not seen there is
// not known to be missing.
func nodeGaps(st *infrav1.TenantClusterStatus, pool string) string {
	if st.Workload == nil || !st.Workload.Reachable {
		return ""
	}
	var absent, notReady []string
	for _, m := range st.Machines {
		if pool != "" && m.Pool != pool {
			continue
		}
		switch {
		case m.Node == nil && rollout.ParseState(m.State) == rollout.StateDeployed:
			absent = append(absent, fmt.Sprintf("%s (%s)", m.SystemID, m.Hostname))
		case m.Node != nil && m.Node.Ready != metav1.ConditionTrue:
			notReady = append(notReady, fmt.Sprintf("%s of machine %s (%s)", m.Node.Name, m.SystemID, m.Node.Reason))
		}
	}
	var out []string
	if len(absent) > 0 {
		out = append(out, "deployed in MAAS but no Node in the cluster yet: "+strings.Join(absent, ", "))
	}
	if len(notReady) > 0 {
		out = append(out, "Node not Ready: "+strings.Join(notReady, ", "))
	}
	return strings.Join(out, "; ")
}

func joinNonEmpty(sep string, parts ...string) string {
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), sep)
}

// record writes the view into status: each machine's Node and the cluster's
// Node counts, versions and etcd members.
func (v *workloadView) record(tc *infrav1.TenantCluster) {
	if v == nil {
		return
	}
	ws := &infrav1.WorkloadStatus{Reachable: v.err == nil && v.synced && v.healthy}
	switch {
	case v.err != nil:
		ws.Message = truncate("cannot reach the cluster: "+v.err.Error(), 1024)
	case !v.synced:
		ws.Message = "waiting for the cluster's API server to list its Nodes"
	case !v.healthy && v.probe != nil:
		ws.Message = truncate("the cluster's API server does not answer: "+v.probe.Error(), 1024)
	case !v.healthy:
		ws.Message = "waiting for the cluster's API server to answer"
	}
	if v.synced {
		observeNodes(tc, ws, v.nodes)
	}
	if v.members != nil {
		healthy := int32(0)
		for _, m := range v.members {
			if m.Healthy {
				healthy++
			}
		}
		ws.EtcdMembers, ws.EtcdHealthy = new(int32(len(v.members))), new(healthy)
	} else if v.etcdErr != nil && ws.Message == "" {
		ws.Message = truncate("etcd: "+v.etcdErr.Error(), 1024)
	}
	tc.Status.Workload = ws
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
		mn := &infrav1.MachineNode{Name: n.Name, Ready: metav1.ConditionStatus(h.Status), KubeletVersion: truncate(n.Status.NodeInfo.KubeletVersion, 64)}
		if !h.Ready() {
			mn.Reason, mn.Message = truncate(h.Reason, 256), truncate(h.Message, maxNodeMessage)
		}
		m.Node = mn
	}
}

// setNodesHealthy says whether the Node of every machine is Ready, from
// what view saw and what the plan made of it; the condition stays absent
// while the operator does not look inside the cluster, and is Unknown
// while it could not: Nodes last listed before the API server stopped
// answering say nothing of the Nodes now.
func setNodesHealthy(tc *infrav1.TenantCluster, plan rollout.Result, v *workloadView) {
	if v == nil {
		return
	}
	gen := tc.Generation
	conds := &tc.Status.Conditions
	if !v.synced {
		setCondition(conds, gen, infrav1.TenantNodesHealthy, metav1.ConditionUnknown, infrav1.ReasonNodesUnobserved,
			"the cluster's Nodes have not been listed")
		return
	}
	if !v.healthy {
		setCondition(conds, gen, infrav1.TenantNodesHealthy, metav1.ConditionUnknown, infrav1.ReasonNodesUnobserved,
			"the cluster's API server does not answer: its Nodes' state now is not known")
		return
	}
	if len(plan.Unhealthy) > 0 {
		ids := strings.Join(plan.Unhealthy, ", ")
		if plan.RemediationHeld {
			_, limit := healthCheckOf(tc)
			setCondition(conds, gen, infrav1.TenantNodesHealthy, metav1.ConditionFalse, infrav1.ReasonRemediationHeld,
				truncate(fmt.Sprintf("%d machines have Nodes not Ready past healthCheck.unhealthyTimeout (%s), more than maxUnhealthy (%d): none is replaced, as the fault looks like the cluster's, not the machines'",
					len(plan.Unhealthy), ids, limit), 1024))
			return
		}
		setCondition(conds, gen, infrav1.TenantNodesHealthy, metav1.ConditionFalse, infrav1.ReasonRemediating,
			truncate("replacing machines whose Node stayed not Ready past healthCheck.unhealthyTimeout: "+ids, 1024))
		return
	}
	var notReady []string
	for _, m := range tc.Status.Machines {
		switch {
		case m.Node == nil:
		case m.Node.Ready != metav1.ConditionTrue:
			notReady = append(notReady, fmt.Sprintf("%s (%s: %s)", m.Node.Name, m.Node.Reason, m.Node.Message))
		}
	}
	if len(notReady) > 0 {
		setCondition(conds, gen, infrav1.TenantNodesHealthy, metav1.ConditionFalse, infrav1.ReasonNodeNotReady,
			truncate("Nodes not Ready: "+strings.Join(notReady, "; "), 1024))
		return
	}
	setCondition(conds, gen, infrav1.TenantNodesHealthy, metav1.ConditionTrue, infrav1.ReasonAllNodesReady,
		"every machine's Node that has joined is Ready")
}

// setDeleting sets phase Deleting and when force delete is allowed.
func setDeleting(st *infrav1.TenantClusterStatus, allowedAt metav1.Time) {
	st.Phase = infrav1.TenantPhaseDeleting
	st.ForceDeleteAllowedAt = &allowedAt
}

// setForceDeleteTooEarly refuses a force delete asked before allowedAt
// (after is the delay since deletion began). It returns the message, and
// whether the refusal is new (to be announced once).
func setForceDeleteTooEarly(tc *infrav1.TenantCluster, allowedAt time.Time, after time.Duration) (string, bool) {
	msg := fmt.Sprintf("force delete is refused until %s (%s after deletion began); the annotation is honoured from then on",
		allowedAt.UTC().Format(time.RFC3339), after)
	c := meta.FindStatusCondition(tc.Status.Conditions, infrav1.TenantForceDeleted)
	first := c == nil || c.Reason != infrav1.ReasonTooEarly
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.TenantForceDeleted, metav1.ConditionFalse, infrav1.ReasonTooEarly, msg)
	return msg, first
}

// setForceDeletedCondition records that the finalizer is dropped by force,
// naming the machines MAAS may still hold (left, sorted). It returns the
// message.
func setForceDeletedCondition(tc *infrav1.TenantCluster, left []string, addresses string) string {
	msg := "force-deleted without waiting for MAAS; no machine was left"
	if len(left) > 0 {
		msg = fmt.Sprintf("force-deleted without waiting for MAAS; these machines may be left allocated or releasing in MAAS: %s", strings.Join(left, ", "))
	}
	msg += addresses
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.TenantForceDeleted, metav1.ConditionTrue, infrav1.ReasonForceDeleted, msg)
	return msg
}

// setDeletionWaitsForAccount: the machines cannot be released while the
// cluster's CloudAccount is not Ready.
func setDeletionWaitsForAccount(tc *infrav1.TenantCluster) {
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonCloudAccountNotReady,
		fmt.Sprintf("deletion waits for CloudAccount %s to be Ready to release %d machines", tc.Spec.CloudAccountRef.Name, len(tc.Status.Machines)))
}

// setDeletionWaitsForMAAS: no machine is released on a list of machines
// that is not current.
func setDeletionWaitsForMAAS(tc *infrav1.TenantCluster) {
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonPolling,
		"deletion waits for a current list of machines from MAAS")
}

// setReleasingCondition names the machines deletion waits for MAAS to take
// back (status.machines) and when force delete is allowed.
func setReleasingCondition(tc *infrav1.TenantCluster) {
	ids := make([]string, 0, len(tc.Status.Machines))
	for _, m := range tc.Status.Machines {
		ids = append(ids, m.SystemID+" ("+m.State+")")
	}
	setCondition(&tc.Status.Conditions, tc.Generation, infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonDeleting,
		fmt.Sprintf("waiting for MAAS to release %d machines: %s; force delete is allowed from %s",
			len(ids), strings.Join(ids, ", "), tc.Status.ForceDeleteAllowedAt.UTC().Format(time.RFC3339)))
}
