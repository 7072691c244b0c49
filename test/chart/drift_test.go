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

package chart_test

// The chart must not drift from what controller-gen generates from the
// markers in api/ and internal/: the CRDs, the manager's RBAC rules and the
// webhook configurations. hack/sync-chart.sh (make manifests) copies the
// CRDs and the rules; the webhooks are templated and compared here.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/maas-gateway/maas-gateway/test/envtest"
)

const staleHint = "run 'make manifests' (hack/sync-chart.sh) or update the chart's templates"

// TestChartVersionIsRepositoryVersion: Chart.yaml's version and appVersion are VERSION.
func TestChartVersionIsRepositoryVersion(t *testing.T) {
	want := strings.TrimSpace(string(readRepoFile(t, "VERSION")))
	c := loadChart(t)
	if c.Metadata.Version != want || c.Metadata.AppVersion != want {
		t.Fatalf("Chart.yaml has version %q and appVersion %q; VERSION says %q", c.Metadata.Version, c.Metadata.AppVersion, want)
	}
	dep := into[appsv1.Deployment](t, render(t, "maas-system", nil).one(t, "Deployment", ""))
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != "maas-gateway/manager:v"+want {
		t.Fatalf("default image is %q, want maas-gateway/manager:v%s", got, want)
	}
}

// TestCRDsMatchGenerated: the chart's crds/ holds exactly config/crd/bases.
func TestCRDsMatchGenerated(t *testing.T) {
	generated, err := filepath.Glob(filepath.Join(envtest.RepoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil || len(generated) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	inChart, err := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	names := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if !slices.Equal(names(generated), names(inChart)) {
		t.Fatalf("chart CRDs %v differ from config/crd/bases %v; %s", names(inChart), names(generated), staleHint)
	}
	for _, p := range generated {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(p)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("charts/maas-gateway/crds/%s differs from config/crd/bases; %s", filepath.Base(p), staleHint)
		}
	}
}

// generatedDocs reads the objects of a generated file of config/.
func generatedDocs(t *testing.T, rel string) []*unstructured.Unstructured {
	t.Helper()
	return parseObjects(t, string(readRepoFile(t, rel)))
}

// TestManagerRBACMatchesGenerated: the manager's ClusterRole has exactly the
// rules of config/rbac/role.yaml, and the leader-election Role those of
// config/rbac/leader_election_role.yaml.
func TestManagerRBACMatchesGenerated(t *testing.T) {
	docs := generatedDocs(t, "config/rbac/role.yaml")
	if len(docs) != 1 || docs[0].GetKind() != "ClusterRole" {
		var kinds []string
		for _, d := range docs {
			kinds = append(kinds, d.GetKind()+"/"+d.GetName()+" in "+d.GetNamespace())
		}
		t.Fatalf("config/rbac/role.yaml now holds %v; the chart only knows one ClusterRole: "+
			"template the new (namespaced?) roles in charts/maas-gateway/templates/rbac.yaml and compare them here", kinds)
	}
	want := into[rbacv1.ClusterRole](t, docs[0]).Rules

	r := render(t, "maas-system", nil)
	got := into[rbacv1.ClusterRole](t, r.one(t, "ClusterRole", "-manager")).Rules
	if !reflect.DeepEqual(got, want) {
		g, _ := yaml.Marshal(got)
		w, _ := yaml.Marshal(want)
		t.Errorf("manager ClusterRole rules differ from config/rbac/role.yaml; %s\n--- chart:\n%s--- generated:\n%s", staleHint, g, w)
	}

	le := generatedDocs(t, "config/rbac/leader_election_role.yaml")
	wantLE := normaliseRules(into[rbacv1.Role](t, le[0]).Rules)
	gotLE := normaliseRules(into[rbacv1.Role](t, r.one(t, "Role", "-leader-election")).Rules)
	if !reflect.DeepEqual(gotLE, wantLE) {
		g, _ := yaml.Marshal(gotLE)
		w, _ := yaml.Marshal(wantLE)
		t.Errorf("leader-election Role differs from config/rbac/leader_election_role.yaml\n--- chart:\n%s--- generated:\n%s", g, w)
	}
}

// normaliseRules sorts the verbs of each rule, so order does not matter.
func normaliseRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	for i := range rules {
		slices.Sort(rules[i].Verbs)
	}
	return rules
}

// webhookShape is what the chart must share with controller-gen's webhook
// configurations: everything but where the Service is and the CA bundle.
type webhookShape struct {
	Name                    string
	Path                    string
	Rules                   []admissionregistrationv1.RuleWithOperations
	FailurePolicy           *admissionregistrationv1.FailurePolicyType
	SideEffects             *admissionregistrationv1.SideEffectClass
	TimeoutSeconds          *int32
	AdmissionReviewVersions []string
	MatchPolicy             *admissionregistrationv1.MatchPolicyType
	NamespaceSelector       any
	ObjectSelector          any
}

