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

package v1alpha1

import (
	"context"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
)

// Admission messages start with the name of the webhook that refused.
const (
	byGatewayWebhook      = `admission webhook "vgateway-v1alpha1.kb.io" denied the request`
	byCloudAccountWebhook = `admission webhook "vcloudaccount-v1alpha1.kb.io" denied the request`
	byTenantWebhook       = `admission webhook "vtenantcluster-v1alpha1.kb.io" denied the request`
)

func create(obj client.Object) error { return warnings.seen(k8sClient.Create(ctx, obj)) }

func update(obj client.Object) error { return warnings.seen(k8sClient.Update(ctx, obj)) }

func remove(obj client.Object) error { return warnings.seen(k8sClient.Delete(ctx, obj)) }

// gatewayIn is a valid Gateway in namespace ns, changed by mutate.
func gatewayIn(ns string, mutate func(*infrav1alpha1.Gateway)) *infrav1alpha1.Gateway {
	gw := sharedGateway()
	gw.Namespace, gw.Name = ns, "second"
	mutate(gw)
	return gw
}

// updateSharedGateway reads the shared Gateway, changes it and updates it.
func updateSharedGateway(mutate func(*infrav1alpha1.Gateway)) error {
	var gw infrav1alpha1.Gateway
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: gatewayNamespace, Name: gatewayName}, &gw)).To(Succeed())
	mutate(&gw)
	return update(&gw)
}

func accountIn(ns string, mutate func(*infrav1alpha1.CloudAccount)) *infrav1alpha1.CloudAccount {
	ca := account(ns, "another")
	mutate(ca)
	return ca
}

func tenantIn(ns string, mutate func(*infrav1alpha1.TenantCluster)) *infrav1alpha1.TenantCluster {
	tc := tenant(ns, "tc", nextVIP())
	mutate(tc)
	return tc
}

// createThenUpdate creates a valid cluster, then submits mutate's change.
func createThenUpdate(ns string, mutate func(*infrav1alpha1.TenantCluster)) error {
	tc := tenant(ns, "tc", nextVIP())
	Expect(create(tc)).To(Succeed())
	mutate(tc)
	return update(tc)
}

