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

package maas

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FollowState is what the inventory knows of a machine it follows: one
// outside the installation's list, typically because its release began and
// MAAS cleared its agent_name, whose end a caller still waits for.
type FollowState int

const (
	// NotFollowed: the inventory does not follow the machine. Nobody asked
	// (or not since this process started), it was unfollowed, or it settled
	// longer than InventoryOptions.FollowRetention ago. Follow it to learn
	// its state.
	NotFollowed FollowState = iota
	// FollowPending: followed, and no list has shown it since: its state is
	// unknown yet, which is not the same as released.
	FollowPending
	// Following: the machine is as MAAS last listed it (or as the release
	// that began the following returned it), and it is still polled.
	Following
	// FollowReleased: MAAS has the machine back, Ready (or New) without
	// owner annotations, or annotated for another object since. It is no
	// longer polled; the machine is its last listed state.
	FollowReleased
	// FollowGone: MAAS no longer lists the machine: deleted, or taken by a
	// user this API key cannot see. It is no longer polled; the machine is
	// its last known state, if any.
	FollowGone
)

var followStateNames = [...]string{"NotFollowed", "Pending", "Following", "Released", "Gone"}

func (s FollowState) String() string {
	if s < 0 || int(s) >= len(followStateNames) {
		return "FollowState(" + strconv.Itoa(int(s)) + ")"
	}
	return followStateNames[s]
}

// Settled reports whether following has ended, the machine released or gone.
func (s FollowState) Settled() bool { return s == FollowReleased || s == FollowGone }

// DefaultFollowRetention is how long a settled machine stays readable
// unless told otherwise.
const DefaultFollowRetention = 10 * time.Minute

// follow is one followed machine. Values are never modified once stored in
// account.follows, so snapshots share them.
type follow struct {
	// owner is the object the machine was followed for. MAAS drops the
	// annotations when the release completes, so the listed machine no
	// longer says whom its end concerns.
	owner   *Owner
	state   FollowState
	machine Machine
	// armed is when this following began: a list sent earlier says nothing
	// about it (it may predate the release).
	armed time.Time
	// settled is when it was seen released or gone.
	settled time.Time
}

// releasedFrom reports whether MAAS has m back from owner (nil: unknown).
// MAAS keeps the owner annotations until a release completes, and clears
// them then; a machine annotated for another object was released and taken
// again since.
func releasedFrom(m *Machine, owner *Owner) bool {
	if m.Owner == nil {
		return m.Status == StatusReady || m.Status == StatusNew
	}
	return owner != nil && !m.Owner.SameObject(*owner)
}

// newFollow is the following of m that an action (a release) just
// returned: its state is known without a list.
func newFollow(m Machine, owner *Owner, now time.Time) *follow {
	if m.Owner != nil {
		owner = m.Owner
	}
	f := &follow{owner: owner, state: Following, machine: m, armed: now}
	if releasedFrom(&m, owner) {
		f.state, f.settled = FollowReleased, now
	}
	return f
}

// followAnewLocked follows m from the state a release just returned, for
// the owner known from an earlier following or from the snapshot when
// MAAS no longer shows it (the caller stores the snapshot).
func (a *account) followAnewLocked(m Machine, now time.Time) {
	var owner *Owner
	if f, ok := a.follows[m.SystemID]; ok {
		owner = f.owner
	} else if s := a.snap.Load(); s != nil {
		if known, ok := s.Machine(m.SystemID); ok {
			owner = known.Owner
		}
	}
	a.follows[m.SystemID] = newFollow(m, owner, now)
	a.followView = nil
}

// Follow asks the inventory to follow machines of account key that are not
// (or will not stay) in the installation's list, such as machines whose
// release began: each poll then lists them all in one more request
// (`GET machines/?id=…`), and Snapshot.Followed tells their state. The
// owner a machine has in the current snapshot (or, failing that, in the
// first list that shows it annotated) is remembered, and told through
// Events whenever the machine's state changes; FollowFor names it instead.
// Following an already followed machine changes nothing, even a settled
// one: a caller may follow everything it waits for on every reconcile. A
// machine stops being polled once released or gone, and is forgotten
// FollowRetention later or when unfollowed. False if key is not registered.
//
// Release and RetryRelease follow the machine they release by themselves.
func (inv *Inventory) Follow(key string, systemIDs ...string) bool {
	return inv.follow(key, nil, systemIDs)
}

// FollowFor is Follow for machines whose owner the caller knows, such as
// the machines a deleted object's status lists after a restart, when MAAS
// may have dropped their annotations already: owner is told of their
// changes, the first list that shows them included.
func (inv *Inventory) FollowFor(key string, owner Owner, systemIDs ...string) bool {
	return inv.follow(key, &owner, systemIDs)
}

