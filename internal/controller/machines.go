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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/rollout"
)

// MachineInventory is what the controllers need of the shared MAAS inventory.
type MachineInventory interface {
	Snapshot(account string) (*maas.Snapshot, bool)
	Allocate(ctx context.Context, account string, owner maas.Owner, c maas.Constraints) (maas.Machine, error)
	Adopt(ctx context.Context, account, systemID string, owner maas.Owner) (maas.Machine, error)
	Deploy(ctx context.Context, account, systemID string, p maas.DeployParams) (maas.Machine, error)
	Release(ctx context.Context, account, systemID string, p maas.ReleaseParams) (maas.Machine, error)
	SetDomain(ctx context.Context, account, systemID, domain string) (maas.Machine, error)
}

// OwnerInventory is what a controller of machine-owning objects (Gateway,
// TenantCluster) needs of the inventory: the pool executor's operations,
// news of its objects' machines, and single reads of machines it does not
// see in the owned list (adopted gateway nodes, machines whose release has
// begun).
type OwnerInventory interface {
	MachineInventory
	AddressInventory
	Events(kind string) <-chan event.GenericEvent
	Machine(ctx context.Context, account, systemID string) (maas.Machine, error)
	// Available reports whether MAAS has a spare machine matching c (a dry-run allocation).
	Available(ctx context.Context, account string, c maas.Constraints) (bool, error)
	// RetryRelease releases again a machine whose release failed.
	RetryRelease(ctx context.Context, account, systemID string, p maas.ReleaseParams) (maas.Machine, error)
	// FollowFor has the inventory follow machines of owner that left the
	// installation's list (their release began), in each poll.
	FollowFor(account string, owner maas.Owner, systemIDs ...string) bool
}

// templateHash names what a machine is deployed with, so that a change of
// any of it makes the planner replace the machine.
func templateHash(parts ...any) string {
	b, _ := json.Marshal(parts)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// ownedBy returns the machines of the snapshot that belong to obj (same
// kind, namespace, name and UID): a machine of an earlier object of the same
// name is not this object's.
func ownedBy(snap *maas.Snapshot, kind string, obj client.Object) []maas.Machine {
	var out []maas.Machine
	for _, m := range snap.ByOwner(kind, obj.GetNamespace(), obj.GetName()) {
		if m.Owner != nil && m.Owner.UID == infrav1.IdentityUID(obj) {
			out = append(out, m)
		}
	}
	return out
}

// snapshotAfter is the inventory after a reconcile's steps (the inventory
// records what it did at once), falling back to the one planned from.
func snapshotAfter(inv MachineInventory, key string, planned *maas.Snapshot) *maas.Snapshot {
	if s, ok := inv.Snapshot(key); ok {
		return s
	}
	return planned
}

// plannerMachine is what the planner sees of an owned machine.
func plannerMachine(m maas.Machine, node rollout.NodeState) rollout.Machine {
	slot := rollout.NoSlot
	if m.Owner != nil {
		if n, err := strconv.Atoi(m.Owner.Slot); err == nil && n >= 0 {
			slot = n
		}
	}
	pm := rollout.Machine{
		SystemID: m.SystemID,
		Zone:     m.Zone,
		Slot:     slot,
		State:    rollout.ParseState(m.StatusName),
		Status:   m.StatusName,
		Node:     node,
	}
	if m.Owner != nil {
		pm.Pool = m.Owner.Pool
		pm.Template = m.Owner.Template
		pm.Init = m.Owner.Init
	}
	return pm
}

// Bounds of a machine's status record (the CRD's MaxLength and MaxItems
// on MachineStatus): what MAAS says is cut to them, so that a machine
// record never makes a status write fail, and a cluster's status stays
// within etcd's object size (TestWorstCaseTenantClusterFitsEtcd).
const (
	maxMachineMessage   = 256
	maxMachineAddresses = 8
	// maxStatusMachines is status.machines' MaxItems: the spec's 200
	// machines, a rolling update's extra ones (one per pool), and some
	// released machines not yet back in MAAS's free pool.
	maxStatusMachines = 300
)

// machineStatus is the status record of a machine.
func machineStatus(m maas.Machine) infrav1.MachineStatus {
	s := infrav1.MachineStatus{
		SystemID:  truncate(m.SystemID, 64),
		Hostname:  truncate(m.Hostname, 255),
		Zone:      truncate(m.Zone, 256),
		State:     truncate(m.StatusName, 64),
		Message:   truncate(m.StatusMessage, maxMachineMessage),
		Addresses: m.Addresses,
	}
	if len(s.Addresses) > maxMachineAddresses {
		s.Addresses = s.Addresses[:maxMachineAddresses]
	}
	if m.Owner != nil {
		s.Pool = truncate(m.Owner.Pool, 64)
		s.Template = truncate(m.Owner.Template, 64)
	}
	return s
}

// nodeState is what Kubernetes says of a Node, for the planner.
func nodeState(n *corev1.Node) rollout.NodeState {
	if n == nil {
		return rollout.NodeAbsent
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return rollout.NodeReady
		}
	}
	return rollout.NodeNotReady
}