var _ = Describe("Admission through the API server", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		warnings.take()
	})

	DescribeTable("refuses bad objects with a message saying why",
		func(run func(ns string) error, want ...string) {
			err := run(ns)
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err) || apierrors.IsForbidden(err)).To(BeTrue(), "status: %v", err)
			for i := range want {
				want[i] = strings.ReplaceAll(want[i], "{ns}", ns)
			}
			Expect(missing(err.Error(), want)).To(BeEmpty(), "message: %s", err.Error())
		},

		// Gateway, create. The shared Gateway exists, so each also names it.
		Entry("a second Gateway", func(ns string) error {
			return create(gatewayIn(ns, func(*infrav1alpha1.Gateway) {}))
		}, byGatewayWebhook, "metadata.name: Forbidden: only one Gateway may exist per cluster, and Gateway maas-system/gw already exists"),
		Entry("a Gateway whose Secret lacks the key", func(ns string) error {
			return create(gatewayIn(ns, func(g *infrav1alpha1.Gateway) { g.Spec.MAAS.CredentialsSecretRef.Name = "maas-custom" }))
		}, byGatewayWebhook, `spec.maas.credentialsSecretRef.key: Invalid value: "apiKey": Secret {ns}/maas-custom has no key "apiKey" (its keys: maasKey)`),
		Entry("a Gateway whose API key has two parts", func(ns string) error {
			return create(gatewayIn(ns, func(g *infrav1alpha1.Gateway) { g.Spec.MAAS.CredentialsSecretRef.Name = "maas-two-parts" }))
		}, byGatewayWebhook, `key "apiKey" of Secret {ns}/maas-two-parts does not hold a MAAS API key`, "want 3 colon-separated parts"),
		Entry("a Gateway whose CA bundle is not PEM", func(ns string) error {
			return create(gatewayIn(ns, func(g *infrav1alpha1.Gateway) { g.Spec.MAAS.CABundle = "-----BEGIN nothing" }))
		}, byGatewayWebhook, `spec.maas.caBundle: Invalid value: "(PEM data)": is not PEM`),
		Entry("a Gateway whose pod range is narrower than a node's", func(ns string) error {
			return create(gatewayIn(ns, func(g *infrav1alpha1.Gateway) { g.Spec.Environment.PodCIDR = "172.20.0.0/25" }))
		}, byGatewayWebhook, `spec.environment.podCIDR: Invalid value: "172.20.0.0/25": too small: each node takes a /24`),
		Entry("a Gateway whose service range cannot hold cluster DNS", func(ns string) error {
			return create(gatewayIn(ns, func(g *infrav1alpha1.Gateway) { g.Spec.Environment.ServiceCIDR = "10.96.0.0/29" }))
		}, byGatewayWebhook, `spec.environment.serviceCIDR: Invalid value: "10.96.0.0/29": too small`),
		Entry("a 3-node Gateway whose pod range has room for 2 nodes", func(ns string) error {
			return create(gatewayIn(ns, func(g *infrav1alpha1.Gateway) {
				g.Spec.Replicas = 3
				g.Spec.Environment.PodCIDR = "172.20.0.0/23"
			}))
		}, byGatewayWebhook, "has room for 2 nodes (a /24 each) but the cluster asks for 4 machines"),

		// Gateway, update.
		Entry("moving the Gateway to another MAAS", func(string) error {
			return updateSharedGateway(func(g *infrav1alpha1.Gateway) { g.Spec.MAAS.Endpoint = "https://10.99.0.1:5443/MAAS" })
		}, byGatewayWebhook, `spec.maas.endpoint: Forbidden: is immutable once set (was "https://10.11.12.13:5443/MAAS"): a gateway cannot move to another MAAS`),
		Entry("changing the Gateway's pod range", func(string) error {
			return updateSharedGateway(func(g *infrav1alpha1.Gateway) { g.Spec.Environment.PodCIDR = "172.21.0.0/16" })
		}, byGatewayWebhook, `spec.environment.podCIDR: Forbidden: is immutable once set (was "172.20.0.0/16")`),
		Entry("changing the Gateway's defaulted service range", func(string) error {
			return updateSharedGateway(func(g *infrav1alpha1.Gateway) { g.Spec.Environment.ServiceCIDR = "10.128.0.0/16" })
		}, byGatewayWebhook, `spec.environment.serviceCIDR: Forbidden: is immutable once set (was "10.96.0.0/12")`),
		Entry("changing the Gateway's VIP", func(string) error {
			return updateSharedGateway(func(g *infrav1alpha1.Gateway) { g.Spec.ControlPlaneEndpoint = "10.11.12.51" })
		}, byGatewayWebhook, `spec.controlPlaneEndpoint: Forbidden: is immutable once set (was "10.11.12.50")`),
		Entry("pointing the Gateway at a Secret with a bad key", func(string) error {
			return updateSharedGateway(func(g *infrav1alpha1.Gateway) { g.Spec.MAAS.CredentialsSecretRef.Name = "maas-short" })
		}, byGatewayWebhook, "maas-system/maas-short does not hold a MAAS API key", "part token secret must be 32 characters long"),

		// CloudAccount.
		Entry("a CloudAccount whose token secret is too short", func(ns string) error {
			return create(accountIn(ns, func(a *infrav1alpha1.CloudAccount) { a.Spec.CredentialsSecretRef.Name = "maas-short" }))
		}, byCloudAccountWebhook, `spec.credentialsSecretRef.key: Invalid value: "apiKey"`, "part token secret must be 32 characters long, got 14"),
		Entry("a CloudAccount naming a key its Secret lacks", func(ns string) error {
			return create(accountIn(ns, func(a *infrav1alpha1.CloudAccount) { a.Spec.CredentialsSecretRef.Key = "maasKey" }))
		}, byCloudAccountWebhook, `Secret {ns}/maas has no key "maasKey" (its keys: apiKey)`),
		Entry("a CloudAccount on http:// beyond loopback without insecureAllowHTTP", func(ns string) error {
			return create(accountIn(ns, func(a *infrav1alpha1.CloudAccount) { a.Spec.Endpoint = "http://maas.example.com:5240/MAAS" }))
		}, "spec.endpoint: Forbidden: an http:// endpoint sends the MAAS API key in cleartext", "insecureAllowHTTP: true"),
		Entry("a CloudAccount whose CA bundle holds a private key", func(ns string) error {
			return create(accountIn(ns, func(a *infrav1alpha1.CloudAccount) {
				a.Spec.Endpoint = "https://maas.example.com/MAAS"
				a.Spec.CABundle = "-----BEGIN PRIVATE KEY-----\nAQID\n-----END PRIVATE KEY-----\n"
			}))
		}, byCloudAccountWebhook, `holds a PEM block of type "PRIVATE KEY"; only CERTIFICATE blocks belong in a CA bundle`),
		Entry("moving a CloudAccount in use to another MAAS", func(ns string) error {
			Expect(create(tenant(ns, "user", nextVIP()))).To(Succeed())
			var ca infrav1alpha1.CloudAccount
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acct"}, &ca)).To(Succeed())
			ca.Spec.Endpoint = "https://10.99.0.1:5443/MAAS"
			return update(&ca)
		}, byCloudAccountWebhook, "CloudAccount {ns}/acct is in use: 1 TenantCluster depends on it: {ns}/user",
			"create another CloudAccount for new clusters instead"),
		Entry("moving a CloudAccount in use to another Gateway", func(ns string) error {
			Expect(create(tenant(ns, "user", nextVIP()))).To(Succeed())
			var ca infrav1alpha1.CloudAccount
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acct"}, &ca)).To(Succeed())
			ca.Spec.GatewayRef.Name = "elsewhere"
			return update(&ca)
		}, byCloudAccountWebhook, "CloudAccount {ns}/acct is in use: 1 TenantCluster depends on it: {ns}/user"),

		// TenantCluster, create.
		Entry("a TenantCluster in a zone MAAS does not have", func(ns string) error {
			return create(tenantIn(ns, func(t *infrav1alpha1.TenantCluster) { t.Spec.Workers[0].Zones = []string{"az9"} }))
		}, byTenantWebhook, `spec.workers[0].zones[0]: Invalid value: "az9": no zone "az9" in the MAAS of CloudAccount {ns}/acct (known: az1, az2)`),
		Entry("a TenantCluster in a resource pool MAAS does not have", func(ns string) error {
			return create(tenantIn(ns, func(t *infrav1alpha1.TenantCluster) { t.Spec.ControlPlane.ResourcePool = "fast" }))
		}, byTenantWebhook, `spec.controlPlane.resourcePool: Invalid value: "fast": no resource pool "fast" in the MAAS of CloudAccount {ns}/acct (known: default, gpu)`),
		Entry("a TenantCluster with an OS image MAAS cannot deploy", func(ns string) error {
			return create(tenantIn(ns, func(t *infrav1alpha1.TenantCluster) { t.Spec.Profile.OSImage = "centos/8" }))
		}, byTenantWebhook, `spec.profile.osImage: Invalid value: "centos/8": no OS image "centos/8"`),
		Entry("a TenantCluster in a DNS domain MAAS does not have", func(ns string) error {
			return create(tenantIn(ns, func(t *infrav1alpha1.TenantCluster) { t.Spec.Domain = "lab" }))
		}, byTenantWebhook, `spec.domain: Invalid value: "lab": no domain "lab"`),
		Entry("a TenantCluster whose pod range holds MAAS", func(ns string) error {
			return create(tenantIn(ns, func(t *infrav1alpha1.TenantCluster) {
				t.Spec.ControlPlaneEndpoint = "10.20.0.5"
				t.Spec.Network = &infrav1alpha1.ClusterNetwork{PodCIDR: "10.11.0.0/16"}
			}))
		}, byTenantWebhook, `spec.network.podCIDR: Invalid value: "10.11.0.0/16": contains the MAAS endpoint 10.11.12.13`),
		Entry("a TenantCluster whose service range holds the gateway's VIP", func(ns string) error {
			return create(tenantIn(ns, func(t *infrav1alpha1.TenantCluster) {
				t.Spec.ControlPlaneEndpoint = "10.20.0.5"
				t.Spec.Network = &infrav1alpha1.ClusterNetwork{ServiceCIDR: "10.11.12.48/28"}
			}))
		}, byTenantWebhook, `spec.network.serviceCIDR: Invalid value: "10.11.12.48/28": contains the gateway's control-plane endpoint 10.11.12.50`),
		Entry("a TenantCluster on the gateway's VIP", func(ns string) error {
			return create(tenantIn(ns, func(t *infrav1alpha1.TenantCluster) { t.Spec.ControlPlaneEndpoint = gatewayVIP }))
		}, byTenantWebhook, `spec.controlPlaneEndpoint: Invalid value: "10.11.12.50": is the gateway's control-plane endpoint`),
		Entry("a TenantCluster on another cluster's VIP", func(ns string) error {
			first := tenant(ns, "first", nextVIP())
			Expect(create(first)).To(Succeed())
			Eventually(func() error { return mgrCache.Get(ctx, client.ObjectKeyFromObject(first), first) }).Should(Succeed())
			return create(tenantIn(ns, func(t *infrav1alpha1.TenantCluster) {
				t.Spec.ControlPlaneEndpoint = first.Spec.ControlPlaneEndpoint
			}))
		}, byTenantWebhook, "already the control-plane endpoint of TenantCluster {ns}/first"),
		Entry("a TenantCluster whose pod range has room for fewer nodes than it asks", func(ns string) error {
			return create(tenantIn(ns, func(t *infrav1alpha1.TenantCluster) {
				t.Spec.Network = &infrav1alpha1.ClusterNetwork{PodCIDR: "172.30.0.0/22"}
			}))
		}, byTenantWebhook, `spec.network.podCIDR: Invalid value: "172.30.0.0/22": has room for 4 nodes (a /24 each) but the cluster asks for 6 machines`),
		Entry("a TenantCluster with an IPv6 pod range and an IPv4 service range", func(ns string) error {
			return create(tenantIn(ns, func(t *infrav1alpha1.TenantCluster) {
				t.Spec.Network = &infrav1alpha1.ClusterNetwork{PodCIDR: "fd00:10::/48"}
			}))
		}, byTenantWebhook, `spec.network.serviceCIDR: Invalid value: "10.96.0.0/12": must be of the same IP family as spec.network.podCIDR fd00:10::/48`),
		Entry("a TenantCluster with a service range too wide for Kubernetes v1.33", func(ns string) error {
			return create(tenantIn(ns, func(t *infrav1alpha1.TenantCluster) {
				t.Spec.Profile.KubernetesVersion = "v1.33.5"
				t.Spec.Network = &infrav1alpha1.ClusterNetwork{ServiceCIDR: "10.128.0.0/10"}
			}))
		}, byTenantWebhook, "too large: Kubernetes before v1.34 accepts a service range of /12 or narrower"),

		// TenantCluster, update.
		Entry("changing a TenantCluster's pod range", func(ns string) error {
			return createThenUpdate(ns, func(t *infrav1alpha1.TenantCluster) { t.Spec.Network.PodCIDR = "172.31.0.0/16" })
		}, byTenantWebhook, `spec.network.podCIDR: Forbidden: is immutable once set (was "172.20.0.0/16")`),
		Entry("moving a worker pool to an unknown zone", func(ns string) error {
			return createThenUpdate(ns, func(t *infrav1alpha1.TenantCluster) { t.Spec.Workers[0].Zones = []string{"az1", "az7"} })
		}, byTenantWebhook, `spec.workers[0].zones[1]: Invalid value: "az7": no zone "az7"`),
		Entry("adding a worker pool in an unknown resource pool", func(ns string) error {
			return createThenUpdate(ns, func(t *infrav1alpha1.TenantCluster) {
				t.Spec.Workers = append(t.Spec.Workers, infrav1alpha1.NodePool{Name: "gpu", Size: 1,
					MachineTemplate: infrav1alpha1.MachineTemplate{ResourcePool: "tpu"}})
			})
		}, byTenantWebhook, `spec.workers[1].resourcePool: Invalid value: "tpu": no resource pool "tpu"`),

		// What the schema refuses before any webhook, for comparison.
		Entry("a control plane of 2 (schema)", func(ns string) error {
			return create(tenantIn(ns, func(t *infrav1alpha1.TenantCluster) { t.Spec.ControlPlane.Size = 2 }))
		}, "control-plane size must be 1, 3 or 5 (etcd needs an odd number of members)"),
	)

	It("accepts a minimal TenantCluster and defaults it from the gateway", func() {
		tc := tenant(ns, "minimal", nextVIP())
		Expect(create(tc)).To(Succeed())
		Expect(warnings.take()).To(ConsistOf(
			"spec.proxy.noProxy does not include the MAAS endpoint host 10.11.12.13: nodes would reach MAAS through the proxy; " +
				"add 10.11.12.13 to spec.proxy.noProxy"))

		var got infrav1alpha1.TenantCluster
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(tc), &got)).To(Succeed())
		Expect(got.Spec.Network).To(Equal(&infrav1alpha1.ClusterNetwork{PodCIDR: gatewayPodCIDR, ServiceCIDR: DefaultServiceCIDR}))
		Expect(got.Spec.Proxy).To(Equal(&infrav1alpha1.ProxySettings{HTTPProxy: gatewayProxy, HTTPSProxy: gatewayProxy,
			NoProxy: []string{".svc"}}))
		Expect(got.Spec.Profile.OSImage).To(Equal(DefaultOSImage))
		Expect(got.Spec.ControlPlane.RollingUpdate).To(Equal(infrav1alpha1.ExpandFirst))
		Expect(got.Spec.Workers[0].RollingUpdate).To(Equal(infrav1alpha1.ExpandFirst))
	})

	It("keeps a TenantCluster's own network, proxy and strategy", func() {
		tc := tenant(ns, "explicit", nextVIP())
		tc.Spec.Network = &infrav1alpha1.ClusterNetwork{PodCIDR: "10.200.0.0/16", ServiceCIDR: "10.201.0.0/16"}
		tc.Spec.Proxy = &infrav1alpha1.ProxySettings{NoProxy: []string{"10.0.0.0/8"}}
		tc.Spec.Workers[0].RollingUpdate = infrav1alpha1.ContractFirst
		Expect(create(tc)).To(Succeed())
		Expect(warnings.take()).To(BeEmpty())

		var got infrav1alpha1.TenantCluster
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(tc), &got)).To(Succeed())
		Expect(got.Spec.Network).To(Equal(tc.Spec.Network))
		Expect(got.Spec.Proxy).To(Equal(tc.Spec.Proxy))
		Expect(got.Spec.Workers[0].RollingUpdate).To(Equal(infrav1alpha1.ContractFirst))
	})

	It("warns instead of refusing while the CloudAccount is not validated", func() {
		unvalidated := newAccount(ns, "fresh", false)
		tc := tenant(ns, "early", nextVIP())
		tc.Spec.CloudAccountRef.Name = unvalidated.Name
		tc.Spec.Workers[0].Zones = []string{"az9"}
		tc.Spec.ControlPlane.Size = 1
		Expect(create(tc)).To(Succeed())
		w := strings.Join(warnings.take(), "\n")
		Expect(w).To(ContainSubstring(fmt.Sprintf("CloudAccount %s/fresh has not been validated against MAAS yet "+
			"(no CredentialsValid=True): the zones, resource pools, domain and OS image of this cluster were not checked", ns)))
		Expect(w).To(ContainSubstring("spec.controlPlane.size is 1: the API server and etcd have no redundancy"))
	})

	It("accepts changes to a TenantCluster's pools and lets metadata changes through unchecked", func() {
		tc := tenant(ns, "growing", nextVIP())
		Expect(create(tc)).To(Succeed())
		tc.Spec.Workers[0].Size = 5
		tc.Spec.Workers[0].Zones = []string{"az1", "az2"}
		Expect(update(tc)).To(Succeed())

		By("deleting the account's Secret, then changing only labels and finalizers")
		Expect(k8sClient.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "maas"}})).To(Succeed())
		var ca infrav1alpha1.CloudAccount
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acct"}, &ca)).To(Succeed())
		ca.Labels = map[string]string{"team": "blue"}
		ca.Finalizers = []string{"test.maasgateway.io/hold"}
		Expect(update(&ca)).To(Succeed())
		ca.Finalizers = nil
		Expect(update(&ca)).To(Succeed())
	})

	It("accepts a CloudAccount and warns of a CA bundle it cannot use", func() {
		ca := account(ns, "with-bundle")
		ca.Spec.Endpoint, ca.Spec.InsecureAllowHTTP = "http://10.11.12.13:5240/MAAS", true
		ca.Spec.CABundle = selfSignedPEM(GinkgoT())
		ca.Spec.CredentialsSecretRef = infrav1alpha1.SecretKeyReference{Name: "maas-custom", Key: "maasKey"}
		Expect(create(ca)).To(Succeed())
		Expect(warnings.take()).To(ConsistOf(
			"spec.endpoint is plain http:// and spec.insecureAllowHTTP is set: the MAAS API key crosses the network "+
				"to 10.11.12.13 in cleartext, readable by anyone on the path; use https:// where MAAS offers it",
			"spec.caBundle is ignored: the endpoint is plain http://"))
	})

	It("accepts a CloudAccount whose Gateway and Secret do not exist yet, with warnings, as GitOps tools apply in any order", func() {
		ca := account(ns, "early")
		ca.Spec.GatewayRef = infrav1alpha1.GatewayReference{Name: "later"}
		ca.Spec.CredentialsSecretRef.Name = "later-key"
		Expect(create(ca)).To(Succeed())
		Expect(warnings.take()).To(ConsistOf(
			fmt.Sprintf("spec.gatewayRef: Gateway %s/later does not exist yet (an empty gatewayRef.namespace means the "+
				"CloudAccount's own, %s); the account is not used until it does", ns, ns),
			fmt.Sprintf("spec.credentialsSecretRef.name: Secret %s/later-key does not exist yet; nothing reaches MAAS until "+
				"it does: kubectl create secret generic later-key -n %s --from-literal=apiKey=<MAAS API key>", ns, ns)))
	})

	It("accepts a TenantCluster whose CloudAccount does not exist yet, with a warning, and still refuses a VIP in use", func() {
		tc := tenantIn(ns, func(t *infrav1alpha1.TenantCluster) { t.Spec.CloudAccountRef.Name = "later"; t.Name = "early" })
		Expect(create(tc)).To(Succeed())
		Expect(strings.Join(warnings.take(), "\n")).To(ContainSubstring(fmt.Sprintf(
			"CloudAccount %s/later does not exist yet: the cluster waits for it", ns)))
		twin := tenantIn(ns, func(t *infrav1alpha1.TenantCluster) { t.Spec.CloudAccountRef.Name = "later"; t.Name = "twin" })
		twin.Spec.ControlPlaneEndpoint = tc.Spec.ControlPlaneEndpoint
		Expect(create(twin)).To(MatchError(ContainSubstring("spec.controlPlaneEndpoint")))
	})

	It("accepts http:// on loopback with a warning", func() {
		ca := account(ns, "loopback-http")
		ca.Spec.Endpoint = "http://127.0.0.1:5240/MAAS"
		Expect(create(ca)).To(Succeed())
		Expect(warnings.take()).To(ConsistOf("spec.endpoint is plain http:// on loopback: the MAAS API key is sent " +
			"in cleartext, though it does not leave this host"))
	})

	It("accepted and defaulted the shared Gateway, with warnings", func() {
		Expect(gatewayCreateWarnings).To(ConsistOf(
			"spec.replicas is 1: a 1-node gateway is not recommended for production; resize it with kubectl scale mgw/gw --replicas=3",
			"spec.environment.noProxy does not include the MAAS endpoint host 10.11.12.13: nodes would reach MAAS "+
				"through the proxy; add 10.11.12.13 to spec.environment.noProxy"))
		var gw infrav1alpha1.Gateway
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: gatewayNamespace, Name: gatewayName}, &gw)).To(Succeed())
		Expect(gw.Spec.Environment.ServiceCIDR).To(Equal(DefaultServiceCIDR))
		Expect(gw.Spec.Environment.PodCIDR).To(Equal(gatewayPodCIDR))
		Expect(gw.Spec.MAAS.CredentialsSecretRef.Key).To(Equal("apiKey"))
	})

	It("never repeats the API key in a refusal", func() {
		for _, secret := range []string{"maas-two-parts", "maas-short"} {
			ca := account(ns, "leak-"+secret)
			ca.Spec.CredentialsSecretRef.Name = secret
			err := create(ca)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("does not hold a MAAS API key"))
			for _, part := range apiKeyParts {
				Expect(err.Error()).NotTo(ContainSubstring(part))
			}
		}
	})
})

