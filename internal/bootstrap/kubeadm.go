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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The subset of kubeadm's v1beta4 configuration API (kubeadm.k8s.io/v1beta4,
// Kubernetes 1.31 and later) that the user data sets. Field names and JSON
// tags are kubeadm's; importing k8s.io/kubernetes for them would pull the
// whole of Kubernetes into the operator.

const kubeadmAPIVersion = "kubeadm.k8s.io/v1beta4"

// Kinds of the kubeadm documents written to the node.
const (
	kindInitConfiguration    = "InitConfiguration"
	kindClusterConfiguration = "ClusterConfiguration"
	kindJoinConfiguration    = "JoinConfiguration"
)

// kubeadmMinVersion is the first release whose kubeadm reads v1beta4.
const kubeadmMinVersion = "v1.31.0"

// containerdSocket is named explicitly: kubeadm refuses to guess when it
// finds more than one CRI socket on a node.
const containerdSocket = "unix:///run/containerd/containerd.sock"

// controlPlaneTaint is the taint kubeadm puts on control-plane nodes by default.
var controlPlaneTaint = corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}

type initConfiguration struct {
	metav1.TypeMeta  `json:",inline"`
	BootstrapTokens  []kubeadmBootstrapToken `json:"bootstrapTokens,omitempty"`
	NodeRegistration nodeRegistrationOptions `json:"nodeRegistration"`
	LocalAPIEndpoint *apiEndpoint            `json:"localAPIEndpoint,omitempty"`
	// CertificateKey encrypts the kubeadm-certs Secret that the
	// upload-certs phase writes (with --upload-certs).
	CertificateKey string `json:"certificateKey,omitempty"`
}

type clusterConfiguration struct {
	metav1.TypeMeta      `json:",inline"`
	ClusterName          string     `json:"clusterName,omitempty"`
	KubernetesVersion    string     `json:"kubernetesVersion,omitempty"`
	ControlPlaneEndpoint string     `json:"controlPlaneEndpoint,omitempty"`
	Networking           networking `json:"networking"`
	// EncryptionAlgorithm is the type of the keys kubeadm generates for the
	// nodes' own certificates, and of sa.key if it had to make one.
	EncryptionAlgorithm string `json:"encryptionAlgorithm,omitempty"`
}

type joinConfiguration struct {
	metav1.TypeMeta  `json:",inline"`
	NodeRegistration nodeRegistrationOptions `json:"nodeRegistration"`
	Discovery        discovery               `json:"discovery"`
	ControlPlane     *joinControlPlane       `json:"controlPlane,omitempty"`
	Timeouts         *timeouts               `json:"timeouts,omitempty"`
}

// kubeadmBootstrapToken is kubeadm's bootstraptoken/v1 BootstrapToken: the
// token kubeadm init creates in the new cluster for the other nodes.
type kubeadmBootstrapToken struct {
	Token       string           `json:"token"`
	Description string           `json:"description,omitempty"`
	TTL         *metav1.Duration `json:"ttl,omitempty"`
	Usages      []string         `json:"usages,omitempty"`
	Groups      []string         `json:"groups,omitempty"`
}

type nodeRegistrationOptions struct {
	CRISocket string `json:"criSocket,omitempty"`
	// Taints has no omitempty, as in kubeadm: a missing or null list lets
	// kubeadm taint a control-plane node, an empty one leaves it untainted.
	Taints           []corev1.Taint `json:"taints"`
	KubeletExtraArgs []kubeadmArg   `json:"kubeletExtraArgs,omitempty"`
}

type kubeadmArg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type apiEndpoint struct {
	AdvertiseAddress string `json:"advertiseAddress,omitempty"`
	BindPort         int32  `json:"bindPort,omitempty"`
}

type networking struct {
	ServiceSubnet string `json:"serviceSubnet,omitempty"`
	PodSubnet     string `json:"podSubnet,omitempty"`
}

type discovery struct {
	BootstrapToken *bootstrapTokenDiscovery `json:"bootstrapToken,omitempty"`
}

type bootstrapTokenDiscovery struct {
	Token             string   `json:"token"`
	APIServerEndpoint string   `json:"apiServerEndpoint,omitempty"`
	CACertHashes      []string `json:"caCertHashes,omitempty"`
}

type joinControlPlane struct {
	LocalAPIEndpoint *apiEndpoint `json:"localAPIEndpoint,omitempty"`
	// CertificateKey decrypts the kubeadm-certs Secret the shared keys
	// are downloaded from.
	CertificateKey string `json:"certificateKey,omitempty"`
}

type timeouts struct {
	Discovery *metav1.Duration `json:"discovery,omitempty"`
}

func kubeadmTypeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: kubeadmAPIVersion, Kind: kind}
}

func duration(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
