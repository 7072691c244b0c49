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
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// SetupGatewayWebhookWithManager registers the Gateway webhooks. The deletion
// guard reads the indexes of dependents.SetupIndexes, which must be set up on
// the same manager.
func SetupGatewayWebhookWithManager(mgr ctrl.Manager, opts Options) error {
	r := newReaders(mgr)
	return ctrl.NewWebhookManagedBy(mgr, &infrav1alpha1.Gateway{}).
		WithValidator(&GatewayValidator{readers: r, opts: opts}).
		WithDefaulter(&GatewayDefaulter{}).
		Complete()
}

// +kubebuilder:webhook:path=/mutate-infra-maasgateway-io-v1alpha1-gateway,mutating=true,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=infra.maasgateway.io,resources=gateways,verbs=create;update,versions=v1alpha1,name=mgateway-v1alpha1.kb.io,admissionReviewVersions=v1

// GatewayDefaulter fills what a Gateway leaves out: one replica, the default
// address ranges, the credentials key.
type GatewayDefaulter struct{}

// Default implements admission.Defaulter.
func (d *GatewayDefaulter) Default(_ context.Context, gw *infrav1alpha1.Gateway) error {
	if gw.Spec.Replicas == 0 {
		gw.Spec.Replicas = 1
	}
	if gw.Spec.MAAS.CredentialsSecretRef.Key == "" {
		gw.Spec.MAAS.CredentialsSecretRef.Key = infrav1alpha1.DefaultAPIKeyKey
	}
	if gw.Spec.Environment.PodCIDR == "" {
		gw.Spec.Environment.PodCIDR = DefaultPodCIDR
	}
	if gw.Spec.Environment.ServiceCIDR == "" {
		gw.Spec.Environment.ServiceCIDR = DefaultServiceCIDR
	}
	return nil
}

// +kubebuilder:webhook:path=/validate-infra-maasgateway-io-v1alpha1-gateway,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=infra.maasgateway.io,resources=gateways,verbs=create;update;delete,versions=v1alpha1,name=vgateway-v1alpha1.kb.io,admissionReviewVersions=v1

// GatewayValidator admits one Gateway per cluster, refuses changes a running
// gateway cannot make, and refuses its deletion while TenantClusters use it.
type GatewayValidator struct {
	readers
	opts Options
}

// NewGatewayValidator is the validator the webhook serves, reading through
// cache and live (the manager's cached client and its API reader), for
// callers outside a manager: the installer's tests compare its verdicts
// with the installer's own.
func NewGatewayValidator(cache, live client.Reader, opts Options) *GatewayValidator {
	return &GatewayValidator{readers: readers{cache: cache, live: live}, opts: opts}
}

// ValidateCreate implements admission.Validator.
func (v *GatewayValidator) ValidateCreate(ctx context.Context, gw *infrav1alpha1.Gateway) (admission.Warnings, error) {
	if errs := validateIdentity(nil, gw); len(errs) > 0 {
		return nil, invalid("Gateway", gw.Name, errs)
	}
	errs, warns := ValidateGatewaySpec(specPath, &gw.Spec, gw.Name, v.opts)
	onlyErrs, err := v.checkOnlyGateway(ctx, gw)
	if err != nil {
		return warns, err
	}
	credErrs, credWarns, err := v.checkCredentials(ctx, specPath.Child("maas", "credentialsSecretRef"), gw.Namespace,
		gw.Spec.MAAS.CredentialsSecretRef)
	warns = append(warns, credWarns...)
	if err != nil {
		return warns, err
	}
	return warns, invalid("Gateway", gw.Name, append(append(onlyErrs, errs...), credErrs...))
}

