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

// Package dependents answers which TenantClusters depend on a Gateway or on a
// CloudAccount: the question behind the deletion guards of the admission
// webhook and of the Gateway's finalizer.
package dependents

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// Field index names registered by SetupIndexes.
const (
	// CloudAccountRefField indexes TenantClusters by spec.cloudAccountRef.name
	// (the account is always in the cluster's namespace).
	CloudAccountRefField = "spec.cloudAccountRef.name"
	// GatewayRefField indexes CloudAccounts by the Gateway they belong to, as
	// "namespace/name" with an empty gatewayRef.namespace resolved to the
	// account's own namespace, so one lookup finds accounts of every namespace.
	GatewayRefField = "spec.gatewayRef"
	// ProfileRefField indexes TenantClusters by spec.profileRef.name (the
	// profile is always in the cluster's namespace).
	ProfileRefField = "spec.profileRef.name"
)

// pageSize bounds each uncached list, so confirming that nothing depends on
// an object holds at most this many objects in memory at a time.
const pageSize = 500

// SetupIndexes registers the field indexes the Finder reads through a cache.
// Call it once per manager, before the manager starts.
func SetupIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &infrav1alpha1.TenantCluster{}, CloudAccountRefField,
		func(o client.Object) []string {
			if name := o.(*infrav1alpha1.TenantCluster).Spec.CloudAccountRef.Name; name != "" {
				return []string{name}
			}
			return nil
		}); err != nil {
		return fmt.Errorf("indexing TenantClusters by %s: %w", CloudAccountRefField, err)
	}
	if err := indexer.IndexField(ctx, &infrav1alpha1.CloudAccount{}, GatewayRefField,
		func(o client.Object) []string {
			ca := o.(*infrav1alpha1.CloudAccount)
			if ca.Spec.GatewayRef.Name == "" {
				return nil
			}
			return []string{GatewayOf(ca).String()}
		}); err != nil {
		return fmt.Errorf("indexing CloudAccounts by %s: %w", GatewayRefField, err)
	}
	if err := indexer.IndexField(ctx, &infrav1alpha1.TenantCluster{}, ProfileRefField,
		func(o client.Object) []string {
			if ref := o.(*infrav1alpha1.TenantCluster).Spec.ProfileRef; ref != nil && ref.Name != "" {
				return []string{ref.Name}
			}
			return nil
		}); err != nil {
		return fmt.Errorf("indexing TenantClusters by %s: %w", ProfileRefField, err)
	}
	return nil
}

// GatewayOf is the Gateway a CloudAccount belongs to: gatewayRef, whose empty
// namespace means the account's own.
func GatewayOf(ca *infrav1alpha1.CloudAccount) types.NamespacedName {
	ns := ca.Spec.GatewayRef.Namespace
	if ns == "" {
		ns = ca.Namespace
	}
	return types.NamespacedName{Namespace: ns, Name: ca.Spec.GatewayRef.Name}
}

// Dependent is a TenantCluster that keeps a Gateway or CloudAccount in use.
type Dependent struct {
	Namespace string
	Name      string
	// Deleting is true when the cluster is already being deleted: its
	// finalizer still needs the account to release its machines.
	Deleting bool
}

// String is namespace/name, marked when the cluster is already being deleted.
func (d Dependent) String() string {
	if d.Deleting {
		return d.Namespace + "/" + d.Name + " (deleting)"
	}
	return d.Namespace + "/" + d.Name
}

// Summary lists the first max dependents and counts the rest, for messages
// that must stay short with a thousand clusters: "a/x, a/y and 3 more".
func Summary(deps []Dependent, maxNamed int) string {
	n := min(len(deps), maxNamed)
	names := make([]string, n)
	for i := range n {
		names[i] = deps[i].String()
	}
	s := strings.Join(names, ", ")
	if rest := len(deps) - n; rest > 0 {
		s += fmt.Sprintf(" and %d more", rest)
	}
	return s
}

