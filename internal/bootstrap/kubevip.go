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

package bootstrap

import (
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultKubeVIPImage is the kube-vip image control-plane nodes run unless
// NodeConfig.KubeVIPImage names another (a mirror, in an offline site).
const DefaultKubeVIPImage = "ghcr.io/kube-vip/kube-vip:v1.0.0"

const (
	kubeVIPManifestPath = "/etc/kubernetes/manifests/kube-vip.yaml"
	adminConfPath       = "/etc/kubernetes/admin.conf"
	// superAdminConfPath is where kubeadm init (1.29 and later) writes the
	// system:masters kubeconfig. On the first control plane, admin.conf has
	// no rights until kubeadm creates its RBAC binding through the API server,
	// which kubeadm reaches through the VIP that kube-vip has yet to hold:
	// kube-vip must use super-admin.conf there to break that cycle.
	superAdminConfPath = "/etc/kubernetes/super-admin.conf"
)

// kubeVIPPod returns the static Pod that holds the control-plane VIP by ARP
// on iface. The kube-vip instances of all control-plane nodes elect a leader
// through a Lease, and the leader answers ARP for the VIP.
func kubeVIPPod(image string, vip netip.Addr, port int32, iface, kubeconfig string) *corev1.Pod {
	cidr := "32"
	if vip.Is6() {
		cidr = "128"
	}
	env := []corev1.EnvVar{
		{Name: "vip_arp", Value: "true"},
		{Name: "vip_interface", Value: iface},
		{Name: "address", Value: vip.String()},
		{Name: "vip_cidr", Value: cidr},
		{Name: "port", Value: strconv.Itoa(int(port))},
		{Name: "cp_enable", Value: "true"},
		{Name: "cp_namespace", Value: metav1.NamespaceSystem},
		{Name: "vip_leaderelection", Value: "true"},
		{Name: "vip_leasename", Value: "plndr-cp-lock"},
		{Name: "vip_leaseduration", Value: "5"},
		{Name: "vip_renewdeadline", Value: "3"},
		{Name: "vip_retryperiod", Value: "1"},
	}
	fileType := corev1.HostPathFile
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "kube-vip", Namespace: metav1.NamespaceSystem},
		Spec: corev1.PodSpec{
			HostNetwork:       true,
			PriorityClassName: "system-node-critical",
			// In control-plane mode kube-vip talks to the API server as
			// https://kubernetes:<port>, a name in the serving certificate;
			// this alias keeps it on the local API server, not the VIP.
			HostAliases: []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{"kubernetes"}}},
			Containers: []corev1.Container{{
				Name:            "kube-vip",
				Image:           image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Args:            []string{"manager"},
				Env:             env,
				SecurityContext: &corev1.SecurityContext{
					Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN", "NET_RAW"}},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "kubeconfig", MountPath: adminConfPath, ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{
				Name: "kubeconfig",
				// HostPathFile, not the default: a missing kubeconfig must fail
				// the Pod until kubeadm writes it, not leave a directory in its
				// place that kubeadm then trips over.
				VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: kubeconfig, Type: &fileType}},
			}},
		},
	}
}
