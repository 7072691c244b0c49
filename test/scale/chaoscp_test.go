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

package main

import (
	"strings"
	"testing"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
)

// member is a started, answering member peering from ip.
func member(ip string) controlplane.Member {
	return controlplane.Member{Name: "m-" + ip, PeerURLs: []string{"https://" + ip + ":2380"}, Started: true,
		Reachable: true}
}

func TestMemberProblems(t *testing.T) {
	machines := map[string]bool{"127.64.0.2": true, "127.64.0.3": true, "127.64.0.4": true}
	a, b, c := member("127.64.0.2"), member("127.64.0.3"), member("127.64.0.4")
	old := member("127.64.0.9")
	learner := controlplane.Member{ID: 0x1f, PeerURLs: []string{"https://127.64.0.5:2380"}, Learner: true}
	down := func(m controlplane.Member) controlplane.Member { m.Reachable = false; return m }
	for _, tt := range []struct {
		name     string
		ms       []controlplane.Member
		strategy infrav1.RollingUpdateStrategy
		final    bool
		want     []string // substrings, one per problem; none for a pass
	}{
		{name: "three of three", ms: []controlplane.Member{a, b, c}},
		{name: "expand-first step: an unstarted learner beside three", ms: []controlplane.Member{a, b, c, learner}},
		{name: "expand-first: two extra members", ms: []controlplane.Member{a, b, c, old, learner},
			want: []string{"5 members, want 3..4"}},
		{name: "contract-first step: two left", ms: []controlplane.Member{a, b}, strategy: infrav1.ContractFirst},
		{name: "expand-first may not drop below the size", ms: []controlplane.Member{a, b},
			want: []string{"2 members, want 3..4"}},
		{name: "quorum lost: a released machine's member left behind", ms: []controlplane.Member{a, down(b), down(old), learner},
			want: []string{"quorum lost: 1 of 4"}},
		{name: "two of four is no quorum", ms: []controlplane.Member{a, b, down(c), learner},
			want: []string{"quorum lost: 2 of 4"}},
		{name: "end: exactly the size, all up, all on machines", ms: []controlplane.Member{a, b, c}, final: true},
		{name: "end: one too many, an orphan", ms: []controlplane.Member{a, b, c, old}, final: true,
			want: []string{"4 members, want 3..3", "orphan"}},
		{name: "end: a member down", ms: []controlplane.Member{a, b, down(c)}, final: true,
			want: []string{"unreachable"}},
		{name: "end: a learner left", ms: []controlplane.Member{a, b, learner}, final: true,
			want: []string{"unreachable", "orphan"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := memberProblems(tt.ms, tt.strategy, tt.final, machines)
			if len(got) != len(tt.want) {
				t.Fatalf("problems %q, want %d like %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to say %q", i, got[i], w)
				}
			}
		})
	}
}
