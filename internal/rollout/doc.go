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

// Package rollout decides which MAAS machines to allocate, deploy and release
// next so that each pool of a cluster (a tenant cluster's control plane and
// worker pools, or the gateway's own nodes) reaches its size on its current
// template: initial provisioning, scaling, rolling updates, the gateway's
// resize and upgrade, and deletion.
//
// It is pure: [Plan] and [PlanDelete] read only their arguments (time comes
// in through [Options.Now]), perform no I/O and return the steps to take now.
// A controller observes MAAS and Kubernetes, calls the planner, takes the
// steps, and requeues. Because each plan is computed from observed state
// only, a step repeated after a crash is harmless, provided the caller feeds
// the planner machines that reflect the steps it already took: a machine it
// allocated must be in the next observation, with the slot and template the
// Allocate action named, or the planner will ask for it again.
//
// # What the caller records on each machine
//
// The planner needs, for every machine, facts that survive a restart of the
// operator, so the caller writes them on the machine in MAAS (workload
// annotations) and reads them back: the pool, the slot (an index unique within
// the pool, [Action.Slot] of the Allocate), the template hash (what the machine
// was allocated and deployed with), and, on a control plane that was never
// initialised, whether the machine was chosen as the init node. The init mark
// must be written before the machine is deployed with [RoleInit]: then a crash
// between the two still yields exactly one init node.
//
// # Rules
//
//   - Missing machines are allocated all at once, on the lowest free slots,
//     spread over the pool's zones (the zone holding the fewest machines on
//     the current template, ties broken by the order of [Pool.Zones]).
//   - Allocated machines are deployed at once. On a control plane never
//     initialised, the machine carrying the init mark is the init node; if
//     none does, the lowest-slot allocated machine becomes it. All others
//     join, in parallel.
//   - Failed deployments (and deployed gateway machines whose Node never
//     appeared within [Options.JoinTimeout]) are released and counted
//     ([PoolSummary.Failed], [PoolSummary.Failures]); Broken machines are
//     released; machines whose release failed are released again. Their
//     replacements are allocated in the same plan.
//   - Two machines in one slot: the best (Ready, then Deployed, Deploying,
//     Allocated; current template first) is kept and the others released.
//     A machine without a slot gets the lowest free one ([ActionAssignSlot]).
//   - A machine in a MAAS state the planner does not know (rescue mode,
//     testing…) keeps its slot, is not Ready, and is waited for; it is
//     released only where a release is due anyway.
//   - Outdated machines that are not deployed yet (Allocated, Deploying) are
//     released at once: they serve nothing and their constraints may no
//     longer match the template.
//   - Scale down releases the surplus, preferring machines not yet deployed,
//     then outdated, then not Ready, then the highest slot. On a control plane
//     that was never initialised, the init node is released last.
//   - Outdated deployed machines are replaced one at a time per pool, one
//     whose node is not Ready first, then the lowest slot. ExpandFirst allocates one extra machine on the current template and
//     releases an outdated machine only once every current machine is Ready
//     and the release leaves at least Size Ready machines; the pool never
//     holds more than Size+1 machines. ContractFirst releases one outdated
//     machine, then allocates its replacement; the pool never holds more than
//     Size machines. A ContractFirst pool whose MinReady forbids ever dropping
//     to Size-1 Ready machines (a 1-node gateway) is rolled ExpandFirst, since
//     contracting it could never start.
//   - No release of a Ready machine leaves fewer than [Pool.MinReady] Ready
//     machines; a machine that is not Ready may always go. For the gateway,
//     Ready means the Kubernetes Node is Ready ([Pool.NodeReadiness]), not
//     just MAAS Deployed.
//   - A pool whose consecutive failed deployments ([Pool.Failures], plus
//     those this plan finds that [Pool.CountedFailures] does not hold) reach
//     [Pool.MaxFailures] is halted: it allocates, deploys and rolls nothing
//     more until the caller resets the count; it still releases failed,
//     broken and surplus machines. With MaxFailures 2, a gateway upgrade
//     whose second new machine fails gets no third.
//   - Machines of a pool that is no longer in the spec are released.
//
// Deletion ([PlanDelete]) releases every machine in one request each, those
// still deploying included: MAAS releases a Deploying machine directly
// (powering it off), so aborting first would cost a second request per
// machine and leave it Allocated, to be released anyway.
package rollout
