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

package workload

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
)

// startCache runs a Cache for the rest of the test, counting OnChange calls.
func startCache(t *testing.T, changes *atomic.Int32) *Cache {
	t.Helper()
	c := NewCache(CacheOptions{
		Scheme:        scheme.Scheme,
		ProbeInterval: 200 * time.Millisecond, ProbeFailures: 2,
		OnChange: func(types.NamespacedName) { changes.Add(1) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	// Get refuses until Start ran.
	NewWithT(t).Eventually(func() error { _, err := c.Get(types.NamespacedName{Name: "probe"}, Access{}); return err }).
		ShouldNot(MatchError("the cluster cache has not started"))
	return c
}

// TestCacheAndDrainInARealCluster: a 1 control plane + 1 worker cluster made
// from the operator's user data; the cache reaches it with credentials it
// signs itself, watches its Nodes (NotReady until a CNI, then Ready, each
// change reported), maps them to machines, and drains the worker through
// the eviction API while the emulated kubelet terminates the pods.
func TestCacheAndDrainInARealCluster(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(2 * time.Minute)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	w := newWorld(t, 2, controlplane.Options{Interval: time.Second, PodSyncInterval: 100 * time.Millisecond})
	var changes atomic.Int32
	cache := startCache(t, &changes)
	key := types.NamespacedName{Namespace: "tenants", Name: w.name}

	w.deploy(0, bootstrap.RoleInitControlPlane)
	w.deploy(1, bootstrap.RoleJoinWorker)
	cl, err := cache.Get(key, w.access())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cl.CredentialsExpire()).To(BeTemporally("~", time.Now().Add(DefaultCredentialValidity), time.Minute))
	again, err := cache.Get(key, w.access())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again).To(BeIdenticalTo(cl), "one connection per cluster")

	nodes := func() []corev1.Node {
		ns, synced := cl.Nodes()
		if !synced {
			return nil
		}
		return ns
	}
	g.Eventually(func() int { return len(nodes()) }).Should(Equal(2))
	for i := range 2 {
		n := NodeFor(nodes(), w.machine(i))
		g.Expect(n).NotTo(BeNil(), "machine %d's Node by providerID", i)
		g.Expect(n.Name).To(Equal(w.nodeName(i)))
		g.Expect(SystemIDOf(n)).To(Equal(w.machines[i].SystemID))
		g.Expect(HealthOf(n).Ready()).To(BeFalse(), "no CNI yet")
	}
	// A Node registers before its kubelet's first status report.
	g.Eventually(func() string { return HealthOf(NodeFor(nodes(), w.machine(1))).Message }).
		Should(ContainSubstring("cni plugin not initialized"))
	healthy, _ := cl.Health()
	g.Expect(healthy).To(BeTrue())

	before := changes.Load()
	g.Expect(cl.Client.Create(context.Background(), controlplane.NetworkPlugin())).To(Succeed())
	g.Eventually(func() bool {
		ns := nodes()
		return len(ns) == 2 && HealthOf(&ns[0]).Ready() && HealthOf(&ns[1]).Ready()
	}).Should(BeTrue(), "Nodes Ready once a CNI is installed")
	g.Expect(changes.Load()).To(BeNumerically(">=", before+2), "each Node's readiness change reported")

	// Pods on the worker, reported Running by its kubelet; the drain
	// evicts them and waits until the kubelet has removed them.
	ctx := context.Background()
	worker := w.nodeName(1)
	for _, name := range []string{"web-1", "web-2"} {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{NodeName: worker, TerminationGracePeriodSeconds: ptr.To[int64](1),
				Containers: []corev1.Container{{Name: "c", Image: "registry.invalid/web:1"}}},
		}
		g.Expect(cl.Client.Create(ctx, p)).To(Succeed())
	}
	g.Eventually(func() []corev1.PodPhase {
		pods := &corev1.PodList{}
		g.Expect(cl.Client.List(ctx, pods, client.InNamespace("default"))).To(Succeed())
		var phases []corev1.PodPhase
		for _, p := range pods.Items {
			phases = append(phases, p.Status.Phase)
		}
		return phases
	}).Should(Equal([]corev1.PodPhase{corev1.PodRunning, corev1.PodRunning}))

	node := &corev1.Node{}
	g.Expect(cl.Client.Get(ctx, client.ObjectKey{Name: worker}, node)).To(Succeed())
	st, err := Drain(ctx, cl.Client, cl.Evicter(), node, time.Now())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.Evicted).To(HaveLen(2))
	g.Expect(st.Done()).To(BeFalse())
	g.Eventually(func() (bool, error) {
		g.Expect(cl.Client.Get(ctx, client.ObjectKey{Name: worker}, node)).To(Succeed())
		st, err := Drain(ctx, cl.Client, cl.Evicter(), node, time.Now())
		return st.Done(), err
	}).Should(BeTrue(), "the kubelet removed the evicted pods")
	g.Eventually(func() bool {
		n := NodeFor(nodes(), w.machine(1))
		return n != nil && n.Spec.Unschedulable
	}).Should(BeTrue(), "the cordon seen through the watch")

	cache.Disconnect(key)
	g.Expect(cache.Len()).To(BeZero())
	_, err = cache.Peek(key)
	g.Expect(errors.Is(err, ErrNotConnected)).To(BeTrue())
}

