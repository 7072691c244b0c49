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

// Package bundle tests the committed OLM bundle (bundle/, bundle.Dockerfile):
// that OLM's validators accept it, that it is what `make bundle` makes now,
// that its version is the VERSION file's, and that it installs what
// config/default and the Helm chart install — the same deployment, RBAC
// rules and webhooks. Offline, no Docker, no cluster.
package bundle

import (
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/maas-gateway/maas-gateway/internal/bundle"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

var root = envtest.RepoRoot()

// versionFile is the one place the release version is written.
func versionFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// committedCSV reads the CSV in bundle/manifests.
func committedCSV(t *testing.T) *operatorsv1alpha1.ClusterServiceVersion {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "bundle/manifests", bundle.PackageName+".clusterserviceversion.yaml"))
	if err != nil {
		t.Fatalf("%v (run make bundle)", err)
	}
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	if err := yaml.UnmarshalStrict(b, csv); err != nil {
		t.Fatal(err)
	}
	return csv
}

// configDefault is `kustomize build config/default`: the install the bundle
// must reproduce.
func configDefault(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := bundle.Build(root, "config/default")
	if err != nil {
		t.Fatal(err)
	}
	return objs
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

func into[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

func TestBundleValidates(t *testing.T) {
	errs, warnings, err := bundle.Validate(filepath.Join(root, bundle.BundleDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Logf("warning: %s", w)
	}
	for _, e := range errs {
		t.Errorf("error: %s", e)
	}
}

// TestBundleIsUpToDate fails when config/ (or the generator) changed and
// `make bundle` was not run: the committed bundle must be its output.
func TestBundleIsUpToDate(t *testing.T) {
	files, err := bundle.Generate(bundle.Options{Root: root, Version: versionFile(t)})
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := bundle.Stale(root, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("the bundle is stale; run make bundle and commit:\n  %s", strings.Join(diffs, "\n  "))
	}
	// Twice the same: nothing (time, map order) leaks into the output.
	again, err := bundle.Generate(bundle.Options{Root: root, Version: versionFile(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(files, again) {
		t.Error("two generations differ")
	}
}

// TestOneVersion checks that the CSV, its image references and the bundle
// image's tag all come from the VERSION file, and that an upgrade edge is
// only declared to an older release.
func TestOneVersion(t *testing.T) {
	v := versionFile(t)
	csv := committedCSV(t)
	if got := csv.Spec.Version.String(); got != v {
		t.Errorf("CSV version %s, VERSION file %s", got, v)
	}
	if csv.Name != bundle.PackageName+".v"+v {
		t.Errorf("CSV name %s, want %s.v%s", csv.Name, bundle.PackageName, v)
	}
	image := "maas-gateway/manager:v" + v
	if got := csv.Annotations["containerImage"]; got != image {
		t.Errorf("containerImage %s, want %s", got, image)
	}
	if want := []operatorsv1alpha1.RelatedImage{{Name: "manager", Image: image}}; !equality.Semantic.DeepEqual(csv.Spec.RelatedImages, want) {
		t.Errorf("relatedImages %v, want %v", csv.Spec.RelatedImages, want)
	}
	for _, d := range csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Image != image {
				t.Errorf("deployment %s container %s runs %s, want %s", d.Name, c.Name, c.Image, image)
			}
		}
	}
	if r := csv.Spec.Replaces; r != "" {
		prev, ok := strings.CutPrefix(r, bundle.PackageName+".v")
		if !ok || !older(prev, v) {
			t.Errorf("replaces %s: not an earlier release of %s", r, v)
		}
	}
	// The Makefile tags the bundle image from the same VERSION.
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "maas-gateway-bundle:v$(VERSION)") || !strings.Contains(string(mk), "VERSION ?= $(shell cat VERSION") {
		t.Error("the Makefile no longer tags the bundle image from the VERSION file")
	}
}

// older reports whether semver a < b, for plain x.y.z.
func older(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < 3 && i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return false
}

// TestDeploymentIsConfigDefaults checks the CSV's deployment against
// config/default's: equal but for the two changes OLM needs — the image
// pinned to the release, and the cert-manager certificate volume left out
// because OLM mounts its own certificate where the manager reads it.
func TestDeploymentIsConfigDefaults(t *testing.T) {
	objs := configDefault(t)
	deploys := ofKind(objs, "Deployment")
	if len(deploys) != 1 {
		t.Fatalf("config/default has %d deployments, want 1", len(deploys))
	}
	want := into[appsv1.Deployment](t, deploys[0])
	var certSecrets []string
	for _, c := range ofKind(objs, "Certificate") {
		s, _, _ := unstructured.NestedString(c.Object, "spec", "secretName")
		certSecrets = append(certSecrets, s)
	}
	pod := &want.Spec.Template.Spec
	var certVolumes []string
	pod.Volumes = slices.DeleteFunc(pod.Volumes, func(v corev1.Volume) bool {
		if v.Secret != nil && slices.Contains(certSecrets, v.Secret.SecretName) {
			certVolumes = append(certVolumes, v.Name)
			return true
		}
		return false
	})
	if len(certVolumes) != 1 {
		t.Fatalf("config/default mounts %d cert-manager secrets, want the webhook's only", len(certVolumes))
	}
	for i := range pod.Containers {
		c := &pod.Containers[i]
		c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
			if slices.Contains(certVolumes, m.Name) && m.MountPath != "/tmp/k8s-webhook-server/serving-certs" {
				t.Errorf("certificate mounted at %s; OLM mounts the webhook certificate at /tmp/k8s-webhook-server/serving-certs", m.MountPath)
			}
			return slices.Contains(certVolumes, m.Name)
		})
		if c.Name == "manager" {
			c.Image = "maas-gateway/manager:v" + versionFile(t)
			if !slices.Contains(c.Args, "--webhook-cert-path=/tmp/k8s-webhook-server/serving-certs") {
				t.Errorf("manager args %v: the webhook certificate must be read where OLM mounts it", c.Args)
			}
		}
	}

	csv := committedCSV(t)
	specs := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs
	if len(specs) != 1 {
		t.Fatalf("CSV has %d deployments, want 1", len(specs))
	}
	if specs[0].Name != want.Name {
		t.Errorf("CSV deployment %s, config/default %s", specs[0].Name, want.Name)
	}
	if !equality.Semantic.DeepEqual(specs[0].Spec, want.Spec) {
		got, _ := yaml.Marshal(specs[0].Spec)
		exp, _ := yaml.Marshal(want.Spec)
		t.Errorf("CSV deployment spec differs from config/default's\n--- CSV\n%s\n--- config/default (OLM changes applied)\n%s", got, exp)
	}
}

// rule is one verb on one resource (or URL) of one group: rules compared as
// sets of these are equal whatever their grouping and order.
type rule struct{ group, resource, name, verb string }

func flatten(rules []rbacv1.PolicyRule) []rule {
	set := map[rule]bool{}
	for _, r := range rules {
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, v := range r.Verbs {
			for _, u := range r.NonResourceURLs {
				set[rule{"", "url:" + u, "", v}] = true
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, n := range names {
						set[rule{g, res, n, v}] = true
					}
				}
			}
		}
	}
	out := make([]rule, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b rule) int {
		return cmp.Or(strings.Compare(a.group, b.group), strings.Compare(a.resource, b.resource),
			strings.Compare(a.name, b.name), strings.Compare(a.verb, b.verb))
	})
	return out
}

