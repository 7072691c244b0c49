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

// Package bootstrap renders the cloud-init user data of every machine the
// operator deploys, and generates the PKI and credentials those machines need.
//
// It is a renderer: pure functions from typed inputs to bytes. It talks to no
// Kubernetes API, no MAAS and no network; controllers store what it generates
// (in Secrets laid out as Cluster API's kubeadm bootstrap keeps them) and hand
// it back on the next reconcile.
//
// The user data assumes an OS image with containerd, kubelet and kubeadm
// installed (as MAAS images built for Kubernetes are): it writes kubeadm's
// v1beta4 configuration, the shared cluster PKI and a kube-vip static Pod on
// control-plane machines, proxy settings for the OS, containerd and kubelet,
// and a marker file (/etc/maas-gateway/node.yaml) that Parse reads back, so a
// test can tell what a machine was asked to become without running cloud-init.
//
// Keys are RSA 2048, as kubeadm's default encryptionAlgorithm (RSA-2048) and
// Cluster API make them: the CA keys then match the leaf keys kubeadm
// generates on the nodes, and service-account tokens are signed RS256, the one
// algorithm every OIDC consumer of those tokens must accept. ECDSA P-256 would
// generate faster, but a cluster's PKI is generated once in its lifetime.
package bootstrap
