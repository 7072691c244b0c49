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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NetworkPlugin is a network plugin as this world's kubelets see one: a
// DaemonSet in kube-system whose Pods mount the host's CNI configuration
// directory. Tests apply it to a cluster to make its Nodes Ready; its image
// never runs.
func NetworkPlugin() *appsv1.DaemonSet {
	labels := map[string]string{"app": "cni"}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: "cni"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "cni", Image: "registry.invalid/cni:1",
						VolumeMounts: []corev1.VolumeMount{{Name: "net", MountPath: "/host" + cniConfDir}}}},
					Volumes: []corev1.Volume{{Name: "net", VolumeSource: corev1.VolumeSource{
						HostPath: &corev1.HostPathVolumeSource{Path: cniConfDir}}}},
				},
			},
		},
	}
}
