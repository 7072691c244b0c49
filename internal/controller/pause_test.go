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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/controller"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/internal/operator"
)

// The pause and identity annotations, which maas-gateway move relies on: a
// paused object changes nothing in MAAS, and an object recreated with the
// identity of the one it replaces owns that one's machines.
var _ = Describe("Pause and identity", func() {
	const grace = 2 * time.Second
	var (
		ns   string
		sim  *maassim.Server
		stop func()
		opts operator.Options
	)

	BeforeEach(func() {
		sim = startSimulator(nil)
		opts = tenantOptions()
		opts.UnclaimedGrace = grace
		_, stop = startOperator(opts)
		DeferCleanup(func() { stop() })
		ns = newGatewayWithAccount(sim)
	})
	AfterEach(func() { deleteTenantAndGateway(ns) })

	key := func(name string) ctrlclient.ObjectKey { return ctrlclient.ObjectKey{Namespace: ns, Name: name} }
	cluster := func(g Gomega) *infrav1.TenantCluster {
		tc := &infrav1.TenantCluster{}
		g.Expect(k8s.Get(suiteCtx, key("tc"), tc)).To(Succeed())
		return tc
	}
	newCluster := func(annotations map[string]string) *infrav1.TenantCluster { return smallTenant(ns, annotations) }
	running := func() {
		GinkgoHelper()
		Eventually(cluster).Should(And(
			HaveField("Status.Phase", infrav1.TenantPhaseRunning),
			HaveField("Status.ReadyMachines", BeEquivalentTo(2)),
		))
	}
	ownedBy := func(uid string) []string {
		var out []string
		for _, m := range sim.Machines() {
			if m.Annotations[maas.AnnotationOwnerUID] == uid {
				out = append(out, m.SystemID)
			}
		}
		return out
	}
	states := func(ids []string) func() []string {
		return func() []string {
			var out []string
			for _, id := range ids {
				m, _ := sim.Machine(id)
				out = append(out, m.StatusName)
			}
			return out
		}
	}
	// writes counts the MAAS requests that change something.
	writes := func() int {
		n := 0
		for k, c := range sim.Counts() {
			if k.Method != "GET" {
				n += c
			}
		}
		return n
	}
	pausedCondition := func(obj ctrlclient.Object, name string) func(Gomega) *metav1.Condition {
		return func(g Gomega) *metav1.Condition {
			g.Expect(k8s.Get(suiteCtx, key(name), obj)).To(Succeed())
			var conds []metav1.Condition
			switch o := obj.(type) {
			case *infrav1.Gateway:
				conds = o.Status.Conditions
			case *infrav1.CloudAccount:
				conds = o.Status.Conditions
			case *infrav1.TenantCluster:
				conds = o.Status.Conditions
			}
			return meta.FindStatusCondition(conds, infrav1.ConditionPaused)
		}
	}
	pause := func(obj ctrlclient.Object, name string, paused bool) {
		GinkgoHelper()
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := k8s.Get(suiteCtx, key(name), obj); err != nil {
				return err
			}
			setPaused(obj, paused)
			return k8s.Update(suiteCtx, obj)
		})).To(Succeed())
	}

	It("a paused TenantCluster being deleted keeps its finalizer and its machines until it is resumed", func() {
		Expect(k8s.Create(suiteCtx, newCluster(nil))).To(Succeed())
		running()
		machines := ownedBy(string(cluster(Default).UID))
		Expect(machines).To(HaveLen(2))

		pause(&infrav1.TenantCluster{}, "tc", true)
		Eventually(pausedCondition(&infrav1.TenantCluster{}, "tc")).Should(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", infrav1.ReasonPausedByAnnotation)))
		sim.ResetCounts()
		Expect(k8s.Delete(suiteCtx, cluster(Default))).To(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(cluster(g).Finalizers).To(ContainElement(controller.TenantClusterFinalizer))
			g.Expect(writes()).To(BeZero(), "MAAS requests that change something: %v", sim.Counts())
			g.Expect(states(machines)()).To(HaveEach("Deployed"))
		}).WithTimeout(3 * time.Second).Should(Succeed())

		pause(&infrav1.TenantCluster{}, "tc", false)
		Eventually(func() error { return k8s.Get(suiteCtx, key("tc"), &infrav1.TenantCluster{}) }).
			Should(MatchError(ContainSubstring("not found")), "the resumed finalizer releases the machines")
		Eventually(states(machines)).Should(HaveEach("Ready"))
	})

	It("a paused Gateway stops its CloudAccounts' sweep of orphans until it is resumed", func() {
		Expect(k8s.Create(suiteCtx, newCluster(nil))).To(Succeed())
		running()
		orphans := ownedBy(string(cluster(Default).UID))
		Expect(orphans).To(HaveLen(2))

		pause(&infrav1.Gateway{}, "gw", true)
		Eventually(pausedCondition(&infrav1.Gateway{}, "gw")).Should(HaveField("Status", metav1.ConditionTrue))
		Eventually(pausedCondition(&infrav1.CloudAccount{}, "gw-default")).Should(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", infrav1.ReasonGatewayPaused)))

		// The cluster goes without its finalizer, paused, as maas-gateway
		// move removes it from the side it leaves: its machines look
		// orphaned here.
		pause(&infrav1.TenantCluster{}, "tc", true)
		Eventually(pausedCondition(&infrav1.TenantCluster{}, "tc")).Should(HaveField("Status", metav1.ConditionTrue))
		deleteWithoutFinalizer(ns)
		sim.ResetCounts()
		Consistently(func(g Gomega) {
			g.Expect(writes()).To(BeZero(), "MAAS requests that change something: %v", sim.Counts())
			g.Expect(states(orphans)()).To(HaveEach("Deployed"))
		}).WithTimeout(3 * grace).Should(Succeed())

		pause(&infrav1.Gateway{}, "gw", false)
		Eventually(pausedCondition(&infrav1.Gateway{}, "gw")).Should(And(
			HaveField("Status", metav1.ConditionFalse), HaveField("Reason", infrav1.ReasonResumed)))
		Eventually(pausedCondition(&infrav1.CloudAccount{}, "gw-default")).Should(HaveField("Status", metav1.ConditionFalse))
		Eventually(states(orphans)).Should(HaveEach("Ready"), "the resumed sweep releases the orphans")
	})

	It("a TenantCluster recreated with the identity of the one it replaces finds its machines and rebuilds status", func() {
		Expect(k8s.Create(suiteCtx, newCluster(nil))).To(Succeed())
		running()
		oldUID := string(cluster(Default).UID)
		machines := ownedBy(oldUID)
		Expect(machines).To(HaveLen(2))

		// What maas-gateway move does, with the manager down: the object
		// goes without its finalizer and comes back with its identity and
		// no status.
		stop()
		deleteWithoutFinalizer(ns)
		Expect(k8s.Create(suiteCtx, newCluster(map[string]string{infrav1.AnnotationIdentityUID: oldUID}))).To(Succeed())
		Expect(string(cluster(Default).UID)).NotTo(Equal(oldUID))

		sim.ResetCounts()
		_, stop = startOperator(opts)
		running()
		Expect(cluster(Default).Status.Machines).To(ConsistOf(
			HaveField("SystemID", BeElementOf(machines)), HaveField("SystemID", BeElementOf(machines))))
		Consistently(func(g Gomega) {
			g.Expect(ownedBy(oldUID)).To(ConsistOf(machines))
			g.Expect(states(machines)()).To(HaveEach("Deployed"))
		}).WithTimeout(2*grace).Should(Succeed(), "the sweep takes the moved owner for alive")
		for k, n := range sim.Counts() {
			Expect(k.Op).NotTo(Equal("allocate"), "allocated %d machines: %v", n, sim.Counts())
		}
	})
})

