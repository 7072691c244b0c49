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
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

var _ = Describe("CloudAccounts of namespaces the Gateway allows", func() {
	allow := func(from infrav1alpha1.FromNamespaces, sel *metav1.LabelSelector) {
		GinkgoHelper()
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			return updateSharedGateway(func(gw *infrav1alpha1.Gateway) {
				gw.Spec.AllowedCloudAccounts.Namespaces = infrav1alpha1.AccountNamespaces{From: from, Selector: sel}
			})
		})).To(Succeed())
	}
	BeforeEach(func() {
		// The other specs need every namespace allowed.
		DeferCleanup(func() { allow(infrav1alpha1.NamespacesFromAll, nil); warnings.take() })
	})
	label := func(ns string, labels map[string]string) {
		GinkgoHelper()
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n := &corev1.Namespace{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, n)).To(Succeed())
			n.Labels = labels
			return k8sClient.Update(ctx, n)
		})).To(Succeed())
	}

	It("refuses an account from another namespace of a Gateway that allows only its own (the default)", func() {
		ns := newNamespace()
		allow(infrav1alpha1.NamespacesFromSame, nil)
		// Accounts of other specs' namespaces are cut too; the warning names
		// some and counts the rest.
		Expect(strings.Join(warnings.take(), "\n")).To(MatchRegexp(
			`spec.allowedCloudAccounts no longer allows \d+ CloudAccounts \(t-[a-z0-9]+/[a-z0-9-]+(, [^,)]+)*( and \d+ more)?\): ` +
				`they stop being used \(Ready False, reason NotAllowedByGateway\)`))

		err := create(accountIn(ns, func(*infrav1alpha1.CloudAccount) {}))
		Expect(err).To(MatchError(And(ContainSubstring(byCloudAccountWebhook),
			ContainSubstring(fmt.Sprintf("spec.gatewayRef: Forbidden: Gateway %s/%s allows CloudAccounts only from its own namespace %s, not from %s",
				gatewayNamespace, gatewayName, gatewayNamespace, ns)),
			ContainSubstring("from: Selector with a selector that matches the namespace's labels"))))
		// Its own namespace always may.
		Expect(create(accountIn(gatewayNamespace, func(ca *infrav1alpha1.CloudAccount) { ca.Name = "own" }))).To(Succeed())
		Expect(k8sClient.Delete(ctx, accountIn(gatewayNamespace, func(ca *infrav1alpha1.CloudAccount) { ca.Name = "own" }))).To(Succeed())
	})

	It("accepts an account from a namespace the Gateway's selector matches, and refuses others", func() {
		ns := newNamespace()
		allow(infrav1alpha1.NamespacesFromSelector, &metav1.LabelSelector{MatchLabels: map[string]string{"maas.example.com/tenant": "yes"}})
		err := create(accountIn(ns, func(*infrav1alpha1.CloudAccount) {}))
		Expect(err).To(MatchError(And(ContainSubstring(byCloudAccountWebhook), ContainSubstring(fmt.Sprintf(
			"allows CloudAccounts only from namespaces matching maas.example.com/tenant=yes, and namespace %s does not match", ns)))))
		label(ns, map[string]string{"maas.example.com/tenant": "yes"})
		Eventually(func() error { return create(accountIn(ns, func(*infrav1alpha1.CloudAccount) {})) }).Should(Succeed())
	})

	It("refuses an account moved to a Gateway that does not allow its namespace", func() {
		ns := newNamespace()
		allow(infrav1alpha1.NamespacesFromSame, nil)
		elsewhere := accountIn(ns, func(ca *infrav1alpha1.CloudAccount) { ca.Spec.GatewayRef.Name = "not-yet" })
		Expect(create(elsewhere)).To(Succeed()) // a Gateway that does not exist yet is a warning
		warnings.take()
		elsewhere.Spec.GatewayRef.Name = gatewayName
		Expect(update(elsewhere)).To(MatchError(ContainSubstring("allows CloudAccounts only from its own namespace")))
	})

	It("lets the Gateway go when only accounts of namespaces it does not allow have clusters", func() {
		ns := newNamespace()
		Expect(create(tenant(ns, "user", nextVIP()))).To(Succeed())
		var gw infrav1alpha1.Gateway
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: gatewayNamespace, Name: gatewayName}, &gw)).To(Succeed())
		Eventually(func() error { return k8sClient.Delete(ctx, &gw, client.DryRunAll) }).Should(
			MatchError(ContainSubstring(fmt.Sprintf("%s/user", ns))), "an allowed account's cluster holds the Gateway")

		allow(infrav1alpha1.NamespacesFromSame, nil)
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: gatewayNamespace, Name: gatewayName}, &gw)).To(Succeed())
		Eventually(func() error { return k8sClient.Delete(ctx, &gw, client.DryRunAll) }).Should(Succeed(),
			"an account the Gateway does not allow is not used, and cannot pin it")
	})

	It("refuses a namespace selector Kubernetes cannot parse, and from: Selector without one", func() {
		err := updateSharedGateway(func(gw *infrav1alpha1.Gateway) {
			gw.Spec.AllowedCloudAccounts.Namespaces = infrav1alpha1.AccountNamespaces{From: infrav1alpha1.NamespacesFromSelector,
				Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Near"}}}}
		})
		Expect(err).To(MatchError(And(ContainSubstring(byGatewayWebhook),
			ContainSubstring("spec.allowedCloudAccounts.namespaces.selector"), ContainSubstring(`"Near" is not a valid label selector operator`))))
		err = updateSharedGateway(func(gw *infrav1alpha1.Gateway) {
			gw.Spec.AllowedCloudAccounts.Namespaces = infrav1alpha1.AccountNamespaces{From: infrav1alpha1.NamespacesFromSelector}
		})
		Expect(err).To(MatchError(ContainSubstring("selector is required when from is Selector, and only then")))
	})
})
