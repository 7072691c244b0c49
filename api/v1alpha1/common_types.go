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

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition types shared by every kind. Each kind adds its own beside these.
const (
	// ConditionReady summarises the object: True when it does what its spec asks.
	ConditionReady = "Ready"
	// ConditionPaused is True while the object carries AnnotationPaused (or,
	// for a CloudAccount, while its Gateway does): the operator then changes
	// nothing in MAAS or Kubernetes for it. False once it is resumed.
	ConditionPaused = "Paused"
)

// Annotations and labels the operator reads or writes.
const (
	// AnnotationForceDelete, set to "true" on a TenantCluster stuck in deletion
	// for at least the force-delete delay, drops its finalizer without waiting
	// for MAAS to release every machine.
	AnnotationForceDelete = "infra.maasgateway.io/force-delete"

	// AnnotationRetryUpgrade, set on a Gateway whose upgrade halted after
	// failed deployments, resumes the rollout; the operator removes it.
	AnnotationRetryUpgrade = "infra.maasgateway.io/retry-upgrade"

	// AnnotationPaused, set (any value) on a Gateway, CloudAccount or
	// TenantCluster, stops the operator acting on it: no MAAS request that
	// changes anything, no finalizer work (a paused object being deleted
	// keeps its finalizer), only the Paused condition is written. A paused
	// Gateway pauses its CloudAccounts' sweeps of orphans too. maas-gateway
	// move sets it on both sides while it copies, so that neither the old
	// nor the new installation releases a machine the other one holds.
	AnnotationPaused = "infra.maasgateway.io/paused"

	// AnnotationIdentityUID, when set, is the UID the operator uses instead
	// of metadata.uid for the object's marks in MAAS (owner annotations,
	// the gateway's agent_name) and for every check of who owns a machine
	// or an address. maas-gateway move sets it on the copies it creates to
	// the source object's identity, so that the moved object finds its
	// machines. The webhooks accept it on create only and keep it immutable.
	AnnotationIdentityUID = "infra.maasgateway.io/identity-uid"

	// LabelGateway names the Gateway that owns a Node or a CloudAccount.
	LabelGateway = "infra.maasgateway.io/gateway"
	// LabelSystemID carries the MAAS system ID of the machine behind a Node.
	LabelSystemID = "infra.maasgateway.io/system-id"
)

// DefaultAPIKeyKey is the key of the credentials Secret that holds the MAAS API key.
const DefaultAPIKeyKey = "apiKey"

// SecretKeyReference points at one key of a Secret in the object's own namespace.
type SecretKeyReference struct {
	// name of the Secret, in the same namespace as the object that refers to it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// key within the Secret. The value is a MAAS API key of the form
	// consumer_key:token_key:token_secret, as the MAAS UI shows it.
	// +kubebuilder:default=apiKey
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	Key string `json:"key,omitempty"`
}

// MAASConnection says how to reach a MAAS region and which credentials to use.
// The API key signs every request in clear (OAuth PLAINTEXT), so an http://
// endpoint beyond loopback needs insecureAllowHTTP.
// +kubebuilder:validation:XValidation:rule="!self.endpoint.lowerAscii().startsWith('http://') || (has(self.insecureAllowHTTP) && self.insecureAllowHTTP) || self.endpoint.matches('^(?i)http://(localhost|127[.][0-9]+[.][0-9]+[.][0-9]+|[[]::1[]])(:[0-9]+)?(/.*)?$')",message="an http:// endpoint sends the MAAS API key in cleartext: use https://, or set insecureAllowHTTP: true to accept that risk",fieldPath=".endpoint",reason=FieldValueForbidden
type MAASConnection struct {
	// endpoint is the MAAS API URL, as the MAAS CLI takes it,
	// e.g. http://10.11.12.13:5240/MAAS.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (url(self).getScheme() == 'http' || url(self).getScheme() == 'https') && url(self).getHostname() != ''",message="endpoint must be an http:// or https:// URL with a host, e.g. http://10.11.12.13:5240/MAAS"
	// +required
	Endpoint string `json:"endpoint"`

	// credentialsSecretRef names the Secret holding the MAAS API key
	// (key "apiKey" unless set otherwise). The key itself never appears in a spec.
	// +required
	CredentialsSecretRef SecretKeyReference `json:"credentialsSecretRef"`

	// caBundle is a PEM bundle of certificate authorities trusted for an https
	// endpoint, for a MAAS whose certificate is not signed by a public CA.
	// +kubebuilder:validation:MaxLength=65536
	// +optional
	CABundle string `json:"caBundle,omitempty"`

	// insecureAllowHTTP accepts an http:// endpoint beyond loopback. MAAS
	// authenticates with OAuth PLAINTEXT: the API key then crosses the
	// network in cleartext with every request, readable by anyone on the
	// path. Use https:// where MAAS offers it (MAAS 3.2 and later).
	// +optional
	InsecureAllowHTTP bool `json:"insecureAllowHTTP,omitempty"`
}

