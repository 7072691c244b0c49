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

package controlplane_test

import (
	"context"
	"net"
	"os/exec"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// The smallest cluster: kubeadm init on one machine, a worker joining it;
// the operator's admin kubeconfig works through the VIP.
func TestInitAndWorkerJoin(t *testing.T) {
	g := NewWithT(t)
	ms := newMachines(4)
	cp, worker, wrongCA, wrongToken := ms[0], ms[1], ms[2], ms[3]
	srv, maas := startSim(t, ms)
	tn := newTenant(t, "small")
	e := newEmulator(t, srv, controlplane.Options{Interval: time.Second})

	// kubeadm join's discovery refuses a cluster whose CA is not pinned,
	// and the API server a token it does not know: these never join.
	other := newTenant(t, "small")
	other.vip = tn.vip
	otherToken := *other
	otherToken.pki = tn.pki
	deploy(t, maas, wrongCA.SystemID, other.userData(t, bootstrap.RoleJoinWorker, wrongCA.SystemID))
	deploy(t, maas, wrongToken.SystemID, otherToken.userData(t, bootstrap.RoleJoinWorker, wrongToken.SystemID))

	// The worker deploys first: its kubeadm join waits for the API server.
	deploy(t, maas, worker.SystemID, tn.userData(t, bootstrap.RoleJoinWorker, worker.SystemID))
	deploy(t, maas, cp.SystemID, tn.userData(t, bootstrap.RoleInitControlPlane, cp.SystemID))

	cs := tn.client(t)
	g.Eventually(func(g Gomega) {
		ns := nodes(g, cs)
		g.Expect(ns).To(HaveLen(2))
		for _, n := range ns {
			g.Expect(ready(n).Reason).To(Equal("KubeletNotReady"))
		}
	}).WithTimeout(2 * time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
	g.Expect(e.State(cp.SystemID)).To(Equal(controlplane.MachineState{Etcd: true, APIServer: true, Kubelet: true}))
	g.Expect(e.State(worker.SystemID)).To(Equal(controlplane.MachineState{Kubelet: true}))
	g.Expect(e.State(wrongCA.SystemID)).To(BeZero())
	g.Expect(e.State(wrongToken.SystemID)).To(BeZero())

	// kubeadm init's ConfigMaps: what joining nodes discover the cluster
	// with, and the ClusterConfiguration upgrades read.
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(context.Background(), "kubeadm-config", metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cm.Data["ClusterConfiguration"]).To(ContainSubstring("controlPlaneEndpoint: " + tn.endpoint()))
	_, err = cs.CoreV1().ConfigMaps("kube-public").Get(context.Background(), "cluster-info", metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())

	members, err := e.EtcdMembers(context.Background(), tn.endpoint())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(members).To(ConsistOf(HaveField("Name", nodeName(cp))))

	node, err := cs.CoreV1().Nodes().Get(context.Background(), nodeName(worker), metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(node.Spec.ProviderID).To(Equal("maas://" + worker.SystemID))
	g.Expect(ready(*node).Reason).To(Equal("KubeletNotReady"))

	release(t, maas, cp.SystemID)
	awaitStatus(t, srv, cp.SystemID, maassim.StatusReady)
	g.Eventually(func() controlplane.MachineState { return e.State(cp.SystemID) }).Should(BeZero())
	// Its ports and the VIP's are free: the processes are gone, and with
	// its only control plane the cluster's VIP went too.
	for _, addr := range []string{cp.IPs[0] + ":2379", cp.IPs[0] + ":2380", cp.IPs[0] + ":6443", tn.endpoint()} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			out, _ := exec.Command("ss", "-tanpo").CombinedOutput()
			t.Log(string(out))
		}
		g.Expect(err).NotTo(HaveOccurred(), addr)
		_ = ln.Close()
	}
	g.Expect(e.Endpoints()).To(BeEmpty())
}

// Close in the middle of kubeadm init (etcd up, the API server starting)
// leaves nothing running and every port free.
func TestCloseDuringInit(t *testing.T) {
	g := NewWithT(t)
	ms := newMachines(1)
	cp := ms[0]
	srv, maas := startSim(t, ms)
	tn := newTenant(t, "interrupted")
	e := newEmulator(t, srv, controlplane.Options{})
	deploy(t, maas, cp.SystemID, tn.userData(t, bootstrap.RoleInitControlPlane, cp.SystemID))
	g.Eventually(func() bool { return e.State(cp.SystemID).APIServer }).
		WithTimeout(time.Minute).WithPolling(10 * time.Millisecond).Should(BeTrue())

	dir := e.Dir()
	g.Expect(e.Close()).To(Succeed())
	g.Expect(controlplane.Leaks(dir)).To(BeEmpty())
	for _, addr := range []string{cp.IPs[0] + ":2379", cp.IPs[0] + ":6443", tn.endpoint()} {
		ln, err := net.Listen("tcp", addr)
		g.Expect(err).NotTo(HaveOccurred(), addr)
		_ = ln.Close()
	}
	g.Expect(e.Close()).To(Succeed(), "a second Close")
}
