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
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"

	"github.com/maas-gateway/maas-gateway/internal/packs/packstest"
)

const charts = "testdata/charts/"

func TestFetchHTTPResolvesVersions(t *testing.T) {
	for _, absolute := range []bool{false, true} {
		r := packstest.NewRepository(t, charts+"addon", charts+"addon-0.2.0")
		if absolute {
			r.UseAbsoluteURLs()
		}
		f := NewInstaller(Options{}).fetch
		for _, tc := range []struct{ version, want string }{
			{"0.1.0", "0.1.0"},
			{"", "0.2.0"},
			{"~0.1", "0.1.0"},
			{">=0.1.5 <1", "0.2.0"},
		} {
			got, err := f.fetch(context.Background(), Source{Repository: r.URL() + "/", Chart: "addon", Version: tc.version})
			if err != nil {
				t.Fatalf("absolute URLs %v, version %q: %v", absolute, tc.version, err)
			}
			if got.version != tc.want || got.chart.Metadata.Version != tc.want || got.chart.Metadata.Name != "addon" {
				t.Fatalf("absolute URLs %v, version %q: got %s %s (resolved %s), want %s",
					absolute, tc.version, got.chart.Metadata.Name, got.chart.Metadata.Version, got.version, tc.want)
			}
		}
	}
}

func TestFetchErrorsNameTheSource(t *testing.T) {
	r := packstest.NewRepository(t, charts+"addon")
	f := NewInstaller(Options{}).fetch
	for _, src := range []Source{
		{Repository: r.URL(), Chart: "addon", Version: "9.9.9"},
		{Repository: r.URL(), Chart: "nothere", Version: "0.1.0"},
		{Repository: r.URL() + "/missing", Chart: "addon", Version: "0.1.0"},
	} {
		_, err := f.fetch(context.Background(), src)
		if !errors.Is(err, ErrFetch) {
			t.Fatalf("%+v: error %v, want ErrFetch", src, err)
		}
		for _, part := range []string{src.Repository, src.Chart, src.Version} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("error %q does not name %q", err, part)
			}
		}
	}
}

func TestFetchCache(t *testing.T) {
	r := packstest.NewRepository(t, charts+"addon", charts+"addon-0.2.0")
	f := NewInstaller(Options{IndexTTL: 200 * time.Millisecond}).fetch
	fetch := func(version string, a *Auth) {
		t.Helper()
		if _, err := f.fetch(context.Background(), Source{Repository: r.URL(), Chart: "addon", Version: version, Auth: a}); err != nil {
			t.Fatal(err)
		}
	}
	counts := func(index, v1, v2 int) {
		t.Helper()
		if got := [3]int{r.Requests("/index.yaml"), r.Requests("/addon-0.1.0.tgz"), r.Requests("/addon-0.2.0.tgz")}; got != [3]int{index, v1, v2} {
			t.Fatalf("requests (index, 0.1.0, 0.2.0) = %v, want %v", got, [3]int{index, v1, v2})
		}
	}
	fetch("0.1.0", nil)
	counts(1, 1, 0)
	fetch("0.1.0", nil) // exact version cached: no request at all
	counts(1, 1, 0)
	fetch("~0.2", nil) // constraint: the cached index resolves it
	counts(1, 1, 1)
	fetch("~0.2", nil)
	counts(1, 1, 1)
	time.Sleep(250 * time.Millisecond) // the index expires, archives do not
	fetch("~0.2", nil)
	counts(2, 1, 1)
	// Another credential never gets what the first one fetched.
	fetch("0.1.0", &Auth{Username: "someone", Password: "else"})
	counts(3, 2, 1)

	off := NewInstaller(Options{CacheBytes: -1}).fetch
	for range 2 {
		if _, err := off.fetch(context.Background(), Source{Repository: r.URL(), Chart: "addon", Version: "0.1.0"}); err != nil {
			t.Fatal(err)
		}
	}
	counts(5, 4, 1)
}

func TestFetchBasicAuthAndCA(t *testing.T) {
	const user, password = "packs", "s3cret-Pa55word"
	r := packstest.NewTLSRepository(t, charts+"addon")
	r.SetBasicAuth(user, password)
	f := NewInstaller(Options{}).fetch
	src := Source{Repository: r.URL(), Chart: "addon", Version: "0.1.0"}

	src.Auth = &Auth{Username: user, Password: password, CA: r.CA()}
	if _, err := f.fetch(context.Background(), src); err != nil {
		t.Fatalf("with credentials and CA: %v", err)
	}

	src.Auth = &Auth{Username: user, Password: password}
	_, err := f.fetch(context.Background(), src)
	if !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v, want a certificate error", err)
	}

	src.Version = "0.1.0"
	src.Auth = &Auth{Username: user, Password: "wrong-" + password, CA: r.CA()}
	_, err = f.fetch(context.Background(), src)
	if !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad password: %v, want ErrFetch with 401", err)
	}
	if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "Authorization") {
		t.Fatalf("error leaks credentials: %v", err)
	}
}

