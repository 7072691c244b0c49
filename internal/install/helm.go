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

package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/client-go/rest"

	"github.com/maas-gateway/maas-gateway/charts"
	"github.com/maas-gateway/maas-gateway/internal/packs"
)

// ReleaseName is the Helm release the installer makes in both clusters.
const ReleaseName = "maas-gateway"

// labelDigest marks a release with what it was installed from (chart
// version, mode, values), so that a re-run knows it current.
const labelDigest = "install.maasgateway.io/digest"

// HelmInstaller installs the chart embedded in this binary with the Helm
// SDK: what `helm upgrade --install --wait` would do with it.
type HelmInstaller struct {
	// Values are the user's chart values (the image, resources...); the
	// installer's own (below) take precedence over them.
	Values map[string]any
	// Timeout bounds one install or upgrade, its wait included. Default 10 minutes.
	Timeout time.Duration
	// NoWait returns once Helm has applied the objects, without waiting
	// for the manager to run: for clusters with no nodes (tests).
	NoWait bool
}

// LoadChart loads the embedded chart.
func LoadChart() (*chart.Chart, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(charts.MaasGateway, charts.MaasGatewayDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(charts.MaasGateway, p)
		if err != nil {
			return err
		}
		rel, _ := relPath(charts.MaasGatewayDir, p)
		files = append(files, &loader.BufferedFile{Name: rel, Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the embedded chart: %w", err)
	}
	return loader.LoadFiles(files)
}

func relPath(root, p string) (string, bool) {
	if len(p) > len(root) && p[:len(root)] == root && p[len(root)] == '/' {
		return path.Clean(p[len(root)+1:]), true
	}
	return p, false
}

// values are the user's values with the installer's on top: no
// cert-manager in either cluster (the chart makes the webhook's
// certificate), no Gateway from the chart (the installer makes it from
// pcg.yaml), and --outside-gateway in the bootstrap cluster.
func (h HelmInstaller) values(mode Mode) (map[string]any, error) {
	user, err := deepCopyValues(h.Values)
	if err != nil {
		return nil, err
	}
	var extra []any
	if m, ok := user["manager"].(map[string]any); ok {
		if l, ok := m["extraArgs"].([]any); ok {
			extra = append(extra, l...)
		}
	}
	if mode == ModeOutside {
		extra = append(extra, "--outside-gateway")
	}
	own := map[string]any{
		"manager": map[string]any{"extraArgs": extra},
		"webhook": map[string]any{"certManager": map[string]any{"enabled": false}},
		"gateway": map[string]any{"create": false},
	}
	return chartutil.CoalesceTables(own, user), nil
}

func deepCopyValues(v map[string]any) (map[string]any, error) {
	out := map[string]any{}
	if v == nil {
		return out, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("chart values: %w", err)
	}
	return out, json.Unmarshal(data, &out)
}

func digest(ch *chart.Chart, mode Mode, values map[string]any) (string, error) {
	data, err := json.Marshal(map[string]any{"chart": ch.Metadata.Version, "mode": mode, "values": values})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16], nil
}

func (h HelmInstaller) prepare(cfg *rest.Config, namespace string, mode Mode) (*action.Configuration, *chart.Chart, map[string]any, string, error) {
	ch, err := LoadChart()
	if err != nil {
		return nil, nil, nil, "", err
	}
	vals, err := h.values(mode)
	if err != nil {
		return nil, nil, nil, "", err
	}
	d, err := digest(ch, mode, vals)
	if err != nil {
		return nil, nil, nil, "", err
	}
	getter, err := packs.NewRESTClientGetter(cfg, namespace)
	if err != nil {
		return nil, nil, nil, "", err
	}
	ac := &action.Configuration{}
	if err := ac.Init(getter, namespace, "secret", func(string, ...any) {}); err != nil {
		return nil, nil, nil, "", fmt.Errorf("helm: %w", err)
	}
	return ac, ch, vals, d, nil
}

func last(ac *action.Configuration) (*release.Release, error) {
	rel, err := ac.Releases.Last(ReleaseName)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	return rel, err
}

// Installed is done when the newest release is deployed from this chart,
// mode and values.
func (h HelmInstaller) Installed(_ context.Context, cfg *rest.Config, namespace string, mode Mode) (bool, string, error) {
	ac, ch, _, d, err := h.prepare(cfg, namespace, mode)
	if err != nil {
		return false, "", err
	}
	rel, err := last(ac)
	if err != nil || rel == nil {
		return false, "", err
	}
	if rel.Info.Status != release.StatusDeployed || rel.Labels[labelDigest] != d {
		return false, "", nil
	}
	return true, fmt.Sprintf("release %s/%s revision %d, chart %s", namespace, ReleaseName, rel.Version, ch.Metadata.Version), nil
}

// Install installs or upgrades the release and waits until its workloads
// are ready (so the webhooks serve when the Gateway is created).
func (h HelmInstaller) Install(ctx context.Context, cfg *rest.Config, namespace string, mode Mode) (string, error) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ac, ch, vals, d, err := h.prepare(cfg, namespace, mode)
	if err != nil {
		return "", err
	}
	prev, err := last(ac)
	if err != nil {
		return "", fmt.Errorf("reading release %s/%s: %w", namespace, ReleaseName, err)
	}
	labels := map[string]string{labelDigest: d}
	var rel *release.Release
	if prev == nil || prev.Info.Status == release.StatusUninstalled {
		in := action.NewInstall(ac)
		in.ReleaseName, in.Namespace = ReleaseName, namespace
		in.CreateNamespace, in.Wait, in.Timeout, in.Labels = true, !h.NoWait, timeout, labels
		in.Replace = prev != nil
		rel, err = in.RunWithContext(ctx, ch, vals)
	} else {
		if prev.Info.Status.IsPending() {
			// An installer killed mid-operation leaves the release
			// pending, which Helm refuses to upgrade; nothing else
			// works on this release, so it is marked failed and redone.
			prev.SetStatus(release.StatusFailed, "marked failed by maas-gateway install: the operation was interrupted")
			if err := ac.Releases.Update(prev); err != nil {
				return "", fmt.Errorf("marking the interrupted release failed: %w", err)
			}
		}
		up := action.NewUpgrade(ac)
		up.Namespace, up.Wait, up.Timeout, up.Labels, up.ResetValues = namespace, !h.NoWait, timeout, labels, true
		up.MaxHistory = 5
		rel, err = up.RunWithContext(ctx, ReleaseName, ch, vals)
	}
	if err != nil {
		return "", fmt.Errorf("helm release %s/%s: %w", namespace, ReleaseName, err)
	}
	return fmt.Sprintf("release %s/%s revision %d, chart %s (%s)", namespace, ReleaseName, rel.Version,
		ch.Metadata.Version, mode), nil
}
