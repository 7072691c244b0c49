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

package rollout

import (
	"strings"
	"time"
)

// State is what the planner makes of a machine's MAAS status.
type State string

const (
	// StateAllocated: owned, not deployed yet; the planner deploys it.
	StateAllocated State = "Allocated"
	// StateDeploying: MAAS is installing it.
	StateDeploying State = "Deploying"
	// StateDeployed: installed. Ready, unless the pool also needs its Node Ready.
	StateDeployed State = "Deployed"
	// StateFailed: MAAS "Failed deployment". MAAS never retries it: it is released and replaced.
	StateFailed State = "Failed"
	// StateBroken: marked broken in MAAS; released and replaced.
	StateBroken State = "Broken"
	// StateReleasing: on its way back to the free pool (Releasing, Disk erasing).
	StateReleasing State = "Releasing"
	// StateReleaseFailed: "Releasing failed" or "Failed disk erasing"; released again.
	StateReleaseFailed State = "ReleaseFailed"
	// StateReleased: MAAS "Ready", back in the free pool; no longer ours.
	StateReleased State = "Released"
	// StateUnknown: any other status (rescue mode, testing…). Such a machine
	// keeps its slot and is not Ready; the planner releases it only where a
	// release is due anyway (surplus, outdated, duplicate, deletion).
	StateUnknown State = "Unknown"
)

// ParseState maps a MAAS status, given as its status_name ("Failed deployment")
// or its filter label ("failed_deployment"), in any case, to a State.
func ParseState(maasStatus string) State {
	s := strings.ToLower(strings.TrimSpace(strings.ReplaceAll(maasStatus, "_", " ")))
	switch s {
	case "allocated":
		return StateAllocated
	case "deploying":
		return StateDeploying
	case "deployed":
		return StateDeployed
	case "failed deployment":
		return StateFailed
	case "broken":
		return StateBroken
	case "releasing", "disk erasing":
		return StateReleasing
	case "releasing failed", "failed releasing", "failed disk erasing":
		return StateReleaseFailed
	case "ready":
		return StateReleased
	default:
		return StateUnknown
	}
}

// NodeState is what Kubernetes says of the Node a machine runs, for pools
// with NodeReadiness.
type NodeState int

const (
	// NodeAbsent: no Node for this machine (not joined yet, or deleted).
	NodeAbsent NodeState = iota
	// NodeNotReady: the Node exists and is not Ready.
	NodeNotReady
	// NodeReady: the Node is Ready.
	NodeReady
)

// NoSlot is the Slot of a machine that carries no slot mark (an adopted
// machine, or one annotated only partly before a crash). The planner gives it
// the lowest free slot and asks the caller to record it ([ActionAssignSlot]).
const NoSlot = -1

// Machine is one MAAS machine the operator owns, as observed.
type Machine struct {
	// SystemID is the MAAS system ID; unique.
	SystemID string
	// Pool is the name of the pool the machine was allocated for.
	Pool string
	// Slot is the machine's index within its pool, or NoSlot. The zero value
	// is slot 0, so a caller that finds no slot mark must say NoSlot.
	Slot int
	// Zone is the MAAS zone the machine is in.
	Zone string
	// Template is the hash of what the machine was allocated and deployed with.
	Template string
	// State is the machine's MAAS status (see ParseState).
	State State
	// Status is MAAS's status name as observed, quoted in waiting reasons.
	Status string
	// Init is true when the machine carries the init-node mark.
	Init bool
	// Node is the state of the machine's Kubernetes Node; read only for pools
	// with NodeReadiness.
	Node NodeState
	// DeployedAt is when the caller first saw the machine Deployed; zero when
	// unknown. Used with Options.JoinTimeout.
	DeployedAt time.Time
	// UnhealthySince is when the machine's Node last stopped being Ready (its
	// Ready condition's transition time, which the cluster keeps across
	// operator restarts); zero when the Node is Ready or absent. Used with
	// Options.UnhealthyTimeout.
	UnhealthySince time.Time
}

// PoolKind says what a pool's machines become.
type PoolKind string

