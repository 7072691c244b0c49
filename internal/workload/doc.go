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

// Package workload does what the operator does inside the clusters it runs
// (the gateway and its tenant clusters), never talking to MAAS:
//
//   - reach a cluster with credentials built in memory from the PKI and VIP
//     the operator generated itself (RESTConfig, EtcdTLS), never from bytes a
//     user could have written into a Secret;
//   - match Nodes to MAAS machines by providerID (maas://<system_id>), and by
//     hostname for nodes adopted from a hand-made cluster (NodeFor);
//   - take a Node out before its machine is released, one non-blocking step
//     per call (Drain): cordon, evict through the eviction API so that
//     PodDisruptionBudgets hold, and report what is still running, what a
//     budget blocks and what is terminating, so that the caller requeues
//     instead of waiting inside a reconcile (Cluster API left kubectl's
//     blocking drain for this reason);
//   - change etcd membership without ever losing quorum (PlanMemberRemoval
//     decides, Etcd acts): leadership moves off a member before it goes, one
//     member at a time, never below quorum, and members with no machine
//     behind them are found too.
//
// Controllers combine it with internal/maas: the order they follow before a
// control-plane machine is released is drain, wait for the pods to go,
// remove the etcd member (while the kubelet still works: removed first, the
// node's pods would stay Terminating), delete the Node, release.
package workload
