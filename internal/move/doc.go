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

// Package move moves a gateway installation (its Gateway, the CloudAccounts
// bound to it, their TenantClusters and ClusterProfiles, and the Secrets
// they own or name) from one Kubernetes cluster to another, the way
// clusterctl move does for Cluster API, so that the installer can move a
// gateway from its bootstrap cluster into itself and an operator can move it
// out for maintenance and back.
//
// What it decides, and why:
//
//   - Both sides are paused (infra.maasgateway.io/paused) for the whole
//     move: the source first, waiting until each object reports Paused, so
//     that no reconcile is half-way through a MAAS write when copying
//     starts; the copies are created paused, so the target's operator does
//     nothing before the source is gone. At no moment can both act, and at
//     no moment can the side being left release a machine the other side
//     owns (a paused Gateway stops its CloudAccounts' sweeps of orphans).
//   - The MAAS marks do not change: every copy carries
//     infra.maasgateway.io/identity-uid, the source object's identity (its
//     own identity annotation, else its UID), so that the target's operator
//     finds the machines by their marks and rebuilds status from MAAS.
//     Status is copied too (unlike clusterctl), so nothing looks lost in
//     between.
//   - Objects are created in dependency order: namespaces, the Secrets the
//     objects name (the webhooks check them), Gateway, CloudAccounts,
//     ClusterProfiles, TenantClusters, then the Secrets they own, with
//     owner references rewritten to the new UIDs (a reference to an owner
//     that is not moved is dropped: the target's garbage collector would
//     delete an object whose owner does not exist).
//   - The source objects lose their finalizers (a paused operator would
//     never remove them, and their finalizers would release machines the
//     target now owns) and are deleted, dependents first; Secrets stay.
//   - Every step is idempotent and is judged from what both clusters hold,
//     never from memory: a run interrupted anywhere converges when run
//     again (copies are updated, not duplicated; a source already gone
//     means only the target's resume is left).
//
// It talks to Kubernetes API servers only, never to MAAS.
package move
