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

// Package catalog reads the gateway release catalog: the releases (OS image,
// Kubernetes version, component versions) that the Helm chart publishes in a
// ConfigMap and `helm upgrade` updates. The upgrade controller compares the
// gateway's release with the catalog to announce and roll upgrades.
package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// DataKey is the ConfigMap key that holds the catalog document.
const DataKey = "releases.yaml"

// Release is one entry of the catalog.
type Release struct {
	// Version identifies the release; releases are ordered by it (semver).
	Version string `json:"version"`
	// OSImage is the MAAS boot resource gateway nodes are deployed with.
	OSImage string `json:"osImage"`
	// KubernetesVersion the gateway nodes run.
	KubernetesVersion string `json:"kubernetesVersion"`
	// Components maps each gateway component (e.g. manager) to its version.
	Components map[string]string `json:"components,omitempty"`
	// Notes tell the administrator what the release changes.
	Notes string `json:"notes,omitempty"`

	semver *version.Version
}

// Catalog is a validated list of releases, newest first.
type Catalog struct {
	releases []Release
}

type document struct {
	Releases []Release `json:"releases"`
}

var (
	osImagePattern = regexp.MustCompile(`^[a-z0-9][-a-z0-9_.]*(/[-a-z0-9_.]+)?$`)
	k8sPattern     = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)
)

// ParseVersion parses a release version ("1.2.0" or "v1.2.0", with optional
// pre-release and build parts).
func ParseVersion(s string) (*version.Version, error) {
	if len(s) > 64 {
		return nil, fmt.Errorf("release version is %d characters long; at most 64 are allowed", len(s))
	}
	v, err := version.ParseSemantic(s)
	if err != nil {
		return nil, fmt.Errorf("release version %q is not a semantic version such as 1.2.0", s)
	}
	return v, nil
}

// Parse reads a catalog document. Every release must have a unique semantic
// version, an OS image and a Kubernetes version; errors name the release.
func Parse(data []byte) (*Catalog, error) {
	var doc document
	if err := yaml.UnmarshalStrict(data, &doc); err != nil {
		return nil, fmt.Errorf("release catalog is not valid: %w", err)
	}
	var errs []error
	seen := map[string]bool{}
	for i := range doc.Releases {
		r := &doc.Releases[i]
		v, err := ParseVersion(r.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("releases[%d]: %w", i, err))
			continue
		}
		r.semver = v
		canonical := v.String()
		if seen[canonical] {
			errs = append(errs, fmt.Errorf("releases[%d]: version %s appears twice", i, r.Version))
		}
		seen[canonical] = true
		if !osImagePattern.MatchString(r.OSImage) {
			errs = append(errs, fmt.Errorf("release %s: osImage %q is not a MAAS image name such as ubuntu/jammy", r.Version, r.OSImage))
		}
		if !k8sPattern.MatchString(r.KubernetesVersion) {
			errs = append(errs, fmt.Errorf("release %s: kubernetesVersion %q is not of the form v1.34.2", r.Version, r.KubernetesVersion))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(doc.Releases, func(a, b Release) int {
		switch {
		case a.semver.GreaterThan(b.semver):
			return -1
		case a.semver.LessThan(b.semver):
			return 1
		}
		return 0
	})
	return &Catalog{releases: doc.Releases}, nil
}

// Releases returns the releases, newest first.
func (c *Catalog) Releases() []Release {
	return slices.Clone(c.releases)
}

// Newest returns the newest release, if any.
func (c *Catalog) Newest() (Release, bool) {
	if len(c.releases) == 0 {
		return Release{}, false
	}
	return c.releases[0], true
}

// Find returns the release with the given version ("v1.2.0" finds "1.2.0").
func (c *Catalog) Find(v string) (Release, bool) {
	want, err := ParseVersion(v)
	if err != nil {
		return Release{}, false
	}
	for _, r := range c.releases {
		if r.semver.EqualTo(want) {
			return r, true
		}
	}
	return Release{}, false
}

// UpgradeFrom returns the newest release newer than current: the upgrade to
// announce. Pre-releases are announced only to a gateway already on a
// pre-release, as administrators of production gateways expect.
func (c *Catalog) UpgradeFrom(current string) (Release, bool) {
	cur, err := ParseVersion(current)
	if err != nil {
		return Release{}, false
	}
	for _, r := range c.releases {
		if !r.semver.GreaterThan(cur) {
			return Release{}, false
		}
		if r.semver.PreRelease() == "" || cur.PreRelease() != "" {
			return r, true
		}
	}
	return Release{}, false
}

// Resolve turns a Gateway's spec.release into the full release to run: the
// catalog entry of its version with the spec's overrides applied. A version
// the catalog does not hold resolves only when the spec names both the OS
// image and the Kubernetes version itself.
func (c *Catalog) Resolve(spec infrav1.Release) (Release, error) {
	r, ok := c.Find(spec.Version)
	if !ok {
		if spec.OSImage == "" || spec.KubernetesVersion == "" {
			return Release{}, fmt.Errorf("release %s is not in the catalog (known: %s); set osImage and kubernetesVersion to use it anyway",
				spec.Version, strings.Join(c.versions(), ", "))
		}
		v, err := ParseVersion(spec.Version)
		if err != nil {
			return Release{}, err
		}
		r = Release{Version: spec.Version, semver: v}
	}
	if spec.OSImage != "" {
		r.OSImage = spec.OSImage
	}
	if spec.KubernetesVersion != "" {
		r.KubernetesVersion = spec.KubernetesVersion
	}
	return r, nil
}

// API returns the release as the Gateway API spells it.
func (r Release) API() infrav1.Release {
	return infrav1.Release{Version: r.Version, OSImage: r.OSImage, KubernetesVersion: r.KubernetesVersion}
}

func (c *Catalog) versions() []string {
	out := make([]string, 0, len(c.releases))
	for _, r := range c.releases {
		out = append(out, r.Version)
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}
