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

// Package controlplane plays the machines of tenant clusters with the real
// Kubernetes binaries: when a machine of the MAAS simulator
// (internal/maassim) deploys with user data that internal/bootstrap
// rendered, what cloud-init and kubeadm would make of it comes to life on
// the machine's own loopback address, so that the operator under test
// reaches a real API server and a real etcd as it would on a data-centre
// network, with no dialer override.
//
// It is a test double for machines, never part of the operator: only tests,
// the demo and cmd/maas-sim import it (as internal/joinemu).
//
// # What is emulated
//
//   - kubeadm init (RoleInitControlPlane): the machine's certificates signed
//     by the CAs in its user data (etcd server and peer, the API server's
//     serving certificate for the VIP, the machine, kubernetes.default and
//     the first Service IP; etcd and front-proxy client certificates), a
//     real etcd on <machine IP>:2379/2380 with TLS and client-certificate
//     authentication, a real kube-apiserver on <machine IP>:<port> with
//     kubeadm's flags (Node,RBAC authorization, NodeRestriction, bootstrap
//     token authentication, the service-account keys from the user data),
//     and kubeadm's bootstrap objects: the kubeadm:cluster-admins binding
//     the operator's admin kubeconfig relies on, the bootstrap token Secret,
//     kubeadm-config (the ClusterConfiguration of the user data) in
//     kube-system and cluster-info in kube-public; with --upload-certs, before
//     the bootstrap token and cluster-info, the kubeadm-certs Secret (the CA
//     keys and service-account key sealed with the certificate key of the
//     user data, owned by a usage-less bootstrap token of kubeadm's two-hour
//     TTL) and the Role and RoleBinding that let the node token group read it.
//   - The VIP: a TCP forwarder on VIP:port, standing in for kube-vip or a
//     load balancer, relays each connection to a control plane whose API
//     server and etcd run, so the VIP survives the loss of any one of them;
//     like a health-checking load balancer, it closes the connections it
//     relays to a control plane that stops serving.
//   - kubeadm join (RoleJoinControlPlane, RoleJoinWorker): discovery as
//     kubeadm does it (cluster-info fetched through the VIP, its CA checked
//     against the pinned hashes, the bootstrap token authenticated), waiting
//     as long as the machine exists for the control plane to answer; on a
//     control plane whose user data writes no keys, download-certs: the
//     kubeadm-certs Secret read through the VIP with the bootstrap token and
//     opened with the certificate key, the join failing with kubeadm's
//     reason when the Secret is gone or expired (the emulator stands in for
//     the token cleaner and garbage collector) or the key does not open it
//     (KubeadmError tells); then, as kubeadm since v1.32: etcd member add as a learner
//     through the etcd API (etcd allows one learner at a time; the join
//     retries, then fails), etcd started with
//     --initial-cluster-state=existing, the learner promoted once in sync,
//     then a kube-apiserver.
//   - kubelets: the Node registers with the identity system:node:<name> (the
//     emulator signs that certificate with the cluster CA, standing in for
//     TLS bootstrap), with the labels, taints, providerID, addresses and
//     version of the user data (internal/joinemu.DesiredNode); kubeadm then
//     labels control planes. The kubelet renews its Lease and reports
//     Ready=False (KubeletNotReady, "container runtime network not ready:
//     ... cni plugin not initialized") until a CNI is installed, which it
//     sees as kubelets see /etc/cni/net.d: a DaemonSet whose Pod template
//     mounts that host path. Pods bound to its Node are reported Running and
//     Ready (Pods on the Pod network only once a CNI is installed, with an
//     address from the cluster's Pod subnet), and a deleted Pod is removed
//     (grace period 0) once its deletionTimestamp has passed. A control
//     plane's kubelet keeps mirror Pods of its static Pods in kube-system
//     (etcd-<node>, kube-apiserver-<node>, kube-controller-manager-<node>;
//     labels tier=control-plane, component=...), Ready while the process
//     runs and in CrashLoopBackOff while it does not.
//   - The node lifecycle controller, by a stand-in: not-ready taints
//     (NoSchedule and NoExecute) on a Node that is not Ready, unreachable
//     taints and Unknown conditions on a Node whose Lease is older than
//     NodeMonitorGracePeriod.
//   - kube-controller-manager, when Options.ControllerManager is set: the
//     real one beside each API server, with only Options.Controllers
//     (the disruption controller by default, which keeps
//     PodDisruptionBudget status), leader-elected across control planes.
//   - Release and power-off: the machine's processes are killed (their
//     process groups) and reaped, its kubelet stops, a release erases its
//     disk; its Node stays and goes Unknown, its etcd member stays in the
//     member list, unreachable, until someone removes it. Power-on of a
//     deployed machine starts its processes again from its disk.
//   - Faults: Options.JoinFails and FailJoin (kubeadm fails: MAAS says
//     Deployed, nothing starts, no Node), KillKubelet, CrashEtcd.
//
// # What is not
//
// No scheduler, no kube-proxy, no CNI, no containers: Pods must be bound
// (spec.nodeName) by whoever creates them; no DaemonSet, Deployment or
// garbage collection unless a test asks kube-controller-manager for those
// controllers. No CSR flow, no kubelet-config ConfigMap or
// ClusterStatus, no kube-proxy or CoreDNS add-ons, no upgrade (kubeadm
// upgrade) and no certificate renewal. The
// API servers run with the ServiceAccount admission plugin off and no
// kubernetes Service endpoints (their addresses would be loopback), as
// envtest runs them. Machine addresses and VIPs must be IPv4 loopback
// addresses; every machine's first address is the one it serves on.
//
// # Cost
//
// Each control plane is an etcd and a kube-apiserver process (measured:
// 50 and 280 MB resident), plus a kube-controller-manager (75 MB) when asked
// for. kubeadm init takes about 5 s; each joining control plane about 10 s
// more, most of it etcd's: a new member publishes itself only after its
// first attempt times out (7 s), as on hardware. Workers cost a goroutine.
// The processes share the binaries in Options.BinDir and run from the
// emulator's working directory (Dir), each in a process group of its own
// and killed with the test binary should it die (Pdeathsig); a release
// kills and reaps a machine's processes, freeing its ports, and Close does
// so for every machine and VIP, and fails if Leaks still finds one.
package controlplane
