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
	"slices"
	"testing"
)

func member(id uint64, name string, healthy bool) Member {
	return Member{ID: id, Name: name, Healthy: healthy, PeerURLs: []string{"https://127.0.0." + string(rune('0'+id)) + ":2380"}}
}

func TestPlanMemberRemoval(t *testing.T) {
	learner := member(9, "new", false)
	learner.IsLearner = true
	tests := []struct {
		name    string
		members []Member
		victim  uint64
		want    error
	}{
		{"3 healthy: remove one", []Member{member(1, "a", true), member(2, "b", true), member(3, "c", true)}, 2, nil},
		{"4 after expand-first, one old dead: remove the dead one", []Member{member(1, "a", false), member(2, "b", true), member(3, "c", true), member(4, "d", true)}, 1, nil},
		{"2 of 3 healthy: removing a healthy one leaves 1 of 2", []Member{member(1, "a", false), member(2, "b", true), member(3, "c", true)}, 2, ErrQuorum},
		{"2 of 3 healthy: removing the dead one leaves 2 of 2", []Member{member(1, "a", false), member(2, "b", true), member(3, "c", true)}, 1, nil},
		{"1-node gateway upgraded expand-first: 2 members, remove the old", []Member{member(1, "old", true), member(2, "new", true)}, 1, nil},
		{"2 members, the new one dead: the old one stays", []Member{member(1, "old", true), member(2, "new", false)}, 1, ErrQuorum},
		{"5 members, 2 dead: remove a healthy one leaves 2 of 4", []Member{member(1, "a", false), member(2, "b", false), member(3, "c", true), member(4, "d", true), member(5, "e", true)}, 3, ErrQuorum},
		{"5 members, 2 dead: remove a dead one leaves 3 of 4", []Member{member(1, "a", false), member(2, "b", false), member(3, "c", true), member(4, "d", true), member(5, "e", true)}, 1, nil},
		{"last member", []Member{member(1, "a", true)}, 1, ErrLastMember},
		{"not a member", []Member{member(1, "a", true), member(2, "b", true)}, 7, ErrNotMember},
		{"a learner catching up blocks", []Member{member(1, "a", true), member(2, "b", true), member(3, "c", true), learner}, 1, ErrMembershipChanging},
		{"the learner itself may go", []Member{member(1, "a", true), learner}, 9, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := PlanMemberRemoval(tt.members, tt.victim)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("PlanMemberRemoval = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestShrinkOneAtATime walks 5 → 3 → 1 as the operator does, one member per
// step, and checks every intermediate membership keeps quorum.
func TestShrinkOneAtATime(t *testing.T) {
	members := []Member{member(1, "a", true), member(2, "b", true), member(3, "c", true), member(4, "d", true), member(5, "e", true)}
	for len(members) > 1 {
		victim := members[len(members)-1].ID
		if err := PlanMemberRemoval(members, victim); err != nil {
			t.Fatalf("removing %d of %d: %v", victim, len(members), err)
		}
		members = members[:len(members)-1]
		healthy := 0
		for _, m := range members {
			if m.Healthy {
				healthy++
			}
		}
		if healthy < Quorum(len(members)) {
			t.Fatalf("%d members left without quorum", len(members))
		}
	}
	if err := PlanMemberRemoval(members, members[0].ID); !errors.Is(err, ErrLastMember) {
		t.Fatalf("removing the last member: %v", err)
	}
}

func TestMemberOf(t *testing.T) {
	named := func(name, peer string) Member {
		return Member{ID: 1, Name: name, PeerURLs: []string{"https://" + peer + ":2380"}}
	}
	cp1 := MemberMachine{Node: "cp-1", Hostname: "CP-1", Addresses: []string{"10.0.0.1", "fd00::1"}}
	for _, tt := range []struct {
		name    string
		member  Member
		machine MemberMachine
		want    bool
	}{
		{"named after its Node", named("cp-1", "10.9.9.9"), cp1, true},
		{"named after its hostname, before its Node appeared", named("CP-1", "10.9.9.9"), MemberMachine{Hostname: "CP-1"}, true},
		{"hostname in another case (kubelets lowercase it)", named("cp-1", "10.9.9.9"), MemberMachine{Hostname: "CP-1"}, true},
		{"Node renamed by hand, peering from the machine's address", named("old-name", "10.0.0.1"), cp1, true},
		{"second address, IPv6", named("x", "[fd00::1]"), cp1, true},
		{"added but not started: no name, the machine's address", Member{ID: 2, PeerURLs: []string{"https://10.0.0.1:2380"}}, cp1, true},
		{"added but not started elsewhere", Member{ID: 2, PeerURLs: []string{"https://10.0.0.7:2380"}}, cp1, false},
		{"another machine's member", named("cp-2", "10.0.0.2"), cp1, false},
		{"no name and no peer URL matches nothing", Member{ID: 3}, MemberMachine{Addresses: []string{""}}, false},
		{"a machine with no name and no address owns nothing", named("", "10.0.0.1"), MemberMachine{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := MemberOf(tt.member, tt.machine); got != tt.want {
				t.Errorf("MemberOf(%+v, %+v) = %v, want %v", tt.member, tt.machine, got, tt.want)
			}
		})
	}
}

func TestVotesFor(t *testing.T) {
	cp1 := MemberMachine{Node: "cp-1", Addresses: []string{"10.0.0.1"}}
	voter := Member{ID: 1, Name: "cp-1", PeerURLs: []string{"https://10.0.0.1:2380"}, ClientURLs: []string{"https://10.0.0.1:2379"}, Healthy: true}
	learner, silent, other := voter, voter, voter
	learner.IsLearner = true
	silent.Healthy, silent.Err = false, "context deadline exceeded"
	other.Name, other.PeerURLs = "cp-2", []string{"https://10.0.0.2:2380"}
	for _, tt := range []struct {
		name    string
		members []Member
		want    bool
	}{
		{"a healthy voter of its own", []Member{other, voter}, true},
		{"its member still a learner", []Member{other, learner}, false},
		{"its member not answering", []Member{other, silent}, false},
		{"added, not started", []Member{other, {ID: 4, PeerURLs: []string{"https://10.0.0.1:2380"}, Err: "not started"}}, false},
		{"no member of its own", []Member{other}, false},
		{"no members read", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := VotesFor(tt.members, cp1); got != tt.want {
				t.Errorf("VotesFor = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOrphans(t *testing.T) {
	unstarted := Member{ID: 8, PeerURLs: []string{"https://127.0.0.8:2380"}}
	members := []Member{member(1, "a", true), member(2, "b", true), member(3, "gone", false), unstarted, member(4, "D", true)}
	machines := []MemberMachine{
		{Node: "a", Hostname: "a", Addresses: []string{"127.0.0.1"}},
		// Named otherwise (a Node renamed by hand) but peering from its
		// machine's address.
		{Node: "b-renamed", Addresses: []string{"127.0.0.2"}},
		// No Node yet: its member is known by hostname, whatever its case.
		{Hostname: "d"},
	}
	var got []uint64
	for _, m := range Orphans(members, machines) {
		got = append(got, m.ID)
	}
	if want := []uint64{3, 8}; !slices.Equal(got, want) {
		t.Fatalf("Orphans = %v, want %v", got, want)
	}
}

func TestMemberHost(t *testing.T) {
	for url, want := range map[string]string{
		"https://10.0.0.5:2380":  "10.0.0.5",
		"https://[fd00::5]:2380": "fd00::5",
		"https://node1":          "node1",
	} {
		if got := (Member{PeerURLs: []string{url}}).Host(); got != want {
			t.Errorf("Host(%s) = %q, want %q", url, got, want)
		}
	}
}