// poolExecutor carries out the planner's actions for one object's pools.
type poolExecutor struct {
	inv     MachineInventory
	account string
	// owner names the object; Pool, Slot, Template and Init are set per machine.
	owner maas.Owner
	snap  *maas.Snapshot
	// constraints are the allocation constraints of a pool.
	constraints func(pool string) maas.Constraints
	// domain is the MAAS DNS domain machines are registered in before they
	// deploy ("" leaves MAAS's default).
	domain string
	// template is the current template hash of a pool.
	template func(pool string) string
	// deploy renders what a machine is deployed with.
	deploy func(ctx context.Context, m maas.Machine, role rollout.Role) (maas.DeployParams, error)
	// beforeRelease runs before a deployed machine is released (drain and
	// remove its Node); nil for none.
	beforeRelease func(ctx context.Context, systemID string) error
	// assignSlot records a slot for a machine that carries none.
	assignSlot func(ctx context.Context, systemID string, slot int) error
	// erase says how the disks of a pool's machines are wiped on release;
	// nil for DiskEraseNone.
	erase func(pool string) infrav1.DiskErase
	// capacity holds pools MAAS recently found no machine for, across
	// reconciles (nil: none held); now tells its time (nil: time.Now).
	capacity *capacityBackoff
	now      func() time.Time
}

func (e *poolExecutor) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

func (e *poolExecutor) capacityKey(pool string, c maas.Constraints) capacityKey {
	return newCapacityKey(types.NamespacedName{Namespace: e.owner.Namespace, Name: e.owner.Name}, types.UID(e.owner.UID), pool, c)
}

// releaseParams are how the machine of action a is released; m is that
// machine as the inventory last listed it (zero when unknown).
func (e *poolExecutor) releaseParams(a rollout.Action, m maas.Machine) maas.ReleaseParams {
	p := maas.ReleaseParams{Comment: fmt.Sprintf("maas-gateway: %s (%s)", a.Reason, e.owner)}
	if e.erase == nil {
		return p
	}
	if m.Status == maas.StatusAllocated {
		// Never deployed: nothing of the cluster's is on its disks, and an
		// erase would power it on only to wipe nothing.
		return p
	}
	switch e.erase(a.Pool) {
	case infrav1.DiskEraseQuick:
		p.Erase, p.QuickErase = true, true
	case infrav1.DiskEraseFull:
		p.Erase = true
	}
	return p
}

// executed says what running a plan did, for status and events.
type executed struct {
	allocated, deployed, released []string
	// failedDeployments counts machines released because their deployment failed.
	failedDeployments int
	// noCapacity is MAAS's answer when a pool found no machine, by pool,
	// with when the pool asks again.
	noCapacity map[string]string
	// retryAt is the earliest moment a pool held for capacity asks MAAS
	// again (zero: none held).
	retryAt time.Time
	// waiting says why machines to be released are not yet (a drain under
	// way, a budget that holds a pod, etcd quorum), one line per machine.
	waiting []string
}

// requeue is how soon to look again, at most next: sooner when a pool held
// for capacity may ask MAAS again before that.
func (x executed) requeue(next time.Duration, now time.Time) time.Duration {
	if x.retryAt.IsZero() {
		return next
	}
	return sooner(next, max(x.retryAt.Sub(now), time.Second))
}

// errWaiting marks an action that cannot go on yet (a drain blocked by a
// PodDisruptionBudget): the plan is retried later, not failed.
var errWaiting = errors.New("waiting")

