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
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
)

// stateReleasing is the state status gives a machine whose release began,
// until MAAS lists it again.
const stateReleasing = "Releasing"

// releasedBy is whose released machines followReleases follows, and how
// it tells of a release asked again.
type releasedBy struct {
	// owner is the object as the machines' owner marks name it.
	owner maas.Owner
	// account is the inventory key of the account the machines are in.
	account string
	// object is what the MachineReleaseRetried event is recorded on.
	object runtime.Object
	// comment is MAAS's comment on a release asked again.
	comment string
	// retries paces the releases asked again; now is the reconcile's time.
	retries *releaseRetries
	now     time.Time
}

// followReleases follows the machines a live object (a TenantCluster, the
// Gateway) released (a rolling update or upgrade, a resize, a failed
// deployment replaced) until MAAS has them back, and releases again those
// whose release MAAS failed.
//
// MAAS clears a machine's agent name as its release begins, so the
// installation's list no longer shows it; if the release then fails
// (Releasing failed) nothing in that list would ever ask again, and the
// machine stays out of MAAS's free pool for good, owned by nobody. Status
// keeps such a machine, with its MAAS state, so that a restarted operator
// (whose inventory follows nothing yet) still knows of it. was is the
// object's machine records before this reconcile, owned the machines it
// owns now, released the machines this reconcile released. It returns the
// records of the machines still on their way back. The calls to MAAS go
// through ctx: the Gateway's carry its priority share of the budget.
func followReleases(ctx context.Context, inv OwnerInventory, rec Recorder, by releasedBy, latest *maas.Snapshot,
	was []infrav1.MachineStatus, owned []maas.Machine, released []string) ([]infrav1.MachineStatus, error) {
	candidates := map[string]infrav1.MachineStatus{}
	for _, m := range was {
		candidates[m.SystemID] = m
	}
	for _, id := range released {
		m := candidates[id]
		m.SystemID, m.State, m.Message = id, stateReleasing, ""
		candidates[id] = m
	}
	// A release this process made whose record never reached status (the
	// write after it refused on a conflict, the object read from a cache
	// that had not seen the previous write yet): the inventory follows the
	// machine for its owner all the same.
	for _, id := range latest.FollowedFor(by.owner) {
		if _, ok := candidates[id]; !ok {
			candidates[id] = infrav1.MachineStatus{SystemID: id}
		}
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
			by.retries.forget(id)
			continue
		case state == maas.NotFollowed:
			// Released by an earlier process: follow it from the next poll.
			inv.FollowFor(by.account, by.owner, id)
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
			again, err := retryRelease(ctx, inv, rec, by, now)
			if err != nil {
				errs = append(errs, err)
			}
			out = append(out, keepPool(again, m))
		case now.Owner == nil || now.Owner.UID == by.owner.UID:
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

// retryRelease releases machine m, whose release MAAS failed, again once
// by.retries allows it, with an event, and returns its record: MAAS's
// answer, or m as it is with the time of the next attempt while it waits.
func retryRelease(ctx context.Context, inv OwnerInventory, rec Recorder, by releasedBy, m maas.Machine) (infrav1.MachineStatus, error) {
	if ok, next := by.retries.due(m.SystemID, by.now); !ok {
		st := machineStatus(m)
		st.Message = truncate(fmt.Sprintf("to be released again at %s at the earliest (MAAS: %s)",
			next.UTC().Format(time.RFC3339), m.StatusMessage), maxMachineMessage)
		return st, nil
	}
	again, err := inv.RetryRelease(ctx, by.account, m.SystemID, maas.ReleaseParams{Comment: by.comment})
	if err != nil {
		return machineStatus(m), fmt.Errorf("releasing machine %s again: %w", m.SystemID, err)
	}
	n, next := by.retries.asked(m.SystemID, by.now)
	rec.Eventf(by.object, nil, corev1.EventTypeWarning, "MachineReleaseRetried", "Release",
		"MAAS failed to release machine %s (%s); released it again (%d time(s) in a row; should MAAS fail again, the next not before %s)",
		m.SystemID, m.StatusMessage, n, next.UTC().Format(time.RFC3339))
	return machineStatus(again), nil
}
