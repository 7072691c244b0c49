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

package controller_test

// The first step of maas-gateway install: the operator, running in a
// bootstrap cluster (envtest here), creates the gateway cluster on a MAAS
// machine with kubeadm init and watches it at its VIP, where the
// controlplane emulator runs the real API server and etcd the user data
// asks for. No Node of the gateway is ever in the bootstrap cluster.

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/catalog"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

var _ = Describe("Gateway created from nothing (spec.initialize), from outside", func() {
	const vip = "127.11.12.100" // in the simulator's gateway subnet, as gateway_etcd_test's
	// publishCatalog publishes the releases the gateway may run, for this spec.
	publishCatalog := func() {
		cm := &corev1.ConfigMap{}
		cm.Namespace, cm.Name = gatewayOptions.ReleaseCatalog.Namespace, gatewayOptions.ReleaseCatalog.Name
		cm.Data = map[string]string{catalog.DataKey: releases}
		Expect(k8s.Create(suiteCtx, cm)).To(Succeed())
		DeferCleanup(func() { Expect(k8s.Delete(suiteCtx, cm)).To(Succeed()) })
	}

	It("deploys its first node with kubeadm init from a PKI it generates, sees it Ready at the VIP, and adds no second node until moved", func() {
		ns := newNamespace()
		sim := startSimulator(func(c *maassim.Config) { c.Inventory = maassim.Loopback(c.Inventory) })
		releasedAt := watchReleases(sim)
		emu := startControlPlanes(sim)
		Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
		publishCatalog()

		o := gatewayOptions
		o.SkipGatewayEtcd = false
		o.OutsideGateway = true
		o.RequeueInterval = time.Second
		_, stop := startOperator(o)
		DeferCleanup(stop)

		gw := newGateway(ns, sim.URL)
		gw.Spec.Initialize = true
		gw.Spec.DeletionPolicy = infrav1.GatewayRetain
		gw.Spec.ControlPlaneEndpoint = vip
		gw.Spec.Placement = infrav1.Placement{ResourcePool: "gateway"}
		gw.Spec.Environment.ClusterNetwork = infrav1.ClusterNetwork{PodCIDR: "172.20.0.0/16", ServiceCIDR: "172.21.0.0/16"}
		gw.Spec.Release = &infrav1.Release{Version: "1.0.0"}
		Expect(k8s.Create(suiteCtx, gw)).To(Succeed())
		DeferCleanup(func() { Expect(ctrlclient.IgnoreNotFound(k8s.Delete(suiteCtx, gw))).To(Succeed()) })
		gateway := func(g Gomega) *infrav1.Gateway {
			got := &infrav1.Gateway{}
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(gw), got)).To(Succeed())
			return got
		}

		// The cluster comes up at the VIP from the first machine's user
		// data; its Node turns Ready once a network plugin runs there (the
		// installer's part, played here by the test).
		var admin ctrlclient.Client
		Eventually(func() error {
			cfg, err := emu.AdminConfig(vip + ":6443")
			if err == nil {
				admin, err = ctrlclient.New(cfg, ctrlclient.Options{})
			}
			return err
		}).WithTimeout(3*time.Minute).Should(Succeed(), "the first node's API server answers at the VIP")
		// A fresh API server answers before it has made kube-system.
		Eventually(func() error {
			return ctrlclient.IgnoreAlreadyExists(admin.Create(suiteCtx, controlplane.NetworkPlugin()))
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			got := gateway(g)
			g.Expect(got.Status.ReadyReplicas).To(BeEquivalentTo(1))
			g.Expect(got.Status.Nodes).To(HaveLen(1))
			g.Expect(got.Status.Nodes[0].Ready).To(BeTrue())
		}).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())

		owned := ownedMachinesIn(sim, ns)
		Expect(owned).To(HaveLen(1))
		intent, err := bootstrap.Parse(owned[0].UserData)
		Expect(err).NotTo(HaveOccurred())
		Expect(intent.Role).To(Equal(bootstrap.RoleInitControlPlane))

		// The cluster at the VIP runs on the PKI the operator keeps: its CA
		// is the one in Secret gw-ca, which no one made by hand.
		ca := &corev1.Secret{}
		Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: bootstrap.SecretName("gw", bootstrap.PurposeCA)}, ca)).To(Succeed())
		cfg, err := emu.AdminConfig(vip + ":6443")
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.CAData).To(Equal(ca.Data[corev1.TLSCertKey]))
		Expect(ca.OwnerReferences).To(BeEmpty(), "the cluster's CA outlives the Gateway object")
		// None of the gateway's Nodes is in the bootstrap cluster.
		nodes := &corev1.NodeList{}
		Expect(k8s.List(suiteCtx, nodes, ctrlclient.MatchingLabels{infrav1.LabelGateway: "gw"})).To(Succeed())
		Expect(nodes.Items).To(BeEmpty())

		// Three nodes asked for: the others wait for the move.
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			got := gateway(Default)
			got.Spec.Replicas = 3
			return k8s.Update(suiteCtx, got)
		})).To(Succeed())
		Eventually(func(g Gomega) {
			got := gateway(g)
			c := meta.FindStatusCondition(got.Status.Conditions, infrav1.GatewayResized)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(c.Reason).To(Equal(infrav1.ReasonWaitingForMove))
		}).WithTimeout(time.Minute).Should(Succeed())
		Expect(ownedMachinesIn(sim, ns)).To(HaveLen(1), "no node is added from outside the gateway")

		// Decommissioned from outside: the gateway's Nodes are in the
		// gateway cluster, never in this one, even where a Node here
		// bears the gateway machine's system ID (another cluster's).
		other := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "not-the-gateways",
			Labels: map[string]string{infrav1.LabelSystemID: owned[0].SystemID}}}
		Expect(k8s.Create(suiteCtx, other)).To(Succeed())
		DeferCleanup(func() { Expect(ctrlclient.IgnoreNotFound(k8s.Delete(suiteCtx, other))).To(Succeed()) })
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			got := gateway(Default)
			got.Spec.DeletionPolicy = infrav1.GatewayDecommission
			return k8s.Update(suiteCtx, got)
		})).To(Succeed())
		Expect(k8s.Delete(suiteCtx, gw)).To(Succeed())
		Eventually(func() time.Time { return releasedAt(owned[0].SystemID) }).WithTimeout(time.Minute).
			ShouldNot(BeZero(), "the gateway's machine is released")
		Eventually(func() error { return k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(gw), &infrav1.Gateway{}) }).
			Should(MatchError(ContainSubstring("not found")))
		Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(other), other)).To(Succeed(), "another cluster's Node is not deleted")
		Expect(other.Annotations).To(BeEmpty(), "another cluster's Node is not drained")
		Expect(other.Spec.Unschedulable).To(BeFalse(), "another cluster's Node is not cordoned")
	})

	It("generates its PKI again after a generation interrupted between its Secrets, never over a Secret it did not make", func() {
		ns := newNamespace()
		sim := startSimulator(func(c *maassim.Config) { c.Inventory = maassim.Loopback(c.Inventory) })
		Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
		publishCatalog()
		o := gatewayOptions
		o.OutsideGateway = true
		o.RequeueInterval = time.Second
		_, stop := startOperator(o)
		DeferCleanup(stop)
		old, err := bootstrap.GeneratePKI()
		Expect(err).NotTo(HaveOccurred())
		leftover := func(name string, labels map[string]string) *corev1.Secret {
			s := &corev1.Secret{Data: old.SecretData()[bootstrap.PurposeCA]}
			s.Namespace, s.Name, s.Labels = ns, bootstrap.SecretName(name, bootstrap.PurposeCA), labels
			Expect(k8s.Create(suiteCtx, s)).To(Succeed())
			return s
		}
		create := func(name, vip string) {
			gw := newGateway(ns, sim.URL)
			gw.Name = name
			gw.Spec.Initialize = true
			gw.Spec.DeletionPolicy = infrav1.GatewayRetain
			gw.Spec.ControlPlaneEndpoint = vip
			gw.Spec.Placement = infrav1.Placement{ResourcePool: "gateway"}
			gw.Spec.Environment.ClusterNetwork = infrav1.ClusterNetwork{PodCIDR: "172.20.0.0/16", ServiceCIDR: "172.21.0.0/16"}
			gw.Spec.Release = &infrav1.Release{Version: "1.0.0"}
			Expect(k8s.Create(suiteCtx, gw)).To(Succeed())
			DeferCleanup(func() { Expect(ctrlclient.IgnoreNotFound(k8s.Delete(suiteCtx, gw))).To(Succeed()) })
		}
		secret := func(g Gomega, name string, p bootstrap.SecretPurpose) *corev1.Secret {
			got := &corev1.Secret{}
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: bootstrap.SecretName(name, p)}, got)).To(Succeed())
			return got
		}

		// Only the CA of an earlier generation, made by the operator (its
		// label) before it was killed: all of the PKI is generated anew,
		// and the first node deployed with it.
		leftover("gw", map[string]string{infrav1.LabelGateway: "gw"})
		create("gw", "127.11.12.101")
		Eventually(func(g Gomega) {
			g.Expect(secret(g, "gw", bootstrap.PurposeCA).Data).NotTo(Equal(old.SecretData()[bootstrap.PurposeCA]))
			g.Expect(secret(g, "gw", bootstrap.PurposeFrontProxy).Data).NotTo(BeEmpty())
			g.Expect(ownedMachinesIn(sim, ns)).To(ContainElement(HaveField("StatusName", BeElementOf("Deploying", "Deployed"))))
		}).WithTimeout(time.Minute).Should(Succeed())

		// A CA someone else made (no label): it is theirs; nothing is
		// generated over it and no machine of that gateway is deployed.
		theirs := leftover("other", nil)
		create("other", "127.11.12.102")
		Consistently(func(g Gomega) {
			g.Expect(secret(g, "other", bootstrap.PurposeCA).Data).To(Equal(theirs.Data))
			got := &corev1.Secret{}
			err := k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: bootstrap.SecretName("other", bootstrap.PurposeFrontProxy)}, got)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "no part of a PKI is generated beside a CA the operator did not make")
			for _, m := range sim.Machines() {
				if m.Annotations[maas.AnnotationOwnerName] == "other" {
					g.Expect(m.StatusName).NotTo(BeElementOf("Deploying", "Deployed"))
				}
			}
		}).WithTimeout(10 * time.Second).Should(Succeed())
	})
})
