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

	"github.com/canonical/gomaasclient/client"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/internal/operator"
)

var _ = Describe("Orphaned machines", func() {
	const grace = 2 * time.Second
	var (
		ns   string
		sim  *maassim.Server
		stop func()
		opts operator.Options
		// The new owner of the second spec allocates a released machine
		// again at once.
		releasedAt func(string) time.Time
	)

	BeforeEach(func() {
		sim = startSimulator(nil)
		releasedAt = watchReleases(sim)
		opts = tenantOptions()
		opts.UnclaimedGrace = grace
		_, stop = startOperator(opts)
		DeferCleanup(func() { stop() })
		ns = newGatewayWithAccount(sim)
	})
	AfterEach(func() { deleteTenantAndGateway(ns) })

	cluster := func(g Gomega) *infrav1.TenantCluster {
		tc := &infrav1.TenantCluster{}
		g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "tc"}, tc)).To(Succeed())
		return tc
	}
	create := func() {
		GinkgoHelper()
		Expect(k8s.Create(suiteCtx, smallTenant(ns, nil))).To(Succeed())
	}
	running := func() {
		GinkgoHelper()
		Eventually(cluster).Should(And(
			HaveField("Status.Phase", infrav1.TenantPhaseRunning),
			HaveField("Status.ReadyMachines", BeEquivalentTo(2)),
		))
	}
	// ownedBy lists the simulator's machines whose marks name uid.
	ownedBy := func(uid string) []maassim.Machine {
		var out []maassim.Machine
		for _, m := range sim.Machines() {
			if m.Annotations[maas.AnnotationOwnerUID] == uid {
				out = append(out, m)
			}
		}
		return out
	}
	state := func(id string) func() string {
		return func() string {
			m, _ := sim.Machine(id)
			return m.StatusName
		}
	}
	accountEvents := func(reason string) []eventsv1.Event {
		list := &eventsv1.EventList{}
		Expect(k8s.List(suiteCtx, list, ctrlclient.InNamespace(ns))).To(Succeed())
		var out []eventsv1.Event
		for _, e := range list.Items {
			if e.Regarding.Kind == "CloudAccount" && e.Regarding.Name == "gw-default" && e.Reason == reason {
				out = append(out, e)
			}
		}
		return out
	}
	// dropWithoutFinalizer deletes the cluster the way a finalizer stripped
	// by hand does, while the manager is down.
	dropWithoutFinalizer := func() {
		GinkgoHelper()
		stop()
		deleteWithoutFinalizer(ns)
	}
	releasedWithEvent := func(orphans []maassim.Machine, start time.Time) {
		GinkgoHelper()
		for _, m := range orphans {
			Eventually(func() time.Time { return releasedAt(m.SystemID) }).Should(BeTemporally(">", start),
				"machine %s of the gone owner is released", m.SystemID)
			Expect(releasedAt(m.SystemID).Sub(start)).To(BeNumerically(">=", grace), "machine %s released before the grace period", m.SystemID)
		}
		for _, m := range orphans {
			Eventually(func() []eventsv1.Event { return accountEvents("ReleasedOrphanedMachine") }).Should(ContainElement(
				HaveField("Note", And(ContainSubstring(m.SystemID), ContainSubstring(ns+"/tc"), ContainSubstring("uid")))))
		}
	}

	It("releases the machines of a TenantCluster deleted without its finalizer, after the grace, with an event", func() {
		create()
		running()
		uid := string(cluster(Default).UID)
		orphans := ownedBy(uid)
		Expect(orphans).To(HaveLen(2))

		dropWithoutFinalizer()
		for _, m := range orphans {
			Expect(state(m.SystemID)()).To(Equal("Deployed"))
		}
		start := time.Now()
		_, stop = startOperator(opts)
		releasedWithEvent(orphans, start)
	})

	It("releases the machines of the object's predecessor when it is recreated with a new UID, and only those", func() {
		create()
		running()
		oldUID := string(cluster(Default).UID)
		orphans := ownedBy(oldUID)
		Expect(orphans).To(HaveLen(2))

		dropWithoutFinalizer()
		create()
		newUID := string(cluster(Default).UID)
		Expect(newUID).NotTo(Equal(oldUID))
		start := time.Now()
		_, stop = startOperator(opts)
		releasedWithEvent(orphans, start)
		// The new object gets machines of its own (and the VIP, once the
		// sweep has released its predecessor's reservation), and keeps them.
		running()
		mine := ownedBy(newUID)
		Expect(mine).To(HaveLen(2))
		Consistently(func() []string {
			var states []string
			for _, m := range mine {
				states = append(states, state(m.SystemID)())
			}
			return states
		}).WithTimeout(2*grace).Should(HaveEach("Deployed"), "a live owner's machines are not swept")
	})

	It("never releases a Deployed machine whose owner annotations were lost, and says so once", func() {
		create()
		running()
		uid := string(cluster(Default).UID)
		var worker maassim.Machine
		for _, m := range ownedBy(uid) {
			if m.Annotations[maas.AnnotationPool] == "workers" {
				worker = m
			}
		}
		Expect(worker.SystemID).NotTo(BeEmpty())

		// Someone clears the machine's workload annotations in MAAS.
		gc, err := client.GetClient(sim.URL, sim.DefaultAPIKey(), "2.0")
		Expect(err).NotTo(HaveOccurred())
		clear := map[string]string{}
		for k := range worker.Annotations {
			clear[k] = ""
		}
		_, err = gc.Machine.SetWorkloadAnnotations(worker.SystemID, clear)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() map[string]string {
			m, _ := sim.Machine(worker.SystemID)
			return m.Annotations
		}).Should(BeEmpty())

		Eventually(func() []eventsv1.Event { return accountEvents("UnclaimedMachineKept") }).Should(ContainElement(
			HaveField("Note", And(ContainSubstring(worker.SystemID), ContainSubstring("Deployed")))))
		Consistently(state(worker.SystemID)).WithTimeout(3*grace).Should(Equal("Deployed"),
			"a deployed machine that lost its marks may be a running node: never released")
		Expect(accountEvents("UnclaimedMachineKept")).To(HaveLen(1), "reported once")
		Expect(accountEvents("ReleasedUnclaimed")).To(BeEmpty())
	})
})
