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

package joinemu_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

func TestWorkerJoinsAndLeaves(t *testing.T) {
	g := NewWithT(t)
	ms := newMachines(1)
	m, name := ms[0], nodeNameOf(ms[0])
	srv, c := startSim(t, ms)
	logs := attach(t, srv, joinemu.Config{Endpoint: endpoint, ClusterName: clusterName})

	deploy(t, c, m.SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, m.SystemID)))
	node := awaitNode(t, name)

	g.Expect(node.Spec.ProviderID).To(Equal("maas://" + m.SystemID))
	g.Expect(node.Labels).To(Equal(map[string]string{
		"kubernetes.io/hostname":         name,
		"kubernetes.io/os":               "linux",
		"kubernetes.io/arch":             "amd64",
		"infra.maasgateway.io/pool":      "workers",
		"infra.maasgateway.io/system-id": m.SystemID,
	}))
	g.Expect(node.Spec.Taints).To(BeEmpty())
	g.Expect(readyStatus(node)).To(Equal(corev1.ConditionTrue))
	g.Expect(node.Status.Addresses).To(Equal([]corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: m.IPs[0]},
		{Type: corev1.NodeHostName, Address: name},
	}))
	g.Expect(node.Status.NodeInfo.KubeletVersion).To(Equal(k8sVersion))
	g.Expect(node.Status.Capacity.Cpu().Equal(resource.MustParse("8"))).To(BeTrue())
	g.Expect(node.Status.Capacity.Memory().Equal(resource.MustParse("16Gi"))).To(BeTrue())

	// The lease follows the Node's registration, as a kubelet's does.
	lease := &coordinationv1.Lease{}
	g.Eventually(func() error {
		return k8s.Get(context.Background(), client.ObjectKey{Namespace: corev1.NamespaceNodeLease, Name: name}, lease)
	}).WithTimeout(30 * time.Second).Should(Succeed())
	g.Expect(lease.Spec.HolderIdentity).To(HaveValue(Equal(name)))
	g.Expect(lease.OwnerReferences).To(ConsistOf(HaveField("UID", node.UID)))

	release(t, c, m.SystemID)
	awaitNoNode(t, name)
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: corev1.NamespaceNodeLease, Name: name}, lease)
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "lease left behind: %v", err)
	g.Expect(logs.errors()).To(BeZero())
}

func TestControlPlaneJoin(t *testing.T) {
	g := NewWithT(t)
	ms := newMachines(1)
	m, name := ms[0], nodeNameOf(ms[0])
	srv, c := startSim(t, ms)
	attach(t, srv, joinemu.Config{Endpoint: endpoint})

	ud := render(t, nodeConfig(t, bootstrap.RoleJoinControlPlane, m.SystemID))
	intent, err := bootstrap.Parse(ud)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(intent.Taints).NotTo(BeEmpty(), "a control plane that allows no workloads is tainted")
	deploy(t, c, m.SystemID, ud)
	node := awaitNode(t, name)

	g.Expect(node.Labels).To(HaveKeyWithValue(joinemu.LabelControlPlane, ""))
	g.Expect(node.Labels).To(HaveKeyWithValue(corev1.LabelNodeExcludeBalancers, ""))
	g.Expect(node.Labels).To(HaveKeyWithValue("infra.maasgateway.io/pool", "control-plane"))
	g.Expect(node.Spec.Taints).To(Equal(intent.Taints))
	g.Expect(readyStatus(node)).To(Equal(corev1.ConditionTrue))
}

