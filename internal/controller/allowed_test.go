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

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/controller"
)

var _ = Describe("CloudAccounts of other namespaces", func() {
	It("uses an account only while its Gateway allows its namespace, and lets the Gateway go past accounts it does not allow", func() {
		gwNS, teamNS := newNamespace(), newNamespace()
		sim := startSimulator(nil)
		op, stop := startOperator(tenantOptions())
		DeferCleanup(stop)
		for _, ns := range []string{gwNS, teamNS} {
			Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
		}
		Expect(k8s.Create(suiteCtx, newGateway(gwNS, sim.URL))).To(Succeed())
		team := newCloudAccount(teamNS, "team", sim.URL, "maas")
		team.Spec.GatewayRef.Namespace = gwNS
		Expect(k8s.Create(suiteCtx, team)).To(Succeed())
		key := controller.AccountKey(client.ObjectKeyFromObject(team))

		ready := func(status metav1.ConditionStatus, reason string) func(Gomega) {
			return func(g Gomega) {
				a := &infrav1.CloudAccount{}
				g.Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(team), a)).To(Succeed())
				c := conditionOf(a.Status.Conditions, infrav1.ConditionReady)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Status).To(Equal(status), c.Message)
				g.Expect(c.Reason).To(Equal(reason), c.Message)
			}
		}
		registered := func() bool { _, ok := op.Inventory.Snapshot(key); return ok }
		allow := func(from infrav1.FromNamespaces, sel *metav1.LabelSelector) {
			GinkgoHelper()
			Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
				gw := &infrav1.Gateway{}
				Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: gwNS, Name: "gw"}, gw)).To(Succeed())
				gw.Spec.AllowedCloudAccounts.Namespaces = infrav1.AccountNamespaces{From: from, Selector: sel}
				return k8s.Update(suiteCtx, gw)
			})).To(Succeed())
		}
		label := func(labels map[string]string) {
			GinkgoHelper()
			Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
				n := &corev1.Namespace{}
				Expect(k8s.Get(suiteCtx, client.ObjectKey{Name: teamNS}, n)).To(Succeed())
				n.Labels = labels
				return k8s.Update(suiteCtx, n)
			})).To(Succeed())
		}

		// By default a Gateway allows its own namespace only (the webhook,
		// not running here, would have refused the account).
		Eventually(ready(metav1.ConditionFalse, infrav1.ReasonNotAllowedByGateway)).Should(Succeed())
		Expect(registered()).To(BeFalse())

		// Allowed by a namespace selector: used.
		allow(infrav1.NamespacesFromSelector, &metav1.LabelSelector{MatchLabels: map[string]string{"maas.example.com/tenant": "yes"}})
		Consistently(ready(metav1.ConditionFalse, infrav1.ReasonNotAllowedByGateway)).WithTimeout(time.Second).Should(Succeed())
		label(map[string]string{"maas.example.com/tenant": "yes"})
		Eventually(ready(metav1.ConditionTrue, infrav1.ReasonValid)).Should(Succeed())
		Eventually(registered).Should(BeTrue())

		// The namespace stops matching: the account stops being used, and so
		// does a cluster that names it.
		label(nil)
		Eventually(ready(metav1.ConditionFalse, infrav1.ReasonNotAllowedByGateway)).Should(Succeed())
		Eventually(registered).Should(BeFalse())
		tc := &infrav1.TenantCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: teamNS, Name: "user"},
			Spec: infrav1.TenantClusterSpec{
				CloudAccountRef:      infrav1.LocalObjectReference{Name: "team"},
				Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: tenantVersion},
				ControlPlaneEndpoint: "10.30.4.10",
				ControlPlane:         infrav1.ControlPlanePool{Size: 1, MachineTemplate: infrav1.MachineTemplate{ResourcePool: "tenants"}},
			},
		}
		Expect(k8s.Create(suiteCtx, tc)).To(Succeed())
		Eventually(func(g Gomega) {
			got := &infrav1.TenantCluster{}
			g.Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(tc), got)).To(Succeed())
			c := conditionOf(got.Status.Conditions, infrav1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(infrav1.ReasonCloudAccountNotReady))
			g.Expect(c.Message).To(ContainSubstring("allows CloudAccounts only from namespaces matching"))
		}).Should(Succeed())
		Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(tc), tc)).To(Succeed())
		Expect(tc.Status.Machines).To(BeEmpty())

		// Nor does that cluster hold the Gateway against deletion.
		gw := &infrav1.Gateway{}
		Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: gwNS, Name: "gw"}, gw)).To(Succeed())
		Expect(k8s.Delete(suiteCtx, gw)).To(Succeed())
		Eventually(func() error {
			return k8s.Get(suiteCtx, client.ObjectKey{Namespace: gwNS, Name: "gw"}, &infrav1.Gateway{})
		}).Should(MatchError(ContainSubstring("not found")))
	})
})