// Placement says where in MAAS machines are taken from.
type Placement struct {
	// zone is the MAAS availability zone to allocate machines in.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Zone string `json:"zone,omitempty"`

	// domain is the MAAS DNS domain the machines' hostnames are registered in.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Domain string `json:"domain,omitempty"`

	// resourcePool is the MAAS resource pool to allocate machines from.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	ResourcePool string `json:"resourcePool,omitempty"`

	// MachineConstraints narrow the choice of machine further.
	MachineConstraints `json:",inline"`
}

// MachineConstraints are the minimums and tags a MAAS machine must have to be chosen.
type MachineConstraints struct {
	// tags a machine must all carry in MAAS to be chosen.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	// +optional
	Tags []string `json:"tags,omitempty"`

	// minCPU is the minimum number of CPU cores.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4096
	// +optional
	MinCPU int32 `json:"minCPU,omitempty"`

	// minMemoryMiB is the minimum memory in MiB.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MinMemoryMiB int64 `json:"minMemoryMiB,omitempty"`

	// minDiskGiB is the minimum size of the root disk in GiB.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MinDiskGiB int64 `json:"minDiskGiB,omitempty"`
}

// ProxySettings are written to the OS, containerd and kubelet of every node deployed.
// +kubebuilder:validation:XValidation:rule="has(self.httpProxy) == has(self.httpsProxy)",message="httpProxy and httpsProxy are set together (both are required behind a proxy)"
type ProxySettings struct {
	// httpProxy is the proxy URL for http traffic, e.g. http://proxy.example.com:3128.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (url(self).getScheme() == 'http' || url(self).getScheme() == 'https')",message="httpProxy must be an http:// or https:// URL"
	// +optional
	HTTPProxy string `json:"httpProxy,omitempty"`

	// httpsProxy is the proxy URL for https traffic.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (url(self).getScheme() == 'http' || url(self).getScheme() == 'https')",message="httpsProxy must be an http:// or https:// URL"
	// +optional
	HTTPSProxy string `json:"httpsProxy,omitempty"`

	// noProxy lists hosts, domains and CIDRs reached without the proxy,
	// e.g. maas.example.com, .svc, 10.10.0.0/16. The cluster's own pod and
	// service CIDRs and the control-plane endpoint are added automatically.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=atomic
	// +optional
	NoProxy []string `json:"noProxy,omitempty"`

	// credentialsSecretRef names a Secret, in this object's namespace, whose
	// keys username and password authenticate to the proxy. They are added
	// to the proxy URLs only where the URLs are used (the nodes' user data,
	// chart downloads), never to this object, and the files that hold them
	// on a node are readable by root alone. Prefer it to credentials in the
	// URLs, which every reader of this object sees.
	// +optional
	CredentialsSecretRef *LocalObjectReference `json:"credentialsSecretRef,omitempty"`
}

// ClusterNetwork holds the address ranges of a Kubernetes cluster.
// +kubebuilder:validation:XValidation:rule="!has(self.podCIDR) || !has(self.serviceCIDR) || !(cidr(self.podCIDR).containsIP(cidr(self.serviceCIDR).masked().ip()) || cidr(self.serviceCIDR).containsIP(cidr(self.podCIDR).masked().ip()))",message="podCIDR and serviceCIDR must not overlap"
type ClusterNetwork struct {
	// podCIDR is the range pod IPs are assigned from. It must not overlap the
	// machines' network or the service range.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="podCIDR must be a CIDR, e.g. 192.168.0.0/16"
	// +optional
	PodCIDR string `json:"podCIDR,omitempty"`

	// serviceCIDR is the range Service cluster IPs are assigned from.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="serviceCIDR must be a CIDR, e.g. 10.96.0.0/12"
	// +optional
	ServiceCIDR string `json:"serviceCIDR,omitempty"`
}

