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
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TenantCluster condition types, beside Ready.
const (
	// TenantMachinesReady is True when every pool has its desired machines deployed.
	TenantMachinesReady = "MachinesReady"
	// TenantControlPlaneReady is True when the control-plane pool is fully deployed.
	TenantControlPlaneReady = "ControlPlaneReady"
	// TenantQueued is True while provisioning waits, e.g. for a gateway upgrade.
	TenantQueued = "Queued"
	// TenantNodesDrained is False while a machine to be released waits for
	// its Node to drain or its etcd member to go: reason Draining,
	// DrainTimedOut (past the pool's drainTimeout) or WaitingForQuorum.
	TenantNodesDrained = "NodesDrained"
	// TenantNodesHealthy says whether every machine's Node is Ready in the
	// cluster: reason AllNodesReady, NodeNotReady, Remediating (machines past
	// healthCheck.unhealthyTimeout are being replaced) or RemediationHeld
	// (more than healthCheck.maxUnhealthy are unhealthy, so none is).
	// Present only while the operator looks inside its clusters.
	TenantNodesHealthy = "NodesHealthy"
	// TenantForceDeleted records that the finalizer was dropped by force and
	// which MAAS machines may have been left behind.
	TenantForceDeleted = "ForceDeleted"
)

// ControlPlanePoolName is the name the control-plane pool has in status.
const ControlPlanePoolName = "control-plane"

// TenantClusterPhase is a one-word summary of a TenantCluster.
// +kubebuilder:validation:Enum=Pending;Queued;Provisioning;Running;Updating;Deleting;Failed
type TenantClusterPhase string

const (
	TenantPhasePending      TenantClusterPhase = "Pending"
	TenantPhaseQueued       TenantClusterPhase = "Queued"
	TenantPhaseProvisioning TenantClusterPhase = "Provisioning"
	TenantPhaseRunning      TenantClusterPhase = "Running"
	TenantPhaseUpdating     TenantClusterPhase = "Updating"
	TenantPhaseDeleting     TenantClusterPhase = "Deleting"
	TenantPhaseFailed       TenantClusterPhase = "Failed"
)

// Pack is one layer of a cluster profile (CNI, CSI, add-ons) and its values.
type Pack struct {
	// name of the pack, e.g. cni-calico.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`
	// version of the pack.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Version string `json:"version,omitempty"`
	// values is the pack's configuration as YAML.
	// +kubebuilder:validation:MaxLength=262144
	// +optional
	Values string `json:"values,omitempty"`
}

// PackOverride replaces the values of one pack of the profile for this cluster.
type PackOverride struct {
	// name of the pack in the profile.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`
	// values replacing the profile's values, as YAML.
	// +kubebuilder:validation:MaxLength=262144
	// +required
	Values string `json:"values"`
}

// ClusterProfile is the template a tenant cluster is built from.
type ClusterProfile struct {
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

	// packs layered on the cluster, in order.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +optional
	Packs []Pack `json:"packs,omitempty"`

	// packOverrides replace the values of packs for this cluster.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +optional
	PackOverrides []PackOverride `json:"packOverrides,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// TenantClusterSpec is the desired bare-metal Kubernetes cluster.
// +kubebuilder:validation:XValidation:rule="!has(self.workers) || self.workers.all(w, w.name != 'control-plane')",message="worker pool name control-plane is reserved for the control-plane pool"
// +kubebuilder:validation:XValidation:rule="!has(self.network) || !has(self.network.podCIDR) || !cidr(self.network.podCIDR).containsIP(self.controlPlaneEndpoint)",message="controlPlaneEndpoint must lie outside podCIDR"
// +kubebuilder:validation:XValidation:rule="!has(self.network) || !has(self.network.serviceCIDR) || !cidr(self.network.serviceCIDR).containsIP(self.controlPlaneEndpoint)",message="controlPlaneEndpoint must lie outside serviceCIDR"
type TenantClusterSpec struct {
	// description of the cluster, for people.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`

	// tags of the cluster, for people and searches. Not MAAS machine tags:
	// those are set per pool.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=128
	// +listType=set
	// +optional
	Tags []string `json:"tags,omitempty"`

	// cloudAccountRef names the CloudAccount, in this namespace, whose MAAS and
	// credentials the cluster is provisioned with. It cannot change.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="cloudAccountRef is immutable: a cluster cannot move to another MAAS"
	// +required
	CloudAccountRef LocalObjectReference `json:"cloudAccountRef"`

	// domain is the MAAS DNS domain of the cluster's machines.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Domain string `json:"domain,omitempty"`

	// profile is the template the cluster is built from.
	// +required
	Profile ClusterProfile `json:"profile"`

	// controlPlaneEndpoint is the virtual IP of the cluster's API server.
	// It cannot change.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="controlPlaneEndpoint must be an IP address"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="controlPlaneEndpoint is immutable"
	// +required
	ControlPlaneEndpoint string `json:"controlPlaneEndpoint"`

	// vipInterface is the network interface of the control-plane machines
	// that holds the control-plane VIP, as MAAS names it in the deployed OS.
	// +kubebuilder:default=eth0
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9._-]{1,15}$`
	// +optional
	VIPInterface string `json:"vipInterface,omitempty"`

	// network ranges of the cluster; empty fields take the gateway's.
	// +optional
	Network *ClusterNetwork `json:"network,omitempty"`

	// proxy settings of the cluster's machines; when unset, the gateway's.
	// +optional
	Proxy *ProxySettings `json:"proxy,omitempty"`

	// controlPlane is the pool of control-plane machines.
	// +required
	ControlPlane ControlPlanePool `json:"controlPlane"`

	// healthCheck says when a machine whose Node stops being Ready is
	// released and replaced, as Cluster API's MachineHealthCheck does.
	// Unset means its defaults.
	// +optional
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`

	// workers are the worker pools.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	// +optional
	Workers []NodePool `json:"workers,omitempty"`
}