var _ = Describe("Resizing the Gateway", Ordered, func() {
	It("allows 1 to 3 replicas", func() {
		Expect(updateSharedGateway(func(g *infrav1alpha1.Gateway) { g.Spec.Replicas = 3 })).To(Succeed())
	})

	It("refuses 3 to 1 with the etcd quorum reason, through update and through the scale subresource", func() {
		err := updateSharedGateway(func(g *infrav1alpha1.Gateway) { g.Spec.Replicas = 1 })
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("a 3-node gateway cannot be shrunk to 1 node: etcd would lose quorum"))

		gw := &infrav1alpha1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: gatewayNamespace, Name: gatewayName}}
		scale := &autoscalingv1.Scale{}
		Expect(k8sClient.SubResource("scale").Get(ctx, gw, scale)).To(Succeed())
		Expect(scale.Spec.Replicas).To(BeEquivalentTo(3))
		scale.Spec.Replicas = 1
		err = warnings.seen(k8sClient.SubResource("scale").Update(ctx, gw, client.WithSubResourceBody(scale)))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("etcd would lose quorum"))
	})
})

var _ = Describe("The Gateway deletion guard", Ordered, func() {
	var clusters []*infrav1alpha1.TenantCluster
	gw := func() *infrav1alpha1.Gateway {
		return &infrav1alpha1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: gatewayNamespace, Name: gatewayName}}
	}

	BeforeAll(func() {
		By("waiting until the webhooks' cache holds no cluster of other tests")
		Eventually(func() []infrav1alpha1.TenantCluster {
			var list infrav1alpha1.TenantClusterList
			Expect(mgrCache.List(ctx, &list)).To(Succeed())
			return list.Items
		}).Should(BeEmpty())
		nsA, nsB := newNamespace(), newNamespace()
		for i := range 7 {
			ns := nsA
			if i >= 4 {
				ns = nsB
			}
			tc := tenant(ns, fmt.Sprintf("c%d", i), nextVIP())
			Expect(create(tc)).To(Succeed())
			clusters = append(clusters, tc)
		}
		// A refusal counts what the cache holds; let it hold all seven.
		Eventually(func() []infrav1alpha1.TenantCluster {
			var list infrav1alpha1.TenantClusterList
			Expect(mgrCache.List(ctx, &list)).To(Succeed())
			return list.Items
		}).Should(HaveLen(7))
	})

	AfterAll(func() {
		Eventually(func() error { return create(sharedGateway()) }).Should(Succeed())
	})

	It("refuses the deletion while 7 clusters depend on it, naming 5 and counting the rest", func() {
		err := remove(gw())
		Expect(err).To(HaveOccurred())
		Expect(apierrors.IsForbidden(err)).To(BeTrue())
		msg := err.Error()
		Expect(msg).To(ContainSubstring(byGatewayWebhook))
		Expect(msg).To(ContainSubstring("Gateway maas-system/gw is in use: 7 TenantClusters depend on it: "))
		Expect(msg).To(HaveSuffix(" and 2 more; its CloudAccounts provision them; delete these TenantClusters first, then retry"))
		named := 0
		for _, tc := range clusters {
			if strings.Contains(msg, tc.Namespace+"/"+tc.Name) {
				named++
			}
		}
		Expect(named).To(Equal(5))
	})

	It("names the one cluster left", func() {
		for _, tc := range clusters[:6] {
			Expect(remove(tc)).To(Succeed())
		}
		last := clusters[6]
		Eventually(func() string {
			err := remove(gw())
			Expect(err).To(HaveOccurred())
			return err.Error()
		}).Should(ContainSubstring(fmt.Sprintf("1 TenantCluster depends on it: %s/%s;", last.Namespace, last.Name)))
	})

	It("allows the deletion once no cluster depends on it", func() {
		Expect(remove(clusters[6])).To(Succeed())
		Eventually(func() error { return remove(gw()) }).Should(Succeed())
	})
})

