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
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// ownerCheck is what is known of the object a machine's marks name.
type ownerCheck int

const (
	// ownerUnmarked: the machine carries the installation's agent name but
	// no owner annotations.
	ownerUnmarked ownerCheck = iota
	// ownerAlive: the object exists with the UID of the marks.
	ownerAlive
	// ownerGone: the API server itself (not only the cache) says the object
	// does not exist, or exists with another UID (deleted and recreated).
	ownerGone
	// ownerUnknown: the lookup failed, or the owner is of a kind the sweep
	// does not judge (a Gateway's own nodes go only with its Decommission).
	ownerUnknown
)

// orphanVerdict is what the sweep does with one machine of the installation.
type orphanVerdict int

const (
	// orphanKeep leaves the machine alone: its owner wants it, or MAAS or a
	// person is working on it, or nothing proves it is an orphan.
	orphanKeep orphanVerdict = iota
	// orphanRelease releases it once it has been an orphan for the grace
	// period, with an event.
	orphanRelease
	// orphanReport never releases it, and tells a person once (an event):
	// it may be a running node whose marks were lost, and only a person can
	// tell which cluster it serves.
	orphanReport
)

// orphanPolicy is the sweep's decision for a machine in MAAS state s whose
// owner is as check says. Only two kinds of machine are ever released:
//
//   - unmarked and Allocated: an allocation interrupted before its
//     annotation, so nothing was ever deployed on it (the operator annotates
//     before it deploys); the allocating object adopts it within the grace
//     period when it still wants it;
//   - marked for an owner the API server says is gone, in a state MAAS
//     releases from (Allocated, Deploying, Deployed, Failed deployment,
//     Broken): its object was deleted without its finalizer (stripped by
//     hand, force-deleted while MAAS did not answer, or recreated under the
//     same name with a new UID).
//
// An unmarked machine in any other state lost its marks (edited in MAAS's
// UI, or by another client): it is reported, never released. Machines in
// MAAS's own transitions, or in states a person puts them in (testing,
// rescue), are left alone.
func orphanPolicy(s maas.Status, check ownerCheck) orphanVerdict {
	switch check {
	case ownerUnmarked:
		switch s {
		case maas.StatusAllocated:
			return orphanRelease
		case maas.StatusReleasing, maas.StatusDiskErasing, maas.StatusReady:
			return orphanKeep // on its way back, or back already
		}
		return orphanReport
	case ownerGone:
		switch s {
		case maas.StatusAllocated, maas.StatusDeploying, maas.StatusDeployed,
			maas.StatusFailedDeployment, maas.StatusBroken:
			return orphanRelease
		}
	}
	return orphanKeep
}

// orphanReleaseParams are how an orphan goes back to MAAS. Its owner's
// spec is gone with it, so the pools' defaults apply: a control-plane
// machine that was deployed holds the cluster's keys and is quick-erased;
// others, and machines never deployed, are not erased.
func orphanReleaseParams(m maas.Machine) maas.ReleaseParams {
	p := maas.ReleaseParams{Comment: "maas-gateway: owner " + m.Owner.String() + " (uid " + m.Owner.UID + ") no longer exists"}
	if m.Owner.Pool == infrav1.ControlPlanePoolName && m.Status != maas.StatusAllocated {
		p.Erase, p.QuickErase = true, true
	}
	return p
}

// machineSweeps is the state of the sweep of orphaned machines: when each
// was first seen orphaned (the clock of dueOrphans, restarted by a restart
// of the manager, so the grace can only get longer), and which were
// reported, so that each is reported once per manager.
type machineSweeps struct {
	mu       sync.Mutex
	seen     map[string]time.Time
	reported map[string]bool
}

// machineKey names a machine of an account for the sweep's clock; the
// owner's UID is part of it, so a machine whose marks change is a new case.
func machineKey(account string, m maas.Machine) string {
	uid := ""
	if m.Owner != nil {
		uid = m.Owner.UID
	}
	return strings.Join([]string{account, m.SystemID, uid}, "|")
}

