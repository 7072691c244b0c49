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

package ocitest

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"
	"helm.sh/helm/v3/pkg/registry"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/maas-gateway/maas-gateway/internal/packs"
	"github.com/maas-gateway/maas-gateway/internal/packs/packstest"
	projectenvtest "github.com/maas-gateway/maas-gateway/test/envtest"
)

const charts = "../testdata/charts/"

// newRegistry serves an OCI distribution registry with in-memory storage
// on 127.0.0.1 and returns its host:port. With a user, it requires basic
// auth with that password.
func newRegistry(t *testing.T, user, password string) string {
	t.Helper()
	// The registry logs every 404 of a push's existence checks at error
	// level; keep that out of the output unless the test fails.
	previous := logrus.StandardLogger().Out
	logrus.SetOutput(t.Output())
	t.Cleanup(func() { logrus.SetOutput(previous) })
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"inmemory":    configuration.Parameters{},
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		},
	}
	cfg.Log.AccessLog.Disabled = true
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "htpasswd")
		if err := os.WriteFile(file, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "packs", "path": file}}
	}
	srv := httptest.NewServer(handlers.NewApp(context.Background(), cfg))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func push(t *testing.T, host, dir string, opts ...registry.ClientOption) {
	t.Helper()
	meta, data := packstest.Package(t, dir)
	client, err := registry.NewClient(append(opts, registry.ClientOptPlainHTTP())...)
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/charts/" + meta.Name + ":" + meta.Version
	if _, err := client.Push(data, ref); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

func TestApplyFromOCIRegistry(t *testing.T) {
	host := newRegistry(t, "", "")
	push(t, host, charts+"addon")
	push(t, host, charts+"addon-0.2.0")
	const user, password = "oci-user", "oci-S3cret"
	private := newRegistry(t, user, password)
	push(t, private, charts+"addon", registry.ClientOptBasicAuth(user, password))

	assets, err := projectenvtest.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}

	// Nothing may be written to disk (the manager's filesystem is
	// read-only): point every home directory at an empty one and check it
	// stays empty.
	home := t.TempDir()
	for _, v := range []string{"HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
		"HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "DOCKER_CONFIG"} {
		t.Setenv(v, home+"/"+strings.ToLower(v))
	}
	t.Cleanup(func() {
		if entries, err := os.ReadDir(home); err != nil || len(entries) != 0 {
			t.Errorf("files were written under the home directory: %v %v", entries, err)
		}
	})

	inst := packs.NewInstaller(packs.Options{})
	for _, tc := range []struct {
		name    string
		source  packs.Source
		version string
	}{
		{"by-reference", packs.Source{Repository: "oci://" + host + "/charts/addon", Version: "0.1.0"}, "0.1.0"},
		{"by-chart-name", packs.Source{Repository: "oci://" + host + "/charts", Chart: "addon", Version: "0.1.0"}, "0.1.0"},
		{"by-constraint", packs.Source{Repository: "oci://" + host + "/charts/addon", Version: "~0.2"}, "0.2.0"},
	} {
		res, err := inst.Apply(context.Background(), cfg, packs.Pack{Name: tc.name, Namespace: "oci", Source: tc.source,
			Values: map[string]any{"greeting": "from oci"}})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.ChartName != "addon" || res.ChartVersion != tc.version || !res.Changed {
			t.Fatalf("%s: %+v, want addon %s", tc.name, res, tc.version)
		}
		cm, err := cs.CoreV1().ConfigMaps("oci").Get(context.Background(), tc.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data["greeting"] != "from oci" || cm.Data["chartVersion"] != tc.version {
			t.Fatalf("%s: ConfigMap %v", tc.name, cm.Data)
		}
	}

	res, err := inst.Apply(context.Background(), cfg, packs.Pack{Name: "private", Namespace: "oci",
		Source: packs.Source{Repository: "oci://" + private + "/charts/addon", Version: "~0.1",
			Auth: &packs.Auth{Username: user, Password: password}}})
	if err != nil || res.ChartVersion != "0.1.0" {
		t.Fatalf("registry with basic auth: %+v %v", res, err)
	}
	_, err = inst.Apply(context.Background(), cfg, packs.Pack{Name: "denied", Namespace: "oci",
		Source: packs.Source{Repository: "oci://" + private + "/charts/addon", Version: "0.1.0",
			Auth: &packs.Auth{Username: user, Password: "not-" + password}}})
	if !errors.Is(err, packs.ErrFetch) || strings.Contains(err.Error(), password) {
		t.Fatalf("bad registry credentials: %v, want ErrFetch without the password", err)
	}
	t.Logf("bad registry credentials: %v", err)

	_, err = inst.Apply(context.Background(), cfg, packs.Pack{Name: "missing", Namespace: "oci",
		Source: packs.Source{Repository: "oci://" + host + "/charts/addon", Version: "9.9.9"}})
	if !errors.Is(err, packs.ErrFetch) || !strings.Contains(err.Error(), "9.9.9") {
		t.Fatalf("missing version: %v, want ErrFetch naming it", err)
	}
}