// TestEtcdMembershipKeepsQuorum: three control planes; the operator's etcd
// client (signed from the etcd CA) lists three healthy members, refuses to
// remove a healthy member while another is down, removes the dead one, and
// moves leadership off a leader before removing it.
func TestEtcdMembershipKeepsQuorum(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(2 * time.Minute)
	g.SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	w := newWorld(t, 3, controlplane.Options{})
	w.deploy(0, bootstrap.RoleInitControlPlane)
	w.deploy(1, bootstrap.RoleJoinControlPlane)
	w.deploy(2, bootstrap.RoleJoinControlPlane)

	ctx := context.Background()
	tlsConfig, err := EtcdTLS(w.pki, time.Now(), time.Hour)
	g.Expect(err).NotTo(HaveOccurred())
	etcd, err := DialEtcd(ctx, []string{EtcdEndpoint(w.ip(0)), EtcdEndpoint(w.ip(1)), EtcdEndpoint(w.ip(2))}, tlsConfig)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = etcd.Close() }()

	healthyNames := func() []string {
		ms, err := etcd.Members(ctx)
		if err != nil {
			return nil
		}
		var names []string
		for _, m := range ms {
			// kubeadm joins a member as a learner, then promotes it.
			if m.Healthy && !m.IsLearner {
				names = append(names, m.Name)
			}
		}
		slices.Sort(names)
		return names
	}
	g.Eventually(healthyNames).Should(Equal([]string{w.nodeName(0), w.nodeName(1), w.nodeName(2)}))
	members, err := etcd.Members(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(slices.ContainsFunc(members, func(m Member) bool { return m.Leader })).To(BeTrue(), "a leader")
	byName := map[string]Member{}
	for _, m := range members {
		byName[m.Name] = m
		g.Expect(m.Host()).To(BeElementOf(w.ip(0), w.ip(1), w.ip(2)))
	}
	g.Expect(Orphans(members, []MemberMachine{
		{Node: w.nodeName(0), Addresses: []string{w.ip(0)}}, {Node: w.nodeName(1), Addresses: []string{w.ip(1)}}, {Node: w.nodeName(2), Addresses: []string{w.ip(2)}},
	})).To(BeEmpty())

	// Machine 2's etcd dies: a healthy member may not go now.
	g.Expect(w.emu.CrashEtcd(w.machines[2].SystemID)).To(Succeed())
	g.Eventually(healthyNames).Should(Equal([]string{w.nodeName(0), w.nodeName(1)}))
	err = etcd.RemoveMember(ctx, byName[w.nodeName(1)].ID)
	g.Expect(errors.Is(err, ErrQuorum)).To(BeTrue(), "got %v", err)
	g.Expect(etcd.Members(ctx)).To(HaveLen(3), "nothing removed")
	// Its machine gone, the dead member is an orphan and may go.
	g.Expect(Orphans(members, []MemberMachine{{Node: w.nodeName(0), Addresses: []string{w.ip(0)}}, {Node: w.nodeName(1), Addresses: []string{w.ip(1)}}})).
		To(ConsistOf(HaveField("Name", w.nodeName(2))))
	g.Expect(etcd.RemoveMember(ctx, byName[w.nodeName(2)].ID)).To(Succeed())
	g.Expect(etcd.Members(ctx)).To(HaveLen(2))

	// Remove the leader of the two: leadership moves first, the other one
	// stays healthy and alone.
	var leader, other Member
	g.Eventually(func() bool {
		ms, err := etcd.Members(ctx)
		if err != nil {
			return false
		}
		for _, m := range ms {
			if m.Leader {
				leader = m
			} else {
				other = m
			}
		}
		return leader.ID != 0 && other.ID != 0
	}).Should(BeTrue())
	g.Expect(etcd.RemoveMember(ctx, leader.ID)).To(Succeed())
	g.Eventually(func() []string {
		ms, err := etcd.Members(ctx)
		if err != nil {
			return nil
		}
		var out []string
		for _, m := range ms {
			if m.Healthy {
				out = append(out, m.Name)
			}
		}
		return out
	}).Should(Equal([]string{other.Name}))
	err = etcd.RemoveMember(ctx, other.ID)
	g.Expect(errors.Is(err, ErrLastMember)).To(BeTrue(), "got %v", err)
}
