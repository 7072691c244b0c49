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

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/yannh/kubeconform/pkg/resource"
	"github.com/yannh/kubeconform/pkg/validator"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/catalog"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// crdGroups are validated by kubeconform with schemas made from their CRDs;
// every other kind is built in and validated by the API server.
var crdGroups = []string{infrav1.GroupVersion.Group, "cert-manager.io", "monitoring.coreos.com"}

// renderCases are the values the chart is rendered and validated with.
func renderCases(t *testing.T) map[string]map[string]any {
	full := fullValues(t)
	return map[string]map[string]any{
		"default": nil,
		"full":    full,
		"full-cert-manager": with(full, map[string]any{
			"webhook.certManager.enabled":   true,
			"webhook.certManager.issuerRef": map[string]any{"name": "corporate-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
		}),
		"webhooks-off": with(nil, map[string]any{"webhook.enabled": false, "metrics.enabled": false}),
	}
}

// TestRenderedManifestsAreValid renders the chart like helm template and
// validates every object strictly: custom kinds with kubeconform against
// their CRDs' schemas, built-in kinds with a server-side dry-run create with
// strict field validation. Every object must be checked by one of the two.
func TestRenderedManifestsAreValid(t *testing.T) {
	conform := kubeconform(t)
	for name, vals := range renderCases(t) {
		t.Run(name, func(t *testing.T) {
			ns := "render-" + name
			createNamespace(t, ns, restricted)
			r := render(t, ns, vals)
			if len(r.objects) < 10 {
				t.Fatalf("rendered only %d objects", len(r.objects))
			}
			for _, o := range r.objects {
				id := fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
				if slices.Contains(crdGroups, o.GroupVersionKind().Group) {
					if err := conform(o); err != nil {
						t.Errorf("%s: %v", id, err)
					}
					continue
				}
				if err := dryRun(o); err != nil {
					t.Errorf("%s: %v", id, err)
				}
			}
		})
	}
}

// TestValidationCatchesMistakes shows both validators refuse what they should,
// so TestRenderedManifestsAreValid cannot pass by checking nothing.
func TestValidationCatchesMistakes(t *testing.T) {
	conform := kubeconform(t)
	createNamespace(t, "render-mistakes", restricted)
	r := render(t, "render-mistakes", fullValues(t))

	gw := r.one(t, "Gateway", "gateway").DeepCopy()
	_ = unstructured.SetNestedField(gw.Object, int64(3), "spec", "replica")
	if err := conform(gw); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Errorf("kubeconform accepted a Gateway with spec.replica: %v", err)
	}
	cert := r.one(t, "Secret", "-webhook-cert").DeepCopy()
	_ = unstructured.SetNestedField(cert.Object, "x", "spec", "oops")
	if err := dryRun(cert); err == nil {
		t.Error("the API server accepted a Secret with an unknown field")
	}
	dep := into[appsv1.Deployment](t, r.one(t, "Deployment", ""))
	pod := podOf(dep)
	pod.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = new(true)
	if err := k8s.Create(context.Background(), pod, client.DryRunAll); err == nil {
		t.Error("the restricted namespace admitted a Pod allowing privilege escalation")
	}
}

// restricted labels a namespace so Pod Security admission enforces the
// restricted standard.
var restricted = map[string]string{
	"pod-security.kubernetes.io/enforce":         "restricted",
	"pod-security.kubernetes.io/enforce-version": "latest",
}

// dryRun creates obj on the envtest API server without persisting it,
// refusing unknown and duplicate fields.
// An object that exists already (the CRDs, once a test installed the chart)
// is validated as a dry-run update instead.
func dryRun(obj *unstructured.Unstructured) error {
	ctx := context.Background()
	err := k8s.Create(ctx, obj.DeepCopy(), client.DryRunAll, client.FieldValidation("Strict"))
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(obj.GroupVersionKind())
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
		return err
	}
	update := obj.DeepCopy()
	update.SetResourceVersion(live.GetResourceVersion())
	return k8s.Update(ctx, update, client.DryRunAll, client.FieldValidation("Strict"))
}

var (
	schemasOnce sync.Once
	schemasDir  string
	schemasErr  error
)

