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
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
)

// stateReleasing is the state status gives a machine whose release began,
// until MAAS lists it again.
const stateReleasing = "Releasing"

// pendingReleases follows the machines a live cluster released (a rolling
// update, a scale-down, a failed deployment replaced) until MAAS has them
// back, and releases again those whose release MAAS failed.
//
// MAAS clears a machine's agent name as its release begins, so the
// installation's list no longer shows it; if the release then fails
// (Releasing failed) nothing in that list would ever ask again, and the
// machine stays out of MAAS's free pool for good. Status keeps such a
// machine, with its MAAS state, so that a restarted operator (whose
// inventory follows nothing yet) still knows of it. was is status.machines
// before this reconcile, owned the machines the cluster owns now, released
// the machines this reconcile released. It returns the status records of
// the machines still on their way back.
func (r *TenantClusterReconciler) pendingReleases(ctx context.Context, tc *infrav1.TenantCluster, account string, latest *maas.Snapshot,
	was []infrav1.MachineStatus, owned []maas.Machine, released []string) ([]infrav1.MachineStatus, error) {
	owner := maas.Owner{Kind: tenantKind, Namespace: tc.Namespace, Name: tc.Name, UID: infrav1.IdentityUID(tc)}
	candidates := map[string]infrav1.MachineStatus{}
	for _, m := range was {
		candidates[m.SystemID] = m
	}
	for _, id := range released {
		m := candidates[id]
		m.SystemID, m.State, m.Message = id, stateReleasing, ""
		candidates[id] = m
	}
	for _, m := range owned {
		delete(candidates, m.SystemID)
	}
	var out []infrav1.MachineStatus
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(candidates)) {
		m := candidates[id]
		now, state := latest.Followed(id)
		switch {
		case state.Settled():
			continue
		case state == maas.NotFollowed:
			// Released by an earlier process: follow it from the next poll.
			r.Inventory.FollowFor(account, owner, id)
			if m.State == "" {
				m.State = stateReleasing
			}
			out = append(out, m)
		case state == maas.FollowPending:
			if m.State == "" {
				m.State = stateReleasing
			}
			out = append(out, m)
		case now.Status == maas.StatusFailedReleasing:
			again, err := r.Inventory.RetryRelease(ctx, account, id, maas.ReleaseParams{
				Comment: fmt.Sprintf("maas-gateway: retrying the release of a machine of TenantCluster %s/%s", tc.Namespace, tc.Name)})
			if err != nil {
				errs = append(errs, fmt.Errorf("releasing machine %s again: %w", id, err))
				out = append(out, keepPool(machineStatus(now), m))
				continue
			}
			r.Recorder.Eventf(tc, nil, corev1.EventTypeWarning, "MachineReleaseRetried", "Release",
				"MAAS failed to release machine %s (%s); released it again", id, now.StatusMessage)
			out = append(out, keepPool(machineStatus(again), m))
		case now.Owner == nil || now.Owner.UID == infrav1.IdentityUID(tc):
			if rollout.ParseState(now.StatusName) != rollout.StateReleased {
				out = append(out, keepPool(machineStatus(now), m))
			}
		}
	}
	return out, errors.Join(errs...)
}

// keepPool is rec with the pool and template the earlier record knew,
// which MAAS no longer shows once the annotations are gone.
func keepPool(rec, earlier infrav1.MachineStatus) infrav1.MachineStatus {
	if rec.Pool == "" {
		rec.Pool, rec.Template = earlier.Pool, earlier.Template
	}
	return rec
}

// withReleasing is status.machines: the owned machines' records, then as
// many of the released ones as status has room for, sorted by system ID.
// Beyond that bound a released machine is followed in memory only: a
// restart then forgets it, should its release fail.
func withReleasing(owned, releasing []infrav1.MachineStatus) []infrav1.MachineStatus {
	if room := maxStatusMachines - len(owned); len(releasing) > room {
		releasing = releasing[:max(room, 0)]
	}
	if len(releasing) == 0 {
		return owned
	}
	out := append(owned, releasing...)
	slices.SortFunc(out, func(a, b infrav1.MachineStatus) int { return strings.Compare(a.SystemID, b.SystemID) })
	return out
}