// setPaused adds or removes the paused annotation.
func setPaused(obj ctrlclient.Object, paused bool) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	if paused {
		a[infrav1.AnnotationPaused] = "true"
	} else {
		delete(a, infrav1.AnnotationPaused)
	}
	obj.SetAnnotations(a)
}

// newGatewayWithAccount makes, in a new namespace, the Secret of sim's API
// key and a Gateway "gw" of sim, and waits until its default CloudAccount
// "gw-default" is Ready (the operator must run).
func newGatewayWithAccount(sim *maassim.Server) string {
	GinkgoHelper()
	ns := newNamespace()
	Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
	gw := newGateway(ns, sim.URL)
	gw.Spec.Environment.ClusterNetwork = infrav1.ClusterNetwork{PodCIDR: "172.20.0.0/16", ServiceCIDR: "172.21.0.0/16"}
	Expect(k8s.Create(suiteCtx, gw)).To(Succeed())
	Eventually(func(g Gomega) {
		account := &infrav1.CloudAccount{}
		g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw-default"}, account)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(account.Status.Conditions, infrav1.ConditionReady)).To(BeTrue())
	}).Should(Succeed())
	return ns
}

// deleteTenantAndGateway deletes TenantCluster "tc" and Gateway "gw" of ns,
// resumed if paused, while the operator still runs, so that their
// finalizers release what is left.
func deleteTenantAndGateway(ns string) {
	GinkgoHelper()
	for _, obj := range []ctrlclient.Object{&infrav1.TenantCluster{}, &infrav1.Gateway{}} {
		name := "tc"
		if _, ok := obj.(*infrav1.Gateway); ok {
			name = "gw"
		}
		key := ctrlclient.ObjectKey{Namespace: ns, Name: name}
		if err := k8s.Get(suiteCtx, key, obj); err != nil {
			continue
		}
		Expect(ctrlclient.IgnoreNotFound(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := k8s.Get(suiteCtx, key, obj); err != nil || !pausedAnnotation(obj) {
				return err
			}
			setPaused(obj, false)
			return k8s.Update(suiteCtx, obj)
		}))).To(Succeed())
		Expect(ctrlclient.IgnoreNotFound(k8s.Delete(suiteCtx, obj))).To(Succeed())
		Eventually(func() error { return k8s.Get(suiteCtx, key, obj) }).Should(MatchError(ContainSubstring("not found")))
	}
}

