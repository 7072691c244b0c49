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

// Gateway condition types, beside Ready.
const (
	// GatewayMAASReachable is True when the gateway's MAAS answers with its credentials.
	GatewayMAASReachable = "MAASReachable"
	// GatewayResized is True when the gateway has as many Ready nodes as spec.replicas asks.
	GatewayResized = "Resized"
	// GatewayUpgraded is True when every node and component runs spec.release.
	GatewayUpgraded = "Upgraded"
	// GatewayUpgrading is True while nodes are being rolled onto a new release.
	GatewayUpgrading = "Upgrading"
	// GatewayNodesDrained is False while a gateway node to be released waits
	// for its drain or its etcd member to go: reason Draining, DrainTimedOut
	// (a PodDisruptionBudget keeps a pod past the drain timeout; the machine
	// is kept) or WaitingForQuorum.
	GatewayNodesDrained = "NodesDrained"
)

// GatewayPhase is a one-word summary of a Gateway.
// +kubebuilder:validation:Enum=Provisioning;Ready;Resizing;Upgrading;Degraded;Deleting
type GatewayPhase string

const (
	GatewayPhaseProvisioning GatewayPhase = "Provisioning"
	GatewayPhaseReady        GatewayPhase = "Ready"
	GatewayPhaseResizing     GatewayPhase = "Resizing"
	GatewayPhaseUpgrading    GatewayPhase = "Upgrading"
	GatewayPhaseDegraded     GatewayPhase = "Degraded"
	GatewayPhaseDeleting     GatewayPhase = "Deleting"
)

// Release is a gateway release: the OS image its nodes run and the versions of
// Kubernetes and of the gateway's own components. Releases are published in
// the release catalog the Helm chart installs; setting spec.release to a newer
// one starts an upgrade.
type Release struct {
	// version of the release in the catalog, e.g. 1.2.0.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$`
	// +required
	Version string `json:"version"`

	// osImage overrides the catalog's OS image: a MAAS boot resource as
	// osystem/distro_series (ubuntu/jammy) or a custom image name.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[a-z0-9][-a-z0-9_.]*(/[-a-z0-9_.]+)?$`
	// +optional
	OSImage string `json:"osImage,omitempty"`

	// kubernetesVersion overrides the catalog's Kubernetes version, e.g. v1.34.2.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^v[0-9]+\.[0-9]+\.[0-9]+$`
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
}

// UpgradeStatus is the progress of a rollout of a release onto the gateway's nodes.
type UpgradeStatus struct {
	// to is the release being rolled out, as resolved from the catalog;
	// unset when the nodes are rolled onto the default image (a placement
	// change on a gateway that names no release).
	// +optional
	To *Release `json:"to,omitempty"`
	// from is the release the nodes ran before, when known.
	// +optional
	From *Release `json:"from,omitempty"`
	// startedAt is when the rollout began.
	StartedAt metav1.Time `json:"startedAt"`
	// strategy of the rollout: ExpandFirst, or ContractFirst when MAAS has no
	// spare machine for a 3-node gateway.
	// +optional
	Strategy RollingUpdateStrategy `json:"strategy,omitempty"`
	// updatedNodes is the number of Ready nodes on the new release.
	// +optional
	UpdatedNodes int32 `json:"updatedNodes,omitempty"`
	// failures counts consecutive failed deployments of new nodes; the
	// rollout halts at two.
	// +optional
	Failures int32 `json:"failures,omitempty"`
	// countedFailures are the machines already counted in failures.
	// +listType=set
	// +optional
	CountedFailures []string `json:"countedFailures,omitempty"`
	// halted is true when the rollout stopped after failures: no further
	// node is touched until the annotation infra.maasgateway.io/retry-upgrade
	// is set, or spec.release changes (a rollback sets the previous release).
	// +optional
	Halted bool `json:"halted,omitempty"`
}

// ComponentVersion is the version of one gateway component as observed running.
type ComponentVersion struct {
	// name of the component, e.g. manager.
	Name string `json:"name"`
	// version running.
	Version string `json:"version"`
}

