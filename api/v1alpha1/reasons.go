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

// Condition reasons: what a program may branch on (a condition's message is
// for people and may change). Every reason the controllers set is here,
// with the conditions that carry it; a reason not listed here is a bug.

// Reasons shared by several kinds and conditions.
const (
	// ReasonPausedByAnnotation: the object carries AnnotationPaused (Paused True).
	ReasonPausedByAnnotation = "PausedByAnnotation"
	// ReasonGatewayPaused: the CloudAccount's Gateway carries
	// AnnotationPaused, so the account sweeps nothing (CloudAccount Paused True).
	ReasonGatewayPaused = "GatewayPaused"
	// ReasonResumed: the object is no longer paused (Paused False).
	ReasonResumed = "Resumed"
	// ReasonValid: MAAS accepted the account's API key (CloudAccount
	// CredentialsValid and Ready; Gateway MAASReachable).
	ReasonValid = "Valid"
	// ReasonUnauthorized: MAAS refused the API key (CloudAccount).
	ReasonUnauthorized = "Unauthorized"
	// ReasonUnreachable: MAAS did not answer; retried (CloudAccount Ready,
	// Gateway MAASReachable, TenantCluster Ready).
	ReasonUnreachable = "Unreachable"
	// ReasonSecretNotFound: the credentials Secret is missing (CloudAccount).
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonInvalidAPIKey: the credentials Secret holds no valid API key
	// (CloudAccount).
	ReasonInvalidAPIKey = "InvalidAPIKey"
	// ReasonGatewayNotFound: the Gateway an object refers to does not exist
	// (CloudAccount Ready, TenantCluster Ready).
	ReasonGatewayNotFound = "GatewayNotFound"
	// ReasonNotAllowedByGateway: the account's namespace is not among those
	// its Gateway's spec.allowedCloudAccounts allows, so the account is not
	// used (CloudAccount Ready; TenantCluster Ready, through its account).
	ReasonNotAllowedByGateway = "NotAllowedByGateway"
	// ReasonValidationFailed: validating the account failed otherwise
	// (CloudAccount).
	ReasonValidationFailed = "ValidationFailed"
	// ReasonInUse: deletion waits for the objects that depend on this one
	// (CloudAccount and Gateway Ready).
	ReasonInUse = "InUse"
	// ReasonInventoryUnknown: a Gateway with deletionPolicy Decommission
	// waits because MAAS has not listed the installation's machines since
	// the manager started (MAAS unreachable, or the key refused), so which
	// machines to release is not known; nothing is released or forgotten
	// (Gateway Ready, while deleting).
	ReasonInventoryUnknown = "InventoryUnknown"
	// ReasonCloudAccountNotReady: the CloudAccount used is not validated
	// (Gateway MAASReachable, TenantCluster Ready, also while deleting).
	ReasonCloudAccountNotReady = "CloudAccountNotReady"
	// ReasonPolling: no list of machines from MAAS yet (Gateway
	// MAASReachable, TenantCluster Ready, also while deleting).
	ReasonPolling = "Polling"
	// ReasonNoCapacity: MAAS has no free machine matching a pool (Gateway
	// Resized, TenantCluster MachinesReady and Ready).
	ReasonNoCapacity = "NoCapacity"
	// ReasonUpgrading: a release is being rolled onto the nodes (Gateway
	// Ready and Upgraded).
	ReasonUpgrading = "Upgrading"
)

// Reasons of condition NodesDrained (TenantCluster and Gateway).
const (
	// ReasonDrained: no machine waits to leave its cluster.
	ReasonDrained = "Drained"
	// ReasonDraining: a Node is being cordoned and drained before its
	// machine is released.
	ReasonDraining = "Draining"
	// ReasonDrainTimedOut: a Node is not drained after its pool's
	// drainTimeout; its machine is kept, and a person must let the pods go.
	ReasonDrainTimedOut = "DrainTimedOut"
	// ReasonWaitingForQuorum: a control-plane machine's etcd member cannot
	// be removed yet without losing quorum, or etcd cannot be reached.
	ReasonWaitingForQuorum = "WaitingForQuorum"
	// ReasonClusterUnreached: the cluster's API server cannot be reached,
	// does not answer, or has not listed its Nodes (also TenantCluster
	// ControlPlaneReady and Ready).
	ReasonClusterUnreached = "ClusterUnreachable"
)

