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
	"context"
	"fmt"
	"time"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/controller"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

var _ = Describe("Shared MAAS inventory", func() {
	var (
		ns  string
		sim *maassim.Server
		gw  *infrav1.Gateway
	)

	BeforeEach(func() {
		ns = newNamespace()
		sim = startSimulator(func(c *maassim.Config) { c.Inventory = maassim.GenerateInventory(240, 7) })
		Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
		gw = newGateway(ns, sim.URL)
		Expect(k8s.Create(suiteCtx, gw)).To(Succeed())
	})

	// allocate takes n machines for an owner the way the operator does:
	// allocate with the installation's agent name, then annotate.
	allocate := func(n int, owner maas.Owner) {
		GinkgoHelper()
		key, err := maas.ParseAPIKey(sim.DefaultAPIKey())
		Expect(err).NotTo(HaveOccurred())
		c, err := maas.NewClient(maas.Config{Endpoint: sim.URL, APIKey: key}, maas.Options{RateLimit: 1000, RateBurst: 1000})
		Expect(err).NotTo(HaveOccurred())
		for i := range n {
			o := owner
			o.Slot = fmt.Sprint(i)
			_, err := c.Allocate(context.Background(), maas.AllocateRequest{AgentName: controller.AgentName(gw), Owner: o})
			Expect(err).NotTo(HaveOccurred())
		}
	}
	readyAccount := func(name string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			a := &infrav1.CloudAccount{}
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, a)).To(Succeed())
			c := conditionOf(a.Status.Conditions, infrav1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(BeEquivalentTo("True"), c.Message)
		}).Should(Succeed())
	}
	owner := func(name string) maas.Owner {
		return maas.Owner{Kind: "TenantCluster", Namespace: ns, Name: name, UID: "uid-" + name, Pool: "workers"}
	}

	It("lists each account's machines once per interval, however many machines there are", func() {
		allocate(200, owner("big"))
		for i := range 3 {
			user := fmt.Sprintf("user%d", i)
			Expect(k8s.Create(suiteCtx, apiKeySecret(ns, user, sim.AddUser(user, true)))).To(Succeed())
			Expect(k8s.Create(suiteCtx, newCloudAccount(ns, user, sim.URL, user))).To(Succeed())
		}
		op, stop := startOperator(fastOptions)
		DeferCleanup(stop)
		for i := range 3 {
			readyAccount(fmt.Sprintf("user%d", i))
		}
		for i := range 3 {
			key := controller.AccountKey(ctrlclient.ObjectKey{Namespace: ns, Name: fmt.Sprintf("user%d", i)})
			Eventually(func() int {
				snap, ok := op.Inventory.Snapshot(key)
				if !ok {
					return 0
				}
				return len(snap.ByOwner("TenantCluster", ns, "big"))
			}).Should(Equal(200))
		}

		sim.ResetCounts()
		start := time.Now()
		lists := func() int {
			return sim.Counts()[maassim.RequestKey{Method: "GET", Endpoint: "machines/", Op: ""}]
		}
		const intervals = 10
		// A loaded machine polls late, so give the ten intervals time.
		Eventually(lists).WithTimeout(2 * time.Minute).Should(BeNumerically(">=", 3*intervals))
		elapsed := time.Since(start)
		// A poller may fall behind on a loaded machine, never ahead: at most one
		// list per account per interval, plus the one in flight at each edge.
		// Four accounts poll: the three users' and the Gateway's default one.
		Expect(lists()).To(BeNumerically("<=", 4*(int(elapsed/fastOptions.PollInterval)+2)))
		for k, n := range sim.Counts() {
			Expect(k.Endpoint).NotTo(Equal("machines/{id}/"), "%d per-machine requests %v: no controller polls a machine by itself", n, k)
		}
	})

	It("recovers owned machines from MAAS after a restart, and releases one never claimed", func() {
		// The machines' owner exists (the sweep of orphans releases those of
		// an owner that does not); its account does not, so no controller
		// acts on its machines.
		kept := &infrav1.TenantCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kept"},
			Spec: infrav1.TenantClusterSpec{
				CloudAccountRef:      infrav1.LocalObjectReference{Name: "elsewhere"},
				Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: tenantVersion},
				ControlPlaneEndpoint: "10.30.3.10",
				ControlPlane:         infrav1.ControlPlanePool{Size: 1},
			},
		}
		Expect(k8s.Create(suiteCtx, kept)).To(Succeed())
		keptOwner := owner("kept")
		keptOwner.UID = string(kept.UID)
		allocate(5, keptOwner)
		// A crash between allocate and annotate leaves a machine that carries
		// our agent name and no owner.
		gc, err := client.GetClient(sim.URL, sim.DefaultAPIKey(), "2.0")
		Expect(err).NotTo(HaveOccurred())
		orphan, err := gc.Machines.Allocate(&entity.MachineAllocateParams{AgentName: controller.AgentName(gw)})
		Expect(err).NotTo(HaveOccurred())

		Expect(k8s.Create(suiteCtx, newCloudAccount(ns, "acct", sim.URL, "maas"))).To(Succeed())
		key := controller.AccountKey(ctrlclient.ObjectKey{Namespace: ns, Name: "acct"})

		patient := fastOptions
		patient.UnclaimedGrace = time.Hour
		op, stop := startOperator(patient)
		readyAccount("acct")
		Eventually(func(g Gomega) {
			snap, ok := op.Inventory.Snapshot(key)
			g.Expect(ok).To(BeTrue())
			g.Expect(snap.ByOwner("TenantCluster", ns, "kept")).To(HaveLen(5))
			g.Expect(snap.Unclaimed()).To(ContainElement(HaveField("Machine.SystemID", orphan.SystemID)))
		}).Should(Succeed())
		stop()

		// A new manager knows nothing but what MAAS tells it.
		hasty := fastOptions
		hasty.UnclaimedGrace = 500 * time.Millisecond
		op, stop = startOperator(hasty)
		DeferCleanup(stop)
		Eventually(func(g Gomega) {
			snap, ok := op.Inventory.Snapshot(key)
			g.Expect(ok).To(BeTrue())
			owned := snap.ByOwner("TenantCluster", ns, "kept")
			g.Expect(owned).To(HaveLen(5))
			for _, m := range owned {
				g.Expect(m.Owner).NotTo(BeNil())
				g.Expect(m.Owner.UID).To(Equal(string(kept.UID)))
				g.Expect(m.Owner.Pool).To(Equal("workers"))
			}
		}).Should(Succeed())
		Eventually(func() string {
			m, _ := sim.Machine(orphan.SystemID)
			return m.StatusName
		}).Should(Equal("Ready"))
		// Any account of the installation may be the one to release it (the
		// gateway's default account lists the same machines).
		Eventually(func(g Gomega) []string { return eventReasons(g, ns, "") }).Should(ContainElement("ReleasedUnclaimed"))
		for _, m := range sim.Machines() {
			if m.Annotations[maas.AnnotationOwnerName] == "kept" {
				Expect(m.StatusName).To(Equal("Allocated"), "machine %s of a live owner must be left alone", m.SystemID)
			}
		}
	})
})
