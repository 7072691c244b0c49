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

package dependents

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

func TestSummary(t *testing.T) {
	deps := func(n int) []Dependent {
		out := make([]Dependent, n)
		for i := range out {
			out[i] = Dependent{Namespace: "ns", Name: fmt.Sprintf("c%d", i)}
		}
		return out
	}
	tests := []struct {
		name string
		deps []Dependent
		want string
	}{
		{name: "none", deps: nil, want: ""},
		{name: "one", deps: deps(1), want: "ns/c0"},
		{name: "exactly the limit", deps: deps(5), want: "ns/c0, ns/c1, ns/c2, ns/c3, ns/c4"},
		{name: "over the limit", deps: deps(7), want: "ns/c0, ns/c1, ns/c2, ns/c3, ns/c4 and 2 more"},
		{name: "deleting marked", deps: []Dependent{{Namespace: "a", Name: "x", Deleting: true}, {Namespace: "b", Name: "y"}},
			want: "a/x (deleting), b/y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summary(tt.deps, 5); got != tt.want {
				t.Errorf("Summary = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGatewayOf(t *testing.T) {
	tests := []struct {
		name string
		ref  infrav1alpha1.GatewayReference
		want types.NamespacedName
	}{
		{name: "own namespace", ref: infrav1alpha1.GatewayReference{Name: "gw"},
			want: types.NamespacedName{Namespace: "team", Name: "gw"}},
		{name: "other namespace", ref: infrav1alpha1.GatewayReference{Name: "gw", Namespace: "maas-system"},
			want: types.NamespacedName{Namespace: "maas-system", Name: "gw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := &infrav1alpha1.CloudAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "acct"},
				Spec: infrav1alpha1.CloudAccountSpec{GatewayRef: tt.ref}}
			if got := GatewayOf(ca); got != tt.want {
				t.Errorf("GatewayOf = %v, want %v", got, tt.want)
			}
		})
	}
}
