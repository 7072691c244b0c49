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
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"oras.land/oras-go/v2/registry/remote/auth"
	"sigs.k8s.io/yaml"
)

const (
	maxIndexBytes = 32 << 20
	maxChartBytes = 16 << 20
	// maxTransports bounds the distinct CA bundles kept with live
	// connection pools; past it the pools are dropped and rebuilt.
	maxTransports = 32
)

// fetcher downloads charts over one set of transports (proxy, timeouts)
// and keeps what it downloaded in a byte-bounded cache.
type fetcher struct {
	proxy    func(*http.Request) (*url.URL, error)
	timeout  time.Duration
	indexTTL time.Duration
	cache    *lru

	mu         sync.Mutex
	transports map[string]*http.Transport // by CA bundle digest
}

// fetched is a chart ready to install, with what identifies it.
type fetched struct {
	chart *chart.Chart
	// version is the resolved version, the one a constraint selected.
	version string
}

func (f *fetcher) fetch(ctx context.Context, src Source) (*fetched, error) {
	if src.Manifests != "" {
		return &fetched{chart: manifestsChart(src.Manifests), version: manifestsVersion(src.Manifests)}, nil
	}
	var (
		data    []byte
		version string
		err     error
	)
	if strings.HasPrefix(src.Repository, "oci://") {
		data, version, err = f.fetchOCI(ctx, src)
	} else {
		data, version, err = f.fetchHTTP(ctx, src)
	}
	if err != nil {
		return nil, fetchError(src, err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fetchError(Source{Repository: src.Repository, Chart: src.Chart, Version: version}, fmt.Errorf("not a chart archive: %w", err))
	}
	return &fetched{chart: ch, version: version}, nil
}

func fetchError(src Source, err error) error {
	name := src.Chart
	if name == "" {
		name = path.Base(src.Repository)
	}
	return fmt.Errorf("%w: chart %q version %q from %s: %w", ErrFetch, name, src.Version, src.Repository, err)
}

// authIdentity separates cache entries by credential, so that a chart
// fetched with one credential is never served to a source without it.
func authIdentity(a *Auth) string {
	if a == nil {
		return "anonymous"
	}
	h := sha256.New()
	for _, s := range []string{a.Username, a.Password, string(a.CA)} {
		// A hash.Hash never returns an error from Write.
		_, _ = fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func exactVersion(v string) bool {
	_, err := semver.StrictNewVersion(v)
	return err == nil
}

func (f *fetcher) fetchHTTP(ctx context.Context, src Source) ([]byte, string, error) {
	base := strings.TrimSuffix(src.Repository, "/")
	id := authIdentity(src.Auth)
	chartKey := func(version string) string {
		return strings.Join([]string{"chart", base, src.Chart, version, id}, "\x00")
	}
	if exactVersion(src.Version) {
		if data, ok := f.cache.get(chartKey(src.Version)); ok {
			return data.([]byte), src.Version, nil
		}
	}
	client, err := f.client(src.Auth)
	if err != nil {
		return nil, "", err
	}
	idx, err := f.index(ctx, client, base, src.Auth, id)
	if err != nil {
		return nil, "", err
	}
	cv, err := idx.Get(src.Chart, src.Version)
	if err != nil {
		return nil, "", fmt.Errorf("not in the repository index: %w", err)
	}
	if data, ok := f.cache.get(chartKey(cv.Version)); ok {
		return data.([]byte), cv.Version, nil
	}
	if len(cv.URLs) == 0 {
		return nil, "", fmt.Errorf("version %s has no download URL in the index", cv.Version)
	}
	u, err := resolveURL(base, cv.URLs[0])
	if err != nil {
		return nil, "", err
	}
	data, err := f.get(ctx, client, u, base, src.Auth, maxChartBytes)
	if err != nil {
		return nil, "", err
	}
	if cv.Digest != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != strings.TrimPrefix(cv.Digest, "sha256:") {
			return nil, "", fmt.Errorf("version %s: archive digest %s does not match the index (%s)", cv.Version, got, cv.Digest)
		}
	}
	f.cache.put(chartKey(cv.Version), data, int64(len(data)), 0)
	return data, cv.Version, nil
}

func (f *fetcher) index(ctx context.Context, client *http.Client, base string, a *Auth, id string) (*repo.IndexFile, error) {
	key := strings.Join([]string{"index", base, id}, "\x00")
	if idx, ok := f.cache.get(key); ok {
		return idx.(*repo.IndexFile), nil
	}
	data, err := f.get(ctx, client, base+"/index.yaml", base, a, maxIndexBytes)
	if err != nil {
		return nil, err
	}
	idx := &repo.IndexFile{}
	if err := yaml.Unmarshal(data, idx); err != nil {
		return nil, fmt.Errorf("index.yaml is not valid: %w", err)
	}
	if idx.APIVersion == "" {
		return nil, errors.New("index.yaml has no apiVersion")
	}
	// Helm's own loader is file-based; like it, drop empty entries before
	// sorting (IndexFile.Get returns the first match, so order matters).
	for name, versions := range idx.Entries {
		kept := versions[:0]
		for _, v := range versions {
			if v != nil && v.Metadata != nil && v.Version != "" {
				kept = append(kept, v)
			}
		}
		idx.Entries[name] = kept
	}
	idx.SortEntries()
	// Parsed indexes are larger than their text; the text size is the
	// estimate the byte bound uses.
	f.cache.put(key, idx, int64(len(data)), f.indexTTL)
	return idx, nil
}

func resolveURL(base, ref string) (string, error) {
	b, err := url.Parse(base + "/")
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("index URL %q: %w", ref, err)
	}
	u := b.ResolveReference(r)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("index URL %q is not http(s)", ref)
	}
	return u.String(), nil
}

