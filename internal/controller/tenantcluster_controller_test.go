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
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/controller"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maas"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
	"github.com/maas-gateway/maas-gateway/internal/operator"
	"github.com/maas-gateway/maas-gateway/internal/packs/packstest"
	"github.com/maas-gateway/maas-gateway/internal/workload"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

const (
	tenantVIP     = "10.30.0.100"
	tenantVersion = "v1.34.2"
)

// tenantOptions are fastOptions with a short safety-net requeue (releases
// are followed by it) and the 2 s force-delete delay the tests wait out.
func tenantOptions() operator.Options {
	o := fastOptions
	o.RequeueInterval = 300 * time.Millisecond
	o.ForceDeleteAfter = 2 * time.Second
	// Tests never contact a tenant cluster's (non-loopback) API server.
	o.TenantTokens = &recordingTokens{}
	return o
}

var _ = Describe("TenantCluster controller", func() {
	var (
		ns   string
		sim  *maassim.Server
		stop func()
	)

	// setup starts a simulator (mutated as a test needs), the operator and a
	// Gateway whose default CloudAccount the clusters provision with. The
	// Gateway has no control-plane endpoint, so it takes no machine itself.
	var op *operator.Operator
	setupWith := func(mutate func(*maassim.Config), options func(*operator.Options)) {
		GinkgoHelper()
		ns = newNamespace()
		sim = startSimulator(mutate)
		Expect(k8s.Create(suiteCtx, apiKeySecret(ns, "maas", sim.DefaultAPIKey()))).To(Succeed())
		o := tenantOptions()
		if options != nil {
			options(&o)
		}
		op, stop = startOperator(o)
		DeferCleanup(func() { stop() })
		gw := newGateway(ns, sim.URL)
		gw.Spec.Environment.ClusterNetwork = infrav1.ClusterNetwork{PodCIDR: "172.20.0.0/16", ServiceCIDR: "172.21.0.0/16"}
		Expect(k8s.Create(suiteCtx, gw)).To(Succeed())
		Eventually(func(g Gomega) {
			account := &infrav1.CloudAccount{}
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw-default"}, account)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(account.Status.Conditions, infrav1.ConditionReady)).To(BeTrue())
		}).Should(Succeed())
	}
	setup := func(mutate func(*maassim.Config)) {
		GinkgoHelper()
		setupWith(mutate, nil)
	}

	AfterEach(func() {
		if ns == "" {
			return
		}
		// Delete while the operator still runs, so finalizers release
		// what was allocated.
		for _, obj := range []ctrlclient.Object{&infrav1.TenantCluster{}, &infrav1.Gateway{}} {
			name := "tc"
			if _, ok := obj.(*infrav1.Gateway); ok {
				name = "gw"
			}
			if err := k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, obj); err == nil {
				Expect(ctrlclient.IgnoreNotFound(k8s.Delete(suiteCtx, obj))).To(Succeed())
				Eventually(func() error {
					return k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, obj)
				}).Should(MatchError(ContainSubstring("not found")))
			}
		}
		ns = ""
	})

	cluster := func(g Gomega) *infrav1.TenantCluster {
		tc := &infrav1.TenantCluster{}
		g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "tc"}, tc)).To(Succeed())
		return tc
	}
	gateway := func() *infrav1.Gateway {
		gw := &infrav1.Gateway{}
		Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw"}, gw)).To(Succeed())
		return gw
	}
	// ours lists the simulator's machines carrying the installation's agent_name.
	ours := func() []maassim.Machine {
		agent := controller.AgentName(gateway())
		var out []maassim.Machine
		for _, m := range sim.Machines() {
			if m.AgentName == agent {
				out = append(out, m)
			}
		}
		return out
	}
	createCluster := func(mutate func(*infrav1.TenantCluster)) {
		GinkgoHelper()
		tc := &infrav1.TenantCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tc"},
			Spec: infrav1.TenantClusterSpec{
				CloudAccountRef:      infrav1.LocalObjectReference{Name: "gw-default"},
				Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: tenantVersion},
				ControlPlaneEndpoint: tenantVIP,
				// The control plane takes gateway-pool machines and the
				// workers tenant-pool ones, so a test can tell them apart.
				ControlPlane: infrav1.ControlPlanePool{Size: 1, MachineTemplate: infrav1.MachineTemplate{ResourcePool: "gateway"}},
				Workers: []infrav1.NodePool{{
					Name: "workers", Size: 2,
					MachineTemplate: infrav1.MachineTemplate{ResourcePool: "tenants", Zones: []string{"zone-a", "zone-b"}},
				}},
			},
		}
		if mutate != nil {
			mutate(tc)
		}
		Expect(k8s.Create(suiteCtx, tc)).To(Succeed())
	}
	update := func(mutate func(*infrav1.TenantCluster)) {
		GinkgoHelper()
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			tc := cluster(Default)
			mutate(tc)
			return k8s.Update(suiteCtx, tc)
		})).To(Succeed())
	}
	running := func(ready int) types.GomegaMatcher {
		return And(
			HaveField("Status.Phase", infrav1.TenantPhaseRunning),
			HaveField("Status.ReadyMachines", BeEquivalentTo(ready)),
			HaveField("Status.DesiredMachines", BeEquivalentTo(ready)),
		)
	}
	// setUpgrading puts the Gateway in (or out of) an upgrade. Its nodes
	// cannot deploy in this suite (it has no control-plane endpoint), so the
	// Gateway controller keeps an upgrade record in progress as it is.
	setUpgrading := func(status metav1.ConditionStatus) {
		GinkgoHelper()
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			gw := gateway()
			gw.Status.Upgrade = nil
			if status == metav1.ConditionTrue {
				gw.Status.Upgrade = &infrav1.UpgradeStatus{StartedAt: metav1.Now(), Strategy: infrav1.ExpandFirst}
			}
			meta.SetStatusCondition(&gw.Status.Conditions, metav1.Condition{
				Type: infrav1.GatewayUpgrading, Status: status, Reason: "Test", Message: "set by the test",
			})
			return k8s.Status().Update(suiteCtx, gw)
		})).To(Succeed())
	}
	eventsOf := func(reason string) []eventsv1.Event {
		list := &eventsv1.EventList{}
		Expect(k8s.List(suiteCtx, list, ctrlclient.InNamespace(ns))).To(Succeed())
		var out []eventsv1.Event
		for _, e := range list.Items {
			if e.Regarding.Kind == "TenantCluster" && e.Regarding.Name == "tc" && e.Reason == reason {
				out = append(out, e)
			}
		}
		return out
	}
	deleteCluster := func() {
		GinkgoHelper()
		Expect(k8s.Delete(suiteCtx, cluster(Default))).To(Succeed())
	}
	gone := func() error {
		return k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "tc"}, &infrav1.TenantCluster{})
	}

	It("provisions one control plane and two workers over two zones, with PKI, token and kubeconfig", func() {
		setup(nil)
		createCluster(nil)
		Eventually(cluster).Should(running(3))
		tc := cluster(Default)

		machines := ours()
		Expect(machines).To(HaveLen(3), "no machine is allocated that the cluster does not use")
		inits, zones := 0, map[string]bool{}
		for _, m := range machines {
			Expect(m.StatusName).To(Equal("Deployed"))
			Expect(m.Annotations).To(HaveKeyWithValue(maas.AnnotationOwnerKind, "TenantCluster"))
			Expect(m.Annotations).To(HaveKeyWithValue(maas.AnnotationOwnerNamespace, ns))
			Expect(m.Annotations).To(HaveKeyWithValue(maas.AnnotationOwnerName, "tc"))
			Expect(m.Annotations).To(HaveKeyWithValue(maas.AnnotationOwnerUID, string(tc.UID)))
			Expect(m.Annotations).To(HaveKey(maas.AnnotationSlot))
			Expect(m.Annotations).To(HaveKey(maas.AnnotationTemplate))
			intent, err := bootstrap.Parse(m.UserData)
			Expect(err).NotTo(HaveOccurred())
			Expect(intent.ClusterName).To(Equal("tc"))
			Expect(intent.ControlPlaneEndpoint).To(Equal(tenantVIP + ":6443"))
			Expect(intent.KubernetesVersion).To(Equal(tenantVersion))
			switch m.Annotations[maas.AnnotationPool] {
			case infrav1.ControlPlanePoolName:
				Expect(m.Pool).To(Equal("gateway"))
				Expect(m.Annotations).To(HaveKeyWithValue(maas.AnnotationInit, "true"))
				Expect(intent.Labels).To(HaveKeyWithValue(controller.LabelTenantPool, infrav1.ControlPlanePoolName))
				Expect(string(m.UserData)).To(ContainSubstring("172.20.0.0/16"), "the gateway's pod CIDR is the default")
			case "workers":
				Expect(m.Pool).To(Equal("tenants"))
				Expect(intent.Role).To(Equal(bootstrap.RoleJoinWorker))
				Expect(string(m.UserData)).NotTo(ContainSubstring("PRIVATE KEY"), "a worker never receives a CA key")
				zones[m.Zone] = true
			default:
				Fail("machine " + m.SystemID + " has no pool mark")
			}
			Expect(intent.Labels).To(HaveKeyWithValue(controller.LabelTenantCluster, "tc"))
			if intent.Role == bootstrap.RoleInitControlPlane {
				inits++
			}
		}
		Expect(inits).To(Equal(1))
		Expect(zones).To(HaveLen(2), "the worker pool spreads over its two zones")

		Expect(tc.Status.Pools).To(ConsistOf(
			infrav1.PoolStatus{Name: infrav1.ControlPlanePoolName, Desired: 1, Ready: 1, Updated: 1},
			infrav1.PoolStatus{Name: "workers", Desired: 2, Ready: 2, Updated: 2},
		))
		Expect(tc.Status.Machines).To(HaveLen(3))
		for _, c := range []string{infrav1.ConditionReady, infrav1.TenantMachinesReady, infrav1.TenantControlPlaneReady} {
			Expect(meta.IsStatusConditionTrue(tc.Status.Conditions, c)).To(BeTrue(), c)
		}

		Expect(tc.Status.KubeconfigSecretRef).NotTo(BeNil())
		kc := &corev1.Secret{}
		Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: tc.Status.KubeconfigSecretRef.Name}, kc)).To(Succeed())
		Expect(metav1.IsControlledBy(kc, tc)).To(BeTrue())
		loaded, err := clientcmd.Load(kc.Data[bootstrap.KubeconfigSecretKey])
		Expect(err).NotTo(HaveOccurred())
		Expect(loaded.Clusters).To(HaveKeyWithValue("tc", HaveField("Server", "https://"+tenantVIP+":6443")))
		for _, p := range []bootstrap.SecretPurpose{bootstrap.PurposeCA, bootstrap.PurposeEtcd, bootstrap.PurposeFrontProxy, bootstrap.PurposeServiceAccount} {
			s := &corev1.Secret{}
			Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: bootstrap.SecretName("tc", p)}, s)).To(Succeed())
			Expect(metav1.IsControlledBy(s, tc)).To(BeTrue())
		}

		// No secret in status or events: not the token, not a key.
		token := &corev1.Secret{}
		Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "tc-bootstrap-token"}, token)).To(Succeed())
		secretValue := string(token.Data["token"])
		Expect(secretValue).NotTo(BeEmpty())
		_, tokenSecret, _ := strings.Cut(secretValue, ".")
		status, err := json.Marshal(tc.Status)
		Expect(err).NotTo(HaveOccurred())
		list := &eventsv1.EventList{}
		Expect(k8s.List(suiteCtx, list, ctrlclient.InNamespace(ns))).To(Succeed())
		events, err := json.Marshal(list)
		Expect(err).NotTo(HaveOccurred())
		for _, text := range []string{string(status), string(events)} {
			Expect(text).NotTo(ContainSubstring(tokenSecret))
			Expect(text).NotTo(ContainSubstring("PRIVATE KEY"))
		}
		for _, reason := range []string{"MachineAllocated", "MachineDeploying", "MachineDeployed"} {
			Eventually(func() []eventsv1.Event { return eventsOf(reason) }).ShouldNot(BeEmpty(), reason)
		}
	})

	It("deploys each machine in the reconcile that allocated it, with one annotation call per machine", func() {
		// Neither a poll nor the safety net comes within the test: only the
		// reconcile that allocates can deploy.
		setupWith(func(c *maassim.Config) { c.DeployTime = time.Hour }, func(o *operator.Options) {
			o.PollInterval, o.RequeueInterval = time.Hour, time.Hour
		})
		Eventually(func(g Gomega) {
			snap, ok := op.Inventory.Snapshot(ns + "/gw-default")
			g.Expect(ok).To(BeTrue())
			g.Expect(snap.PolledAt.IsZero()).To(BeFalse())
		}).Should(Succeed())
		sim.ResetCounts()
		// Every status written: a reconcile that stopped after allocating
		// would write machines in state Allocated.
		wc, err := ctrlclient.NewWithWatch(cfg, ctrlclient.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		w, err := wc.Watch(suiteCtx, &infrav1.TenantClusterList{}, ctrlclient.InNamespace(ns))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(w.Stop)
		var mu sync.Mutex
		var states []string
		go func() {
			defer GinkgoRecover()
			for ev := range w.ResultChan() {
				if tc, ok := ev.Object.(*infrav1.TenantCluster); ok {
					mu.Lock()
					for _, m := range tc.Status.Machines {
						states = append(states, m.State)
					}
					mu.Unlock()
				}
			}
		}()
		createCluster(func(tc *infrav1.TenantCluster) { tc.Spec.ControlPlane.Size = 3 })
		Eventually(func(g Gomega) {
			machines := ours()
			g.Expect(machines).To(HaveLen(5))
			for _, m := range machines {
				g.Expect(m.StatusName).To(Equal("Deploying"), m.SystemID)
			}
		}).Should(Succeed())
		counts := sim.Counts()
		post := func(endpoint, op string) int {
			return counts[maassim.RequestKey{Method: "POST", Endpoint: endpoint, Op: op}]
		}
		Expect(post("machines/", "allocate")).To(Equal(5))
		Expect(post("machines/{id}/", "set_workload_annotations")).To(Equal(5), "the init mark is written with the allocation's annotations")
		Expect(post("machines/{id}/", "deploy")).To(Equal(5))
		inits := 0
		for _, m := range ours() {
			if m.Annotations[maas.AnnotationInit] == "true" {
				inits++
			}
		}
		Expect(inits).To(Equal(1))
		seen := func() []string {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(states)
		}
		// The status write follows the deploy calls.
		Eventually(seen).Should(ContainElement("Deploying"))
		Expect(seen()).NotTo(ContainElement("Allocated"), "no reconcile left an allocated machine undeployed")

		// Deletion follows releases at the poll interval: back to test speed.
		stop()
		op, stop = startOperator(tenantOptions())
	})

	It("scales a worker pool up and down", func() {
		setup(nil)
		createCluster(nil)
		Eventually(cluster).Should(running(3))
		update(func(tc *infrav1.TenantCluster) { tc.Spec.Workers[0].Size = 4 })
		Eventually(cluster).Should(running(5))
		Expect(ours()).To(HaveLen(5))
		update(func(tc *infrav1.TenantCluster) { tc.Spec.Workers[0].Size = 1 })
		Eventually(cluster).Should(running(2))
		Eventually(ours).Should(HaveLen(2))
		// Events of one reason are folded into a series, so count is not asserted.
		Eventually(func() []eventsv1.Event { return eventsOf("MachineReleased") }).ShouldNot(BeEmpty())
	})

	for _, strategy := range []infrav1.RollingUpdateStrategy{infrav1.ExpandFirst, infrav1.ContractFirst} {
		It("replaces every machine on a Kubernetes version change, "+string(strategy), func() {
			setup(nil)
			createCluster(func(tc *infrav1.TenantCluster) { tc.Spec.Workers[0].RollingUpdate = strategy })
			Eventually(cluster).Should(running(3))
			w := watchPool(sim, controller.AgentName(gateway()), "tenants")
			update(func(tc *infrav1.TenantCluster) { tc.Spec.Profile.KubernetesVersion = "v1.34.3" })
			Eventually(func(g Gomega) {
				tc := cluster(g)
				g.Expect(tc.Status.ObservedGeneration).To(Equal(tc.Generation))
				g.Expect(tc).To(running(3))
			}).WithTimeout(60 * time.Second).Should(Succeed())
			after := ours()
			Expect(after).To(HaveLen(3))
			for _, m := range after {
				intent, err := bootstrap.Parse(m.UserData)
				Expect(err).NotTo(HaveOccurred())
				Expect(intent.KubernetesVersion).To(Equal("v1.34.3"))
			}
			minDeployed, maxOwned := w.stop()
			if strategy == infrav1.ExpandFirst {
				Expect(minDeployed).To(BeNumerically(">=", 2), "ExpandFirst never has fewer than size machines deployed")
				Expect(maxOwned).To(BeNumerically("<=", 3), "ExpandFirst never holds more than size+1 machines")
			} else {
				Expect(maxOwned).To(BeNumerically("<=", 2), "ContractFirst never holds more than size machines")
			}
		})
	}

	It("releases every machine on delete, and lets the object go", func() {
		setup(nil)
		createCluster(nil)
		Eventually(cluster).Should(running(3))
		ids := ours()
		deleteCluster()
		Eventually(gone).Should(MatchError(ContainSubstring("not found")))
		for _, m := range ids {
			now, _ := sim.Machine(m.SystemID)
			Expect(now.StatusName).To(Equal("Ready"), "machine %s", m.SystemID)
			Expect(now.Annotations).To(BeEmpty())
		}
		Expect(ours()).To(BeEmpty())
	})

	It("aborts a cluster still provisioning: machines still deploying are released too", func() {
		setup(func(c *maassim.Config) { c.DeployTime = 20 * time.Second })
		createCluster(nil)
		Eventually(func(g Gomega) {
			g.Expect(ours()).To(HaveLen(3))
			for _, m := range ours() {
				g.Expect(m.StatusName).To(Equal("Deploying"))
			}
		}).Should(Succeed())
		// MAAS shows the deployments before status does.
		Eventually(func(g Gomega) infrav1.TenantClusterPhase { return cluster(g).Status.Phase }).
			Should(Equal(infrav1.TenantPhaseProvisioning))
		ids := ours()
		deleteCluster()
		Eventually(gone).Should(MatchError(ContainSubstring("not found")))
		for _, m := range ids {
			now, _ := sim.Machine(m.SystemID)
			Expect(now.StatusName).To(Equal("Ready"), "machine %s", m.SystemID)
		}
	})

	stuckCluster := func() []string {
		GinkgoHelper()
		createCluster(func(tc *infrav1.TenantCluster) { tc.Spec.Workers = nil })
		Eventually(cluster).Should(running(1))
		var ids []string
		for _, m := range ours() {
			ids = append(ids, m.SystemID)
		}
		f := sim.Faults()
		f.StuckRelease = ids
		sim.SetFaults(f)
		return ids
	}

	It("releases again a machine whose release MAAS failed, and lets the cluster go", func() {
		setup(nil)
		ids := stuckCluster()
		f := sim.Faults()
		f.StuckReleaseFails = true
		sim.SetFaults(f)
		deleteCluster()
		Eventually(func() string { m, _ := sim.Machine(ids[0]); return m.StatusName }).Should(Equal("Releasing failed"))
		Eventually(func() []eventsv1.Event { return eventsOf("MachineReleaseRetried") }).ShouldNot(BeEmpty())
		Expect(cluster(Default).Status.Phase).To(Equal(infrav1.TenantPhaseDeleting))

		// MAAS recovers: the next retry completes, nothing is left behind.
		sim.SetFaults(maassim.Faults{})
		Eventually(gone).Should(MatchError(ContainSubstring("not found")))
		Eventually(func() string { m, _ := sim.Machine(ids[0]); return m.StatusName }).Should(Equal("Ready"))
	})

	It("stays Deleting while MAAS does not release, and is force-deleted on request after the delay", func() {
		setup(nil)
		ids := stuckCluster()
		deleteCluster()
		Eventually(cluster).Should(And(
			HaveField("Status.Phase", infrav1.TenantPhaseDeleting),
			HaveField("Status.ForceDeleteAllowedAt", Not(BeNil())),
			HaveField("Status.Machines", ConsistOf(HaveField("State", "Releasing"))),
		))
		// Past the delay, without the annotation, nothing is forced.
		Consistently(cluster).WithTimeout(3 * time.Second).Should(HaveField("Status.Phase", infrav1.TenantPhaseDeleting))
		update(func(tc *infrav1.TenantCluster) {
			tc.Annotations = map[string]string{infrav1.AnnotationForceDelete: "true"}
		})
		Eventually(gone).Should(MatchError(ContainSubstring("not found")))
		// Recorded after the finalizer went, and events are sent in the
		// background: the object may be gone first.
		var forced []eventsv1.Event
		Eventually(func() []eventsv1.Event { forced = eventsOf("ForceDeleted"); return forced }).Should(HaveLen(1))
		Expect(forced[0].Type).To(Equal(corev1.EventTypeWarning))
		Expect(forced[0].Note).To(ContainSubstring(ids[0]))
		m, _ := sim.Machine(ids[0])
		Expect(m.StatusName).To(Equal("Releasing"), "the machine is left to MAAS")
	})

	It("judges the real 14-minute delay by an injectable clock", func() {
		setup(nil)
		fake := clocktesting.NewFakePassiveClock(time.Now())
		opts := tenantOptions()
		opts.ForceDeleteAfter = controller.DefaultForceDeleteAfter
		opts.Clock = fake
		stop()
		_, stop = startOperator(opts)
		stuckCluster()
		deleteCluster()
		update(func(tc *infrav1.TenantCluster) {
			tc.Annotations = map[string]string{infrav1.AnnotationForceDelete: "true"}
		})
		Eventually(func() []eventsv1.Event { return eventsOf("ForceDeleteRefused") }).ShouldNot(BeEmpty())
		// The event may be written before the status that carries the time.
		Eventually(func(g Gomega) *metav1.Time { return cluster(g).Status.ForceDeleteAllowedAt }).ShouldNot(BeNil())
		allowedAt := cluster(Default).Status.ForceDeleteAllowedAt.Time
		Expect(allowedAt.Sub(cluster(Default).DeletionTimestamp.Time)).To(Equal(14 * time.Minute))
		Consistently(gone).Should(Succeed(), "force delete honoured before 14 minutes")

		fake.SetTime(allowedAt.Add(time.Second))
		// Nudge a reconcile, unless a requeue already honoured the annotation.
		Expect(ctrlclient.IgnoreNotFound(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			tc := &infrav1.TenantCluster{}
			if err := k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "tc"}, tc); err != nil {
				return err
			}
			tc.Annotations["example.com/nudge"] = "1"
			return k8s.Update(suiteCtx, tc)
		}))).To(Succeed())
		Eventually(gone).Should(MatchError(ContainSubstring("not found")))
		// Events are recorded asynchronously.
		Eventually(func() []eventsv1.Event { return eventsOf("ForceDeleted") }).Should(HaveLen(1))
	})

	It("refuses force delete before the delay, saying when it is allowed", func() {
		setup(nil)
		// Long enough that the refusal is seen on a loaded machine before
		// the delay runs out (deletionTimestamp has one-second precision).
		opts := tenantOptions()
		opts.ForceDeleteAfter = 8 * time.Second
		stop()
		_, stop = startOperator(opts)
		stuckCluster()
		deleteCluster()
		update(func(tc *infrav1.TenantCluster) {
			tc.Annotations = map[string]string{infrav1.AnnotationForceDelete: "true"}
		})
		var allowedAt time.Time
		Eventually(func(g Gomega) {
			tc := cluster(g)
			g.Expect(tc.Status.ForceDeleteAllowedAt).NotTo(BeNil())
			allowedAt = tc.Status.ForceDeleteAllowedAt.Time
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			refused := eventsOf("ForceDeleteRefused")
			g.Expect(refused).NotTo(BeEmpty())
			g.Expect(refused[0].Note).To(ContainSubstring(allowedAt.UTC().Format(time.RFC3339)))
		}).Should(Succeed())
		Eventually(gone).Should(MatchError(ContainSubstring("not found")))
		Expect(time.Now()).To(BeTemporally(">=", allowedAt), "the finalizer went only once force delete was allowed")
		// Events are recorded asynchronously.
		Eventually(func() []eventsv1.Event { return eventsOf("ForceDeleted") }).Should(HaveLen(1))
	})

	It("queues provisioning while the gateway upgrades, and provisions after", func() {
		setup(nil)
		setUpgrading(metav1.ConditionTrue)
		createCluster(nil)
		Eventually(func(g Gomega) {
			tc := cluster(g)
			g.Expect(tc.Status.Phase).To(Equal(infrav1.TenantPhaseQueued))
			c := meta.FindStatusCondition(tc.Status.Conditions, infrav1.TenantQueued)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal("GatewayUpgrading"))
			g.Expect(c.Message).To(ContainSubstring("resumes when the upgrade completes"))
		}).Should(Succeed())
		Consistently(ours).WithTimeout(time.Second).Should(BeEmpty())

		setUpgrading(metav1.ConditionFalse)
		Eventually(cluster).Should(running(3))
		Expect(meta.IsStatusConditionFalse(cluster(Default).Status.Conditions, infrav1.TenantQueued)).To(BeTrue())

		// A running cluster is not touched by the next upgrade.
		setUpgrading(metav1.ConditionTrue)
		Consistently(cluster).WithTimeout(time.Second).Should(running(3))
		setUpgrading(metav1.ConditionFalse)
	})

	It("puts back a finalizer removed by hand, and rebuilds a wiped status without touching a machine", func() {
		setup(nil)
		createCluster(nil)
		Eventually(cluster).Should(running(3))
		before := ours()
		sim.ResetCounts()
		writes := func() int {
			n := 0
			for k, c := range sim.Counts() {
				if k.Method == "POST" {
					n += c
				}
			}
			return n
		}

		update(func(tc *infrav1.TenantCluster) { tc.Finalizers = nil })
		Eventually(func(g Gomega) []string { return cluster(g).Finalizers }).Should(ContainElement(controller.TenantClusterFinalizer))

		// A restore from backup carries no status.
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			tc := cluster(Default)
			tc.Status = infrav1.TenantClusterStatus{}
			return k8s.Status().Update(suiteCtx, tc)
		})).To(Succeed())
		Eventually(cluster).Should(running(3))
		Expect(cluster(Default).Status.Machines).To(HaveLen(3))
		Expect(ours()).To(ConsistOf(before))
		Expect(writes()).To(BeZero(), "no machine allocated, deployed or released to rebuild the status")
	})

	It("rebuilds every wiped status after a restore from backup from the inventory alone, with no safety-net requeue", func() {
		// The safety net is out of reach: only the events the operator
		// relies on (its own watches, the inventory's news) may rebuild.
		setupWith(nil, func(o *operator.Options) { o.RequeueInterval = time.Hour })
		names := []string{"tc-a", "tc-b", "tc-c", "tc-d"}
		for i, name := range names {
			createCluster(func(tc *infrav1.TenantCluster) {
				tc.Name = name
				tc.Spec.ControlPlaneEndpoint = fmt.Sprintf("10.30.41.%d", 10+i)
				tc.Spec.Workers[0].Size = 1
			})
		}
		get := func(g Gomega, name string) *infrav1.TenantCluster {
			tc := &infrav1.TenantCluster{}
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, tc)).To(Succeed())
			return tc
		}
		machinesOf := map[string][]string{}
		for _, name := range names {
			Eventually(func(g Gomega) *infrav1.TenantCluster { return get(g, name) }).Should(running(2), "cluster %s", name)
			for _, m := range get(Default, name).Status.Machines {
				machinesOf[name] = append(machinesOf[name], m.SystemID)
			}
		}
		before := ours()
		sim.ResetCounts()

		// Whether a cluster that went Pending while its CloudAccount had no
		// status is rebuilt depends on how fast the cache sees that write;
		// a few restores in a row make losing that race likely.
		for round := 1; round <= 3; round++ {
			// A restore from backup carries no status on any object: wipe
			// the clusters', the Gateway's and the CloudAccount's, in the
			// order make chaos does.
			for _, name := range names {
				Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
					tc := get(Default, name)
					tc.Status = infrav1.TenantClusterStatus{}
					return k8s.Status().Update(suiteCtx, tc)
				})).To(Succeed())
			}
			Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
				gw := gateway()
				gw.Status = infrav1.GatewayStatus{}
				return k8s.Status().Update(suiteCtx, gw)
			})).To(Succeed())
			Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
				account := &infrav1.CloudAccount{}
				if err := k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "gw-default"}, account); err != nil {
					return err
				}
				account.Status = infrav1.CloudAccountStatus{}
				return k8s.Status().Update(suiteCtx, account)
			})).To(Succeed())

			for _, name := range names {
				Eventually(func(g Gomega) {
					tc := get(g, name)
					g.Expect(tc).To(running(2))
					g.Expect(tc.Status.ObservedGeneration).To(Equal(tc.Generation))
					ids := make([]string, 0, len(tc.Status.Machines))
					for _, m := range tc.Status.Machines {
						ids = append(ids, m.SystemID)
					}
					g.Expect(ids).To(ConsistOf(machinesOf[name]))
				}).Should(Succeed(), func() string {
					return fmt.Sprintf("restore %d: cluster %s is rebuilt from the inventory; its conditions: %+v",
						round, name, get(Default, name).Status.Conditions)
				})
			}
		}
		Expect(ours()).To(ConsistOf(before))
		for k, c := range sim.Counts() {
			Expect(k.Method).To(Equal("GET"), "%d × %s %s op=%s while rebuilding status", c, k.Method, k.Endpoint, k.Op)
		}

		for _, name := range names {
			Expect(k8s.Delete(suiteCtx, &infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())
		}
		for _, name := range names {
			Eventually(func() error {
				return k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, &infrav1.TenantCluster{})
			}).Should(MatchError(ContainSubstring("not found")))
		}
	})

	It("says which constraint MAAS could not satisfy", func() {
		setup(nil)
		createCluster(func(tc *infrav1.TenantCluster) { tc.Spec.Workers[0].MinCPU = 4000 })
		Eventually(func(g Gomega) string {
			c := meta.FindStatusCondition(cluster(g).Status.Conditions, infrav1.TenantMachinesReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal("NoCapacity"))
			return c.Message
		}).Should(ContainSubstring("cpu_count"))
		Expect(meta.FindStatusCondition(cluster(Default).Status.Conditions, infrav1.ConditionReady).Message).To(ContainSubstring("cpu_count"))
		Eventually(func() []eventsv1.Event { return eventsOf("NoCapacity") }).ShouldNot(BeEmpty())
		update(func(tc *infrav1.TenantCluster) { tc.Spec.Workers[0].MinCPU = 0 })
		Eventually(cluster).Should(running(3))
	})

	It("waits while MAAS has no free machine, and proceeds when capacity returns", func() {
		setup(nil)
		f := sim.Faults()
		f.ExhaustCapacity = true
		sim.SetFaults(f)
		createCluster(nil)
		Eventually(func(g Gomega) string {
			c := meta.FindStatusCondition(cluster(g).Status.Conditions, infrav1.TenantMachinesReady)
			g.Expect(c).NotTo(BeNil())
			return c.Reason
		}).Should(Equal("NoCapacity"))
		Expect(ours()).To(BeEmpty())

		f.ExhaustCapacity = false
		sim.SetFaults(f)
		Eventually(cluster).Should(running(3))
	})

	It("creates a renewed join token inside the running cluster before a machine joins with it", func() {
		setup(nil)
		tokens := &recordingTokens{}
		tokens.setFailure(errors.New("the cluster's API server does not answer"))
		opts := tenantOptions()
		opts.TenantTokenTTL = 44 * time.Minute // within the renewal margin: every later join gets a fresh token
		opts.TenantTokens = tokens
		stop()
		_, stop = startOperator(opts)
		// The first nodes join with the token the init node brings.
		createCluster(nil)
		Eventually(cluster).Should(running(3))
		before := map[string]bool{}
		for _, m := range ours() {
			before[m.SystemID] = true
		}

		update(func(tc *infrav1.TenantCluster) { tc.Spec.Workers[0].Size = 3 })
		newcomer := func() []maassim.Machine {
			var out []maassim.Machine
			for _, m := range ours() {
				if !before[m.SystemID] {
					out = append(out, m)
				}
			}
			return out
		}
		Eventually(tokens.attempts).Should(BeNumerically(">", 0))
		Consistently(func() []string {
			var states []string
			for _, m := range newcomer() {
				states = append(states, m.StatusName)
			}
			return states
		}).WithTimeout(2*time.Second).ShouldNot(ContainElement(BeElementOf("Deploying", "Deployed")),
			"no machine deploys with a token the cluster does not know")

		tokens.setFailure(nil)
		Eventually(cluster).Should(running(4))
		added := newcomer()
		Expect(added).To(HaveLen(1))
		Expect(tokens.values()).To(ContainElement(Satisfy(func(v string) bool {
			return strings.Contains(string(added[0].UserData), v)
		})), "the new worker joins with a token that is in the cluster")
		Eventually(func() []eventsv1.Event { return eventsOf("TokenPublished") }).ShouldNot(BeEmpty())
	})

	It("takes the proxy's credentials from a Secret: in the user data, in root-only files, nowhere in the cluster's object", func() {
		setup(nil)
		createCluster(func(tc *infrav1.TenantCluster) {
			tc.Spec.Workers = nil
			tc.Spec.Proxy = &infrav1.ProxySettings{HTTPProxy: "http://proxy.example.com:3128", HTTPSProxy: "http://proxy.example.com:3128",
				NoProxy: []string{"maas.example.com"}, CredentialsSecretRef: &infrav1.LocalObjectReference{Name: "proxy-creds"}}
		})
		// No Secret yet: nothing is allocated, and Ready says which Secret.
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(cluster(g).Status.Conditions, infrav1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(infrav1.ReasonInvalidConfiguration))
			g.Expect(c.Message).To(ContainSubstring("the proxy credentials Secret " + ns + "/proxy-creds does not exist"))
		}).Should(Succeed())
		Expect(ours()).To(BeEmpty())

		Expect(k8s.Create(suiteCtx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "proxy-creds"},
			StringData: map[string]string{"username": "alice", "password": "s3cr3t/pw"}})).To(Succeed())
		// A spec change brings the blocked cluster back.
		update(func(tc *infrav1.TenantCluster) { tc.Spec.Description = "proxied" })
		Eventually(cluster).Should(running(1))
		machines := ours()
		Expect(machines).To(HaveLen(1))
		userData := string(machines[0].UserData)
		Expect(userData).To(ContainSubstring("http://alice:s3cr3t%2Fpw@proxy.example.com:3128"))
		for _, path := range []string{"/etc/environment", "/etc/systemd/system/containerd.service.d/http-proxy.conf",
			"/etc/systemd/system/kubelet.service.d/http-proxy.conf"} {
			Expect(userData).To(MatchRegexp(`(?s)path: %s\n  permissions: "0600"`, regexp.QuoteMeta(path)), "%s is root-only", path)
		}
		obj, err := json.Marshal(cluster(Default))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(obj)).NotTo(ContainSubstring("s3cr3t"))
		events := &eventsv1.EventList{}
		Expect(k8s.List(suiteCtx, events, ctrlclient.InNamespace(ns))).To(Succeed())
		for _, e := range events.Items {
			Expect(e.Note).NotTo(ContainSubstring("s3cr3t"))
		}
	})

	It("shows what the cluster itself says: each machine's Node, the kubelets' versions, the etcd members", func() {
		// Real control planes: the simulator's machines live on loopback
		// addresses, where the emulator runs their etcd and API servers.
		const vip = "127.30.7.100"
		setupWith(func(c *maassim.Config) { c.Inventory = maassim.Loopback(c.Inventory) }, func(o *operator.Options) {
			o.TenantTokens = nil
			o.ObserveTenantClusters = true
		})
		emu := startControlPlanes(sim)
		createCluster(func(tc *infrav1.TenantCluster) { tc.Spec.ControlPlaneEndpoint = vip })

		// No CNI yet: every Node NotReady, as the kubelet says why, and so
		// the cluster is not Running though MAAS deployed every machine.
		Eventually(func(g Gomega) {
			tc := cluster(g)
			g.Expect(tc.Status.Machines).To(HaveEach(HaveField("State", "Deployed")))
			g.Expect(tc.Status.Phase).NotTo(Equal(infrav1.TenantPhaseRunning))
			g.Expect(tc.Status.ReadyMachines).To(BeZero())
			ws := tc.Status.Workload
			g.Expect(ws).NotTo(BeNil())
			g.Expect(ws.Reachable).To(BeTrue(), ws.Message)
			g.Expect(ws.Nodes).To(BeEquivalentTo(3))
			g.Expect(ws.ReadyNodes).To(BeZero())
			g.Expect(ws.KubernetesVersions).To(Equal([]string{tenantVersion}))
			g.Expect(ws.EtcdMembers).To(HaveValue(BeEquivalentTo(1)))
			g.Expect(ws.EtcdHealthy).To(HaveValue(BeEquivalentTo(1)))
			g.Expect(tc.Status.Machines).To(HaveLen(3))
			for _, m := range tc.Status.Machines {
				g.Expect(m.Node).NotTo(BeNil(), "machine %s has no Node in status", m.Hostname)
				g.Expect(m.Node.Name).To(Equal(strings.ToLower(m.Hostname)))
				g.Expect(m.Node.Ready).To(Equal(metav1.ConditionFalse))
				g.Expect(m.Node.Reason).To(Equal("KubeletNotReady"))
				g.Expect(m.Node.Message).To(ContainSubstring("cni plugin not initialized"))
			}
		}).WithTimeout(2 * time.Minute).Should(Succeed())

		// A CNI installed in the cluster: its Nodes turn Ready, and the
		// cluster cache's watch brings that into status.
		admin, err := emu.AdminConfig(vip + ":6443")
		Expect(err).NotTo(HaveOccurred())
		tenant, err := ctrlclient.New(admin, ctrlclient.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(tenant.Create(suiteCtx, controlplane.NetworkPlugin())).To(Succeed())
		Eventually(cluster).WithTimeout(time.Minute).Should(running(3))
		Eventually(func(g Gomega) {
			tc := cluster(g)
			g.Expect(tc.Status.Workload).NotTo(BeNil())
			g.Expect(tc.Status.Workload.ReadyNodes).To(BeEquivalentTo(3))
			for _, m := range tc.Status.Machines {
				g.Expect(m.Node).To(HaveField("Ready", metav1.ConditionTrue))
				g.Expect(m.Node.Message).To(BeEmpty())
			}
		}).WithTimeout(time.Minute).Should(Succeed())
	})

	// insideOptions run the operator as in production against real control
	// planes: it reaches tenants, drains and removes etcd members.
	insideOptions := func(o *operator.Options) {
		o.TenantTokens = nil
		o.ObserveTenantClusters = true
	}
	loopback := func(c *maassim.Config) { c.Inventory = maassim.Loopback(c.Inventory) }

	// upOnControlPlanes creates a cluster of size control-plane machines
	// (no workers) at vip on real control planes, installs the CNI so its
	// Nodes can go Ready, and waits until it is Running with size etcd
	// members. It returns a client to the tenant and its member lister.
	upOnControlPlanes := func(vip string, size int32, strategy infrav1.RollingUpdateStrategy) (ctrlclient.Client, func() ([]controlplane.Member, error)) {
		GinkgoHelper()
		setupWith(loopback, insideOptions)
		emu := startControlPlanes(sim)
		createCluster(func(tc *infrav1.TenantCluster) {
			tc.Spec.ControlPlaneEndpoint = vip
			tc.Spec.ControlPlane.Size = size
			tc.Spec.ControlPlane.RollingUpdate = strategy
			tc.Spec.Workers = nil
			tc.Spec.ControlPlane.AllowWorkloads = true
		})
		var admin *rest.Config
		Eventually(func() (err error) { admin, err = emu.AdminConfig(vip + ":6443"); return err }).
			WithTimeout(2*time.Minute).Should(Succeed(), "the init machine's control plane is up")
		tenant, err := ctrlclient.New(admin, ctrlclient.Options{})
		Expect(err).NotTo(HaveOccurred())
		// kube-system exists once kubeadm's init finished its objects.
		Eventually(func() error { return tenant.Create(suiteCtx, controlplane.NetworkPlugin()) }).WithTimeout(2 * time.Minute).Should(Succeed())
		Eventually(cluster).WithTimeout(time.Duration(size) * time.Minute).WithPolling(time.Second).Should(running(int(size)))
		members := func() ([]controlplane.Member, error) { return emu.EtcdMembers(suiteCtx, vip+":6443") }
		Eventually(members).WithTimeout(time.Minute).Should(HaveLen(int(size)))
		return tenant, members
	}
	// allReachableVoters checks etcd holds exactly n members, all voting
	// and answering.
	allReachableVoters := func(members func() ([]controlplane.Member, error), n int) func(Gomega) {
		return func(g Gomega) {
			final, err := members()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(final).To(HaveLen(n), "%+v", final)
			for _, m := range final {
				g.Expect(m.Reachable).To(BeTrue(), "member %s", m.Name)
				g.Expect(m.Learner).To(BeFalse(), "member %s", m.Name)
			}
		}
	}

	for i, strategy := range []infrav1.RollingUpdateStrategy{infrav1.ExpandFirst, infrav1.ContractFirst} {
		It("rolls a 3-control-plane cluster "+string(strategy)+" keeping etcd quorum at every moment, draining each replaced Node", func() {
			vip := fmt.Sprintf("127.30.8.%d", 100+i)
			tenant, members := upOnControlPlanes(vip, 3, strategy)

			// A pod on every control-plane Node: each must be evicted (and
			// finished by its kubelet) before its machine goes.
			for _, m := range cluster(Default).Status.Machines {
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "app-" + strings.ToLower(m.Hostname)},
					Spec: corev1.PodSpec{NodeName: strings.ToLower(m.Hostname), TerminationGracePeriodSeconds: ptr.To[int64](1),
						Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}},
				}
				Expect(tenant.Create(suiteCtx, pod)).To(Succeed())
			}

			stopWatch := watchQuorum(suiteCtx, members)
			oldTemplate := cluster(Default).Status.Machines[0].Template
			update(func(tc *infrav1.TenantCluster) { tc.Spec.Profile.OSImage = "ubuntu/noble" })
			Eventually(func(g Gomega) {
				tc := cluster(g)
				g.Expect(tc.Status.Phase).To(Equal(infrav1.TenantPhaseRunning))
				g.Expect(tc.Status.Machines).To(HaveLen(3))
				for _, m := range tc.Status.Machines {
					// MAAS may hand a released machine out again: the
					// template tells old from new.
					g.Expect(m.Template).NotTo(Equal(oldTemplate), "machine %s of the old template still there", m.Hostname)
				}
			}).WithTimeout(8 * time.Minute).WithPolling(time.Second).Should(Succeed())
			seen := stopWatch()

			Expect(seen.violations).To(BeEmpty(), "etcd lost quorum during the roll")
			// The replacements joined a running cluster: the operator put
			// the keys there for them.
			Expect(eventsOf(controller.ReasonCertificatesUploaded)).NotTo(BeEmpty())
			if strategy == infrav1.ExpandFirst {
				Expect(seen.most).To(BeNumerically("<=", 4), "expand-first adds one member at a time")
				Expect(seen.fewest).To(BeNumerically(">=", 3), "expand-first removes a member only after its replacement joined")
			} else {
				Expect(seen.most).To(BeNumerically("<=", 3), "contract-first removes a member before its replacement joins")
				Expect(seen.fewest).To(BeNumerically(">=", 2), "contract-first removes one member at a time")
			}
			Eventually(allReachableVoters(members, 3)).Should(Succeed())
			pods := &corev1.PodList{}
			Expect(tenant.List(suiteCtx, pods, ctrlclient.InNamespace("default"))).To(Succeed())
			Expect(pods.Items).To(BeEmpty(), "every replaced Node's pod was evicted and finished")
			nodes := &corev1.NodeList{}
			Expect(tenant.List(suiteCtx, nodes)).To(Succeed())
			Expect(nodes.Items).To(HaveLen(3), "the replaced Nodes were deleted")
			Expect(meta.IsStatusConditionTrue(cluster(Default).Status.Conditions, infrav1.TenantNodesDrained)).To(BeTrue())
		})
	}

	It("brings up 3 control planes whose joins download the cluster's keys from kubeadm-certs: no root key in their MAAS user data, the Secret gone once they joined", func() {
		tenant, members := upOnControlPlanes("127.30.8.120", 3, infrav1.ExpandFirst)
		Eventually(allReachableVoters(members, 3)).Should(Succeed())

		pki := &corev1.Secret{}
		Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: bootstrap.SecretName("tc", bootstrap.PurposeCA)}, pki)).To(Succeed())
		// A line of the CA key's PEM body: YAML indents the whole.
		pemLines := strings.Split(strings.TrimSpace(string(pki.Data[corev1.TLSPrivateKeyKey])), "\n")
		Expect(len(pemLines)).To(BeNumerically(">", 2))
		caKey := pemLines[1]
		roles := map[bootstrap.Role]int{}
		for _, m := range ours() {
			intent, err := bootstrap.Parse(m.UserData)
			Expect(err).NotTo(HaveOccurred())
			roles[intent.Role]++
			if intent.Role == bootstrap.RoleInitControlPlane {
				// The one machine that creates the cluster has the CA.
				Expect(string(m.UserData)).To(ContainSubstring(caKey))
				Expect(string(m.UserData)).To(ContainSubstring("--upload-certs"))
				continue
			}
			Expect(string(m.UserData)).NotTo(ContainSubstring("PRIVATE KEY"), "MAAS keeps the user data of joining machine %s", m.SystemID)
			Expect(string(m.UserData)).NotTo(ContainSubstring(caKey))
			Expect(string(m.UserData)).To(ContainSubstring("certificateKey: "))
		}
		Expect(roles).To(Equal(map[bootstrap.Role]int{bootstrap.RoleInitControlPlane: 1, bootstrap.RoleJoinControlPlane: 2}))

		// The round is over: the keys are no longer in the cluster for a
		// certificate key to open, and the key is forgotten.
		Eventually(func(g Gomega) {
			err := tenant.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: "kube-system", Name: bootstrap.KubeadmCertsSecretName}, &corev1.Secret{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "kubeadm-certs: %v", err)
			record := &corev1.Secret{}
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "tc-certificate-key"}, record)).To(Succeed())
			g.Expect(record.Data).To(BeEmpty(), "the key is forgotten")
		}).WithTimeout(time.Minute).Should(Succeed())
		Expect(eventsOf(controller.ReasonCertificateKeyRetired)).NotTo(BeEmpty())
	})

	It("shrinks a 5-control-plane cluster to 3 and then 1, one etcd member at a time, refusing 5 to 1 at admission", func() {
		tenant, members := upOnControlPlanes("127.30.8.110", 5, infrav1.ExpandFirst)

		// Two members at once would leave 3 of 5 members for a moment with
		// one of them on its way out: refused, with the reason.
		tc := cluster(Default)
		tc.Spec.ControlPlane.Size = 1
		Expect(k8s.Update(suiteCtx, tc)).To(MatchError(ContainSubstring("shrinks one step at a time")))

		stopWatch := watchQuorum(suiteCtx, members)
		for _, size := range []int{3, 1} {
			update(func(tc *infrav1.TenantCluster) { tc.Spec.ControlPlane.Size = int32(size) })
			Eventually(func(g Gomega) {
				tc := cluster(g)
				g.Expect(tc.Status.ObservedGeneration).To(Equal(tc.Generation))
				g.Expect(tc).To(running(size))
				g.Expect(tc.Status.Machines).To(HaveLen(size))
			}).WithTimeout(4 * time.Minute).WithPolling(time.Second).Should(Succeed())
			Eventually(allReachableVoters(members, size)).Should(Succeed())
			nodes := &corev1.NodeList{}
			Expect(tenant.List(suiteCtx, nodes)).To(Succeed())
			Expect(nodes.Items).To(HaveLen(size), "the removed machines' Nodes were deleted")
		}
		seen := stopWatch()
		// A sample can take long while a member goes (a dial to it waits
		// out its timeout), so the watch may not see every count on the
		// way down: what it saw held quorum, and the end is checked above.
		Expect(seen.violations).To(BeEmpty(), "etcd lost quorum while shrinking")
		Expect(seen.most).To(Equal(5))
		Expect(ours()).To(HaveLen(1), "every removed machine was released")
	})

	It("builds a cluster from a ClusterProfile created after it: the cni pack makes its Nodes Ready, overrides and profile edits reach it, a broken pack fails without blocking deletion", func() {
		const vip = "127.30.11.100"
		charts := packstest.NewRepository(GinkgoT(), packChart("cni"), packChart("addon"), packChart("addon-0.2.0"), packChart("broken"))
		setupWith(loopback, insideOptions)
		emu := startControlPlanes(sim)

		// The cluster first, its profile later (kubectl apply -f dir/):
		// it waits, and takes no machine.
		createCluster(func(tc *infrav1.TenantCluster) {
			tc.Spec.ControlPlaneEndpoint = vip
			tc.Spec.Workers[0].Size = 1
			tc.Spec.Profile, tc.Spec.ProfileRef = nil, &infrav1.LocalObjectReference{Name: "base"}
			tc.Spec.PackOverrides = []infrav1.PackOverride{{Name: "addon", Values: "settings:\n  colour: green\n"}}
			tc.Spec.Description, tc.Spec.Tags = "payments, production", []string{"env:prod", "gpu"}
		})
		Eventually(func(g Gomega) {
			tc := cluster(g)
			c := meta.FindStatusCondition(tc.Status.Conditions, infrav1.TenantProfileResolved)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(infrav1.ReasonProfileNotFound))
			g.Expect(tc.Status.Phase).To(Equal(infrav1.TenantPhasePending))
		}).Should(Succeed())
		Consistently(ours).WithTimeout(2 * time.Second).Should(BeEmpty())

		chart := func(name, version string) *infrav1.ChartSource {
			return &infrav1.ChartSource{Repository: charts.URL(), Name: name, Version: version}
		}
		profile := &infrav1.ClusterProfile{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "base"},
			Spec: infrav1.ClusterProfileSpec{KubernetesVersion: tenantVersion, Packs: []infrav1.Pack{
				// Listed after the add-on: installed before it all the same.
				{Name: "addon", Layer: infrav1.PackLayerAddon, Namespace: "addons", Chart: chart("addon", "0.1.0"),
					Values: "greeting: from-profile\nsettings:\n  size: large\n"},
				{Name: "cni", Layer: infrav1.PackLayerCNI, Namespace: "kube-system", Chart: chart("cni", "1.0.0")},
			}},
		}
		Expect(k8s.Create(suiteCtx, profile)).To(Succeed())

		// No NetworkPlugin applied by hand: the cni pack alone makes the
		// Nodes Ready, and only then is the cluster Running.
		Eventually(func(g Gomega) {
			tc := cluster(g)
			g.Expect(tc).To(running(2))
			g.Expect(meta.IsStatusConditionTrue(tc.Status.Conditions, infrav1.TenantPacksReady)).To(BeTrue())
			g.Expect(tc.Status.Packs).To(HaveExactElements(
				And(HaveField("Name", "cni"), HaveField("State", infrav1.PackInstalled), HaveField("Chart", "cni"), HaveField("Version", "1.0.0"), HaveField("Revision", BeEquivalentTo(1))),
				And(HaveField("Name", "addon"), HaveField("State", infrav1.PackInstalled), HaveField("Version", "0.1.0"), HaveField("Revision", BeEquivalentTo(1))),
			))
			g.Expect(tc.Status.Profile).To(Equal(&infrav1.AppliedProfile{Name: "base", Revision: 1, KubernetesVersion: tenantVersion}))
		}).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
		admin, err := emu.AdminConfig(vip + ":6443")
		Expect(err).NotTo(HaveOccurred())
		tenant, err := ctrlclient.New(admin, ctrlclient.Options{})
		Expect(err).NotTo(HaveOccurred())

		// helm list, read as Helm stores it: one release Secret per revision.
		releases := func(g Gomega, namespace string) []string {
			list := &corev1.SecretList{}
			g.Expect(tenant.List(suiteCtx, list, ctrlclient.InNamespace(namespace), ctrlclient.MatchingLabels{"owner": "helm"})).To(Succeed())
			var names []string
			for _, s := range list.Items {
				names = append(names, s.Name+"="+s.Labels["status"])
			}
			return names
		}
		// The cluster's tags on its Nodes, and with its description on its machines in MAAS.
		nodes := &corev1.NodeList{}
		Expect(tenant.List(suiteCtx, nodes)).To(Succeed())
		Expect(nodes.Items).To(HaveEach(HaveField("Labels", And(
			HaveKeyWithValue(controller.TagLabelPrefix+"env", "prod"), HaveKeyWithValue(controller.TagLabelPrefix+"gpu", "")))))
		Expect(ours()).To(HaveEach(HaveField("Annotations", And(
			HaveKeyWithValue(maas.AnnotationDescription, "payments, production"), HaveKeyWithValue(maas.AnnotationTags, "env:prod,gpu")))))

		Expect(releases(Default, "kube-system")).To(ConsistOf("sh.helm.release.v1.cni.v1=deployed"))
		Expect(releases(Default, "addons")).To(ConsistOf("sh.helm.release.v1.addon.v1=deployed"))
		addonData := func(g Gomega) map[string]string {
			cm := &corev1.ConfigMap{}
			g.Expect(tenant.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: "addons", Name: "addon"}, cm)).To(Succeed())
			return cm.Data
		}
		// Chart defaults, the profile's values, the cluster's override: key by key.
		Expect(addonData(Default)).To(And(HaveKeyWithValue("greeting", "from-profile"), HaveKeyWithValue("size", "large"),
			HaveKeyWithValue("colour", "green"), HaveKeyWithValue("chartVersion", "0.1.0")))

		// A new chart version in the profile: revision 2 of that release.
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			g := &infrav1.ClusterProfile{}
			if err := k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(profile), g); err != nil {
				return err
			}
			g.Spec.Packs[0].Chart.Version = "0.2.0"
			return k8s.Update(suiteCtx, g)
		})).To(Succeed())
		Eventually(func(g Gomega) {
			tc := cluster(g)
			g.Expect(tc.Status.Packs).To(ContainElement(And(HaveField("Name", "addon"), HaveField("Version", "0.2.0"), HaveField("Revision", BeEquivalentTo(2)))))
			g.Expect(tc.Status.Profile).To(HaveField("Revision", BeEquivalentTo(2)))
			g.Expect(addonData(g)).To(HaveKeyWithValue("chartVersion", "0.2.0"))
		}).WithTimeout(time.Minute).Should(Succeed())

		// The add-on leaves the profile and a broken pack comes in: the
		// add-on is uninstalled, the broken one fails with Helm's words.
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			g := &infrav1.ClusterProfile{}
			if err := k8s.Get(suiteCtx, ctrlclient.ObjectKeyFromObject(profile), g); err != nil {
				return err
			}
			g.Spec.Packs = []infrav1.Pack{g.Spec.Packs[1], {Name: "broken", Layer: infrav1.PackLayerAddon, Namespace: "addons", Chart: chart("broken", "0.1.0")}}
			return k8s.Update(suiteCtx, g)
		})).To(Succeed())
		Eventually(func(g Gomega) {
			tc := cluster(g)
			g.Expect(tc.Status.Packs).To(HaveExactElements(HaveField("Name", "cni"),
				And(HaveField("Name", "broken"), HaveField("State", infrav1.PackFailed), HaveField("Message", ContainSubstring("the broken chart refuses to render")))))
			c := meta.FindStatusCondition(tc.Status.Conditions, infrav1.TenantPacksReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(infrav1.ReasonPackFailed))
			g.Expect(tc.Status.Phase).NotTo(Equal(infrav1.TenantPhaseRunning))
			g.Expect(releases(g, "addons")).To(BeEmpty())
			g.Expect(tenant.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: "addons", Name: "addon"}, &corev1.ConfigMap{})).
				To(MatchError(ContainSubstring("not found")))
		}).WithTimeout(time.Minute).Should(Succeed())
		Expect(eventsOf("PackFailed")).NotTo(BeEmpty())

		// A failed pack does not hold up deletion.
		deleteCluster()
		Eventually(gone).WithTimeout(2 * time.Minute).Should(MatchError(ContainSubstring("not found")))
		Expect(ours()).To(BeEmpty())
	})

	It("keeps a worker whose pods a PodDisruptionBudget holds, past its drain timeout, naming the budget", func() {
		const vip = "127.30.9.100"
		setupWith(loopback, insideOptions)
		// The disruption controller keeps the budget's status, which the
		// eviction API checks.
		emu := startControlPlanes(sim, func(o *controlplane.Options) { o.ControllerManager = true })
		createCluster(func(tc *infrav1.TenantCluster) {
			tc.Spec.ControlPlaneEndpoint = vip
			tc.Spec.Workers[0].DrainTimeout = &metav1.Duration{Duration: 2 * time.Second}
		})
		var admin *rest.Config
		Eventually(func() (err error) { admin, err = emu.AdminConfig(vip + ":6443"); return err }).
			WithTimeout(2*time.Minute).Should(Succeed(), "the init machine's control plane is up")
		tenant, err := ctrlclient.New(admin, ctrlclient.Options{})
		Expect(err).NotTo(HaveOccurred())
		// kube-system exists once kubeadm's init finished its objects.
		Eventually(func() error { return tenant.Create(suiteCtx, controlplane.NetworkPlugin()) }).WithTimeout(2 * time.Minute).Should(Succeed())
		Eventually(cluster).WithTimeout(3 * time.Minute).Should(running(3))
		// One pod per worker, and a budget that allows no disruption.
		for _, m := range cluster(Default).Status.Machines {
			if m.Pool != "workers" {
				continue
			}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db-" + strings.ToLower(m.Hostname), Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{NodeName: strings.ToLower(m.Hostname),
					Containers: []corev1.Container{{Name: "db", Image: "registry.invalid/db:1"}}},
			}
			Expect(tenant.Create(suiteCtx, pod)).To(Succeed())
		}
		pdb := &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db"},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: new(intstr.FromInt32(2)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
		}
		Expect(tenant.Create(suiteCtx, pdb)).To(Succeed())
		Eventually(func(g Gomega) {
			pods := &corev1.PodList{}
			g.Expect(tenant.List(suiteCtx, pods, ctrlclient.InNamespace("default"))).To(Succeed())
			g.Expect(pods.Items).To(HaveEach(HaveField("Status.Phase", corev1.PodRunning)))
		}).Should(Succeed())
		before := len(ours())

		update(func(tc *infrav1.TenantCluster) { tc.Spec.Workers[0].Size = 1 })
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(cluster(g).Status.Conditions, infrav1.TenantNodesDrained)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(infrav1.ReasonDrainTimedOut))
			g.Expect(c.Message).To(ContainSubstring("PodDisruptionBudget default/db keeps pod default/db-"))
		}).WithTimeout(time.Minute).Should(Succeed())
		Consistently(func() int { return len(ours()) }).WithTimeout(2*time.Second).Should(Equal(before),
			"nothing released while the budget holds")

		// The budget goes: the worker drains, leaves and is released.
		Expect(tenant.Delete(suiteCtx, pdb)).To(Succeed())
		Eventually(cluster).WithTimeout(2 * time.Minute).Should(running(2))
		Eventually(func() int { return len(ours()) }).Should(Equal(before - 1))
		Eventually(func(g Gomega) {
			g.Expect(meta.IsStatusConditionTrue(cluster(g).Status.Conditions, infrav1.TenantNodesDrained)).To(BeTrue())
		}).Should(Succeed())
	})

	It("replaces a machine whose Node never appears within the join timeout, counted from MAAS Deployed", func() {
		const vip = "127.30.10.100"
		setupWith(loopback, func(o *operator.Options) {
			insideOptions(o)
			// Long enough for a healthy join on a loaded machine (a 5 s
			// timeout once replaced a worker that was still joining).
			o.TenantJoinTimeout = 20 * time.Second
		})
		emu := startControlPlanes(sim)
		// The first worker to deploy fails its kubeadm join (once: MAAS may
		// hand the same machine out again later, and then it joins).
		var failed atomic.Pointer[string]
		unsubscribe := sim.Subscribe(func(e maassim.Event) {
			if e.Type == maassim.EventDeploying && e.Machine.Pool == "tenants" {
				id := e.Machine.SystemID
				if failed.CompareAndSwap(nil, &id) {
					emu.FailNextJoin(id)
				}
			}
		})
		DeferCleanup(unsubscribe)
		createCluster(func(tc *infrav1.TenantCluster) { tc.Spec.ControlPlaneEndpoint = vip })
		var admin *rest.Config
		Eventually(func() (err error) { admin, err = emu.AdminConfig(vip + ":6443"); return err }).
			WithTimeout(2 * time.Minute).Should(Succeed())
		tenant, err := ctrlclient.New(admin, ctrlclient.Options{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() error { return tenant.Create(suiteCtx, controlplane.NetworkPlugin()) }).WithTimeout(2 * time.Minute).Should(Succeed())
		Eventually(failed.Load).ShouldNot(BeNil())
		bad := *failed.Load()

		// Deployed in MAAS, no Node: not Running, and status says which.
		Eventually(func(g Gomega) {
			tc := cluster(g)
			g.Expect(tc.Status.Phase).NotTo(Equal(infrav1.TenantPhaseRunning))
			var m *infrav1.MachineStatus
			for i := range tc.Status.Machines {
				if tc.Status.Machines[i].SystemID == bad {
					m = &tc.Status.Machines[i]
				}
			}
			g.Expect(m).NotTo(BeNil())
			g.Expect(m.State).To(Equal("Deployed"))
			g.Expect(m.Node).To(BeNil(), "no Node for the machine whose join failed")
		}).WithTimeout(2 * time.Minute).Should(Succeed())

		// Past the join timeout it is released and replaced; the
		// replacement joins and the cluster runs.
		Eventually(func() []string {
			var out []string
			for _, e := range eventsOf("NodeNeverJoined") {
				out = append(out, e.Note)
			}
			return out
		}).WithTimeout(2 * time.Minute).Should(ContainElement(And(ContainSubstring(bad), ContainSubstring("did not appear"))))
		Eventually(cluster).WithTimeout(3 * time.Minute).Should(running(3))
		Eventually(func(g Gomega) {
			for _, m := range cluster(g).Status.Machines {
				g.Expect(m.Node).To(HaveField("Ready", metav1.ConditionTrue), "machine %s", m.Hostname)
			}
		}).Should(Succeed())
	})

	It("replaces a machine whose Node stops being Ready past the health timeout, and holds when too many are sick", func() {
		const vip = "127.30.11.100"
		setupWith(loopback, insideOptions)
		// The node lifecycle controller's stand-in marks a silent kubelet's
		// Node Unknown after 3 s, as kube-controller-manager would after 40.
		emu := startControlPlanes(sim, func(o *controlplane.Options) { o.NodeMonitorGracePeriod = 3 * time.Second })
		createCluster(func(tc *infrav1.TenantCluster) {
			tc.Spec.ControlPlaneEndpoint = vip
			// 40% of 3 machines: one may be replaced at a time.
			tc.Spec.HealthCheck = &infrav1.HealthCheck{UnhealthyTimeout: &metav1.Duration{Duration: 2 * time.Second}}
		})
		var admin *rest.Config
		Eventually(func() (err error) { admin, err = emu.AdminConfig(vip + ":6443"); return err }).
			WithTimeout(2 * time.Minute).Should(Succeed())
		tenant, err := ctrlclient.New(admin, ctrlclient.Options{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() error { return tenant.Create(suiteCtx, controlplane.NetworkPlugin()) }).WithTimeout(2 * time.Minute).Should(Succeed())
		Eventually(cluster).WithTimeout(3 * time.Minute).Should(running(3))
		Eventually(func(g Gomega) {
			g.Expect(meta.IsStatusConditionTrue(cluster(g).Status.Conditions, infrav1.TenantNodesHealthy)).To(BeTrue())
		}).Should(Succeed())
		workers := func(g Gomega) []string {
			var out []string
			for _, m := range cluster(g).Status.Machines {
				if m.Pool == "workers" {
					out = append(out, m.SystemID)
				}
			}
			return out
		}

		// One kubelet dies: its Node goes Unknown, and past the timeout its
		// machine is released and replaced.
		sick := workers(Default)[0]
		Expect(emu.KillKubelet(sick)).To(Succeed())
		Eventually(func() []string {
			var out []string
			for _, e := range eventsOf("NodeUnhealthy") {
				out = append(out, e.Note)
			}
			return out
		}).WithTimeout(time.Minute).Should(ContainElement(ContainSubstring(sick)))
		Eventually(func(g Gomega) {
			g.Expect(workers(g)).NotTo(ContainElement(sick))
			g.Expect(cluster(g)).To(running(3))
		}).WithTimeout(3 * time.Minute).Should(Succeed())

		// Both workers' kubelets die: 2 unhealthy of 3 is more than 40%,
		// so nothing is replaced and the condition says why. Their Nodes
		// go Unknown up to a lease renewal apart, so the timeout is long
		// until both have been not Ready for longer than the short one:
		// otherwise the first alone could pass it and be replaced.
		update(func(tc *infrav1.TenantCluster) { tc.Spec.HealthCheck.UnhealthyTimeout.Duration = time.Hour })
		both := workers(Default)
		Expect(both).To(HaveLen(2))
		var names []string
		for _, m := range cluster(Default).Status.Machines {
			if m.Pool == "workers" {
				Expect(m.Node).NotTo(BeNil())
				names = append(names, m.Node.Name)
			}
		}
		for _, id := range both {
			Expect(emu.KillKubelet(id)).To(Succeed())
		}
		Eventually(func(g Gomega) {
			for _, name := range names {
				n := &corev1.Node{}
				g.Expect(tenant.Get(suiteCtx, ctrlclient.ObjectKey{Name: name}, n)).To(Succeed())
				var ready *corev1.NodeCondition
				for i := range n.Status.Conditions {
					if n.Status.Conditions[i].Type == corev1.NodeReady {
						ready = &n.Status.Conditions[i]
					}
				}
				g.Expect(ready).NotTo(BeNil())
				g.Expect(ready.Status).NotTo(Equal(corev1.ConditionTrue), "Node %s", name)
				g.Expect(time.Since(ready.LastTransitionTime.Time)).To(BeNumerically(">", 3*time.Second), "Node %s", name)
			}
		}).WithTimeout(time.Minute).Should(Succeed())
		update(func(tc *infrav1.TenantCluster) { tc.Spec.HealthCheck.UnhealthyTimeout.Duration = 2 * time.Second })
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(cluster(g).Status.Conditions, infrav1.TenantNodesHealthy)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(infrav1.ReasonRemediationHeld))
			g.Expect(c.Message).To(And(ContainSubstring(both[0]), ContainSubstring(both[1])))
		}).WithTimeout(time.Minute).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(workers(g)).To(ConsistOf(both))
			for _, m := range cluster(g).Status.Machines {
				g.Expect(m.State).To(Equal("Deployed"), "machine %s", m.SystemID)
			}
		}).WithTimeout(5 * time.Second).Should(Succeed())
	})

	It("removes an etcd member no machine accounts for, after a grace period", func() {
		const vip = "127.30.12.100"
		setupWith(loopback, func(o *operator.Options) {
			insideOptions(o)
			o.TenantOrphanMemberGrace = 2 * time.Second
			o.TenantWorkloadCheckInterval = time.Second
		})
		emu := startControlPlanes(sim)
		createCluster(func(tc *infrav1.TenantCluster) {
			tc.Spec.ControlPlaneEndpoint = vip
			tc.Spec.Workers = nil
			tc.Spec.ControlPlane.AllowWorkloads = true
		})
		var admin *rest.Config
		Eventually(func() (err error) { admin, err = emu.AdminConfig(vip + ":6443"); return err }).
			WithTimeout(2 * time.Minute).Should(Succeed())
		tenant, err := ctrlclient.New(admin, ctrlclient.Options{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() error { return tenant.Create(suiteCtx, controlplane.NetworkPlugin()) }).WithTimeout(2 * time.Minute).Should(Succeed())
		Eventually(cluster).WithTimeout(3 * time.Minute).Should(running(1))

		// A join that died after adding its member leaves a learner that
		// no machine runs; etcd admits one learner at a time, so it would
		// block every later control-plane join.
		stray, err := emu.AddStrayLearner(suiteCtx, vip+":6443", "https://127.30.12.250:2380")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func(g Gomega) {
			members, err := emu.EtcdMembers(suiteCtx, vip+":6443")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(members).To(HaveLen(1))
			g.Expect(members[0].ID).NotTo(Equal(stray))
		}).WithTimeout(time.Minute).Should(Succeed())
		Expect(eventsOf("EtcdMemberRemoved")).To(ContainElement(HaveField("Note", ContainSubstring("127.30.12.250"))))
		// Running again once a look inside finds every member healthy (the
		// look that removed the stray one still counted it).
		Eventually(cluster).WithTimeout(30 * time.Second).Should(running(1))
	})

	It("never acts elsewhere through a kubeconfig Secret a namespace user rewrote (confused deputy)", func() {
		// The real publisher: the manager reaches a tenant only at the VIP
		// of its spec, with a certificate it signs from the cluster's CA.
		// Nothing listens at this loopback VIP.
		const vip = "127.30.0.77"
		setupWith(nil, func(o *operator.Options) {
			o.TenantTokens = nil
			o.TenantTokenTTL = 44 * time.Minute // every later join needs a renewed token in the cluster
		})
		createCluster(func(tc *infrav1.TenantCluster) { tc.Spec.ControlPlaneEndpoint = vip })
		Eventually(cluster).Should(running(3))
		before := map[string]bool{}
		for _, m := range ours() {
			before[m.SystemID] = true
		}

		// A user of the namespace points the kubeconfig at the gateway's
		// own API server, with the manager's ServiceAccount token file and
		// even an administrator's client certificate.
		attack := clientcmdapi.NewConfig()
		attack.Clusters["c"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
		attack.AuthInfos["u"] = &clientcmdapi.AuthInfo{
			TokenFile:             "/var/run/secrets/kubernetes.io/serviceaccount/token",
			ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData,
		}
		attack.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
		attack.CurrentContext = "x"
		raw, err := clientcmd.Write(*attack)
		Expect(err).NotTo(HaveOccurred())
		kc := &corev1.Secret{}
		Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "tc-kubeconfig"}, kc)).To(Succeed())
		kc.Data[bootstrap.KubeconfigSecretKey] = raw
		Expect(k8s.Update(suiteCtx, kc)).To(Succeed())

		// A new worker needs a renewed token inside the cluster: the manager
		// tries the VIP, which does not answer, and nothing else.
		update(func(tc *infrav1.TenantCluster) { tc.Spec.Workers[0].Size = 3 })
		tokenPending := func(g Gomega) string {
			s := &corev1.Secret{}
			g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: "tc-bootstrap-token"}, s)).To(Succeed())
			return string(s.Data["pending"])
		}
		Eventually(tokenPending).Should(Equal("true"), "a renewed token waits to be created in the cluster")
		gatewayTokens := func(g Gomega) []string {
			list := &corev1.SecretList{}
			g.Expect(k8s.List(suiteCtx, list, ctrlclient.InNamespace("kube-system"))).To(Succeed())
			var names []string
			for _, s := range list.Items {
				if s.Type == corev1.SecretTypeBootstrapToken {
					names = append(names, s.Name)
				}
			}
			return names
		}
		Consistently(gatewayTokens).WithTimeout(3*time.Second).Should(BeEmpty(),
			"no bootstrap token created in the gateway cluster through the rewritten kubeconfig")
		Expect(tokenPending(Default)).To(Equal("true"))
		for _, m := range ours() {
			if !before[m.SystemID] {
				Expect(m.StatusName).NotTo(BeElementOf("Deploying", "Deployed"),
					"no machine deploys with a token the cluster does not know")
			}
		}
		Expect(eventsOf("TokenPublished")).To(BeEmpty())
	})

	It("renews the admin kubeconfig a third of its validity before expiry, says until when it is valid, and rewrites one it did not sign", func() {
		// Short enough to renew within the test, long enough for the cluster
		// to come up on a busy machine before its kubeconfig is due.
		const validity = 30 * time.Second
		setupWith(nil, func(o *operator.Options) { o.TenantKubeconfigValidity = validity })
		createCluster(nil)
		Eventually(cluster).Should(running(3))

		caSecret := &corev1.Secret{}
		Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: bootstrap.SecretName("tc", bootstrap.PurposeCA)}, caSecret)).To(Succeed())
		cas, err := certutil.ParseCertsPEM(caSecret.Data[corev1.TLSCertKey])
		Expect(err).NotTo(HaveOccurred())
		ca := cas[0]
		secretKey := ctrlclient.ObjectKey{Namespace: ns, Name: "tc-kubeconfig"}
		// The client certificate in the Secret, checked independently of the
		// operator's own verification: the cluster CA signed it, for the VIP.
		inSecret := func(g Gomega) *x509.Certificate {
			s := &corev1.Secret{}
			g.Expect(k8s.Get(suiteCtx, secretKey, s)).To(Succeed())
			kc, err := clientcmd.Load(s.Data[bootstrap.KubeconfigSecretKey])
			g.Expect(err).NotTo(HaveOccurred())
			current := kc.Contexts[kc.CurrentContext]
			g.Expect(current).NotTo(BeNil())
			g.Expect(kc.Clusters[current.Cluster]).To(HaveField("Server", "https://"+tenantVIP+":6443"))
			crts, err := certutil.ParseCertsPEM(kc.AuthInfos[current.AuthInfo].ClientCertificateData)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(crts[0].CheckSignatureFrom(ca)).To(Succeed())
			return crts[0]
		}
		// Status says until when what is in the Secret is valid.
		statusMatches := func(g Gomega) time.Time {
			crt := inSecret(g)
			g.Expect(cluster(g).Status.KubeconfigExpiresAt).To(HaveField("Time", BeTemporally("==", crt.NotAfter)))
			return crt.NotAfter
		}
		var first time.Time
		Eventually(func(g Gomega) { first = statusMatches(g) }).Should(Succeed())
		Expect(time.Until(first)).To(BeNumerically("<=", validity), "signed for the configured validity, not a year")

		By("renewing it once a third of its validity is left, before it expires")
		var renewed *x509.Certificate
		Eventually(func(g Gomega) {
			renewed = inSecret(g)
			g.Expect(renewed.NotAfter).To(BeTemporally(">", first))
		}).WithTimeout(2 * validity).Should(Succeed())
		// Certificates are backdated 5 minutes for clock skew, to the second.
		// That it is renewed by the requeue at that point, not later, is
		// TestRenewalRequeue's: here a loaded machine may delay a reconcile.
		signedAt := renewed.NotBefore.Add(5 * time.Minute)
		Expect(signedAt).To(BeTemporally(">=", first.Add(-validity/3)), "not renewed before a third of its validity was left")
		Eventually(func(g Gomega) {
			g.Expect(statusMatches(g)).To(BeTemporally(">", first))
		}).Should(Succeed())
		Eventually(func() []eventsv1.Event { return eventsOf(controller.ReasonKubeconfigRenewed) }).ShouldNot(BeEmpty())
		Expect(eventsOf(controller.ReasonKubeconfigRewritten)).To(BeEmpty(), "its own kubeconfig is renewed, not rewritten")

		By("rewriting a Secret overwritten with garbage, with no outside nudge")
		const garbage = "apiVersion: v1\nkind: Config\nusers: not-a-list\n"
		Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			s := &corev1.Secret{}
			if err := k8s.Get(suiteCtx, secretKey, s); err != nil {
				return err
			}
			s.Data[bootstrap.KubeconfigSecretKey] = []byte(garbage)
			return k8s.Update(suiteCtx, s)
		})).To(Succeed())
		Eventually(func() []eventsv1.Event { return eventsOf(controller.ReasonKubeconfigRewritten) }).
			WithTimeout(2 * validity).ShouldNot(BeEmpty())
		Eventually(func(g Gomega) {
			s := &corev1.Secret{}
			g.Expect(k8s.Get(suiteCtx, secretKey, s)).To(Succeed())
			g.Expect(string(s.Data[bootstrap.KubeconfigSecretKey])).NotTo(Equal(garbage))
			statusMatches(g)
		}).Should(Succeed())
		for _, reason := range []string{controller.ReasonKubeconfigRenewed, controller.ReasonKubeconfigRewritten} {
			for _, e := range eventsOf(reason) {
				Expect(e.Note).NotTo(Or(ContainSubstring("PRIVATE KEY"), ContainSubstring("CERTIFICATE"), ContainSubstring("not-a-list")))
			}
		}
	})

	It("converges when restarted at several points while provisioning several clusters", func() {
		setup(func(c *maassim.Config) { c.DeployTime = time.Second; c.DeployJitter = 500 * time.Millisecond })
		names := []string{"tc-a", "tc-b", "tc-c"}
		for i, name := range names {
			createCluster(func(tc *infrav1.TenantCluster) {
				tc.Name = name
				tc.Spec.ControlPlaneEndpoint = fmt.Sprintf("10.30.40.%d", 10+i)
				tc.Spec.Workers[0].Size = 1
			})
		}
		inState := func(state string) func() bool {
			return func() bool {
				return slices.ContainsFunc(ours(), func(m maassim.Machine) bool { return m.StatusName == state })
			}
		}
		// Crash while machines are being allocated, while they deploy, and
		// once some are deployed and others not.
		for _, moment := range []func() bool{
			func() bool { return len(ours()) > 0 }, inState("Deploying"), inState("Deployed"),
		} {
			Eventually(moment).Should(BeTrue())
			stop()
			_, stop = startOperator(tenantOptions())
		}
		for _, name := range names {
			Eventually(func(g Gomega) *infrav1.TenantCluster {
				tc := &infrav1.TenantCluster{}
				g.Expect(k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, tc)).To(Succeed())
				return tc
			}).Should(running(2), "cluster %s", name)
		}
		Consistently(func() int { return len(ours()) }).Should(Equal(6))
		inits := map[string]int{}
		for _, m := range ours() {
			owner := m.Annotations[maas.AnnotationOwnerName]
			Expect(names).To(ContainElement(owner), "machine %s is orphaned", m.SystemID)
			if intent, err := bootstrap.Parse(m.UserData); err == nil && intent.Role == bootstrap.RoleInitControlPlane {
				inits[owner]++
			}
		}
		Expect(inits).To(Equal(map[string]int{"tc-a": 1, "tc-b": 1, "tc-c": 1}))

		for _, name := range names {
			Expect(k8s.Delete(suiteCtx, &infrav1.TenantCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).To(Succeed())
		}
		Eventually(ours).Should(BeEmpty())
		for _, name := range names {
			Eventually(func() error {
				return k8s.Get(suiteCtx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, &infrav1.TenantCluster{})
			}).Should(MatchError(ContainSubstring("not found")))
		}
	})

	It("converges after a restart mid-provisioning with no duplicate or orphaned machine", func() {
		setup(func(c *maassim.Config) { c.DeployTime = 2 * time.Second })
		createCluster(nil)
		Eventually(ours).Should(Not(BeEmpty()))
		stop()
		_, stop = startOperator(tenantOptions())
		Eventually(cluster).Should(running(3))
		Consistently(func() int { return len(ours()) }).WithTimeout(time.Second).Should(Equal(3))
		inits := 0
		for _, m := range ours() {
			Expect(m.Annotations).To(HaveKeyWithValue(maas.AnnotationOwnerName, "tc"), "machine %s is orphaned", m.SystemID)
			if intent, err := bootstrap.Parse(m.UserData); err == nil && intent.Role == bootstrap.RoleInitControlPlane {
				inits++
			}
		}
		Expect(inits).To(Equal(1))
	})
})

