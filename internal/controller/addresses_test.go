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
	"net/netip"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/controller"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/internal/operator"
)

var _ = Describe("Control-plane VIPs reserved in MAAS", func() {
	var (
		ns   string
		sim  *maassim.Server
		stop func()
		opts operator.Options
	)

	setup := func(options func(*operator.Options)) {
		GinkgoHelper()
		ns = newNamespace()
		sim = startSimulator(nil)
		Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
		opts = tenantOptions()
		if options != nil {
			options(&opts)
		}
		_, stop = startOperator(opts)
		DeferCleanup(func() { stop() })
		gw := newGateway(ns, sim.URL)
		gw.Spec.Environment.ClusterNetwork = infrav1.ClusterNetwork{PodCIDR: "172.20.0.0/16", ServiceCIDR: "172.21.0.0/16"}
		Expect(k8s.Create(suiteCtx, gw)).To(Succeed())
		Eventually(func(g Gomega) {
			account := &infrav1.CloudAccount{}
			g.Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "gw-default"}, account)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(account.Status.Conditions, infrav1.ConditionReady)).To(BeTrue())
		}).Should(Succeed())
	}
	AfterEach(func() {
		if ns == "" {
			return
		}
		// While the operator still runs, so its finalizer lets the Gateway go.
		gw := &infrav1.Gateway{}
		if err := k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "gw"}, gw); err == nil {
			Expect(client.IgnoreNotFound(k8s.Delete(suiteCtx, gw))).To(Succeed())
			Eventually(func() error {
				return k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "gw"}, gw)
			}).Should(MatchError(ContainSubstring("not found")))
		}
		ns = ""
	})
	get := func(name string) func(Gomega) *infrav1.TenantCluster {
		return func(g Gomega) *infrav1.TenantCluster {
			tc := &infrav1.TenantCluster{}
			g.Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: name}, tc)).To(Succeed())
			return tc
		}
	}
	gone := func(name string) func() error {
		return func() error {
			return k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: name}, &infrav1.TenantCluster{})
		}
	}
	agent := func() string {
		gw := &infrav1.Gateway{}
		Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "gw"}, gw)).To(Succeed())
		return controller.AgentName(gw)
	}
	create := func(name, vip string) {
		GinkgoHelper()
		Expect(k8s.Create(suiteCtx, &infrav1.TenantCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: infrav1.TenantClusterSpec{
				CloudAccountRef:      infrav1.LocalObjectReference{Name: "gw-default"},
				Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: tenantVersion},
				ControlPlaneEndpoint: vip,
				ControlPlane:         infrav1.ControlPlanePool{Size: 1, MachineTemplate: infrav1.MachineTemplate{ResourcePool: "tenants"}},
			},
		})).To(Succeed())
	}
	remove := func(name string) {
		GinkgoHelper()
		tc := &infrav1.TenantCluster{}
		Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: name}, tc)).To(Succeed())
		Expect(k8s.Delete(suiteCtx, tc)).To(Succeed())
	}
	// owned lists the simulator's machines annotated for the named cluster.
	owned := func(name string) []maassim.Machine {
		var out []maassim.Machine
		for _, m := range sim.Machines() {
			if m.Annotations[maas.AnnotationOwnerNamespace] == ns && m.Annotations[maas.AnnotationOwnerName] == name {
				out = append(out, m)
			}
		}
		return out
	}
	// reservedFor is what the simulator holds at ip: the MAAS reservation
	// and the marks of the one-address range over it ("" for none).
	reservedFor := func(ip string) (reserved bool, marks string) {
		ipam := sim.IPAM()
		for _, r := range ipam.Reservations {
			if r.IP == ip {
				reserved = true
			}
		}
		for _, r := range ipam.Ranges {
			if r.Start == ip && r.End == ip {
				marks = r.Comment
			}
		}
		return reserved, marks
	}
	released := func(ip string) func(g Gomega) {
		return func(g Gomega) {
			reserved, marks := reservedFor(ip)
			g.Expect(reserved).To(BeFalse(), "address %s still reserved in MAAS", ip)
			g.Expect(marks).To(BeEmpty(), "range marking %s still in MAAS", ip)
		}
	}
	vipCondition := func(status metav1.ConditionStatus, reason string) OmegaMatcher {
		return HaveField("Status.Conditions", ContainElement(And(
			HaveField("Type", infrav1.ConditionVIPReserved), HaveField("Status", status), HaveField("Reason", reason))))
	}
	running := HaveField("Status.Phase", infrav1.TenantPhaseRunning)
	accountEvents := func(reason string) []eventsv1.Event {
		list := &eventsv1.EventList{}
		Expect(k8s.List(suiteCtx, list, client.InNamespace(ns))).To(Succeed())
		var out []eventsv1.Event
		for _, e := range list.Items {
			if e.Regarding.Kind == "CloudAccount" && e.Reason == reason {
				out = append(out, e)
			}
		}
		return out
	}

	It("reserves a cluster's VIP with owner marks before its machines, and releases it on deletion", func() {
		setup(nil)
		const vip = "10.30.1.10"
		create("tc", vip)
		Eventually(get("tc")).Should(And(running, vipCondition(metav1.ConditionTrue, infrav1.ReasonVIPReserved)))
		tc := get("tc")(Default)
		reserved, marks := reservedFor(vip)
		Expect(reserved).To(BeTrue(), "the VIP is a user-reserved address in MAAS")
		m, ok := maas.ParseMarks(marks)
		Expect(ok).To(BeTrue(), "the range over the VIP carries marks: %q", marks)
		Expect(m).To(Equal(maas.Marks{Installation: agent(), Purpose: maas.PurposeVIP,
			Kind: "TenantCluster", Namespace: ns, Name: "tc", UID: string(tc.UID)}))
		for a := range sim.IPAM().Assigned {
			Expect(a).NotTo(Equal(vip), "MAAS gave the VIP to a machine")
		}

		// A status wipe: the reservation is found again by its marks.
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			tc := get("tc")(Default)
			tc.Status = infrav1.TenantClusterStatus{}
			return k8s.Status().Update(suiteCtx, tc)
		})).To(Succeed())
		stop()
		_, stop = startOperator(opts)
		Eventually(get("tc")).Should(And(running, vipCondition(metav1.ConditionTrue, infrav1.ReasonVIPReserved)))
		Expect(sim.IPAM().Reservations).To(HaveLen(1), "no second reservation after a restart and a status wipe")

		remove("tc")
		Eventually(gone("tc")).Should(MatchError(ContainSubstring("not found")))
		Eventually(released(vip)).Should(Succeed())
	})

	It("reserves a LoadBalancer pool of a given size in the VIP's subnet, marked for the cluster, found again after a status wipe and released on deletion", func() {
		setup(nil)
		const vip = "10.30.1.20"
		Expect(k8s.Create(suiteCtx, &infrav1.TenantCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lb"},
			Spec: infrav1.TenantClusterSpec{
				CloudAccountRef:      infrav1.LocalObjectReference{Name: "gw-default"},
				Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: tenantVersion},
				ControlPlaneEndpoint: vip,
				ControlPlane:         infrav1.ControlPlanePool{Size: 1, MachineTemplate: infrav1.MachineTemplate{ResourcePool: "tenants"}},
				LoadBalancer:         &infrav1.LoadBalancerPool{Addresses: 8},
			},
		})).To(Succeed())
		pool := func(g Gomega) *infrav1.LoadBalancerStatus {
			tc := get("lb")(g)
			c := meta.FindStatusCondition(tc.Status.Conditions, infrav1.ConditionLoadBalancerPoolReserved)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
			g.Expect(tc.Status.LoadBalancer).NotTo(BeNil())
			return tc.Status.LoadBalancer
		}
		Eventually(pool).Should(HaveField("Subnet", "10.30.0.0/16"))
		st := pool(Default)
		tc := get("lb")(Default)
		ranges := func() []maassim.IPRangeInfo {
			var out []maassim.IPRangeInfo
			for _, r := range sim.IPAM().Ranges {
				if m, ok := maas.ParseMarks(r.Comment); ok && m.Purpose == maas.PurposeLoadBalancer {
					out = append(out, r)
				}
			}
			return out
		}
		Expect(ranges()).To(HaveLen(1))
		r := ranges()[0]
		Expect([]string{r.Start, r.End, r.Type}).To(Equal([]string{st.Start, st.End, "reserved"}))
		m, _ := maas.ParseMarks(r.Comment)
		Expect(m).To(Equal(maas.Marks{Installation: agent(), Purpose: maas.PurposeLoadBalancer,
			Kind: "TenantCluster", Namespace: ns, Name: "lb", UID: string(tc.UID)}))
		first, last := netip.MustParseAddr(st.Start), netip.MustParseAddr(st.End)
		Expect(netip.MustParsePrefix("10.30.0.0/16").Contains(first)).To(BeTrue())
		for range 7 {
			first = first.Next()
		}
		Expect(first).To(Equal(last), "8 addresses")
		for a := range sim.IPAM().Assigned {
			addr := netip.MustParseAddr(a)
			Expect(addr.Less(netip.MustParseAddr(st.Start)) || last.Less(addr)).To(BeTrue(), "MAAS gave pool address %s to a machine", a)
		}

		// A status wipe and a restart: the same range, no second one.
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			tc := get("lb")(Default)
			tc.Status = infrav1.TenantClusterStatus{}
			return k8s.Status().Update(suiteCtx, tc)
		})).To(Succeed())
		stop()
		_, stop = startOperator(opts)
		Eventually(pool).Should(Equal(st))
		Expect(ranges()).To(HaveLen(1))

		remove("lb")
		Eventually(gone("lb")).Should(MatchError(ContainSubstring("not found")))
		Eventually(ranges).Should(BeEmpty())
	})

	It("publishes a VIP under <cluster>-api in the cluster's domain, and the record goes with the reservation", func() {
		setup(nil)
		const vip = "10.30.1.30"
		Expect(k8s.Create(suiteCtx, &infrav1.TenantCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "named"},
			Spec: infrav1.TenantClusterSpec{
				CloudAccountRef:      infrav1.LocalObjectReference{Name: "gw-default"},
				Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: tenantVersion},
				ControlPlaneEndpoint: vip,
				Domain:               "maas",
				ControlPlane:         infrav1.ControlPlanePool{Size: 1, MachineTemplate: infrav1.MachineTemplate{ResourcePool: "tenants"}},
			},
		})).To(Succeed())
		Eventually(get("named")).Should(And(running, vipCondition(metav1.ConditionTrue, infrav1.ReasonVIPReserved)))
		records := func() []maassim.DNSResource { return sim.IPAM().DNSResources }
		Expect(records()).To(ContainElement(And(HaveField("FQDN", "named-api.maas"), HaveField("IPs", ConsistOf(vip)))))

		remove("named")
		Eventually(gone("named")).Should(MatchError(ContainSubstring("not found")))
		Eventually(released(vip)).Should(Succeed())
		Eventually(records).ShouldNot(ContainElement(HaveField("FQDN", "named-api.maas")))
	})

	It("releases the VIP on force delete", func() {
		setup(nil)
		const vip = "10.30.1.11"
		create("tc", vip)
		Eventually(get("tc")).Should(running)
		var ids []string
		for _, m := range owned("tc") {
			ids = append(ids, m.SystemID)
		}
		f := sim.Faults()
		f.StuckRelease = ids
		sim.SetFaults(f)
		remove("tc")
		Eventually(get("tc")).Should(HaveField("Status.Phase", infrav1.TenantPhaseDeleting))
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			tc := get("tc")(Default)
			tc.Annotations = map[string]string{infrav1.AnnotationForceDelete: "true"}
			return k8s.Update(suiteCtx, tc)
		})).To(Succeed())
		Eventually(gone("tc")).Should(MatchError(ContainSubstring("not found")))
		Eventually(released(vip)).Should(Succeed())
	})

	It("gives a contested VIP to exactly one of two clusters created at once; the other waits, naming it", func() {
		setup(nil)
		const vip = "10.30.1.12"
		create("a", vip)
		create("b", vip)
		var winner, loser string
		Eventually(func(g Gomega) {
			a, b := get("a")(g), get("b")(g)
			switch {
			case a.Status.Phase == infrav1.TenantPhaseRunning:
				winner, loser = "a", "b"
			case b.Status.Phase == infrav1.TenantPhaseRunning:
				winner, loser = "b", "a"
			default:
				g.Expect(false).To(BeTrue(), "neither cluster is Running")
			}
		}).Should(Succeed())
		Eventually(get(loser)).Should(And(
			HaveField("Status.Phase", infrav1.TenantPhasePending),
			vipCondition(metav1.ConditionFalse, infrav1.ReasonVIPReservedByOther),
			HaveField("Status.Conditions", ContainElement(HaveField("Message",
				ContainSubstring(fmt.Sprintf("TenantCluster %s/%s", ns, winner))))),
		))
		Consistently(func() []maassim.Machine { return owned(loser) }).Should(BeEmpty(), "the waiting cluster allocates nothing")
		_, marks := reservedFor(vip)
		Expect(marks).To(ContainSubstring("name=" + winner))

		// The winner goes: the other takes the address.
		remove(winner)
		Eventually(gone(winner)).Should(MatchError(ContainSubstring("not found")))
		Eventually(get(loser)).Should(And(running, vipCondition(metav1.ConditionTrue, infrav1.ReasonVIPReserved)))
		_, marks = reservedFor(vip)
		Expect(marks).To(ContainSubstring("name=" + loser))
		remove(loser)
		Eventually(gone(loser)).Should(MatchError(ContainSubstring("not found")))
	})

	It("refuses a VIP a MAAS machine holds, or one outside every subnet, and allocates nothing", func() {
		setup(nil)
		create("a", "10.30.1.13")
		Eventually(get("a")).Should(running)
		var machineIP, hostname string
		for ip, id := range sim.IPAM().Assigned {
			m, _ := sim.Machine(id)
			machineIP, hostname = ip, m.Hostname
		}
		Expect(machineIP).NotTo(BeEmpty())

		create("b", machineIP)
		Eventually(get("b")).Should(And(
			HaveField("Status.Phase", infrav1.TenantPhasePending),
			vipCondition(metav1.ConditionFalse, infrav1.ReasonVIPInUse),
			HaveField("Status.Conditions", ContainElement(HaveField("Message", And(
				ContainSubstring(machineIP), ContainSubstring(hostname))))),
		))
		create("c", "10.99.0.10")
		Eventually(get("c")).Should(And(
			HaveField("Status.Phase", infrav1.TenantPhasePending),
			vipCondition(metav1.ConditionFalse, infrav1.ReasonVIPOutsideSubnets),
			HaveField("Status.Conditions", ContainElement(HaveField("Message", ContainSubstring("10.99.0.10")))),
		))
		Consistently(func() []maassim.Machine { return append(owned("b"), owned("c")...) }).Should(BeEmpty())
		for _, name := range []string{"b", "c", "a"} {
			remove(name)
			Eventually(gone(name)).Should(MatchError(ContainSubstring("not found")))
		}
	})

	It("sweeps the VIP of a cluster deleted while the manager was down, after the grace period, and only that", func() {
		setup(func(o *operator.Options) { o.UnclaimedGrace = 2 * time.Second })
		create("doomed", "10.30.1.14")
		create("kept", "10.30.1.15")
		for _, name := range []string{"doomed", "kept"} {
			Eventually(get(name)).Should(vipCondition(metav1.ConditionTrue, infrav1.ReasonVIPReserved))
		}
		// The manager goes down; the cluster goes without its finalizer.
		stop()
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			tc := get("doomed")(Default)
			controllerutil.RemoveFinalizer(tc, controller.TenantClusterFinalizer)
			return k8s.Update(suiteCtx, tc)
		})).To(Succeed())
		remove("doomed")
		Eventually(gone("doomed")).Should(MatchError(ContainSubstring("not found")))
		reserved, _ := reservedFor("10.30.1.14")
		Expect(reserved).To(BeTrue())

		start := time.Now()
		_, stop = startOperator(opts)
		Eventually(released("10.30.1.14")).Should(Succeed())
		Expect(time.Since(start)).To(BeNumerically(">=", 2*time.Second), "released before the grace period")
		Eventually(func() []eventsv1.Event { return accountEvents("ReleasedOrphanedAddress") }).Should(ContainElement(
			HaveField("Note", And(ContainSubstring("10.30.1.14"), ContainSubstring("doomed")))))
		Consistently(func() bool { r, _ := reservedFor("10.30.1.15"); return r }).WithTimeout(3*time.Second).
			Should(BeTrue(), "a live cluster's VIP is not swept")
		remove("kept")
		Eventually(gone("kept")).Should(MatchError(ContainSubstring("not found")))
	})

	It("reserves the Gateway's VIP the same way, and releases it when the Gateway goes", func() {
		setup(nil)
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			gw := &infrav1.Gateway{}
			if err := k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "gw"}, gw); err != nil {
				return err
			}
			gw.Spec.ControlPlaneEndpoint = gatewayVIP
			return k8s.Update(suiteCtx, gw)
		})).To(Succeed())
		Eventually(func(g Gomega) {
			gw := &infrav1.Gateway{}
			g.Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "gw"}, gw)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(gw.Status.Conditions, infrav1.ConditionVIPReserved)).To(BeTrue())
			reserved, marks := reservedFor(gatewayVIP)
			g.Expect(reserved).To(BeTrue())
			m, ok := maas.ParseMarks(marks)
			g.Expect(ok).To(BeTrue())
			g.Expect(m).To(Equal(maas.Marks{Installation: controller.AgentName(gw), Purpose: maas.PurposeVIP,
				Kind: "Gateway", Namespace: ns, Name: "gw", UID: string(gw.UID)}))
		}).Should(Succeed())
		gw := &infrav1.Gateway{}
		Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "gw"}, gw)).To(Succeed())
		Expect(k8s.Delete(suiteCtx, gw)).To(Succeed())
		Eventually(func() error {
			return k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "gw"}, gw)
		}).Should(MatchError(ContainSubstring("not found")))
		Eventually(released(gatewayVIP)).Should(Succeed())
	})
})
