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
	"fmt"

	"k8s.io/client-go/rest"

	"github.com/maas-gateway/maas-gateway/internal/packs"
)

// NetworkPluginRelease is the name (and kube-system the namespace) of the
// Helm release PackNetworkPlugin makes: a re-run finds it and changes
// nothing unless what it was made from changed.
const NetworkPluginRelease = "gateway-network-plugin"

// PackNetworkPlugin installs the gateway cluster's pod network as a pack,
// the way the operator installs a tenant cluster's CNI: a chart from a
// repository or registry, or plain manifests (a CNI's published YAML),
// released with Helm in kube-system. kubeadm init installs no network
// plugin, and a Node turns Ready only once one runs.
type PackNetworkPlugin struct {
	// Source is the chart or the manifests.
	Source packs.Source
	// Values are the chart's values; ignored for manifests.
	Values map[string]any
	// Installer installs the release; nil means one with the defaults.
	Installer *packs.Installer
}

// Apply installs or upgrades the release. It does not wait for the
// network plugin to run: the first node's readiness, the next step, does.
func (p PackNetworkPlugin) Apply(ctx context.Context, cfg *rest.Config) (string, error) {
	inst := p.Installer
	if inst == nil {
		inst = packs.NewInstaller(packs.Options{})
	}
	res, err := inst.Apply(ctx, cfg, packs.Pack{Name: NetworkPluginRelease, Namespace: "kube-system", Source: p.Source, Values: p.Values})
	if err != nil {
		return "", fmt.Errorf("network plugin: %w", err)
	}
	what := "unchanged"
	switch {
	case res.Changed && res.Revision > 1:
		what = "upgraded"
	case res.Changed:
		what = "installed"
	}
	return fmt.Sprintf("release kube-system/%s %s (%s %s, revision %d)", NetworkPluginRelease, what,
		res.ChartName, res.ChartVersion, res.Revision), nil
}
