//go:build e2e

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

package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

const (
	ns          = "maas-system"
	release     = "maas-gateway"
	gatewayName = "gateway"
	account     = gatewayName + "-default"
	apiKeyName  = "maas-api-key"
	httpProxy   = "http://proxy.e2e.example:3128"
	tenantVIP1  = "10.30.0.101"
	tenantVIP2  = "10.30.0.102"
	tenantVIP3  = "10.30.0.103"
)

// chartValues are the values the chart is installed with: the images loaded
// into kind, webhook certificates without cert-manager, the simulator as
// MAAS with the key in an existing Secret, and a Gateway with placement and
// proxies. releases is the release catalog.
func chartValues(releases []map[string]any, extra map[string]any) map[string]any {
	v := map[string]any{
		"fullnameOverride": release,
		"image": map[string]any{
			"repository": "maas-gateway/manager",
			"tag":        "v" + env.version,
			"pullPolicy": "Never",
		},
		// The emulated gateway Nodes never run Pods: keep the manager on kind's node.
		"nodeSelector": map[string]any{"kubernetes.io/hostname": env.node},
		"manager": map[string]any{"maasPollInterval": "2s", "maasRetryInterval": "3s",
			// The tenants here have no API servers: their VIPs and
			// machine addresses are data the operator must not dial.
			// Nor do the emulated gateway nodes run etcd members.
			"extraArgs": []any{"--observe-tenant-clusters=false", "--manage-gateway-etcd=false"}},
		"webhook": map[string]any{"certManager": map[string]any{"enabled": false}},
		// The simulator in the cluster serves http only: the key crosses
		// the Pod network in cleartext, which a test cluster accepts.
		"maas": map[string]any{"endpoint": simEndpoint, "existingSecret": apiKeyName, "insecureAllowHTTP": true},
		"gateway": map[string]any{
			"create":   true,
			"name":     gatewayName,
			"replicas": 1,
			"placement": map[string]any{
				"resourcePool": "gateway",
				"tags":         []any{"gateway"},
				"minCPU":       4,
			},
			"environment": map[string]any{
				"httpProxy":  httpProxy,
				"httpsProxy": httpProxy,
				"noProxy":    []any{"10.0.0.0/8", ".svc", ".cluster.local"},
			},
			"controlPlaneEndpoint": gatewayVIP,
			// The last spec deletes the Gateway and expects its machines
			// back in MAAS; the manager runs on a kind node, not on them.
			"deletionPolicy": "Decommission",
		},
	}
	if releases != nil {
		// Helm checks values against the chart's schema as JSON types:
		// a list must be []any.
		list := make([]any, len(releases))
		for i, r := range releases {
			list[i] = r
		}
		v["releases"] = list
	}
	maps.Copy(v, extra)
	return v
}

var releaseV1 = map[string]any{
	"version": "0.1.0", "osImage": "ubuntu/jammy", "kubernetesVersion": "v1.34.2",
	"components": map[string]any{"manager": "v0.1.0"}, "notes": "First release.",
}

var releaseV2 = map[string]any{
	"version": "0.2.0", "osImage": "ubuntu/noble", "kubernetesVersion": "v1.34.2",
	"components": map[string]any{"manager": "v0.1.0"}, "notes": "e2e: a newer OS image.",
}

func gateway(g Gomega) *infrav1.Gateway {
	gw := &infrav1.Gateway{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: gatewayName}, gw)).To(Succeed())
	return gw
}

func tenant(g Gomega, name string) *infrav1.TenantCluster {
	tc := &infrav1.TenantCluster{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, tc)).To(Succeed())
	return tc
}