func (e *poolExecutor) run(ctx context.Context, actions []rollout.Action) (executed, error) {
	var out executed
	var errs []error
	// held are the pools a release of which waits (a drain, etcd quorum);
	// the planner lists a pool's releases before its allocations.
	held := map[string]bool{}
	// full are the pools, by zone, MAAS just found no machine for: the
	// pool's other allocations there would get the same answer, each a
	// search of MAAS's machines. A pool of 1000 missing machines costs one
	// request per zone and reconcile, not 1000. Zone "" is any zone.
	full := map[[2]string]bool{}
	for _, a := range actions {
		switch a.Kind {
		case rollout.ActionAllocate:
			if held[a.Pool] || full[[2]string{a.Pool, ""}] || full[[2]string{a.Pool, a.Zone}] {
				continue
			}
			id, wait, err := e.allocate(ctx, a)
			switch {
			case err != nil:
				errs = append(errs, err)
			case wait != nil:
				full[[2]string{a.Pool, a.Zone}] = true
				if out.noCapacity == nil {
					out.noCapacity = map[string]string{}
				}
				out.noCapacity[a.Pool] = wait.message()
				if out.retryAt.IsZero() || wait.next.Before(out.retryAt) {
					out.retryAt = wait.next
				}
			default:
				out.allocated = append(out.allocated, id)
			}
		case rollout.ActionDeploy:
			m, ok := e.snap.Machine(a.SystemID)
			if !ok {
				continue
			}
			p, err := e.deploy(ctx, m, a.Role)
			if err == nil && e.domain != "" && m.Domain != e.domain {
				_, err = e.inv.SetDomain(ctx, e.account, a.SystemID, e.domain)
			}
			if err == nil {
				_, err = e.inv.Deploy(ctx, e.account, a.SystemID, p)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("deploying %s: %w", a.SystemID, err))
				continue
			}
			out.deployed = append(out.deployed, a.SystemID)
		case rollout.ActionRelease:
			if e.beforeRelease != nil {
				if err := e.beforeRelease(ctx, a.SystemID); err != nil {
					// The plan counted this machine gone: an allocation it
					// made room for would be one machine too many, and the
					// next plan would release it as surplus (a churn of
					// MAAS machines while a drain waits).
					held[a.Pool] = true
					if errors.Is(err, errWaiting) {
						out.waiting = append(out.waiting, err.Error())
					} else {
						errs = append(errs, fmt.Errorf("removing the node of %s: %w", a.SystemID, err))
					}
					continue
				}
			}
			m, _ := e.snap.Machine(a.SystemID)
			if _, err := e.inv.Release(ctx, e.account, a.SystemID, e.releaseParams(a, m)); err != nil && !maas.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("releasing %s: %w", a.SystemID, err))
				continue
			}
			out.released = append(out.released, a.SystemID)
			if a.Reason == rollout.ReasonDeployFailed {
				out.failedDeployments++
			}
		case rollout.ActionAssignSlot:
			if err := e.assignSlot(ctx, a.SystemID, a.Slot); err != nil {
				errs = append(errs, fmt.Errorf("recording the slot of %s: %w", a.SystemID, err))
			}
		}
	}
	return out, errors.Join(errs...)
}

// allocate takes a machine for a slot: first one of the installation's
// unclaimed machines that fits (left by an allocation interrupted before it
// was annotated, possibly this very slot's), else a new one from MAAS
// unless MAAS recently had none for the pool. It returns the system ID, or
// the pool's wait when MAAS has no matching machine.
func (e *poolExecutor) allocate(ctx context.Context, a rollout.Action) (string, *capacityWait, error) {
	owner := e.owner
	owner.Pool = a.Pool
	owner.Slot = strconv.Itoa(a.Slot)
	owner.Template = e.template(a.Pool)
	owner.Init = a.Role == rollout.RoleInit
	c := e.constraints(a.Pool)
	if a.Zone != "" {
		c.Zone = a.Zone
	}
	for _, u := range e.snap.Unclaimed() {
		// Only an interrupted allocation (Allocated) is adoptable: an
		// unclaimed machine in any other state lost its annotations and may
		// be another cluster's running node (see orphanPolicy).
		if u.Machine.Status != maas.StatusAllocated || !u.Machine.Satisfies(c) {
			continue
		}
		m, err := e.inv.Adopt(ctx, e.account, u.Machine.SystemID, owner)
		if err == nil {
			return m.SystemID, nil, nil
		}
		if !maas.IsConflict(err) {
			return "", nil, fmt.Errorf("adopting unclaimed machine %s: %w", u.Machine.SystemID, err)
		}
	}
	key := e.capacityKey(a.Pool, c)
	if w, held := e.capacity.hold(key, e.clock(), e.snap.ReturnedSince); held {
		return "", &w, nil
	}
	m, err := e.inv.Allocate(ctx, e.account, owner, c)
	if err != nil {
		if maas.IsNoCapacity(err) {
			w := e.capacity.noCapacity(key, c, e.clock(), err.Error())
			return "", &w, nil
		}
		if m.SystemID != "" {
			// Allocated but not annotated: it is unclaimed now, and the next
			// reconcile adopts it.
			e.capacity.allocated(key)
			return m.SystemID, nil, nil
		}
		return "", nil, fmt.Errorf("allocating a machine for pool %s: %w", a.Pool, err)
	}
	e.capacity.allocated(key)
	return m.SystemID, nil, nil
}

// constraintsOf turns API placement into allocation constraints.
func constraintsOf(zone, resourcePool string, mc infrav1.MachineConstraints) maas.Constraints {
	return maas.Constraints{
		Zone:         zone,
		Pool:         resourcePool,
		Tags:         mc.Tags,
		MinCPU:       int(mc.MinCPU),
		MinMemoryMiB: mc.MinMemoryMiB,
		MinDiskGiB:   mc.MinDiskGiB,
	}
}
