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

// Package manifests tests what config/ renders to: the install a user gets
// from `kustomize build config/default`.
package manifests

import (
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/maas-gateway/maas-gateway/test/envtest"
)

func build(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(envtest.RepoRoot(), dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range res.Resources() {
		// Through JSON, so numbers are the int64s unstructured expects.
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// TestDefaultInstallWiresWebhooksToCertManager checks that the webhook
// configurations reach the manager's Service and get their CA from the
// cert-manager Certificate that serves it, and that the guarded deletes are
// sent to the webhook at all.
func TestDefaultInstallWiresWebhooksToCertManager(t *testing.T) {
	objs := build(t, "config/default")

	if n := len(ofKind(objs, "CustomResourceDefinition")); n != 4 {
		t.Errorf("%d CRDs, want 4", n)
	}
	services := ofKind(objs, "Service")
	certs := ofKind(objs, "Certificate")
	var svc *unstructured.Unstructured
	for _, s := range services {
		if ports, _, _ := unstructured.NestedSlice(s.Object, "spec", "ports"); len(ports) > 0 {
			if p, _ := ports[0].(map[string]any); p["port"] == int64(443) {
				svc = s
			}
		}
	}
	if svc == nil {
		t.Fatal("no webhook Service on port 443")
	}
	var serving *unstructured.Unstructured
	for _, c := range certs {
		dns, _, _ := unstructured.NestedStringSlice(c.Object, "spec", "dnsNames")
		if slices.Contains(dns, svc.GetName()+"."+svc.GetNamespace()+".svc") {
			serving = c
		}
	}
	if serving == nil {
		t.Fatalf("no Certificate names the webhook Service %s.%s.svc", svc.GetName(), svc.GetNamespace())
	}
	if len(ofKind(objs, "Issuer")) == 0 {
		t.Error("no cert-manager Issuer")
	}
	wantCA := serving.GetNamespace() + "/" + serving.GetName()

	for _, kind := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
		configs := ofKind(objs, kind)
		if len(configs) != 1 {
			t.Fatalf("%d %s, want 1", len(configs), kind)
		}
		cfg := configs[0]
		if got := cfg.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != wantCA {
			t.Errorf("%s injects the CA of %q, want %q", kind, got, wantCA)
		}
		hooks, _, _ := unstructured.NestedSlice(cfg.Object, "webhooks")
		// Every kind is validated; ClusterProfile has no defaults.
		want := 4
		if kind == "MutatingWebhookConfiguration" {
			want = 3
		}
		if len(hooks) != want {
			t.Errorf("%s has %d webhooks, want %d", kind, len(hooks), want)
		}
		for _, h := range hooks {
			hook := h.(map[string]any)
			name, _, _ := unstructured.NestedString(hook, "clientConfig", "service", "name")
			ns, _, _ := unstructured.NestedString(hook, "clientConfig", "service", "namespace")
			if name != svc.GetName() || ns != svc.GetNamespace() {
				t.Errorf("%s webhook %v calls service %s/%s, want %s/%s", kind, hook["name"], ns, name, svc.GetNamespace(), svc.GetName())
			}
			if kind == "ValidatingWebhookConfiguration" && guarded(hook) && !operations(hook, "DELETE") {
				t.Errorf("webhook %v does not receive DELETE: the deletion guard would never run", hook["name"])
			}
		}
	}
}

func guarded(hook map[string]any) bool {
	rules, _, _ := unstructured.NestedSlice(hook, "rules")
	for _, r := range rules {
		res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
		if slices.Contains(res, "gateways") || slices.Contains(res, "cloudaccounts") || slices.Contains(res, "clusterprofiles") {
			return true
		}
	}
	return false
}

func operations(hook map[string]any, op string) bool {
	rules, _, _ := unstructured.NestedSlice(hook, "rules")
	for _, r := range rules {
		ops, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "operations")
		if slices.Contains(ops, op) {
			return true
		}
	}
	return false
}
