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
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canonical/gomaasclient/entity"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

const notReadyMessage = "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"

// cniDaemonSet is what a CNI pack installs, as far as a kubelet can tell:
// a DaemonSet that writes the host's /etc/cni/net.d.
const cniDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: cni
  namespace: kube-system
spec:
  selector:
    matchLabels: {app: cni}
  template:
    metadata:
      labels: {app: cni}
    spec:
      hostNetwork: true
      tolerations: [{operator: Exists}]
      containers:
      - name: install
        image: registry.example/cni:v1
        volumeMounts: [{name: conf, mountPath: /host/etc/cni/net.d}]
      volumes:
      - name: conf
        hostPath: {path: /etc/cni/net.d}
`

// The world: three control planes and two workers brought up from
// the user data internal/bootstrap renders, seen through the operator's
// admin kubeconfig (and the envtest build of kubectl); a CNI makes them
// Ready; etcd has three members, which stay three when a control plane
// crashes, is power-cycled or is released; a failed join leaves a Deployed
// machine with no Node; kubelets run and remove Pods, and a dead one stops.
func TestThreeControlPlanesTwoWorkers(t *testing.T) {
	g := NewWithT(t)
	ms := newMachines(6)
	cp1, cp2, cp3, w1, w2, broken := ms[0], ms[1], ms[2], ms[3], ms[4], ms[5]
	srv, maas := startSim(t, ms)
	tn := newTenant(t, "tenant-a")
	e := newEmulator(t, srv, controlplane.Options{
		Interval: time.Second, NodeMonitorGracePeriod: 3 * time.Second, JoinFails: []string{broken.SystemID},
	})
	ctx := context.Background()

	start := time.Now()
	deploy(t, maas, cp1.SystemID, tn.userData(t, bootstrap.RoleInitControlPlane, cp1.SystemID))
	for _, m := range []maassim.MachineSpec{cp2, cp3} {
		deploy(t, maas, m.SystemID, tn.userData(t, bootstrap.RoleJoinControlPlane, m.SystemID))
	}
	for _, m := range []maassim.MachineSpec{w1, w2, broken} {
		deploy(t, maas, m.SystemID, tn.userData(t, bootstrap.RoleJoinWorker, m.SystemID))
	}

	cs := tn.client(t)
	g.Eventually(func(g Gomega) {
		ns := nodes(g, cs)
		g.Expect(ns).To(HaveLen(5))
		for _, n := range ns {
			g.Expect(ready(n)).To(And(
				HaveField("Status", corev1.ConditionFalse),
				HaveField("Reason", "KubeletNotReady"),
				HaveField("Message", notReadyMessage)), n.Name)
			g.Expect(n.Spec.Taints).To(ContainElements(
				corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
				HaveField("Key", corev1.TaintNodeNotReady)), n.Name) // and the NoExecute one, dated
			g.Expect(n.Spec.Taints).To(ContainElement(HaveField("Effect", corev1.TaintEffectNoExecute)), n.Name)
		}
	}).WithTimeout(3 * time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
	t.Logf("5 machines joined in %s", time.Since(start).Round(time.Millisecond))

	// kubeadm marks a control plane after its kubelet registered it.
	for _, m := range []maassim.MachineSpec{cp1, cp2, cp3} {
		g.Eventually(func(g Gomega) {
			n, err := cs.CoreV1().Nodes().Get(ctx, nodeName(m), metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(n.Labels).To(HaveKey("node-role.kubernetes.io/control-plane"))
			g.Expect(n.Spec.Taints).To(ContainElement(corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}))
			g.Expect(n.Spec.ProviderID).To(Equal("maas://" + m.SystemID))
		}).WithTimeout(time.Minute).WithPolling(200 * time.Millisecond).Should(Succeed())
	}

	// kubectl with the operator's kubeconfig sees the same.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(os.WriteFile(kubeconfig, tn.kubeconfig(t), 0o600)).To(Succeed())
	kubectl := func(args ...string) string {
		cmd := exec.Command(filepath.Join(binDir(t), "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
		out, err := cmd.CombinedOutput()
		g.Expect(err).NotTo(HaveOccurred(), string(out))
		return string(out)
	}
	lines := strings.Split(strings.TrimSpace(kubectl("get", "nodes", "--no-headers")), "\n")
	g.Expect(lines).To(HaveLen(5))
	for _, l := range lines {
		g.Expect(strings.Fields(l)[1]).To(Equal("NotReady"), l)
	}

	// The failed join: Deployed in MAAS, nothing started, no Node.
	awaitStatus(t, srv, broken.SystemID, maassim.StatusDeployed)
	g.Expect(e.State(broken.SystemID)).To(BeZero())
	g.Expect(nodes(g, cs)).NotTo(ContainElement(HaveField("Name", nodeName(broken))))

	members, err := e.EtcdMembers(ctx, tn.endpoint())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(members).To(HaveLen(3))
	for _, m := range members {
		g.Expect(m).To(And(HaveField("Started", true), HaveField("Reachable", true), HaveField("Learner", false)))
	}
	g.Expect(members).To(ConsistOf(HaveField("Name", nodeName(cp1)), HaveField("Name", nodeName(cp2)), HaveField("Name", nodeName(cp3))))

	// A CNI arrives: every kubelet finds its configuration and goes Ready,
	// and the not-ready taints go.
	cni := filepath.Join(t.TempDir(), "cni.yaml")
	g.Expect(os.WriteFile(cni, []byte(cniDaemonSet), 0o600)).To(Succeed())
	kubectl("apply", "-f", cni)
	g.Eventually(func(g Gomega) {
		for _, n := range nodes(g, cs) {
			g.Expect(ready(n).Status).To(Equal(corev1.ConditionTrue), n.Name)
			g.Expect(n.Spec.Taints).NotTo(ContainElement(HaveField("Key", corev1.TaintNodeNotReady)), n.Name)
		}
	}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	g.Expect(kubectl("get", "nodes", "--no-headers")).NotTo(ContainSubstring("NotReady"))

	t.Run("static pods have mirror pods", func(t *testing.T) {
		g := NewWithT(t)
		g.Eventually(func(g Gomega) {
			list, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "tier=control-plane"})
			g.Expect(err).NotTo(HaveOccurred())
			var names []string
			for _, p := range list.Items {
				g.Expect(p.Annotations).To(HaveKey(corev1.MirrorPodAnnotationKey))
				g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning), p.Name)
				names = append(names, p.Name)
			}
			g.Expect(names).To(ConsistOf(
				"etcd-"+nodeName(cp1), "etcd-"+nodeName(cp2), "etcd-"+nodeName(cp3),
				"kube-apiserver-"+nodeName(cp1), "kube-apiserver-"+nodeName(cp2), "kube-apiserver-"+nodeName(cp3)))
		}).WithTimeout(15 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	})

	t.Run("kubelet runs and removes pods", func(t *testing.T) {
		g := NewWithT(t)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: corev1.PodSpec{
				NodeName:                      nodeName(w1),
				TerminationGracePeriodSeconds: new(int64(2)),
				Containers:                    []corev1.Container{{Name: "web", Image: "registry.example/web:v1"}},
			},
		}
		_, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Eventually(func(g Gomega) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p.Status.Phase).To(Equal(corev1.PodRunning))
			g.Expect(p.Status.ContainerStatuses).To(ConsistOf(HaveField("Ready", true)))
			g.Expect(netip.MustParsePrefix("192.168.0.0/16").Contains(netip.MustParseAddr(p.Status.PodIP))).To(BeTrue())
			g.Expect(p.Status.HostIP).To(Equal(w1.IPs[0]))
		}).WithTimeout(10 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())

		deleted := time.Now()
		g.Expect(cs.CoreV1().Pods("default").Delete(ctx, "web", metav1.DeleteOptions{})).To(Succeed())
		p, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred(), "gone before its grace period")
		g.Expect(p.DeletionTimestamp).NotTo(BeNil())
		g.Eventually(func() bool {
			_, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
			return err != nil && strings.Contains(err.Error(), "not found")
		}).WithTimeout(10 * time.Second).WithPolling(100 * time.Millisecond).Should(BeTrue())
		// The grace period ends at the pod's deletionTimestamp, which the API
		// server keeps to the second: up to a second before deleted+2s.
		g.Expect(time.Now()).To(BeTemporally(">=", p.DeletionTimestamp.Time), "gone before its grace period ended")
		g.Expect(time.Since(deleted)).To(BeNumerically(">=", time.Second))
	})

	t.Run("a dead kubelet", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(e.KillKubelet(w2.SystemID)).To(Succeed())
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: "default"},
			Spec:       corev1.PodSpec{NodeName: nodeName(w2), Containers: []corev1.Container{{Name: "c", Image: "registry.example/c:v1"}}},
		}
		_, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Eventually(func(g Gomega) {
			n, err := cs.CoreV1().Nodes().Get(ctx, nodeName(w2), metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(ready(*n)).To(And(HaveField("Status", corev1.ConditionUnknown), HaveField("Reason", "NodeStatusUnknown")))
			g.Expect(n.Spec.Taints).To(ContainElement(HaveField("Key", corev1.TaintNodeUnreachable)))
		}).WithTimeout(15 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
		p, err := cs.CoreV1().Pods("default").Get(ctx, "orphan", metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(p.Status.Phase).To(Equal(corev1.PodPending), "a dead kubelet runs nothing")
	})

	t.Run("an etcd member crashes, then its machine is power-cycled", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(e.CrashEtcd(cp3.SystemID)).To(Succeed())
		members, err := e.EtcdMembers(ctx, tn.endpoint())
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(members).To(HaveLen(3))
		g.Expect(members).To(ContainElement(And(HaveField("Name", nodeName(cp3)), HaveField("Reachable", false))))
		// The VIP sends clients to the control planes whose etcd runs.
		g.Expect(nodes(g, cs)).To(HaveLen(5))
		// The kubelet shows the static Pod failing.
		g.Eventually(func(g Gomega) {
			p, err := cs.CoreV1().Pods("kube-system").Get(ctx, "etcd-"+nodeName(cp3), metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p.Status.ContainerStatuses).To(ConsistOf(HaveField("State.Waiting.Reason", "CrashLoopBackOff")))
		}).WithTimeout(10 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())

		_, err = maas.Machine.PowerOff(cp3.SystemID, &entity.MachinePowerOffParams{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Eventually(func() controlplane.MachineState { return e.State(cp3.SystemID) }).Should(BeZero())
		_, err = maas.Machine.PowerOn(cp3.SystemID, &entity.MachinePowerOnParams{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Eventually(func() controlplane.MachineState { return e.State(cp3.SystemID) }).
			WithTimeout(time.Minute).Should(Equal(controlplane.MachineState{Etcd: true, APIServer: true, Kubelet: true}))
		g.Eventually(func(g Gomega) {
			members, err := e.EtcdMembers(ctx, tn.endpoint())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(members).To(HaveEach(HaveField("Reachable", true)))
		}).WithTimeout(30 * time.Second).Should(Succeed())
	})

	t.Run("releasing the first control plane", func(t *testing.T) {
		g := NewWithT(t)
		release(t, maas, cp1.SystemID)
		awaitStatus(t, srv, cp1.SystemID, maassim.StatusReady)
		g.Eventually(func() controlplane.MachineState { return e.State(cp1.SystemID) }).Should(BeZero())
		g.Eventually(func(g Gomega) {
			members, err := e.EtcdMembers(ctx, tn.endpoint())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(members).To(HaveLen(3))
			g.Expect(members).To(ContainElement(And(HaveField("Name", nodeName(cp1)), HaveField("Reachable", false))))
			g.Expect(members).To(ContainElements(
				And(HaveField("Name", nodeName(cp2)), HaveField("Reachable", true)),
				And(HaveField("Name", nodeName(cp3)), HaveField("Reachable", true))))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		// The VIP outlives the machine that made the cluster; its Node
		// stays, and goes unknown.
		g.Eventually(func(g Gomega) {
			n, err := cs.CoreV1().Nodes().Get(ctx, nodeName(cp1), metav1.GetOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(ready(*n).Status).To(Equal(corev1.ConditionUnknown))
		}).WithTimeout(15 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	})
}
