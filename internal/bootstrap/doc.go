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
// By default the user data assumes an OS image with containerd, kubelet and
// kubeadm installed (as MAAS images built for Kubernetes are). With
// NodeConfig.Packages it serves a stock Ubuntu image instead: a script
// installs containerd and the Kubernetes packages of the node's exact
// release from an apt repository (pkgs.k8s.io or a mirror), prepares the
// kernel and swap as kubeadm needs, and only then runs kubeadm, so that a
// failed installation never leaves a half-built machine joining the cluster.
// Either way it writes kubeadm's v1beta4 configuration, the shared cluster
// PKI and a kube-vip static Pod on control-plane machines, proxy settings for
// the OS, containerd and kubelet (and apt, on a stock image), and a marker
// file (/etc/maas-gateway/node.yaml) that Parse reads back, so a test can
// tell what a machine was asked to become without running cloud-init.
//
// Keys are ECDSA P-256. GeneratePKI runs in the reconcile that creates a
// cluster, and four RSA-2048 keys cost it seconds of CPU on a loaded machine
// (docs/performance.md), against about a millisecond for ECDSA. kubeadm
// init is told encryptionAlgorithm ECDSA-P256, so the certificates kubeadm
// makes on the nodes use the CAs' key type. Service-account tokens are then
// signed ES256: kube-apiserver takes EC keys, but anything outside the cluster
// that verifies those tokens (OIDC federation) must accept ES256 too.
//
// A PKI an older version generated has RSA-2048 keys; it is loaded, rendered
// and signed with as it is, never rotated, and its kubeadm init is told
// RSA-2048 (the encryptionAlgorithm follows the cluster CA's key).
package bootstrap
