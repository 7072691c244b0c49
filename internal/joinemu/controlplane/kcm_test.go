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
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/joinemu/controlplane"
)

// A drain as the operator will do it: with kube-controller-manager's
// disruption controller keeping the PodDisruptionBudget's status, the
// eviction API lets one of two Pods go and refuses the second (429), and
// the kubelet removes the evicted Pod after its grace period.
func TestEvictionWithDisruptionController(t *testing.T) {
	g := NewWithT(t)
	ms := newMachines(1)
	cp := ms[0]
	srv, maas := startSim(t, ms)
	tn := newTenant(t, "drained")
	e := newEmulator(t, srv, controlplane.Options{Interval: time.Second, ControllerManager: true})
	ctx := context.Background()

	deploy(t, maas, cp.SystemID, tn.userData(t, bootstrap.RoleInitControlPlane, cp.SystemID))
	g.Eventually(func() controlplane.MachineState { return e.State(cp.SystemID) }).
		WithTimeout(2 * time.Minute).WithPolling(200 * time.Millisecond).
		Should(Equal(controlplane.MachineState{Etcd: true, APIServer: true, ControllerManager: true, Kubelet: true}))

	cs := tn.client(t)
	for i := range 2 {
		_, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", i), Namespace: "default", Labels: map[string]string{"app": "x"}},
			Spec: corev1.PodSpec{
				NodeName: nodeName(cp), HostNetwork: true, TerminationGracePeriodSeconds: new(int64(1)),
				Containers: []corev1.Container{{Name: "c", Image: "registry.example/x:v1"}},
			},
		}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
	}
	_, err := cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: new(intstr.FromInt32(1)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
		},
	}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func(g Gomega) {
		pdb, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "x", metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(pdb.Status.CurrentHealthy).To(BeEquivalentTo(2))
		g.Expect(pdb.Status.DisruptionsAllowed).To(BeEquivalentTo(1))
	}).WithTimeout(time.Minute).WithPolling(200 * time.Millisecond).Should(Succeed())

	evict := func(name string) error {
		return cs.PolicyV1().Evictions("default").Evict(ctx, &policyv1.Eviction{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		})
	}
	g.Expect(evict("app-0")).To(Succeed())
	err = evict("app-1")
	g.Expect(apierrors.IsTooManyRequests(err)).To(BeTrue(), "second eviction: %v", err)
	g.Eventually(func() bool {
		_, err := cs.CoreV1().Pods("default").Get(ctx, "app-0", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}).WithTimeout(15 * time.Second).WithPolling(100 * time.Millisecond).Should(BeTrue())
}
