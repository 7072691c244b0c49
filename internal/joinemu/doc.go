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

// Package joinemu plays the kubelets of simulated MAAS machines: when a
// machine of the MAAS simulator (internal/maassim) deploys with user data that
// asks it to join a cluster (internal/bootstrap's node intent), a Node appears
// in that cluster as it would once cloud-init had run kubeadm and the kubelet
// had registered; when the machine is released, its Node goes away.
//
// It is a test double for the machines, never part of the operator: only
// tests, the demo and cmd/maas-sim import it.
//
// What a registered Node carries, as kubelet and kubeadm would set it:
// spec.providerID and the taints from the intent; the intent's labels plus
// the kubelet's own (kubernetes.io/hostname, os, arch) and, on control-plane
// roles, kubeadm's (node-role.kubernetes.io/control-plane,
// node.kubernetes.io/exclude-from-external-load-balancers); status with the
// machine's addresses, capacity, kubelet version and a Ready condition.
// Standing in for the node lifecycle controller, which envtest lacks, it
// removes the node.kubernetes.io/not-ready taint the API server puts on every
// new Node once that Node is Ready (and keeps it on a Node that is not). A
// Lease in kube-node-lease is renewed for every joined Node, so a real
// cluster's node lifecycle controller keeps it Ready while the emulator runs,
// and marks it unreachable when the emulator stops, as it would a dead kubelet.
//
// What is not emulated: Pods (nothing runs on these Nodes; Pods the scheduler
// binds to them stay Pending), node status updates after registration, the
// kubelet re-registering a Node that someone deleted. Clusters with real
// insides (etcd, API servers, kubelets that run Pods) are
// internal/joinemu/controlplane's, for clusters whose VIP is a loopback
// address.
package joinemu