// Reasons of the Gateway's conditions.
const (
	// ReasonCannotJoin: no node can be rendered to join the gateway
	// (Resized).
	ReasonCannotJoin = "CannotJoin"
	// ReasonWaitingForMove: the operator runs outside the gateway cluster
	// (maas-gateway install's bootstrap cluster) and grows it no further
	// than its first node; the others join once it is moved in.
	ReasonWaitingForMove = "WaitingForMove"
	// ReasonResized: the gateway has the nodes its spec asks for (Resized).
	ReasonResized = "Resized"
	// ReasonResizing: nodes are being added or removed (Resized).
	ReasonResizing = "Resizing"
	// ReasonReady: the gateway does what its spec asks (Ready).
	ReasonReady = "Ready"
	// ReasonNotReady: some gateway nodes are not Ready, and no other
	// condition says why (Ready).
	ReasonNotReady = "NotReady"
	// ReasonHalted: a rollout stopped after too many failed deployments
	// (Upgrading and Upgraded).
	ReasonHalted = "Halted"
	// ReasonRollingNodes: a rollout is under way (Upgrading).
	ReasonRollingNodes = "RollingNodes"
	// ReasonNotUpgrading: no rollout is under way (Upgrading).
	ReasonNotUpgrading = "NotUpgrading"
	// ReasonUnknownRelease: spec.release names no release of the catalog
	// (Upgraded).
	ReasonUnknownRelease = "UnknownRelease"
	// ReasonComponentsPending: the nodes run the release, but this manager
	// is not the release's (Upgraded).
	ReasonComponentsPending = "ComponentsPending"
	// ReasonNoRelease: no release is pinned; the nodes run the default
	// image (Upgraded).
	ReasonNoRelease = "NoRelease"
	// ReasonUpToDate: every node runs the release asked for (Upgraded).
	ReasonUpToDate = "UpToDate"
	// ReasonCatalogInvalid: the release catalog cannot be read (Upgraded).
	ReasonCatalogInvalid = "CatalogInvalid"
)

// Reasons of the TenantCluster's conditions.
const (
	// ReasonCloudAccountNotFound: spec.cloudAccountRef names no CloudAccount
	// (Ready).
	ReasonCloudAccountNotFound = "CloudAccountNotFound"
	// ReasonGatewayUpgrading: provisioning is queued while the gateway
	// upgrades (Queued).
	ReasonGatewayUpgrading = "GatewayUpgrading"
	// ReasonNotQueued: provisioning waits for nothing (Queued).
	ReasonNotQueued = "NotQueued"
	// ReasonQueued: provisioning is queued; see condition Queued (Ready).
	ReasonQueued = "Queued"
	// ReasonInvalidConfiguration: the spec cannot be rendered into node
	// configuration; nothing is allocated until it is fixed (Ready).
	ReasonInvalidConfiguration = "InvalidConfiguration"
	// ReasonRunning: every machine is Ready on the current template and,
	// when the operator looks inside, the cluster's API server answers and
	// all its etcd members are healthy (Ready).
	ReasonRunning = "Running"
	// ReasonDeployed: the pool's machines are all Ready (ControlPlaneReady,
	// MachinesReady).
	ReasonDeployed = "Deployed"
	// ReasonDeploying: machines are on their way: allocating, deploying,
	// joining, being replaced (ControlPlaneReady, MachinesReady).
	ReasonDeploying = "Deploying"
	// ReasonWaitingForControlPlane: the control plane is not Ready yet
	// (Ready).
	ReasonWaitingForControlPlane = "WaitingForControlPlane"
	// ReasonEtcdUnhealthy: not every etcd member of the cluster answers, or
	// they cannot be listed (ControlPlaneReady, Ready).
	ReasonEtcdUnhealthy = "EtcdUnhealthy"
	// ReasonDeleting: deletion waits for MAAS to take the machines back
	// (Ready).
	ReasonDeleting = "Deleting"
	// ReasonTooEarly: force delete was asked before it is allowed
	// (ForceDeleted).
	ReasonTooEarly = "TooEarly"
	// ReasonForceDeleted: the finalizer was dropped by force (ForceDeleted).
	ReasonForceDeleted = "ForceDeleted"
)