// GatewaySpec is the desired state of the gateway cluster.
// +kubebuilder:validation:XValidation:rule="!has(self.controlPlaneEndpoint) || !has(self.environment) || !has(self.environment.podCIDR) || !cidr(self.environment.podCIDR).containsIP(self.controlPlaneEndpoint)",message="controlPlaneEndpoint must lie outside podCIDR"
// +kubebuilder:validation:XValidation:rule="!has(self.controlPlaneEndpoint) || !has(self.environment) || !has(self.environment.serviceCIDR) || !cidr(self.environment.serviceCIDR).containsIP(self.controlPlaneEndpoint)",message="controlPlaneEndpoint must lie outside serviceCIDR"
// +kubebuilder:validation:XValidation:rule="!has(self.initialize) || !self.initialize || !has(self.adoptMachines) || size(self.adoptMachines) == 0",message="initialize creates the gateway cluster and adoptMachines names nodes of one that exists: set one of them"
// +kubebuilder:validation:XValidation:rule="!has(self.initialize) || !self.initialize || has(self.controlPlaneEndpoint)",message="initialize needs controlPlaneEndpoint: the new cluster's API server answers there"
// +kubebuilder:validation:XValidation:rule="(has(self.initialize) && self.initialize) == (has(oldSelf.initialize) && oldSelf.initialize)",message="initialize is immutable"
type GatewaySpec struct {
	// replicas is the number of gateway nodes: 1, or 3 for production.
	// A 1-node gateway is resized with kubectl scale mgw/NAME --replicas=3;
	// 3 back to 1 is refused (the etcd cluster would lose quorum).
	// +kubebuilder:default=1
	// +kubebuilder:validation:XValidation:rule="self == 1 || self == 3",message="replicas must be 1 or 3"
	// +kubebuilder:validation:XValidation:rule="!(oldSelf == 3 && self == 1)",message="a 3-node gateway cannot be shrunk to 1 node: etcd would lose quorum"
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// maas is the MAAS region the gateway's own nodes come from; its default
	// CloudAccount uses the same endpoint and credentials.
	// +required
	MAAS MAASConnection `json:"maas"`

	// placement of the gateway's nodes in MAAS.
	// +optional
	Placement Placement `json:"placement,omitempty"`

	// environment holds the proxies and address ranges written to every node
	// the gateway deploys, and the defaults of tenant clusters.
	// +optional
	Environment Environment `json:"environment,omitempty"`

	// controlPlaneEndpoint is the virtual IP of the gateway's API server.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="controlPlaneEndpoint must be an IP address"
	// +optional
	ControlPlaneEndpoint string `json:"controlPlaneEndpoint,omitempty"`

	// vipInterface is the network interface of the machines that holds the
	// control-plane VIP (kube-vip answers ARP for it there), as MAAS names
	// the boot interface of the deployed OS.
	// +kubebuilder:default=eth0
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9._-]{1,15}$`
	// +optional
	VIPInterface string `json:"vipInterface,omitempty"`

	// release the gateway should run. Changing it starts a rolling upgrade,
	// one node at a time. status.availableUpgrade announces newer releases.
	// +optional
	Release *Release `json:"release,omitempty"`

	// initialize says the gateway cluster does not exist yet: the operator
	// creates it, deploying its first node with kubeadm init from a PKI it
	// generates into the Secrets <name>-ca, -etcd, -proxy and -sa (not
	// owned by this object: the cluster outlives it). Set by maas-gateway
	// install, whose bootstrap cluster runs the operator until the gateway
	// is moved into itself. Without it the gateway cluster is the one the
	// operator was installed into, its first node named in adoptMachines.
	// +optional
	Initialize bool `json:"initialize,omitempty"`

	// adoptMachines are MAAS system IDs of machines that already are gateway
	// nodes (the machine helm install ran on), tracked and upgraded like the rest.
	// +kubebuilder:validation:MaxItems=3
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]{1,32}$`
	// +listType=set
	// +optional
	AdoptMachines []string `json:"adoptMachines,omitempty"`

	// drainTimeout is how long a gateway node may take to drain (its pods
	// evicted with their PodDisruptionBudgets respected, and gone) when it
	// leaves the cluster in an upgrade or a decommission. Past it the node
	// is still not released: condition NodesDrained turns False with reason
	// DrainTimedOut, naming the pod and budget that hold it, for a person to
	// decide. The gateway's pods are the operator's and the platform's, so a
	// budget that never allows is a fault to fix rather than wait out.
	// +kubebuilder:default="10m"
	// +optional
	DrainTimeout *metav1.Duration `json:"drainTimeout,omitempty"`

	// deletionPolicy says what deleting this object does to the gateway's
	// machines. Retain (the default) lets the object go and leaves every
	// machine deployed: the gateway cluster is where this operator runs, so
	// deleting the object that describes it (by mistake, or to reinstall
	// the operator) must not tear it down. Decommission drains and releases
	// every machine the gateway allocated, one at a time, the machine the
	// manager runs on last, and holds the deletion while MAAS cannot say
	// which machines those are. Adopted machines are never released.
	// +kubebuilder:default=Retain
	// +optional
	DeletionPolicy GatewayDeletionPolicy `json:"deletionPolicy,omitempty"`

	// allowedCloudAccounts says which namespaces may bind CloudAccounts to
	// this gateway (their spec.gatewayRef): an account binds the MAAS
	// installation's identity and holds the Gateway against deletion while
	// its clusters exist. By default only the Gateway's own namespace may,
	// where its default CloudAccount lives; an account from a namespace not
	// allowed is refused at admission, and one that stops being allowed is
	// no longer used (its Ready condition says NotAllowedByGateway). Modelled
	// on Gateway API's allowedRoutes.
	// +optional
	AllowedCloudAccounts AllowedCloudAccounts `json:"allowedCloudAccounts,omitzero"`
}

// AllowedCloudAccounts says which CloudAccounts may name a Gateway.
type AllowedCloudAccounts struct {
	// namespaces the CloudAccounts may be in.
	// +optional
	Namespaces AccountNamespaces `json:"namespaces,omitzero"`
}

