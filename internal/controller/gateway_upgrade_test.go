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
	"sync"
	"time"

	maasclient "github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/catalog"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// gatewayEnv is what the upgrade specs need of the Gateway suite's fixture.
type gatewayEnv struct {
	ns      string
	sim     *maassim.Server
	adopted string
	gateway func(Gomega) *infrav1.Gateway
	create  func(func(*infrav1.Gateway))
	scaleTo func(int32)
	restart func()
}

const releases = `releases:
- version: 1.0.0
  osImage: ubuntu/jammy
  kubernetesVersion: v1.34.2
  notes: First release.
- version: 1.1.0
  osImage: ubuntu/noble
  kubernetesVersion: v1.34.3
  notes: Ubuntu 24.04 on every gateway node.
`

// readyWatch records, for every change of the cluster's Nodes, how many
// gateway Nodes were Ready: the invariant of a rollout holds at every
// observed moment, not just at its end.
type readyWatch struct {
	mu      sync.Mutex
	min     int
	samples int
	counted func(*corev1.Node) bool
}

func watchReady(counted func(*corev1.Node) bool) *readyWatch {
	GinkgoHelper()
	rw := &readyWatch{min: 1 << 30, counted: counted}
	nodes := &corev1.NodeList{}
	Expect(k8s.List(suiteCtx, nodes)).To(Succeed())
	current := map[string]*corev1.Node{}
	for i := range nodes.Items {
		current[nodes.Items[i].Name] = &nodes.Items[i]
	}
	rw.record(current)
	// Watch from the list's version: every change after it, none replayed.
	wc, err := ctrlclient.NewWithWatch(cfg, ctrlclient.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	w, err := wc.Watch(suiteCtx, &corev1.NodeList{}, &ctrlclient.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: nodes.ResourceVersion}})
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(suiteCtx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				n, isNode := ev.Object.(*corev1.Node)
				if !isNode {
					continue
				}
				if ev.Type == watch.Deleted || !n.DeletionTimestamp.IsZero() {
					delete(current, n.Name)
				} else {
					current[n.Name] = n
				}
				rw.record(current)
			}
		}
	}()
	DeferCleanup(func() { cancel(); w.Stop(); <-done })
	return rw
}

func (rw *readyWatch) record(nodes map[string]*corev1.Node) {
	ready := 0
	for _, n := range nodes {
		if rw.counted(n) && nodeIsReady(n) {
			ready++
		}
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.samples++
	rw.min = min(rw.min, ready)
}

func (rw *readyWatch) minimum() (int, int) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.min, rw.samples
}

func nodeIsReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func upgradeSpecs(env func() *gatewayEnv) {
	var e *gatewayEnv

	BeforeEach(func() {
		e = env()
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: gatewayOptions.ReleaseCatalog.Namespace, Name: gatewayOptions.ReleaseCatalog.Name},
			Data:       map[string]string{catalog.DataKey: releases},
		}
		Expect(k8s.Create(suiteCtx, cm)).To(Succeed())
		DeferCleanup(func() { Expect(k8s.Delete(suiteCtx, cm)).To(Succeed()) })
	})

	// ours lists the machines allocated for the gateway and not on their way out.
	ours := func() []maassim.Machine { return ownedMachinesIn(e.sim, e.ns) }
	gatewayNode := func(n *corev1.Node) bool { return n.Labels[infrav1.LabelGateway] == "gw" }
	setRelease := func(v string) {
		GinkgoHelper()
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			gw := e.gateway(Default)
			gw.Spec.Release = &infrav1.Release{Version: v}
			return k8s.Update(suiteCtx, gw)
		})).To(Succeed())
	}
	upgradedTo := func(v, image string) func(Gomega) {
		return func(g Gomega) {
			gw := e.gateway(g)
			g.Expect(gw.Status.Upgrade).To(BeNil())
			g.Expect(gw.Status.CurrentRelease).NotTo(BeNil())
			g.Expect(gw.Status.CurrentRelease.Version).To(Equal(v))
			g.Expect(gw.Status.ReadyReplicas).To(Equal(gw.Spec.Replicas))
			g.Expect(meta.IsStatusConditionTrue(gw.Status.Conditions, infrav1.GatewayUpgraded)).To(BeTrue())
			g.Expect(meta.IsStatusConditionFalse(gw.Status.Conditions, infrav1.GatewayUpgrading)).To(BeTrue())
			for _, m := range ours() {
				g.Expect(m.StatusName).To(Equal("Deployed"))
				g.Expect(m.OSystem + "/" + m.DistroSeries).To(Equal(image))
			}
		}
	}
	events := func(reason string) []eventsv1.Event {
		list := &eventsv1.EventList{}
		Expect(k8s.List(suiteCtx, list, ctrlclient.InNamespace(e.ns))).To(Succeed())
		var out []eventsv1.Event
		for _, ev := range list.Items {
			if ev.Regarding.Kind == "Gateway" && ev.Reason == reason {
				out = append(out, ev)
			}
		}
		return out
	}
	// allocations counts the times a machine became the gateway's: a node
	// done twice would show as an extra allocation.
	allocations := func() (func() int, func()) {
		var (
			mu    sync.Mutex
			count int
		)
		held := map[string]bool{}
		ctx, cancel := context.WithCancel(suiteCtx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				now := map[string]bool{}
				for _, m := range ours() {
					now[m.SystemID] = true
				}
				mu.Lock()
				for id := range now {
					if !held[id] {
						count++
					}
				}
				mu.Unlock()
				held = now
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
		return func() int {
				mu.Lock()
				defer mu.Unlock()
				return count
			}, func() {
				cancel()
				<-done
			}
	}
	// threeNodes creates a gateway of three allocated nodes on release 1.0.0.
	// heldByBudget puts a Running pod named name on node, and a budget that
	// never lets it be evicted.
	heldByBudget := func(node, name, budget string) *policyv1.PodDisruptionBudget {
		GinkgoHelper()
		labels := map[string]string{"app": name}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name, Labels: labels},
			Spec: corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: ptr.To[int64](0),
				Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}},
		}
		Expect(k8s.Create(suiteCtx, pod)).To(Succeed())
		// Running and Ready, as its kubelet would say: the eviction API lets
		// a Pending pod go whatever its budget.
		pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
		Expect(k8s.Status().Update(suiteCtx, pod)).To(Succeed())
		pdb := &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: budget},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: new(intstr.FromInt32(1)),
				Selector: &metav1.LabelSelector{MatchLabels: labels}},
		}
		Expect(k8s.Create(suiteCtx, pdb)).To(Succeed())
		return pdb
	}

	threeNodes := func() {
		GinkgoHelper()
		e.create(func(gw *infrav1.Gateway) {
			gw.Spec.AdoptMachines = nil
			gw.Spec.Placement.Zone = ""
			gw.Spec.Release = &infrav1.Release{Version: "1.0.0"}
		})
		e.scaleTo(3)
		Eventually(upgradedTo("1.0.0", "ubuntu/jammy")).WithTimeout(time.Minute).Should(Succeed())
	}

	It("announces a newer release in status and with an event, and rolls nothing until it is applied", func() {
		threeNodes()
		Eventually(e.gateway).Should(HaveField("Status.AvailableUpgrade", And(
			Not(BeNil()),
			HaveField("Version", "1.1.0"), HaveField("OSImage", "ubuntu/noble"), HaveField("KubernetesVersion", "v1.34.3"),
		)))
		Eventually(func() []eventsv1.Event { return events("UpgradeAvailable") }).Should(ContainElement(
			HaveField("Note", And(ContainSubstring("1.1.0"), ContainSubstring("Ubuntu 24.04")))))
		gw := e.gateway(Default)
		Expect(gw.Status.Components).To(ContainElements(
			HaveField("Name", "manager"), And(HaveField("Name", "kubelet"), HaveField("Version", "v1.34.2"))))
		before := ours()
		Consistently(func() []maassim.Machine { return ours() }).WithTimeout(time.Second).Should(HaveLen(len(before)))
		Expect(events("UpgradeStarted")).To(BeEmpty())
	})

	It("upgrades a 3-node gateway node by node, never below two Ready, queues new tenant clusters, and resumes after a restart", func() {
		threeNodes()
		old := map[string]bool{}
		for _, m := range ours() {
			old[m.SystemID] = true
		}
		Expect(old).To(HaveLen(3))
		rw := watchReady(gatewayNode)
		allocated, stopCounting := allocations()

		setRelease("1.1.0")
		Eventually(func(g Gomega) {
			gw := e.gateway(g)
			c := meta.FindStatusCondition(gw.Status.Conditions, infrav1.GatewayUpgrading)
			g.Expect(c).NotTo(BeNil())
			g.Expect(*c).To(And(HaveField("Status", metav1.ConditionTrue),
				HaveField("Message", MatchRegexp(`release 1\.1\.0 .*[0-3]/3 nodes updated \(expand-first`))), "%+v", gw.Status)
			g.Expect(gw.Status.Phase).To(Equal(infrav1.GatewayPhaseUpgrading))
		}).Should(Succeed())

		// A tenant cluster created now waits for the upgrade.
		tc := &infrav1.TenantCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "tc"},
			Spec: infrav1.TenantClusterSpec{
				CloudAccountRef:      infrav1.LocalObjectReference{Name: "gw-default"},
				Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: "v1.34.2"},
				ControlPlaneEndpoint: "10.30.0.10",
				ControlPlane:         infrav1.ControlPlanePool{Size: 1, MachineTemplate: infrav1.MachineTemplate{ResourcePool: "tenants"}},
			},
		}
		Expect(k8s.Create(suiteCtx, tc)).To(Succeed())
		Eventually(func(g Gomega) infrav1.TenantClusterPhase {
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(tc), tc)).To(Succeed())
			return tc.Status.Phase
		}).Should(Equal(infrav1.TenantPhaseQueued))

		// The manager dies half-way and a new one takes over.
		Eventually(allocated).Should(BeNumerically(">=", 4))
		e.restart()

		Eventually(upgradedTo("1.1.0", "ubuntu/noble")).WithTimeout(2 * time.Minute).Should(Succeed())
		stopCounting()
		low, samples := rw.minimum()
		Expect(samples).To(BeNumerically(">", 3))
		Expect(low).To(BeNumerically(">=", 2), "a 3-node gateway kept at least two Ready nodes")
		Expect(allocated()).To(Equal(6), "three old and three new allocations: no node was done twice")
		for _, m := range ours() {
			delete(old, m.SystemID) // a released machine may come back as a new node
			intent, err := bootstrap.Parse(m.UserData)
			Expect(err).NotTo(HaveOccurred())
			Expect(intent.KubernetesVersion).To(Equal("v1.34.3"))
		}
		// A gateway machine is quick-erased before MAAS takes it back (and
		// clears its agent name): the last one may still be erasing.
		for id := range old {
			Eventually(func() string { m, _ := e.sim.Machine(id); return m.AgentName }).
				Should(BeEmpty(), "old machine %s is back in MAAS", id)
		}
		gw := e.gateway(Default)
		Expect(gw.Status.AvailableUpgrade).To(BeNil())
		Expect(gw.Status.Components).To(ContainElement(And(HaveField("Name", "kubelet"), HaveField("Version", "v1.34.3"))))
		Expect(events("UpgradeCompleted")).NotTo(BeEmpty())

		// Provisioning resumes by itself.
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(tc), tc)).To(Succeed())
			g.Expect(tc.Status.Phase).NotTo(Equal(infrav1.TenantPhaseQueued))
			g.Expect(meta.IsStatusConditionFalse(tc.Status.Conditions, infrav1.TenantQueued)).To(BeTrue())
		}).Should(Succeed())
		Expect(k8s.Delete(suiteCtx, tc)).To(Succeed())
		Eventually(func() error { return k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(tc), tc) }).
			WithTimeout(time.Minute).Should(MatchError(ContainSubstring("not found")))
	})

	It("replaces nodes contract-first when MAAS has no spare machine, keeping two Ready", func() {
		threeNodes()
		// Another MAAS user takes every spare gateway machine.
		for _, m := range e.sim.Machines() {
			if m.Pool == "gateway" && m.StatusName == "Ready" {
				holdMachine(e.sim, m.SystemID)
			}
		}
		rw := watchReady(gatewayNode)
		setRelease("1.1.0")
		Eventually(func(g Gomega) infrav1.RollingUpdateStrategy {
			up := e.gateway(g).Status.Upgrade
			g.Expect(up).NotTo(BeNil())
			return up.Strategy
		}).Should(Equal(infrav1.ContractFirst))
		Eventually(upgradedTo("1.1.0", "ubuntu/noble")).WithTimeout(2 * time.Minute).Should(Succeed())
		low, _ := rw.minimum()
		Expect(low).To(BeNumerically(">=", 2))
	})

	It("upgrades a 1-node gateway expand-first, never without a Ready node, and retires the adopted node without releasing it", func() {
		hostname := ""
		if m, ok := e.sim.Machine(e.adopted); ok {
			hostname = m.Hostname
		}
		e.create(func(gw *infrav1.Gateway) {
			gw.Spec.Placement.Zone = ""
			gw.Spec.Release = &infrav1.Release{Version: "1.0.0"}
		})
		Eventually(upgradedTo("1.0.0", "ubuntu/jammy")).Should(Succeed())
		rw := watchReady(func(n *corev1.Node) bool { return gatewayNode(n) || n.Name == hostname })

		setRelease("1.1.0")
		Eventually(upgradedTo("1.1.0", "ubuntu/noble")).WithTimeout(time.Minute).Should(Succeed())
		low, _ := rw.minimum()
		Expect(low).To(BeNumerically(">=", 1), "a 1-node gateway always had a Ready node")
		gw := e.gateway(Default)
		Expect(gw.Status.RetiredMachines).To(ConsistOf(e.adopted))
		Expect(gw.Status.Nodes).To(HaveLen(1))
		Expect(ours()).To(HaveLen(1))
		m, _ := e.sim.Machine(e.adopted)
		Expect(m.StatusName).To(Equal("Deployed"), "the operator never releases a machine it did not allocate")
		Expect(events("AdoptedNodeRetired")).To(ContainElement(HaveField("Note", ContainSubstring("release it in MAAS"))))
		Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Name: hostname}, &corev1.Node{})).To(MatchError(ContainSubstring("not found")))
	})

	It("takes no machine while the adopted node's drain waits, instead of allocating and releasing one again and again", func() {
		hostname := ""
		if m, ok := e.sim.Machine(e.adopted); ok {
			hostname = m.Hostname
		}
		e.create(func(gw *infrav1.Gateway) {
			gw.Spec.Placement.Zone = ""
			gw.Spec.Release = &infrav1.Release{Version: "1.0.0"}
		})
		e.scaleTo(3)
		Eventually(upgradedTo("1.0.0", "ubuntu/jammy")).WithTimeout(time.Minute).Should(Succeed())
		// A pod on the adopted node that its budget never lets go.
		pdb := heldByBudget(hostname, "held-adopted", "never-adopted")

		setRelease("1.1.0")
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(e.gateway(g).Status.Conditions, infrav1.GatewayNodesDrained)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Message).To(ContainSubstring(e.ns + "/" + pdb.Name))
		}).WithTimeout(time.Minute).Should(Succeed())
		// The new node joined before the adopted one was to leave; from then
		// on nothing is taken or given back while the budget holds.
		taken, given := len(events("MachineAllocated")), len(events("MachineReleased"))
		machines := len(ours())
		Consistently(func(g Gomega) {
			g.Expect(events("MachineAllocated")).To(HaveLen(taken))
			g.Expect(events("MachineReleased")).To(HaveLen(given))
			g.Expect(ours()).To(HaveLen(machines))
		}).WithTimeout(5 * time.Second).Should(Succeed())

		Expect(k8s.Delete(suiteCtx, pdb)).To(Succeed())
		Eventually(upgradedTo("1.1.0", "ubuntu/noble")).WithTimeout(2 * time.Minute).Should(Succeed())
		Expect(e.gateway(Default).Status.RetiredMachines).To(ConsistOf(e.adopted))
	})

	It("keeps a node whose drain a PodDisruptionBudget blocks past the Gateway's drainTimeout, names the budget and pod, and releases nothing until it allows", func() {
		e.create(func(gw *infrav1.Gateway) {
			gw.Spec.AdoptMachines = nil
			gw.Spec.Placement.Zone = ""
			gw.Spec.Release = &infrav1.Release{Version: "1.0.0"}
			// The manager's default is 10 minutes: only this field lets the
			// budget be reported as timed out in test time.
			gw.Spec.DrainTimeout = &metav1.Duration{Duration: 2 * time.Second}
		})
		Eventually(upgradedTo("1.0.0", "ubuntu/jammy")).WithTimeout(time.Minute).Should(Succeed())
		old := ours()
		Expect(old).To(HaveLen(1))
		var node *corev1.Node
		Eventually(func(g Gomega) {
			nodes := &corev1.NodeList{}
			g.Expect(k8s.List(suiteCtx, nodes, ctrlclient.MatchingLabels{infrav1.LabelGateway: "gw"})).To(Succeed())
			for i := range nodes.Items {
				if nodes.Items[i].Spec.ProviderID == bootstrap.ProviderID(old[0].SystemID) {
					node = &nodes.Items[i]
				}
			}
			g.Expect(node).NotTo(BeNil())
		}).Should(Succeed())
		pdb := heldByBudget(node.Name, "held", "never")
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "held"}}

		setRelease("1.1.0")
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(e.gateway(g).Status.Conditions, infrav1.GatewayNodesDrained)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal("DrainTimedOut"))
			g.Expect(c.Message).To(And(ContainSubstring("PodDisruptionBudget "+e.ns+"/never"), ContainSubstring("pod "+e.ns+"/held"),
				ContainSubstring(old[0].SystemID), ContainSubstring("drainTimeout 2s")))
		}).WithTimeout(time.Minute).Should(Succeed())
		Expect(events("DrainTimedOut")).To(ContainElement(HaveField("Note", ContainSubstring(e.ns+"/never"))))
		// Nothing released: the old machine still serves, its Node is there.
		Consistently(func(g Gomega) {
			m, _ := e.sim.Machine(old[0].SystemID)
			g.Expect(m.StatusName).To(Equal("Deployed"))
			g.Expect(m.Annotations).To(HaveKeyWithValue(maas.AnnotationOwnerKind, "Gateway"))
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(node), &corev1.Node{})).To(Succeed())
		}).WithTimeout(2 * time.Second).Should(Succeed())

		// The budget goes: the pod is evicted, the node leaves, the upgrade ends.
		Expect(k8s.Delete(suiteCtx, pdb)).To(Succeed())
		Eventually(upgradedTo("1.1.0", "ubuntu/noble")).WithTimeout(2 * time.Minute).Should(Succeed())
		Expect(meta.IsStatusConditionTrue(e.gateway(Default).Status.Conditions, infrav1.GatewayNodesDrained)).To(BeTrue())
		Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(pod), &corev1.Pod{})).To(MatchError(ContainSubstring("not found")))
		Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(node), &corev1.Node{})).To(MatchError(ContainSubstring("not found")))
	})

	It("halts after two failed deployments without touching another node, resumes on retry, and rolls back", func() {
		threeNodes()
		old := map[string]bool{}
		for _, m := range ours() {
			old[m.SystemID] = true
		}
		f := e.sim.Faults()
		f.FailDeployRate = 1
		e.sim.SetFaults(f)
		setRelease("1.1.0")
		Eventually(func(g Gomega) {
			gw := e.gateway(g)
			g.Expect(gw.Status.Upgrade).NotTo(BeNil())
			g.Expect(gw.Status.Upgrade.Halted).To(BeTrue())
			c := meta.FindStatusCondition(gw.Status.Conditions, infrav1.GatewayUpgrading)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal("Halted"))
			g.Expect(c.Message).To(ContainSubstring(infrav1.AnnotationRetryUpgrade))
		}).WithTimeout(time.Minute).Should(Succeed())
		Expect(events("UpgradeHalted")).NotTo(BeEmpty())
		// Halted: every old node still serves, and nothing new is tried.
		still := func() []string {
			var ids []string
			for _, m := range ours() {
				ids = append(ids, m.SystemID)
			}
			return ids
		}
		Eventually(still).Should(HaveLen(3))
		Consistently(still).WithTimeout(2 * time.Second).Should(ConsistOf(keys(old)))
		Expect(e.gateway(Default).Status.ReadyReplicas).To(BeEquivalentTo(3))

		// The administrator fixed MAAS and retries.
		f.FailDeployRate = 0
		e.sim.SetFaults(f)
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			gw := e.gateway(Default)
			if gw.Annotations == nil {
				gw.Annotations = map[string]string{}
			}
			gw.Annotations[infrav1.AnnotationRetryUpgrade] = "now"
			return k8s.Update(suiteCtx, gw)
		})).To(Succeed())
		Eventually(upgradedTo("1.1.0", "ubuntu/noble")).WithTimeout(2 * time.Minute).Should(Succeed())
		Expect(e.gateway(Default).Annotations).NotTo(HaveKey(infrav1.AnnotationRetryUpgrade))

		// Rolling back is an upgrade to the previous release.
		setRelease("1.0.0")
		Eventually(upgradedTo("1.0.0", "ubuntu/jammy")).WithTimeout(2 * time.Minute).Should(Succeed())
	})

	It("refuses a release the catalog does not hold, and rolls nothing", func() {
		threeNodes()
		before := ours()
		setRelease("9.9.9")
		Eventually(func(g Gomega) *metav1.Condition {
			return meta.FindStatusCondition(e.gateway(g).Status.Conditions, infrav1.GatewayUpgraded)
		}).Should(And(HaveField("Reason", "UnknownRelease"), HaveField("Message", ContainSubstring("1.1.0, 1.0.0"))))
		Consistently(func() []maassim.Machine { return ours() }).WithTimeout(time.Second).Should(ConsistOf(before))
	})
}

// holdMachine allocates a machine as another MAAS user, out of the operator's reach.
func holdMachine(sim *maassim.Server, systemID string) {
	GinkgoHelper()
	c, err := maasclient.GetClient(sim.URL, sim.AddUser("someone-"+systemID, false), "2.0")
	Expect(err).NotTo(HaveOccurred())
	_, err = c.Machines.Allocate(&entity.MachineAllocateParams{SystemID: systemID})
	Expect(err).NotTo(HaveOccurred())
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
