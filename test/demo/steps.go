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
	"net/url"
	"slices"
	"strings"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/catalog"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/test/harness"
)

const (
	// namespace holds the demo's objects, as the chart's release namespace would.
	namespace = "maas-system"
	// catalogName is the release catalog ConfigMap (--release-catalog).
	catalogName = "maas-gateway-releases"
	// kubernetesVersion is what the gateway and the tenant clusters run:
	// the envtest API server's own version.
	kubernetesVersion = "v1.34.2"
	tenantVIP         = "10.30.0.100"
	queuedVIP         = "10.30.0.110"
	queuedName        = "tenantcluster-queued"
)

// The two releases of the demo's catalog: the gateway starts on the first,
// the second is published during the walk, as `helm upgrade` would.
var (
	releaseOld = catalog.Release{Version: "1.0.0", OSImage: "ubuntu/jammy", KubernetesVersion: kubernetesVersion,
		Components: map[string]string{"manager": "v1.0.0"}, Notes: "The demo's first release."}
	releaseNew = catalog.Release{Version: "1.1.0", OSImage: "ubuntu/noble", KubernetesVersion: kubernetesVersion,
		Components: map[string]string{"manager": "v1.1.0"}, Notes: "Nodes move to Ubuntu 24.04."}
)

// demo is the walk's state: what earlier steps made, later ones use.
type demo struct {
	env     *harness.Env
	client  client.Client
	t       *timeline
	cfg     config
	samples *samples

	prep    *harness.PreparedGateway
	gwKey   client.ObjectKey
	account client.ObjectKey
	tenant  client.ObjectKey
}

func (d *demo) steps() []step {
	return []step{
		{title: "Gateway with 1 node", fatal: true, run: d.createGateway},
		{title: "Resize the gateway to 3 nodes", fatal: true, run: d.resize},
		{title: "CloudAccount validated against MAAS", fatal: true, run: d.createAccount},
		{title: "TenantCluster provisioned", fatal: true, run: d.createTenant},
		{title: "Gateway upgrade, new tenant queued", run: d.upgrade},
		{title: "Gateway deletion refused while in use", run: d.deleteRefused},
		{title: "Tenant clusters deleted, machines back in MAAS", fatal: true, run: d.deleteTenants},
		{title: "Gateway deleted", run: d.deleteGateway},
	}
}

func (d *demo) c() client.Client { return d.client }

func (d *demo) gateway(ctx context.Context) (*infrav1.Gateway, error) {
	gw := &infrav1.Gateway{}
	return gw, d.c().Get(ctx, d.gwKey, gw)
}

// publishCatalog creates or replaces the release catalog ConfigMap.
func (d *demo) publishCatalog(ctx context.Context, releases ...catalog.Release) error {
	doc, err := yaml.Marshal(map[string]any{"releases": releases})
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: catalogName}}
	if err := d.c().Get(ctx, client.ObjectKeyFromObject(cm), cm); apierrors.IsNotFound(err) {
		cm.Data = map[string]string{catalog.DataKey: string(doc)}
		return d.c().Create(ctx, cm)
	} else if err != nil {
		return err
	}
	cm.Data = map[string]string{catalog.DataKey: string(doc)}
	return d.c().Update(ctx, cm)
}