func pausedAnnotation(obj ctrlclient.Object) bool {
	_, ok := obj.GetAnnotations()[infrav1.AnnotationPaused]
	return ok
}

// smallTenant is TenantCluster "tc" of ns on account "gw-default": one
// control-plane machine and one worker from pool "tenants".
func smallTenant(ns string, annotations map[string]string) *infrav1.TenantCluster {
	return &infrav1.TenantCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tc", Annotations: annotations},
		Spec: infrav1.TenantClusterSpec{
			CloudAccountRef:      infrav1.LocalObjectReference{Name: "gw-default"},
			Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: tenantVersion},
			ControlPlaneEndpoint: "10.30.2.10",
			ControlPlane:         infrav1.ControlPlanePool{Size: 1, MachineTemplate: infrav1.MachineTemplate{ResourcePool: "tenants"}},
			Workers: []infrav1.NodePool{{Name: "workers", Size: 1,
				MachineTemplate: infrav1.MachineTemplate{ResourcePool: "tenants"}}},
		},
	}
}

// deleteWithoutFinalizer deletes TenantCluster "tc" of ns the way a
// finalizer stripped by hand (or by maas-gateway move) does, and waits
// until it is gone.
func deleteWithoutFinalizer(ns string) {
	GinkgoHelper()
	key := ctrlclient.ObjectKey{Namespace: ns, Name: "tc"}
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		tc := &infrav1.TenantCluster{}
		if err := k8s.Get(suiteCtx, key, tc); err != nil {
			return err
		}
		controllerutil.RemoveFinalizer(tc, controller.TenantClusterFinalizer)
		return k8s.Update(suiteCtx, tc)
	})).To(Succeed())
	Expect(k8s.Delete(suiteCtx, &infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tc"}})).To(Succeed())
	Eventually(func() error { return k8s.Get(suiteCtx, key, &infrav1.TenantCluster{}) }).
		Should(MatchError(ContainSubstring("not found")))
}
