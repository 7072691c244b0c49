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
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/controller"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

var _ = Describe("CloudAccount controller", func() {
	var (
		ns  string
		sim *maassim.Server
	)

	BeforeEach(func() {
		ns = newNamespace()
		sim = startSimulator(nil)
		_, stop := startOperator(fastOptions)
		DeferCleanup(stop)
		Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
		Expect(k8s.Create(suiteCtx, newGateway(ns, sim.URL))).To(Succeed())
	})

	account := func(name string) func(Gomega) *infrav1.CloudAccount {
		return func(g Gomega) *infrav1.CloudAccount {
			a := &infrav1.CloudAccount{}
			g.Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: name}, a)).To(Succeed())
			return a
		}
	}
	haveCondition := func(t string, status metav1.ConditionStatus, reason string) OmegaMatcher {
		return WithTransform(func(a *infrav1.CloudAccount) *metav1.Condition {
			return conditionOf(a.Status.Conditions, t)
		}, And(Not(BeNil()), HaveField("Status", status), HaveField("Reason", reason)))
	}

	It("becomes Ready with what MAAS reports", func() {
		Expect(k8s.Create(suiteCtx, newCloudAccount(ns, "acct", sim.URL, "maas"))).To(Succeed())

		Eventually(account("acct")).Should(And(
			haveCondition(infrav1.CloudAccountCredentialsValid, metav1.ConditionTrue, infrav1.ReasonValid),
			haveCondition(infrav1.ConditionReady, metav1.ConditionTrue, infrav1.ReasonValid),
		))
		a := account("acct")(Default)
		Expect(a.Status.Zones).To(ContainElements("zone-a", "zone-b", "zone-c"))
		Expect(a.Status.ResourcePools).To(ContainElement("default"))
		Expect(len(a.Status.ResourcePools)).To(BeNumerically(">=", 2))
		Expect(a.Status.Domains).NotTo(BeEmpty())
		Expect(a.Status.OSImages).To(ContainElement("ubuntu/jammy"))
		Expect(a.Status.MAASVersion).NotTo(BeEmpty())
		Expect(a.Status.LastValidated).NotTo(BeNil())
		Expect(a.Finalizers).To(ContainElement(controller.CloudAccountFinalizer))
	})

	It("reports a refused key, and heals when the Secret is fixed, without a restart", func() {
		bad := "aaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbb:cccccccccccccccccccccccccccccccc"
		Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "wrong", bad))).To(Succeed())
		Expect(k8s.Create(suiteCtx, newCloudAccount(ns, "acct", sim.URL, "wrong"))).To(Succeed())

		Eventually(account("acct")).Should(And(
			haveCondition(infrav1.CloudAccountCredentialsValid, metav1.ConditionFalse, infrav1.ReasonUnauthorized),
			haveCondition(infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonUnauthorized),
		))
		a := account("acct")(Default)
		for _, c := range a.Status.Conditions {
			Expect(c.Message).NotTo(ContainSubstring("cccccccccccccccc"), "condition %s leaks the token secret", c.Type)
		}
		Eventually(func(g Gomega) []string {
			return eventReasons(g, ns, "acct")
		}).Should(ContainElement(infrav1.ReasonUnauthorized))

		secret := &corev1.Secret{}
		Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "wrong"}, secret)).To(Succeed())
		secret.Data = map[string][]byte{infrav1.DefaultAPIKeyKey: []byte(sim.DefaultAPIKey())}
		Expect(k8s.Update(suiteCtx, secret)).To(Succeed())

		// Faster than the revalidation interval: the Secret watch brought it back.
		Eventually(account("acct")).WithTimeout(fastOptions.RevalidateInterval).Should(
			haveCondition(infrav1.ConditionReady, metav1.ConditionTrue, infrav1.ReasonValid))
	})

	It("says what is wrong with a missing Secret or a malformed key", func() {
		Expect(k8s.Create(suiteCtx, newCloudAccount(ns, "nosecret", sim.URL, "absent"))).To(Succeed())
		Eventually(account("nosecret")).Should(haveCondition(infrav1.CloudAccountCredentialsValid, metav1.ConditionFalse, infrav1.ReasonSecretNotFound))

		Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "malformed", "only-two:parts-here-secretvalue"))).To(Succeed())
		Expect(k8s.Create(suiteCtx, newCloudAccount(ns, "malformed", sim.URL, "malformed"))).To(Succeed())
		Eventually(account("malformed")).Should(haveCondition(infrav1.CloudAccountCredentialsValid, metav1.ConditionFalse, infrav1.ReasonInvalidAPIKey))
		a := account("malformed")(Default)
		Expect(conditionOf(a.Status.Conditions, infrav1.CloudAccountCredentialsValid).Message).NotTo(ContainSubstring("secretvalue"))
	})

	It("reports an unreachable MAAS and recovers when it is back", func() {
		Expect(k8s.Create(suiteCtx, newCloudAccount(ns, "acct", sim.URL, "maas"))).To(Succeed())
		Eventually(account("acct")).Should(haveCondition(infrav1.ConditionReady, metav1.ConditionTrue, infrav1.ReasonValid))

		sim.Stop()
		// Revalidation finds MAAS gone; the key itself is still believed good.
		Eventually(account("acct")).Should(And(
			haveCondition(infrav1.ConditionReady, metav1.ConditionFalse, infrav1.ReasonUnreachable),
			haveCondition(infrav1.CloudAccountCredentialsValid, metav1.ConditionTrue, infrav1.ReasonValid),
		))

		Expect(sim.Restart()).To(Succeed())
		Eventually(account("acct")).Should(haveCondition(infrav1.ConditionReady, metav1.ConditionTrue, infrav1.ReasonValid))
	})

	It("refuses to finish deleting an account while a TenantCluster uses it", func() {
		Expect(k8s.Create(suiteCtx, newCloudAccount(ns, "acct", sim.URL, "maas"))).To(Succeed())
		Eventually(account("acct")).Should(haveCondition(infrav1.ConditionReady, metav1.ConditionTrue, infrav1.ReasonValid))
		tc := &infrav1.TenantCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tc"},
			Spec: infrav1.TenantClusterSpec{
				CloudAccountRef:      infrav1.LocalObjectReference{Name: "acct"},
				Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: "v1.34.2"},
				ControlPlaneEndpoint: "10.30.0.10",
			},
		}
		Expect(k8s.Create(suiteCtx, tc)).To(Succeed())

		Expect(k8s.Delete(suiteCtx, account("acct")(Default))).To(Succeed())
		Eventually(account("acct")).Should(haveCondition(infrav1.ConditionReady, metav1.ConditionFalse, "InUse"))
		Consistently(account("acct")).WithTimeout(time.Second).Should(HaveField("DeletionTimestamp", Not(BeNil())))

		Expect(k8s.Delete(suiteCtx, tc)).To(Succeed())
		Eventually(func() bool {
			err := k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "acct"}, &infrav1.CloudAccount{})
			return err != nil && strings.Contains(err.Error(), "not found")
		}).Should(BeTrue())
	})
})