// Environment is the network environment of the gateway: proxies and address
// ranges propagated to every node it deploys and, by default, to tenant clusters.
type Environment struct {
	ProxySettings  `json:",inline"`
	ClusterNetwork `json:",inline"`
}

// RollingUpdateStrategy says how a pool replaces machines when its template changes.
// +kubebuilder:validation:Enum=ExpandFirst;ContractFirst
type RollingUpdateStrategy string

const (
	// ExpandFirst deploys the new machine before the old one is removed:
	// the pool never drops below its size, and needs one spare machine.
	ExpandFirst RollingUpdateStrategy = "ExpandFirst"
	// ContractFirst removes the old machine before the new one is deployed:
	// the pool never exceeds its size, and needs no spare machine.
	ContractFirst RollingUpdateStrategy = "ContractFirst"
)

// MachineTemplate says which MAAS machines a pool is made of.
type MachineTemplate struct {
	// resourcePool is the MAAS resource pool the pool's machines come from.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	ResourcePool string `json:"resourcePool,omitempty"`

	// zones the pool's machines are spread across, round-robin. Empty means any zone.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	// +optional
	Zones []string `json:"zones,omitempty"`

	MachineConstraints `json:",inline"`
}

// NodePool is a group of identical worker machines.
type NodePool struct {
	// name of the pool, unique within the cluster.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`

	// size is the number of machines in the pool.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +required
	Size int32 `json:"size"`

	MachineTemplate `json:",inline"`

	// rollingUpdate says how machines are replaced when the template or the
	// cluster profile changes.
	// +kubebuilder:default=ExpandFirst
	// +optional
	RollingUpdate RollingUpdateStrategy `json:"rollingUpdate,omitempty"`

	// drainTimeout is how long a machine's Node may take to drain before
	// the machine is replaced or removed; see ControlPlanePool.
	// +kubebuilder:default="10m"
	// +optional
	DrainTimeout *metav1.Duration `json:"drainTimeout,omitempty"`

	// diskErase is how the disks of the pool's machines are wiped when they
	// go back to MAAS; see DiskErase. Workers hold no cluster key.
	// +kubebuilder:default=None
	// +optional
	DiskErase DiskErase `json:"diskErase,omitempty"`
}

// ControlPlanePool is the pool of control-plane machines of a tenant cluster.
type ControlPlanePool struct {
	// size is the number of control-plane machines: 1, 3 or 5 (etcd needs an odd count).
	// +kubebuilder:default=1
	// +kubebuilder:validation:XValidation:rule="self == 1 || self == 3 || self == 5",message="control-plane size must be 1, 3 or 5 (etcd needs an odd number of members)"
	// +kubebuilder:validation:XValidation:rule="self >= oldSelf - 2",message="the control plane shrinks one step at a time (5 to 3, then 3 to 1): each step removes etcd members one by one while the rest keep quorum, and the next step waits until the cluster is healthy again"
	// +optional
	Size int32 `json:"size,omitempty"`

	// allowWorkloads removes the control-plane NoSchedule taint so ordinary pods
	// may run on control-plane machines.
	// +optional
	AllowWorkloads bool `json:"allowWorkloads,omitempty"`

	MachineTemplate `json:",inline"`

	// rollingUpdate says how control-plane machines are replaced.
	// +kubebuilder:default=ExpandFirst
	// +optional
	RollingUpdate RollingUpdateStrategy `json:"rollingUpdate,omitempty"`

	// drainTimeout is how long a machine's Node may take to drain (its pods
	// evicted with their PodDisruptionBudgets respected, and gone) before
	// the machine is replaced or removed. Past it the machine is still not
	// released: condition NodesDrained turns False with reason
	// DrainTimedOut, naming the pod and budget that hold it, for a person
	// to decide.
	// +kubebuilder:default="10m"
	// +optional
	DrainTimeout *metav1.Duration `json:"drainTimeout,omitempty"`

	// diskErase is how the disks of control-plane machines are wiped when
	// they go back to MAAS. They hold the cluster's CA keys and its etcd
	// data, which the next user of the machine must not read: Quick by
	// default.
	// +kubebuilder:default=Quick
	// +optional
	DiskErase DiskErase `json:"diskErase,omitempty"`
}

