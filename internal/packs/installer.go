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
	"cmp"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// maxManifestsBytes keeps a manifests release well inside the 1 MiB a
// release Secret may hold (the text is stored twice, compressed).
const maxManifestsBytes = 512 << 10

// Installer installs packs into tenant clusters. Make one per manager and
// share it: it holds the chart cache and the HTTP transports. It is safe
// for concurrent use; operations on one release (same API server,
// namespace and name) are serialised.
type Installer struct {
	opts  Options
	fetch *fetcher
	locks keyedLock
}

// NewInstaller applies the defaults documented on Options.
func NewInstaller(opts Options) *Installer {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = 2 * opts.Timeout
	}
	if opts.IndexTTL <= 0 {
		opts.IndexTTL = defaultIndexTTL
	}
	switch {
	case opts.CacheBytes == 0:
		opts.CacheBytes = defaultCacheBytes
	case opts.CacheBytes < 0:
		opts.CacheBytes = -1
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	return &Installer{
		opts: opts,
		fetch: &fetcher{
			proxy:      opts.Proxy,
			timeout:    opts.Timeout,
			indexTTL:   opts.IndexTTL,
			cache:      newLRU(opts.CacheBytes, time.Now),
			transports: map[string]*http.Transport{},
		},
		locks: keyedLock{held: map[string]chan struct{}{}},
	}
}

// Apply makes the release match the pack: it installs when no release
// exists, upgrades when what the release was made from changed (source,
// resolved chart version, values or manifests, compared through the
// LabelDigest label) or when the last revision failed, and otherwise does
// nothing. It never waits for the objects to become ready.
//
// A pending revision (pending-install, pending-upgrade, pending-rollback)
// means another operation is running, and Apply returns ErrBusy, unless
// the revision is older than Options.StaleAfter: then the operation that
// left it is taken to have died (a crash or a timeout) and Apply marks the
// revision failed in the release storage, as Helm itself does with a
// revision whose operation failed, and upgrades from there. Rolling back
// instead would apply an older configuration only to upgrade again.
func (i *Installer) Apply(ctx context.Context, cfg *rest.Config, p Pack) (Result, error) {
	if err := validatePack(p); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, i.opts.Timeout)
	defer cancel()
	log := i.logger(ctx).WithValues("release", p.Name, "namespace", p.Namespace)
	unlock, err := i.locks.lock(ctx, lockKey(cfg, p.Namespace, p.Name))
	if err != nil {
		return Result{}, fmt.Errorf("%w: release %s/%s: %w", ErrBusy, p.Namespace, p.Name, err)
	}
	defer unlock()

	ac, err := i.actionConfig(cfg, p.Namespace, log)
	if err != nil {
		return Result{}, err
	}
	last, err := i.lastRelease(ctx, ac, p.Namespace, p.Name)
	if err != nil {
		return Result{}, err
	}
	if last != nil && last.Info.Status.IsPending() {
		if err := i.recoverPending(ac, last, log); err != nil {
			return Result{}, err
		}
	}
	if last != nil && last.Info.Status == release.StatusUninstalling {
		// An uninstall died half way; Helm cannot upgrade from there, and
		// finishing it is the caller's decision (Uninstall, then Apply).
		return Result{}, fmt.Errorf("%w: %s/%s revision %d was left uninstalling; uninstall it again before applying",
			ErrRelease, p.Namespace, p.Name, last.Version)
	}

	f, err := i.fetch.fetch(ctx, p.Source)
	if err != nil {
		return Result{}, err
	}
	values := map[string]any{}
	if p.Source.Manifests == "" && p.Values != nil {
		values = mergeMaps(nil, p.Values)
	}
	d, err := digest(p.Source, f.version, values)
	if err != nil {
		return Result{}, err
	}
	labels := map[string]string{LabelManaged: "true", LabelDigest: d}
	name, version := f.chart.Metadata.Name, f.chart.Metadata.Version

	if last != nil && last.Info.Status == release.StatusDeployed && last.Labels[LabelDigest] == d {
		log.V(1).Info("pack is current", "revision", last.Version)
		return resultOf(last, false), nil
	}

	var rel *release.Release
	verb := "upgrade"
	if last == nil || last.Info.Status == release.StatusUninstalled {
		verb = "install"
		in := action.NewInstall(ac)
		in.ReleaseName, in.Namespace = p.Name, p.Namespace
		in.CreateNamespace = true
		in.Replace = last != nil
		in.Timeout = i.opts.Timeout
		in.Labels = labels
		rel, err = in.RunWithContext(ctx, f.chart, values)
	} else {
		up := action.NewUpgrade(ac)
		up.Namespace = p.Namespace
		up.Timeout = i.opts.Timeout
		up.MaxHistory = maxHistory
		// Values are exactly the pack's, never Helm's reuse of the last
		// revision's (which it does when the new values are empty).
		up.ResetValues = true
		up.Labels = labels
		rel, err = up.RunWithContext(ctx, p.Name, f.chart, values)
	}
	if err != nil {
		return Result{}, fmt.Errorf("%w: %s of %s/%s with chart %s %s: %w", ErrRelease, verb, p.Namespace, p.Name, name, version, err)
	}
	log.V(1).Info("pack applied", "action", verb, "revision", rel.Version, "chart", name, "version", version)
	return resultOf(rel, true), nil
}

