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

package controlplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/maas-gateway/maas-gateway/internal/joinemu"
)

// leaseDuration is the kubelet's default node lease duration.
const leaseDuration = 40 * time.Second

// kubelet is a machine's emulated kubelet: it registers the Node, renews
// its Lease, reports its status (NotReady until a CNI is installed), runs
// the Pods bound to it and removes those deleted once their grace period
// is over.
type kubelet struct {
	m      *machine
	c      *cluster
	cs     kubernetes.Interface
	cancel context.CancelFunc
	done   chan struct{}

	registered bool
	lastReady  *bool
}

func (k *kubelet) dead() bool {
	select {
	case <-k.done:
		return true
	default:
		return false
	}
}

// startKubelet starts the machine's kubelet, unless one runs.
func (m *machine) startKubelet() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kubelet != nil && !m.kubelet.dead() {
		return
	}
	ctx, cancel := context.WithCancel(m.e.ctx)
	k := &kubelet{m: m, c: m.c, cancel: cancel, done: make(chan struct{})}
	m.kubelet = k
	m.e.wg.Go(func() {
		defer close(k.done)
		k.run(ctx)
	})
}

// stopKubelet kills the kubelet and waits for it to stop.
func (m *machine) stopKubelet() {
	m.mu.Lock()
	k := m.kubelet
	m.mu.Unlock()
	if k != nil {
		k.cancel()
		<-k.done
	}
}

// client is the kubelet's identity: a client certificate for
// system:node:<name> in group system:nodes, through the VIP. A real kubelet
// gets it by TLS bootstrap (its bootstrap token, a CSR that the
// controller manager approves and signs); the emulator signs it directly
// with the cluster CA, which it holds from the control planes' user data.
func (k *kubelet) client() (kubernetes.Interface, error) {
	crt, key, err := sign(k.c.pki.CA, certSpec{
		commonName: "system:node:" + k.m.nodeName, orgs: []string{"system:nodes"}, usages: clientAuth,
	})
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(&rest.Config{
		Host:            "https://" + k.c.dial,
		TLSClientConfig: k.c.tlsTo(rest.TLSClientConfig{CAData: k.c.pki.CA.Cert, CertData: crt, KeyData: key}),
		Timeout:         10 * time.Second,
		UserAgent:       "kubelet/" + k.m.ud.intent.KubernetesVersion + " (joinemu)",
	})
}

func (k *kubelet) run(ctx context.Context) {
	log := k.m.log.WithValues("node", k.m.nodeName)
	var err error
	if k.cs, err = k.client(); err != nil {
		log.Error(err, "kubelet cannot make its client")
		return
	}
	heartbeat := time.NewTicker(k.c.e.opts.Interval)
	defer heartbeat.Stop()
	pods := time.NewTicker(k.c.e.opts.PodSyncInterval)
	defer pods.Stop()
	beat := true // register or heartbeat now
	for {
		_, networkChanged := k.c.networkReady()
		// Registration is retried at every tick, heartbeats at their own.
		if !k.registered {
			if err := k.register(ctx); err != nil {
				if ctx.Err() == nil {
					log.V(1).Info("registering node; retrying", "error", err.Error())
				}
			} else {
				log.Info("node registered")
				beat = true
			}
		}
		if beat && k.registered {
			k.heartbeat(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			beat = true
		case <-networkChanged:
			// The kubelet sees the CNI come or go: status now.
			beat = true
		case <-pods.C:
			beat = false
			if k.registered {
				k.syncPods(ctx)
			}
		}
	}
}

// node is the Node the kubelet registers and reports, Ready when ready.
func (k *kubelet) node(ready bool) *corev1.Node {
	n := joinemu.DesiredNode(k.m.snap, k.m.ud.intent, ready, metav1.Now())
	// kubeadm labels control planes after registration: NodeRestriction
	// forbids a kubelet the node-role label.
	delete(n.Labels, joinemu.LabelControlPlane)
	delete(n.Labels, corev1.LabelNodeExcludeBalancers)
	return n
}

func (k *kubelet) ready() bool {
	ok, _ := k.c.networkReady()
	return ok
}

// register creates the Node as a kubelet does at start, or takes over the
// Node of the same machine registered before (a redeployment).
func (k *kubelet) register(ctx context.Context) error {
	want := k.node(k.ready())
	create := want.DeepCopy()
	create.Status = corev1.NodeStatus{}
	_, err := k.cs.CoreV1().Nodes().Create(ctx, create, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, gerr := k.cs.CoreV1().Nodes().Get(ctx, want.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if existing.Spec.ProviderID != want.Spec.ProviderID {
			return fmt.Errorf("a node %s of providerID %s is registered", want.Name, existing.Spec.ProviderID)
		}
		err = nil
	}
	if err != nil {
		return err
	}
	k.registered = true
	return nil
}

// heartbeat renews the Lease and reports the Node's status; a Node someone
// deleted is not registered again, as a running kubelet does not.
func (k *kubelet) heartbeat(ctx context.Context) {
	log := k.m.log.WithValues("node", k.m.nodeName)
	if err := k.renewLease(ctx); err != nil && ctx.Err() == nil {
		log.V(1).Info("renewing lease", "error", err.Error())
	}
	ready := k.ready()
	node, err := k.cs.CoreV1().Nodes().Get(ctx, k.m.nodeName, metav1.GetOptions{})
	if err != nil {
		if ctx.Err() == nil {
			log.V(1).Info("reading node", "error", err.Error())
		}
		return
	}
	want := k.node(ready)
	old := node.Status.Conditions
	node.Status = want.Status
	for i := range node.Status.Conditions {
		cond := &node.Status.Conditions[i]
		for _, o := range old {
			if o.Type == cond.Type && o.Status == cond.Status && !o.LastTransitionTime.IsZero() {
				cond.LastTransitionTime = o.LastTransitionTime
			}
		}
	}
	if _, err := k.cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		if ctx.Err() == nil {
			log.V(1).Info("reporting node status", "error", err.Error())
		}
		return
	}
	if k.lastReady == nil || *k.lastReady != ready {
		k.lastReady = &ready
		// The taints follow the condition (the node lifecycle controller's
		// job): have the stand-in look now rather than at its next round.
		k.c.pokeStandIns()
	}
}

func (k *kubelet) renewLease(ctx context.Context) error {
	leases := k.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, k.m.nodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, err := k.cs.CoreV1().Nodes().Get(ctx, k.m.nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.m.nodeName, OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
			}}},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       &k.m.nodeName,
				LeaseDurationSeconds: new(int32(leaseDuration / time.Second)),
				RenewTime:            &now,
			},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

