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

// Package packstest serves test charts as a Helm repository on a loopback
// server, for the tests of internal/packs and of the controllers using it.
package packstest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"
)

// Repository is a Helm chart repository on an httptest server: index.yaml
// plus one archive per chart version, built from chart directories.
type Repository struct {
	server *httptest.Server

	mu       sync.Mutex
	charts   []packaged
	requests map[string]int
	user     string
	password string
	absolute bool
}

type packaged struct {
	meta *chart.Metadata
	file string
	data []byte
}

// TB is what the helpers need of a test: *testing.T, *testing.B and
// Ginkgo's GinkgoT() all have it.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

var _ TB = (*testing.T)(nil)

// NewRepository packages the chart directories and serves them over plain
// HTTP on 127.0.0.1. The server stops when the test ends.
func NewRepository(t TB, chartDirs ...string) *Repository {
	t.Helper()
	r, err := Serve(chartDirs...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// Serve is NewRepository outside a test (make demo): the caller closes it.
func Serve(chartDirs ...string) (*Repository, error) {
	r := newRepository()
	r.server = httptest.NewServer(http.HandlerFunc(r.serve))
	if err := r.add(chartDirs...); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// NewTLSRepository is NewRepository over HTTPS with a self-signed
// certificate; CA returns it.
func NewTLSRepository(t TB, chartDirs ...string) *Repository {
	t.Helper()
	r := newRepository()
	r.server = httptest.NewTLSServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.server.Close)
	r.Add(t, chartDirs...)
	return r
}

// Close stops the server.
func (r *Repository) Close() { r.server.Close() }

func newRepository() *Repository {
	return &Repository{requests: map[string]int{}}
}

// URL is the repository URL, without a trailing slash.
func (r *Repository) URL() string { return r.server.URL }

// CA returns the PEM certificate of a TLS repository, nil for plain HTTP.
func (r *Repository) CA() []byte {
	if c := r.server.Certificate(); c != nil {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return nil
}

// SetBasicAuth makes every request require these credentials (401
// otherwise).
func (r *Repository) SetBasicAuth(user, password string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.user, r.password = user, password
}

// UseAbsoluteURLs makes index.yaml name archives by absolute URL instead of
// by path relative to the repository.
func (r *Repository) UseAbsoluteURLs() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.absolute = true
}

// Add packages more chart directories, as publishing new versions does.
func (r *Repository) Add(t TB, chartDirs ...string) {
	t.Helper()
	if err := r.add(chartDirs...); err != nil {
		t.Fatalf("%v", err)
	}
}

func (r *Repository) add(chartDirs ...string) error {
	for _, dir := range chartDirs {
		meta, data, err := packageChart(dir)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.charts = append(r.charts, packaged{meta: meta, file: meta.Name + "-" + meta.Version + ".tgz", data: data})
		r.mu.Unlock()
	}
	return nil
}

// Requests counts the requests for a path ("/index.yaml",
// "/addon-0.1.0.tgz"), authorised or not.
func (r *Repository) Requests(p string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[p]
}

// Archive returns the packaged chart, nil if it is not served.
func (r *Repository) Archive(name, version string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.charts {
		if c.meta.Name == name && c.meta.Version == version {
			return c.data
		}
	}
	return nil
}

// Package loads a chart directory and returns its metadata and .tgz
// archive, as `helm package` makes it.
func Package(t TB, dir string) (*chart.Metadata, []byte) {
	t.Helper()
	meta, data, err := packageChart(dir)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return meta, data
}

func packageChart(dir string) (*chart.Metadata, []byte, error) {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("loading chart %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp("", "packstest-")
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	file, err := chartutil.Save(ch, tmp)
	if err != nil {
		return nil, nil, fmt.Errorf("packaging chart %s: %w", dir, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	return ch.Metadata, data, nil
}

func (r *Repository) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[req.URL.Path]++
	if r.user != "" {
		if u, p, ok := req.BasicAuth(); !ok || u != r.user || p != r.password {
			w.Header().Set("WWW-Authenticate", `Basic realm="packstest"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	if req.URL.Path == "/index.yaml" {
		idx := repo.NewIndexFile()
		base := ""
		if r.absolute {
			base = r.server.URL
		}
		for _, c := range r.charts {
			sum := sha256.Sum256(c.data)
			if err := idx.MustAdd(c.meta, c.file, base, hex.EncodeToString(sum[:])); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		idx.SortEntries()
		out, err := yaml.Marshal(idx)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-yaml")
		_, _ = w.Write(out)
		return
	}
	for _, c := range r.charts {
		if path.Base(req.URL.Path) == c.file {
			w.Header().Set("Content-Type", "application/gzip")
			_, _ = w.Write(c.data)
			return
		}
	}
	http.NotFound(w, req)
}