// Uninstall removes a release this package made, with its objects. A
// missing release is not an error; a release of that name not made here is
// ErrNotManaged and stays.
func (i *Installer) Uninstall(ctx context.Context, cfg *rest.Config, name, namespace string) error {
	if err := validateName(name, namespace); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, i.opts.Timeout)
	defer cancel()
	log := i.logger(ctx).WithValues("release", name, "namespace", namespace)
	unlock, err := i.locks.lock(ctx, lockKey(cfg, namespace, name))
	if err != nil {
		return fmt.Errorf("%w: release %s/%s: %w", ErrBusy, namespace, name, err)
	}
	defer unlock()
	ac, err := i.actionConfig(cfg, namespace, log)
	if err != nil {
		return err
	}
	last, err := i.lastRelease(ctx, ac, namespace, name)
	if err != nil || last == nil {
		return err
	}
	un := action.NewUninstall(ac)
	un.Timeout = i.opts.Timeout
	un.IgnoreNotFound = true
	un.DeletionPropagation = "background"
	_, err = withContext(ctx, func() (*release.UninstallReleaseResponse, error) { return un.Run(name) })
	if err != nil {
		return fmt.Errorf("%w: uninstall of %s/%s: %w", ErrRelease, namespace, name, err)
	}
	log.V(1).Info("pack uninstalled")
	return nil
}

// List returns the latest revision of every release this package made in
// the cluster, in all namespaces, sorted by namespace and name. Releases
// without LabelManaged are not read.
func (i *Installer) List(ctx context.Context, cfg *rest.Config) ([]Release, error) {
	ctx, cancel := context.WithTimeout(ctx, i.opts.Timeout)
	defer cancel()
	cs, err := kubernetes.NewForConfig(withTimeout(cfg, i.opts.Timeout))
	if err != nil {
		return nil, fmt.Errorf("%w: tenant client: %w", ErrRelease, err)
	}
	store := driver.NewSecrets(cs.CoreV1().Secrets(""))
	rels, err := withContext(ctx, func() ([]*release.Release, error) {
		return store.Query(map[string]string{"owner": "helm", LabelManaged: "true"})
	})
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: listing releases: %w", ErrRelease, err)
	}
	latest := map[string]*release.Release{}
	for _, r := range rels {
		k := r.Namespace + "/" + r.Name
		if cur, ok := latest[k]; !ok || r.Version > cur.Version {
			latest[k] = r
		}
	}
	out := make([]Release, 0, len(latest))
	for _, r := range latest {
		res := resultOf(r, false)
		out = append(out, Release{
			Name: r.Name, Namespace: r.Namespace, Revision: r.Version,
			Status: r.Info.Status.String(), ChartName: res.ChartName, ChartVersion: res.ChartVersion,
		})
	}
	slices.SortFunc(out, func(a, b Release) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

// lastRelease returns the newest revision, nil when there is none, and
// ErrNotManaged when it was not made by this package.
func (i *Installer) lastRelease(ctx context.Context, ac *action.Configuration, namespace, name string) (*release.Release, error) {
	last, err := withContext(ctx, func() (*release.Release, error) { return ac.Releases.Last(name) })
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading release %s/%s: %w", ErrRelease, namespace, name, err)
	}
	if last.Labels[LabelManaged] != "true" {
		return nil, fmt.Errorf("%w: %s/%s (revision %d, chart %s) was installed by someone else; remove or rename it",
			ErrNotManaged, namespace, name, last.Version, resultOf(last, false).ChartName)
	}
	return last, nil
}

func (i *Installer) recoverPending(ac *action.Configuration, last *release.Release, log logr.Logger) error {
	since := last.Info.LastDeployed.Time
	if age := time.Since(since); age < i.opts.StaleAfter {
		return fmt.Errorf("%w: %s/%s revision %d is %s since %s", ErrBusy, last.Namespace, last.Name,
			last.Version, last.Info.Status, since.UTC().Format(time.RFC3339))
	}
	prev := last.Info.Status
	last.SetStatus(release.StatusFailed, fmt.Sprintf("marked failed by maas-gateway packs: %s for longer than %s, the operation was interrupted", prev, i.opts.StaleAfter))
	if err := ac.Releases.Update(last); err != nil {
		return fmt.Errorf("%w: marking stale %s revision %d of %s/%s failed: %w", ErrRelease, prev, last.Version, last.Namespace, last.Name, err)
	}
	log.Info("stale pending release marked failed", "revision", last.Version, "was", prev.String())
	return nil
}

