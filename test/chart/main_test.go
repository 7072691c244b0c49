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

// Package chart_test tests the Helm chart charts/maas-gateway with the Helm
// SDK: lint, render and validate (kubeconform with the CRDs' schemas, server-
// side dry-run with strict field validation for built-in kinds), install into
// the envtest API server, and no drift from what controller-gen generates.
package chart_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/releaseutil"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// kubeVersion is the envtest API server's; lint and template use it as the
// cluster's (the Helm SDK would otherwise assume v1.20, below the chart's minimum).
const kubeVersion = "v1.34.2"

var (
	// chartDir is charts/maas-gateway in the repository.
	chartDir = filepath.Join(envtest.RepoRoot(), "charts", "maas-gateway")

	// The envtest API server, started by the first test that needs it
	// (lint, render and drift tests do not).
	envOnce    sync.Once
	env        *ctrlenvtest.Environment
	envErr     error
	k8s        client.Client
	kubeconfig string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}
	if kubeconfig != "" {
		_ = os.RemoveAll(filepath.Dir(kubeconfig))
	}
	os.Exit(code)
}

// needCluster starts the envtest API server once, or fails the test.
func needCluster(t *testing.T) {
	t.Helper()
	envOnce.Do(func() { envErr = startCluster() })
	if envErr != nil {
		t.Fatalf("envtest: %v", envErr)
	}
}

func startCluster() error {
	var err error
	env, err = envtest.New(envtest.Options{})
	if err != nil {
		return err
	}
	// The chart installs the CRDs itself (from its crds/ directory): start
	// the API server without them.
	env.CRDDirectoryPaths = nil
	cfg, err := env.Start()
	if err != nil {
		env = nil
		return fmt.Errorf("starting: %w", err)
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = infrav1.AddToScheme(scheme)
	_ = apiextensionsv1.AddToScheme(scheme)
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "chart-test-")
	if err != nil {
		return err
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	return os.WriteFile(kubeconfig, env.KubeConfig, 0o600)
}

// loadChart loads charts/maas-gateway from disk.
func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	return c
}

// fullValues reads testdata/full-values.yaml: every option of the chart set.
func fullValues(t *testing.T) map[string]any {
	t.Helper()
	const name = "full-values.yaml"
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	vals, err := chartutil.ReadValues(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return vals
}

// with returns a deep copy of vals with the dotted keys set, as --set would.
func with(vals map[string]any, sets map[string]any) map[string]any {
	out := map[string]any{}
	data, _ := yaml.Marshal(vals)
	_ = yaml.Unmarshal(data, &out)
	for path, v := range sets {
		m := out
		keys := strings.Split(path, ".")
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[keys[len(keys)-1]] = v
	}
	return out
}

// rendered is what `helm template --include-crds` prints, split into objects.
type rendered struct {
	objects []*unstructured.Unstructured
	notes   string
}

// render renders the chart as `helm template` does (no cluster: lookup finds
// nothing), CRDs and hooks included.
func render(t *testing.T, namespace string, vals map[string]any) rendered {
	t.Helper()
	install := action.NewInstall(&action.Configuration{})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.IncludeCRDs = true
	install.ReleaseName = "mgw"
	install.Namespace = namespace
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	install.KubeVersion = kv
	rel, err := install.Run(loadChart(t), vals)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	var manifest bytes.Buffer
	manifest.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		fmt.Fprintf(&manifest, "\n---\n%s\n", h.Manifest)
	}
	return rendered{objects: parseObjects(t, manifest.String()), notes: rel.Info.Notes}
}

// parseObjects splits a multi-document manifest into objects.
func parseObjects(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, doc := range releaseutil.SplitManifests(manifest) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.UnmarshalStrict([]byte(doc), &u.Object); err != nil {
			t.Fatalf("parsing a rendered document: %v\n%s", err, doc)
		}
		if len(u.Object) == 0 {
			continue
		}
		objs = append(objs, u)
	}
	return objs
}

// find returns the rendered objects of a kind.
func (r rendered) find(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.objects {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// one returns the single rendered object of a kind whose name ends in suffix.
func (r rendered) one(t *testing.T, kind, suffix string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range r.find(kind) {
		if strings.HasSuffix(o.GetName(), suffix) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s named *%s, rendered %d", kind, suffix, len(found))
	}
	return found[0]
}

// into converts an unstructured object to a typed one.
func into[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		t.Fatalf("converting %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

// helmConfig returns an action configuration against the envtest API
// server, storing releases as Secrets in namespace as `helm` does.
func helmConfig(t *testing.T, namespace string) *action.Configuration {
	t.Helper()
	needCluster(t)
	conf := new(action.Configuration)
	logf := func(format string, v ...any) { t.Logf("helm: "+format, v...) }
	getter := kube.GetConfig(kubeconfig, "", namespace)
	cache := t.TempDir() // not ~/.kube/cache
	getter.CacheDir = &cache
	if err := conf.Init(getter, namespace, "secret", logf); err != nil {
		t.Fatal(err)
	}
	return conf
}

// createNamespace creates a namespace for one test, with labels.
func createNamespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	needCluster(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
}

// readRepoFile reads a file of the repository.
func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(envtest.RepoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
