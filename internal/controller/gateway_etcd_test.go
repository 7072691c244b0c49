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

// The gateway's own etcd, played by real processes. The manager runs in
// envtest, which stands for the gateway cluster's API server (its Nodes,
// Pods and bootstrap tokens are there, as the Gateway specs have them);
// the gateway's control planes, and so its etcd, are played by
// internal/joinemu/controlplane from the same user data: the first node
// (the one helm install ran on) initialises a cluster with the gateway's
// PKI on a loopback VIP, and every node the operator deploys joins it with
// a real etcd member. The operator reaches those members as it would on
// hardware: at the machines' addresses, with a certificate signed by the
// gateway's etcd CA from Secret gw-etcd. The two halves are one cluster in
// production; here they share the PKI and the bootstrap token (the token
// record Secret is written before the Gateway, so the operator publishes
// the very token the first node's kubeadm init created).

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"time"

	maasclient "github.com/canonical/gomaasclient/client"
	"github.com/canonical/gomaasclient/entity"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/catalog"
	"github.com/maas-gateway/maas-gateway/internal/controller"
	"github.com/maas-gateway/maas-gateway/internal/joinemu"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

var _ = Describe("Gateway on emulated control planes", func() {
	const vip = "127.11.12.100"
	var (
		ns      string
		sim     *maassim.Server
		emu     *controlplane.Emulator
		adopted string
	)

	BeforeEach(func() {
		ns = newNamespace()
		sim = startSimulator(func(c *maassim.Config) { c.Inventory = maassim.Loopback(c.Inventory) })
		em, err := joinemu.New(joinemu.Config{Client: k8s, Endpoint: vip + ":6443"})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(em.Attach(sim.Sim))
		emu = startControlPlanes(sim)

		pki, err := bootstrap.GeneratePKI()
		Expect(err).NotTo(HaveOccurred())
		for purpose, data := range pki.SecretData() {
			Expect(k8s.Create(suiteCtx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: bootstrap.SecretName("gw", purpose)},
				Data:       data,
			})).To(Succeed())
		}
		token, err := bootstrap.GenerateBootstrapToken()
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Create(suiteCtx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw-bootstrap-token"},
			Data: map[string][]byte{
				"token":      []byte(token.Value()),
				"expiration": []byte(time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)),
			},
		})).To(Succeed())
		Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: gatewayOptions.ReleaseCatalog.Namespace, Name: gatewayOptions.ReleaseCatalog.Name},
			Data:       map[string]string{catalog.DataKey: releases},
		}
		Expect(k8s.Create(suiteCtx, cm)).To(Succeed())
		DeferCleanup(func() { Expect(k8s.Delete(suiteCtx, cm)).To(Succeed()) })

		// The node helm install ran on: kubeadm init with the gateway's PKI,
		// deployed by another MAAS user.
		adopted = deployedByAnotherAs(sim, func(systemID string) []byte {
			ud, err := bootstrap.Render(bootstrap.NodeConfig{
				Role: bootstrap.RoleInitControlPlane, ClusterName: "gw", SystemID: systemID,
				KubernetesVersion: "v1.34.2", ControlPlaneEndpoint: vip, Token: token, PKI: pki,
				PodCIDR: "172.20.0.0/16", ServiceCIDR: "172.21.0.0/16",
				KubeVIPInterface: "eth0", Labels: map[string]string{infrav1.LabelGateway: "gw"},
			})
			Expect(err).NotTo(HaveOccurred())
			return ud
		})
		Eventually(func() error { _, err := emu.AdminConfig(vip + ":6443"); return err }).
			WithTimeout(2*time.Minute).Should(Succeed(), "the first node's control plane is up")

		o := gatewayOptions
		o.SkipGatewayEtcd = false
		o.RequeueInterval = time.Second
		_, stop := startOperator(o)
		DeferCleanup(func() {
			stop()
			Expect(k8s.DeleteAllOf(suiteCtx, &corev1.Node{})).To(Succeed())
			Expect(k8s.DeleteAllOf(suiteCtx, &corev1.Secret{}, ctrlclient.InNamespace("kube-system"),
				ctrlclient.MatchingLabels{infrav1.LabelGateway: "gw"})).To(Succeed())
		})
		// Runs before the operator stops (cleanups run last first): the
		// finalizer takes the remaining members out and releases.
		DeferCleanup(func() {
			gw := &infrav1.Gateway{}
			if err := k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw"}, gw); err == nil {
				Expect(k8s.Delete(suiteCtx, gw)).To(Succeed())
				Eventually(func() error {
					return k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw"}, gw)
				}).WithTimeout(2 * time.Minute).Should(MatchError(ContainSubstring("not found")))
				Expect(ownedMachinesIn(sim, ns)).To(BeEmpty())
			}
		})
	})

	gateway := func(g Gomega) *infrav1.Gateway {
		gw := &infrav1.Gateway{}
		g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw"}, gw)).To(Succeed())
		return gw
	}
	createGateway := func(replicas int32) {
		GinkgoHelper()
		gw := newGateway(ns, sim.URL)
		gw.Spec.Replicas = replicas
		gw.Spec.AdoptMachines = []string{adopted}
		gw.Spec.ControlPlaneEndpoint = vip
		gw.Spec.Placement = infrav1.Placement{ResourcePool: "gateway"}
		gw.Spec.Environment.ClusterNetwork = infrav1.ClusterNetwork{PodCIDR: "172.20.0.0/16", ServiceCIDR: "172.21.0.0/16"}
		gw.Spec.Release = &infrav1.Release{Version: "1.0.0"}
		Expect(k8s.Create(suiteCtx, gw)).To(Succeed())
	}
	setRelease := func(v string) {
		GinkgoHelper()
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			gw := gateway(Default)
			gw.Spec.Release = &infrav1.Release{Version: v}
			return k8s.Update(suiteCtx, gw)
		})).To(Succeed())
	}
	upgradedTo := func(v string) func(Gomega) {
		return func(g Gomega) {
			gw := gateway(g)
			g.Expect(gw.Status.Upgrade).To(BeNil())
			g.Expect(gw.Status.CurrentRelease).NotTo(BeNil())
			g.Expect(gw.Status.CurrentRelease.Version).To(Equal(v))
			g.Expect(gw.Status.ReadyReplicas).To(Equal(gw.Spec.Replicas))
		}
	}
	members := func() ([]controlplane.Member, error) { return emu.EtcdMembers(suiteCtx, vip+":6443") }
	// onlyMembersOf checks that etcd holds exactly one reachable voting
	// member per machine the gateway runs on, each peering from it.
	onlyMembersOf := func(g Gomega, machines []maassim.Machine) {
		final, err := members()
		g.Expect(err).NotTo(HaveOccurred())
		hosts := map[string]bool{}
		for _, m := range machines {
			hosts[m.IPs[0]] = true
		}
		g.Expect(final).To(HaveLen(len(machines)), "%+v", final)
		for _, m := range final {
			g.Expect(m.Reachable).To(BeTrue(), "member %s", m.Name)
			g.Expect(m.Learner).To(BeFalse(), "member %s", m.Name)
			g.Expect(m.PeerURLs).NotTo(BeEmpty())
			g.Expect(hosts).To(HaveKey(hostOf(m.PeerURLs[0])), "member %s is of no gateway machine", m.Name)
		}
	}

	It("upgrades a 1-node gateway expand-first and ends with exactly one etcd member, keeping quorum throughout", func() {
		createGateway(1)
		Eventually(upgradedTo("1.0.0")).WithTimeout(time.Minute).Should(Succeed())
		Eventually(members).Should(HaveLen(1))

		stopWatch := watchQuorum(suiteCtx, members)
		setRelease("1.1.0")
		Eventually(upgradedTo("1.1.0")).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
		// The upgrade is over only once the old node has left etcd.
		Expect(gateway(Default).Status.RetiredMachines).To(ConsistOf(adopted))
		seen := stopWatch()
		Expect(seen.violations).To(BeEmpty(), "etcd lost quorum during the upgrade")
		Expect(seen.most).To(BeNumerically("<=", 2), "expand-first adds one member at a time")

		owned := ownedMachinesIn(sim, ns)
		Expect(owned).To(HaveLen(1))
		// Before this change the adopted node's member stayed: 2 members, 1
		// answering once its machine is released.
		Eventually(func(g Gomega) { onlyMembersOf(g, owned) }).Should(Succeed())
		m, _ := sim.Machine(adopted)
		Expect(m.StatusName).To(Equal("Deployed"), "the operator never releases a machine it did not allocate")
		Expect(meta.IsStatusConditionFalse(gateway(Default).Status.Conditions, infrav1.GatewayNodesDrained)).To(BeFalse())
	})

	It("resizes a 1-node gateway to 3 one member at a time, keeping quorum throughout", func() {
		createGateway(1)
		Eventually(upgradedTo("1.0.0")).WithTimeout(time.Minute).Should(Succeed())
		Eventually(members).Should(HaveLen(1))

		stopWatch := watchQuorum(suiteCtx, members)
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			gw := gateway(Default)
			gw.Spec.Replicas = 3
			return k8s.Update(suiteCtx, gw)
		})).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(gateway(g).Status.ReadyReplicas).To(Equal(int32(3)))
			onlyMembersOf(g, append(ownedMachinesIn(sim, ns), mustMachine(sim, adopted)))
		}).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
		seen := stopWatch()
		Expect(seen.violations).To(BeEmpty(), "etcd lost quorum while the gateway grew")
		Expect(seen.most).To(Equal(3))

		// The new members joined with the keys the operator uploaded to the
		// gateway cluster at its VIP (the emulated kubeadm join downloads
		// and decrypts kubeadm-certs there): MAAS never held them.
		for _, m := range ownedMachinesIn(sim, ns) {
			Expect(string(m.UserData)).NotTo(ContainSubstring("PRIVATE KEY"), "MAAS keeps the user data of machine %s", m.SystemID)
			Expect(string(m.UserData)).To(ContainSubstring("certificateKey: "))
		}
		cfg, err := emu.AdminConfig(vip + ":6443")
		Expect(err).NotTo(HaveOccurred())
		gatewayCluster, err := ctrlclient.New(cfg, ctrlclient.Options{})
		Expect(err).NotTo(HaveOccurred())
		// The round is over once both joined: the keys leave the cluster
		// and the key is forgotten.
		Eventually(func(g Gomega) {
			err := gatewayCluster.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: "kube-system", Name: bootstrap.KubeadmCertsSecretName}, &corev1.Secret{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "kubeadm-certs: %v", err)
			record := &corev1.Secret{}
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw-certificate-key"}, record)).To(Succeed())
			g.Expect(record.Data).To(BeEmpty(), "the key is forgotten")
		}).WithTimeout(time.Minute).Should(Succeed())
		reasons := map[string]bool{}
		list := &eventsv1.EventList{}
		Expect(k8s.List(suiteCtx, list, ctrlclient.InNamespace(ns))).To(Succeed())
		for _, e := range list.Items {
			if e.Regarding.Kind == "Gateway" {
				reasons[e.Reason] = true
			}
		}
		Expect(reasons).To(And(HaveKey(controller.ReasonCertificatesUploaded), HaveKey(controller.ReasonCertificateKeyRetired)))
	})

	DescribeTable("upgrades a 3-node gateway and ends with three etcd members, keeping quorum throughout",
		func(strategy infrav1.RollingUpdateStrategy, fewest, most int) {
			createGateway(3)
			Eventually(upgradedTo("1.0.0")).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
			// The Nodes register at once; the members join one after another.
			Eventually(func(g Gomega) { onlyMembersOf(g, append(ownedMachinesIn(sim, ns), mustMachine(sim, adopted))) }).
				WithTimeout(2 * time.Minute).Should(Succeed())
			var held []string
			holder, err := maasclient.GetClient(sim.URL, sim.AddUser("spares", false), "2.0")
			Expect(err).NotTo(HaveOccurred())
			if strategy == infrav1.ContractFirst {
				// Another MAAS user takes every spare gateway machine: the
				// rollout must free a node before it can deploy one.
				for _, m := range sim.Machines() {
					if m.Pool == "gateway" && m.StatusName == "Ready" {
						_, err := holder.Machines.Allocate(&entity.MachineAllocateParams{SystemID: m.SystemID})
						Expect(err).NotTo(HaveOccurred())
						held = append(held, m.SystemID)
					}
				}
				Expect(held).NotTo(BeEmpty())
			}

			stopWatch := watchQuorum(suiteCtx, members)
			setRelease("1.1.0")
			Eventually(func(g Gomega) {
				up := gateway(g).Status.Upgrade
				g.Expect(up).NotTo(BeNil())
				g.Expect(up.Strategy).To(Equal(strategy))
			}).Should(Succeed())
			if len(held) > 0 {
				// The adopted node is retired, not released: its place needs
				// a machine the released ones cannot give back. The strategy
				// stays what it was chosen to be.
				Expect(holder.Machines.Release(held[:1], "")).To(Succeed())
			}
			Eventually(upgradedTo("1.1.0")).WithTimeout(6 * time.Minute).WithPolling(time.Second).Should(Succeed())
			seen := stopWatch()
			Expect(seen.violations).To(BeEmpty(), "etcd lost quorum during the upgrade")
			Expect(seen.most).To(BeNumerically("<=", most), "one member added at a time")
			Expect(seen.fewest).To(BeNumerically(">=", fewest), "one member removed at a time")
			owned := ownedMachinesIn(sim, ns)
			Expect(owned).To(HaveLen(3))
			Eventually(func(g Gomega) { onlyMembersOf(g, owned) }).WithTimeout(time.Minute).Should(Succeed())
		},
		Entry("expand-first, with a spare machine in MAAS", infrav1.ExpandFirst, 3, 4),
		Entry("contract-first, when MAAS has no spare machine", infrav1.ContractFirst, 2, 3),
	)
})

// deployedByAnotherAs deploys a gateway-pool machine as a user other than
// the operator's, with the user data userData renders for its system ID.
func deployedByAnotherAs(sim *maassim.Server, userData func(systemID string) []byte) string {
	GinkgoHelper()
	c, err := maasclient.GetClient(sim.URL, sim.AddUser("installer", true), "2.0")
	Expect(err).NotTo(HaveOccurred())
	m, err := c.Machines.Allocate(&entity.MachineAllocateParams{Pool: "gateway"})
	Expect(err).NotTo(HaveOccurred())
	_, err = c.Machine.Deploy(m.SystemID, &entity.MachineDeployParams{
		DistroSeries: "jammy", UserData: base64.StdEncoding.EncodeToString(userData(m.SystemID)),
	})
	Expect(err).NotTo(HaveOccurred())
	Eventually(func() string { mm, _ := sim.Machine(m.SystemID); return mm.StatusName }).Should(Equal("Deployed"))
	return fmt.Sprint(m.SystemID)
}

func mustMachine(sim *maassim.Server, systemID string) maassim.Machine {
	GinkgoHelper()
	m, ok := sim.Machine(systemID)
	Expect(ok).To(BeTrue())
	return m
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
