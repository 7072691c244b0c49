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

package packs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	helmtime "helm.sh/helm/v3/pkg/time"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/maas-gateway/maas-gateway/internal/packs/packstest"
	projectenvtest "github.com/maas-gateway/maas-gateway/test/envtest"
)

// One kube-apiserver plays the tenant cluster for all tests; each test
// works in namespaces of its own.
var (
	tenantOnce sync.Once
	tenantEnv  *envtest.Environment
	tenantCfg  *rest.Config
	tenantErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tenantEnv != nil {
		_ = tenantEnv.Stop()
	}
	os.Exit(code)
}

func tenant(t *testing.T) *rest.Config {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a kube-apiserver")
	}
	tenantOnce.Do(func() {
		assets, err := projectenvtest.AssetsDir()
		if err != nil {
			tenantErr = err
			return
		}
		tenantEnv = &envtest.Environment{BinaryAssetsDirectory: assets}
		tenantCfg, tenantErr = tenantEnv.Start()
	})
	if tenantErr != nil {
		t.Fatalf("starting the tenant kube-apiserver: %v", tenantErr)
	}
	return tenantCfg
}

func clientset(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func configMap(t *testing.T, cfg *rest.Config, namespace, name string) map[string]string {
	t.Helper()
	cm, err := clientset(t, cfg).CoreV1().ConfigMaps(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("ConfigMap %s/%s: %v", namespace, name, err)
	}
	return cm.Data
}

func mustApply(t *testing.T, i *Installer, cfg *rest.Config, p Pack) Result {
	t.Helper()
	res, err := i.Apply(context.Background(), cfg, p)
	if err != nil {
		t.Fatalf("Apply %s/%s: %v", p.Namespace, p.Name, err)
	}
	return res
}

func mustValues(t *testing.T, base, override string) map[string]any {
	t.Helper()
	v, err := MergeValues(base, override)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// revisions counts the release Secrets Helm keeps for a release.
func revisions(t *testing.T, cfg *rest.Config, namespace, name string) int {
	t.Helper()
	l, err := clientset(t, cfg).CoreV1().Secrets(namespace).List(context.Background(),
		metav1.ListOptions{LabelSelector: "owner=helm,name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Items)
}

func listIn(t *testing.T, i *Installer, cfg *rest.Config, namespace string) []Release {
	t.Helper()
	all, err := i.List(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []Release
	for _, r := range all {
		if r.Namespace == namespace {
			out = append(out, r)
		}
	}
	return out
}

func TestApplyLifecycle(t *testing.T) {
	cfg := tenant(t)
	repo := packstest.NewRepository(t, charts+"addon", charts+"addon-0.2.0")
	inst := NewInstaller(Options{Log: logr.Discard()})
	const ns = "lifecycle"
	p := Pack{Name: "addon", Namespace: ns,
		Source: Source{Repository: repo.URL(), Chart: "addon", Version: "0.1.0"},
		Values: mustValues(t, "greeting: hi\nsettings: {colour: green}", "settings: {colour: red}")}

	res := mustApply(t, inst, cfg, p)
	if want := (Result{Revision: 1, ChartName: "addon", ChartVersion: "0.1.0", Changed: true}); res != want {
		t.Fatalf("install: %+v, want %+v", res, want)
	}
	data := configMap(t, cfg, ns, "addon")
	if data["greeting"] != "hi" || data["colour"] != "red" || data["size"] != "small" {
		t.Fatalf("values not applied: %v", data)
	}

	t.Run("re-apply is a no-op, served from the cache", func(t *testing.T) {
		res := mustApply(t, inst, cfg, p)
		if res.Changed || res.Revision != 1 {
			t.Fatalf("re-apply: %+v", res)
		}
		if got := repo.Requests("/addon-0.1.0.tgz"); got != 1 {
			t.Fatalf("archive downloaded %d times, want 1", got)
		}
		if got := revisions(t, cfg, ns, "addon"); got != 1 {
			t.Fatalf("%d revisions stored, want 1", got)
		}
	})

	t.Run("a restarted operator finds the release current", func(t *testing.T) {
		res := mustApply(t, NewInstaller(Options{}), cfg, p)
		if res.Changed || res.Revision != 1 {
			t.Fatalf("after restart: %+v", res)
		}
	})

	t.Run("values change upgrades", func(t *testing.T) {
		p.Values = mustValues(t, "greeting: hi\nsettings: {colour: green}", "settings: {colour: blue}")
		res := mustApply(t, inst, cfg, p)
		if !res.Changed || res.Revision != 2 {
			t.Fatalf("values change: %+v", res)
		}
		if got := configMap(t, cfg, ns, "addon")["colour"]; got != "blue" {
			t.Fatalf("colour = %q", got)
		}
	})

	t.Run("version change upgrades", func(t *testing.T) {
		p.Source.Version = "~0.2"
		res := mustApply(t, inst, cfg, p)
		if want := (Result{Revision: 3, ChartName: "addon", ChartVersion: "0.2.0", Changed: true}); res != want {
			t.Fatalf("version change: %+v, want %+v", res, want)
		}
		if got := configMap(t, cfg, ns, "addon")["chartVersion"]; got != "0.2.0" {
			t.Fatalf("chartVersion = %q", got)
		}
		if res := mustApply(t, inst, cfg, p); res.Changed {
			t.Fatalf("constraint re-apply changed: %+v", res)
		}
	})

	t.Run("list", func(t *testing.T) {
		got := listIn(t, inst, cfg, ns)
		want := []Release{{Name: "addon", Namespace: ns, Revision: 3, Status: "deployed", ChartName: "addon", ChartVersion: "0.2.0"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("List = %+v, want %+v", got, want)
		}
	})

	t.Run("uninstall", func(t *testing.T) {
		if err := inst.Uninstall(context.Background(), cfg, "addon", ns); err != nil {
			t.Fatal(err)
		}
		_, err := clientset(t, cfg).CoreV1().ConfigMaps(ns).Get(context.Background(), "addon", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("ConfigMap after uninstall: %v", err)
		}
		if got := listIn(t, inst, cfg, ns); len(got) != 0 {
			t.Fatalf("List after uninstall: %+v", got)
		}
		if got := revisions(t, cfg, ns, "addon"); got != 0 {
			t.Fatalf("%d release Secrets left", got)
		}
		if err := inst.Uninstall(context.Background(), cfg, "addon", ns); err != nil {
			t.Fatalf("uninstalling an absent release: %v", err)
		}
	})
}

// Reconciles of one pack may overlap (two controllers, a requeue): they
// are serialised and the second finds the release current.
func TestConcurrentAppliesOfOneRelease(t *testing.T) {
	cfg := tenant(t)
	repo := packstest.NewRepository(t, charts+"addon")
	inst := NewInstaller(Options{})
	p := Pack{Name: "addon", Namespace: "concurrent", Source: Source{Repository: repo.URL(), Chart: "addon", Version: "0.1.0"}}
	var wg sync.WaitGroup
	results := make([]Result, 4)
	errs := make([]error, 4)
	for n := range results {
		wg.Go(func() { results[n], errs[n] = inst.Apply(context.Background(), cfg, p) })
	}
	wg.Wait()
	changed := 0
	for n := range results {
		if errs[n] != nil {
			t.Fatalf("apply %d: %v", n, errs[n])
		}
		if results[n].Changed {
			changed++
		}
	}
	if changed != 1 || revisions(t, cfg, "concurrent", "addon") != 1 {
		t.Fatalf("%d applies changed the release, %d revisions; want 1 and 1", changed, revisions(t, cfg, "concurrent", "addon"))
	}
}

func TestApplyCNI(t *testing.T) {
	cfg := tenant(t)
	repo := packstest.NewRepository(t, charts+"cni")
	inst := NewInstaller(Options{})
	const ns = "cni-system" // absent: Apply creates it
	res := mustApply(t, inst, cfg, Pack{Name: "cni", Namespace: ns,
		Source: Source{Repository: repo.URL(), Chart: "cni", Version: "1.0.0"},
		Values: mustValues(t, "image: registry.example/cni:1.0.1", "label: tenant-cni")})
	if !res.Changed || res.Revision != 1 {
		t.Fatalf("%+v", res)
	}
	ds, err := clientset(t, cfg).AppsV1().DaemonSets(ns).Get(context.Background(), "cni", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := ds.Spec.Template
	if got := pod.Spec.Containers[0].Image; got != "registry.example/cni:1.0.1" {
		t.Errorf("image %q", got)
	}
	if got := pod.Labels["app.kubernetes.io/name"]; got != "tenant-cni" {
		t.Errorf("label %q", got)
	}
	if v := pod.Spec.Volumes; len(v) != 1 || v[0].HostPath == nil || v[0].HostPath.Path != "/etc/cni/net.d" {
		t.Errorf("volumes %+v, want hostPath /etc/cni/net.d", v)
	}
	secrets, err := clientset(t, cfg).CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: LabelManaged + "=true"})
	if err != nil || len(secrets.Items) != 1 || secrets.Items[0].Type != "helm.sh/release.v1" {
		t.Fatalf("release Secret in the release namespace: %v %+v", err, secrets)
	}
}

// installForeign installs a release the way a user's helm would: without
// the packs label.
func installForeign(t *testing.T, cfg *rest.Config, namespace, name string) {
	t.Helper()
	getter, err := newRESTGetter(cfg, namespace)
	if err != nil {
		t.Fatal(err)
	}
	ac := &action.Configuration{}
	if err := ac.Init(getter, namespace, "secret", func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	ch, err := loader.LoadDir(charts + "addon")
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(ac)
	in.ReleaseName, in.Namespace, in.CreateNamespace = name, namespace, true
	if _, err := in.Run(ch, map[string]any{"greeting": "mine"}); err != nil {
		t.Fatal(err)
	}
}

func TestUserReleasesAreNeverTouched(t *testing.T) {
	cfg := tenant(t)
	repo := packstest.NewRepository(t, charts+"addon")
	inst := NewInstaller(Options{})
	const ns = "user"
	installForeign(t, cfg, ns, "mine")

	_, err := inst.Apply(context.Background(), cfg, Pack{Name: "mine", Namespace: ns,
		Source: Source{Repository: repo.URL(), Chart: "addon", Version: "0.1.0"},
		Values: map[string]any{"greeting": "ours"}})
	if !errors.Is(err, ErrNotManaged) || !strings.Contains(err.Error(), "user/mine") {
		t.Fatalf("Apply over a user release: %v, want ErrNotManaged naming user/mine", err)
	}
	if err := inst.Uninstall(context.Background(), cfg, "mine", ns); !errors.Is(err, ErrNotManaged) {
		t.Fatalf("Uninstall of a user release: %v, want ErrNotManaged", err)
	}
	if got := configMap(t, cfg, ns, "mine")["greeting"]; got != "mine" {
		t.Fatalf("user release changed: greeting %q", got)
	}
	if got := revisions(t, cfg, ns, "mine"); got != 1 {
		t.Fatalf("user release has %d revisions", got)
	}
	if got := listIn(t, inst, cfg, ns); len(got) != 0 {
		t.Fatalf("List shows user releases: %+v", got)
	}
	// A pack of another name lives beside it.
	mustApply(t, inst, cfg, Pack{Name: "ours", Namespace: ns, Source: Source{Repository: repo.URL(), Chart: "addon", Version: "0.1.0"}})
	if got := listIn(t, inst, cfg, ns); len(got) != 1 || got[0].Name != "ours" {
		t.Fatalf("List = %+v, want only ours", got)
	}
}

func TestBrokenChartReportsHelmAndRecovers(t *testing.T) {
	cfg := tenant(t)
	repo := packstest.NewRepository(t, charts+"broken", charts+"broken-fixed")
	inst := NewInstaller(Options{})
	const ns = "broken"
	p := Pack{Name: "broken", Namespace: ns, Source: Source{Repository: repo.URL(), Chart: "broken", Version: "0.1.0"}}
	_, err := inst.Apply(context.Background(), cfg, p)
	if !errors.Is(err, ErrRelease) || !strings.Contains(err.Error(), "the broken chart refuses to render") {
		t.Fatalf("broken chart: %v, want ErrRelease with Helm's message", err)
	}
	p.Source.Version = "0.2.0"
	if res := mustApply(t, inst, cfg, p); !res.Changed || res.ChartVersion != "0.2.0" {
		t.Fatalf("fixed chart: %+v", res)
	}
	if got := configMap(t, cfg, ns, "broken")["value"]; got != "fixed" {
		t.Fatalf("value %q", got)
	}
}

// The API server refuses an object: the revision is stored as failed, and
// the next Apply upgrades from it even with the same pack.
func TestFailedReleaseIsRetriedAndRecovers(t *testing.T) {
	cfg := tenant(t)
	inst := NewInstaller(Options{})
	const ns = "failing"
	bad := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: 70000\n"
	p := Pack{Name: "failing", Namespace: ns, Source: Source{Manifests: bad}}
	if _, err := inst.Apply(context.Background(), cfg, p); !errors.Is(err, ErrRelease) || !strings.Contains(err.Error(), "70000") {
		t.Fatalf("invalid object: %v, want ErrRelease naming it", err)
	}
	if got := listIn(t, inst, cfg, ns); len(got) != 1 || got[0].Status != "failed" {
		t.Fatalf("List = %+v, want one failed release", got)
	}
	if _, err := inst.Apply(context.Background(), cfg, p); !errors.Is(err, ErrRelease) {
		t.Fatalf("same pack again: %v, want another attempt failing", err)
	}
	p.Source.Manifests = strings.Replace(bad, "70000", "7000", 1)
	res := mustApply(t, inst, cfg, p)
	if !res.Changed || res.Revision != 3 {
		t.Fatalf("fixed manifests: %+v, want revision 3", res)
	}
	if got := listIn(t, inst, cfg, ns); len(got) != 1 || got[0].Status != "deployed" {
		t.Fatalf("List = %+v, want deployed", got)
	}
}

func TestManifestsAreInstalledVerbatim(t *testing.T) {
	cfg := tenant(t)
	inst := NewInstaller(Options{})
	const ns = "verbatim"
	manifests := `apiVersion: v1
kind: ConfigMap
metadata:
  name: templated-looking
data:
  template: "{{ .Values.secret }} and {{ fail \"never\" }}"
  braces: "{{"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: second
data:
  count: "2"
`
	res := mustApply(t, inst, cfg, Pack{Name: "plain", Namespace: ns, Source: Source{Manifests: manifests}})
	if res.ChartName != manifestsChartName || !res.Changed {
		t.Fatalf("%+v", res)
	}
	data := configMap(t, cfg, ns, "templated-looking")
	if data["template"] != `{{ .Values.secret }} and {{ fail "never" }}` || data["braces"] != "{{" {
		t.Fatalf("manifests were templated: %q", data)
	}
	if got := configMap(t, cfg, ns, "second")["count"]; got != "2" {
		t.Fatalf("second document: %q", got)
	}
	if res := mustApply(t, inst, cfg, Pack{Name: "plain", Namespace: ns, Source: Source{Manifests: manifests}}); res.Changed {
		t.Fatalf("re-apply changed: %+v", res)
	}
}

func TestStalePendingReleaseIsRecovered(t *testing.T) {
	cfg := tenant(t)
	repo := packstest.NewRepository(t, charts+"addon")
	inst := NewInstaller(Options{Timeout: 30 * time.Second}) // stale after a minute
	const ns = "pending"
	p := Pack{Name: "addon", Namespace: ns, Source: Source{Repository: repo.URL(), Chart: "addon", Version: "0.1.0"}}
	mustApply(t, inst, cfg, p)

	ac, err := inst.actionConfig(cfg, ns, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	setLast := func(status release.Status, at time.Time) {
		t.Helper()
		last, err := ac.Releases.Last("addon")
		if err != nil {
			t.Fatal(err)
		}
		last.Info.Status = status
		last.Info.LastDeployed = helmtime.Time{Time: at}
		if err := ac.Releases.Update(last); err != nil {
			t.Fatal(err)
		}
	}

	setLast(release.StatusPendingUpgrade, time.Now())
	p.Values = map[string]any{"greeting": "again"}
	if _, err := inst.Apply(context.Background(), cfg, p); !errors.Is(err, ErrBusy) {
		t.Fatalf("fresh pending release: %v, want ErrBusy", err)
	}

	setLast(release.StatusPendingUpgrade, time.Now().Add(-time.Hour))
	res := mustApply(t, inst, cfg, p)
	if !res.Changed || res.Revision != 2 {
		t.Fatalf("after a stale pending revision: %+v", res)
	}
	first, err := ac.Releases.Get("addon", 1)
	if err != nil {
		t.Fatal(err)
	}
	// Marked failed, then superseded by the upgrade; the description stays.
	if first.Info.Status != release.StatusSuperseded || !strings.Contains(first.Info.Description, "interrupted") {
		t.Fatalf("stale revision: %s %q, want superseded and explained", first.Info.Status, first.Info.Description)
	}
	if got := configMap(t, cfg, ns, "addon")["greeting"]; got != "again" {
		t.Fatalf("greeting %q", got)
	}

	// An interrupted first install is recovered the same way.
	p2 := Pack{Name: "first", Namespace: ns, Source: p.Source}
	mustApply(t, inst, cfg, p2)
	last, _ := ac.Releases.Last("first")
	last.Info.Status = release.StatusPendingInstall
	last.Info.LastDeployed = helmtime.Time{Time: time.Now().Add(-time.Hour)}
	last.Labels[LabelDigest] = "interrupted"
	if err := ac.Releases.Update(last); err != nil {
		t.Fatal(err)
	}
	if res := mustApply(t, inst, cfg, p2); !res.Changed || res.Revision != 2 {
		t.Fatalf("after a stale pending install: %+v", res)
	}
}

func TestApplyWithCredentials(t *testing.T) {
	cfg := tenant(t)
	const user, password = "tenant-packs", "Very-s3cret"
	repo := packstest.NewTLSRepository(t, charts+"addon")
	repo.SetBasicAuth(user, password)
	inst := NewInstaller(Options{})
	p := Pack{Name: "private", Namespace: "private",
		Source: Source{Repository: repo.URL(), Chart: "addon", Version: "0.1.0",
			Auth: &Auth{Username: user, Password: password, CA: repo.CA()}}}
	mustApply(t, inst, cfg, p)

	p.Name = "denied"
	p.Source.Auth = &Auth{Username: user, Password: "not-" + password, CA: repo.CA()}
	_, err := inst.Apply(context.Background(), cfg, p)
	if !errors.Is(err, ErrFetch) || strings.Contains(err.Error(), password) {
		t.Fatalf("bad credentials: %v, want ErrFetch without the password", err)
	}
	_, err = clientset(t, cfg).CoreV1().ConfigMaps("private").Get(context.Background(), "denied", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("denied pack installed something: %v", err)
	}
}

// isolateHome points every home and cache directory Helm, kubectl or
// client-go could write to at an empty directory, and fails the test if
// anything appears there: the manager's filesystem is read-only.
func isolateHome(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	for _, v := range []string{"HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "KUBECACHEDIR",
		"HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "KUBECONFIG", "DOCKER_CONFIG"} {
		t.Setenv(v, home+"/"+strings.ToLower(v))
	}
	t.Cleanup(func() {
		entries, err := os.ReadDir(home)
		if err != nil || len(entries) != 0 {
			t.Errorf("files were written under the home directory: %v %v", entries, err)
		}
	})
}

func TestNothingIsWrittenToDisk(t *testing.T) {
	cfg := tenant(t)
	repo := packstest.NewRepository(t, charts+"addon")
	isolateHome(t)
	inst := NewInstaller(Options{})
	const ns = "diskless"
	mustApply(t, inst, cfg, Pack{Name: "addon", Namespace: ns, Source: Source{Repository: repo.URL(), Chart: "addon", Version: "0.1.0"}})
	mustApply(t, inst, cfg, Pack{Name: "plain", Namespace: ns, Source: Source{Manifests: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n"}})
	if got := listIn(t, inst, cfg, ns); len(got) != 2 {
		t.Fatalf("List = %+v", got)
	}
	if err := inst.Uninstall(context.Background(), cfg, "addon", ns); err != nil {
		t.Fatal(err)
	}
}

// A repository that never answers must not hold a reconcile: Apply ends
// with Options.Timeout.
func TestApplyIsBoundedByTimeout(t *testing.T) {
	cfg := tenant(t)
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		<-req.Context().Done()
	}))
	t.Cleanup(stuck.Close)
	inst := NewInstaller(Options{Timeout: 2 * time.Second})
	start := time.Now()
	_, err := inst.Apply(context.Background(), cfg, Pack{Name: "stuck", Namespace: "stuck",
		Source: Source{Repository: stuck.URL, Chart: "addon", Version: "0.1.0"}})
	if !errors.Is(err, ErrFetch) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stuck repository: %v, want ErrFetch after the deadline", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("Apply took %s with a 2s timeout", took)
	}
}