// Finder finds the TenantClusters that depend on a Gateway or a CloudAccount.
type Finder struct {
	// Cache is a cached reader with the indexes of SetupIndexes, read first.
	Cache client.Reader
	// Live, when not nil, is an uncached reader (the manager's API reader)
	// that confirms an empty answer from Cache. An informer lags the API
	// server by milliseconds, so a TenantCluster created just before a delete
	// may be missing from Cache; asking the API server before saying
	// "nothing depends on it" closes that gap. A non-empty answer from Cache
	// is final: it is right save for clusters deleted in the last
	// milliseconds, and the caller is told to retry anyway.
	Live client.Reader
}

// OfCloudAccount returns the TenantClusters in the account's namespace that
// reference it, sorted by name.
func (f Finder) OfCloudAccount(ctx context.Context, account types.NamespacedName) ([]Dependent, error) {
	deps, err := f.cachedOfAccounts(ctx, []types.NamespacedName{account})
	if err != nil || len(deps) > 0 || f.Live == nil {
		return deps, err
	}
	return liveOfAccounts(ctx, f.Live, []types.NamespacedName{account})
}

// OfGateway returns the TenantClusters that use the Gateway through any of
// its CloudAccounts that it allows (see Allows), sorted by namespace and
// name: an account from a namespace the Gateway does not allow is not used,
// so it cannot hold the Gateway against deletion.
func (f Finder) OfGateway(ctx context.Context, gw *infrav1alpha1.Gateway) ([]Dependent, error) {
	gateway := client.ObjectKeyFromObject(gw)
	accounts, err := cachedAccountsOf(ctx, f.Cache, gateway)
	if err != nil {
		return nil, err
	}
	if accounts, err = f.allowed(ctx, gw, accounts); err != nil {
		return nil, err
	}
	deps, err := f.cachedOfAccounts(ctx, accounts)
	if err != nil || len(deps) > 0 || f.Live == nil {
		return deps, err
	}
	if accounts, err = liveAccountsOf(ctx, f.Live, gateway); err != nil {
		return nil, err
	}
	if accounts, err = f.allowed(ctx, gw, accounts); err != nil {
		return nil, err
	}
	return liveOfAccounts(ctx, f.Live, accounts)
}