// eventReasons lists the reasons of the events recorded about an object
// (any object of the namespace when name is empty).
func eventReasons(g Gomega, ns, name string) []string {
	list := &eventsv1.EventList{}
	g.Expect(k8s.List(suiteCtx, list, client.InNamespace(ns))).To(Succeed())
	var reasons []string
	for _, e := range list.Items {
		if name == "" || e.Regarding.Name == name {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

var _ = Describe("CloudAccount validation", func() {
	// reconciles is how many times the CloudAccount controller has
	// reconciled in this process (every manager of the suite counts in
	// controller-runtime's global registry; only differences are used).
	reconciles := func() float64 {
		families, err := ctrlmetrics.Registry.Gather()
		Expect(err).NotTo(HaveOccurred())
		total := 0.0
		for _, f := range families {
			if f.GetName() != "controller_runtime_reconcile_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "controller" && l.GetValue() == "cloudaccount" {
						total += m.GetCounter().GetValue()
					}
				}
			}
		}
		return total
	}

	It("validates again only when due or when the key, the endpoint or the gateway changed", func() {
		ns := newNamespace()
		sim := startSimulator(nil)
		opts := fastOptions
		opts.RevalidateInterval = time.Hour
		_, stop := startOperator(opts)
		DeferCleanup(stop)
		Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
		Expect(k8s.Create(suiteCtx, newGateway(ns, sim.URL))).To(Succeed())
		Expect(k8s.Create(suiteCtx, newCloudAccount(ns, "acct", sim.URL, "maas"))).To(Succeed())
		get := func(g Gomega) *infrav1.CloudAccount {
			a := &infrav1.CloudAccount{}
			g.Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "acct"}, a)).To(Succeed())
			return a
		}
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(get(g).Status.Conditions, infrav1.ConditionReady)).To(HaveField("Status", metav1.ConditionTrue))
		}).Should(Succeed())
		validated := get(Default).Status.LastValidated
		// The Gateway's default CloudAccount validates against the same
		// simulator: only after it has do the counts below belong to acct.
		Eventually(func(g Gomega) {
			d := &infrav1.CloudAccount{}
			g.Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "gw-default"}, d)).To(Succeed())
			g.Expect(conditionOf(d.Status.Conditions, infrav1.ConditionReady)).To(HaveField("Status", metav1.ConditionTrue))
		}).Should(Succeed())

		// Reconciles that are not due (here: annotation changes; in
		// production: the inventory's news of unclaimed machines) ask MAAS
		// nothing beyond the machine list and write no status.
		sim.ResetCounts()
		for i := range 5 {
			before := reconciles()
			a := get(Default)
			if a.Annotations == nil {
				a.Annotations = map[string]string{}
			}
			a.Annotations["test/nudge"] = fmt.Sprint(i)
			Expect(k8s.Update(suiteCtx, a)).To(Succeed())
			Eventually(reconciles).Should(BeNumerically(">", before))
		}
		for k, n := range sim.Counts() {
			// Besides the inventory's machine list, the reservation sweep
			// reads the installation's addresses and ranges: no validation.
			Expect(k).To(Or(
				HaveField("Endpoint", "machines/"),
				And(HaveField("Method", "GET"), HaveField("Endpoint", BeElementOf("ipaddresses/", "ipranges/"))),
			), "%d requests %v: no validation was due", n, k)
		}
		Expect(get(Default).Status.LastValidated).To(Equal(validated))

		// A rotated key is validated at once.
		other := sim.AddUser("rotated", false)
		Eventually(func() error {
			s := &corev1.Secret{}
			if err := k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "maas"}, s); err != nil {
				return err
			}
			s.Data[infrav1.DefaultAPIKeyKey] = []byte(other)
			return k8s.Update(suiteCtx, s)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(get(g).Status.User).To(Equal("rotated"))
		}).Should(Succeed())
	})
})
