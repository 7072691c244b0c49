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

// Package maas is the only part of the operator that talks to MAAS.
//
// It parses what users give us (API keys, endpoint URLs), builds and caches
// one gomaasclient per (endpoint, credentials, CA bundle) with timeouts, a
// per-endpoint rate limit and a single retry layer, classifies MAAS errors
// so controllers branch on a Class and never on strings, performs the
// machine lifecycle steps (allocate, annotate, deploy, release, abort) so
// that repeating any of them after a crash is safe, and keeps a per-account
// inventory cache fed by one list request per poll interval (and one more
// for the machines it follows outside that list, such as those releasing).
//
// # Ownership
//
// MAAS lets a client set agent_name on allocate and filter machines on it,
// but never returns it. Every machine this package allocates therefore
// carries agent_name = the installation's identity (one value per Gateway,
// chosen by the caller) and is annotated straight away with workload
// annotations naming the owning Kubernetes object:
//
//	maas-gateway.owner-kind       Kind of the owning object, e.g. TenantCluster
//	maas-gateway.owner-namespace  its namespace ("" for cluster-scoped kinds)
//	maas-gateway.owner-name       its name
//	maas-gateway.owner-uid        its UID (a recreated object with the same name is another owner)
//	maas-gateway.pool             the node pool within the owner
//	maas-gateway.slot             the machine's place within the pool (the caller's choice)
//
// MAAS deletes workload annotations when a machine is released, so they
// never outlive the allocation. A machine with our agent_name and no owner
// annotation was allocated by a process that crashed before annotating it:
// it is "unclaimed", listed by the inventory, adoptable with Adopt, and
// released by whoever applies [ReleasableUnclaimed] once its grace period has
// passed, as long as it is Allocated: the operator annotates before it
// deploys, so an unclaimed machine in any other state lost its annotations
// and may be a running node (the CloudAccount controller's orphanPolicy
// reports it and never releases it). Deploy, Release and Abort refuse (ClassNotOwned) a machine that is
// not among the machines MAAS lists for the installation's agent_name.
//
// # Addresses
//
// Control-plane VIPs and LoadBalancer pools are reserved in MAAS
// (addresses.go). MAAS records no owner data on a reserved address, only
// the MAAS user, so the owner marks (Marks: installation, kind, namespace,
// name, UID) are written into the comment of a reserved IP range:
//
//	maas-gateway:v1 vip inst=<installation> kind=<Kind> ns=<namespace> name=<name> uid=<uid>
//
// A pool is such a range (purpose lb). A VIP is a user-reserved address
// (ipaddresses op=reserve, which any MAAS user may call and which refuses
// an address in use: MAAS decides a contested address) plus a one-address
// range carrying its marks, created right after. Reservations rebuilds
// every reservation of an installation from MAAS; ReserveVIP, ReleaseVIP,
// ReserveRange and ReleaseRange are idempotent and touch only what carries
// the caller's marks; an address this MAAS user reserved that no range
// marks (a crash between the two requests) is listed as unmarked, marked by
// its owner's retry, or released by a sweep after a grace period.
package maas