func shapes(t *testing.T, objs []*unstructured.Unstructured) map[string][]webhookShape {
	t.Helper()
	out := map[string][]webhookShape{}
	for _, o := range objs {
		switch o.GetKind() {
		case "MutatingWebhookConfiguration":
			for _, w := range into[admissionregistrationv1.MutatingWebhookConfiguration](t, o).Webhooks {
				out[o.GetKind()] = append(out[o.GetKind()], webhookShape{
					w.Name, *w.ClientConfig.Service.Path, w.Rules, w.FailurePolicy, w.SideEffects,
					w.TimeoutSeconds, w.AdmissionReviewVersions, w.MatchPolicy, w.NamespaceSelector, w.ObjectSelector,
				})
			}
		case "ValidatingWebhookConfiguration":
			for _, w := range into[admissionregistrationv1.ValidatingWebhookConfiguration](t, o).Webhooks {
				out[o.GetKind()] = append(out[o.GetKind()], webhookShape{
					w.Name, *w.ClientConfig.Service.Path, w.Rules, w.FailurePolicy, w.SideEffects,
					w.TimeoutSeconds, w.AdmissionReviewVersions, w.MatchPolicy, w.NamespaceSelector, w.ObjectSelector,
				})
			}
		}
	}
	for k := range out {
		slices.SortFunc(out[k], func(a, b webhookShape) int { return strings.Compare(a.Name, b.Name) })
	}
	return out
}

// TestWebhooksMatchGenerated: the chart's webhook configurations have the
// names, paths, rules and policies of config/webhook/manifests.yaml, in both
// certificate modes.
func TestWebhooksMatchGenerated(t *testing.T) {
	want := shapes(t, generatedDocs(t, "config/webhook/manifests.yaml"))
	if len(want) != 2 {
		t.Fatalf("config/webhook/manifests.yaml holds %d kinds of webhook configuration, want 2", len(want))
	}
	for _, certManager := range []bool{true, false} {
		got := shapes(t, render(t, "maas-system", with(nil, map[string]any{"webhook.certManager.enabled": certManager})).objects)
		if !reflect.DeepEqual(got, want) {
			g, _ := yaml.Marshal(got)
			w, _ := yaml.Marshal(want)
			t.Errorf("certManager=%v: webhooks differ from config/webhook/manifests.yaml; update templates/webhook.yaml\n--- chart:\n%s--- generated:\n%s", certManager, g, w)
		}
	}
}

// TestSecretPolicyMatchesConfig: the chart's admission policy on the
// manager's Secrets has the rules of config/rbac/secret_policy.yaml, names
// the release's ServiceAccount, and is bound.
func TestSecretPolicyMatchesConfig(t *testing.T) {
	var want *unstructured.Unstructured
	for _, d := range generatedDocs(t, "config/rbac/secret_policy.yaml") {
		if d.GetKind() == "ValidatingAdmissionPolicy" {
			want = d
		}
	}
	if want == nil {
		t.Fatal("config/rbac/secret_policy.yaml has no ValidatingAdmissionPolicy")
	}
	r := render(t, "maas-system", nil)
	got := r.one(t, "ValidatingAdmissionPolicy", "-manager-secrets")
	for _, field := range []string{"failurePolicy", "matchConstraints", "variables", "validations"} {
		g, _, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", field)
		w, _, _ := unstructured.NestedFieldNoCopy(want.Object, "spec", field)
		if !reflect.DeepEqual(g, w) {
			gy, _ := yaml.Marshal(g)
			wy, _ := yaml.Marshal(w)
			t.Errorf("spec.%s of the chart's Secret policy differs from config/rbac/secret_policy.yaml\n--- chart:\n%s--- config:\n%s",
				field, gy, wy)
		}
	}
	sa := r.one(t, "ServiceAccount", "")
	user := "system:serviceaccount:maas-system:" + sa.GetName()
	conds, _, _ := unstructured.NestedSlice(got.Object, "spec", "matchConditions")
	if len(conds) != 1 || !strings.Contains(fmt.Sprint(conds[0].(map[string]any)["expression"]), `"`+user+`"`) {
		t.Errorf("the chart's Secret policy matches %v, not the manager's ServiceAccount %s", conds, user)
	}
	b := r.one(t, "ValidatingAdmissionPolicyBinding", "-manager-secrets")
	if name, _, _ := unstructured.NestedString(b.Object, "spec", "policyName"); name != got.GetName() {
		t.Errorf("the binding names policy %q, the policy is %q", name, got.GetName())
	}
}
