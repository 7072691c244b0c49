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
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/install"
	"github.com/maas-gateway/maas-gateway/internal/pcg"
)

// fakeKind is kind without Docker: clusters are names, and every call is
// recorded. The kind library against Docker runs in the e2e suite.
type fakeKind struct {
	clusters  []string
	createErr error
	calls     []string
	// have is what LoadImages finds loaded already.
	have []string
}

const fakeKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: kind-boot, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: kind-boot, user: {token: x}}]
contexts: [{name: kind-boot, context: {cluster: kind-boot, user: kind-boot}}]
current-context: kind-boot
`

func (f *fakeKind) Clusters() ([]string, error) { return slices.Clone(f.clusters), nil }

func (f *fakeKind) Create(name, image, configFile, kubeconfig string, _ time.Duration) error {
	f.calls = append(f.calls, strings.Join([]string{"create", name, image, configFile, filepath.Base(kubeconfig)}, " "))
	if f.createErr != nil {
		return f.createErr
	}
	f.clusters = append(f.clusters, name)
	return nil
}

func (f *fakeKind) Kubeconfig(name string) (string, error) {
	if !slices.Contains(f.clusters, name) {
		return "", errors.New("no such cluster")
	}
	return fakeKubeconfig, nil
}

func (f *fakeKind) LoadImages(_ context.Context, name string, images []string) ([]string, error) {
	var loaded []string
	for _, i := range images {
		if !slices.Contains(f.have, i) {
			loaded = append(loaded, i+" into "+name+"-control-plane")
			f.have = append(f.have, i)
		}
	}
	f.calls = append(f.calls, "load "+name+" "+strings.Join(images, ","))
	return loaded, nil
}

func (f *fakeKind) Delete(name, kubeconfig string) error {
	f.calls = append(f.calls, "delete "+name+" "+filepath.Base(kubeconfig))
	f.clusters = slices.DeleteFunc(f.clusters, func(c string) bool { return c == name })
	return nil
}

func TestKindBootstrap(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kc := filepath.Join(dir, "boot.kubeconfig")
	api := &fakeKind{clusters: []string{"someone-elses"}}
	k := &install.KindBootstrap{Name: "boot", NodeImage: "node:v1", ConfigFile: "kind.yaml", Kubeconfig: kc,
		Images: []string{"maas-gateway/manager:v1"}, API: api}

	// Absent: created, kubeconfig written for the owner only, image loaded.
	var progress bytes.Buffer
	cfg, msg, err := k.Ensure(ctx, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:1" {
		t.Errorf("config of %s, want the kind cluster's", cfg.Host)
	}
	for _, want := range []string{"kind cluster boot created from node:v1", "loaded maas-gateway/manager:v1 into boot-control-plane",
		"kubeconfig " + kc} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if !strings.Contains(progress.String(), "creating kind cluster boot from node:v1") {
		t.Errorf("progress: %q", &progress)
	}
	if fi, err := os.Stat(kc); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	want := []string{"create boot node:v1 kind.yaml boot.kubeconfig", "load boot maas-gateway/manager:v1"}
	if !slices.Equal(api.calls, want) {
		t.Errorf("calls %q, want %q", api.calls, want)
	}

	// Present (a re-run): re-used as it is, the kubeconfig written again.
	api.calls = nil
	if err := os.Remove(kc); err != nil {
		t.Fatal(err)
	}
	_, msg, err = k.Ensure(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "kind cluster boot exists (an earlier run's): re-used") ||
		!strings.Contains(msg, "hold maas-gateway/manager:v1 already") {
		t.Errorf("re-run: %q", msg)
	}
	if slices.ContainsFunc(api.calls, func(c string) bool { return strings.HasPrefix(c, "create") }) {
		t.Errorf("created again: %q", api.calls)
	}
	if _, err := os.Stat(kc); err != nil {
		t.Errorf("kubeconfig not written again: %v", err)
	}

	// Delete: the cluster and its kubeconfig; no other cluster.
	msg, err = k.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if msg != "kind cluster boot deleted, with its kubeconfig "+kc {
		t.Errorf("delete: %q", msg)
	}
	if !slices.Equal(api.clusters, []string{"someone-elses"}) {
		t.Errorf("clusters left: %q", api.clusters)
	}
	if _, err := os.Stat(kc); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("kubeconfig left: %v", err)
	}
	msg, err = k.Delete(ctx)
	if err != nil || msg != "kind cluster boot was gone already" {
		t.Errorf("delete again: %q, %v", msg, err)
	}
	if !strings.Contains(k.Describe(), "kind delete cluster --name boot") {
		t.Errorf("describe: %q", k.Describe())
	}
}

func TestKindBootstrapCreateFails(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "b.kubeconfig")
	api := &fakeKind{createErr: errors.New("failed to detect any supported node provider")}
	k := &install.KindBootstrap{Kubeconfig: kc, API: api}
	_, _, err := k.Ensure(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "creating kind cluster "+install.DefaultKindName+": failed to detect") {
		t.Errorf("error %v", err)
	}
	if _, err := os.Stat(kc); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a kubeconfig was written for a cluster that is not there: %v", err)
	}
}

// The run needs exactly one way to the bootstrap cluster: neither, or
// both (which would delete a cluster of the user's), is refused.
func TestRunWantsOneBootstrap(t *testing.T) {
	k := &install.KindBootstrap{Kubeconfig: filepath.Join(t.TempDir(), "b.kubeconfig"), API: &fakeKind{}}
	for _, tt := range []struct {
		name         string
		cfg          *rest.Config
		bootstrapper install.Bootstrapper
	}{
		{name: "neither"},
		{name: "both", cfg: &rest.Config{Host: "https://127.0.0.1:1"}, bootstrapper: k},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := install.Run(context.Background(), install.Options{
				Installation: &pcg.Installation{Gateway: &infrav1.Gateway{}}, Operator: install.HelmInstaller{},
				KubeconfigOut: "x", Bootstrap: tt.cfg, Bootstrapper: tt.bootstrapper})
			if err == nil || !strings.Contains(err.Error(), "a bootstrap cluster or a Bootstrapper (one of them)") {
				t.Errorf("error %v", err)
			}
		})
	}
}
