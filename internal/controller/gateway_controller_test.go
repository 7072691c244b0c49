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
	"encoding/base64"
	"fmt"
	"time"

	"github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/controller"
	"github.com/maas-gateway/maas-gateway/internal/joinemu"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/internal/operator"
)

const (
	gatewayVIP = "10.11.12.100"
	proxyURL   = "http://proxy.example.com:3128"
)

var _ = Describe("Gateway controller", func() {
	var (
		ns      string
		sim     *maassim.Server
		adopted string
		stop    func()
		// releasedAt reads when MAAS last finished releasing a machine.
		releasedAt func(string) time.Time
	)

	BeforeEach(func() {
		ns = newNamespace()
		sim = startSimulator(func(c *maassim.Config) { c.Domains = []string{"gateway.example"} })
		releasedAt = watchReleases(sim)
		// The emulated kubelets join the envtest API server, which stands for
		// the gateway cluster itself.
		em, err := joinemu.New(joinemu.Config{Client: k8s, Endpoint: gatewayVIP + ":6443"})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(em.Attach(sim.Sim))

		// The node helm install ran on: a machine someone else deployed,
		// already a Ready Node of the cluster.
		adopted = deployedByAnother(sim)
		m, _ := sim.Machine(adopted)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: m.Hostname}}
		Expect(k8s.Create(suiteCtx, node)).To(Succeed())
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		Expect(k8s.Status().Update(suiteCtx, node)).To(Succeed())
		DeferCleanup(func() { _ = k8s.Delete(suiteCtx, node) })

		pki, err := bootstrap.GeneratePKI()
		Expect(err).NotTo(HaveOccurred())
		for purpose, data := range pki.SecretData() {
			Expect(k8s.Create(suiteCtx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: bootstrap.SecretName("gw", purpose)},
				Data:       data,
			})).To(Succeed())
		}
		Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
		_, stop = startOperator(gatewayOptions)
		DeferCleanup(func() { stop() })
	})

	AfterEach(func() {
		// Delete while the operator still runs: the finalizer releases what
		// the gateway allocated. Nodes and tokens are cluster-wide: clear them.
		gw := &infrav1.Gateway{}
		if err := k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw"}, gw); err == nil {
			Expect(k8s.Delete(suiteCtx, gw)).To(Succeed())
			Eventually(func() error {
				return k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw"}, gw)
			}).Should(MatchError(ContainSubstring("not found")))
			Expect(ownedMachinesIn(sim, ns)).To(BeEmpty())
		}
		Expect(k8s.DeleteAllOf(suiteCtx, &corev1.Node{})).To(Succeed())
		Expect(k8s.DeleteAllOf(suiteCtx, &corev1.Secret{}, ctrlclient.InNamespace("kube-system"),
			ctrlclient.MatchingLabels{infrav1.LabelGateway: "gw"})).To(Succeed())
	})

	gateway := func(g Gomega) *infrav1.Gateway {
		gw := &infrav1.Gateway{}
		g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw"}, gw)).To(Succeed())
		return gw
	}
	createGateway := func(mutate func(*infrav1.Gateway)) {
		GinkgoHelper()
		gw := newGateway(ns, sim.URL)
		gw.Spec.AdoptMachines = []string{adopted}
		gw.Spec.ControlPlaneEndpoint = gatewayVIP
		gw.Spec.Placement = infrav1.Placement{Zone: "zone-b", ResourcePool: "gateway", Domain: "gateway.example"}
		gw.Spec.Environment = infrav1.Environment{
			ProxySettings:  infrav1.ProxySettings{HTTPProxy: proxyURL, HTTPSProxy: proxyURL, NoProxy: []string{"maas.example.com"}},
			ClusterNetwork: infrav1.ClusterNetwork{PodCIDR: "172.20.0.0/16", ServiceCIDR: "172.21.0.0/16"},
		}
		if mutate != nil {
			mutate(gw)
		}
		Expect(k8s.Create(suiteCtx, gw)).To(Succeed())
	}
	scaleTo := func(n int32) {
		GinkgoHelper()
		// As kubectl scale does: read the scale, write it back; the operator
		// may have written the object in between (its finalizer).
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			gw := gateway(Default)
			scale := &autoscalingv1.Scale{}
			if err := k8s.SubResource("scale").Get(suiteCtx, gw, scale); err != nil {
				return err
			}
			scale.Spec.Replicas = n
			return k8s.SubResource("scale").Update(suiteCtx, gw, ctrlclient.WithSubResourceBody(scale))
		})).To(Succeed())
	}
	ownedMachines := func() []maassim.Machine { return ownedMachinesIn(sim, ns) }
	allocatedByUs := func() []maassim.Machine {
		var out []maassim.Machine
		for _, m := range sim.Machines() {
			if m.AgentName != "" && m.AgentName == controller.AgentName(gateway(Default)) {
				out = append(out, m)
			}
		}
		return out
	}

	Context("upgrades", func() {
		upgradeSpecs(func() *gatewayEnv {
			return &gatewayEnv{
				ns: ns, sim: sim, adopted: adopted, gateway: gateway, create: createGateway, scaleTo: scaleTo,
				restart: func() { stop(); _, stop = startOperator(gatewayOptions) },
			}
		})
	})

	It("adopts its first node, creates its default CloudAccount, and resizes 1→3 through the scale subresource", func() {
		createGateway(nil)
		Eventually(gateway).Should(And(
			HaveField("Status.Phase", infrav1.GatewayPhaseReady),
			HaveField("Status.ReadyReplicas", BeEquivalentTo(1)),
		))
		account := &infrav1.CloudAccount{}
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw-default"}, account)).To(Succeed())
			c := conditionOf(account.Status.Conditions, infrav1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		}).Should(Succeed())
		Expect(metav1.IsControlledBy(account, gateway(Default))).To(BeTrue())
		Expect(ownedMachines()).To(BeEmpty(), "a 1-node gateway on an adopted machine allocates nothing")

		scaleTo(3)
		Eventually(gateway).WithTimeout(60 * 1e9).Should(And(
			HaveField("Status.ReadyReplicas", BeEquivalentTo(3)),
			HaveField("Status.Phase", infrav1.GatewayPhaseReady),
			HaveField("Status.Nodes", HaveLen(3)),
		))
		owned := ownedMachines()
		Expect(owned).To(HaveLen(2))
		for _, m := range owned {
			Expect(m.Zone).To(Equal("zone-b"))
			Expect(m.Pool).To(Equal("gateway"))
			Expect(m.Domain).To(Equal("gateway.example"))
			Expect(m.StatusName).To(Equal("Deployed"))
			ud := string(m.UserData)
			Expect(ud).To(HavePrefix("#cloud-config"))
			Expect(ud).To(ContainSubstring(proxyURL))
			Expect(ud).To(ContainSubstring("172.20.0.0/16"))
			Expect(ud).To(ContainSubstring("172.21.0.0/16"))
			Expect(ud).To(ContainSubstring(gatewayVIP + ":6443"))
			Expect(ud).To(ContainSubstring("controlPlane"))
			// MAAS keeps user data: a joining node gets a certificate key
			// for the gateway's keys, never the keys.
			Expect(ud).NotTo(ContainSubstring("PRIVATE KEY"), "MAAS keeps the user data of machine %s", m.SystemID)
			Expect(ud).To(ContainSubstring("certificateKey: "))
			intent, err := bootstrap.Parse(m.UserData)
			Expect(err).NotTo(HaveOccurred())
			Expect(intent.ProviderID).To(Equal("maas://" + m.SystemID))
			Expect(intent.Labels).To(HaveKeyWithValue(infrav1.LabelGateway, "gw"))
		}
		nodes := &corev1.NodeList{}
		Expect(k8s.List(suiteCtx, nodes, ctrlclient.MatchingLabels{infrav1.LabelGateway: "gw"})).To(Succeed())
		Expect(nodes.Items).To(HaveLen(2))
		tokens := &corev1.SecretList{}
		Expect(k8s.List(suiteCtx, tokens, ctrlclient.InNamespace("kube-system"), ctrlclient.MatchingLabels{infrav1.LabelGateway: "gw"})).To(Succeed())
		Expect(tokens.Items).To(HaveLen(1))
		Expect(tokens.Items[0].Type).To(Equal(corev1.SecretTypeBootstrapToken))
		Expect(allocatedByUs()).To(HaveLen(2), "no machine is allocated that status does not list")
	})

	It("says which constraint MAAS could not satisfy, and keeps trying", func() {
		createGateway(func(gw *infrav1.Gateway) { gw.Spec.Placement.MinCPU = 4000 })
		Eventually(gateway).Should(HaveField("Status.Phase", infrav1.GatewayPhaseReady))
		scaleTo(3)
		Eventually(func(g Gomega) string {
			c := conditionOf(gateway(g).Status.Conditions, infrav1.GatewayResized)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal("NoCapacity"))
			return c.Message
		}).Should(ContainSubstring("cpu_count"))
		Expect(allocatedByUs()).To(BeEmpty())

		gw := gateway(Default)
		gw.Spec.Placement.MinCPU = 0
		Expect(k8s.Update(suiteCtx, gw)).To(Succeed())
		Eventually(gateway).WithTimeout(60 * 1e9).Should(HaveField("Status.ReadyReplicas", BeEquivalentTo(3)))
	})

	It("replaces a machine whose deployment failed, and counts it", func() {
		createGateway(nil)
		Eventually(gateway).Should(HaveField("Status.Phase", infrav1.GatewayPhaseReady))
		f := sim.Faults()
		f.FailDeployRate = 1
		sim.SetFaults(f)
		scaleTo(3)
		Eventually(gateway).Should(HaveField("Status.FailedDeployments", BeNumerically(">=", 1)))
		f.FailDeployRate = 0
		sim.SetFaults(f)
		Eventually(gateway).WithTimeout(60 * 1e9).Should(HaveField("Status.ReadyReplicas", BeEquivalentTo(3)))
		Expect(allocatedByUs()).To(HaveLen(2))
		for _, m := range sim.Machines() {
			Expect(m.StatusName).NotTo(Equal("Failed deployment"), "machine %s was left failed", m.SystemID)
		}
	})

	It("releases again a replaced machine whose release MAAS failed, and keeps it in status.nodes until MAAS has it back", func() {
		createGateway(nil)
		Eventually(gateway).Should(HaveField("Status.Phase", infrav1.GatewayPhaseReady))
		// Deployments fail, so the gateway replaces the machines it
		// deploys; their releases fail too (Releasing failed), and MAAS
		// clears their agent name as each release begins.
		sim.SetFaults(maassim.Faults{FailDeployRate: 1, StuckReleaseRate: 1, StuckReleaseFails: true})
		scaleTo(3)
		var failed string
		Eventually(func() string {
			for _, m := range sim.Machines() {
				if m.StatusName == "Releasing failed" && m.Annotations[maas.AnnotationOwnerNamespace] == ns {
					failed = m.SystemID
				}
			}
			return failed
		}).ShouldNot(BeEmpty())
		m, _ := sim.Machine(failed)
		Expect(m.AgentName).To(BeEmpty(), "the installation's list no longer shows it")
		// Deployments succeed again; releases still fail.
		sim.SetFaults(maassim.Faults{StuckReleaseRate: 1, StuckReleaseFails: true})

		retried := func(g Gomega) []string {
			list := &eventsv1.EventList{}
			g.Expect(k8s.List(suiteCtx, list, ctrlclient.InNamespace(ns))).To(Succeed())
			var notes []string
			for _, e := range list.Items {
				if e.Regarding.Kind == "Gateway" && e.Reason == "MachineReleaseRetried" {
					notes = append(notes, e.Note)
				}
			}
			return notes
		}
		// The Gateway tells of its retries. Which machine's event reaches
		// the API first is not awaited: the events library may fold or
		// hold a burst of them. That this machine was released again is
		// shown by MAAS below: a machine whose release failed is Ready
		// again only after a new release request.
		Eventually(retried).Should(ContainElement(ContainSubstring("MAAS failed to release machine")))
		Eventually(gateway).Should(HaveField("Status.Nodes", ContainElement(And(
			HaveField("SystemID", failed),
			HaveField("State", BeElementOf("Releasing", "Disk erasing", "Releasing failed")),
		))))

		// MAAS recovers: the next retry completes, and the machine leaves
		// status once MAAS has it back. (The gateway, short of a node, may
		// take it again at once: its release is read from MAAS's events.)
		recovered := time.Now()
		sim.SetFaults(maassim.Faults{})
		Eventually(func() time.Time { return releasedAt(failed) }).Should(BeTemporally(">", recovered))
		Eventually(gateway).WithTimeout(60 * time.Second).Should(And(
			HaveField("Status.ReadyReplicas", BeEquivalentTo(3)),
			HaveField("Status.Nodes", HaveLen(3)),
		))
		for _, m := range sim.Machines() {
			Expect(m.StatusName).NotTo(Equal("Releasing failed"), "machine %s was left failed", m.SystemID)
		}
	})

	It("holds its deletion while a TenantCluster depends on it, even when the webhook is bypassed", func() {
		createGateway(nil)
		Eventually(gateway).Should(HaveField("Status.Phase", infrav1.GatewayPhaseReady))
		tc := &infrav1.TenantCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tc"},
			Spec: infrav1.TenantClusterSpec{
				CloudAccountRef:      infrav1.LocalObjectReference{Name: "gw-default"},
				Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: "v1.34.2"},
				ControlPlaneEndpoint: "10.30.0.10",
				ControlPlane:         infrav1.ControlPlanePool{Size: 1},
			},
		}
		Expect(k8s.Create(suiteCtx, tc)).To(Succeed())

		// No webhook runs in this suite: the finalizer is what holds.
		Expect(k8s.Delete(suiteCtx, gateway(Default))).To(Succeed())
		Eventually(func(g Gomega) *metav1.Condition {
			return conditionOf(gateway(g).Status.Conditions, infrav1.ConditionReady)
		}).Should(And(HaveField("Reason", "InUse"), HaveField("Message", ContainSubstring(ns+"/tc"))))
		Consistently(gateway).Should(HaveField("DeletionTimestamp", Not(BeNil())))

		Expect(k8s.Delete(suiteCtx, tc)).To(Succeed())
		Eventually(func() error {
			return k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw"}, &infrav1.Gateway{})
		}).Should(MatchError(ContainSubstring("not found")))
	})

	It("allocates no extra machine when restarted in the middle of a resize", func() {
		createGateway(nil)
		Eventually(gateway).Should(HaveField("Status.Phase", infrav1.GatewayPhaseReady))
		scaleTo(3)
		Eventually(allocatedByUs).Should(HaveLen(2))
		stop()
		_, stop = startOperator(gatewayOptions)
		Eventually(gateway).WithTimeout(60 * 1e9).Should(HaveField("Status.ReadyReplicas", BeEquivalentTo(3)))
		Expect(allocatedByUs()).To(HaveLen(2))
		Expect(gateway(Default).Status.Nodes).To(HaveLen(3))
	})

	// resized brings a gateway of policy to 3 Ready nodes, 2 of them
	// machines it allocated.
	resized := func(policy infrav1.GatewayDeletionPolicy) []maassim.Machine {
		GinkgoHelper()
		createGateway(func(gw *infrav1.Gateway) { gw.Spec.DeletionPolicy = policy })
		Eventually(gateway).Should(HaveField("Status.Phase", infrav1.GatewayPhaseReady))
		scaleTo(3)
		Eventually(gateway).WithTimeout(60 * 1e9).Should(HaveField("Status.ReadyReplicas", BeEquivalentTo(3)))
		owned := ownedMachines()
		Expect(owned).To(HaveLen(2))
		return owned
	}
	gatewayGone := func() error {
		return k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw"}, &infrav1.Gateway{})
	}

	It("keeps its machines when deleted with the default policy, and says how to release them", func() {
		owned := resized("")
		Expect(gateway(Default).Spec.DeletionPolicy).To(Equal(infrav1.GatewayRetain))

		Expect(k8s.Delete(suiteCtx, gateway(Default))).To(Succeed())
		Eventually(gatewayGone).Should(MatchError(ContainSubstring("not found")))
		Consistently(func(g Gomega) {
			for _, m := range owned {
				now, _ := sim.Machine(m.SystemID)
				g.Expect(now.StatusName).To(Equal("Deployed"), "machine %s", m.SystemID)
			}
		}).WithTimeout(2 * time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			list := &eventsv1.EventList{}
			g.Expect(k8s.List(suiteCtx, list, ctrlclient.InNamespace(ns))).To(Succeed())
			var notes []string
			for _, e := range list.Items {
				if e.Reason == "MachinesRetained" {
					notes = append(notes, e.Note)
				}
			}
			g.Expect(notes).To(ConsistOf(And(
				ContainSubstring(owned[0].SystemID), ContainSubstring(owned[1].SystemID), ContainSubstring("adoptMachines"))))
		}).Should(Succeed())
	})

	It("decommissions only once MAAS has listed its machines, and then releases every one it allocated", func() {
		owned := resized(infrav1.GatewayDecommission)

		// Restarted while MAAS answers nothing: the new process has never
		// listed the installation's machines.
		stop()
		f := sim.Faults()
		f.ErrorRate = 1
		sim.SetFaults(f)
		_, stop = startOperator(gatewayOptions)
		Expect(k8s.Delete(suiteCtx, gateway(Default))).To(Succeed())
		Eventually(func(g Gomega) *metav1.Condition {
			return conditionOf(gateway(g).Status.Conditions, infrav1.ConditionReady)
		}).Should(And(HaveField("Reason", infrav1.ReasonInventoryUnknown), HaveField("Message", ContainSubstring("Retain"))))
		Consistently(func(g Gomega) {
			g.Expect(gatewayGone()).To(Succeed(), "the Gateway stays while its machines are unknown")
			g.Expect(ownedMachines()).To(HaveLen(len(owned)))
		}).WithTimeout(2 * time.Second).Should(Succeed())

		f.ErrorRate = 0
		sim.SetFaults(f)
		Eventually(gatewayGone).WithTimeout(time.Minute).Should(MatchError(ContainSubstring("not found")))
		Expect(ownedMachines()).To(BeEmpty())
		m, _ := sim.Machine(adopted)
		Expect(m.StatusName).To(Equal("Deployed"), "an adopted machine is never released")
	})

	It("decommissions only once every machine it released is back in MAAS, releasing again those MAAS failed to", func() {
		owned := resized(infrav1.GatewayDecommission)
		// Every release fails (Releasing failed), and MAAS clears each
		// machine's agent name as its release begins: nothing in the
		// installation's list shows them any more.
		sim.SetFaults(maassim.Faults{StuckReleaseRate: 1, StuckReleaseFails: true})
		Expect(k8s.Delete(suiteCtx, gateway(Default))).To(Succeed())
		Eventually(func(g Gomega) {
			for _, o := range owned {
				m, _ := sim.Machine(o.SystemID)
				g.Expect(m.StatusName).To(Equal("Releasing failed"), "machine %s", o.SystemID)
			}
		}).WithTimeout(time.Minute).Should(Succeed())
		Eventually(func(g Gomega) {
			gw := gateway(g)
			g.Expect(gw.Status.Nodes).To(ContainElement(HaveField("SystemID", owned[0].SystemID)))
			c := conditionOf(gw.Status.Conditions, infrav1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(infrav1.ReasonDeleting))
		}).Should(Succeed(), "the Gateway stays while its released machines are not back")

		sim.SetFaults(maassim.Faults{})
		Eventually(gatewayGone).WithTimeout(time.Minute).Should(MatchError(ContainSubstring("not found")))
		for _, o := range owned {
			m, _ := sim.Machine(o.SystemID)
			Expect(m.StatusName).To(Equal("Ready"), "machine %s is back in MAAS's pool", o.SystemID)
		}
	})
})