// Machines whose user data asks for another cluster, or for nothing, get
// no Node. Their Deployed events are handled in order before the marker's,
// so once the marker's Node is there the others have been decided.
func TestIgnoredMachines(t *testing.T) {
	ms := newMachines(6)
	otherEndpoint, otherCluster, noIntent, noUserData, neverJoin, marker := ms[0], ms[1], ms[2], ms[3], ms[4], ms[5]
	srv, c := startSim(t, ms)
	logs := attach(t, srv, joinemu.Config{Endpoint: endpoint, ClusterName: clusterName, NeverJoin: []string{neverJoin.SystemID}})

	cfg := nodeConfig(t, bootstrap.RoleJoinWorker, otherEndpoint.SystemID)
	cfg.ControlPlaneEndpoint = "10.11.12.200"
	deploy(t, c, otherEndpoint.SystemID, render(t, cfg))
	cfg = nodeConfig(t, bootstrap.RoleJoinWorker, otherCluster.SystemID)
	cfg.ClusterName = "tenant-a"
	deploy(t, c, otherCluster.SystemID, render(t, cfg))
	deploy(t, c, noIntent.SystemID, []byte("#cloud-config\nruncmd:\n- [touch, /tmp/ok]\n"))
	deploy(t, c, noUserData.SystemID, nil)
	deploy(t, c, neverJoin.SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, neverJoin.SystemID)))
	for _, m := range ms[:5] {
		awaitStatus(t, srv, m.SystemID, maassim.StatusDeployed)
	}

	deploy(t, c, marker.SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, marker.SystemID)))
	awaitNode(t, nodeNameOf(marker))
	for _, m := range ms[:5] {
		if !absent(t, nodeNameOf(m)) {
			t.Errorf("machine %s got a Node", m.Hostname)
		}
	}
	if logs.count("never joins", neverJoin.SystemID) != 1 {
		t.Error("NeverJoin machine not reported")
	}
}

func TestNotReady(t *testing.T) {
	ms := newMachines(1)
	srv, c := startSim(t, ms)
	attach(t, srv, joinemu.Config{NotReady: []string{ms[0].Hostname}})
	deploy(t, c, ms[0].SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, ms[0].SystemID)))
	node := awaitNode(t, nodeNameOf(ms[0]))
	g := NewWithT(t)
	g.Expect(readyStatus(node)).To(Equal(corev1.ConditionFalse))
	g.Expect(node.Spec.Taints).To(ContainElement(HaveField("Key", corev1.TaintNodeNotReady)))
}

func TestDelay(t *testing.T) {
	const delay = 1500 * time.Millisecond
	ms := newMachines(1)
	name := nodeNameOf(ms[0])
	srv, c := startSim(t, ms)
	deployed := make(chan time.Time, 1)
	cancel := srv.Subscribe(func(e maassim.Event) {
		if e.Type == maassim.EventDeployed {
			deployed <- e.Time
		}
	})
	t.Cleanup(cancel)
	attach(t, srv, joinemu.Config{Delay: delay})

	deploy(t, c, ms[0].SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, ms[0].SystemID)))
	var at time.Time
	select {
	case at = <-deployed:
	case <-time.After(30 * time.Second):
		t.Fatal("machine not deployed")
	}
	// The emulator starts its delay when it receives the event, after
	// at: the Node cannot exist before at+delay.
	before := time.Until(at.Add(delay - 50*time.Millisecond))
	if before <= 0 {
		t.Fatalf("the test saw the Deployed event %v late", -before)
	}
	NewWithT(t).Consistently(func() bool { return absent(t, name) }).
		WithTimeout(before).WithPolling(20 * time.Millisecond).
		Should(BeTrue())
	awaitNode(t, name)
}

// A release cancels a join still waiting out its delay. The marker deploys
// after the released machine did, with the same delay: once its Node is
// there, the released machine's would have been too.
func TestReleaseCancelsPendingJoin(t *testing.T) {
	ms := newMachines(2)
	released, marker := ms[0], ms[1]
	srv, c := startSim(t, ms)
	logs := attach(t, srv, joinemu.Config{Delay: 500 * time.Millisecond})

	deploy(t, c, released.SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, released.SystemID)))
	awaitStatus(t, srv, released.SystemID, maassim.StatusDeployed)
	release(t, c, released.SystemID)
	NewWithT(t).Eventually(func() int { return logs.count("node already gone", released.SystemID) }).
		WithTimeout(30 * time.Second).WithPolling(10 * time.Millisecond).ShouldNot(BeZero())

	deploy(t, c, marker.SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, marker.SystemID)))
	awaitNode(t, nodeNameOf(marker))
	if !absent(t, nodeNameOf(released)) {
		t.Fatal("the released machine's Node appeared")
	}
}