// logger prefers the caller's contextual logger, which names the objects
// being reconciled, over the one the Installer was made with.
func (i *Installer) logger(ctx context.Context) logr.Logger {
	if l, err := logr.FromContext(ctx); err == nil {
		return l
	}
	return i.opts.Log
}

func (i *Installer) actionConfig(cfg *rest.Config, namespace string, log logr.Logger) (*action.Configuration, error) {
	getter, err := newRESTGetter(withTimeout(cfg, i.opts.Timeout), namespace)
	if err != nil {
		return nil, fmt.Errorf("%w: tenant client: %w", ErrRelease, err)
	}
	ac := &action.Configuration{}
	helmLog := func(format string, v ...any) { log.V(2).Info(fmt.Sprintf(format, v...)) }
	if err := ac.Init(getter, namespace, "secret", helmLog); err != nil {
		return nil, fmt.Errorf("%w: helm configuration: %w", ErrRelease, err)
	}
	return ac, nil
}

// withTimeout bounds every request to the tenant, so that Helm calls that
// take no context still end.
func withTimeout(cfg *rest.Config, d time.Duration) *rest.Config {
	c := rest.CopyConfig(cfg)
	if c.Timeout == 0 || c.Timeout > d {
		c.Timeout = d
	}
	return c
}

func resultOf(r *release.Release, changed bool) Result {
	res := Result{Revision: r.Version, Changed: changed}
	if r.Chart != nil && r.Chart.Metadata != nil {
		res.ChartName, res.ChartVersion = r.Chart.Metadata.Name, r.Chart.Metadata.Version
	}
	return res
}

func lockKey(cfg *rest.Config, namespace, name string) string {
	return cfg.Host + "\x00" + namespace + "\x00" + name
}

func validateName(name, namespace string) error {
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return fmt.Errorf("%w: release name %q: %v", ErrInvalid, name, err)
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return fmt.Errorf("%w: namespace %q: %s", ErrInvalid, namespace, strings.Join(errs, "; "))
	}
	return nil
}

func validatePack(p Pack) error {
	if err := validateName(p.Name, p.Namespace); err != nil {
		return err
	}
	s := p.Source
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: pack %s/%s: %s", ErrInvalid, p.Namespace, p.Name, fmt.Sprintf(format, args...))
	}
	if s.Manifests != "" {
		if s.Repository != "" || s.Chart != "" {
			return invalid("manifests and a chart repository are mutually exclusive")
		}
		if len(s.Manifests) > maxManifestsBytes {
			return invalid("manifests are %d bytes, more than the %d allowed", len(s.Manifests), maxManifestsBytes)
		}
		return nil
	}
	u, err := url.Parse(s.Repository)
	if err != nil || s.Repository == "" {
		return invalid("repository %q is not a URL", s.Repository)
	}
	switch {
	case u.User != nil:
		return invalid("repository URL carries credentials; put them in Auth")
	case u.Host == "":
		return invalid("repository %q has no host", s.Repository)
	case u.RawQuery != "" || u.Fragment != "":
		return invalid("repository %q has a query or fragment", s.Repository)
	case u.Scheme == "oci":
	case u.Scheme == "http" || u.Scheme == "https":
		if s.Chart == "" {
			return invalid("no chart named for repository %s", s.Repository)
		}
	default:
		return invalid("repository %q: scheme must be https, http or oci", s.Repository)
	}
	if s.Auth != nil && len(s.Auth.CA) > 0 {
		if err := checkPEM(s.Auth.CA); err != nil {
			return invalid("CA bundle: %v", err)
		}
	}
	if p.Values != nil && depth(p.Values, 0) > maxValuesDepth {
		return invalid("values are nested more than %d levels", maxValuesDepth)
	}
	return nil
}

func checkPEM(data []byte) error {
	found := false
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return err
		}
		found = true
	}
	if !found {
		return errors.New("no PEM certificate found")
	}
	return nil
}

// keyedLock is a mutex per key whose waiters give up with their context.
type keyedLock struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

func (k *keyedLock) lock(ctx context.Context, key string) (func(), error) {
	for {
		k.mu.Lock()
		ch, busy := k.held[key]
		if !busy {
			ch = make(chan struct{})
			k.held[key] = ch
			k.mu.Unlock()
			return func() {
				k.mu.Lock()
				delete(k.held, key)
				k.mu.Unlock()
				close(ch)
			}, nil
		}
		k.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
