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

package v1alpha1

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
)

// DefaultOSImage is the MAAS boot resource tenant machines get when the
// profile names none; the CRD schema defaults to the same.
const DefaultOSImage = "ubuntu/jammy"

// maxKnownListed bounds the inventory a refusal lists as "known: …".
const maxKnownListed = 10

// SetupTenantClusterWebhookWithManager registers the TenantCluster webhooks
// and the index they find a cluster's VIP by.
func SetupTenantClusterWebhookWithManager(mgr ctrl.Manager, opts Options) error {
	if err := indexVIPs(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	r := newReaders(mgr)
	if err := ctrl.NewWebhookManagedBy(mgr, &infrav1alpha1.TenantCluster{}).
		WithValidator(&TenantClusterValidator{readers: r, opts: opts}).
		Complete(); err != nil {
		return err
	}
	// The builder's defaulting webhook diffs the whole object; this one
	// patches what the defaulter set (tenantcluster_mutator.go).
	mgr.GetWebhookServer().Register(tenantClusterMutatePath,
		tenantClusterMutatingWebhook(mgr.GetScheme(), &TenantClusterDefaulter{readers: r}))
	return nil
}

// vipField indexes TenantClusters by their control-plane endpoint in
// canonical form, so "fd00::0:5" and "fd00::5" are one address.
const vipField = "spec.controlPlaneEndpoint"

func indexVIPs(ctx context.Context, indexer client.FieldIndexer) error {
	err := indexer.IndexField(ctx, &infrav1alpha1.TenantCluster{}, vipField, func(o client.Object) []string {
		if a, err := netip.ParseAddr(o.(*infrav1alpha1.TenantCluster).Spec.ControlPlaneEndpoint); err == nil {
			return []string{a.Unmap().String()}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("indexing TenantClusters by %s: %w", vipField, err)
	}
	return nil
}

// tenantClusterMutatePath is the path of the marker below, which
// config/webhook is generated from.
const tenantClusterMutatePath = "/mutate-infra-maasgateway-io-v1alpha1-tenantcluster"

// +kubebuilder:webhook:path=/mutate-infra-maasgateway-io-v1alpha1-tenantcluster,mutating=true,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=infra.maasgateway.io,resources=tenantclusters,verbs=create;update,versions=v1alpha1,name=mtenantcluster-v1alpha1.kb.io,admissionReviewVersions=v1

// TenantClusterDefaulter fills a TenantCluster's network and proxy from the
// Gateway behind its CloudAccount, and the pools' update strategy and OS image.
type TenantClusterDefaulter struct {
	readers
}

// Default implements admission.Defaulter. The webhook server runs
// tenantClusterMutator, which applies the same defaults through setDefaults.
func (d *TenantClusterDefaulter) Default(ctx context.Context, tc *infrav1alpha1.TenantCluster) error {
	return d.setDefaults(ctx, tc, func(...string) {})
}

// setDefaults fills what the cluster leaves unset and calls set with the JSON
// path of each field it sets (a struct it creates, then each field it fills
// in it), so that the webhook can patch exactly those.
func (d *TenantClusterDefaulter) setDefaults(ctx context.Context, tc *infrav1alpha1.TenantCluster, set func(path ...string)) error {
	spec := &tc.Spec
	if spec.Profile != nil && spec.Profile.OSImage == "" {
		spec.Profile.OSImage = DefaultOSImage
		set("spec", "profile", "osImage")
	}
	if spec.ControlPlane.Size == 0 {
		spec.ControlPlane.Size = 1
		set("spec", "controlPlane", "size")
	}
	if spec.ControlPlane.RollingUpdate == "" {
		spec.ControlPlane.RollingUpdate = infrav1alpha1.ExpandFirst
		set("spec", "controlPlane", "rollingUpdate")
	}
	for i := range spec.Workers {
		if spec.Workers[i].RollingUpdate == "" {
			spec.Workers[i].RollingUpdate = infrav1alpha1.ExpandFirst
			set("spec", "workers", strconv.Itoa(i), "rollingUpdate")
		}
	}

	needNetwork := spec.Network == nil || spec.Network.PodCIDR == "" || spec.Network.ServiceCIDR == ""
	if !needNetwork && spec.Proxy != nil {
		return nil
	}
	env, err := d.gatewayEnvironment(ctx, tc)
	if err != nil {
		// The ranges cannot change later: better no cluster now than one
		// with the built-in ranges where the gateway has others.
		return err
	}
	if needNetwork {
		if spec.Network == nil {
			spec.Network = &infrav1alpha1.ClusterNetwork{}
			set("spec", "network")
		}
		if spec.Network.PodCIDR == "" {
			spec.Network.PodCIDR = firstNonEmpty(env.PodCIDR, DefaultPodCIDR)
			set("spec", "network", "podCIDR")
		}
		if spec.Network.ServiceCIDR == "" {
			spec.Network.ServiceCIDR = firstNonEmpty(env.ServiceCIDR, DefaultServiceCIDR)
			set("spec", "network", "serviceCIDR")
		}
	}
	if spec.Proxy == nil && (env.HTTPProxy != "" || env.HTTPSProxy != "") {
		spec.Proxy = env.ProxySettings.DeepCopy()
		set("spec", "proxy")
	}
	return nil
}

// gatewayEnvironment returns the environment of the Gateway behind the
// cluster's CloudAccount; an empty one when either is missing, which the
// validator reports.
func (d *TenantClusterDefaulter) gatewayEnvironment(ctx context.Context, tc *infrav1alpha1.TenantCluster) (infrav1alpha1.Environment, error) {
	ca, gw, err := d.accountAndGateway(ctx, tc)
	if err != nil || ca == nil || gw == nil {
		return infrav1alpha1.Environment{}, err
	}
	return gw.Spec.Environment, nil
}

// accountAndGateway reads the cluster's CloudAccount and its Gateway; either
// is nil when not found.
func (r readers) accountAndGateway(ctx context.Context, tc *infrav1alpha1.TenantCluster) (
	*infrav1alpha1.CloudAccount, *infrav1alpha1.Gateway, error) {
	var ca infrav1alpha1.CloudAccount
	key := client.ObjectKey{Namespace: tc.Namespace, Name: tc.Spec.CloudAccountRef.Name}
	if err := r.get(ctx, key, &ca); apierrors.IsNotFound(err) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, unavailable(fmt.Sprintf("reading CloudAccount %s", key), err)
	}
	var gw infrav1alpha1.Gateway
	gwKey := dependents.GatewayOf(&ca)
	if err := r.get(ctx, gwKey, &gw); apierrors.IsNotFound(err) {
		return &ca, nil, nil
	} else if err != nil {
		return nil, nil, unavailable(fmt.Sprintf("reading Gateway %s", gwKey), err)
	}
	return &ca, &gw, nil
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// +kubebuilder:webhook:path=/validate-infra-maasgateway-io-v1alpha1-tenantcluster,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=infra.maasgateway.io,resources=tenantclusters,verbs=create;update,versions=v1alpha1,name=vtenantcluster-v1alpha1.kb.io,admissionReviewVersions=v1

// TenantClusterValidator checks a TenantCluster against its CloudAccount
// (which must exist, and whose MAAS inventory the pools must fit) and the
// Gateway (whose addresses its ranges must leave reachable).
type TenantClusterValidator struct {
	readers
	opts Options
}

// ValidateCreate implements admission.Validator.
func (v *TenantClusterValidator) ValidateCreate(ctx context.Context, tc *infrav1alpha1.TenantCluster) (admission.Warnings, error) {
	if errs := validateIdentity(nil, tc); len(errs) > 0 {
		return nil, invalid("TenantCluster", tc.Name, errs)
	}
	return v.validate(ctx, nil, tc)
}

// ValidateUpdate implements admission.Validator. Updates that leave the spec
// alone (finalizers, the force-delete annotation) and updates of a cluster
// being deleted pass unchecked: its finalizer must always be removable.
func (v *TenantClusterValidator) ValidateUpdate(ctx context.Context, oldTC, tc *infrav1alpha1.TenantCluster) (admission.Warnings, error) {
	if errs := validateIdentity(oldTC, tc); len(errs) > 0 {
		return nil, invalid("TenantCluster", tc.Name, errs)
	}
	if tc.DeletionTimestamp != nil || equality.Semantic.DeepEqual(oldTC.Spec, tc.Spec) {
		return nil, nil
	}
	return v.validate(ctx, &oldTC.Spec, tc)
}

// ValidateDelete implements admission.Validator; deleting a cluster is never refused.
func (v *TenantClusterValidator) ValidateDelete(context.Context, *infrav1alpha1.TenantCluster) (admission.Warnings, error) {
	return nil, nil
}

// validate checks a new cluster (oldSpec nil) or a changed one.
func (v *TenantClusterValidator) validate(ctx context.Context, oldSpec *infrav1alpha1.TenantClusterSpec,
	tc *infrav1alpha1.TenantCluster) (admission.Warnings, error) {
	checked := validateTenantSpec(&tc.Spec, v.opts)
	errs, warns := checked.errs, checked.warns
	profileErrs, profileWarns, err := v.checkProfile(ctx, tc)
	errs, warns = append(errs, profileErrs...), append(warns, profileWarns...)
	if err != nil {
		return warns, err
	}
	if oldSpec != nil {
		errs = append(errs, validateTenantTransition(oldSpec, &tc.Spec)...)
	}

	ca, gw, err := v.accountAndGateway(ctx, tc)
	if err != nil {
		return warns, err
	}
	if ca == nil {
		// It may be applied after the cluster (kubectl apply -f dir/, GitOps):
		// the cluster waits for it with a condition, as for a missing profile.
		warns = append(warns, fmt.Sprintf("CloudAccount %s/%s does not exist yet: the cluster waits for it "+
			"(a TenantCluster uses a CloudAccount of its own namespace); its zones, resource pools, domain and OS image were not checked",
			tc.Namespace, tc.Spec.CloudAccountRef.Name))
		if oldSpec == nil && checked.vip.IsValid() {
			vipErrs, err := v.checkVIPFree(ctx, tc, checked.vip)
			if err != nil {
				return warns, err
			}
			errs = append(errs, vipErrs...)
		}
		return warns, invalid("TenantCluster", tc.Name, errs)
	}
	if ca.DeletionTimestamp != nil && oldSpec == nil {
		errs = append(errs, field.Invalid(specPath.Child("cloudAccountRef", "name"), ca.Name,
			fmt.Sprintf("CloudAccount %s/%s is being deleted", ca.Namespace, ca.Name)))
	}
	invErrs, invWarns := checkInventory(ca, oldSpec, &tc.Spec)
	errs, warns = append(errs, invErrs...), append(warns, invWarns...)
	if tc.Spec.Proxy != nil {
		warns = append(warns, checkProxy(specPath.Child("proxy"), *tc.Spec.Proxy, ca.Spec.Endpoint)...)
	}
	errs = append(errs, checkReachable(checked, ca, gw)...)
	if oldSpec == nil && checked.vip.IsValid() {
		vipErrs, err := v.checkVIPFree(ctx, tc, checked.vip)
		if err != nil {
			return warns, err
		}
		errs = append(errs, vipErrs...)
		machineErrs, machineWarns := checkVIPNotMachine(v.opts.Machines, accountKey(ca), checked.vip)
		errs, warns = append(errs, machineErrs...), append(warns, machineWarns...)
	}
	return warns, invalid("TenantCluster", tc.Name, errs)
}

// inlineProfile is the cluster's own profile, or an empty one when it names
// a ClusterProfile (whose fields the pure checks cannot see).
func inlineProfile(spec *infrav1alpha1.TenantClusterSpec) *infrav1alpha1.ClusterProfileSpec {
	if spec.Profile != nil {
		return spec.Profile
	}
	return &infrav1alpha1.ClusterProfileSpec{}
}

// checkProfile checks the cluster's own profile as a ClusterProfile is
// checked, and that each pack override names a pack of the profile and holds
// a YAML mapping. A ClusterProfile that does not exist yet is no error: the
// cluster waits for it, so that manifests can be applied in any order.
func (v *TenantClusterValidator) checkProfile(ctx context.Context, tc *infrav1alpha1.TenantCluster) (field.ErrorList, admission.Warnings, error) {
	var errs field.ErrorList
	var warns admission.Warnings
	profile := tc.Spec.Profile
	if profile != nil {
		errs = append(errs, validateProfile(specPath.Child("profile"), profile)...)
	} else if ref := tc.Spec.ProfileRef; ref != nil {
		cp := &infrav1alpha1.ClusterProfile{}
		err := v.get(ctx, client.ObjectKey{Namespace: tc.Namespace, Name: ref.Name}, cp)
		switch {
		case apierrors.IsNotFound(err):
			warns = append(warns, fmt.Sprintf("ClusterProfile %s/%s does not exist yet: the cluster waits for it", tc.Namespace, ref.Name))
		case err != nil:
			return errs, warns, unavailable("reading ClusterProfile "+tc.Namespace+"/"+ref.Name, err)
		default:
			profile = &cp.Spec
		}
	}
	if lb := tc.Spec.LoadBalancer; lb != nil && lb.Pack != "" && profile != nil &&
		!slices.ContainsFunc(profile.Packs, func(p infrav1alpha1.Pack) bool { return p.Name == lb.Pack }) {
		warns = append(warns, fmt.Sprintf("spec.loadBalancer.pack: the profile has no pack %s: the pool is reserved but handed to no pack", lb.Pack))
	}
	for i, o := range tc.Spec.PackOverrides {
		op := specPath.Child("packOverrides").Index(i)
		if err := checkValues(o.Values); err != nil {
			errs = append(errs, field.Invalid(op.Child("values"), "(values)", err.Error()))
		}
		if profile == nil {
			continue
		}
		known := slices.ContainsFunc(profile.Packs, func(p infrav1alpha1.Pack) bool { return p.Name == o.Name })
		switch {
		case !known && tc.Spec.Profile != nil:
			errs = append(errs, field.NotFound(op.Child("name"), o.Name))
		case !known:
			warns = append(warns, fmt.Sprintf("spec.packOverrides[%d]: ClusterProfile %s/%s has no pack %s: the override does nothing until it has",
				i, tc.Namespace, tc.Spec.ProfileRef.Name, o.Name))
		}
	}
	return errs, warns, nil
}

// checkVIPFree refuses a control-plane endpoint another TenantCluster
// already has: every cluster of this gateway shares its MAAS networks, so
// two clusters with one VIP would take each other's API server down.
func (v *TenantClusterValidator) checkVIPFree(ctx context.Context, tc *infrav1alpha1.TenantCluster, vip netip.Addr) (field.ErrorList, error) {
	var list infrav1alpha1.TenantClusterList
	if err := v.cache.List(ctx, &list, client.MatchingFields{vipField: vip.String()}); err != nil {
		return nil, unavailable("listing TenantClusters by control-plane endpoint", err)
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.Namespace == tc.Namespace && other.Name == tc.Name {
			continue
		}
		return field.ErrorList{field.Invalid(specPath.Child("controlPlaneEndpoint"), tc.Spec.ControlPlaneEndpoint,
			fmt.Sprintf("already the control-plane endpoint of TenantCluster %s/%s", other.Namespace, other.Name))}, nil
	}
	return nil, nil
}

// tenantChecked is what validateTenantSpec found: the errors and warnings,
// and the parsed ranges and VIP for the checks against other objects.
type tenantChecked struct {
	errs     field.ErrorList
	warns    admission.Warnings
	pod, svc netip.Prefix
	vip      netip.Addr
}

var tenantNetworkPaths = networkPaths{
	pod:     specPath.Child("network", "podCIDR"),
	service: specPath.Child("network", "serviceCIDR"),
}

// validateTenantSpec checks what a TenantCluster says by itself, after defaulting.
func validateTenantSpec(spec *infrav1alpha1.TenantClusterSpec, opts Options) tenantChecked {
	var c tenantChecked
	cp := specPath.Child("controlPlane")
	switch spec.ControlPlane.Size {
	case 1:
		c.warns = append(c.warns, "spec.controlPlane.size is 1: the API server and etcd have no redundancy; "+
			"use 3 for production")
		if spec.ControlPlane.RollingUpdate == infrav1alpha1.ContractFirst {
			c.warns = append(c.warns, "spec.controlPlane.rollingUpdate is ContractFirst with one control-plane "+
				"machine: the API server is down while it is replaced; ExpandFirst avoids that")
		}
	case 3, 5:
	default:
		c.errs = append(c.errs, field.Invalid(cp.Child("size"), spec.ControlPlane.Size,
			"must be 1, 3 or 5: etcd needs an odd number of members to keep a quorum"))
	}

	machines := int(spec.ControlPlane.Size)
	workerMachines := 0
	for i, w := range spec.Workers {
		if w.Size < 0 {
			c.errs = append(c.errs, field.Invalid(specPath.Child("workers").Index(i).Child("size"), w.Size,
				"must be 0 or more"))
			continue
		}
		workerMachines += int(w.Size)
	}
	machines += workerMachines
	if workerMachines == 0 && !spec.ControlPlane.AllowWorkloads {
		c.warns = append(c.warns, "no worker pool has machines and spec.controlPlane.allowWorkloads is false: "+
			"ordinary pods will have nowhere to run")
	}

	pod, svc := "", ""
	if spec.Network != nil {
		pod, svc = spec.Network.PodCIDR, spec.Network.ServiceCIDR
	}
	// One machine more than the pools hold: a rolling update adds the new
	// machine before it removes the old.
	var netErrs field.ErrorList
	var netWarns []string
	c.pod, c.svc, netErrs, netWarns = checkNetwork(tenantNetworkPaths, pod, svc, machines+1,
		kubernetesMinor(inlineProfile(spec).KubernetesVersion))
	c.errs, c.warns = append(c.errs, netErrs...), append(c.warns, netWarns...)
	var vipErrs field.ErrorList
	var vipWarns admission.Warnings
	c.vip, vipErrs, vipWarns = checkVIP(specPath.Child("controlPlaneEndpoint"), spec.ControlPlaneEndpoint, c.pod, c.svc, opts)
	c.errs, c.warns = append(c.errs, vipErrs...), append(c.warns, vipWarns...)
	return c
}

// validateTenantTransition refuses the changes a running cluster cannot make.
func validateTenantTransition(oldSpec, spec *infrav1alpha1.TenantClusterSpec) field.ErrorList {
	if oldSpec.Network == nil {
		return nil
	}
	var errs field.ErrorList
	var pod, svc string
	if spec.Network != nil {
		pod, svc = spec.Network.PodCIDR, spec.Network.ServiceCIDR
	}
	for _, f := range []struct {
		path     *field.Path
		old, new string
	}{
		{tenantNetworkPaths.pod, oldSpec.Network.PodCIDR, pod},
		{tenantNetworkPaths.service, oldSpec.Network.ServiceCIDR, svc},
	} {
		if f.old != "" && f.new != f.old {
			errs = append(errs, field.Forbidden(f.path, fmt.Sprintf(
				"is immutable once set (was %q): the address ranges of a running cluster cannot change", f.old)))
		}
	}
	return errs
}

// checkReachable refuses ranges that would swallow the addresses the
// cluster's machines must reach, and a VIP that is the gateway's.
func checkReachable(c tenantChecked, ca *infrav1alpha1.CloudAccount, gw *infrav1alpha1.Gateway) field.ErrorList {
	var errs field.ErrorList
	vipPath := specPath.Child("controlPlaneEndpoint")
	if _, addr, ok := hostOf(ca.Spec.Endpoint); ok && addr.IsValid() {
		errs = append(errs, checkOutside(tenantNetworkPaths, c.pod, c.svc, addr, "the MAAS endpoint")...)
		if c.vip == addr {
			errs = append(errs, field.Invalid(vipPath, c.vip.String(), "is the address of the MAAS endpoint"))
		}
	}
	if gw == nil {
		return errs
	}
	gatewayAddrs := map[netip.Addr]string{}
	if a, err := netip.ParseAddr(gw.Spec.ControlPlaneEndpoint); err == nil {
		gatewayAddrs[a.Unmap()] = "the gateway's control-plane endpoint"
	}
	for _, n := range gw.Status.Nodes {
		for _, s := range n.Addresses {
			if a, err := netip.ParseAddr(s); err == nil {
				gatewayAddrs[a.Unmap()] = "the address of gateway node " + n.Hostname
			}
		}
	}
	addrs := make([]netip.Addr, 0, len(gatewayAddrs))
	for a := range gatewayAddrs {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	for _, a := range addrs {
		errs = append(errs, checkOutside(tenantNetworkPaths, c.pod, c.svc, a, gatewayAddrs[a])...)
		if c.vip == a {
			errs = append(errs, field.Invalid(vipPath, c.vip.String(), "is "+gatewayAddrs[a]))
		}
	}
	return errs
}

// checkInventory checks the pools, domain and OS image against what the
// CloudAccount found in MAAS. Before the account is validated there is
// nothing to check against, so it warns instead. On an update only what
// changed is checked: a zone removed from MAAS since must not block scaling.
func checkInventory(ca *infrav1alpha1.CloudAccount, oldSpec, spec *infrav1alpha1.TenantClusterSpec) (field.ErrorList, admission.Warnings) {
	account := ca.Namespace + "/" + ca.Name
	if !meta.IsStatusConditionTrue(ca.Status.Conditions, infrav1alpha1.CloudAccountCredentialsValid) {
		return nil, admission.Warnings{fmt.Sprintf("CloudAccount %s has not been validated against MAAS yet "+
			"(no CredentialsValid=True): the zones, resource pools, domain and OS image of this cluster were not checked", account)}
	}
	var errs field.ErrorList
	check := func(path *field.Path, what, value string, known []string) {
		if value == "" || len(known) == 0 || slices.Contains(known, value) {
			return
		}
		if what == "OS image" && slices.Contains(known, "custom/"+value) {
			return
		}
		errs = append(errs, field.Invalid(path, value, fmt.Sprintf("no %s %q in the MAAS of CloudAccount %s (known: %s)",
			what, value, account, listSome(known))))
	}

	oldPools := map[string]infrav1alpha1.MachineTemplate{}
	if oldSpec != nil {
		oldPools[infrav1alpha1.ControlPlanePoolName] = oldSpec.ControlPlane.MachineTemplate
		for _, w := range oldSpec.Workers {
			oldPools[w.Name] = w.MachineTemplate
		}
	}
	checkPool := func(path *field.Path, name string, t infrav1alpha1.MachineTemplate) {
		if old, ok := oldPools[name]; ok && old.ResourcePool == t.ResourcePool && slices.Equal(old.Zones, t.Zones) {
			return
		}
		check(path.Child("resourcePool"), "resource pool", t.ResourcePool, ca.Status.ResourcePools)
		for i, z := range t.Zones {
			check(path.Child("zones").Index(i), "zone", z, ca.Status.Zones)
		}
	}
	checkPool(specPath.Child("controlPlane"), infrav1alpha1.ControlPlanePoolName, spec.ControlPlane.MachineTemplate)
	for i, w := range spec.Workers {
		checkPool(specPath.Child("workers").Index(i), w.Name, w.MachineTemplate)
	}
	if oldSpec == nil || oldSpec.Domain != spec.Domain {
		check(specPath.Child("domain"), "domain", spec.Domain, ca.Status.Domains)
	}
	if image := inlineProfile(spec).OSImage; image != "" && (oldSpec == nil || inlineProfile(oldSpec).OSImage != image) {
		check(specPath.Child("profile", "osImage"), "OS image", image, ca.Status.OSImages)
	}
	return errs, nil
}

// listSome joins the first maxKnownListed values and counts the rest.
func listSome(values []string) string {
	if len(values) <= maxKnownListed {
		return strings.Join(values, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(values[:maxKnownListed], ", "), len(values)-maxKnownListed)
}