// poolWatch follows, from the simulator's event hook, the machines of one
// MAAS resource pool that carry agent: the fewest Deployed and the most
// held at any moment.
type poolWatch struct {
	mu                    sync.Mutex
	agent, pool           string
	state                 map[string]maassim.Machine
	minDeployed, maxOwned int
	cancel                func()
}

func watchPool(sim *maassim.Server, agent, pool string) *poolWatch {
	w := &poolWatch{agent: agent, pool: pool, state: map[string]maassim.Machine{}, minDeployed: 1 << 30}
	w.cancel = sim.Subscribe(func(e maassim.Event) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.state[e.Machine.SystemID] = e.Machine
		w.count()
	})
	w.mu.Lock()
	for _, m := range sim.Machines() {
		if _, seen := w.state[m.SystemID]; !seen {
			w.state[m.SystemID] = m
		}
	}
	w.count()
	w.mu.Unlock()
	return w
}

func (w *poolWatch) count() {
	deployed, owned := 0, 0
	for _, m := range w.state {
		if m.Pool != w.pool || m.AgentName != w.agent {
			continue
		}
		owned++
		if m.StatusName == "Deployed" {
			deployed++
		}
	}
	w.minDeployed = min(w.minDeployed, deployed)
	w.maxOwned = max(w.maxOwned, owned)
}

func (w *poolWatch) stop() (minDeployed, maxOwned int) {
	w.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.minDeployed, w.maxOwned
}

// recordingTokens stands for tenant clusters' API servers, which tests
// never contact: it records the bootstrap tokens created in them.
type recordingTokens struct {
	mu      sync.Mutex
	fail    error
	tries   int
	created []string
}

func (r *recordingTokens) PublishToken(_ context.Context, _ k8stypes.NamespacedName, access workload.Access, t bootstrap.TokenSecret) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries++
	if access.PKI == nil || len(access.PKI.CA.Key) == 0 || access.Endpoint.VIP == "" {
		return errors.New("no credentials or endpoint for the cluster")
	}
	if r.fail != nil {
		return r.fail
	}
	r.created = append(r.created, string(t.Data["token-id"])+"."+string(t.Data["token-secret"]))
	return nil
}

func (r *recordingTokens) setFailure(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

func (r *recordingTokens) attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tries
}

func (r *recordingTokens) values() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.created)
}

// packChart is a test chart of internal/packs.
func packChart(name string) string {
	return filepath.Join(envtest.RepoRoot(), "internal", "packs", "testdata", "charts", name)
}