// allowed keeps the accounts whose namespace gw allows.
func (f Finder) allowed(ctx context.Context, gw *infrav1alpha1.Gateway, accounts []types.NamespacedName) ([]types.NamespacedName, error) {
	out := accounts[:0:0]
	for _, a := range accounts {
		ok, _, err := f.AllowsAccount(ctx, gw, a.Namespace)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// AllowsAccount says whether gw allows CloudAccounts in namespace (see
// Allows), reading the namespace's labels only when the Gateway selects by
// them, from the API server (Live when set): a cache of every namespace is
// not worth it for this, and what allows an account must be current. A
// namespace that does not exist holds no account.
func (f Finder) AllowsAccount(ctx context.Context, gw *infrav1alpha1.Gateway, namespace string) (bool, string, error) {
	if gw.Spec.AllowedCloudAccounts.Namespaces.From != infrav1alpha1.NamespacesFromSelector || namespace == gw.Namespace {
		ok, why := Allows(gw, namespace, nil)
		return ok, why, nil
	}
	reader := f.Live
	if reader == nil {
		reader = f.Cache
	}
	ns := &corev1.Namespace{}
	err := reader.Get(ctx, types.NamespacedName{Name: namespace}, ns)
	switch {
	case apierrors.IsNotFound(err):
		return false, fmt.Sprintf("namespace %s does not exist", namespace), nil
	case err != nil:
		return false, "", fmt.Errorf("reading namespace %s: %w", namespace, err)
	}
	ok, why := Allows(gw, namespace, ns.Labels)
	return ok, why, nil
}

// Allows says whether gw allows CloudAccounts in namespace, whose labels
// are nsLabels, per its spec.allowedCloudAccounts (Same when unset), and
// when not, why, in words for a condition or an admission refusal. The
// Gateway's own namespace is always allowed, whatever the selector says:
// its default CloudAccount lives there.
func Allows(gw *infrav1alpha1.Gateway, namespace string, nsLabels map[string]string) (bool, string) {
	if namespace == gw.Namespace {
		return true, "" // its default CloudAccount lives there
	}
	ns := gw.Spec.AllowedCloudAccounts.Namespaces
	const how = "; to allow it, set the Gateway's spec.allowedCloudAccounts.namespaces to from: All, " +
		"or from: Selector with a selector that matches the namespace's labels"
	switch ns.From {
	case infrav1alpha1.NamespacesFromAll:
		return true, ""
	case infrav1alpha1.NamespacesFromSelector:
		if ns.Selector == nil {
			return false, fmt.Sprintf("Gateway %s/%s allows CloudAccounts by namespace selector but has none", gw.Namespace, gw.Name)
		}
		sel, err := metav1.LabelSelectorAsSelector(ns.Selector)
		if err != nil {
			return false, fmt.Sprintf("Gateway %s/%s has an invalid namespace selector: %v", gw.Namespace, gw.Name, err)
		}
		if sel.Matches(labels.Set(nsLabels)) {
			return true, ""
		}
		return false, fmt.Sprintf("Gateway %s/%s allows CloudAccounts only from namespaces matching %s, and namespace %s does not match"+how,
			gw.Namespace, gw.Name, sel, namespace)
	default: // Same, or unset
		return false, fmt.Sprintf("Gateway %s/%s allows CloudAccounts only from its own namespace %s, not from %s"+how,
			gw.Namespace, gw.Name, gw.Namespace, namespace)
	}
}

// OfClusterProfile returns the TenantClusters built from the profile, sorted
// by name. A cluster being deleted needs its profile no more, so it is not
// one of them.
func (f Finder) OfClusterProfile(ctx context.Context, profile types.NamespacedName) ([]Dependent, error) {
	var list infrav1alpha1.TenantClusterList
	if err := f.Cache.List(ctx, &list, client.InNamespace(profile.Namespace),
		client.MatchingFields{ProfileRefField: profile.Name}); err != nil {
		return nil, fmt.Errorf("listing TenantClusters of ClusterProfile %s: %w", profile, err)
	}
	deps := appendProfileDependents(nil, list.Items, "")
	if len(deps) > 0 || f.Live == nil {
		sortDependents(deps)
		return deps, nil
	}
	opts := []client.ListOption{client.InNamespace(profile.Namespace), client.Limit(pageSize)}
	for {
		var page infrav1alpha1.TenantClusterList
		if err := f.Live.List(ctx, &page, opts...); err != nil {
			return nil, fmt.Errorf("listing TenantClusters in namespace %s: %w", profile.Namespace, err)
		}
		deps = appendProfileDependents(deps, page.Items, profile.Name)
		if page.Continue == "" {
			break
		}
		opts = []client.ListOption{client.InNamespace(profile.Namespace), client.Limit(pageSize), client.Continue(page.Continue)}
	}
	sortDependents(deps)
	return deps, nil
}

// appendProfileDependents appends the clusters not being deleted that name
// the profile, or that name any profile when profile is empty (the list was
// already filtered).
func appendProfileDependents(deps []Dependent, items []infrav1alpha1.TenantCluster, profile string) []Dependent {
	for i := range items {
		tc := &items[i]
		if tc.DeletionTimestamp != nil || tc.Spec.ProfileRef == nil || (profile != "" && tc.Spec.ProfileRef.Name != profile) {
			continue
		}
		deps = append(deps, Dependent{Namespace: tc.Namespace, Name: tc.Name})
	}
	return deps
}

// CloudAccountsOf returns the CloudAccounts that belong to the Gateway, read
// from Cache, sorted by namespace and name.
func (f Finder) CloudAccountsOf(ctx context.Context, gateway types.NamespacedName) ([]types.NamespacedName, error) {
	return cachedAccountsOf(ctx, f.Cache, gateway)
}

func cachedAccountsOf(ctx context.Context, r client.Reader, gateway types.NamespacedName) ([]types.NamespacedName, error) {
	var list infrav1alpha1.CloudAccountList
	if err := r.List(ctx, &list, client.MatchingFields{GatewayRefField: gateway.String()}); err != nil {
		return nil, fmt.Errorf("listing CloudAccounts of Gateway %s: %w", gateway, err)
	}
	accounts := make([]types.NamespacedName, 0, len(list.Items))
	for i := range list.Items {
		accounts = append(accounts, client.ObjectKeyFromObject(&list.Items[i]))
	}
	sortKeys(accounts)
	return accounts, nil
}

func (f Finder) cachedOfAccounts(ctx context.Context, accounts []types.NamespacedName) ([]Dependent, error) {
	var deps []Dependent
	for _, account := range accounts {
		var list infrav1alpha1.TenantClusterList
		if err := f.Cache.List(ctx, &list, client.InNamespace(account.Namespace),
			client.MatchingFields{CloudAccountRefField: account.Name}); err != nil {
			return nil, fmt.Errorf("listing TenantClusters of CloudAccount %s: %w", account, err)
		}
		deps = appendDependents(deps, list.Items, nil)
	}
	sortDependents(deps)
	return deps, nil
}

// liveAccountsOf lists every CloudAccount from the API server, page by page:
// custom resources offer no field selector on spec fields, so the filter runs here.
func liveAccountsOf(ctx context.Context, r client.Reader, gateway types.NamespacedName) ([]types.NamespacedName, error) {
	var accounts []types.NamespacedName
	opts := []client.ListOption{client.Limit(pageSize)}
	for {
		var list infrav1alpha1.CloudAccountList
		if err := r.List(ctx, &list, opts...); err != nil {
			return nil, fmt.Errorf("listing CloudAccounts of Gateway %s: %w", gateway, err)
		}
		for i := range list.Items {
			if GatewayOf(&list.Items[i]) == gateway {
				accounts = append(accounts, client.ObjectKeyFromObject(&list.Items[i]))
			}
		}
		if list.Continue == "" {
			break
		}
		opts = []client.ListOption{client.Limit(pageSize), client.Continue(list.Continue)}
	}
	sortKeys(accounts)
	return accounts, nil
}

// liveOfAccounts lists the TenantClusters of each namespace holding one of
// the accounts once, page by page, and keeps those referencing an account.
func liveOfAccounts(ctx context.Context, r client.Reader, accounts []types.NamespacedName) ([]Dependent, error) {
	byNamespace := map[string]map[string]bool{}
	for _, a := range accounts {
		if byNamespace[a.Namespace] == nil {
			byNamespace[a.Namespace] = map[string]bool{}
		}
		byNamespace[a.Namespace][a.Name] = true
	}
	var deps []Dependent
	for ns, names := range byNamespace {
		opts := []client.ListOption{client.InNamespace(ns), client.Limit(pageSize)}
		for {
			var list infrav1alpha1.TenantClusterList
			if err := r.List(ctx, &list, opts...); err != nil {
				return nil, fmt.Errorf("listing TenantClusters in namespace %s: %w", ns, err)
			}
			deps = appendDependents(deps, list.Items, names)
			if list.Continue == "" {
				break
			}
			opts = []client.ListOption{client.InNamespace(ns), client.Limit(pageSize), client.Continue(list.Continue)}
		}
	}
	sortDependents(deps)
	return deps, nil
}

// appendDependents appends the clusters whose account is in accounts, or
// every cluster when accounts is nil (the list was already filtered).
func appendDependents(deps []Dependent, items []infrav1alpha1.TenantCluster, accounts map[string]bool) []Dependent {
	for i := range items {
		tc := &items[i]
		if accounts != nil && !accounts[tc.Spec.CloudAccountRef.Name] {
			continue
		}
		deps = append(deps, Dependent{Namespace: tc.Namespace, Name: tc.Name, Deleting: tc.DeletionTimestamp != nil})
	}
	return deps
}

func sortKeys(keys []types.NamespacedName) {
	slices.SortFunc(keys, func(a, b types.NamespacedName) int {
		return strings.Compare(a.String(), b.String())
	})
}

func sortDependents(deps []Dependent) {
	slices.SortFunc(deps, func(a, b Dependent) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}