// kubeconform returns a strict kubeconform validator for the CRD kinds, with
// JSON schemas made from the project's CRDs, cert-manager's (from its module)
// and the ServiceMonitor's (testdata).
func kubeconform(t *testing.T) func(*unstructured.Unstructured) error {
	t.Helper()
	schemasOnce.Do(func() { schemasDir, schemasErr = writeSchemas() })
	if schemasErr != nil {
		t.Fatalf("making JSON schemas from CRDs: %v", schemasErr)
	}
	v, err := validator.New([]string{schemasDir + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"},
		validator.Opts{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	return func(o *unstructured.Unstructured) error {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		res := v.ValidateResource(resource.Resource{Path: o.GetName(), Bytes: data})
		switch res.Status {
		case validator.Valid:
			return nil
		case validator.Invalid:
			var msgs []string
			for _, e := range res.ValidationErrors {
				msgs = append(msgs, e.Path+": "+e.Msg)
			}
			return fmt.Errorf("kubeconform: %s", strings.Join(msgs, "; "))
		default:
			return fmt.Errorf("kubeconform: status %d: %v", res.Status, res.Err)
		}
	}
}

func writeSchemas() (string, error) {
	dir, err := os.MkdirTemp("", "chart-schemas-")
	if err != nil {
		return "", err
	}
	certManager, err := certManagerCRDDir()
	if err != nil {
		return "", err
	}
	var files []string
	for _, pattern := range []string{
		filepath.Join(envtest.RepoRoot(), "config", "crd", "bases", "*.yaml"),
		filepath.Join(certManager, "*.yaml"),
		filepath.Join("testdata", "servicemonitor-crd.yaml"),
	} {
		m, err := filepath.Glob(pattern)
		if err != nil || len(m) == 0 {
			return "", fmt.Errorf("no CRDs match %s (%v)", pattern, err)
		}
		files = append(files, m...)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			return "", fmt.Errorf("%s: %w", f, err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			raw, err := json.Marshal(v.Schema.OpenAPIV3Schema)
			if err != nil {
				return "", err
			}
			var schema map[string]any
			if err := json.Unmarshal(raw, &schema); err != nil {
				return "", err
			}
			strictSchema(schema)
			raw, err = json.MarshalIndent(schema, "", "  ")
			if err != nil {
				return "", err
			}
			path := filepath.Join(dir, crd.Spec.Group, strings.ToLower(crd.Spec.Names.Kind)+"_"+v.Name+".json")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return "", err
			}
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				return "", err
			}
		}
	}
	return dir, nil
}

// certManagerCRDDir is deploy/crds of the cert-manager module go.mod pins.
// Nothing imports that module's packages into this test binary, so a build
// fetches only its go.mod: `go mod download` fetches the files themselves
// (at the version go.mod pins, checked against go.sum) and says where they
// are, on a machine whose module cache starts empty.
func certManagerCRDDir() (string, error) {
	return moduleDir("github.com/cert-manager/cert-manager", filepath.Join("deploy", "crds"))
}

// moduleDir downloads module mod at the version the main module requires and
// returns its subdirectory sub, which must exist.
func moduleDir(mod, sub string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("downloading module %s: %w: %s", mod, err, strings.TrimSpace(stderr.String()))
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("reading `go mod download -json %s`: %w", mod, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("module %s not downloaded: %q", mod, info.Error)
	}
	dir := filepath.Join(info.Dir, sub)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("module %s has no directory %s: %v", mod, sub, err)
	}
	return dir, nil
}

// strictSchema turns a CRD's structural schema into a JSON schema that, like
// the API server, refuses fields it does not declare: objects with
// properties and no x-kubernetes-preserve-unknown-fields get
// additionalProperties false; int-or-string becomes either.
func strictSchema(s map[string]any) {
	if s["x-kubernetes-int-or-string"] == true {
		delete(s, "type")
		s["anyOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for _, p := range props {
			if ps, ok := p.(map[string]any); ok {
				strictSchema(ps)
			}
		}
		if _, set := s["additionalProperties"]; !set && s["x-kubernetes-preserve-unknown-fields"] != true {
			s["additionalProperties"] = false
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		strictSchema(items)
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		strictSchema(ap)
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := s[key].([]any); ok {
			for _, sub := range list {
				if ss, ok := sub.(map[string]any); ok {
					strictSchema(ss)
				}
			}
		}
	}
}

// podOf is the Pod a Deployment would create, in its namespace.
func podOf(dep *appsv1.Deployment) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: dep.Name + "-pod", Namespace: dep.Namespace, Labels: dep.Spec.Template.Labels},
		Spec:       *dep.Spec.Template.Spec.DeepCopy(),
	}
}

