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

package controller_test

import (
	"strings"
	"testing"

	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
)

func TestQuorumLost(t *testing.T) {
	voter := func(id uint64, up bool) controlplane.Member {
		return controlplane.Member{ID: id, Name: "m" + string(rune('0'+id)), Reachable: up}
	}
	learner := func(id uint64, up bool) controlplane.Member {
		m := voter(id, up)
		m.Learner = true
		return m
	}
	for _, tc := range []struct {
		name          string
		sample, after []controlplane.Member
		lost          string // a part of the answer; "" for none
	}{
		{name: "one voter up", sample: []controlplane.Member{voter(1, true)}},
		{name: "two voters, both up", sample: []controlplane.Member{voter(1, true), voter(2, true)}},
		{name: "two voters, one down", sample: []controlplane.Member{voter(1, true), voter(2, false)},
			lost: "1 of 2 voting members reachable; unreachable: m2 (2)"},
		{name: "a learner down does not count", sample: []controlplane.Member{voter(1, true), learner(2, false)}},
		{name: "three voters, one down", sample: []controlplane.Member{voter(1, true), voter(2, true), voter(3, false)}},
		{name: "three voters, two down", sample: []controlplane.Member{voter(1, true), voter(2, false), voter(3, false)},
			lost: "1 of 3"},
		{name: "the down voter was removed meanwhile",
			sample: []controlplane.Member{voter(1, false), voter(2, true)},
			after:  []controlplane.Member{voter(2, true)}},
		{name: "the down voter is still a member after its probe",
			sample: []controlplane.Member{voter(1, false), voter(2, true)},
			after:  []controlplane.Member{voter(1, false), voter(2, true)},
			lost:   "1 of 2"},
		{name: "another member removed meanwhile does not excuse a down voter",
			sample: []controlplane.Member{voter(1, false), voter(2, false), voter(3, true)},
			after:  []controlplane.Member{voter(1, false), voter(2, false)},
			lost:   "0 of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := quorumLost(tc.sample, tc.after)
			if tc.lost == "" && got != "" || tc.lost != "" && !strings.Contains(got, tc.lost) {
				t.Errorf("quorumLost = %q, want %q", got, tc.lost)
			}
		})
	}
}