// get sends credentials only to the repository's own host, as Helm does
// by default: an index may point at a CDN that must not see them.
func (f *fetcher) get(ctx context.Context, client *http.Client, target, base string, a *Auth, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if a != nil && a.Username != "" {
		if b, err := url.Parse(base); err == nil && b.Scheme == req.URL.Scheme && b.Host == req.URL.Host {
			req.SetBasicAuth(a.Username, a.Password)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", target, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("GET %s: more than %d bytes", target, limit)
	}
	return data, nil
}

// ociRef splits a source into the registry reference without a tag and
// its host.
func ociRef(src Source) (ref, host string) {
	ref = strings.TrimSuffix(strings.TrimPrefix(src.Repository, "oci://"), "/")
	if src.Chart != "" {
		ref += "/" + src.Chart
	}
	host, _, _ = strings.Cut(ref, "/")
	return ref, host
}

func (f *fetcher) fetchOCI(ctx context.Context, src Source) ([]byte, string, error) {
	ref, host := ociRef(src)
	id := authIdentity(src.Auth)
	client, err := f.registryClient(src.Auth, host)
	if err != nil {
		return nil, "", err
	}
	tag := src.Version
	if !exactVersion(tag) {
		tagsKey := strings.Join([]string{"tags", ref, id}, "\x00")
		var tags []string
		if cached, ok := f.cache.get(tagsKey); ok {
			tags = cached.([]string)
		} else {
			tags, err = withContext(ctx, func() ([]string, error) { return client.Tags(ref) })
			if err != nil {
				return nil, "", fmt.Errorf("listing tags: %w", err)
			}
			f.cache.put(tagsKey, tags, int64(len(strings.Join(tags, ","))), f.indexTTL)
		}
		if tag, err = registry.GetTagMatchingVersionOrConstraint(tags, src.Version); err != nil {
			return nil, "", err
		}
	}
	key := strings.Join([]string{"chart", "oci://" + ref, tag, id}, "\x00")
	if data, ok := f.cache.get(key); ok {
		return data.([]byte), tag, nil
	}
	res, err := withContext(ctx, func() (*registry.PullResult, error) {
		return client.Pull(ref+":"+tag, registry.PullOptWithChart(true))
	})
	if err != nil {
		return nil, "", err
	}
	if len(res.Chart.Data) > maxChartBytes {
		return nil, "", fmt.Errorf("chart layer is more than %d bytes", maxChartBytes)
	}
	f.cache.put(key, res.Chart.Data, int64(len(res.Chart.Data)), 0)
	return res.Chart.Data, tag, nil
}

// withContext bounds calls of Helm's registry client, which do not take a
// context; the call itself ends with the HTTP client's timeout.
func withContext[T any](ctx context.Context, call func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := call()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// registryClient never consults credential files (Helm's or Docker's):
// the authorizer is built here from Auth alone, and plain HTTP is allowed
// only to loopback registries, which only tests run.
func (f *fetcher) registryClient(a *Auth, host string) (*registry.Client, error) {
	hc, err := f.client(a)
	if err != nil {
		return nil, err
	}
	authorizer := auth.Client{Client: hc, Cache: auth.NewCache()}
	if a != nil && a.Username != "" {
		authorizer.Credential = auth.StaticCredential(host, auth.Credential{Username: a.Username, Password: a.Password})
	}
	opts := []registry.ClientOption{
		registry.ClientOptHTTPClient(hc),
		registry.ClientOptAuthorizer(authorizer),
	}
	if isLoopback(host) {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	return registry.NewClient(opts...)
}

func isLoopback(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		h = hostport
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// client shares one transport (and its connection pool) among sources
// trusting the same CA bundle.
func (f *fetcher) client(a *Auth) (*http.Client, error) {
	var ca []byte
	if a != nil {
		ca = a.CA
	}
	sum := sha256.Sum256(ca)
	key := hex.EncodeToString(sum[:])
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.transports[key]
	if !ok {
		var err error
		if t, err = f.newTransport(ca); err != nil {
			return nil, err
		}
		if len(f.transports) >= maxTransports {
			for k, old := range f.transports {
				old.CloseIdleConnections()
				delete(f.transports, k)
			}
		}
		f.transports[key] = t
	}
	return &http.Client{Transport: t, Timeout: f.timeout}, nil
}

func (f *fetcher) newTransport(ca []byte) (*http.Transport, error) {
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if len(ca) > 0 && !roots.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%w: the CA bundle holds no PEM certificate", ErrInvalid)
	}
	dialer := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 f.proxy,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}, nil
}