// sweepMachines applies orphanPolicy to the account's machines, as the
// inventory last listed them (no MAAS request unless something is
// released), and says when the next orphan is due (0: none waiting).
// Unclaimed machines wait out UnclaimedGrace from when the inventory first
// saw them; machines of a gone owner from when a sweep first found the
// owner gone, and the API server is asked again in every sweep until then,
// so an owner restored from a backup (same UID) stops the clock.
func (r *CloudAccountReconciler) sweepMachines(ctx context.Context, account *infrav1.CloudAccount) (time.Duration, error) {
	key := AccountKey(client.ObjectKeyFromObject(account))
	snap, ok := r.Inventory.Snapshot(key)
	if !ok || snap.PolledAt.IsZero() {
		return 0, nil
	}
	now := time.Now()
	checks := map[maas.Owner]ownerCheck{}
	var lookupErr error
	check := func(m maas.Machine) ownerCheck {
		if m.Owner == nil {
			return ownerUnmarked
		}
		if m.Owner.Kind != tenantKind {
			return ownerUnknown
		}
		o := maas.Owner{Kind: m.Owner.Kind, Namespace: m.Owner.Namespace, Name: m.Owner.Name, UID: m.Owner.UID}
		if c, ok := checks[o]; ok {
			return c
		}
		exists, err := r.ownerExists(ctx, o)
		c := ownerGone
		switch {
		case err != nil:
			lookupErr, c = err, ownerUnknown
		case exists:
			c = ownerAlive
		}
		checks[o] = c
		return c
	}

	// Unclaimed machines to release are taken from snap.Unclaimed below,
	// with the inventory's clock.
	var gone, report []maas.Machine
	for _, m := range snap.Machines() {
		c := check(m)
		switch orphanPolicy(m.Status, c) {
		case orphanRelease:
			if c != ownerUnmarked {
				gone = append(gone, m)
			}
		case orphanReport:
			report = append(report, m)
		}
	}

	s := &r.machineSweeps
	s.mu.Lock()
	if s.seen == nil {
		s.seen, s.reported = map[string]time.Time{}, map[string]bool{}
	}
	due, next := dueOrphans(key, gone, func(m maas.Machine) string { return machineKey(key, m) },
		func(maas.Machine) bool { return true }, s.seen, now, r.UnclaimedGrace)
	newReports := s.toReport(key, report)
	s.mu.Unlock()
	r.reportUnclaimed(ctx, account, newReports)

	var unclaimedDue []maas.Unclaimed
	for _, u := range snap.Unclaimed() {
		if orphanPolicy(u.Machine.Status, ownerUnmarked) == orphanRelease {
			unclaimedDue = append(unclaimedDue, u)
			if wait := r.UnclaimedGrace - now.Sub(u.Since); wait > 0 && (next == 0 || wait < next) {
				next = wait
			}
		}
	}
	for _, m := range maas.ReleasableUnclaimed(unclaimedDue, now, r.UnclaimedGrace) {
		if _, err := r.Inventory.Release(ctx, key, m.SystemID, maas.ReleaseParams{
			Comment: "maas-gateway: allocated but never claimed by an object",
		}); err != nil && !maas.IsNotFound(err) {
			return 0, fmt.Errorf("releasing unclaimed machine %s: %w", m.SystemID, err)
		}
		r.Recorder.Eventf(account, nil, corev1.EventTypeWarning, "ReleasedUnclaimed", "Release",
			"released machine %s (%s): allocated with this installation's agent name but claimed by no object for %s",
			m.SystemID, m.Hostname, r.UnclaimedGrace)
	}
	if err := r.releaseOrphans(ctx, account, key, due); err != nil {
		return 0, err
	}
	return next, lookupErr
}

// maxNamedMachines is how many machines one event names.
const maxNamedMachines = 10