var _ = Describe("The CloudAccount deletion guard", func() {
	It("refuses the deletion while a cluster uses the account, and allows it after", func() {
		ns := newNamespace()
		tc := tenant(ns, "user", nextVIP())
		Expect(create(tc)).To(Succeed())
		acct := &infrav1alpha1.CloudAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acct"}}
		err := remove(acct)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring(byCloudAccountWebhook))
		Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("CloudAccount %s/acct is in use: 1 TenantCluster depends on it: %s/user; "+
			"their machines are released with its credentials; delete these TenantClusters first, then retry", ns, ns)))

		Expect(remove(tc)).To(Succeed())
		Eventually(func() error { return remove(acct) }).Should(Succeed())
	})

	It("refuses a deletion that comes right after the cluster's creation", func() {
		ns := newNamespace()
		for i := range 3 {
			acct := newAccount(ns, fmt.Sprintf("a%d", i), true)
			tc := tenant(ns, fmt.Sprintf("c%d", i), nextVIP())
			tc.Spec.CloudAccountRef.Name = acct.Name
			Expect(create(tc)).To(Succeed())
			err := remove(acct)
			Expect(err).To(HaveOccurred(), "round %d", i)
			Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("depends on it: %s/c%d;", ns, i)))
		}
	})

	// Locally the informer usually catches up before the next request
	// arrives, so the test above cannot show the gap the API reader closes.
	// A cache that never sees a cluster stands for one that has not yet.
	It("refuses the deletion even when the webhooks' cache has not seen the cluster", func() {
		ns := newNamespace()
		tc := tenant(ns, "unseen", nextVIP())
		Expect(create(tc)).To(Succeed())

		nothing := labels.SelectorFromSet(labels.Set{"test.maasgateway.io/never": "set"})
		blind, err := cache.New(restConfig, cache.Options{Scheme: scheme, ByObject: map[client.Object]cache.ByObject{
			&infrav1alpha1.TenantCluster{}: {Label: nothing},
			&infrav1alpha1.CloudAccount{}:  {Label: nothing},
		}})
		Expect(err).NotTo(HaveOccurred())
		Expect(dependents.SetupIndexes(ctx, blind)).To(Succeed())
		cacheCtx, stop := context.WithCancel(ctx)
		DeferCleanup(stop)
		go func() {
			defer GinkgoRecover()
			Expect(blind.Start(cacheCtx)).To(Succeed())
		}()
		Expect(blind.WaitForCacheSync(cacheCtx)).To(BeTrue())

		r := readers{cache: blind, live: k8sClient}
		acct := &infrav1alpha1.CloudAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acct"},
			Spec: infrav1alpha1.CloudAccountSpec{GatewayRef: infrav1alpha1.GatewayReference{Name: gatewayName, Namespace: gatewayNamespace}}}
		_, err = (&CloudAccountValidator{readers: r}).ValidateDelete(ctx, acct)
		Expect(err).To(MatchError(ContainSubstring(fmt.Sprintf("1 TenantCluster depends on it: %s/unseen;", ns))))
		var gw infrav1alpha1.Gateway
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: gatewayNamespace, Name: gatewayName}, &gw)).To(Succeed())
		_, err = (&GatewayValidator{readers: r}).ValidateDelete(ctx, &gw)
		Expect(err).To(MatchError(ContainSubstring(fmt.Sprintf("%s/unseen", ns))))
	})
})

