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

// How a TenantCluster goes: every machine back in MAAS, or a force delete
// once the delay has passed.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
)

// reconcileDelete releases every machine of the cluster (aborting those
// still deploying: MAAS powers them off), waits until MAAS has them all
// back, and lets the object go; or, when asked with the force-delete
// annotation once the delay has passed, lets it go at once.
func (r *TenantClusterReconciler) reconcileDelete(ctx context.Context, tc *infrav1.TenantCluster) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(tc, TenantClusterFinalizer) {
		return ctrl.Result{}, nil
	}
	before := tc.Status.DeepCopy()
	allowedAt := metav1.NewTime(tc.DeletionTimestamp.Add(r.ForceDeleteAfter))
	setDeleting(&tc.Status, allowedAt)

	if tc.Annotations[infrav1.AnnotationForceDelete] == "true" {
		if now := r.now(); now.Before(allowedAt.Time) {
			if msg, first := setForceDeleteTooEarly(tc, allowedAt.Time, r.ForceDeleteAfter); first {
				r.Recorder.Eventf(tc, nil, corev1.EventTypeWarning, "ForceDeleteRefused", "ForceDelete", "%s", msg)
			}
			// Go on releasing meanwhile; come back when force is allowed.
			res, err := r.releaseAll(ctx, tc, before)
			if err == nil && (res.RequeueAfter == 0 || res.RequeueAfter > allowedAt.Sub(now)) {
				res.RequeueAfter = allowedAt.Sub(now) + 10*time.Millisecond
			}
			return res, err
		}
		return r.forceDelete(ctx, tc)
	}
	return r.releaseAll(ctx, tc, before)
}