// ValidateUpdate implements admission.Validator. Updates that leave the spec
// alone (finalizers, labels) and updates of a Gateway being deleted pass
// unchecked, so a controller is never stopped by a check on what it did not touch.
func (v *GatewayValidator) ValidateUpdate(ctx context.Context, oldGW, gw *infrav1alpha1.Gateway) (admission.Warnings, error) {
	if errs := validateIdentity(oldGW, gw); len(errs) > 0 {
		return nil, invalid("Gateway", gw.Name, errs)
	}
	if gw.DeletionTimestamp != nil || equality.Semantic.DeepEqual(oldGW.Spec, gw.Spec) {
		return nil, nil
	}
	errs := validateGatewayTransition(&oldGW.Spec, &gw.Spec)
	specErrs, warns := ValidateGatewaySpec(specPath, &gw.Spec, gw.Name, v.opts)
	errs = append(errs, specErrs...)
	if oldGW.Spec.MAAS.CredentialsSecretRef != gw.Spec.MAAS.CredentialsSecretRef {
		credErrs, credWarns, err := v.checkCredentials(ctx, specPath.Child("maas", "credentialsSecretRef"), gw.Namespace,
			gw.Spec.MAAS.CredentialsSecretRef)
		warns = append(warns, credWarns...)
		if err != nil {
			return warns, err
		}
		errs = append(errs, credErrs...)
	}
	if !equality.Semantic.DeepEqual(oldGW.Spec.AllowedCloudAccounts, gw.Spec.AllowedCloudAccounts) {
		cut, err := v.disallowedAccounts(ctx, gw)
		if err != nil {
			return warns, err
		}
		if len(cut) > 0 {
			named := cut[:min(len(cut), maxNamed)]
			more := ""
			if rest := len(cut) - len(named); rest > 0 {
				more = fmt.Sprintf(" and %d more", rest)
			}
			warns = append(warns, fmt.Sprintf("%s no longer allows %d CloudAccounts (%s%s): they stop being used "+
				"(Ready False, reason %s), and so do the TenantClusters provisioned with them",
				specPath.Child("allowedCloudAccounts"), len(cut), strings.Join(named, ", "), more, infrav1alpha1.ReasonNotAllowedByGateway))
		}
	}
	return warns, invalid("Gateway", gw.Name, errs)
}

// disallowedAccounts names the CloudAccounts bound to gw that gw does not allow.
func (v *GatewayValidator) disallowedAccounts(ctx context.Context, gw *infrav1alpha1.Gateway) ([]string, error) {
	f := v.finder()
	accounts, err := f.CloudAccountsOf(ctx, client.ObjectKeyFromObject(gw))
	if err != nil {
		return nil, unavailable("listing the Gateway's CloudAccounts", err)
	}
	var cut []string
	for _, a := range accounts {
		ok, _, err := f.AllowsAccount(ctx, gw, a.Namespace)
		if err != nil {
			return nil, unavailable("reading namespace "+a.Namespace, err)
		}
		if !ok {
			cut = append(cut, a.String())
		}
	}
	return cut, nil
}

// ValidateDelete implements admission.Validator: the deletion guard.
func (v *GatewayValidator) ValidateDelete(ctx context.Context, gw *infrav1alpha1.Gateway) (admission.Warnings, error) {
	deps, err := v.finder().OfGateway(ctx, gw)
	if err != nil {
		return nil, unavailable("finding the TenantClusters that use this Gateway", err)
	}
	if len(deps) > 0 {
		return nil, inUse(fmt.Sprintf("Gateway %s/%s", gw.Namespace, gw.Name), deps,
			"its CloudAccounts provision them; delete these TenantClusters first, then retry")
	}
	return nil, nil
}

// checkOnlyGateway refuses a second Gateway. It asks the API server, not the
// cache, so two Gateways created a moment apart are still seen; two creates
// racing within one request's time can both pass, and the Gateway controller
// reports the second as Degraded.
func (v *GatewayValidator) checkOnlyGateway(ctx context.Context, gw *infrav1alpha1.Gateway) (field.ErrorList, error) {
	var list infrav1alpha1.GatewayList
	if err := v.live.List(ctx, &list); err != nil {
		return nil, unavailable("listing Gateways", err)
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.Namespace == gw.Namespace && other.Name == gw.Name {
			continue
		}
		state := "already exists"
		if other.DeletionTimestamp != nil {
			state = "is still being deleted; retry once it is gone"
		}
		return field.ErrorList{field.Forbidden(field.NewPath("metadata", "name"),
			fmt.Sprintf("only one Gateway may exist per cluster, and Gateway %s/%s %s", other.Namespace, other.Name, state))}, nil
	}
	return nil, nil
}