// AccountNamespaces selects namespaces, as Gateway API's RouteNamespaces do.
// +kubebuilder:validation:XValidation:rule="(has(self.from) && self.from == 'Selector') == has(self.selector)",message="selector is required when from is Selector, and only then"
type AccountNamespaces struct {
	// from is Same (the Gateway's own namespace), All (every namespace), or
	// Selector (namespaces whose labels match selector).
	// +kubebuilder:default=Same
	// +optional
	From FromNamespaces `json:"from,omitempty"`
	// selector of namespaces by label, when from is Selector. The
	// kubernetes.io/metadata.name label, which Kubernetes sets on every
	// namespace, selects namespaces by name.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// FromNamespaces names a set of namespaces relative to a Gateway.
// +kubebuilder:validation:Enum=Same;All;Selector
type FromNamespaces string

const (
	// NamespacesFromSame is the Gateway's own namespace only.
	NamespacesFromSame FromNamespaces = "Same"
	// NamespacesFromAll is every namespace.
	NamespacesFromAll FromNamespaces = "All"
	// NamespacesFromSelector is the namespaces whose labels match a selector.
	NamespacesFromSelector FromNamespaces = "Selector"
)

// GatewayDeletionPolicy is what deleting a Gateway does to its machines.
// +kubebuilder:validation:Enum=Retain;Decommission
type GatewayDeletionPolicy string

const (
	// GatewayRetain lets the Gateway go and keeps its machines deployed.
	GatewayRetain GatewayDeletionPolicy = "Retain"
	// GatewayDecommission releases the machines the Gateway allocated.
	GatewayDecommission GatewayDeletionPolicy = "Decommission"
)

// GatewayNode is one node of the gateway cluster and the MAAS machine behind it.
type GatewayNode struct {
	MachineStatus `json:",inline"`

	// nodeName is the name of the Kubernetes Node the machine joined as.
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	// ready is true when the Node is Ready.
	// +optional
	Ready bool `json:"ready,omitempty"`
	// adopted is true for machines named in spec.adoptMachines.
	// +optional
	Adopted bool `json:"adopted,omitempty"`
}

// GatewayStatus is the observed state of the gateway cluster.
type GatewayStatus struct {
	// phase summarises the gateway.
	// +optional
	Phase GatewayPhase `json:"phase,omitempty"`

	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// readyReplicas is the number of Ready gateway nodes.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// selector selects the gateway's Nodes (for the scale subresource).
	// +optional
	Selector string `json:"selector,omitempty"`

	// nodes of the gateway cluster.
	// +listType=map
	// +listMapKey=systemID
	// +optional
	Nodes []GatewayNode `json:"nodes,omitempty"`

	// currentRelease is the release every node and component runs.
	// +optional
	CurrentRelease *Release `json:"currentRelease,omitempty"`

	// availableUpgrade is the newest release in the catalog newer than the
	// current one: the upgrade notification. Apply it by setting spec.release.
	// +optional
	AvailableUpgrade *Release `json:"availableUpgrade,omitempty"`

	// components are the gateway components observed running, with their versions.
	// +listType=map
	// +listMapKey=name
	// +optional
	Components []ComponentVersion `json:"components,omitempty"`

	// failedDeployments counts MAAS deployments of gateway nodes that failed.
	// +optional
	FailedDeployments int32 `json:"failedDeployments,omitempty"`

	// defaultCloudAccount is the name of the CloudAccount created with the gateway.
	// +optional
	DefaultCloudAccount string `json:"defaultCloudAccount,omitempty"`

	// upgrade records the rollout of spec.release onto the nodes, so that a
	// restarted manager resumes it and counts each failure once.
	// +optional
	Upgrade *UpgradeStatus `json:"upgrade,omitempty"`

	// retiredMachines are adopted machines whose nodes left the gateway in an
	// upgrade. The operator did not allocate them and never releases them:
	// their owner releases them in MAAS.
	// +listType=set
	// +optional
	RetiredMachines []string `json:"retiredMachines,omitempty"`

	// conditions: Ready, MAASReachable, Resized, Upgraded, Upgrading.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="a Gateway's name is at most 63 characters: it is the value of the label on the gateway's Nodes and Secrets"
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.readyReplicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=mgw,categories=maas
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.controlPlaneEndpoint`
// +kubebuilder:printcolumn:name="Release",type=string,JSONPath=`.status.currentRelease.version`
// +kubebuilder:printcolumn:name="Upgrade",type=string,JSONPath=`.status.availableUpgrade.version`
// +kubebuilder:printcolumn:name="MAAS",type=string,JSONPath=`.spec.maas.endpoint`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Gateway is the gateway cluster itself: its 1 or 3 nodes are MAAS machines
// the operator deploys and upgrades, and its default CloudAccount lets tenant
// clusters be provisioned from the same MAAS. One per cluster.
type Gateway struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the desired state of the gateway.
	// +required
	Spec GatewaySpec `json:"spec"`

	// status is the observed state of the gateway.
	// +optional
	Status GatewayStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// GatewayList contains a list of Gateway
type GatewayList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Gateway `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &Gateway{}, &GatewayList{})
		return nil
	})
}