// boundRules collects the rules of the roles bound to serviceAccount:
// cluster-wide (ClusterRoleBindings) and namespaced (RoleBindings).
func boundRules(t *testing.T, objs []*unstructured.Unstructured, serviceAccount string) (cluster, namespaced []rbacv1.PolicyRule) {
	t.Helper()
	roles := map[string][]rbacv1.PolicyRule{}
	for _, kind := range []string{"Role", "ClusterRole"} {
		for _, o := range ofKind(objs, kind) {
			roles[kind+"/"+o.GetName()] = into[rbacv1.ClusterRole](t, o).Rules
		}
	}
	for _, kind := range []string{"RoleBinding", "ClusterRoleBinding"} {
		for _, o := range ofKind(objs, kind) {
			b := into[rbacv1.RoleBinding](t, o)
			if !slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool {
				return s.Kind == "ServiceAccount" && s.Name == serviceAccount
			}) {
				continue
			}
			r, ok := roles[b.RoleRef.Kind+"/"+b.RoleRef.Name]
			if !ok {
				t.Errorf("%s %s binds missing %s %s", kind, b.Name, b.RoleRef.Kind, b.RoleRef.Name)
			}
			if kind == "ClusterRoleBinding" {
				cluster = append(cluster, r...)
			} else {
				namespaced = append(namespaced, r...)
			}
		}
	}
	return cluster, namespaced
}