// validateGatewayTransition refuses the changes a running gateway cannot
// make. A field that was empty may still be set once.
func validateGatewayTransition(oldSpec, spec *infrav1alpha1.GatewaySpec) field.ErrorList {
	var errs field.ErrorList
	if oldSpec.Replicas == 3 && spec.Replicas == 1 {
		errs = append(errs, field.Forbidden(specPath.Child("replicas"),
			"a 3-node gateway cannot be shrunk to 1 node: removing two of three etcd members loses quorum and the gateway's data"))
	}
	immutable := []struct {
		path     *field.Path
		old, new string
		why      string
	}{
		{specPath.Child("maas", "endpoint"), oldSpec.MAAS.Endpoint, spec.MAAS.Endpoint,
			"a gateway cannot move to another MAAS: its nodes are machines of this one"},
		{specPath.Child("environment", "podCIDR"), oldSpec.Environment.PodCIDR, spec.Environment.PodCIDR,
			"the pod range of a running cluster cannot change"},
		{specPath.Child("environment", "serviceCIDR"), oldSpec.Environment.ServiceCIDR, spec.Environment.ServiceCIDR,
			"the service range of a running cluster cannot change"},
		{specPath.Child("controlPlaneEndpoint"), oldSpec.ControlPlaneEndpoint, spec.ControlPlaneEndpoint,
			"the API server's certificates and every node's kubeconfig name this address"},
	}
	for _, f := range immutable {
		if f.old != "" && f.new != f.old {
			errs = append(errs, field.Forbidden(f.path, fmt.Sprintf("is immutable once set (was %q): %s", f.old, f.why)))
		}
	}
	return errs
}

// ValidateGatewaySpec checks what a Gateway spec says by itself, without
// reading the cluster: the rules the webhook applies on create and update,
// and the ones the installer applies to a pcg.yaml before anything is
// created, so that a file it accepts is a Gateway the webhook admits.
// fldPath is where the spec sits: "spec" in a Gateway, nil in a pcg.yaml
// (whose fields are named as the spec's), so that every message, warnings
// included, names the field as the reader wrote it.
func ValidateGatewaySpec(fldPath *field.Path, spec *infrav1alpha1.GatewaySpec, name string, opts Options) (field.ErrorList, admission.Warnings) {
	var errs field.ErrorList
	var warns admission.Warnings
	switch spec.Replicas {
	case 1:
		warns = append(warns, fmt.Sprintf("%s is 1: a 1-node gateway is not recommended for production; "+
			"resize it with kubectl scale mgw/%s --replicas=3", fldPath.Child("replicas"), name))
	case 3:
		if spec.ControlPlaneEndpoint == "" {
			warns = append(warns, fmt.Sprintf("%s is empty: without a virtual IP the gateway's API server "+
				"is lost with the node that serves it", fldPath.Child("controlPlaneEndpoint")))
		}
	default:
		errs = append(errs, field.Invalid(fldPath.Child("replicas"), spec.Replicas,
			"must be 1 or 3: 3 for production, 1 to start small and scale to 3 later"))
	}

	env := fldPath.Child("environment")
	minor := 0
	if spec.Release != nil {
		minor = kubernetesMinor(spec.Release.KubernetesVersion)
	}
	netErrs, netWarns := gatewayNetwork(fldPath, spec, int(spec.Replicas), minor, opts)
	errs, warns = append(errs, netErrs...), append(warns, netWarns...)

	if sel := spec.AllowedCloudAccounts.Namespaces.Selector; sel != nil {
		if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
			errs = append(errs, field.Invalid(fldPath.Child("allowedCloudAccounts", "namespaces", "selector"), sel.String(), err.Error()))
		}
	}

	connErrs, connWarns := checkMAASConnection(fldPath.Child("maas"), spec.MAAS)
	errs, warns = append(errs, connErrs...), append(warns, connWarns...)
	warns = append(warns, checkProxy(env, spec.Environment.ProxySettings, spec.MAAS.Endpoint)...)
	return errs, warns
}

// gatewayNetwork checks the gateway's own ranges and its virtual IP. The
// gateway adds a node before removing one while it upgrades, hence the spare.
func gatewayNetwork(fldPath *field.Path, spec *infrav1alpha1.GatewaySpec, replicas, minor int, opts Options) (field.ErrorList, admission.Warnings) {
	env := fldPath.Child("environment")
	pod, svc, errs, warns := checkNetwork(networkPaths{pod: env.Child("podCIDR"), service: env.Child("serviceCIDR")},
		spec.Environment.PodCIDR, spec.Environment.ServiceCIDR, replicas+1, minor)
	if spec.ControlPlaneEndpoint != "" {
		_, vipErrs, vipWarns := checkVIP(fldPath.Child("controlPlaneEndpoint"), spec.ControlPlaneEndpoint, pod, svc, opts)
		errs, warns = append(errs, vipErrs...), append(warns, vipWarns...)
	}
	return errs, warns
}