func (r *TenantClusterReconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

// forceDelete drops the finalizer, recording which machines MAAS may still hold.
func (r *TenantClusterReconciler) forceDelete(ctx context.Context, tc *infrav1.TenantCluster) (ctrl.Result, error) {
	ids := map[string]bool{}
	for _, m := range tc.Status.Machines {
		ids[m.SystemID] = true
	}
	account, _, err := r.deleteAccount(ctx, tc)
	if err == nil && account != "" {
		if snap, ok := r.Inventory.Snapshot(account); ok {
			for _, m := range ownedBy(snap, tenantKind, tc) {
				ids[m.SystemID] = true
			}
		}
	}
	msg := setForceDeletedCondition(tc, slices.Sorted(maps.Keys(ids)), r.forceReleaseAddresses(ctx, tc, account))
	if err := r.updateStatus(ctx, tc); err != nil {
		return ctrl.Result{}, err
	}
	controllerutil.RemoveFinalizer(tc, TenantClusterFinalizer)
	if err := r.update(ctx, tc); err != nil {
		return ctrl.Result{}, err
	}
	// Recorded once the finalizer is gone, so a conflict retried by the next
	// reconcile does not announce the force delete twice.
	r.Recorder.Eventf(tc, nil, corev1.EventTypeWarning, "ForceDeleted", "ForceDelete", "%s", msg)
	return ctrl.Result{}, nil
}

// deleteAccount is the inventory key of the cluster's account, "" when the
// account is gone, and whether the account is Ready. An account being
// deleted with its clusters (a namespace deletion) is not Ready, yet stays
// registered until they are gone, so its machines can still be released.
func (r *TenantClusterReconciler) deleteAccount(ctx context.Context, tc *infrav1.TenantCluster) (string, bool, error) {
	account := &infrav1.CloudAccount{}
	key := types.NamespacedName{Namespace: tc.Namespace, Name: tc.Spec.CloudAccountRef.Name}
	if err := r.Get(ctx, key, account); err != nil {
		return "", false, client.IgnoreNotFound(err)
	}
	return AccountKey(key), meta.IsStatusConditionTrue(account.Status.Conditions, infrav1.ConditionReady), nil
}

// releaseAll is one step of an orderly deletion.
func (r *TenantClusterReconciler) releaseAll(ctx context.Context, tc *infrav1.TenantCluster, before *infrav1.TenantClusterStatus) (ctrl.Result, error) {
	account, ready, err := r.deleteAccount(ctx, tc)
	if err != nil {
		return ctrl.Result{}, err
	}
	var snap *maas.Snapshot
	ok := false
	if account != "" {
		snap, ok = r.Inventory.Snapshot(account)
	}
	if !ok {
		if !ready && len(tc.Status.Machines) == 0 {
			// The account never let the cluster provision: nothing to release.
			return r.dropFinalizer(ctx, tc, before)
		}
		setDeletionWaitsForAccount(tc)
		return r.writeDeleting(ctx, tc, before, ctrl.Result{RequeueAfter: r.RequeueInterval}, nil)
	}
	if snap.PolledAt.IsZero() || snap.Err != nil {
		setDeletionWaitsForMAAS(tc)
		return r.writeDeleting(ctx, tc, before, ctrl.Result{RequeueAfter: r.RequeueInterval}, nil)
	}
	owned := ownedBy(snap, tenantKind, tc)
	machines := make([]rollout.Machine, 0, len(owned))
	for _, m := range owned {
		machines = append(machines, plannerMachine(m, rollout.NodeAbsent))
	}
	plan := rollout.PlanDelete(machines)
	exec := &poolExecutor{inv: r.Inventory, account: account, snap: snap,
		owner: maas.Owner{Kind: tenantKind, Namespace: tc.Namespace, Name: tc.Name, UID: infrav1.IdentityUID(tc)},
		erase: func(pool string) infrav1.DiskErase { return diskEraseOf(tc, pool) }}
	done, runErr := exec.run(ctx, plan.Actions)
	for _, id := range done.released {
		r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "MachineReleased", "Release", "released machine %s: the cluster is deleted", id)
	}

	// Machines whose release began have left the installation's list (MAAS
	// clears their agent name); the inventory follows them, all in one
	// request per poll, until MAAS has them back. Status remembers them
	// across restarts.
	latest := snapshotAfter(r.Inventory, account, snap)
	left := map[string]infrav1.MachineStatus{}
	for _, m := range ownedBy(latest, tenantKind, tc) {
		left[m.SystemID] = machineStatus(m)
	}
	for _, m := range tc.Status.Machines {
		if _, ok := left[m.SystemID]; ok {
			continue
		}
		if slices.Contains(done.released, m.SystemID) {
			m.State = stateReleasing
			left[m.SystemID] = m
			continue
		}
		now, state := latest.Followed(m.SystemID)
		switch {
		case state.Settled():
			r.releaseRetries.forget(m.SystemID)
			continue
		case state == maas.NotFollowed:
			// Released by an earlier process: follow it from the next poll.
			r.Inventory.FollowFor(account, exec.owner, m.SystemID)
			left[m.SystemID] = m
		case state == maas.FollowPending:
			left[m.SystemID] = m
		case now.Status == maas.StatusFailedReleasing:
			// Released by us (MAAS cleared its agent name then), and MAAS
			// failed: ask again, or it stays out of the pool for good.
			again, rerr := retryRelease(ctx, r.Inventory, r.Recorder, releasedBy{
				owner: exec.owner, account: account, object: tc,
				comment: fmt.Sprintf("maas-gateway: retrying the release of a machine of deleted TenantCluster %s/%s", tc.Namespace, tc.Name),
				retries: &r.releaseRetries, now: r.now(),
			}, now)
			if rerr != nil {
				runErr = rerr
			}
			left[m.SystemID] = again
		case now.Owner != nil && now.Owner.UID == infrav1.IdentityUID(tc) && rollout.ParseState(now.StatusName) != rollout.StateReleased:
			left[m.SystemID] = machineStatus(now)
		}
	}
	for _, id := range done.released {
		if _, ok := left[id]; !ok {
			left[id] = infrav1.MachineStatus{SystemID: id, State: stateReleasing}
		}
	}
	tc.Status.Machines = make([]infrav1.MachineStatus, 0, len(left))
	for _, id := range slices.Sorted(maps.Keys(left)) {
		tc.Status.Machines = append(tc.Status.Machines, left[id])
	}
	if len(left) == 0 && runErr == nil {
		if wait, err := r.releaseAddresses(ctx, tc, account); wait {
			return r.writeDeleting(ctx, tc, before, ctrl.Result{RequeueAfter: r.RequeueInterval}, err)
		}
		return r.dropFinalizer(ctx, tc, before)
	}
	setReleasingCondition(tc)
	return r.writeDeleting(ctx, tc, before, ctrl.Result{RequeueAfter: r.ReleaseCheckInterval}, runErr)
}

func (r *TenantClusterReconciler) writeDeleting(ctx context.Context, tc *infrav1.TenantCluster, before *infrav1.TenantClusterStatus, res ctrl.Result, err error) (ctrl.Result, error) {
	if !apiequality.Semantic.DeepEqual(before, &tc.Status) {
		if uerr := r.updateStatus(ctx, tc); uerr != nil {
			return ctrl.Result{}, uerr
		}
	}
	return res, err
}

func (r *TenantClusterReconciler) dropFinalizer(ctx context.Context, tc *infrav1.TenantCluster, before *infrav1.TenantClusterStatus) (ctrl.Result, error) {
	if _, err := r.writeDeleting(ctx, tc, before, ctrl.Result{}, nil); err != nil {
		return ctrl.Result{}, err
	}
	r.Recorder.Eventf(tc, nil, corev1.EventTypeNormal, "Deleted", "Delete", "every machine is back in MAAS's free pool")
	controllerutil.RemoveFinalizer(tc, TenantClusterFinalizer)
	return ctrl.Result{}, r.update(ctx, tc)
}