const (
	// KindControlPlane machines run the Kubernetes control plane (a tenant
	// cluster's control-plane pool, or the gateway's nodes).
	KindControlPlane PoolKind = "ControlPlane"
	// KindWorker machines run workloads only.
	KindWorker PoolKind = "Worker"
)

// Strategy says how outdated machines are replaced. Its values equal those
// of the API's RollingUpdateStrategy, so a conversion carries them over.
type Strategy string

const (
	// ExpandFirst adds the new machine before removing the old one. Default.
	ExpandFirst Strategy = "ExpandFirst"
	// ContractFirst removes the old machine before adding the new one.
	ContractFirst Strategy = "ContractFirst"
)

// DefaultMaxFailures is the number of consecutive failed deployments that
// halts a pool whose MaxFailures is zero.
const DefaultMaxFailures = 3

// Pool is the desired state of one pool, and what the caller counted of it.
type Pool struct {
	// Name is unique among the pools passed to one Plan.
	Name string
	// Kind of the pool's machines.
	Kind PoolKind
	// Size is the number of machines wanted.
	Size int
	// Zones to spread machines across; empty means any zone ("").
	Zones []string
	// Template is the hash machines must carry to be current.
	Template string
	// Strategy for replacing outdated machines; empty means ExpandFirst.
	Strategy Strategy
	// MinReady is the fewest Ready machines a release may leave (2 for a
	// 3-node gateway, 1 for a 1-node one, 0 for no such guard).
	MinReady int
	// NodeReadiness makes Ready mean "MAAS Deployed and Kubernetes Node Ready".
	NodeReadiness bool
	// Initialised is true once the control plane was ever initialised (for
	// a tenant cluster, once its API server answered; always for the gateway).
	// Until then one machine is deployed with RoleInit.
	Initialised bool
	// Failures counts the pool's consecutive failed deployments, as the
	// caller recorded PoolSummary.Failures. The caller resets it when a
	// machine of the pool becomes Ready on the current template, or when
	// the user changes the spec.
	Failures int
	// CountedFailures are the system IDs of failed machines already included
	// in Failures: a failed machine is observed until its release is, and
	// must be counted once. Keep an ID while its machine is still observed.
	CountedFailures []string
	// MaxFailures halts the pool at that many Failures; zero means DefaultMaxFailures.
	MaxFailures int
}

// Options are the inputs shared by every pool.
type Options struct {
	// Now is the current time; needed only with JoinTimeout.
	Now time.Time
	// JoinTimeout, when positive, fails a Deployed machine of a
	// NodeReadiness pool whose Node has not appeared this long after
	// DeployedAt. A Node that exists and is not Ready is never timed out:
	// a reboot or a network blip must not cost a machine.
	JoinTimeout time.Duration
	// UnhealthyTimeout, when positive, replaces a Deployed machine of a
	// NodeReadiness pool whose Node has not been Ready for this long
	// (Machine.UnhealthySince), as Cluster API's MachineHealthCheck does;
	// but only while no more than MaxUnhealthy machines of all the pools
	// are that unhealthy, so that a fault of the whole cluster (no network
	// plugin, a partition) never costs it its machines.
	UnhealthyTimeout time.Duration
	// MaxUnhealthy bounds remediation: see UnhealthyTimeout.
	MaxUnhealthy int
}

// ActionKind names a step.
type ActionKind string

const (
	// ActionAllocate: allocate a machine for Pool in Zone ("" = any) and mark
	// it with Pool, Slot and the pool's current template.
	ActionAllocate ActionKind = "Allocate"
	// ActionDeploy: deploy SystemID with the pool's current template, as Role.
	ActionDeploy ActionKind = "Deploy"
	// ActionRelease: release SystemID, for Reason. If the machine runs a
	// Kubernetes Node, drain and delete the Node first.
	ActionRelease ActionKind = "Release"
	// ActionAssignSlot: mark SystemID with Slot.
	ActionAssignSlot ActionKind = "AssignSlot"
)

// Role says what a deployed machine does when it boots.
type Role string

const (
	// RoleInit initialises a new control plane (kubeadm init). Mark the
	// machine as the init node before deploying it.
	RoleInit Role = "init"
	// RoleControlPlane joins an existing control plane.
	RoleControlPlane Role = "control-plane"
	// RoleWorker joins as a worker.
	RoleWorker Role = "worker"
)

