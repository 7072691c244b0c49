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

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/packs/packstest"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// createProfile creates the sample ClusterProfile the sample TenantCluster
// names. The sample's charts are on the internet, which the demo never
// reaches: with emulated control planes it serves its own on loopback (a
// network plugin whose DaemonSet mounts /etc/cni/net.d, which is what the
// emulated kubelets wait for, and an add-on) under the sample's pack names;
// without them there is no cluster to install into, and the packs go.
func (d *demo) createProfile(ctx context.Context) error {
	p := d.samples.profile.DeepCopy()
	p.Namespace = namespace
	if d.env.ControlPlanes == nil {
		p.Spec.Packs = nil
		d.t.note("ClusterProfile %s without its packs: no emulated control planes to install them into", p.Name)
	} else {
		charts := filepath.Join(envtest.RepoRoot(), "internal", "packs", "testdata", "charts")
		// Served until the demo ends.
		repo, err := packstest.Serve(filepath.Join(charts, "cni"), filepath.Join(charts, "addon"))
		if err != nil {
			return errorf("serving the demo's charts: %w", err)
		}
		var names []string
		for i := range p.Spec.Packs {
			pack := &p.Spec.Packs[i]
			chart, version := "addon", "0.1.0"
			if pack.Layer == infrav1.PackLayerCNI {
				chart, version = "cni", "1.0.0"
			}
			pack.Chart = &infrav1.ChartSource{Repository: repo.URL(), Name: chart, Version: version}
			names = append(names, fmt.Sprintf("%s (%s, chart %s)", pack.Name, pack.Layer, chart))
		}
		d.t.note("ClusterProfile %s: packs %s from the demo's chart repository at %s",
			p.Name, strings.Join(names, ", "), repo.URL())
	}
	if p.Spec.KubernetesVersion == "" {
		p.Spec.KubernetesVersion = kubernetesVersion
	}
	if err := d.c().Create(ctx, p); err != nil {
		return errorf("creating ClusterProfile %s: %w", p.Name, err)
	}
	return nil
}

// showPacks prints the cluster's packs as its status says and as Helm
// stored them in the cluster (what helm list reads: one Secret per release
// revision), read with the admin kubeconfig.
func (d *demo) showPacks(ctx context.Context, tc *infrav1.TenantCluster) error {
	got := &infrav1.TenantCluster{}
	if err := d.c().Get(ctx, client.ObjectKeyFromObject(tc), got); err != nil {
		return err
	}
	if len(got.Status.Packs) == 0 {
		return nil
	}
	d.t.note("status.packs   (profile %s revision %d)", got.Spec.ProfileRef.Name, got.Status.Profile.Revision)
	d.t.note("  %-16s %-12s %-8s %-8s %s", "PACK", "NAMESPACE", "CHART", "VERSION", "REVISION/STATE")
	for _, p := range got.Status.Packs {
		d.t.note("  %-16s %-12s %-8s %-8s %d %s", p.Name, p.Namespace, p.Chart, p.Version, p.Revision, p.State)
	}
	tenant, err := d.tenantClient(ctx, got)
	if err != nil {
		return err
	}
	secrets := &corev1.SecretList{}
	if err := tenant.List(ctx, secrets, client.MatchingLabels{"owner": "helm"}); err != nil {
		return errorf("listing Helm's release Secrets in the cluster: %w", err)
	}
	var rows []string
	for _, s := range secrets.Items {
		rows = append(rows, fmt.Sprintf("  %-16s %-12s %-9s %s",
			s.Labels["name"], s.Namespace, s.Labels["status"], s.Labels["version"]))
	}
	slices.Sort(rows)
	d.t.note("helm list -A   (the release Secrets in the cluster)")
	d.t.note("  %-16s %-12s %-9s %s", "NAME", "NAMESPACE", "STATUS", "REVISION")
	for _, r := range rows {
		d.t.note("%s", r)
	}
	return nil
}