func TestFetchHonoursProxy(t *testing.T) {
	r := packstest.NewRepository(t, charts+"addon")
	var proxied atomic.Int32
	target, _ := url.Parse(r.URL())
	forward := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		proxied.Add(1)
		forward.ServeHTTP(w, req)
	}))
	t.Cleanup(proxy.Close)
	proxyURL, _ := url.Parse(proxy.URL)

	f := NewInstaller(Options{Proxy: http.ProxyURL(proxyURL)}).fetch
	if _, err := f.fetch(context.Background(), Source{Repository: r.URL(), Chart: "addon", Version: "0.1.0"}); err != nil {
		t.Fatal(err)
	}
	if got := proxied.Load(); got != 2 { // index.yaml and the archive
		t.Fatalf("proxy saw %d requests, want 2", got)
	}

	// Without Options.Proxy the environment is not read.
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	f = NewInstaller(Options{}).fetch
	if _, err := f.fetch(context.Background(), Source{Repository: r.URL(), Chart: "addon", Version: "0.1.0"}); err != nil {
		t.Fatal(err)
	}
	if got := proxied.Load(); got != 2 {
		t.Fatalf("proxy from the environment was used (%d requests)", got)
	}
}

// An index may point at another host (a CDN); the repository's
// credentials must not follow.
func TestFetchSendsCredentialsOnlyToTheRepositoryHost(t *testing.T) {
	meta, archive := packstest.Package(t, charts+"addon")
	var cdnSawAuth atomic.Bool
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "" {
			cdnSawAuth.Store(true)
		}
		_, _ = w.Write(archive)
	}))
	t.Cleanup(cdn.Close)
	idx := repo.NewIndexFile()
	if err := idx.MustAdd(meta, "addon-0.1.0.tgz", cdn.URL, ""); err != nil {
		t.Fatal(err)
	}
	index, err := yaml.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	var repoSawAuth atomic.Bool
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); ok && u == "user" && p == "pw" {
			repoSawAuth.Store(true)
		}
		_, _ = w.Write(index)
	}))
	t.Cleanup(origin.Close)

	f := NewInstaller(Options{}).fetch
	src := Source{Repository: origin.URL, Chart: "addon", Version: "0.1.0", Auth: &Auth{Username: "user", Password: "pw"}}
	if _, err := f.fetch(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if !repoSawAuth.Load() || cdnSawAuth.Load() {
		t.Fatalf("credentials: repository saw them %v (want true), other host saw them %v (want false)",
			repoSawAuth.Load(), cdnSawAuth.Load())
	}
}

func TestFetchManifestsChart(t *testing.T) {
	f := NewInstaller(Options{}).fetch
	got, err := f.fetch(context.Background(), Source{Manifests: "kind: ConfigMap"})
	if err != nil {
		t.Fatal(err)
	}
	if err := got.chart.Validate(); err != nil {
		t.Fatalf("in-memory chart is invalid: %v", err)
	}
	if !strings.HasPrefix(got.version, "0.0.0+") {
		t.Fatalf("version %q", got.version)
	}
}

func TestValidatePack(t *testing.T) {
	ok := Pack{Name: "addon", Namespace: "addons", Source: Source{Repository: "https://charts.example/", Chart: "addon"}}
	if err := validatePack(ok); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Pack){
		"bad release name":       func(p *Pack) { p.Name = "Not_Valid" },
		"bad namespace":          func(p *Pack) { p.Namespace = "a.b" },
		"credentials in URL":     func(p *Pack) { p.Source.Repository = "https://u:p@charts.example" },
		"ftp scheme":             func(p *Pack) { p.Source.Repository = "ftp://charts.example" },
		"no chart for http":      func(p *Pack) { p.Source.Chart = "" },
		"manifests and chart":    func(p *Pack) { p.Source.Manifests = "kind: ConfigMap" },
		"CA is not PEM":          func(p *Pack) { p.Source.Auth = &Auth{CA: []byte("not a certificate")} },
		"no source":              func(p *Pack) { p.Source = Source{} },
		"manifests too large":    func(p *Pack) { p.Source = Source{Manifests: strings.Repeat("#", maxManifestsBytes+1)} },
		"query in repository":    func(p *Pack) { p.Source.Repository = "https://charts.example/?x=1" },
		"repository has no host": func(p *Pack) { p.Source.Repository = "https:///charts" },
	} {
		p := ok
		mutate(&p)
		if err := validatePack(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