// gatewayState is a Gateway in a few words, for progress lines.
func gatewayState(gw *infrav1.Gateway) string {
	var b strings.Builder
	fmt.Fprintf(&b, "gateway phase=%s ready=%d/%d",
		orDash(string(gw.Status.Phase)), gw.Status.ReadyReplicas, gw.Spec.Replicas)
	for _, t := range []string{infrav1.GatewayResized, infrav1.GatewayMAASReachable} {
		c := meta.FindStatusCondition(gw.Status.Conditions, t)
		if c != nil && c.Status != metav1.ConditionTrue && c.Reason != "" {
			fmt.Fprintf(&b, " %s=%s(%s)", t, c.Status, c.Reason)
		}
	}
	if meta.IsStatusConditionTrue(gw.Status.Conditions, infrav1.GatewayUpgrading) {
		b.WriteString(" Upgrading=True")
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Step 1: the Gateway of the sample, on the machine helm install ran on.
func (d *demo) createGateway(ctx context.Context) (string, error) {
	if err := d.env.EnsureNamespace(ctx, namespace); err != nil {
		return "", err
	}
	if err := d.publishCatalog(ctx, releaseOld); err != nil {
		return "", errorf("publishing the release catalog: %w", err)
	}
	gw := d.samples.gateway.DeepCopy()
	// The first node comes from where the sample places the gateway, and
	// the API key goes in the Secret the sample names.
	prep, err := d.env.PrepareGateway(ctx, harness.GatewayPrep{
		Namespace: namespace, Name: gw.Name, SecretName: gw.Spec.MAAS.CredentialsSecretRef.Name,
		Adopt: true, AdoptZone: gw.Spec.Placement.Zone, AdoptPool: gw.Spec.Placement.ResourcePool,
	})
	if err != nil {
		return "", err
	}
	d.prep, d.gwKey = prep, client.ObjectKey{Namespace: namespace, Name: gw.Name}
	d.t.note("first node %s (MAAS machine %s) deployed by the installer; API key and cluster CAs in Secrets",
		prep.AdoptedNode, prep.AdoptedMachine)
	prep.Apply(gw)
	// The sample keeps its MAAS out of the proxy; so must the demo, whose
	// MAAS is the simulator on loopback.
	env := &gw.Spec.Environment
	if u, err := url.Parse(d.env.SimURL); err == nil && (env.HTTPProxy != "" || env.HTTPSProxy != "") &&
		!slices.Contains(env.NoProxy, u.Hostname()) {
		env.NoProxy = append(env.NoProxy, u.Hostname())
	}
	if gw.Spec.Placement.ResourcePool == "" {
		gw.Spec.Placement.ResourcePool = "gateway"
	}
	if gw.Spec.Release == nil {
		gw.Spec.Release = &infrav1.Release{Version: releaseOld.Version}
	}
	if err := d.c().Create(ctx, gw); err != nil {
		return "", errorf("creating Gateway %s: %w", gw.Name, err)
	}
	d.t.note("created Gateway %s/%s (replicas %d, release %s, VIP %s)", namespace, gw.Name,
		gw.Spec.Replicas, gw.Spec.Release.Version, gw.Spec.ControlPlaneEndpoint)
	var got *infrav1.Gateway
	what := "the Gateway to be Ready with 1 node"
	err = d.t.waitFor(ctx, what, d.cfg.stepTimeout, func(ctx context.Context) (bool, string, error) {
		gw, err := d.gateway(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		got = gw
		return gw.Status.Phase == infrav1.GatewayPhaseReady && gw.Status.ReadyReplicas == 1, gatewayState(gw), nil
	})
	if err != nil {
		return "", err
	}
	account := &infrav1.CloudAccount{}
	key := client.ObjectKey{Namespace: namespace, Name: got.Status.DefaultCloudAccount}
	if err := d.c().Get(ctx, key, account); err != nil {
		return "", errorf("the default CloudAccount %q: %w", got.Status.DefaultCloudAccount, err)
	}
	if owned := d.ownedBy("Gateway"); len(owned) != 0 {
		return "", errorf("a 1-node gateway on its adopted machine took %d machines from MAAS", len(owned))
	}
	return fmt.Sprintf("Ready on adopted %s; default CloudAccount %s created", prep.AdoptedNode, account.Name), nil
}

// ownedBy lists the simulator's machines the operator annotated as kind's,
// not on their way back to the free pool.
func (d *demo) ownedBy(kind string) []string {
	var out []string
	for _, m := range d.env.Sim.Machines() {
		if m.Annotations[maas.AnnotationOwnerKind] == kind && m.AgentName != "" {
			out = append(out, m.Hostname)
		}
	}
	return out
}

// Step 2: kubectl scale mgw/NAME --replicas=3.
func (d *demo) resize(ctx context.Context) (string, error) {
	gw, err := d.gateway(ctx)
	if err != nil {
		return "", err
	}
	scale := &autoscalingv1.Scale{}
	if err := d.c().SubResource("scale").Get(ctx, gw, scale); err != nil {
		return "", errorf("reading the scale subresource: %w", err)
	}
	scale.Spec.Replicas = 3
	if err := d.c().SubResource("scale").Update(ctx, gw, client.WithSubResourceBody(scale)); err != nil {
		return "", errorf("scaling to 3: %w", err)
	}
	d.t.note("kubectl scale mgw/%s --replicas=3", gw.Name)
	err = d.t.waitFor(ctx, "3 Ready gateway nodes", d.cfg.stepTimeout, func(ctx context.Context) (bool, string, error) {
		gw, err := d.gateway(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		done := gw.Status.ReadyReplicas == 3 && gw.Status.Phase == infrav1.GatewayPhaseReady &&
			meta.IsStatusConditionTrue(gw.Status.Conditions, infrav1.GatewayResized)
		return done, gatewayState(gw) + " machines: " + d.machineStates("Gateway"), nil
	})
	if err != nil {
		return "", err
	}
	nodes := &corev1.NodeList{}
	if err := d.c().List(ctx, nodes, client.MatchingLabels{infrav1.LabelGateway: d.gwKey.Name}); err != nil {
		return "", err
	}
	var names []string
	for _, n := range nodes.Items {
		names = append(names, n.Name)
	}
	if len(names) != 2 {
		return "", errorf("%d Nodes joined the gateway cluster (%v), want 2", len(names), names)
	}
	slices.Sort(names)
	return fmt.Sprintf("%s deployed from MAAS and joined as control-plane Nodes; 3/3 Ready",
		strings.Join(names, " and ")), nil
}

// machineStates lists the MAAS states of kind's machines, e.g.
// "node-03 Deploying, node-04 Deployed".
func (d *demo) machineStates(kind string) string {
	var parts []string
	for _, m := range d.env.Sim.Machines() {
		if m.Annotations[maas.AnnotationOwnerKind] == kind && m.AgentName != "" {
			parts = append(parts, m.Hostname+" "+m.StatusName)
		}
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return "none yet"
	}
	return strings.Join(parts, ", ")
}

// Step 3: a CloudAccount of its own MAAS user, as the sample asks.
func (d *demo) createAccount(ctx context.Context) (string, error) {
	a := d.samples.account.DeepCopy()
	a.Namespace = namespace
	if a.Spec.CredentialsSecretRef.Name == "" {
		a.Spec.CredentialsSecretRef.Name = a.Name + "-maas"
	}
	user := "tenants"
	key := d.env.Sim.AddUser(user, false)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: a.Spec.CredentialsSecretRef.Name},
		StringData: map[string]string{infrav1.DefaultAPIKeyKey: key},
	}
	if err := d.c().Create(ctx, secret); err != nil {
		return "", errorf("API key Secret: %w", err)
	}
	a.Spec.GatewayRef = infrav1.GatewayReference{Name: d.gwKey.Name}
	a.Spec.Endpoint = d.env.SimURL
	if err := d.c().Create(ctx, a); err != nil {
		return "", errorf("creating CloudAccount %s: %w", a.Name, err)
	}
	d.account = client.ObjectKeyFromObject(a)
	d.t.note("created CloudAccount %s with the API key of MAAS user %q in Secret %s", a.Name, user, secret.Name)
	var got infrav1.CloudAccount
	what := "the CloudAccount's credentials to be valid"
	err := d.t.waitFor(ctx, what, d.cfg.stepTimeout, func(ctx context.Context) (bool, string, error) {
		if err := d.c().Get(ctx, d.account, &got); err != nil {
			return false, err.Error(), nil
		}
		c := meta.FindStatusCondition(got.Status.Conditions, "CredentialsValid")
		if c == nil {
			return false, "CredentialsValid not reported yet", nil
		}
		return c.Status == metav1.ConditionTrue && meta.IsStatusConditionTrue(got.Status.Conditions, infrav1.ConditionReady),
			fmt.Sprintf("CredentialsValid=%s (%s)", c.Status, c.Reason), nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("MAAS %s answers as %q; zones %s; pools %s", got.Status.MAASVersion, orDash(got.Status.User),
		strings.Join(got.Status.Zones, ","), strings.Join(got.Status.ResourcePools, ",")), nil
}

// tenantFromSample is the sample TenantCluster on the demo's account, with
// what it leaves empty filled in: 1 control plane and 2 workers.
func (d *demo) tenantFromSample(name, vip string, workers bool) *infrav1.TenantCluster {
	tc := d.samples.tenant.DeepCopy()
	tc.Namespace = namespace
	if name != "" {
		tc.Name = name
	}
	if tc.Spec.CloudAccountRef.Name == "" {
		tc.Spec.CloudAccountRef.Name = d.account.Name
	}
	if tc.Spec.ControlPlaneEndpoint == "" || name != "" {
		tc.Spec.ControlPlaneEndpoint = vip
	}
	// With emulated control planes the API server listens on this host.
	tc.Spec.ControlPlaneEndpoint = d.env.TenantVIP(tc.Spec.ControlPlaneEndpoint)
	if tc.Spec.Profile == nil && tc.Spec.ProfileRef == nil {
		tc.Spec.Profile = &infrav1.ClusterProfileSpec{KubernetesVersion: kubernetesVersion}
	}
	if tc.Spec.ControlPlane.Size == 0 {
		tc.Spec.ControlPlane.Size = 1
	}
	if tc.Spec.ControlPlane.ResourcePool == "" {
		tc.Spec.ControlPlane.ResourcePool = "tenants"
	}
	if !workers {
		tc.Spec.Workers = nil
	} else if len(tc.Spec.Workers) == 0 {
		tc.Spec.Workers = []infrav1.NodePool{{Name: "workers", Size: 2,
			MachineTemplate: infrav1.MachineTemplate{ResourcePool: "tenants", Zones: []string{"zone-a", "zone-b"}}}}
	}
	return tc
}

func tenantState(tc *infrav1.TenantCluster) string {
	s := fmt.Sprintf("%s phase=%s machines ready=%d/%d", tc.Name, orDash(string(tc.Status.Phase)),
		tc.Status.ReadyMachines, tc.Status.DesiredMachines)
	var states []string
	for _, m := range tc.Status.Machines {
		states = append(states, m.Hostname+" "+m.State)
	}
	slices.Sort(states)
	if len(states) > 0 {
		s += " [" + strings.Join(states, ", ") + "]"
	}
	return s
}

func (d *demo) waitRunning(ctx context.Context, key client.ObjectKey) (*infrav1.TenantCluster, error) {
	tc := &infrav1.TenantCluster{}
	err := d.t.waitFor(ctx, key.Name+" to be Running", d.cfg.stepTimeout, func(ctx context.Context) (bool, string, error) {
		if err := d.c().Get(ctx, key, tc); err != nil {
			return false, err.Error(), nil
		}
		if tc.Status.Phase == infrav1.TenantPhaseFailed {
			return false, tenantState(tc), errorf("phase Failed: %s", readyMessage(tc.Status.Conditions))
		}
		return tc.Status.Phase == infrav1.TenantPhaseRunning && tc.Status.DesiredMachines > 0 &&
			tc.Status.ReadyMachines == tc.Status.DesiredMachines, tenantState(tc), nil
	})
	return tc, err
}

func readyMessage(conds []metav1.Condition) string {
	if c := meta.FindStatusCondition(conds, infrav1.ConditionReady); c != nil {
		return c.Reason + ": " + c.Message
	}
	return "no Ready condition"
}

// Step 4: the sample TenantCluster, 1 control plane and 2 workers.
func (d *demo) createTenant(ctx context.Context) (string, error) {
	if err := d.createProfile(ctx); err != nil {
		return "", err
	}
	tc := d.tenantFromSample("", tenantVIP, true)
	if err := d.c().Create(ctx, tc); err != nil {
		return "", errorf("creating TenantCluster %s: %w", tc.Name, err)
	}
	d.tenant = client.ObjectKeyFromObject(tc)
	workers := int32(0)
	for _, p := range tc.Spec.Workers {
		workers += p.Size
	}
	d.t.note("created TenantCluster %s: %d control plane + %d workers, VIP %s", tc.Name,
		tc.Spec.ControlPlane.Size, workers, tc.Spec.ControlPlaneEndpoint)
	got, err := d.waitRunning(ctx, d.tenant)
	if err != nil {
		return "", err
	}
	var hosts []string
	for _, m := range got.Status.Machines {
		hosts = append(hosts, m.Hostname)
	}
	slices.Sort(hosts)
	kubeconfig := "-"
	if got.Status.KubeconfigSecretRef != nil {
		kubeconfig = got.Status.KubeconfigSecretRef.Name
	}
	if d.env.ControlPlanes != nil {
		if err := d.lookInside(ctx, got); err != nil {
			return "", err
		}
		if err := d.showPacks(ctx, got); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("Running on %s; kubeconfig in Secret %s", strings.Join(hosts, ", "), kubeconfig), nil
}

// Step 5: publish a newer release, see it announced, apply it; while the
// nodes roll, a new TenantCluster waits in Queued, then provisions.
func (d *demo) upgrade(ctx context.Context) (string, error) {
	if err := d.publishCatalog(ctx, releaseNew, releaseOld); err != nil {
		return "", errorf("publishing release %s: %w", releaseNew.Version, err)
	}
	d.t.note("published release %s in the catalog (as helm upgrade would)", releaseNew.Version)
	var from string
	what := "the upgrade to be announced (status.availableUpgrade)"
	err := d.t.waitFor(ctx, what, 30*time.Second, func(ctx context.Context) (bool, string, error) {
		gw, err := d.gateway(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		if gw.Status.CurrentRelease != nil {
			from = gw.Status.CurrentRelease.Version
		}
		if gw.Status.AvailableUpgrade == nil {
			return false, fmt.Sprintf("current release %s, no upgrade announced", orDash(from)), nil
		}
		return gw.Status.AvailableUpgrade.Version == releaseNew.Version,
			fmt.Sprintf("current release %s, availableUpgrade %s", orDash(from), gw.Status.AvailableUpgrade.Version), nil
	})
	if err != nil {
		return "", err
	}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		gw, err := d.gateway(ctx)
		if err != nil {
			return err
		}
		gw.Spec.Release = &infrav1.Release{Version: releaseNew.Version}
		return d.c().Update(ctx, gw)
	}); err != nil {
		return "", errorf("setting spec.release: %w", err)
	}
	d.t.note("spec.release set to %s", releaseNew.Version)
	upgradeStart := time.Now()

	minReady := int32(3)
	// Everything the upgrade must hold while it runs is checked at each look.
	watchGateway := func(ctx context.Context) (*infrav1.Gateway, error) {
		gw, err := d.gateway(ctx)
		if err != nil {
			return nil, err
		}
		minReady = min(minReady, gw.Status.ReadyReplicas)
		return gw, nil
	}
	what = "the Gateway's Upgrading condition to turn True"
	err = d.t.waitFor(ctx, what, time.Minute, func(ctx context.Context) (bool, string, error) {
		gw, err := watchGateway(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		return meta.IsStatusConditionTrue(gw.Status.Conditions, infrav1.GatewayUpgrading), gatewayState(gw), nil
	})
	if err != nil {
		return "", errorf("%w — is the upgrade controller in this build?", err)
	}

	queued := d.tenantFromSample(queuedName, queuedVIP, false)
	if err := d.c().Create(ctx, queued); err != nil {
		return "", errorf("creating TenantCluster %s: %w", queued.Name, err)
	}
	qKey := client.ObjectKeyFromObject(queued)
	d.t.note("created TenantCluster %s (1 control plane) during the upgrade", queued.Name)
	var sawQueued bool
	err = d.t.waitFor(ctx, queued.Name+" to be Queued", 30*time.Second, func(ctx context.Context) (bool, string, error) {
		tc := &infrav1.TenantCluster{}
		if err := d.c().Get(ctx, qKey, tc); err != nil {
			return false, err.Error(), nil
		}
		if _, err := watchGateway(ctx); err != nil {
			return false, err.Error(), nil
		}
		sawQueued = tc.Status.Phase == infrav1.TenantPhaseQueued
		if !sawQueued && len(tc.Status.Machines) > 0 {
			return false, tenantState(tc), errorf("it took machines while the gateway upgrades")
		}
		return sawQueued, tenantState(tc), nil
	})
	if err != nil {
		return "", err
	}

	var gw *infrav1.Gateway
	err = d.t.waitFor(ctx, "the upgrade to finish", 2*d.cfg.stepTimeout, func(ctx context.Context) (bool, string, error) {
		g, err := watchGateway(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		gw = g
		tc := &infrav1.TenantCluster{}
		if err := d.c().Get(ctx, d.tenant, tc); err == nil && tc.Status.Phase != infrav1.TenantPhaseRunning {
			return false, tenantState(tc), errorf("%s left Running during the gateway upgrade: %s", tc.Name, tenantState(tc))
		}
		done := !meta.IsStatusConditionTrue(g.Status.Conditions, infrav1.GatewayUpgrading) &&
			g.Status.CurrentRelease != nil && g.Status.CurrentRelease.Version == releaseNew.Version &&
			g.Status.ReadyReplicas == 3 && g.Status.Phase == infrav1.GatewayPhaseReady
		return done, gatewayState(g) + " machines: " + d.machineStates("Gateway"), nil
	})
	if err != nil {
		return "", err
	}
	upgradeTook := time.Since(upgradeStart)
	if minReady < 2 {
		return "", errorf("only %d gateway nodes were Ready at one point of the upgrade; "+
			"never fewer than 2 is the promise", minReady)
	}
	if _, err := d.waitRunning(ctx, qKey); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s → %s in %s, at least %d of 3 nodes Ready throughout; %s was Queued, then Running",
		orDash(from), gw.Status.CurrentRelease.Version, round(upgradeTook), minReady, queuedName), nil
}

// Step 6: the deletion guard.
func (d *demo) deleteRefused(ctx context.Context) (string, error) {
	gw, err := d.gateway(ctx)
	if err != nil {
		return "", err
	}
	err = d.c().Delete(ctx, gw)
	if err == nil {
		return "", errorf("the API server accepted the deletion of Gateway %s while TenantClusters use it", gw.Name)
	}
	if !strings.Contains(err.Error(), "admission webhook") {
		return "", errorf("deletion failed, but not by the webhook: %w", err)
	}
	d.t.note("kubectl delete mgw/%s → %s", gw.Name, err.Error())
	if !strings.Contains(err.Error(), d.tenant.Name) {
		return "", errorf("the refusal does not name TenantCluster %s", d.tenant.Name)
	}
	if gw, err = d.gateway(ctx); err != nil {
		return "", err
	}
	if gw.DeletionTimestamp != nil {
		return "", errorf("the Gateway is being deleted despite the refusal")
	}
	return "refused by the admission webhook, naming the TenantClusters that depend on it", nil
}

// Step 7: delete every TenantCluster; each machine they held goes back to
// Ready in MAAS.
func (d *demo) deleteTenants(ctx context.Context) (string, error) {
	list := &infrav1.TenantClusterList{}
	if err := d.c().List(ctx, list, client.InNamespace(namespace)); err != nil {
		return "", err
	}
	held := map[string]string{}
	for _, m := range d.env.Sim.Machines() {
		if m.Annotations[maas.AnnotationOwnerKind] == "TenantCluster" && m.AgentName != "" {
			held[m.SystemID] = m.Hostname
		}
	}
	var names []string
	for i := range list.Items {
		tc := &list.Items[i]
		if err := d.c().Delete(ctx, tc); client.IgnoreNotFound(err) != nil {
			return "", errorf("deleting %s: %w", tc.Name, err)
		}
		names = append(names, tc.Name)
	}
	d.t.note("deleted TenantClusters %s (%d machines in MAAS)", strings.Join(names, ", "), len(held))
	what := "the TenantClusters to be gone and their machines Ready in MAAS"
	err := d.t.waitFor(ctx, what, d.cfg.stepTimeout, func(ctx context.Context) (bool, string, error) {
		left := &infrav1.TenantClusterList{}
		if err := d.c().List(ctx, left, client.InNamespace(namespace)); err != nil {
			return false, err.Error(), nil
		}
		counts := map[string]int{}
		ready := 0
		for id := range held {
			m, _ := d.env.Sim.Machine(id)
			counts[m.StatusName]++
			if m.StatusName == "Ready" {
				ready++
			}
		}
		var parts []string
		for s, n := range counts {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
		slices.Sort(parts)
		return len(left.Items) == 0 && ready == len(held),
			fmt.Sprintf("%d TenantClusters left; machines: %s", len(left.Items), strings.Join(parts, ", ")), nil
	})
	if err != nil {
		return "", err
	}
	if len(held) == 0 {
		return "", errorf("no machine was held by a TenantCluster before the deletion")
	}
	return fmt.Sprintf("%d TenantClusters gone; their %d machines are Ready again in MAAS", len(names), len(held)), nil
}

// Step 8: with no tenant left, the Gateway goes, releasing the machines it
// took (its adopted first node is not the operator's to release).
func (d *demo) deleteGateway(ctx context.Context) (string, error) {
	gw, err := d.gateway(ctx)
	if err != nil {
		return "", err
	}
	took := map[string]bool{}
	for _, n := range gw.Status.Nodes {
		if !n.Adopted {
			took[n.SystemID] = true
		}
	}
	account := &infrav1.CloudAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: d.account.Name}}
	if err := d.c().Delete(ctx, account); client.IgnoreNotFound(err) != nil {
		return "", errorf("deleting CloudAccount %s: %w", d.account.Name, err)
	}
	// A Gateway keeps its machines when deleted unless told otherwise:
	// it is the cluster the operator runs in.
	patch := client.MergeFrom(gw.DeepCopy())
	gw.Spec.DeletionPolicy = infrav1.GatewayDecommission
	if err := d.c().Patch(ctx, gw, patch); err != nil {
		return "", errorf("setting Gateway %s's deletionPolicy to Decommission: %w", gw.Name, err)
	}
	d.t.note("kubectl patch mgw/%s --type=merge -p '{\"spec\":{\"deletionPolicy\":\"Decommission\"}}'", gw.Name)
	if err := d.c().Delete(ctx, gw); err != nil {
		return "", errorf("deleting Gateway %s: %w", gw.Name, err)
	}
	d.t.note("deleted CloudAccount %s and Gateway %s", d.account.Name, gw.Name)
	what := "the Gateway to be gone and its machines released"
	err = d.t.waitFor(ctx, what, d.cfg.stepTimeout, func(ctx context.Context) (bool, string, error) {
		_, err := d.gateway(ctx)
		gone := apierrors.IsNotFound(err)
		ready := 0
		for id := range took {
			if m, _ := d.env.Sim.Machine(id); m.StatusName == "Ready" {
				ready++
			}
		}
		state := fmt.Sprintf("gateway gone=%t; %d/%d of its machines Ready in MAAS", gone, ready, len(took))
		return gone && ready == len(took), state, nil
	})
	if err != nil {
		return "", err
	}
	// The default CloudAccount is owned by the Gateway: a cluster's garbage
	// collector deletes it, but envtest runs no kube-controller-manager.
	if def := gw.Status.DefaultCloudAccount; def != "" {
		err := d.c().Delete(ctx, &infrav1.CloudAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: def}})
		if client.IgnoreNotFound(err) != nil {
			return "", errorf("deleting the default CloudAccount %s as the garbage collector would: %w", def, err)
		}
	}
	var inUse []string
	for _, m := range d.env.Sim.Machines() {
		if m.StatusName != "Ready" && m.SystemID != d.prep.AdoptedMachine {
			inUse = append(inUse, m.Hostname+" "+m.StatusName)
		}
	}
	if len(inUse) > 0 {
		return "", errorf("machines left in use in MAAS: %s", strings.Join(inUse, ", "))
	}
	return fmt.Sprintf("gone; its %d machines released: MAAS is as before the demo, "+
		"but for the installer's node", len(took)), nil
}