// gatewayOptions run the operator with the release catalog the upgrade specs publish.
var gatewayOptions = func() operator.Options {
	o := fastOptions
	o.ReleaseCatalog = types.NamespacedName{Namespace: "default", Name: "gateway-releases"}
	return o
}()

// deployedByAnother deploys a gateway-pool machine as a user other than the
// operator's, with no agent name: a machine the operator may track, never touch.
func deployedByAnother(sim *maassim.Server) string {
	GinkgoHelper()
	key := sim.AddUser("installer", true)
	c, err := client.GetClient(sim.URL, key, "2.0")
	Expect(err).NotTo(HaveOccurred())
	m, err := c.Machines.Allocate(&entity.MachineAllocateParams{Zone: "zone-a", Pool: "gateway"})
	Expect(err).NotTo(HaveOccurred())
	_, err = c.Machine.Deploy(m.SystemID, &entity.MachineDeployParams{
		DistroSeries: "jammy", UserData: base64.StdEncoding.EncodeToString([]byte("#cloud-config\n")),
	})
	Expect(err).NotTo(HaveOccurred())
	Eventually(func() string { mm, _ := sim.Machine(m.SystemID); return mm.StatusName }).Should(Equal("Deployed"))
	return fmt.Sprint(m.SystemID)
}

// ownedMachinesIn lists the simulator's machines annotated as a Gateway's of namespace ns
// and not on their way back to the free pool.
func ownedMachinesIn(sim *maassim.Server, ns string) []maassim.Machine {
	var out []maassim.Machine
	for _, m := range sim.Machines() {
		if m.Annotations[maas.AnnotationOwnerKind] == "Gateway" && m.Annotations[maas.AnnotationOwnerNamespace] == ns &&
			m.StatusName != "Releasing" && m.StatusName != "Disk erasing" {
			out = append(out, m)
		}
	}
	return out
}
