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
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/maas-gateway/maas-gateway/internal/maas"
)

func TestPlanDecommission(t *testing.T) {
	deployed := func(id string) maas.Machine { return maas.Machine{SystemID: id, Status: maas.StatusDeployed} }
	deploying := func(id string) maas.Machine { return maas.Machine{SystemID: id, Status: maas.StatusDeploying} }
	node := func(name, id string) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{ProviderID: "maas://" + id}}
	}
	nodes := []corev1.Node{node("gw-a", "a"), node("gw-b", "b"), node("gw-c", "c")}
	type step struct {
		id          string
		leave, last bool
	}
	cases := []struct {
		name       string
		owned      []maas.Machine
		self       string
		othersStay bool
		want       []step
	}{{
		name:  "manager outside the gateway: every machine leaves, in inventory order",
		owned: []maas.Machine{deployed("a"), deployed("b"), deployed("c")},
		want:  []step{{"a", true, false}, {"b", true, false}, {"c", true, false}},
	}, {
		name:  "the manager's node goes last, without leaving: the cluster ends with it",
		owned: []maas.Machine{deployed("a"), deployed("b"), deployed("c")},
		self:  "gw-a",
		want:  []step{{"b", true, false}, {"c", true, false}, {"a", false, true}},
	}, {
		name:  "a 1-node gateway on the manager's node: released without a drain that could never finish",
		owned: []maas.Machine{deployed("b")},
		self:  "gw-b",
		want:  []step{{"b", false, true}},
	}, {
		name:       "adopted nodes stay: the manager's node is drained like any other, last",
		owned:      []maas.Machine{deployed("a"), deployed("b")},
		self:       "gw-a",
		othersStay: true,
		want:       []step{{"b", true, false}, {"a", true, false}},
	}, {
		name:  "a machine still deploying with no Node has nothing to leave",
		owned: []maas.Machine{deploying("x"), deployed("c")},
		self:  "gw-a",
		want:  []step{{"x", false, false}, {"c", true, false}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []step
			for _, s := range planDecommission(tc.owned, nodes, tc.self, tc.othersStay) {
				got = append(got, step{s.machine.SystemID, s.leave, s.last})
				if s.node != nil && systemIDOf(s.node) != s.machine.SystemID {
					t.Errorf("machine %s paired with Node %s", s.machine.SystemID, s.node.Name)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("step %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
