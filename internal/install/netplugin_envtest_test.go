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

package install_test

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/maas-gateway/maas-gateway/internal/install"
	"github.com/maas-gateway/maas-gateway/internal/install/installtest"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/packs"
)

// The network plugin a user gives as manifests is released with Helm in
// kube-system: the test world's network plugin (the DaemonSet its
// emulated kubelets turn Ready for) installed once, found unchanged on a
// re-run, upgraded when the manifests change.
func TestPackNetworkPluginAgainstAnAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an API server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, c := apiServer(t)
	manifest, err := installtest.NetworkPluginManifests()
	if err != nil {
		t.Fatal(err)
	}
	ds := controlplane.NetworkPlugin()
	ds.APIVersion, ds.Kind = "apps/v1", "DaemonSet"
	inst := packs.NewInstaller(packs.Options{Timeout: time.Minute})
	apply := func(manifests string) string {
		t.Helper()
		msg, err := install.PackNetworkPlugin{Source: packs.Source{Manifests: manifests}, Installer: inst}.Apply(ctx, cfg)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		return msg
	}

	if msg := apply(manifest); !strings.Contains(msg, "installed") || !strings.Contains(msg, "revision 1") {
		t.Errorf("first apply: %q, want installed, revision 1", msg)
	}
	got := &appsv1.DaemonSet{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(ds), got); err != nil {
		t.Fatalf("the network plugin's DaemonSet: %v", err)
	}
	if msg := apply(manifest); !strings.Contains(msg, "unchanged") || !strings.Contains(msg, "revision 1") {
		t.Errorf("re-run: %q, want unchanged, revision 1", msg)
	}
	ds.Spec.Template.Spec.Containers[0].Image = "registry.invalid/cni:2"
	changed, err := yaml.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	if msg := apply(string(changed)); !strings.Contains(msg, "upgraded") || !strings.Contains(msg, "revision 2") {
		t.Errorf("changed manifests: %q, want a new revision", msg)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(ds), got); err != nil || got.Spec.Template.Spec.Containers[0].Image != "registry.invalid/cni:2" {
		t.Errorf("after the upgrade: %v, image %v", err, got.Spec.Template.Spec.Containers)
	}
}
