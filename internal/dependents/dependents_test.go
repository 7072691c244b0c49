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
	"strings"
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

func TestAllows(t *testing.T) {
	gw := func(from infrav1alpha1.FromNamespaces, sel *metav1.LabelSelector) *infrav1alpha1.Gateway {
		return &infrav1alpha1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "maas-system", Name: "gw"},
			Spec: infrav1alpha1.GatewaySpec{AllowedCloudAccounts: infrav1alpha1.AllowedCloudAccounts{
				Namespaces: infrav1alpha1.AccountNamespaces{From: from, Selector: sel}}}}
	}
	teamA := &metav1.LabelSelector{MatchLabels: map[string]string{"maas-gateway/tenant": "true"}}
	byName := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{"team-b"}}}}
	bad := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Near"}}}
	tenant := map[string]string{"maas-gateway/tenant": "true", "kubernetes.io/metadata.name": "team-a"}
	plain := map[string]string{"kubernetes.io/metadata.name": "team-b"}
	tests := []struct {
		name   string
		gw     *infrav1alpha1.Gateway
		ns     string
		labels map[string]string
		want   bool
		why    string
	}{
		{"unset is Same: own namespace", gw("", nil), "maas-system", nil, true, ""},
		{"unset is Same: another namespace", gw("", nil), "team-a", tenant, false, "only from its own namespace maas-system, not from team-a"},
		{"Same: another namespace", gw(infrav1alpha1.NamespacesFromSame, nil), "team-a", tenant, false, "to allow it, set"},
		{"All", gw(infrav1alpha1.NamespacesFromAll, nil), "team-a", nil, true, ""},
		{"Selector matches", gw(infrav1alpha1.NamespacesFromSelector, teamA), "team-a", tenant, true, ""},
		{"Selector does not match", gw(infrav1alpha1.NamespacesFromSelector, teamA), "team-b", plain, false,
			"only from namespaces matching maas-gateway/tenant=true, and namespace team-b does not match"},
		{"Selector by name", gw(infrav1alpha1.NamespacesFromSelector, byName), "team-b", plain, true, ""},
		{"Selector always allows the own namespace", gw(infrav1alpha1.NamespacesFromSelector, teamA), "maas-system", nil, true, ""},
		{"Selector missing", gw(infrav1alpha1.NamespacesFromSelector, nil), "team-a", tenant, false, "has none"},
		{"Selector invalid", gw(infrav1alpha1.NamespacesFromSelector, bad), "team-a", tenant, false, "invalid namespace selector"},
	}
	for _, tt := range tests {
		ok, why := Allows(tt.gw, tt.ns, tt.labels)
		if ok != tt.want || !strings.Contains(why, tt.why) || (ok && why != "") {
			t.Errorf("%s: Allows = %v, %q; want %v, containing %q", tt.name, ok, why, tt.want, tt.why)
		}
	}
}