// newTenant is a TenantCluster of one control-plane machine and two workers
// on the default CloudAccount, all from the tenants pool.
func newTenant(name, vip string) *infrav1.TenantCluster {
	return &infrav1.TenantCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: infrav1.TenantClusterSpec{
			CloudAccountRef:      infrav1.LocalObjectReference{Name: account},
			Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: "v1.34.2"},
			ControlPlaneEndpoint: vip,
			ControlPlane:         infrav1.ControlPlanePool{Size: 1, MachineTemplate: infrav1.MachineTemplate{ResourcePool: "tenants"}},
			Workers: []infrav1.NodePool{{
				Name: "workers", Size: 2,
				MachineTemplate: infrav1.MachineTemplate{ResourcePool: "tenants", Zones: []string{"zone-a", "zone-b"}},
			}},
		},
	}
}

func running(g Gomega, name string, machines int) {
	tc := tenant(g, name)
	g.Expect(tc.Status.Phase).To(Equal(infrav1.TenantPhaseRunning), "phase of %s", name)
	g.Expect(tc.Status.ReadyMachines).To(BeEquivalentTo(machines))
	g.Expect(tc.Status.DesiredMachines).To(BeEquivalentTo(machines))
}

// machineState is what must not change under a helm upgrade.
type machineState struct{ status, owner, agent, kind, name string }

func machineStates(g Gomega) map[string]machineState {
	out := map[string]machineState{}
	for _, m := range simMachines(g) {
		out[m.SystemID] = machineState{m.StatusName, m.Owner, m.AgentName,
			m.Annotations["maas-gateway.owner-kind"], m.Annotations["maas-gateway.owner-name"]}
	}
	return out
}

// noOrphans checks that every machine taken from MAAS carries an owner mark
// naming an object that exists, and that each owner has exactly want
// machines (by name; the Gateway's under "Gateway").
func noOrphans(g Gomega, want map[string]int) {
	got := map[string]int{}
	for _, m := range simMachines(g) {
		if m.StatusName == "Ready" {
			g.Expect(m.Annotations["maas-gateway.owner-kind"]).To(BeEmpty(), "Ready machine %s still marked", m.Hostname)
			continue
		}
		kind, name := m.Annotations["maas-gateway.owner-kind"], m.Annotations["maas-gateway.owner-name"]
		g.Expect(kind).NotTo(BeEmpty(), "machine %s (%s) taken without an owner mark", m.Hostname, m.StatusName)
		g.Expect(m.AgentName).NotTo(BeEmpty(), "machine %s without agent name", m.Hostname)
		if kind == "Gateway" {
			got["Gateway"]++
		} else {
			got[name]++
		}
	}
	g.Expect(got).To(Equal(want))
}