func csvRules(csv *operatorsv1alpha1.ClusterServiceVersion) (cluster, namespaced []rbacv1.PolicyRule, accounts []string) {
	s := csv.Spec.InstallStrategy.StrategySpec
	for _, p := range s.ClusterPermissions {
		cluster = append(cluster, p.Rules...)
		accounts = append(accounts, p.ServiceAccountName)
	}
	for _, p := range s.Permissions {
		namespaced = append(namespaced, p.Rules...)
		accounts = append(accounts, p.ServiceAccountName)
	}
	return cluster, namespaced, accounts
}

// TestRBACIsConfigDefaults checks that the CSV grants the manager's account
// exactly what config/default binds to it, cluster-wide and in its namespace.
func TestRBACIsConfigDefaults(t *testing.T) {
	objs := configDefault(t)
	sa := into[appsv1.Deployment](t, ofKind(objs, "Deployment")[0]).Spec.Template.Spec.ServiceAccountName
	wantCluster, wantNS := boundRules(t, objs, sa)
	if len(wantCluster) == 0 || len(wantNS) == 0 {
		t.Fatalf("config/default binds %d cluster and %d namespaced rules to %s", len(wantCluster), len(wantNS), sa)
	}
	gotCluster, gotNS, accounts := csvRules(committedCSV(t))
	for _, a := range accounts {
		if a != sa {
			t.Errorf("CSV grants service account %s; the deployment runs as %s", a, sa)
		}
	}
	if !slices.Equal(flatten(gotCluster), flatten(wantCluster)) {
		t.Errorf("clusterPermissions\n%v\nconfig/default's ClusterRoleBindings\n%v", flatten(gotCluster), flatten(wantCluster))
	}
	if !slices.Equal(flatten(gotNS), flatten(wantNS)) {
		t.Errorf("permissions\n%v\nconfig/default's RoleBindings\n%v", flatten(gotNS), flatten(wantNS))
	}
}

// hook is a webhook as a client sees it: what it matches and where it is
// served, whichever way it was declared.
type hook struct {
	Type                    string
	Rules                   []admissionregistrationv1.RuleWithOperations
	Path                    string
	FailurePolicy           string
	SideEffects             string
	TimeoutSeconds          int32
	AdmissionReviewVersions []string
	// ServicePort is what the API server calls; TargetPort where the manager listens.
	ServicePort int32
	TargetPort  int32
}

// webhooksOf returns the webhooks of the configurations in objs, by name,
// with ports resolved through their Service and the manager's container
// port names.
func webhooksOf(t *testing.T, objs []*unstructured.Unstructured) map[string]hook {
	t.Helper()
	deploy := into[appsv1.Deployment](t, ofKind(objs, "Deployment")[0])
	out := map[string]hook{}
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		for _, o := range ofKind(objs, kind) {
			// Mutating and validating webhooks share every field compared here.
			var cfg admissionregistrationv1.ValidatingWebhookConfiguration
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &cfg); err != nil {
				t.Fatal(err)
			}
			typ := strings.TrimSuffix(kind, "Configuration")
			for _, w := range cfg.Webhooks {
				ref := w.ClientConfig.Service
				if ref == nil {
					t.Fatalf("webhook %s has no service", w.Name)
				}
				port := int32(443)
				if ref.Port != nil {
					port = *ref.Port
				}
				h := hook{
					Type: typ, Rules: w.Rules, ServicePort: port,
					FailurePolicy:           string(*w.FailurePolicy),
					SideEffects:             string(*w.SideEffects),
					AdmissionReviewVersions: w.AdmissionReviewVersions,
				}
				if ref.Path != nil {
					h.Path = *ref.Path
				}
				if w.TimeoutSeconds != nil {
					h.TimeoutSeconds = *w.TimeoutSeconds
				}
				for _, s := range ofKind(objs, "Service") {
					if s.GetName() != ref.Name {
						continue
					}
					for _, sp := range into[corev1.Service](t, s).Spec.Ports {
						if sp.Port == port {
							h.TargetPort = containerPort(t, deploy, sp.TargetPort)
						}
					}
				}
				if h.TargetPort == 0 {
					t.Errorf("webhook %s: service %s has no port %d", w.Name, ref.Name, port)
				}
				out[w.Name] = h
			}
		}
	}
	return out
}