// releaseOrphan releases a machine of a gone owner, after reading it again
// from MAAS: only a machine that still carries the same marks is released
// (the release itself checks the agent name), so nothing the operator
// cannot prove its own goes. It says whether it released the machine.
func (r *CloudAccountReconciler) releaseOrphan(ctx context.Context, key string, m maas.Machine) (bool, error) {
	now, err := r.Inventory.Machine(ctx, key, m.SystemID)
	switch {
	case maas.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading orphaned machine %s again: %w", m.SystemID, err)
	case now.Owner == nil || !now.Owner.SameObject(*m.Owner) || orphanPolicy(now.Status, ownerGone) != orphanRelease:
		return false, nil // changed since the poll: the next sweep judges it afresh
	}
	if _, err := r.Inventory.Release(ctx, key, m.SystemID, orphanReleaseParams(now)); err != nil {
		if maas.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("releasing machine %s of %s (uid %s), which no longer exists: %w", m.SystemID, m.Owner, m.Owner.UID, err)
	}
	return true, nil
}

// toReport records the machines to report of account key, and returns
// those not reported before; s.mu must be held.
func (s *machineSweeps) toReport(key string, report []maas.Machine) []maas.Machine {
	var newReports []maas.Machine
	reported := map[string]bool{}
	for _, m := range report {
		k := machineKey(key, m)
		reported[k] = true
		if !s.reported[k] {
			newReports = append(newReports, m)
		}
	}
	for k := range s.reported {
		if strings.HasPrefix(k, key+"|") && !reported[k] {
			delete(s.reported, k)
		}
	}
	for k := range reported {
		s.reported[k] = true
	}
	return newReports
}

// reportUnclaimed tells once of machines the sweep keeps for a person.
func (r *CloudAccountReconciler) reportUnclaimed(ctx context.Context, account *infrav1.CloudAccount, newReports []maas.Machine) {
	if len(newReports) == 0 {
		return
	}
	var named []string
	for _, m := range newReports {
		logf.FromContext(ctx).Info("machine kept: it carries this installation's agent name but no owner annotations",
			"systemID", m.SystemID, "hostname", m.Hostname, "state", m.StatusName)
		if len(named) < maxNamedMachines {
			named = append(named, fmt.Sprintf("%s (%s, %s)", m.SystemID, m.Hostname, m.StatusName))
		}
	}
	if rest := len(newReports) - len(named); rest > 0 {
		named = append(named, fmt.Sprintf("and %d more", rest))
	}
	// One event per sweep, as for releases.
	r.Recorder.Eventf(account, nil, corev1.EventTypeWarning, "UnclaimedMachineKept", "Sweep",
		"kept %d machines with this installation's agent name but no owner annotations (removed in MAAS?): %s; "+
			"they may be running nodes, so they are never released automatically: release them in MAAS if no cluster uses them",
		len(newReports), strings.Join(named, "; "))
}

// releaseOrphans releases the machines of gone owners that are due, and
// tells of them in one event.
func (r *CloudAccountReconciler) releaseOrphans(ctx context.Context, account *infrav1.CloudAccount, key string, due []maas.Machine) error {
	var released []string
	var releaseErr error
	for _, m := range due {
		ok, err := r.releaseOrphan(ctx, key, m)
		if err != nil {
			releaseErr = err
			break
		}
		if ok {
			released = append(released, fmt.Sprintf("%s (%s, %s) of %s (uid %s)", m.SystemID, m.Hostname, m.StatusName, m.Owner, m.Owner.UID))
		}
	}
	if len(released) > 0 {
		// One event per sweep: events of one reason on one object are
		// merged into a series that keeps the first note, so an event per
		// machine would name only the first.
		named := released[:min(len(released), maxNamedMachines)]
		more := ""
		if rest := len(released) - len(named); rest > 0 {
			more = fmt.Sprintf(" and %d more", rest)
		}
		r.Recorder.Eventf(account, nil, corev1.EventTypeWarning, "ReleasedOrphanedMachine", "Release",
			"released %d machines whose owner has not existed for %s: %s%s",
			len(released), r.UnclaimedGrace, strings.Join(named, "; "), more)
	}
	return releaseErr
}