var _ = Describe("maas-gateway on a kind cluster", Ordered, func() {
	var nodesBefore int

	It("runs the MAAS simulator in the cluster with its default inventory", func() {
		deploySimulator()
		Eventually(func(g Gomega) {
			ms := simMachines(g)
			g.Expect(ms).To(HaveLen(24))
			for _, m := range ms {
				g.Expect(m.StatusName).To(Equal("Ready"), m.Hostname)
			}
		}).Should(Succeed())
		nodes := &corev1.NodeList{}
		Expect(k8s.List(ctx, nodes)).To(Succeed())
		nodesBefore = len(nodes.Items)
	})

	It("installs the chart with Helm into a restricted namespace, without cert-manager", func() {
		createNamespace(ns)
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: apiKeyName},
			StringData: map[string]string{infrav1.DefaultAPIKeyKey: maassim.DefaultAPIKey},
		})).To(Succeed())
		// The gateway's CAs, which joining control-plane members need,
		// taken from the kind node's /etc/kubernetes/pki as the README says.
		pki := map[string][2]string{
			"gateway-ca":    {"ca.crt", "ca.key"},
			"gateway-etcd":  {"etcd/ca.crt", "etcd/ca.key"},
			"gateway-proxy": {"front-proxy-ca.crt", "front-proxy-ca.key"},
			"gateway-sa":    {"sa.pub", "sa.key"},
		}
		for name, files := range pki {
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
				Type:       corev1.SecretTypeOpaque,
				Data: map[string][]byte{
					"tls.crt": nodeFile("/etc/kubernetes/pki/" + files[0]),
					"tls.key": nodeFile("/etc/kubernetes/pki/" + files[1]),
				},
			}
			if name != "gateway-sa" {
				s.Type = corev1.SecretTypeTLS
			}
			Expect(k8s.Create(ctx, s)).To(Succeed())
		}
		helmInstall(ns, release, chartValues(nil, nil))
	})

	It("runs the operator Ready under the restricted Pod Security Standard", func() {
		deploymentAvailable(ns, release)
		pods := &corev1.PodList{}
		Expect(k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/name": "maas-gateway"})).To(Succeed())
		Expect(pods.Items).NotTo(BeEmpty())
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || p.Labels["app.kubernetes.io/component"] == "test" {
				continue
			}
			Expect(p.Spec.NodeName).To(Equal(env.node))
			Expect(p.Status.Conditions).To(ContainElement(And(
				HaveField("Type", corev1.PodReady), HaveField("Status", corev1.ConditionTrue))), p.Name)
		}
		nsObj := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: ns}, nsObj)).To(Succeed())
		Expect(nsObj.Labels).To(HaveKeyWithValue("pod-security.kubernetes.io/enforce", "restricted"))
	})

	It("answers on /metrics through the metrics Service, to authorised callers only", func() {
		svc := &corev1.Service{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: release + "-metrics"}, svc)).To(Succeed())
		Expect(svc.Spec.Ports).NotTo(BeEmpty())
		port := svc.Spec.Ports[0].Port

		// A ServiceAccount bound to the chart's metrics-reader role, and
		// one bound to nothing.
		for _, sa := range []string{"e2e-metrics", "e2e-nobody"} {
			Expect(client.IgnoreAlreadyExists(k8s.Create(ctx, &corev1.ServiceAccount{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}}))).To(Succeed())
		}
		Expect(client.IgnoreAlreadyExists(k8s.Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-metrics"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: release + "-metrics-reader"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: "e2e-metrics"}},
		}))).To(Succeed())
		token := func(sa string) string {
			tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
				Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)},
			}, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred())
			return tr.Status.Token
		}
		reader, nobody := token("e2e-metrics"), token("e2e-nobody")

		Eventually(func(g Gomega) {
			code, body, err := httpsGetFromNode(svc.Spec.ClusterIP, port, "/metrics", reader)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(code).To(Equal(200))
			g.Expect(body).To(ContainSubstring("controller_runtime_reconcile_total"))
		}).Should(Succeed())
		code, _, err := httpsGetFromNode(svc.Spec.ClusterIP, port, "/metrics", "")
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(Equal(401), "metrics without a token")
		code, _, err = httpsGetFromNode(svc.Spec.ClusterIP, port, "/metrics", nobody)
		Expect(err).NotTo(HaveOccurred())
		Expect(code).To(Equal(403), "metrics for a ServiceAccount without the metrics-reader role")
	})

	It("validates the Gateway's default CloudAccount and brings up its first node", func() {
		Eventually(func(g Gomega) {
			ca := &infrav1.CloudAccount{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: account}, ca)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(ca.Status.Conditions, infrav1.CloudAccountCredentialsValid)).To(BeTrue())
			g.Expect(meta.IsStatusConditionTrue(ca.Status.Conditions, infrav1.ConditionReady)).To(BeTrue())
			g.Expect(ca.Status.Zones).NotTo(BeEmpty())
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			gw := gateway(g)
			g.Expect(gw.Status.Nodes).To(HaveLen(1))
			g.Expect(gw.Status.ReadyReplicas).To(BeEquivalentTo(1))
		}).Should(Succeed())
		// The placement and proxies of the chart's values reached the machine.
		Eventually(func(g Gomega) {
			ms := ownedBy(simMachines(g), "Gateway", gatewayName)
			g.Expect(ms).To(HaveLen(1))
			g.Expect(ms[0].Pool).To(Equal("gateway"))
			g.Expect(ms[0].Tags).To(ContainElement("gateway"))
			g.Expect(ms[0].UserData).To(ContainSubstring(httpProxy))
		}).Should(Succeed())
	})

	It("resizes the Gateway to 3 nodes with the scale subresource; a patch back to 1 is refused", func() {
		gw := gateway(Default)
		scale := &autoscalingv1.Scale{}
		Expect(k8s.SubResource("scale").Get(ctx, gw, scale)).To(Succeed())
		Expect(scale.Spec.Replicas).To(BeEquivalentTo(1))
		scale.Spec.Replicas = 3
		Expect(k8s.SubResource("scale").Update(ctx, gw, client.WithSubResourceBody(scale))).To(Succeed())
		Eventually(func(g Gomega) {
			gw := gateway(g)
			g.Expect(gw.Status.Nodes).To(HaveLen(3))
			g.Expect(gw.Status.ReadyReplicas).To(BeEquivalentTo(3))
			for _, n := range gw.Status.Nodes {
				g.Expect(n.Ready).To(BeTrue(), n.Hostname)
			}
		}).WithTimeout(5 * time.Minute).Should(Succeed())
		nodes := &corev1.NodeList{}
		Expect(k8s.List(ctx, nodes)).To(Succeed())
		Expect(nodes.Items).To(HaveLen(nodesBefore+3), "the gateway's machines joined as Nodes")

		// kubectl edit/patch: shrinking a 3-node gateway is refused.
		err := k8s.Patch(ctx, gateway(Default), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"replicas":1}}`)))
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
		Expect(err.Error()).To(ContainSubstring("etcd would lose quorum"))
		// and a patch that is allowed goes through the webhooks.
		Expect(k8s.Patch(ctx, gateway(Default), client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"e2e.maasgateway.io/patched":"yes"}}}`)))).To(Succeed())
	})

	It("provisions a TenantCluster (1 control plane + 2 workers) whose machines carry the operator's marks", func() {
		Expect(k8s.Create(ctx, newTenant("tenant-one", tenantVIP1))).To(Succeed())
		Eventually(func(g Gomega) { running(g, "tenant-one", 3) }).WithTimeout(5 * time.Minute).Should(Succeed())
		ms := ownedBy(simMachines(Default), "TenantCluster", "tenant-one")
		Expect(ms).To(HaveLen(3))
		tc := tenant(Default, "tenant-one")
		for _, m := range ms {
			Expect(m.StatusName).To(Equal("Deployed"))
			Expect(m.Pool).To(Equal("tenants"))
			Expect(m.AgentName).NotTo(BeEmpty())
			Expect(m.Annotations).To(HaveKeyWithValue("maas-gateway.owner-uid", string(tc.UID)))
		}
		Eventually(func(g Gomega) { noOrphans(g, map[string]int{"Gateway": 3, "tenant-one": 3}) }).Should(Succeed())
	})

	It("runs a tenant cluster's control plane for real: its VIP answers in kind and its Nodes register", func() {
		tenantWithRealControlPlane()
	})

	It("refuses to delete the Gateway or the CloudAccount a tenant cluster depends on, naming it", func() {
		err := k8s.Delete(ctx, gateway(Default))
		Expect(err).To(HaveOccurred())
		Expect(isWebhookDenial(err)).To(BeTrue(), "want a webhook denial, got %v", err)
		Expect(err.Error()).To(ContainSubstring("tenant-one"))

		ca := &infrav1.CloudAccount{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: account}, ca)).To(Succeed())
		err = k8s.Delete(ctx, ca)
		Expect(err).To(HaveOccurred())
		Expect(isWebhookDenial(err)).To(BeTrue(), "want a webhook denial, got %v", err)
		Expect(err.Error()).To(ContainSubstring("tenant-one"))

		Expect(gateway(Default).DeletionTimestamp).To(BeNil())
	})

	It("converges without duplicate or orphaned machines when the operator Pod is deleted mid-provisioning", func() {
		Expect(k8s.Create(ctx, newTenant("tenant-two", tenantVIP2))).To(Succeed())
		// Wait until MAAS has machines for it, but not all deployed.
		Eventually(func(g Gomega) {
			g.Expect(ownedBy(simMachines(g), "TenantCluster", "tenant-two")).NotTo(BeEmpty())
		}).WithPolling(200 * time.Millisecond).Should(Succeed())
		Expect(tenant(Default, "tenant-two").Status.Phase).NotTo(Equal(infrav1.TenantPhaseRunning))

		pods := &corev1.PodList{}
		Expect(k8s.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/name": "maas-gateway"})).To(Succeed())
		var deleted []string
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Labels["app.kubernetes.io/component"] == "test" {
				continue
			}
			Expect(k8s.Delete(ctx, p, client.GracePeriodSeconds(0))).To(Succeed())
			deleted = append(deleted, p.Name)
		}
		Expect(deleted).NotTo(BeEmpty())
		deploymentAvailable(ns, release)

		Eventually(func(g Gomega) { running(g, "tenant-two", 3) }).WithTimeout(5 * time.Minute).Should(Succeed())
		Eventually(func(g Gomega) {
			noOrphans(g, map[string]int{"Gateway": 3, "tenant-one": 3, "tenant-two": 3})
		}).Should(Succeed())
		Consistently(func(g Gomega) {
			noOrphans(g, map[string]int{"Gateway": 3, "tenant-one": 3, "tenant-two": 3})
		}).Should(Succeed())
	})

	It("upgrades the gateway to a new catalog release, queueing a tenant cluster created meanwhile", func() {
		helmUpgrade(ns, release, chartValues([]map[string]any{releaseV1, releaseV2}, nil))
		Eventually(func(g Gomega) {
			gw := gateway(g)
			g.Expect(gw.Status.AvailableUpgrade).NotTo(BeNil())
			g.Expect(gw.Status.AvailableUpgrade.Version).To(Equal("0.2.0"))
		}).Should(Succeed())
		gw := gateway(Default)
		target := gw.Status.AvailableUpgrade.DeepCopy()
		patch := client.MergeFrom(gw.DeepCopy())
		gw.Spec.Release = target
		Expect(k8s.Patch(ctx, gw, patch)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(meta.IsStatusConditionTrue(gateway(g).Status.Conditions, infrav1.GatewayUpgrading)).To(BeTrue())
		}).Should(Succeed())

		Expect(k8s.Create(ctx, newTenant("tenant-three", tenantVIP3))).To(Succeed())
		Eventually(func(g Gomega) {
			tc := tenant(g, "tenant-three")
			g.Expect(tc.Status.Phase).To(Equal(infrav1.TenantPhaseQueued))
			g.Expect(meta.IsStatusConditionTrue(tc.Status.Conditions, infrav1.TenantQueued)).To(BeTrue())
		}).Should(Succeed())
		Expect(ownedBy(simMachines(Default), "TenantCluster", "tenant-three")).To(BeEmpty(), "a queued cluster takes no machine")

		Eventually(func(g Gomega) {
			gw := gateway(g)
			g.Expect(gw.Status.CurrentRelease).NotTo(BeNil())
			g.Expect(gw.Status.CurrentRelease.Version).To(Equal("0.2.0"))
			g.Expect(meta.IsStatusConditionTrue(gw.Status.Conditions, infrav1.GatewayUpgrading)).To(BeFalse())
			g.Expect(gw.Status.ReadyReplicas).To(BeEquivalentTo(3))
		}).WithTimeout(8 * time.Minute).Should(Succeed())
		for _, m := range ownedBy(simMachines(Default), "Gateway", gatewayName) {
			if m.StatusName == "Deployed" {
				Expect(m.DistroSeries).To(Equal("noble"), m.Hostname)
			}
		}
		Eventually(func(g Gomega) { running(g, "tenant-three", 3) }).WithTimeout(5 * time.Minute).Should(Succeed())
		Eventually(func(g Gomega) {
			noOrphans(g, map[string]int{"Gateway": 3, "tenant-one": 3, "tenant-two": 3, "tenant-three": 3})
		}).Should(Succeed())
	})

	It("changes no machine on helm upgrade, and keeps the CRDs and objects on helm uninstall", func() {
		var before map[string]machineState
		Eventually(func(g Gomega) {
			before = machineStates(g)
			for _, st := range before {
				g.Expect(st.status).To(BeElementOf("Ready", "Deployed"))
			}
		}).Should(Succeed())
		helmUpgrade(ns, release, chartValues([]map[string]any{releaseV1, releaseV2},
			map[string]any{"podAnnotations": map[string]any{"e2e.maasgateway.io/upgraded": "yes"}}))
		deploymentAvailable(ns, release)
		Consistently(func(g Gomega) { g.Expect(machineStates(g)).To(Equal(before)) }).Should(Succeed())

		helmUninstall(ns, release)
		for _, crd := range []string{"gateways", "cloudaccounts", "tenantclusters", "clusterprofiles"} {
			obj := &apiextensionsv1.CustomResourceDefinition{}
			Expect(k8s.Get(ctx, client.ObjectKey{Name: crd + ".infra.maasgateway.io"}, obj)).To(Succeed(), crd)
		}
		gateway(Default)
		for _, name := range []string{"tenant-one", "tenant-two", "tenant-three"} {
			tenant(Default, name)
		}
		Consistently(func(g Gomega) { g.Expect(machineStates(g)).To(Equal(before)) }).WithTimeout(5 * time.Second).Should(Succeed())

		// Back for the rest: the Gateway exists, so the chart leaves it alone.
		helmInstall(ns, release, chartValues([]map[string]any{releaseV1, releaseV2}, nil))
		Expect(gateway(Default).Spec.Replicas).To(BeEquivalentTo(3))
	})

	It("releases every tenant machine on delete, then lets the Gateway go", func() {
		for _, name := range []string{"tenant-one", "tenant-two", "tenant-three"} {
			Expect(k8s.Delete(ctx, &infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())
		}
		for _, name := range []string{"tenant-one", "tenant-two", "tenant-three"} {
			eventuallyGone(&infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, 5*time.Minute)
		}
		Eventually(func(g Gomega) {
			for _, m := range simMachines(g) {
				if m.Pool == "tenants" {
					g.Expect(m.StatusName).To(Equal("Ready"), m.Hostname)
				}
			}
		}).Should(Succeed())
		Eventually(func(g Gomega) { noOrphans(g, map[string]int{"Gateway": 3}) }).Should(Succeed())

		Expect(k8s.Delete(ctx, gateway(Default))).To(Succeed())
		eventuallyGone(&infrav1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: gatewayName}}, 5*time.Minute)
		Eventually(func(g Gomega) {
			for _, m := range simMachines(g) {
				g.Expect(m.StatusName).To(Equal("Ready"), m.Hostname)
			}
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			nodes := &corev1.NodeList{}
			g.Expect(k8s.List(ctx, nodes)).To(Succeed())
			names := make([]string, 0, len(nodes.Items))
			for _, n := range nodes.Items {
				names = append(names, n.Name)
			}
			g.Expect(names).To(HaveLen(nodesBefore), "the gateway's Nodes are gone: %v", names)
		}).Should(Succeed())
	})

})

// The host's sysctls are checked after everything, whatever failed: a kind
// node must never change them (hack/kind/node/entrypoint.sh guards them).
var _ = AfterSuite(func() {
	before, now := hostSysctls()
	var changed []string
	for name, v := range before {
		if now[name] != v {
			changed = append(changed, fmt.Sprintf("%s: %s -> %s", name, v, now[name]))
		}
	}
	slices.Sort(changed)
	Expect(changed).To(BeEmpty(), "host sysctls changed:\n%s", strings.Join(changed, "\n"))
	GinkgoWriter.Printf("host sysctls unchanged: %d checked\n", len(before))
})
