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

package move

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/bootstrap"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
)

// labelTenantCluster is the label the operator puts on the Secrets it makes
// for a TenantCluster (internal/controller.LabelTenantCluster; this package
// does not import the controllers).
const labelTenantCluster = "infra.maasgateway.io/tenant-cluster"

// installation is what a move carries: one Gateway and what hangs off it.
type installation struct {
	gateway  *infrav1.Gateway
	accounts []infrav1.CloudAccount
	profiles []infrav1.ClusterProfile
	tenants  []infrav1.TenantCluster
	// namespaces holds every namespace of the objects above, sorted.
	namespaces []string
	// named are the Secrets the objects name or that are named after them
	// (credentials, a gateway PKI made by hand); owned, those an object
	// owns. Named ones go before the objects (the webhooks check that
	// credentials exist), owned ones after (their owners' new UIDs).
	named, owned []corev1.Secret
}

// kinds returns the installation's Gateway, CloudAccounts and
// TenantClusters, the objects that are paused and resumed, in dependency order.
func (in *installation) kinds() []client.Object {
	var out []client.Object
	if in.gateway != nil {
		out = append(out, in.gateway)
	}
	for i := range in.accounts {
		out = append(out, &in.accounts[i])
	}
	for i := range in.tenants {
		out = append(out, &in.tenants[i])
	}
	return out
}

// discover reads the installation whose Gateway lives in namespace ns; a
// cluster holding no Gateway there gives an installation without one.
func discover(ctx context.Context, c client.Reader, ns string) (*installation, error) {
	in := &installation{}
	var gws infrav1.GatewayList
	if err := c.List(ctx, &gws, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing Gateways in %s: %w", ns, err)
	}
	switch len(gws.Items) {
	case 0:
		return in, nil
	case 1:
		in.gateway = &gws.Items[0]
	default:
		return nil, fmt.Errorf("namespace %s holds %d Gateways; a cluster has one", ns, len(gws.Items))
	}
	gwKey := client.ObjectKeyFromObject(in.gateway)
	nss := map[string]bool{ns: true}

	var accounts infrav1.CloudAccountList
	if err := c.List(ctx, &accounts); err != nil {
		return nil, fmt.Errorf("listing CloudAccounts: %w", err)
	}
	byNamespace := map[string][]string{}
	for _, a := range accounts.Items {
		if dependents.GatewayOf(&a) == gwKey {
			in.accounts = append(in.accounts, a)
			byNamespace[a.Namespace] = append(byNamespace[a.Namespace], a.Name)
			nss[a.Namespace] = true
		}
	}
	profiles := map[types.NamespacedName]bool{}
	for _, accountNS := range sortedKeys(byNamespace) {
		var tcs infrav1.TenantClusterList
		if err := c.List(ctx, &tcs, client.InNamespace(accountNS)); err != nil {
			return nil, fmt.Errorf("listing TenantClusters in %s: %w", accountNS, err)
		}
		for _, tc := range tcs.Items {
			if !slices.Contains(byNamespace[accountNS], tc.Spec.CloudAccountRef.Name) {
				continue
			}
			in.tenants = append(in.tenants, tc)
			if tc.Spec.ProfileRef != nil {
				profiles[types.NamespacedName{Namespace: tc.Namespace, Name: tc.Spec.ProfileRef.Name}] = true
			}
		}
	}
	for _, key := range sortedNames(profiles) {
		p := infrav1.ClusterProfile{}
		switch err := c.Get(ctx, key, &p); {
		case apierrors.IsNotFound(err):
			// The cluster waits for it on either side; nothing to carry.
		case err != nil:
			return nil, fmt.Errorf("reading ClusterProfile %s: %w", key, err)
		default:
			in.profiles = append(in.profiles, p)
		}
	}
	in.namespaces = sortedKeys(nss)
	return in, in.findSecrets(ctx, c)
}

// findSecrets sorts the Secrets of the installation's namespaces into
// named and owned ones; other Secrets are not the installation's.
func (in *installation) findSecrets(ctx context.Context, c client.Reader) error {
	uids := map[types.UID]bool{}
	wanted := map[types.NamespacedName]bool{}
	objs := in.kinds()
	for i := range in.profiles {
		objs = append(objs, &in.profiles[i])
	}
	for _, o := range objs {
		uids[o.GetUID()] = true
		names, err := secretRefs(o)
		if err != nil {
			return err
		}
		for _, n := range names {
			wanted[types.NamespacedName{Namespace: o.GetNamespace(), Name: n}] = true
		}
	}
	// The gateway's PKI Secrets may have been made by hand from its first
	// node (README), owned by nothing and labelled with nothing.
	for _, p := range []bootstrap.SecretPurpose{bootstrap.PurposeCA, bootstrap.PurposeEtcd, bootstrap.PurposeFrontProxy,
		bootstrap.PurposeServiceAccount, bootstrap.PurposeKubeconfig} {
		wanted[types.NamespacedName{Namespace: in.gateway.Namespace, Name: bootstrap.SecretName(in.gateway.Name, p)}] = true
	}
	tenants := map[types.NamespacedName]bool{}
	for _, tc := range in.tenants {
		tenants[client.ObjectKeyFromObject(&tc)] = true
	}
	for _, ns := range in.namespaces {
		var list corev1.SecretList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return fmt.Errorf("listing Secrets in %s: %w", ns, err)
		}
		for _, s := range list.Items {
			owned := slices.ContainsFunc(s.OwnerReferences, func(r metav1.OwnerReference) bool { return uids[r.UID] })
			labelled := (ns == in.gateway.Namespace && s.Labels[infrav1.LabelGateway] == in.gateway.Name) ||
				tenants[types.NamespacedName{Namespace: ns, Name: s.Labels[labelTenantCluster]}]
			switch {
			case owned:
				in.owned = append(in.owned, s)
			case labelled || wanted[client.ObjectKeyFromObject(&s)]:
				in.named = append(in.named, s)
			}
		}
	}
	return nil
}

// secretRefs returns the names of the Secrets an object names: every field
// called *SecretRef (credentialsSecretRef of the MAAS connection, of a
// proxy, of a chart repository; kubeconfigSecretRef in status) holding a
// name. Found by walking the object rather than listing fields, so a field
// added to the API is moved without a change here.
func secretRefs(obj client.Object) ([]string, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var tree map[string]any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil, err
	}
	delete(tree, "metadata")
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if ref, ok := child.(map[string]any); ok && strings.HasSuffix(k, "SecretRef") {
					if name, ok := ref["name"].(string); ok && name != "" {
						out = append(out, name)
					}
				}
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(tree)
	slices.Sort(out)
	return slices.Compact(out), nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedNames(m map[types.NamespacedName]bool) []types.NamespacedName {
	out := make([]types.NamespacedName, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b types.NamespacedName) int { return strings.Compare(a.String(), b.String()) })
	return out
}