// The emulator retries a failed write, logging the error.
func TestRetriesFailedWrites(t *testing.T) {
	ms := newMachines(1)
	srv, c := startSim(t, ms)
	var creates atomic.Int32
	flaky := interceptor.NewClient(cluster(t), interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*corev1.Node); ok && creates.Add(1) <= 2 {
				return apierrors.NewServiceUnavailable("etcd is restarting")
			}
			return c.Create(ctx, obj, opts...)
		},
	})
	logs := attach(t, srv, joinemu.Config{Client: flaky})
	deploy(t, c, ms[0].SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, ms[0].SystemID)))
	node := awaitNode(t, nodeNameOf(ms[0]))

	g := NewWithT(t)
	g.Expect(readyStatus(node)).To(Equal(corev1.ConditionTrue))
	g.Expect(creates.Load()).To(BeNumerically("==", 3))
	g.Expect(logs.count("registering node failed; retrying", "etcd is restarting")).To(Equal(2))
}

// A Node already registered under the machine's providerID (a redeploy, an
// emulator restart) is updated, keeping what others added to it.
func TestUpdatesExistingNode(t *testing.T) {
	g := NewWithT(t)
	ms := newMachines(1)
	m, name := ms[0], nodeNameOf(ms[0])
	foreign := corev1.Taint{Key: "example.com/maintenance", Value: "yes", Effect: corev1.TaintEffectNoSchedule}
	existing := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"team": "blue", "infra.maasgateway.io/pool": "old"}},
		Spec:       corev1.NodeSpec{ProviderID: "maas://" + m.SystemID, Unschedulable: true, Taints: []corev1.Taint{foreign}},
	}
	g.Expect(cluster(t).Create(context.Background(), existing)).To(Succeed())
	srv, c := startSim(t, ms)
	logs := attach(t, srv, joinemu.Config{})

	deploy(t, c, m.SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, m.SystemID)))
	node := awaitNode(t, name)
	g.Expect(node.UID).To(Equal(existing.UID))
	g.Expect(node.Labels).To(HaveKeyWithValue("team", "blue"))
	g.Expect(node.Labels).To(HaveKeyWithValue("infra.maasgateway.io/pool", "workers"))
	g.Expect(node.Labels).To(HaveKeyWithValue("infra.maasgateway.io/system-id", m.SystemID))
	g.Expect(node.Spec.Unschedulable).To(BeTrue())
	g.Expect(node.Spec.Taints).To(ConsistOf(foreign))
	g.Expect(readyStatus(node)).To(Equal(corev1.ConditionTrue))
	g.Expect(logs.errors()).To(BeZero())
}

// A Node of the same name registered by another machine is neither taken
// over on deploy nor deleted on release.
func TestLeavesAnotherMachinesNode(t *testing.T) {
	g := NewWithT(t)
	ms := newMachines(1)
	m, name := ms[0], nodeNameOf(ms[0])
	other := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{ProviderID: "maas://other1"}}
	g.Expect(cluster(t).Create(context.Background(), other)).To(Succeed())
	srv, c := startSim(t, ms)
	logs := attach(t, srv, joinemu.Config{})

	deploy(t, c, m.SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, m.SystemID)))
	g.Eventually(func() int { return logs.count("registering node failed; giving up", m.SystemID) }).
		WithTimeout(30 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal(1))
	g.Expect(logs.count("retrying")).To(BeZero(), "a name conflict is not retried")

	release(t, c, m.SystemID)
	g.Eventually(func() int { return logs.count("belongs to another machine", m.SystemID) }).
		WithTimeout(30 * time.Second).WithPolling(10 * time.Millisecond).ShouldNot(BeZero())
	node := &corev1.Node{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Name: name}, node)).To(Succeed())
	g.Expect(node.UID).To(Equal(other.UID))
	g.Expect(node.Status.Conditions).To(BeEmpty())
}