// HealthCheck bounds how the operator replaces machines whose Node is not
// Ready. A Node that never appears is handled by the manager's join
// timeout (counted from MAAS Deployed); this is for Nodes that were there.
type HealthCheck struct {
	// unhealthyTimeout is how long a Node may stay not Ready (its Ready
	// condition False or Unknown, as its cluster says) before its machine
	// is drained, released and replaced. Bare-metal machines are slow and
	// dear to replace: a reboot or a short network blip must not cost one.
	// 0s turns remediation off.
	// +kubebuilder:default="10m"
	// +optional
	UnhealthyTimeout *metav1.Duration `json:"unhealthyTimeout,omitempty"`

	// maxUnhealthy stops all remediation while more machines than this (a
	// number, or a percentage of the cluster's machines, rounded down) are
	// unhealthy: a fault of the whole cluster, such as a missing network
	// plugin or a partition, is not mended by replacing machines.
	// +kubebuilder:default="40%"
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^(100|[1-9]?[0-9])%$')",message="maxUnhealthy must be a non-negative number or a percentage from 0% to 100%"
	// +optional
	MaxUnhealthy *intstr.IntOrString `json:"maxUnhealthy,omitempty"`
}

// TenantClusterStatus is the observed state of a tenant cluster.
type TenantClusterStatus struct {
	// phase summarises the cluster.
	// +optional
	Phase TenantClusterPhase `json:"phase,omitempty"`

	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// readyMachines is the number of machines deployed and current, over all pools.
	// +optional
	ReadyMachines int32 `json:"readyMachines,omitempty"`

	// desiredMachines is the number of machines the spec asks for.
	// +optional
	DesiredMachines int32 `json:"desiredMachines,omitempty"`

	// pools: ready and desired machines of the control plane and of each worker pool.
	// +listType=map
	// +listMapKey=name
	// +optional
	Pools []PoolStatus `json:"pools,omitempty"`

	// machines are the MAAS machines of the cluster, as MAAS last reported them.
	// +listType=map
	// +listMapKey=systemID
	// +optional
	Machines []MachineStatus `json:"machines,omitempty"`

	// kubeconfigSecretRef names the Secret with an admin kubeconfig for the cluster.
	// +optional
	KubeconfigSecretRef *LocalObjectReference `json:"kubeconfigSecretRef,omitempty"`

	// kubeconfigExpiresAt is when the client certificate of the admin
	// kubeconfig Secret expires. The operator writes a new one well before.
	// +optional
	KubeconfigExpiresAt *metav1.Time `json:"kubeconfigExpiresAt,omitempty"`

	// workload is what the operator observed inside the cluster: its Nodes
	// and etcd, as the cluster's own API server and etcd report them. When
	// the operator looks inside its clusters, a machine counts Ready only
	// when its Node is Ready there.
	// +optional
	Workload *WorkloadStatus `json:"workload,omitempty"`

	// failedDeployments counts MAAS deployments that failed and were replaced.
	// +optional
	FailedDeployments int32 `json:"failedDeployments,omitempty"`

	// forceDeleteAllowedAt is when a cluster stuck in deletion may be force
	// deleted with the infra.maasgateway.io/force-delete annotation.
	// +optional
	ForceDeleteAllowedAt *metav1.Time `json:"forceDeleteAllowedAt,omitempty"`

	// conditions: Ready, MachinesReady, ControlPlaneReady, Queued, ForceDeleted.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mtc,categories=maas
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyMachines`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.status.desiredMachines`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.controlPlaneEndpoint`
// +kubebuilder:printcolumn:name="Kubernetes",type=string,JSONPath=`.spec.profile.kubernetesVersion`
// +kubebuilder:printcolumn:name="Account",type=string,JSONPath=`.spec.cloudAccountRef.name`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// TenantCluster is a bare-metal Kubernetes cluster whose nodes are MAAS
// machines: a control-plane pool of 1, 3 or 5 and any number of worker pools.
// Deleting it releases every machine; a cluster stuck in deletion can be
// force-deleted after a delay.
type TenantCluster struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired cluster.
	// +required
	Spec TenantClusterSpec `json:"spec"`

	// status is the observed state of the cluster.
	// +optional
	Status TenantClusterStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// TenantClusterList contains a list of TenantCluster
type TenantClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []TenantCluster `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &TenantCluster{}, &TenantClusterList{})
		return nil
	})
}
