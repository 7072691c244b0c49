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

// Package install installs a gateway from a pcg.yaml the way Cluster API
// bootstraps a management cluster: the operator in a bootstrap cluster
// creates the gateway's first node (Gateway spec.initialize), then the
// operator is installed into the new cluster and the gateway is moved into
// itself, where the operator adds the remaining nodes.
//
// It decides the order of the steps and what "done" means for each, and
// nothing else: every step is idempotent and checks its own result first,
// so running the installer again after any failure (or a kill) resumes
// from where the clusters are, with nothing duplicated. The Runner (steps,
// progress, summary) is pure and table-tested; the steps themselves talk
// to the clusters through clients and the OperatorInstaller seam.
package install