// containerPort resolves a Service targetPort (number or the name of a
// manager container port) to a number.
func containerPort(t *testing.T, d *appsv1.Deployment, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				return cp.ContainerPort
			}
		}
	}
	t.Errorf("no container port named %s", p.StrVal)
	return 0
}

func csvWebhooks(t *testing.T, csv *operatorsv1alpha1.ClusterServiceVersion) map[string]hook {
	t.Helper()
	out := map[string]hook{}
	for _, w := range csv.Spec.WebhookDefinitions {
		h := hook{
			Type: strings.Replace(string(w.Type), "Admission", "", 1), Rules: w.Rules, ServicePort: w.ContainerPort,
			AdmissionReviewVersions: w.AdmissionReviewVersions,
		}
		if w.FailurePolicy != nil {
			h.FailurePolicy = string(*w.FailurePolicy)
		}
		if w.SideEffects != nil {
			h.SideEffects = string(*w.SideEffects)
		}
		if w.TimeoutSeconds != nil {
			h.TimeoutSeconds = *w.TimeoutSeconds
		}
		if w.WebhookPath != nil {
			h.Path = *w.WebhookPath
		}
		if w.TargetPort != nil {
			h.TargetPort = w.TargetPort.IntVal
		}
		out[w.GenerateName] = h
	}
	return out
}

// TestWebhooksAreConfigDefaults checks each webhook definition against
// config/default's configuration of the same name: rules, path, policy,
// timeout, and the ports (Service port and the manager's listening port).
func TestWebhooksAreConfigDefaults(t *testing.T) {
	objs := configDefault(t)
	want := webhooksOf(t, objs)
	if len(want) == 0 {
		t.Fatal("config/default has no webhooks")
	}
	csv := committedCSV(t)
	got := csvWebhooks(t, csv)
	if !equality.Semantic.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("CSV webhookdefinitions\n%s\nconfig/default\n%s", g, w)
	}
	deploy := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0]
	for _, w := range csv.Spec.WebhookDefinitions {
		if w.DeploymentName != deploy.Name {
			t.Errorf("webhook %s served by deployment %q, want %s", w.GenerateName, w.DeploymentName, deploy.Name)
		}
	}
	// The manager listens where OLM's Service sends the calls.
	args := deploy.Spec.Template.Spec.Containers[0].Args
	for name, h := range got {
		if !slices.Contains(args, "--webhook-port="+strconv.Itoa(int(h.TargetPort))) {
			t.Errorf("webhook %s targets port %d; manager args %v", name, h.TargetPort, args)
		}
	}
}

