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
	"slices"
	"strings"
	"time"
)

// Snapshot is an account's inventory as of its last poll. It is immutable
// and shared by every reader; machines it hands out must not be modified.
type Snapshot struct {
	// Account is the key the account was registered under.
	Account string
	// AgentName is the installation identity the machines carry.
	AgentName string
	// PolledAt is when the last successful poll finished; zero before the first.
	PolledAt time.Time
	// AttemptedAt is when the last poll, successful or not, finished.
	AttemptedAt time.Time
	// Err is the last poll's error (an *Error), nil if it succeeded. The
	// machines are then those of the last successful poll.
	Err error
	// FollowErr is the error of the last list of followed machines (an
	// *Error), nil if it succeeded or none was needed. Those it failed to
	// list keep their last known state (Pending if none).
	FollowErr error

	machines  []Machine // sorted by SystemID
	index     map[string]int
	byOwner   map[ownerKey][]int
	unclaimed []Unclaimed
	// listGen is the owned list's generation (see listCache.commit) when
	// machines are exactly that list, 0 when patched.
	listGen uint64
	// followed is the machines followed outside the list (see Follow).
	followed map[string]*follow
}

type ownerKey struct {
	kind, namespace, name string
}

func keyOf(o *Owner) ownerKey {
	return ownerKey{kind: o.Kind, namespace: o.Namespace, name: o.Name}
}

// newSnapshot indexes machines (which it keeps, sorted), polled at
// polledAt. since carries over when each unclaimed machine was first seen
// (seenAt for those seen now for the first time); it is updated in place.
func newSnapshot(account, agentName string, machines []Machine, polledAt, seenAt time.Time, since map[string]time.Time) *Snapshot {
	slices.SortFunc(machines, func(a, b Machine) int { return strings.Compare(a.SystemID, b.SystemID) })
	s := &Snapshot{
		Account:     account,
		AgentName:   agentName,
		PolledAt:    polledAt,
		AttemptedAt: polledAt,
		machines:    machines,
		index:       make(map[string]int, len(machines)),
		byOwner:     map[ownerKey][]int{},
	}
	seen := make(map[string]bool)
	for i := range machines {
		m := &machines[i]
		s.index[m.SystemID] = i
		if m.Owner == nil {
			first, ok := since[m.SystemID]
			if !ok {
				first = seenAt
				since[m.SystemID] = seenAt
			}
			seen[m.SystemID] = true
			s.unclaimed = append(s.unclaimed, Unclaimed{Machine: *m, Since: first})
			continue
		}
		k := keyOf(m.Owner)
		s.byOwner[k] = append(s.byOwner[k], i)
	}
	for id := range since {
		if !seen[id] {
			delete(since, id)
		}
	}
	return s
}

// failed is s with a failed poll recorded.
func (s *Snapshot) failed(err error, now time.Time) *Snapshot {
	c := *s
	c.Err = err
	c.AttemptedAt = now
	return &c
}

// repolled is s polled again at now, the list (generation gen) unchanged.
func (s *Snapshot) repolled(now time.Time, gen uint64) *Snapshot {
	c := *s
	c.PolledAt, c.AttemptedAt, c.Err, c.listGen = now, now, nil, gen
	return &c
}

// withFollowed is s with other followed machines.
func (s *Snapshot) withFollowed(followed map[string]*follow, err error) *Snapshot {
	c := *s
	c.followed, c.FollowErr = followed, err
	return &c
}

// Len is the number of machines carrying the agent name.
func (s *Snapshot) Len() int { return len(s.machines) }

// Machines is every machine carrying the agent name, sorted by system ID.
func (s *Snapshot) Machines() []Machine { return slices.Clone(s.machines) }

// Machine finds one machine by system ID.
func (s *Snapshot) Machine(systemID string) (Machine, bool) {
	i, ok := s.index[systemID]
	if !ok {
		return Machine{}, false
	}
	return s.machines[i], true
}

// ByOwner is the machines annotated for the object kind namespace/name,
// whatever its UID: compare Owner.UID to tell a recreated object's
// machines from its predecessor's.
func (s *Snapshot) ByOwner(kind, namespace, name string) []Machine {
	idx := s.byOwner[ownerKey{kind: kind, namespace: namespace, name: name}]
	out := make([]Machine, len(idx))
	for i, j := range idx {
		out[i] = s.machines[j]
	}
	return out
}

// Unclaimed is the machines carrying the agent name but no owner.
func (s *Snapshot) Unclaimed() []Unclaimed { return slices.Clone(s.unclaimed) }

// patched is s with a change this process made itself applied, so that
// readers need not wait for the next poll to see it.
func (s *Snapshot) patched(p patch, since map[string]time.Time) *Snapshot {
	machines := applyPatch(slices.Clone(s.machines), p)
	c := newSnapshot(s.Account, s.AgentName, machines, s.PolledAt, p.at, since)
	c.AttemptedAt, c.Err = s.AttemptedAt, s.Err
	c.followed, c.FollowErr = s.followed, s.FollowErr
	return c
}

// changedOwners compares two polls: the owners of machines that appeared,
// disappeared or changed, and whether the unclaimed machines changed.
func changedOwners(prev, next *Snapshot) (map[ownerKey]Owner, bool) {
	owners := map[ownerKey]Owner{}
	unclaimed := false
	note := func(m *Machine) {
		if m.Owner == nil {
			unclaimed = true
			return
		}
		owners[keyOf(m.Owner)] = *m.Owner
	}
	for i := range next.machines {
		m := &next.machines[i]
		j, ok := -1, false
		if prev != nil {
			j, ok = prev.index[m.SystemID]
		}
		if !ok {
			note(m)
			continue
		}
		p := &prev.machines[j]
		if !sameState(p, m) {
			note(m)
			note(p)
		}
	}
	if prev != nil {
		for i := range prev.machines {
			p := &prev.machines[i]
			if _, ok := next.index[p.SystemID]; !ok {
				note(p)
			}
		}
	}
	return owners, unclaimed
}

// sameState compares what a controller acts on; the status message, which
// MAAS rewrites many times during a deployment, is left out.
func sameState(a, b *Machine) bool {
	return a.Status == b.Status &&
		a.PowerState == b.PowerState &&
		a.Hostname == b.Hostname &&
		a.OSystem == b.OSystem && a.DistroSeries == b.DistroSeries &&
		slices.Equal(a.Addresses, b.Addresses) &&
		sameOwner(a.Owner, b.Owner)
}

func sameOwner(a, b *Owner) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.sameMarks(*b)
}
