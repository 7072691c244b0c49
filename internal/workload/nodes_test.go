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
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name, providerID string) corev1.Node {
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{ProviderID: providerID}}
}

func TestNodeFor(t *testing.T) {
	nodes := []corev1.Node{
		node("alpha", "maas://abc123"),
		node("adopted", ""),
		node("bravo", "maas://other"),
		node("charlie", "maas://def456"),
	}
	tests := []struct {
		name string
		m    Machine
		want string
	}{
		{"by providerID", Machine{SystemID: "abc123", Hostname: "whatever"}, "alpha"},
		{"providerID wins over a hostname match", Machine{SystemID: "def456", Hostname: "adopted"}, "charlie"},
		{"adopted node by lowercased hostname", Machine{SystemID: "zzz", Hostname: "Adopted"}, "adopted"},
		{"a node of another machine never matches by name", Machine{SystemID: "xyz", Hostname: "bravo"}, ""},
		{"no node yet", Machine{SystemID: "new", Hostname: "delta"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NodeFor(nodes, tt.m)
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tt.want {
				t.Fatalf("NodeFor = %q, want %q", name, tt.want)
			}
		})
	}
}

func TestSystemIDOf(t *testing.T) {
	for pid, want := range map[string]string{"maas://abc": "abc", "": "", "aws:///us-east-1a/i-1": ""} {
		n := node("n", pid)
		if got := SystemIDOf(&n); got != want {
			t.Errorf("SystemIDOf(%q) = %q, want %q", pid, got, want)
		}
	}
}

func TestHealthOf(t *testing.T) {
	n := node("n", "")
	if h := HealthOf(&n); h.Ready() || h.Status != corev1.ConditionUnknown {
		t.Fatalf("no condition: %+v", h)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: "cni plugin not initialized"}}
	if h := HealthOf(&n); h.Ready() || h.Reason != "KubeletNotReady" {
		t.Fatalf("not ready: %+v", h)
	}
	n.Status.Conditions[0].Status = corev1.ConditionTrue
	if h := HealthOf(&n); !h.Ready() {
		t.Fatalf("ready: %+v", h)
	}
}