// TestCRDsAndExamples checks that the bundle ships config/default's CRDs
// unchanged, owns each of them, and offers config/samples as alm-examples.
func TestCRDsAndExamples(t *testing.T) {
	objs := configDefault(t)
	csv := committedCSV(t)
	owned := map[string]operatorsv1alpha1.CRDDescription{}
	for _, d := range csv.Spec.CustomResourceDefinitions.Owned {
		owned[d.Name] = d
	}
	crds := ofKind(objs, "CustomResourceDefinition")
	if len(owned) != len(crds) {
		t.Errorf("CSV owns %d CRDs, config/default installs %d", len(owned), len(crds))
	}
	for _, c := range crds {
		crd := into[apiextensionsv1.CustomResourceDefinition](t, c)
		path := filepath.Join(root, "bundle/manifests", crd.Spec.Group+"_"+crd.Spec.Names.Plural+".yaml")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Error(err)
			continue
		}
		var shipped apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(b, &shipped); err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(shipped.Spec, crd.Spec) {
			t.Errorf("%s differs from config/default's CRD %s", path, crd.Name)
		}
		d, ok := owned[crd.Name]
		if !ok {
			t.Errorf("CSV does not own %s", crd.Name)
			continue
		}
		if d.Kind != crd.Spec.Names.Kind || d.Version != storageVersion(crd) {
			t.Errorf("CSV owns %s as %s %s, want %s %s", crd.Name, d.Kind, d.Version, crd.Spec.Names.Kind, storageVersion(crd))
		}
		checkDescriptors(t, crd, d)
	}

	samples, err := bundle.Build(root, "config/samples")
	if err != nil {
		t.Fatal(err)
	}
	var examples []map[string]any
	if err := json.Unmarshal([]byte(csv.Annotations["alm-examples"]), &examples); err != nil {
		t.Fatalf("alm-examples: %v", err)
	}
	want := make([]map[string]any, 0, len(samples))
	for _, s := range samples {
		want = append(want, s.Object)
	}
	// Through JSON, as the annotation went: YAML's integers become JSON numbers.
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	want = nil
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(examples, want) {
		t.Errorf("alm-examples are not config/samples:\n%v\n%v", examples, want)
	}
	kinds := map[string]bool{}
	for _, e := range examples {
		kinds[e["kind"].(string)] = true
	}
	for _, d := range owned {
		if !kinds[d.Kind] {
			t.Errorf("no alm-example of %s", d.Kind)
		}
	}
}

func storageVersion(crd *apiextensionsv1.CustomResourceDefinition) string {
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			return v.Name
		}
	}
	return ""
}

// checkDescriptors fails on a spec or status descriptor whose path is not a
// field of the CRD's schema: the console would show an empty value.
func checkDescriptors(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition, d operatorsv1alpha1.CRDDescription) {
	t.Helper()
	var schema *apiextensionsv1.JSONSchemaProps
	for _, v := range crd.Spec.Versions {
		if v.Name == d.Version && v.Schema != nil {
			schema = v.Schema.OpenAPIV3Schema
		}
	}
	if schema == nil {
		t.Errorf("%s: no schema for %s", crd.Name, d.Version)
		return
	}
	check := func(top, path string) {
		s, ok := schema.Properties[top]
		for seg := range strings.SplitSeq(path, ".") {
			if !ok {
				break
			}
			if s.Type == "array" && s.Items != nil && s.Items.Schema != nil {
				s = *s.Items.Schema
			}
			s, ok = s.Properties[seg]
		}
		if !ok {
			t.Errorf("%s descriptor %s.%s names no field of the schema", d.Kind, top, path)
		}
	}
	// A kind without a status (ClusterProfile) has nothing to describe there.
	_, hasStatus := schema.Properties["status"]
	if len(d.SpecDescriptors) == 0 || (hasStatus && len(d.StatusDescriptors) == 0) {
		t.Errorf("%s has %d spec and %d status descriptors; want both", d.Kind, len(d.SpecDescriptors), len(d.StatusDescriptors))
	}
	for _, sd := range d.SpecDescriptors {
		check("spec", sd.Path)
	}
	for _, sd := range d.StatusDescriptors {
		check("status", sd.Path)
	}
}

// TestCapabilityAndInstallModes pins what the CSV claims to what the code
// does: the manager's cache is cluster-wide, so AllNamespaces only.
func TestCapabilityAndInstallModes(t *testing.T) {
	csv := committedCSV(t)
	for _, m := range csv.Spec.InstallModes {
		if m.Supported != (m.Type == operatorsv1alpha1.InstallModeTypeAllNamespaces) {
			t.Errorf("install mode %s supported=%v; the operator watches all namespaces", m.Type, m.Supported)
		}
	}
	if got := csv.Annotations["capabilities"]; got != "Basic Install" && got != "Seamless Upgrades" {
		t.Errorf("capabilities %q", got)
	}
	if len(csv.Spec.Icon) != 1 || csv.Spec.Icon[0].MediaType != "image/svg+xml" || csv.Spec.Icon[0].Data == "" {
		t.Error("no SVG icon")
	}
}
