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

package workload

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// Member is one etcd member as the cluster reports it, with what a status
// request to it answered.
type Member struct {
	ID   uint64
	Name string
	// PeerURLs and ClientURLs as registered; ClientURLs is empty until a
	// member added by `member add` has started.
	PeerURLs   []string
	ClientURLs []string
	IsLearner  bool
	// Healthy reports that the member answered a status request.
	Healthy bool
	// Leader reports the member the others follow.
	Leader bool
	// Err says why the member is not healthy.
	Err string
}

// Host is the address a member's first peer URL names: the machine it runs
// on, as kubeadm registers members.
func (m Member) Host() string {
	for _, raw := range m.PeerURLs {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		if h, _, err := net.SplitHostPort(u.Host); err == nil {
			return h
		}
		return u.Host
	}
	return ""
}

// Quorum is how many voting members of n must agree.
func Quorum(n int) int { return n/2 + 1 }

// Errors PlanMemberRemoval returns; callers branch on them with errors.Is.
var (
	// ErrNotMember: the member is not in the list (already removed).
	ErrNotMember = errors.New("not an etcd member")
	// ErrLastMember: removing it would leave no etcd at all.
	ErrLastMember = errors.New("the last etcd member cannot be removed")
	// ErrMembershipChanging: a learner is being added; one change at a time.
	ErrMembershipChanging = errors.New("etcd membership is changing (a learner is catching up)")
	// ErrQuorum: the remaining members would not hold a quorum.
	ErrQuorum = errors.New("removing the member would leave etcd without quorum")
)

// PlanMemberRemoval decides whether the member with id may be removed from
// members now. It may, when it is a voting member and not the only one, no
// learner is catching up, and the members left hold a quorum of healthy
// voters among themselves. An unhealthy member may be removed on those
// terms: that is how a dead machine's member goes.
func PlanMemberRemoval(members []Member, id uint64) error {
	var victim *Member
	for i := range members {
		if members[i].ID == id {
			victim = &members[i]
		}
	}
	if victim == nil {
		return fmt.Errorf("member %x: %w", id, ErrNotMember)
	}
	if len(members) == 1 {
		return ErrLastMember
	}
	voters, healthy := 0, 0
	var unhealthy []string
	for _, m := range members {
		if m.IsLearner {
			if m.ID == id {
				// A learner never counted towards quorum: removing it
				// is always safe.
				return nil
			}
			return fmt.Errorf("%w: %s", ErrMembershipChanging, displayName(m))
		}
		if m.ID == id {
			continue
		}
		voters++
		if m.Healthy {
			healthy++
		} else {
			unhealthy = append(unhealthy, displayName(m))
		}
	}
	if need := Quorum(voters); healthy < need {
		return fmt.Errorf("%w: %d of the %d members left would be healthy, %d needed (unhealthy: %s)",
			ErrQuorum, healthy, voters, need, strings.Join(unhealthy, ", "))
	}
	return nil
}

func displayName(m Member) string {
	if m.Name != "" {
		return m.Name
	}
	return fmt.Sprintf("%x (not started)", m.ID)
}

// MemberMachine is what ties an etcd member to the machine it runs on.
type MemberMachine struct {
	// Node is the name of the machine's Node, "" while none has appeared.
	Node string
	// Hostname is the machine's hostname in MAAS.
	Hostname string
	// Addresses are the machine's IP addresses.
	Addresses []string
}

// VotesFor reports whether x has a member among members that answers and
// votes: a member still a learner, or added and not started, does not yet
// stand for its machine in a quorum.
func VotesFor(members []Member, x MemberMachine) bool {
	for _, m := range members {
		if m.Healthy && !m.IsLearner && MemberOf(m, x) {
			return true
		}
	}
	return false
}

// MemberOf reports whether member m runs on machine x: it is named after
// x's Node (kubeadm names a member after its node) or hostname (the kubelet
// lowercases that into the Node name, so case does not count), or it peers
// from one of x's addresses (a member added but not started has no name
// yet, and a Node may have been renamed by hand). Every question of which
// machine a member belongs to (its health, its removal, orphans) is
// answered here, so that they cannot disagree.
func MemberOf(m Member, x MemberMachine) bool {
	if m.Name != "" && ((x.Node != "" && strings.EqualFold(m.Name, x.Node)) || (x.Hostname != "" && strings.EqualFold(m.Name, x.Hostname))) {
		return true
	}
	h := m.Host()
	return h != "" && slices.Contains(x.Addresses, h)
}

// Orphans returns the members that run on none of machines (MemberOf). A
// member added by a join that never finished, or left by a crash between
// removing a member and releasing its machine, is one.
func Orphans(members []Member, machines []MemberMachine) []Member {
	var out []Member
	for _, m := range members {
		if !slices.ContainsFunc(machines, func(x MemberMachine) bool { return MemberOf(m, x) }) {
			out = append(out, m)
		}
	}
	return out
}