// syncPods does the kubelet's part for the Pods bound to its Node: those
// it can start are reported Running and Ready (a Pod on the Pod network only
// once a CNI is installed), and those deleted are removed once their grace
// period is over.
func (k *kubelet) syncPods(ctx context.Context) {
	list, err := k.cs.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + k.m.nodeName})
	if err != nil {
		if ctx.Err() == nil {
			k.m.log.V(1).Info("listing pods", "node", k.m.nodeName, "error", err.Error())
		}
		return
	}
	network := k.ready()
	mirrors := map[string]bool{}
	for i := range list.Items {
		pod := &list.Items[i]
		switch {
		case isMirror(pod) && pod.DeletionTimestamp == nil:
			mirrors[pod.Name] = pod.Namespace == metav1.NamespaceSystem
			k.syncMirror(ctx, pod)
		case pod.DeletionTimestamp != nil:
			if time.Now().Before(pod.DeletionTimestamp.Time) {
				continue
			}
			err = k.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
				GracePeriodSeconds: new(int64(0)),
				Preconditions:      &metav1.Preconditions{UID: &pod.UID},
			})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
				k.m.log.V(1).Info("removing pod", "pod", pod.Namespace+"/"+pod.Name, "error", err.Error())
			}
		case pod.Status.Phase != corev1.PodPending && pod.Status.Phase != "":
			// Running already, or finished.
		case !pod.Spec.HostNetwork && !network:
			// No sandbox without a network: ContainerCreating forever.
		default:
			k.run1(ctx, pod)
		}
	}
	k.createMirrors(ctx, mirrors)
}

// run1 reports pod Running with every container started and ready.
func (k *kubelet) run1(ctx context.Context, pod *corev1.Pod) {
	now := metav1.Now()
	ip := k.m.ip.String()
	podIP := ip
	if !pod.Spec.HostNetwork {
		podIP = k.c.podIP()
	}
	st := &pod.Status
	st.Phase = corev1.PodRunning
	st.HostIP, st.HostIPs = ip, []corev1.HostIP{{IP: ip}}
	st.PodIP, st.PodIPs = podIP, []corev1.PodIP{{IP: podIP}}
	st.StartTime = &now
	for _, t := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady, corev1.PodScheduled} {
		i := slices.IndexFunc(st.Conditions, func(c corev1.PodCondition) bool { return c.Type == t })
		cond := corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now}
		if i < 0 {
			st.Conditions = append(st.Conditions, cond)
		} else if st.Conditions[i].Status != corev1.ConditionTrue {
			st.Conditions[i] = cond
		}
	}
	st.InitContainerStatuses = nil
	for _, c := range pod.Spec.InitContainers {
		st.InitContainerStatuses = append(st.InitContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, ContainerID: containerID(), Ready: true,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", StartedAt: now, FinishedAt: now}},
		})
	}
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, ContainerID: containerID(), Ready: true, Started: new(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	_, err := k.cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		k.m.log.V(1).Info("reporting pod status", "pod", pod.Namespace+"/"+pod.Name, "error", err.Error())
	}
}

func containerID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "containerd://" + hex.EncodeToString(b)
}
