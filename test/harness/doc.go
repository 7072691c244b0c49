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

// Package harness runs the whole operator locally, as one process tree on
// loopback, for the demo, the benchmarks and the chaos runs:
//
//   - a real control plane (the envtest kube-apiserver and etcd) with the
//     project's CRDs, and its webhook configurations pointing at the manager
//     with generated serving certificates;
//   - the MAAS simulator in this process (so counters, faults and the
//     inventory are plain method calls) and the kubelet-join emulator, which
//     turns deployed gateway machines into Ready Nodes;
//   - the manager binary as a child process, built once from ./cmd/manager,
//     so that it can be SIGKILLed and restarted as a crash would, and its
//     memory measured from /proc.
//
// The manager is the production binary with production wiring: nothing here
// reaches into its process, everything goes through the API server, MAAS and
// its metrics endpoint.
package harness
