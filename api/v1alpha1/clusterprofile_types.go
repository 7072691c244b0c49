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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PackLayer is what a pack is to its cluster. The layer decides the order
// of installation: network first, since no Node is Ready without it.
// +kubebuilder:validation:Enum=cni;csi;addon
type PackLayer string

const (
	// PackLayerCNI is the cluster's network plugin: one per profile at most.
	PackLayerCNI PackLayer = "cni"
	// PackLayerCSI is a storage driver.
	PackLayerCSI PackLayer = "csi"
	// PackLayerAddon is anything else.
	PackLayerAddon PackLayer = "addon"
)

// ChartSource is where a pack's Helm chart comes from.
type ChartSource struct {
	// repository is a Helm chart repository (https://…, serving index.yaml)
	// or an OCI registry path (oci://registry.example.com/charts).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self.replace('oci://', 'https://')) && (self.startsWith('https://') || self.startsWith('http://') || self.startsWith('oci://'))",message="repository must be an https://, http:// or oci:// URL"
	// +required
	Repository string `json:"repository"`

	// name of the chart in the repository.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`
	// +required
	Name string `json:"name"`

	// version of the chart: an exact semantic version, so that a cluster
	// changes only when its profile does.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +required
	Version string `json:"version"`

	// credentialsSecretRef names a Secret, in the profile's namespace, with
	// what reaching the repository takes: keys username and password (basic
	// authentication, for chart repositories and registries) and ca.crt (a
	// PEM bundle trusted beside the system's roots).
	// +optional
	CredentialsSecretRef *LocalObjectReference `json:"credentialsSecretRef,omitempty"`
}

// Pack is one layer of a cluster profile: a Helm chart, or plain manifests,
// installed into the cluster as one Helm release named after the pack.
// +kubebuilder:validation:XValidation:rule="has(self.chart) != has(self.manifests)",message="a pack has exactly one of chart and manifests"
// +kubebuilder:validation:XValidation:rule="!has(self.manifests) || !has(self.values)",message="values apply to charts; manifests take none"
type Pack struct {
	// name of the pack, e.g. cni-calico; also the name of its Helm release.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=53
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`

	// layer of the pack: cni (at most one per profile, installed first),
	// csi or addon.
	// +kubebuilder:default=addon
	// +optional
	Layer PackLayer `json:"layer,omitempty"`

	// namespace of the cluster the pack is installed into (created when
	// missing).
	// +kubebuilder:default=kube-system
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// chart is the Helm chart of the pack.
	// +optional
	Chart *ChartSource `json:"chart,omitempty"`

	// manifests are plain YAML documents, installed as they are (no
	// templating).
	// +kubebuilder:validation:MaxLength=262144
	// +optional
	Manifests string `json:"manifests,omitempty"`

	// values is the chart's configuration as YAML, merged onto the chart's
	// own values.yaml.
	// +kubebuilder:validation:MaxLength=262144
	// +optional
	Values string `json:"values,omitempty"`
}

// PackOverride merges values onto one pack of the profile for one cluster.
type PackOverride struct {
	// name of the pack in the profile.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=53
	// +required
	Name string `json:"name"`
	// values merged onto the profile's values of the pack, as YAML.
	// +kubebuilder:validation:MaxLength=262144
	// +required
	Values string `json:"values"`
}

// NodePackages installs the container runtime and the Kubernetes node
// packages at boot, so that a stock Ubuntu image from MAAS can be used. The
// node's proxy settings apply to the downloads.
// +kubebuilder:validation:XValidation:rule="!has(self.kubernetesRepository) || self.kubernetesRepository.startsWith('https://') || (self.kubernetesRepository.startsWith('http://') && has(self.kubernetesRepositoryKey))",message="kubernetesRepository must be https://, or http:// with kubernetesRepositoryKey (apt then checks the packages against the key)"
type NodePackages struct {
	// kubernetesRepository is the apt repository of kubeadm, kubelet and
	// kubectl, laid out as pkgs.k8s.io is (e.g. a mirror of it). Empty means
	// pkgs.k8s.io's repository of the profile's Kubernetes minor release.
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="isURL(self)",message="kubernetesRepository must be a URL"
	// +optional
	KubernetesRepository string `json:"kubernetesRepository,omitempty"`

	// kubernetesRepositoryKey is the repository's ASCII-armoured OpenPGP
	// public key. Empty means the key is fetched from the repository at
	// boot, trusted through TLS alone.
	// +kubebuilder:validation:MaxLength=32768
	// +optional
	KubernetesRepositoryKey string `json:"kubernetesRepositoryKey,omitempty"`

	// containerdPackage is the Ubuntu package that provides containerd.
	// +kubebuilder:default=containerd
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.+-]*$`
	// +optional
	ContainerdPackage string `json:"containerdPackage,omitempty"`
}

// ClusterProfileSpec is what a cluster is built from: the OS image and
// Kubernetes version of its machines, and the packs installed into it.
// +kubebuilder:validation:XValidation:rule="!has(self.packs) || self.packs.filter(p, has(p.layer) && p.layer == 'cni').size() <= 1",message="a profile has one cni pack at most"
type ClusterProfileSpec struct {
	// description of the profile, for people.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`

	// osImage is the MAAS boot resource machines are deployed with, as
	// osystem/distro_series (ubuntu/jammy) or a custom image name.
	// +kubebuilder:default="ubuntu/jammy"
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[a-z0-9][-a-z0-9_.]*(/[-a-z0-9_.]+)?$`
	// +optional
	OSImage string `json:"osImage,omitempty"`

	// kubernetesVersion to install, e.g. v1.34.2.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^v[0-9]+\.[0-9]+\.[0-9]+$`
	// +required
	KubernetesVersion string `json:"kubernetesVersion"`

	// nodePackages, when set, installs containerd, kubeadm, kubelet and
	// kubectl at boot: for a stock OS image. Unset means the image has them.
	// +optional
	NodePackages *NodePackages `json:"nodePackages,omitempty"`

	// packs installed into the cluster: the cni pack first, then the others
	// in this order.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +optional
	Packs []Pack `json:"packs,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=mcp,categories=maas
// +kubebuilder:printcolumn:name="Kubernetes",type=string,JSONPath=`.spec.kubernetesVersion`
// +kubebuilder:printcolumn:name="OS",type=string,JSONPath=`.spec.osImage`
// +kubebuilder:printcolumn:name="Revision",type=integer,JSONPath=`.metadata.generation`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ClusterProfile is a reusable template of tenant clusters: OS image,
// Kubernetes version and packs (network, storage, add-ons). TenantClusters
// name it in spec.profileRef; it cannot be deleted while one does. Its
// metadata.generation is its revision: each cluster's status says which it
// runs.
type ClusterProfile struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the profile.
	// +required
	Spec ClusterProfileSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// ClusterProfileList contains a list of ClusterProfile
type ClusterProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ClusterProfile `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &ClusterProfile{}, &ClusterProfileList{})
		return nil
	})
}