// TestRestrictedPodSecurity: every Pod the chart runs (the manager's and
// the helm test's) sets the restricted Pod Security fields itself, and the
// API server's Pod Security admission, enforcing restricted, admits it.
func TestRestrictedPodSecurity(t *testing.T) {
	for name, vals := range renderCases(t) {
		t.Run(name, func(t *testing.T) {
			ns := "pss-" + name
			createNamespace(t, ns, restricted)
			r := render(t, ns, vals)
			var pods []*corev1.Pod
			for _, d := range r.find("Deployment") {
				pods = append(pods, podOf(into[appsv1.Deployment](t, d)))
			}
			for _, p := range r.find("Pod") {
				pods = append(pods, into[corev1.Pod](t, p))
			}
			wantPods := 2
			if vals != nil && with(vals, nil)["webhook"].(map[string]any)["enabled"] == false {
				wantPods = 1 // no helm test Pod without webhooks
			}
			if len(pods) != wantPods {
				t.Fatalf("rendered %d pods, want %d", len(pods), wantPods)
			}
			for _, pod := range pods {
				checkRestricted(t, pod)
				if err := k8s.Create(context.Background(), pod, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
					t.Errorf("pod %s is not admitted under the restricted standard: %v", pod.Name, err)
				}
			}
		})
	}
}

func checkRestricted(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod %s: securityContext.runAsNonRoot is not true", pod.Name)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod %s: securityContext.seccompProfile is not RuntimeDefault", pod.Name)
	}
	all := append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...)
	for _, c := range all {
		id := pod.Name + "/" + c.Name
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s: no securityContext", id)
			continue
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
			t.Errorf("%s: runAsNonRoot is not true", id)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s: readOnlyRootFilesystem is not true", id)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s: allowPrivilegeEscalation is not false", id)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
			t.Errorf("%s: capabilities do not drop exactly ALL", id)
		case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
			t.Errorf("%s: seccompProfile is not RuntimeDefault", id)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("%s: privileged", id)
		}
		if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
			t.Errorf("%s: resources are not set: %v", id, c.Resources)
		}
	}
}

// TestManagerDeployment checks what the manager is started with: probes,
// leader election, metrics, webhooks, the release catalog it reads.
func TestManagerDeployment(t *testing.T) {
	for name, vals := range renderCases(t) {
		t.Run(name, func(t *testing.T) {
			v := with(vals, nil)
			webhooks := v["webhook"] == nil || v["webhook"].(map[string]any)["enabled"] != false
			r := render(t, "maas-system", vals)
			dep := into[appsv1.Deployment](t, r.one(t, "Deployment", ""))
			c := dep.Spec.Template.Spec.Containers[0]
			args := strings.Join(c.Args, " ")
			cm := r.one(t, "ConfigMap", "-releases")
			for _, want := range []string{"--leader-elect", "--health-probe-bind-address=:8081",
				"--release-catalog=maas-system/" + cm.GetName(), "--maas-rate-limit=10", "--maas-rate-burst=20",
				"--maas-gateway-share=0.2", "--tenantcluster-concurrency=10"} {
				if !slices.Contains(c.Args, want) {
					t.Errorf("manager args %q lack %s", args, want)
				}
			}
			if got := fmt.Sprint(webhooks); !slices.Contains(c.Args, "--webhook-cert-path=/tmp/k8s-webhook-server/serving-certs") != !webhooks ||
				c.Env[0].Name != "ENABLE_WEBHOOKS" || c.Env[0].Value != got {
				t.Errorf("webhooks %v but args %q, env %v", webhooks, args, c.Env)
			}
			if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Port.IntValue() != 8081 ||
				c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port.IntValue() != 8081 {
				t.Errorf("probes: liveness %v, readiness %v", c.LivenessProbe.HTTPGet, c.ReadinessProbe.HTTPGet)
			}
			if strings.HasPrefix(name, "full") {
				if *dep.Spec.Replicas != 3 || len(r.find("PodDisruptionBudget")) != 1 {
					t.Errorf("replicas %d with %d PDBs, want 3 with 1", *dep.Spec.Replicas, len(r.find("PodDisruptionBudget")))
				}
				if c.Image != "registry.example.com/maas-gateway/manager:v0.1.0-rc1" {
					t.Errorf("image %s", c.Image)
				}
			} else if len(r.find("PodDisruptionBudget")) != 0 {
				t.Error("a PodDisruptionBudget with one replica would block the operator's own drains")
			}

			// The catalog parses as internal/catalog reads it, with the values' releases.
			data, _, _ := unstructured.NestedString(cm.Object, "data", catalog.DataKey)
			cat, err := catalog.Parse([]byte(data))
			if err != nil {
				t.Fatalf("the release catalog does not parse: %v\n%s", err, data)
			}
			want := 1
			if strings.HasPrefix(name, "full") {
				want = 2
			}
			if got := len(cat.Releases()); got != want {
				t.Errorf("catalog has %d releases, want %d", got, want)
			}
		})
	}
}