// Reason says why a machine is released.
type Reason string

const (
	// ReasonDeployFailed: MAAS failed its deployment; counts as a failure.
	ReasonDeployFailed Reason = "deployment failed"
	// ReasonJoinTimeout: deployed, but its Node never appeared; counts as a failure.
	ReasonJoinTimeout Reason = "node never joined"
	// ReasonUnhealthy: its Node stayed not Ready past Options.UnhealthyTimeout.
	ReasonUnhealthy Reason = "node unhealthy"
	// ReasonBroken: marked broken in MAAS.
	ReasonBroken Reason = "broken"
	// ReasonReleaseRetry: its previous release failed.
	ReasonReleaseRetry Reason = "release failed before"
	// ReasonDuplicateSlot: another machine holds its slot and is better.
	ReasonDuplicateSlot Reason = "duplicate slot"
	// ReasonOutdated: replaced by a machine on the current template.
	ReasonOutdated Reason = "outdated"
	// ReasonSurplus: the pool is larger than its size.
	ReasonSurplus Reason = "surplus"
	// ReasonPoolRemoved: its pool is no longer in the spec.
	ReasonPoolRemoved Reason = "pool removed"
	// ReasonDelete: its cluster is being deleted.
	ReasonDelete Reason = "deleting"
)

// Action is one step to take now. Which fields are set depends on Kind.
type Action struct {
	Kind ActionKind
	// Pool is the pool the machine belongs or will belong to.
	Pool string
	// SystemID of the machine; empty for Allocate.
	SystemID string
	// Slot to mark on the machine (Allocate, AssignSlot), or its slot.
	Slot int
	// Zone to allocate in (Allocate); "" = any.
	Zone string
	// Role to deploy as (Deploy). On an Allocate, RoleInit marks the
	// machine that is to initialise the control plane.
	Role Role
	// Reason for a Release.
	Reason Reason
}

// PoolSummary is what a plan found of one pool, counted over the machines
// the pool keeps after this plan's releases.
type PoolSummary struct {
	Name string
	// Desired is the pool's size.
	Desired int
	// Machines the pool keeps (allocated, deploying, deployed or unknown).
	Machines int
	// Available is the number of Ready machines, whatever their template.
	Available int
	// Ready is the number of Ready machines on the current template.
	Ready int
	// Updated is the number of machines on the current template.
	Updated int
	// Outdated is the number of machines on another template.
	Outdated int
	// Releasing is the number of machines on their way out.
	Releasing int
	// Failed lists the machines this plan found failed (deployment failed,
	// or node never joined) that CountedFailures does not hold, sorted.
	Failed []string
	// Failures is Pool.Failures plus len(Failed): record it, and add Failed
	// to CountedFailures.
	Failures int
	// InitNode is the system ID of the init node, while the control plane
	// was never initialised and one is chosen.
	InitNode string
	// Halted is true when the pool stopped trying after MaxFailures: its
	// Failures, this plan's included, reached the limit. The plan that finds
	// the last allowed failure already allocates no replacement.
	Halted bool
	// Done is true when the pool has Desired machines, all Ready on the
	// current template.
	Done bool
	// Waiting says why the pool is not done, or "" when it is.
	Waiting string
}

// Result is a plan: the steps to take now and what was found.
type Result struct {
	// Actions to take now, in order: pools in the order given, each with its
	// releases, then allocations, deploys and slot marks; then the releases
	// of machines whose pool is gone.
	Actions []Action
	// Pools, in the order given.
	Pools []PoolSummary
	// Unhealthy lists the machines past Options.UnhealthyTimeout, sorted.
	Unhealthy []string
	// RemediationHeld is true when more than Options.MaxUnhealthy machines
	// are unhealthy, so none of them is replaced.
	RemediationHeld bool
}

// Done reports whether every pool is done and nothing is left to do.
func (r Result) Done() bool {
	if len(r.Actions) > 0 {
		return false
	}
	for _, p := range r.Pools {
		if !p.Done {
			return false
		}
	}
	return true
}