var _ = Describe("ClusterProfiles", func() {
	profile := func(ns, name string) *infrav1alpha1.ClusterProfile {
		return &infrav1alpha1.ClusterProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: infrav1alpha1.ClusterProfileSpec{KubernetesVersion: "v1.34.2", Packs: []infrav1alpha1.Pack{
				{Name: "cni", Layer: infrav1alpha1.PackLayerCNI, Chart: &infrav1alpha1.ChartSource{
					Repository: "https://charts.example.com", Name: "cni", Version: "1.0.0"}},
			}}}
	}
	byProfile := func(tc *infrav1alpha1.TenantCluster, name string) {
		tc.Spec.Profile, tc.Spec.ProfileRef = nil, &infrav1alpha1.LocalObjectReference{Name: name}
	}

	It("accepts a cluster whose profile does not exist yet, with a warning, so that manifests apply in any order", func() {
		ns := newNamespace()
		tc := tenantIn(ns, func(tc *infrav1alpha1.TenantCluster) { byProfile(tc, "later") })
		tc.Spec.PackOverrides = []infrav1alpha1.PackOverride{{Name: "cni", Values: "mtu: 1400\n"}}
		Expect(create(tc)).To(Succeed())
		Expect(strings.Join(warnings.take(), "\n")).To(ContainSubstring(fmt.Sprintf("ClusterProfile %s/later does not exist yet: the cluster waits for it", ns)))
		Expect(create(profile(ns, "later"))).To(Succeed())
	})

	It("refuses an override that is no YAML mapping, and one naming no pack of the cluster's own profile", func() {
		ns := newNamespace()
		err := create(tenantIn(ns, func(tc *infrav1alpha1.TenantCluster) {
			tc.Spec.PackOverrides = []infrav1alpha1.PackOverride{{Name: "nosuch", Values: "- 1\n"}}
		}))
		Expect(err).To(MatchError(ContainSubstring("spec.packOverrides[0].values")))
		Expect(err).To(MatchError(ContainSubstring(`spec.packOverrides[0].name: Not found: "nosuch"`)))
	})

	It("refuses two network plugins and a chart version range, naming the fields", func() {
		ns := newNamespace()
		p := profile(ns, "two-cni")
		p.Spec.Packs = append(p.Spec.Packs, infrav1alpha1.Pack{Name: "cni2", Layer: infrav1alpha1.PackLayerCNI,
			Chart: &infrav1alpha1.ChartSource{Repository: "oci://registry.example.com/charts", Name: "cni2", Version: "~1.0"}})
		err := create(p)
		Expect(err).To(MatchError(ContainSubstring("one cni pack at most")))
	})

	It("refuses deleting a profile that a cluster is built from, and allows it once none is", func() {
		ns := newNamespace()
		p := profile(ns, "base")
		Expect(create(p)).To(Succeed())
		tc := tenantIn(ns, func(tc *infrav1alpha1.TenantCluster) { byProfile(tc, "base") })
		Expect(create(tc)).To(Succeed())
		err := remove(p)
		Expect(err).To(MatchError(ContainSubstring(fmt.Sprintf("ClusterProfile %s/base is in use: 1 TenantCluster depends on it: %s/tc", ns, ns))))
		Expect(remove(tc)).To(Succeed())
		Eventually(func() error { return remove(p) }).Should(Succeed())
	})
})
