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

// Package packs installs packs (Helm charts or plain manifests) into tenant
// clusters with the Helm SDK, given only a *rest.Config for the tenant. It
// never reads the management cluster and knows no CRD: a controller turns
// its API objects into [Pack] values and calls an [Installer].
//
//	inst := packs.NewInstaller(packs.Options{Proxy: proxyFunc, Log: log})
//	values, err := packs.MergeValues(profileValues, clusterOverride)
//	res, err := inst.Apply(ctx, tenantConfig, packs.Pack{Name: "cni", Namespace: "kube-system",
//		Source: packs.Source{Repository: "https://charts.example/", Chart: "cilium", Version: "~1.16"},
//		Values: values})
//	err = inst.Uninstall(ctx, tenantConfig, "cni", "kube-system")
//	releases, err := inst.List(ctx, tenantConfig)
//
// # What it decides
//
//   - Ownership. Every release it makes carries the release label
//     [LabelManaged]; List and Uninstall see only those, and Apply refuses
//     ([ErrNotManaged]) a release of the same name without it. A user's own
//     Helm releases in the tenant are never changed or adopted.
//   - Change detection, without state of its own. A digest of the source
//     (repository and chart, or manifests), the resolved chart version and
//     the values is stored on the release as [LabelDigest]. Apply upgrades
//     when it differs from the deployed revision's or when the last revision
//     failed, and does nothing otherwise, so a restarted operator or a wiped
//     status causes no new revision. A constraint ("~1.2") is resolved
//     against the repository on each Apply (index cached a few minutes), and
//     a newly published matching version is an upgrade.
//   - Interrupted operations. A pending revision younger than
//     Options.StaleAfter means someone is working on the release
//     ([ErrBusy]); an older one was left by a crash or a timeout and is
//     marked failed, then upgraded from, so it never wedges the release.
//   - No waiting. Apply creates or updates the objects and returns; it never
//     waits for pods (a reconcile must not block), so readiness is for the
//     caller to observe. Each call is bounded by Options.Timeout.
//
// # How it reaches things
//
// Helm runs against an in-memory RESTClientGetter (discovery cached in
// memory for one operation, no kubeconfig file, nothing written to disk);
// releases are stored by Helm's Secret driver in the release namespace,
// which is created if missing, with at most 10 revisions kept.
//
// Charts come from http(s) repositories (index.yaml and archives fetched
// into memory, archives checked against the index digest) or OCI
// registries (Helm's registry client; plain HTTP only to loopback hosts).
// Both use Options.Proxy and never the environment's proxy settings; TLS
// trusts the system roots plus Auth.CA. Basic auth goes only to the
// repository's host. Archives are cached in memory, bounded in bytes (least
// recently used out first), keyed by repository, chart, resolved version
// and credential identity. Errors name the repository, chart and version,
// never a password.
//
// Manifests are installed as a release of a chart built in memory whose
// template prints them from a chart file, so they are never templated.
//
// Errors wrap one of [ErrInvalid], [ErrNotManaged], [ErrFetch], [ErrBusy]
// and [ErrRelease]; callers branch with errors.Is.
//
// The test helper package packstest serves charts as a Helm repository on
// a loopback server.
package packs
