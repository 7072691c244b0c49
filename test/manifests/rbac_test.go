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

package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// grant is one verb on one resource, cluster-wide or in the release namespace.
type grant struct{ where, resource, verb string }

func (g grant) String() string { return g.where + ": " + g.verb + " " + g.resource }

// managerGrants is everything config/default grants the manager's
// ServiceAccount, through the bindings that name it.
func managerGrants(t *testing.T) map[grant]bool {
	t.Helper()
	objs := build(t, "config/default")
	var sa string
	for _, o := range ofKind(objs, "ServiceAccount") {
		if strings.HasSuffix(o.GetName(), "controller-manager") {
			sa = o.GetNamespace() + "/" + o.GetName()
		}
	}
	if sa == "" {
		t.Fatal("no controller-manager ServiceAccount in config/default")
	}
	rules := map[string][]rbacv1.PolicyRule{}
	for _, kind := range []string{"ClusterRole", "Role"} {
		for _, o := range ofKind(objs, kind) {
			var r rbacv1.ClusterRole // Role has the same rules field
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
				t.Fatal(err)
			}
			rules[kind+"/"+o.GetNamespace()+"/"+o.GetName()] = r.Rules
		}
	}
	out := map[grant]bool{}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, o := range ofKind(objs, kind) {
			var b rbacv1.RoleBinding
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &b); err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool {
				return s.Kind == rbacv1.ServiceAccountKind && s.Namespace+"/"+s.Name == sa
			}) {
				continue
			}
			where, ns := "cluster", ""
			if kind == "RoleBinding" {
				where = "release namespace"
				if b.RoleRef.Kind == "Role" {
					ns = b.Namespace
				}
			}
			bound, ok := rules[b.RoleRef.Kind+"/"+ns+"/"+b.RoleRef.Name]
			if !ok {
				t.Fatalf("%s %s binds %s %s, which config/default lacks", kind, b.Name, b.RoleRef.Kind, b.RoleRef.Name)
			}
			for _, r := range bound {
				if len(r.NonResourceURLs) > 0 {
					continue // the metrics endpoint's, not the API's
				}
				for _, group := range r.APIGroups {
					for _, res := range r.Resources {
						name := res
						if group != "" {
							name = group + "/" + res
						}
						for _, v := range r.Verbs {
							out[grant{where, name, v}] = true
						}
					}
				}
			}
		}
	}
	return out
}

// TestManagerHasNoSecretCacheRights: the manager may not list, watch or
// delete Secrets anywhere (a compromised manager cannot enumerate the
// cluster's credentials, and its memory cannot grow with them), and reads
// ConfigMaps only in its own namespace.
func TestManagerHasNoSecretCacheRights(t *testing.T) {
	grants := managerGrants(t)
	for g := range grants {
		if g.resource == "*" || g.verb == "*" || strings.HasSuffix(g.resource, "/*") {
			t.Errorf("wildcard grant %s", g)
		}
		if g.resource == "secrets" && !slices.Contains([]string{"get", "create", "update"}, g.verb) {
			t.Errorf("the manager may %s Secrets (%s): it reads the Secrets it needs by name, never lists, watches, patches or deletes them", g.verb, g)
		}
		if g.resource == "configmaps" && (g.where == "cluster" || !slices.Contains([]string{"get", "list", "watch"}, g.verb)) {
			t.Errorf("%s: the manager only reads the release catalog, in its own namespace", g)
		}
	}
	for _, v := range []string{"get", "create", "update"} {
		if !grants[grant{"cluster", "secrets", v}] {
			t.Errorf("the manager may not %s Secrets, which it needs (tenant PKI, kubeconfigs, tokens)", v)
		}
	}
}

// TestREADMEListsEveryGrant: the README's table "What the manager may do"
// names exactly what the roles grant, each with its reason.
func TestREADMEListsEveryGrant(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(envtest.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## What the manager may do\n")
	if !ok {
		t.Fatal(`README.md has no section "## What the manager may do"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	documented := map[grant]bool{}
	for line := range strings.SplitSeq(section, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 4 || cells[0] == "where" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		if strings.TrimSpace(cells[3]) == "" {
			t.Errorf("README row %q says no why", line)
		}
		group := ""
		for res := range strings.SplitSeq(cells[1], ", ") {
			res = strings.Trim(res, "`")
			// "group/a, b/status" rows: the group carries over.
			if i := strings.Index(res, "."); i >= 0 && strings.Contains(res[i:], "/") {
				group = res[:strings.Index(res, "/")]
			} else if group != "" {
				res = group + "/" + res
			}
			for v := range strings.SplitSeq(cells[2], ", ") {
				documented[grant{cells[0], res, v}] = true
			}
		}
	}
	granted := managerGrants(t)
	for g := range granted {
		if !documented[g] {
			t.Errorf("granted but not in the README's table: %s", g)
		}
	}
	for g := range documented {
		if !granted[g] {
			t.Errorf("in the README's table but not granted: %s", g)
		}
	}
}

// TestSecretPolicyBindsTheManager: the admission policy that limits what
// Secrets the manager may create and update is bound, and names the
// ServiceAccount config/default runs the manager as (the username is a
// string in a CEL expression, which kustomize's namespace and name prefix
// do not rewrite).
func TestSecretPolicyBindsTheManager(t *testing.T) {
	objs := build(t, "config/default")
	policies := ofKind(objs, "ValidatingAdmissionPolicy")
	bindings := ofKind(objs, "ValidatingAdmissionPolicyBinding")
	if len(policies) != 1 || len(bindings) != 1 {
		t.Fatalf("%d ValidatingAdmissionPolicies and %d bindings, want the manager's Secret policy and its binding",
			len(policies), len(bindings))
	}
	if got, _, _ := unstructured.NestedString(bindings[0].Object, "spec", "policyName"); got != policies[0].GetName() {
		t.Errorf("the binding names policy %q, the policy is %q", got, policies[0].GetName())
	}
	var user string
	for _, o := range ofKind(objs, "ServiceAccount") {
		if strings.HasSuffix(o.GetName(), "controller-manager") {
			user = "system:serviceaccount:" + o.GetNamespace() + ":" + o.GetName()
		}
	}
	conds, _, _ := unstructured.NestedSlice(policies[0].Object, "spec", "matchConditions")
	if len(conds) != 1 || !strings.Contains(fmt.Sprint(conds[0].(map[string]any)["expression"]), `"`+user+`"`) {
		t.Errorf("the policy's match condition %v does not name the manager's ServiceAccount %s", conds, user)
	}
}
