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
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/maas-gateway/maas-gateway/internal/install"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// apiServer starts an API server (and etcd) for the test and a client of
// the installer's kinds for it.
func apiServer(t *testing.T) (*rest.Config, client.Client) {
	t.Helper()
	env, err := envtest.New(envtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := install.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, c
}

// The Helm SDK path against a real API server: the embedded chart
// installed outside, found current, then upgraded to inside.
func TestHelmInstallerAgainstAnAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an API server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg, c := apiServer(t)
	// envtest runs no Pod: nothing to wait for.
	h := install.HelmInstaller{NoWait: true, Timeout: time.Minute}
	const ns = "maas-system"
	managerArgs := func() []string {
		t.Helper()
		var list appsv1.DeploymentList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil || len(list.Items) != 1 {
			t.Fatalf("Deployments: %d (%v), want the manager's", len(list.Items), err)
		}
		return list.Items[0].Spec.Template.Spec.Containers[0].Args
	}
	installed := func(mode install.Mode) bool {
		t.Helper()
		ok, _, err := h.Installed(ctx, cfg, ns, mode)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	if installed(install.ModeOutside) {
		t.Fatal("installed before any install")
	}
	msg, err := h.Install(ctx, cfg, ns, install.ModeOutside)
	if err != nil {
		t.Fatalf("install outside: %v", err)
	}
	t.Log(msg)
	if !slices.Contains(managerArgs(), "--outside-gateway") {
		t.Errorf("the manager runs without --outside-gateway: %v", managerArgs())
	}
	if !installed(install.ModeOutside) || installed(install.ModeInside) {
		t.Error("the release outside is not found current outside only")
	}

	msg, err = h.Install(ctx, cfg, ns, install.ModeInside)
	if err != nil {
		t.Fatalf("upgrade to inside: %v", err)
	}
	t.Log(msg)
	if slices.Contains(managerArgs(), "--outside-gateway") {
		t.Errorf("the manager still runs with --outside-gateway: %v", managerArgs())
	}
	if !installed(install.ModeInside) {
		t.Error("the upgraded release is not found current")
	}
}