func (inv *Inventory) follow(key string, owner *Owner, systemIDs []string) bool {
	a, ok := inv.account(key)
	if !ok {
		return false
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.snap.Load()
	changed := false
	for _, id := range systemIDs {
		if id == "" {
			continue
		}
		if f, ok := a.follows[id]; ok {
			if f.owner == nil && owner != nil {
				n := *f
				n.owner = owner
				a.follows[id] = &n
				changed = true
			}
			continue
		}
		f := &follow{owner: owner, state: FollowPending, armed: now}
		if s != nil && f.owner == nil {
			if m, ok := s.Machine(id); ok {
				f.owner = m.Owner
			}
		}
		a.follows[id] = f
		changed = true
	}
	if changed {
		a.followsChangedLocked()
	}
	return true
}

// Unfollow stops following machines of account key and forgets what is
// known of them. False if key is not registered.
func (inv *Inventory) Unfollow(key string, systemIDs ...string) bool {
	a, ok := inv.account(key)
	if !ok {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	removed := false
	for _, id := range systemIDs {
		if _, ok := a.follows[id]; ok {
			delete(a.follows, id)
			removed = true
		}
	}
	if removed {
		a.followsChangedLocked()
	}
	return true
}

// followsChangedLocked shows a change of the followed machines in the
// snapshot at once, so a caller that follows a machine sees it Pending
// rather than NotFollowed.
func (a *account) followsChangedLocked() {
	a.followView = nil
	if s := a.snap.Load(); s != nil {
		a.snap.Store(s.withFollowed(a.followViewLocked(), s.FollowErr))
	}
}

// followViewLocked is the followed machines for a snapshot: a copy of the
// map (the values are immutable), made once per change.
func (a *account) followViewLocked() map[string]*follow {
	if a.followView == nil && len(a.follows) > 0 {
		a.followView = maps.Clone(a.follows)
	}
	return a.followView
}

// activeFollowsLocked is the followed machines still to poll, sorted (the
// same request for the same machines, poll after poll).
func (a *account) activeFollowsLocked() []string {
	var ids []string
	for id, f := range a.follows {
		if !f.state.Settled() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// followListedLocked applies a list of followed machines made from started
// on: the machines of asked that it lacks are gone. It returns the owners
// of the machines whose state changed.
func (a *account) followListedLocked(list []Machine, asked []string, started, now time.Time) map[ownerKey]Owner {
	listed := make(map[string]*Machine, len(list))
	for i := range list {
		listed[list[i].SystemID] = &list[i]
	}
	owners := map[ownerKey]Owner{}
	for _, id := range asked {
		f, ok := a.follows[id]
		if !ok || f.state.Settled() || f.armed.After(started) {
			continue // unfollowed, settled, or followed anew since the list began
		}
		n := *f
		if m, ok := listed[id]; ok {
			n.machine = *m
			if n.owner == nil {
				n.owner = m.Owner
			}
			n.state = Following
			if releasedFrom(m, n.owner) {
				n.state, n.settled = FollowReleased, now
			}
		} else {
			n.state, n.settled = FollowGone, now
		}
		if n.state == f.state && sameState(&n.machine, &f.machine) && sameOwner(n.owner, f.owner) {
			if n.machine.StatusMessage != f.machine.StatusMessage {
				a.follows[id] = &n // news to nobody, but keep it current
				a.followView = nil
			}
			continue
		}
		a.follows[id] = &n
		a.followView = nil
		if o := n.owner; o != nil {
			owners[keyOf(o)] = *o
		}
	}
	return owners
}

// expireFollowsLocked forgets the machines settled retention ago or more.
func (a *account) expireFollowsLocked(now time.Time, retention time.Duration) {
	for id, f := range a.follows {
		if f.state.Settled() && now.Sub(f.settled) >= retention {
			delete(a.follows, id)
			a.followView = nil
		}
	}
}

// Followed is what the snapshot knows of a followed machine: its state as
// last listed (zero while Pending or NotFollowed), and how far the
// following has got. See FollowState.
func (s *Snapshot) Followed(systemID string) (Machine, FollowState) {
	f, ok := s.followed[systemID]
	if !ok {
		return Machine{}, NotFollowed
	}
	return f.machine, f.state
}

// FollowedOwner is the object a followed machine is followed for (as its
// annotations said when it was followed or first listed), nil if unknown.
func (s *Snapshot) FollowedOwner(systemID string) *Owner {
	if f, ok := s.followed[systemID]; ok {
		return f.owner
	}
	return nil
}

// FollowedFor is the system IDs of the machines followed for owner (the
// same object: kind, namespace, name and UID), sorted. Release and
// RetryRelease follow what they release, so these include every machine
// this process released for owner and still follows, whatever its caller
// managed to record: a caller whose record of a release was lost (a status
// write refused on a conflict) finds the machine here.
func (s *Snapshot) FollowedFor(owner Owner) []string {
	var out []string
	for id, f := range s.followed {
		if f.owner != nil && f.owner.SameObject(owner) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// ReturnedSince is the followed machines MAAS was seen to have back (Ready
// or New, free for any allocation) at or after t: capacity this
// installation gave back, which a pool that MAAS found full may now get.
// Only machines the inventory follows are known (MAAS lists no free
// machines in the installation's list), and only for FollowRetention.
func (s *Snapshot) ReturnedSince(t time.Time) []Machine {
	var out []Machine
	for _, f := range s.followed {
		if f.state == FollowReleased && !f.settled.Before(t) && (f.machine.Status == StatusReady || f.machine.Status == StatusNew) {
			out = append(out, f.machine)
		}
	}
	slices.SortFunc(out, func(a, b Machine) int { return strings.Compare(a.SystemID, b.SystemID) })
	return out
}