// DiskErase is how MAAS wipes a machine's disks when it is released, before
// the machine is Ready for its next user.
// +kubebuilder:validation:Enum=None;Quick;Full
type DiskErase string

const (
	// DiskEraseNone leaves the disks as they are.
	DiskEraseNone DiskErase = "None"
	// DiskEraseQuick wipes the start and end of each disk (MAAS's
	// quick_erase): partition tables and file systems go, in seconds.
	DiskEraseQuick DiskErase = "Quick"
	// DiskEraseFull overwrites every block (MAAS's erase): hours on large
	// disks, during which the machine stays out of the pool.
	DiskEraseFull DiskErase = "Full"
)

// PoolStatus is the observed size of one pool.
type PoolStatus struct {
	// name of the pool; the control-plane pool is called "control-plane".
	Name string `json:"name"`
	// desired number of machines.
	Desired int32 `json:"desired"`
	// ready is the number of machines deployed and current.
	Ready int32 `json:"ready"`
	// updated is the number of machines on the current template.
	// +optional
	Updated int32 `json:"updated,omitempty"`
}

// MachineStatus is what MAAS says of one machine the operator owns.
type MachineStatus struct {
	// systemID is the MAAS system ID.
	// +kubebuilder:validation:MaxLength=64
	SystemID string `json:"systemID"`
	// hostname as MAAS knows it.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	Hostname string `json:"hostname,omitempty"`
	// pool the machine belongs to.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Pool string `json:"pool,omitempty"`
	// zone the machine is in.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Zone string `json:"zone,omitempty"`
	// state is MAAS's status name, e.g. Allocated, Deploying, Deployed, Failed deployment.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	State string `json:"state,omitempty"`
	// message is MAAS's newest status message for the machine.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Message string `json:"message,omitempty"`
	// addresses are the machine's IP addresses.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=64
	Addresses []string `json:"addresses,omitempty"`
	// release (gateway) or template hash (tenant pools) the machine was deployed with.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Template string `json:"template,omitempty"`
	// node is the machine's Node as its cluster's API server reports it;
	// unset while none was seen (not joined, or the cluster not reached).
	// +optional
	Node *MachineNode `json:"node,omitempty"`
}

// MachineNode is what a cluster says of the Node a machine runs: matched by
// providerID maas://<system_id>, or by hostname for adopted nodes.
type MachineNode struct {
	// name of the Node.
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// ready is the status of the Node's Ready condition: True, False or Unknown.
	Ready metav1.ConditionStatus `json:"ready"`
	// reason and message of the Ready condition when it is not True, as the
	// kubelet (or the node lifecycle controller) wrote them.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Reason string `json:"reason,omitempty"`
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Message string `json:"message,omitempty"`
	// kubeletVersion the Node reports.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	KubeletVersion string `json:"kubeletVersion,omitempty"`
}

// WorkloadStatus is what the operator observed inside a cluster, and when.
type WorkloadStatus struct {
	// reachable says whether the cluster's API server answered the
	// operator's last probe, at the VIP, with credentials the operator signs.
	Reachable bool `json:"reachable"`
	// nodes and readyNodes count the cluster's Nodes, and those Ready.
	// +optional
	Nodes int32 `json:"nodes,omitempty"`
	// +optional
	ReadyNodes int32 `json:"readyNodes,omitempty"`
	// kubernetesVersions are the kubelet versions the Nodes report.
	// +kubebuilder:validation:MaxItems=8
	// +listType=set
	// +optional
	KubernetesVersions []string `json:"kubernetesVersions,omitempty"`
	// etcdMembers is the length of the etcd member list, and etcdHealthy how
	// many of those members answered.
	// +optional
	EtcdMembers *int32 `json:"etcdMembers,omitempty"`
	// +optional
	EtcdHealthy *int32 `json:"etcdHealthy,omitempty"`
	// message says why the cluster could not be observed.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}
