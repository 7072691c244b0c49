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

package bundle

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// renderChart renders charts/maas-gateway with its default values, as
// `helm template` would (no cluster).
func renderChart(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	c, err := loader.Load(filepath.Join(root, "charts/maas-gateway"))
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = "mgw"
	install.Namespace = "maas-system"
	kv, err := chartutil.ParseKubeVersion("v1.34.2")
	if err != nil {
		t.Fatal(err)
	}
	install.KubeVersion = kv
	rel, err := install.Run(c, map[string]any{})
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	var objs []*unstructured.Unstructured
	for _, doc := range releaseutil.SplitManifests(rel.Manifest) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	return objs
}

// imageUser is the UID:GID of the Dockerfile's USER: what a container of the
// manager image runs as when its security context does not say.
func imageUser(t *testing.T) (uid, gid int64) {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if u, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "USER "); ok {
			a, b, _ := strings.Cut(u, ":")
			uid, err1 := strconv.ParseInt(a, 10, 64)
			gid, err2 := strconv.ParseInt(b, 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("Dockerfile USER %q: want numeric UID:GID", u)
			}
			return uid, gid
		}
	}
	t.Fatal("the Dockerfile sets no USER")
	return 0, 0
}

// effective is the security context the manager container runs with: its
// own settings over the pod's, and the image's user where neither says.
func effective(t *testing.T, pod corev1.PodSpec) corev1.SecurityContext {
	t.Helper()
	i := slices.IndexFunc(pod.Containers, func(c corev1.Container) bool { return c.Name == "manager" })
	if i < 0 {
		t.Fatal("no manager container")
	}
	sc := corev1.SecurityContext{}
	if c := pod.Containers[i].SecurityContext; c != nil {
		sc = *c.DeepCopy()
	}
	if p := pod.SecurityContext; p != nil {
		if sc.RunAsNonRoot == nil {
			sc.RunAsNonRoot = p.RunAsNonRoot
		}
		if sc.RunAsUser == nil {
			sc.RunAsUser = p.RunAsUser
		}
		if sc.RunAsGroup == nil {
			sc.RunAsGroup = p.RunAsGroup
		}
		if sc.SeccompProfile == nil {
			sc.SeccompProfile = p.SeccompProfile
		}
		if sc.SELinuxOptions == nil {
			sc.SELinuxOptions = p.SELinuxOptions
		}
		if sc.AppArmorProfile == nil {
			sc.AppArmorProfile = p.AppArmorProfile
		}
	}
	uid, gid := imageUser(t)
	if sc.RunAsUser == nil {
		sc.RunAsUser = new(uid)
	}
	if sc.RunAsGroup == nil {
		sc.RunAsGroup = new(gid)
	}
	return sc
}

// TestBundleInstallsWhatTheChartInstalls checks that OLM and Helm users get
// the same operator: the manager runs with the same effective security
// context, its account holds the same RBAC rules, and the same webhooks are
// served on the same ports and paths.
func TestBundleInstallsWhatTheChartInstalls(t *testing.T) {
	if _, err := os.Stat(filepath.Join(root, "charts/maas-gateway/Chart.yaml")); err != nil {
		t.Fatalf("no chart: %v", err)
	}
	chart := renderChart(t)
	csv := committedCSV(t)

	deploys := ofKind(chart, "Deployment")
	if len(deploys) != 1 {
		t.Fatalf("the chart renders %d deployments, want 1", len(deploys))
	}
	chartDeploy := into[appsv1.Deployment](t, deploys[0])
	csvDeploy := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0]

	t.Run("image", func(t *testing.T) {
		got := csvDeploy.Spec.Template.Spec.Containers[0].Image
		want := chartDeploy.Spec.Template.Spec.Containers[0].Image
		if got != want {
			t.Errorf("the CSV runs %s, the chart %s", got, want)
		}
	})

	t.Run("security context", func(t *testing.T) {
		got := effective(t, csvDeploy.Spec.Template.Spec)
		want := effective(t, chartDeploy.Spec.Template.Spec)
		if !equality.Semantic.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Errorf("manager security context\nCSV:   %s\nchart: %s", g, w)
		}
		if !ptr.Deref(got.RunAsNonRoot, false) || ptr.Deref(got.RunAsUser, 0) == 0 {
			t.Errorf("manager may run as root: %+v", got)
		}
	})

	t.Run("rbac", func(t *testing.T) {
		wantCluster, wantNS := boundRules(t, chart, chartDeploy.Spec.Template.Spec.ServiceAccountName)
		gotCluster, gotNS, _ := csvRules(csv)
		if len(wantCluster) == 0 {
			t.Fatal("the chart binds no cluster rules to the manager")
		}
		if g, w := flatten(gotCluster), flatten(wantCluster); !slices.Equal(g, w) {
			t.Errorf("cluster-wide rules\nCSV:   %v\nchart: %v", g, w)
		}
		if g, w := flatten(gotNS), flatten(wantNS); !slices.Equal(g, w) {
			t.Errorf("namespaced rules\nCSV:   %v\nchart: %v", g, w)
		}
	})

	t.Run("webhooks", func(t *testing.T) {
		want := webhooksOf(t, chart)
		got := csvWebhooks(t, csv)
		if len(want) == 0 {
			t.Fatal("the chart renders no webhooks")
		}
		for name := range want {
			if _, ok := got[name]; !ok {
				t.Errorf("the chart serves webhook %s, the CSV does not", name)
			}
		}
		for name, h := range got {
			w, ok := want[name]
			if !ok {
				t.Errorf("the CSV serves webhook %s, the chart does not", name)
				continue
			}
			if !equality.Semantic.DeepEqual(h, w) {
				g, _ := json.Marshal(h)
				c, _ := json.Marshal(w)
				t.Errorf("webhook %s\nCSV:   %s\nchart: %s", name, g, c)
			}
		}
	})
}

// TestMinKubeVersionIsTheCharts: OLM and Helm refuse the same clusters.
func TestMinKubeVersionIsTheCharts(t *testing.T) {
	c, err := loader.Load(filepath.Join(root, "charts/maas-gateway"))
	if err != nil {
		t.Fatal(err)
	}
	// The chart says ">= X.Y.Z-0" (the -0 admits pre-releases).
	want, ok := strings.CutPrefix(strings.ReplaceAll(c.Metadata.KubeVersion, " ", ""), ">=")
	if !ok {
		t.Fatalf("chart kubeVersion %q is not a lower bound", c.Metadata.KubeVersion)
	}
	want = strings.TrimSuffix(want, "-0")
	if got := committedCSV(t).Spec.MinKubeVersion; got != want {
		t.Errorf("CSV minKubeVersion %s, chart kubeVersion %s", got, c.Metadata.KubeVersion)
	}
}
