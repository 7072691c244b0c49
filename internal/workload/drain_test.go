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
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	testenv "github.com/maas-gateway/maas-gateway/test/envtest"
)

// startAPIServer starts a bare kube-apiserver and etcd: no kubelet, no
// controllers, so pods stay exactly as the test leaves them. A deleted pod
// bound to a Node stays Terminating until the test plays the kubelet.
func startAPIServer(t *testing.T) (client.Client, Evicter) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	env, err := testenv.New(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env.CRDDirectoryPaths = nil
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting the API server: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, RESTEvicter{Client: cs}
}

func mkNode(t *testing.T, c client.Client, name string, ready corev1.ConditionStatus) *corev1.Node {
	t.Helper()
	ctx := context.Background()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: "Test", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if err := c.Status().Update(ctx, n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mkPod(t *testing.T, c client.Client, name, nodeName string, mutate func(*corev1.Pod)) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeName:                      nodeName,
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			Containers:                    []corev1.Container{{Name: "c", Image: "registry.invalid/app:1"}},
		},
	}
	if mutate != nil {
		mutate(p)
	}
	status := p.Status
	if err := c.Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	// Running and Ready, as a kubelet reports: the eviction API lets pending
	// pods go whatever their budget says.
	if status.Phase == "" {
		status.Phase = corev1.PodRunning
		status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	p.Status = status
	if err := c.Status().Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// kubeletFinishes removes a terminating pod as its kubelet would once the
// containers stopped.
func kubeletFinishes(t *testing.T, c client.Client, name string) {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
	if err := c.Delete(context.Background(), p, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

func refs(names ...string) []PodRef {
	out := make([]PodRef, 0, len(names))
	for _, n := range names {
		out = append(out, PodRef{Namespace: "default", Name: n})
	}
	return out
}

func TestDrain(t *testing.T) {
	c, ev := startAPIServer(t)
	ctx := context.Background()
	node := mkNode(t, c, "worker-1", corev1.ConditionTrue)
	mkNode(t, c, "worker-2", corev1.ConditionTrue)

	mkPod(t, c, "web", "worker-1", nil)
	mkPod(t, c, "db", "worker-1", nil)
	mkPod(t, c, "elsewhere", "worker-2", nil)
	mkPod(t, c, "done", "worker-1", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded })
	mkPod(t, c, "agent", "worker-1", func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "u1", Controller: new(true)}}
	})
	mkPod(t, c, "static", "worker-1", func(p *corev1.Pod) {
		p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "hash"}
	})
	// A budget that allows no disruption: without a disruption controller
	// its status says 0 allowed, as a real one would for minAvailable 1 of 1.
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db-budget"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: new(intstr.FromInt32(1)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		},
	}
	if err := c.Create(ctx, pdb); err != nil {
		t.Fatal(err)
	}

	// Step 1: cordoned, web evicted, db blocked by its budget; the
	// DaemonSet, mirror, finished and other node's pods untouched.
	st, err := Drain(ctx, c, ev, node, time.Now())
	if err != nil {
		t.Fatalf("drain: %v", err)
	}
	if !slices.Equal(st.Evicted, refs("web")) || len(st.Terminating) != 0 {
		t.Fatalf("step 1: evicted %v, terminating %v; want web evicted", st.Evicted, st.Terminating)
	}
	if len(st.Blocked) != 1 || st.Blocked[0].Pod.Name != "db" || st.Blocked[0].Budget != "db-budget" || st.Blocked[0].Message == "" {
		t.Fatalf("step 1: blocked %+v, want db blocked by db-budget with the API server's message", st.Blocked)
	}
	if s := st.String(); !strings.Contains(s, "PodDisruptionBudget default/db-budget keeps pod default/db") {
		t.Fatalf("status message %q does not name the budget and pod", s)
	}
	got := &corev1.Node{}
	if err := c.Get(ctx, client.ObjectKey{Name: "worker-1"}, got); err != nil || !got.Spec.Unschedulable {
		t.Fatalf("worker-1 not cordoned: %v", err)
	}
	for _, name := range []string{"agent", "static", "done", "elsewhere"} {
		p := &corev1.Pod{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, p); err != nil || p.DeletionTimestamp != nil {
			t.Fatalf("pod %s was touched by the drain: %v", name, err)
		}
	}

	// Step 2: web is terminating (no kubelet finished it), db still blocked.
	st, err = Drain(ctx, c, ev, node, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Terminating, refs("web")) || len(st.Evicted) != 0 || len(st.Blocked) != 1 || st.Done() {
		t.Fatalf("step 2: %+v, want web terminating and db blocked", st)
	}

	// The kubelet finishes web; the budget goes: db is evicted.
	kubeletFinishes(t, c, "web")
	if err := c.Delete(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	st, err = Drain(ctx, c, ev, node, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Evicted, refs("db")) || len(st.Blocked) != 0 || len(st.Terminating) != 0 {
		t.Fatalf("step 3: %+v, want db evicted", st)
	}
	kubeletFinishes(t, c, "db")
	st, err = Drain(ctx, c, ev, node, time.Now())
	if err != nil || !st.Done() || st.String() != "drained" {
		t.Fatalf("step 4: %+v (%v), want drained", st, err)
	}
}

// TestDrainUnreachable: the pods of a Node whose kubelet is gone are evicted
// with a one-second grace period and no longer waited for once it passed.
func TestDrainUnreachable(t *testing.T) {
	c, ev := startAPIServer(t)
	ctx := context.Background()
	node := mkNode(t, c, "dead", corev1.ConditionUnknown)
	mkPod(t, c, "stuck", "dead", nil)

	st, err := Drain(ctx, c, ev, node, time.Now())
	if err != nil || !slices.Equal(st.Evicted, refs("stuck")) {
		t.Fatalf("step 1: %+v (%v), want stuck evicted", st, err)
	}
	p := &corev1.Pod{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "stuck"}, p); err != nil {
		t.Fatal(err)
	}
	if p.DeletionTimestamp == nil || p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 1 {
		t.Fatalf("stuck deleting with grace %v, want 1 s", p.DeletionGracePeriodSeconds)
	}
	// Within the grace period it is still waited for...
	st, _ = Drain(ctx, c, ev, node, p.DeletionTimestamp.Time)
	if !slices.Equal(st.Terminating, refs("stuck")) {
		t.Fatalf("within the grace period: %+v, want stuck terminating", st)
	}
	// ...and not after: no kubelet will ever finish it.
	st, err = Drain(ctx, c, ev, node, p.DeletionTimestamp.Add(2*time.Second))
	if err != nil || !st.Done() {
		t.Fatalf("after the grace period: %+v (%v), want drained", st, err)
	}
}