// TestGatewayFromValues: the Gateway and CloudAccount carry the values of
// the reference's pcg.yaml (MAAS endpoint and key, placement, proxies, CIDRs,
// node count), and the API key only ever sits in a Secret.
func TestGatewayFromValues(t *testing.T) {
	vals := fullValues(t)
	r := render(t, "maas-system", vals)
	gw := into[infrav1.Gateway](t, r.one(t, "Gateway", "gateway"))
	s := gw.Spec
	if s.Replicas != 3 || s.MAAS.Endpoint != "http://10.11.12.13:5240/MAAS" ||
		s.Placement.Zone != "az1" || s.Placement.Domain != "maas.example.com" || s.Placement.ResourcePool != "gateway" ||
		s.Placement.MinCPU != 4 || s.Placement.MinMemoryMiB != 8192 || !slices.Equal(s.Placement.Tags, []string{"gateway", "ssd"}) ||
		s.Environment.HTTPProxy != "http://proxy.example.com:3128" || s.Environment.HTTPSProxy != "http://proxy.example.com:3128" ||
		!slices.Equal(s.Environment.NoProxy, []string{"maas.example.com", "10.11.0.0/16"}) ||
		s.Environment.PodCIDR != "192.168.0.0/16" || s.Environment.ServiceCIDR != "10.96.0.0/12" ||
		s.ControlPlaneEndpoint != "10.11.12.100" || s.VIPInterface != "eno1" || s.Release == nil || s.Release.Version != "0.1.0" ||
		!slices.Equal(s.AdoptMachines, []string{"abc123"}) {
		t.Errorf("Gateway spec does not carry the values: %+v", s)
	}
	secret := into[corev1.Secret](t, r.one(t, "Secret", s.MAAS.CredentialsSecretRef.Name))
	if string(secret.Data[s.MAAS.CredentialsSecretRef.Key]) != vals["maas"].(map[string]any)["apiKey"] {
		t.Error("the Gateway's credentials Secret does not hold maas.apiKey")
	}
	ca := into[infrav1.CloudAccount](t, r.one(t, "CloudAccount", "second-maas"))
	if ca.Spec.GatewayRef.Name != "gateway" || ca.Spec.Endpoint != "https://maas2.example.com:5443/MAAS" || !strings.Contains(ca.Spec.CABundle, "BEGIN CERTIFICATE") {
		t.Errorf("CloudAccount spec: %+v", ca.Spec)
	}
	caSecret := into[corev1.Secret](t, r.one(t, "Secret", ca.Spec.CredentialsSecretRef.Name))
	if string(caSecret.Data["apiKey"]) != "ckeyabcdef:tkeyabcdef:tsecretabcdef" {
		t.Error("the CloudAccount's Secret does not hold cloudAccount.apiKey")
	}
	for _, o := range []*unstructured.Unstructured{r.one(t, "Gateway", "gateway"), r.one(t, "CloudAccount", "second-maas")} {
		raw, _ := json.Marshal(o.Object)
		if strings.Contains(string(raw), "tsecret") {
			t.Errorf("%s %s carries the API key", o.GetKind(), o.GetName())
		}
		if o.GetAnnotations()["helm.sh/hook-delete-policy"] != "hook-failed" {
			t.Errorf("%s: Helm's default hook policy would delete and recreate it", o.GetKind())
		}
	}

	// An existing Secret is referred to, not created; no key, no Gateway.
	r = render(t, "maas-system", with(vals, map[string]any{"maas.apiKey": "", "maas.existingSecret": "mine", "cloudAccount.create": false}))
	if gw := into[infrav1.Gateway](t, r.one(t, "Gateway", "gateway")); gw.Spec.MAAS.CredentialsSecretRef.Name != "mine" {
		t.Errorf("existingSecret not used: %+v", gw.Spec.MAAS.CredentialsSecretRef)
	}
	if n := len(r.find("Secret")); n != 1 { // the webhook certificate only
		t.Errorf("%d Secrets rendered with an existing MAAS Secret, want only the webhook's", n)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.ReleaseName, install.Namespace = true, true, "mgw", "maas-system"
	install.KubeVersion, _ = chartutil.ParseKubeVersion(kubeVersion)
	_, err := install.Run(loadChart(t), with(nil, map[string]any{"gateway.create": true, "maas.endpoint": "http://maas:5240/MAAS"}))
	if err == nil || !strings.Contains(err.Error(), "maas.apiKey or maas.existingSecret is required") {
		t.Errorf("a Gateway without an API key rendered: %v", err)
	}
}
