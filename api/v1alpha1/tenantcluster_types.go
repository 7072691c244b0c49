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
	// TenantProfileResolved says whether the profile the cluster names
	// exists: reason ProfileNotFound while it does not (nothing is
	// provisioned until it does), Resolved otherwise.
	TenantProfileResolved = "ProfileResolved"
	// TenantPacksReady says whether every pack of the profile is installed
	// in the cluster as specified: reason PacksInstalled, PacksPending (the
	// cluster's API server is not up yet, or a pack is on its way) or
	// PackFailed (see status.packs). Running requires it.
	TenantPacksReady = "PacksReady"
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

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// TenantClusterSpec is the desired bare-metal Kubernetes cluster.
// +kubebuilder:validation:XValidation:rule="has(self.profile) != has(self.profileRef)",message="exactly one of profile and profileRef must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.workers) || self.workers.all(w, w.name != 'control-plane')",message="worker pool name control-plane is reserved for the control-plane pool"
// +kubebuilder:validation:XValidation:rule="!has(self.network) || !has(self.network.podCIDR) || !cidr(self.network.podCIDR).containsIP(self.controlPlaneEndpoint)",message="controlPlaneEndpoint must lie outside podCIDR"
// +kubebuilder:validation:XValidation:rule="!has(self.network) || !has(self.network.serviceCIDR) || !cidr(self.network.serviceCIDR).containsIP(self.controlPlaneEndpoint)",message="controlPlaneEndpoint must lie outside serviceCIDR"
// +kubebuilder:validation:XValidation:rule="(has(self.controlPlane.size) ? self.controlPlane.size : 1) + (has(self.workers) ? self.workers.map(w, w.size).sum() : 0) <= 200",message="a TenantCluster has at most 200 machines (control plane and workers together), so that its status stays well within etcd's object size; split a larger fleet into several clusters"
type TenantClusterSpec struct {
	// description of the cluster, for people; also in the workload
	// annotations of its machines in MAAS.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`

	// tags of the cluster, for people and searches. They go into the
	// workload annotations of the cluster's machines in MAAS (with the
	// description), and onto its Nodes as labels when they join: "env:prod"
	// as tags.infra.maasgateway.io/env=prod, "gpu" as
	// tags.infra.maasgateway.io/gpu="" (a tag that makes no valid label is
	// left off the Nodes). Not MAAS machine tags: those are set per pool.
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

	// profileRef names the ClusterProfile, in this namespace, the cluster is
	// built from. The profile may be created after the cluster: the cluster
	// waits for it (condition ProfileResolved). Changes to the profile reach
	// the cluster: packs are upgraded in place, and a new OS image or
	// Kubernetes version rolls the machines. Exactly one of profileRef and
	// profile is set.
	// +optional
	ProfileRef *LocalObjectReference `json:"profileRef,omitempty"`

	// profile is a profile of this cluster's own, for one-off clusters.
	// +optional
	Profile *ClusterProfileSpec `json:"profile,omitempty"`

	// packOverrides merge values onto the profile's packs for this cluster
	// only, key by key as Helm merges values files: maps merge, anything else
	// (strings, numbers, lists) is replaced, and null removes a key.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +optional
	PackOverrides []PackOverride `json:"packOverrides,omitempty"`

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

	// loadBalancer reserves addresses in MAAS for the cluster's
	// LoadBalancer Services, so that MAAS hands them to no machine. It
	// cannot change once set: Services would lose their addresses.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="loadBalancer is immutable: Services hold its addresses"
	// +optional
	LoadBalancer *LoadBalancerPool `json:"loadBalancer,omitempty"`

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

// LoadBalancerPool is a block of addresses reserved in MAAS for a
// cluster's LoadBalancer Services: a count MAAS picks the first free block
// of, or a range given.
// +kubebuilder:validation:XValidation:rule="has(self.addresses) != has(self.start)",message="give either addresses (a count) or start and end"
// +kubebuilder:validation:XValidation:rule="has(self.start) == has(self.end)",message="start and end go together"
// +kubebuilder:validation:XValidation:rule="!has(self.start) || !has(self.end) || ip(self.start).family() == ip(self.end).family()",message="start and end must be addresses of one family"
type LoadBalancerPool struct {
	// addresses is how many addresses to reserve: MAAS picks the first
	// free block of that many in the subnet.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	// +optional
	Addresses int32 `json:"addresses,omitempty"`

	// start and end are the first and last address of a given range.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="start must be an IP address"
	// +optional
	Start string `json:"start,omitempty"`
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="end must be an IP address"
	// +optional
	End string `json:"end,omitempty"`

	// subnet is the MAAS subnet (CIDR, name or id) of the range; empty
	// means the subnet of spec.controlPlaneEndpoint.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Subnet string `json:"subnet,omitempty"`

	// pack names the pack of the profile that is handed the range (a
	// load-balancer such as kube-vip's cloud provider or MetalLB), and
	// valuesKey where in its values: the range, as "first-last", is merged
	// over the pack's values and the cluster's override at that dotted
	// path. The pack waits until the range is reserved.
	// +kubebuilder:validation:MaxLength=53
	// +optional
	Pack string `json:"pack,omitempty"`
	// +kubebuilder:default=loadBalancerRange
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`
	// +optional
	ValuesKey string `json:"valuesKey,omitempty"`
}

// LoadBalancerStatus is the range MAAS holds for the cluster.
type LoadBalancerStatus struct {
	// start and end are its first and last address.
	Start string `json:"start"`
	End   string `json:"end"`
	// subnet is its MAAS subnet.
	// +optional
	Subnet string `json:"subnet,omitempty"`
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

// AppliedProfile names a profile revision.
type AppliedProfile struct {
	// name of the ClusterProfile; empty for the cluster's own spec.profile.
	// +optional
	Name string `json:"name,omitempty"`
	// revision is the ClusterProfile's metadata.generation, or the
	// TenantCluster's for its own profile.
	// +optional
	Revision int64 `json:"revision,omitempty"`
	// kubernetesVersion of the revision.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
}

// PackState is where a pack's installation stands.
// +kubebuilder:validation:Enum=Pending;Installed;Failed
type PackState string

const (
	// PackPending: not installed yet, or its change not applied yet.
	PackPending PackState = "Pending"
	// PackInstalled: the release in the cluster is the pack as specified.
	PackInstalled PackState = "Installed"
	// PackFailed: the last install or upgrade failed; it is retried with
	// a growing delay, and the message says what Helm said.
	PackFailed PackState = "Failed"
)

// PackStatus is one pack as installed into the cluster.
type PackStatus struct {
	// name of the pack and of its Helm release.
	// +required
	Name string `json:"name"`
	// namespace of the release.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// chart and version installed (the chart a manifests pack is wrapped in
	// is named after the pack).
	// +optional
	Chart string `json:"chart,omitempty"`
	// +optional
	Version string `json:"version,omitempty"`
	// revision of the Helm release.
	// +optional
	Revision int32 `json:"revision,omitempty"`
	// state of the pack.
	// +required
	State PackState `json:"state"`
	// message: Helm's error when Failed.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Message string `json:"message,omitempty"`
	// failures in a row; the next attempt waits longer after each.
	// +optional
	Failures int32 `json:"failures,omitempty"`
	// lastAttemptTime is when the pack was last installed or upgraded.
	// +optional
	LastAttemptTime *metav1.Time `json:"lastAttemptTime,omitempty"`
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

	// machines are the MAAS machines of the cluster, as MAAS last reported
	// them, and those released but not yet back in MAAS's free pool.
	// +kubebuilder:validation:MaxItems=300
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

	// profile is the profile revision the cluster runs: its packs are
	// installed, and every machine runs its OS image and Kubernetes version.
	// +optional
	Profile *AppliedProfile `json:"profile,omitempty"`

	// loadBalancer is the range reserved in MAAS for the cluster's
	// LoadBalancer Services.
	// +optional
	LoadBalancer *LoadBalancerStatus `json:"loadBalancer,omitempty"`

	// packs are the profile's packs as installed into the cluster, in the
	// order they are installed.
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +optional
	Packs []PackStatus `json:"packs,omitempty"`

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
// +kubebuilder:printcolumn:name="Kubernetes",type=string,JSONPath=`.status.profile.kubernetesVersion`
// +kubebuilder:printcolumn:name="Profile",type=string,JSONPath=`.spec.profileRef.name`
// +kubebuilder:printcolumn:name="Revision",type=integer,JSONPath=`.status.profile.revision`,priority=1
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