// The operator deletes a drained Node before releasing its machine: the
// emulator stops its heartbeats and finds nothing to delete, without error.
func TestNodeDeletedBeforeRelease(t *testing.T) {
	g := NewWithT(t)
	ms := newMachines(1)
	m, name := ms[0], nodeNameOf(ms[0])
	srv, c := startSim(t, ms)
	logs := attach(t, srv, joinemu.Config{HeartbeatInterval: 20 * time.Millisecond})

	deploy(t, c, m.SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, m.SystemID)))
	node := awaitNode(t, name)
	g.Expect(k8s.Delete(context.Background(), node)).To(Succeed())
	g.Eventually(func() int { return logs.count("no more heartbeats", m.SystemID) }).
		WithTimeout(30 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal(1))

	release(t, c, m.SystemID)
	g.Eventually(func() int { return logs.count("node already gone", m.SystemID) }).
		WithTimeout(30 * time.Second).WithPolling(10 * time.Millisecond).ShouldNot(BeZero())
	g.Expect(absent(t, name)).To(BeTrue())
	// A heartbeat in flight when the Node was deleted may leave its Lease;
	// it is owned by the deleted Node, so a real cluster's garbage collector
	// removes it (envtest runs none).
	lease := &coordinationv1.Lease{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: corev1.NamespaceNodeLease, Name: name}, lease); err == nil {
		g.Expect(lease.OwnerReferences).To(ConsistOf(HaveField("UID", node.UID)), "lease left behind without its Node as owner")
	} else {
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "reading the lease: %v", err)
	}
	g.Expect(logs.errors()).To(BeZero())
}

func TestHeartbeatRenewsLease(t *testing.T) {
	g := NewWithT(t)
	ms := newMachines(1)
	name := nodeNameOf(ms[0])
	srv, c := startSim(t, ms)
	attach(t, srv, joinemu.Config{HeartbeatInterval: 20 * time.Millisecond})
	deploy(t, c, ms[0].SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, ms[0].SystemID)))
	awaitNode(t, name)

	renewed := func() (time.Time, error) {
		lease := &coordinationv1.Lease{}
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: corev1.NamespaceNodeLease, Name: name}, lease)
		if err != nil || lease.Spec.RenewTime == nil {
			return time.Time{}, err
		}
		return lease.Spec.RenewTime.Time, nil
	}
	var first time.Time
	g.Eventually(func() (time.Time, error) {
		var err error
		first, err = renewed()
		return first, err
	}).WithTimeout(30 * time.Second).ShouldNot(BeZero())
	g.Eventually(renewed).WithTimeout(30 * time.Second).WithPolling(10 * time.Millisecond).Should(BeTemporally(">", first))
}

// stop ends the emulator's work: a machine deploying after it gets no Node.
func TestStop(t *testing.T) {
	ms := newMachines(1)
	srv, c := startSim(t, ms)
	log, _ := newLogger(t)
	e, err := joinemu.New(joinemu.Config{Client: cluster(t), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	stop := e.Attach(srv)
	stop()
	stop() // idempotent
	deploy(t, c, ms[0].SystemID, render(t, nodeConfig(t, bootstrap.RoleJoinWorker, ms[0].SystemID)))
	awaitStatus(t, srv, ms[0].SystemID, maassim.StatusDeployed)
	NewWithT(t).Consistently(func() bool { return absent(t, nodeNameOf(ms[0])) }).
		WithTimeout(300*time.Millisecond).WithPolling(20*time.Millisecond).
		Should(BeTrue(), "a stopped emulator registered a Node")
}