// Reasons of the TenantCluster's condition NodesHealthy.
const (
	// ReasonAllNodesReady: every machine's Node that has joined is Ready.
	ReasonAllNodesReady = "AllNodesReady"
	// ReasonNodeNotReady: some Nodes are not Ready (not yet past
	// healthCheck.unhealthyTimeout).
	ReasonNodeNotReady = "NodeNotReady"
	// ReasonRemediating: machines whose Node stayed not Ready past
	// healthCheck.unhealthyTimeout are being replaced.
	ReasonRemediating = "Remediating"
	// ReasonRemediationHeld: more machines than healthCheck.maxUnhealthy are
	// unhealthy, so none is replaced.
	ReasonRemediationHeld = "RemediationHeld"
	// ReasonNodesUnobserved: the cluster's Nodes could not be looked at.
	ReasonNodesUnobserved = "ClusterNotObserved"
)

// Reasons of the TenantCluster's conditions ProfileResolved and PacksReady.
const (
	// ReasonProfileNotFound: spec.profileRef names no ClusterProfile yet
	// (ProfileResolved, Ready).
	ReasonProfileNotFound = "ProfileNotFound"
	// ReasonResolved: the profile exists (ProfileResolved).
	ReasonResolved = "Resolved"
	// ReasonPacksInstalled: every pack is installed as specified, or the
	// profile has none (PacksReady).
	ReasonPacksInstalled = "PacksInstalled"
	// ReasonPacksPending: packs wait for the cluster's API server, or are
	// being installed (PacksReady, Ready).
	ReasonPacksPending = "PacksPending"
	// ReasonPackFailed: a pack failed to install or upgrade; the message
	// names it and says what Helm said (PacksReady, Ready).
	ReasonPackFailed = "PackFailed"
)

// Reasons of the LoadBalancerPoolReserved condition.
const (
	// ReasonPoolReserved: MAAS holds the range for this cluster.
	ReasonPoolReserved = "Reserved"
	// ReasonPoolTaken: the range overlaps another reserved range; the
	// message names its holder when it is marked.
	ReasonPoolTaken = "RangeTaken"
	// ReasonPoolSubnetFull: the subnet has no free block of that many
	// addresses.
	ReasonPoolSubnetFull = "SubnetFull"
	// ReasonPoolNoSubnet: MAAS has no such subnet, or the VIP's subnet is
	// not known yet.
	ReasonPoolNoSubnet = "SubnetNotFound"
	// ReasonPoolReservationFailed: MAAS refused or did not answer
	// otherwise; retried.
	ReasonPoolReservationFailed = "ReservationFailed"
)

// Reasons of the VIPReserved condition.
const (
	// ReasonVIPReserved: MAAS holds the address for this object.
	ReasonVIPReserved = "Reserved"
	// ReasonVIPReservedByOther: the address is reserved in MAAS for another
	// object (of this installation or another); the message names it. MAAS's
	// answer decided, so of two objects asking at once exactly one holds it.
	// The other waits, and takes the address once it is released.
	ReasonVIPReservedByOther = "VIPReservedByOther"
	// ReasonVIPInUse: a machine, a device or an unmarked reservation holds
	// the address in MAAS; the message says who, when MAAS says so.
	ReasonVIPInUse = "VIPInUse"
	// ReasonVIPInReservedRange: the address is inside a reserved range that
	// marks no owner (made by hand in MAAS).
	ReasonVIPInReservedRange = "VIPInReservedRange"
	// ReasonVIPInDynamicRange: the address is in a DHCP range of MAAS.
	ReasonVIPInDynamicRange = "VIPInDynamicRange"
	// ReasonVIPOutsideSubnets: the address is in no subnet MAAS knows.
	ReasonVIPOutsideSubnets = "VIPOutsideSubnets"
	// ReasonVIPReservationFailed: MAAS did not answer, or answered in a way
	// that says nothing of the address; the reservation is retried.
	ReasonVIPReservationFailed = "VIPReservationFailed"
)
