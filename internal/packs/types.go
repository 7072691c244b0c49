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
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/go-logr/logr"
)

const (
	// LabelManaged marks the releases this package made. Only releases
	// carrying it are listed, upgraded or uninstalled, so a user's own Helm
	// releases in a tenant cluster are never touched.
	LabelManaged = "packs.maasgateway.io/managed"
	// LabelDigest holds the digest of what a release was made from (see
	// [Installer.Apply]); a label rather than status, so that a restarted
	// operator or a wiped status still knows whether a release is current.
	LabelDigest = "packs.maasgateway.io/digest"
)

// Errors are classified once here so that callers branch on the class with
// errors.Is, never on message text. Every error this package returns for a
// pack wraps exactly one of them.
var (
	// ErrInvalid: the pack itself is wrong (name, source, values YAML);
	// retrying without changing it cannot help.
	ErrInvalid = errors.New("invalid pack")
	// ErrNotManaged: a release of that name exists in the namespace but was
	// not made by this package; it is left alone until a person removes it.
	ErrNotManaged = errors.New("release exists and is not managed by packs")
	// ErrFetch: the chart or repository index could not be obtained
	// (network, authentication, missing chart or version). Often transient.
	ErrFetch = errors.New("chart fetch failed")
	// ErrBusy: another operation on the release is in progress (a pending
	// release younger than the stale bound). Retry later.
	ErrBusy = errors.New("release operation in progress")
	// ErrRelease: Helm failed to render or apply the chart, or the tenant
	// cluster refused the objects; the message is Helm's.
	ErrRelease = errors.New("helm release failed")
)

// Auth holds the credentials of a chart source.
type Auth struct {
	// Username and Password are sent as HTTP basic auth to the repository's
	// host (never to other hosts an index points at) or to the OCI registry.
	Username, Password string
	// CA is a PEM bundle trusted in addition to the system roots.
	CA []byte
}

// Source says where a pack's chart comes from: a chart repository, an OCI
// registry, or plain manifests.
type Source struct {
	// Repository is an http(s):// Helm repository (serving index.yaml) or an
	// oci:// registry path. Credentials belong in Auth, not in the URL.
	Repository string
	// Chart is the chart name in the repository. For oci:// it is appended
	// to Repository as a path element; it may be empty when Repository
	// already names the chart (oci://host/charts/addon).
	Chart string
	// Version is an exact version or a semver constraint as Helm accepts
	// ("1.2.3", "~1.2", ">=1.0 <2"); empty means the latest stable version.
	Version string
	// Manifests, set instead of Repository and Chart, are YAML documents
	// installed verbatim as a release of a chart built in memory. They are
	// never templated, so "{{" in them stays as written.
	Manifests string
	// Auth is optional.
	Auth *Auth
}

// Pack is one release to make in a tenant cluster.
type Pack struct {
	// Name is the Helm release name, unique within Namespace.
	Name string
	// Namespace holds the release and its storage Secrets; it is created
	// when missing.
	Namespace string
	Source    Source
	// Values are the user values given to the chart (see MergeValues);
	// ignored for manifests.
	Values map[string]any
}

// Result reports the release after Apply.
type Result struct {
	Revision     int
	ChartName    string
	ChartVersion string
	// Changed is true when Apply installed or upgraded, false for a no-op.
	Changed bool
}

// Release is a release made by this package, as List reports it.
type Release struct {
	Name, Namespace string
	Revision        int
	// Status is Helm's release status: deployed, failed, pending-install…
	Status       string
	ChartName    string
	ChartVersion string
}

// Options configure an Installer.
type Options struct {
	// Proxy chooses the proxy for chart downloads, as http.Transport.Proxy
	// does. Nil means no proxy: the environment is deliberately not read,
	// because the gateway's proxy settings are the ones that apply.
	Proxy func(*http.Request) (*url.URL, error)
	// CacheBytes bounds the memory held by downloaded charts and repository
	// indexes. Zero means 64 MiB; negative disables the cache.
	CacheBytes int64
	// Timeout bounds each operation (fetch plus one Helm action). Zero means
	// two minutes.
	Timeout time.Duration
	// StaleAfter is how old a pending release must be before Apply decides
	// the operation that left it died and marks it failed. Zero means twice
	// Timeout.
	StaleAfter time.Duration
	// IndexTTL is how long a repository index is reused. Zero means five
	// minutes.
	IndexTTL time.Duration
	// Log is used when the context of a call carries no logger.
	Log logr.Logger
}

const (
	defaultCacheBytes = 64 << 20
	defaultTimeout    = 2 * time.Minute
	defaultIndexTTL   = 5 * time.Minute
	// maxHistory bounds the release Secrets per release: a failing pack
	// retried for days must not fill the tenant's etcd.
	maxHistory = 10
)
