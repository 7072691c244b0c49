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
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations the kubelet and kubeadm put on static Pods' mirror Pods.
const (
	mirrorAnnotation       = corev1.MirrorPodAnnotationKey // kubernetes.io/config.mirror
	configSourceAnnotation = "kubernetes.io/config.source"
	etcdURLsAnnotation     = "kubeadm.kubernetes.io/etcd.advertise-client-urls"
	apiEndpointAnnotation  = "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"
)

// etcdImage is the etcd image kubeadm v1.34 runs.
const etcdImage = "registry.k8s.io/etcd:3.6.4-0"

// staticPod is one of the static Pods kubeadm writes a manifest for on a
// control plane; here a process of the machine plays it.
type staticPod struct {
	component string
	image     string
	running   bool
	annotate  map[string]string
}

// staticPods are the machine's static Pods: etcd and kube-apiserver on a
// control plane, and kube-controller-manager where it runs. (There is no
// scheduler in this world, so no kube-scheduler Pod.)
func (k *kubelet) staticPods() []staticPod {
	m := k.m
	if !m.controlPlane() {
		return nil
	}
	st := m.state()
	version := m.ud.intent.KubernetesVersion
	pods := []staticPod{
		{component: "etcd", image: etcdImage, running: st.Etcd,
			annotate: map[string]string{etcdURLsAnnotation: m.clientURL()}},
		{component: "kube-apiserver", image: "registry.k8s.io/kube-apiserver:" + version, running: st.APIServer,
			annotate: map[string]string{apiEndpointAnnotation: m.apiAddr()}},
	}
	if m.e.opts.ControllerManager {
		pods = append(pods, staticPod{component: "kube-controller-manager",
			image: "registry.k8s.io/kube-controller-manager:" + version, running: st.ControllerManager})
	}
	return pods
}

func isMirror(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[mirrorAnnotation]
	return ok
}

// createMirrors creates the mirror Pods of the static Pods not among have,
// as the kubelet does (and does again when someone deletes one).
func (k *kubelet) createMirrors(ctx context.Context, have map[string]bool) {
	pods := slices.DeleteFunc(k.staticPods(), func(sp staticPod) bool { return have[sp.component+"-"+k.m.nodeName] })
	if len(pods) == 0 {
		return
	}
	node, err := k.cs.CoreV1().Nodes().Get(ctx, k.m.nodeName, metav1.GetOptions{})
	if err != nil {
		return
	}
	for _, sp := range pods {
		name := sp.component + "-" + k.m.nodeName
		sum := sha256.Sum256([]byte(name + sp.image))
		annotations := map[string]string{
			mirrorAnnotation:       hex.EncodeToString(sum[:16]),
			configSourceAnnotation: "file",
		}
		maps.Copy(annotations, sp.annotate)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: metav1.NamespaceSystem, Annotations: annotations,
				Labels: map[string]string{"component": sp.component, "tier": "control-plane"},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID, Controller: new(true),
				}},
			},
			Spec: corev1.PodSpec{
				NodeName:          k.m.nodeName,
				HostNetwork:       true,
				PriorityClassName: "system-node-critical",
				Tolerations:       []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
				Containers: []corev1.Container{{
					Name: sp.component, Image: sp.image, Command: []string{sp.component},
				}},
			},
		}
		if _, err := k.cs.CoreV1().Pods(metav1.NamespaceSystem).Create(ctx, pod, metav1.CreateOptions{}); err != nil &&
			!apierrors.IsAlreadyExists(err) && ctx.Err() == nil {
			k.m.log.V(1).Info("creating mirror pod", "pod", name, "error", err.Error())
		}
	}
}

// syncMirror reports a mirror Pod Running and Ready while its process
// runs, and not Ready (its container waiting in CrashLoopBackOff, as the
// kubelet restarting a crashed static Pod shows) while it does not.
func (k *kubelet) syncMirror(ctx context.Context, pod *corev1.Pod) {
	i := slices.IndexFunc(k.staticPods(), func(sp staticPod) bool { return sp.component+"-"+k.m.nodeName == pod.Name })
	if i < 0 {
		return // a mirror Pod of a static Pod this machine does not run
	}
	running := k.staticPods()[i].running
	ready := corev1.ConditionFalse
	if running {
		ready = corev1.ConditionTrue
	}
	if pod.Status.Phase == corev1.PodRunning && podCondition(pod, corev1.PodReady) == ready {
		return
	}
	if running {
		k.run1(ctx, pod)
		return
	}
	now := metav1.Now()
	st := &pod.Status
	st.Phase = corev1.PodRunning
	ip := k.m.ip.String()
	st.HostIP, st.HostIPs, st.PodIP, st.PodIPs = ip, []corev1.HostIP{{IP: ip}}, ip, []corev1.PodIP{{IP: ip}}
	if st.StartTime == nil {
		st.StartTime = &now
	}
	for _, t := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
		setPodCondition(pod, corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: "ContainersNotReady",
			Message: "containers with unready status: [" + pod.Spec.Containers[0].Name + "]", LastTransitionTime: now})
	}
	st.ContainerStatuses = []corev1.ContainerStatus{{
		Name: pod.Spec.Containers[0].Name, Image: pod.Spec.Containers[0].Image, ImageID: pod.Spec.Containers[0].Image,
		Ready: false, Started: new(false), RestartCount: restarts(pod) + 1,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "CrashLoopBackOff", Message: "back-off restarting failed container " + pod.Spec.Containers[0].Name,
		}},
	}}
	if _, err := k.cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil &&
		!apierrors.IsConflict(err) && ctx.Err() == nil {
		k.m.log.V(1).Info("reporting mirror pod status", "pod", pod.Name, "error", err.Error())
	}
}

func restarts(pod *corev1.Pod) int32 {
	if len(pod.Status.ContainerStatuses) == 0 {
		return 0
	}
	return pod.Status.ContainerStatuses[0].RestartCount
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func setPodCondition(pod *corev1.Pod, cond corev1.PodCondition) {
	i := slices.IndexFunc(pod.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == cond.Type })
	switch {
	case i < 0:
		pod.Status.Conditions = append(pod.Status.Conditions, cond)
	case pod.Status.Conditions[i].Status != cond.Status:
		pod.Status.Conditions[i] = cond
	}
}
