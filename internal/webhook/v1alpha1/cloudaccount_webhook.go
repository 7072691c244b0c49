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

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
)

// SetupCloudAccountWebhookWithManager registers the CloudAccount webhooks.
// The deletion guard reads the indexes of dependents.SetupIndexes, which must
// be set up on the same manager.
func SetupCloudAccountWebhookWithManager(mgr ctrl.Manager, _ Options) error {
	return ctrl.NewWebhookManagedBy(mgr, &infrav1alpha1.CloudAccount{}).
		WithValidator(&CloudAccountValidator{readers: newReaders(mgr)}).
		WithDefaulter(&CloudAccountDefaulter{}).
		Complete()
}

// +kubebuilder:webhook:path=/mutate-infra-maasgateway-io-v1alpha1-cloudaccount,mutating=true,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=infra.maasgateway.io,resources=cloudaccounts,verbs=create;update,versions=v1alpha1,name=mcloudaccount-v1alpha1.kb.io,admissionReviewVersions=v1

// CloudAccountDefaulter fills the credentials key.
type CloudAccountDefaulter struct{}

// Default implements admission.Defaulter.
func (d *CloudAccountDefaulter) Default(_ context.Context, ca *infrav1alpha1.CloudAccount) error {
	if ca.Spec.CredentialsSecretRef.Key == "" {
		ca.Spec.CredentialsSecretRef.Key = infrav1alpha1.DefaultAPIKeyKey
	}
	return nil
}

// +kubebuilder:webhook:path=/validate-infra-maasgateway-io-v1alpha1-cloudaccount,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=infra.maasgateway.io,resources=cloudaccounts,verbs=create;update;delete,versions=v1alpha1,name=vcloudaccount-v1alpha1.kb.io,admissionReviewVersions=v1

// CloudAccountValidator checks an account's Gateway and credentials (those
// that do not exist yet are warned of, not refused), and keeps an account
// that TenantClusters use.
type CloudAccountValidator struct {
	readers
}

// ValidateCreate implements admission.Validator.
func (v *CloudAccountValidator) ValidateCreate(ctx context.Context, ca *infrav1alpha1.CloudAccount) (admission.Warnings, error) {
	if errs := validateIdentity(nil, ca); len(errs) > 0 {
		return nil, invalid("CloudAccount", ca.Name, errs)
	}
	errs, warns := checkMAASConnection(specPath, ca.Spec.MAASConnection)
	gwErrs, gwWarns, err := v.checkGateway(ctx, ca)
	warns = append(warns, gwWarns...)
	if err != nil {
		return warns, err
	}
	credErrs, credWarns, err := v.checkCredentials(ctx, specPath.Child("credentialsSecretRef"), ca.Namespace,
		ca.Spec.CredentialsSecretRef)
	warns = append(warns, credWarns...)
	if err != nil {
		return warns, err
	}
	return warns, invalid("CloudAccount", ca.Name, append(append(errs, gwErrs...), credErrs...))
}

// ValidateUpdate implements admission.Validator. As for Gateways, updates
// that leave the spec alone and updates of an account being deleted pass.
func (v *CloudAccountValidator) ValidateUpdate(ctx context.Context, oldCA, ca *infrav1alpha1.CloudAccount) (admission.Warnings, error) {
	if errs := validateIdentity(oldCA, ca); len(errs) > 0 {
		return nil, invalid("CloudAccount", ca.Name, errs)
	}
	if ca.DeletionTimestamp != nil || equality.Semantic.DeepEqual(oldCA.Spec, ca.Spec) {
		return nil, nil
	}
	errs, warns := checkMAASConnection(specPath, ca.Spec.MAASConnection)

	movedGateway := dependents.GatewayOf(oldCA) != dependents.GatewayOf(ca)
	if movedGateway || oldCA.Spec.Endpoint != ca.Spec.Endpoint {
		// The clusters' machines belong to the old MAAS and the old gateway
		// tracks them; only an unused account may point elsewhere.
		deps, err := v.finder().OfCloudAccount(ctx, client.ObjectKeyFromObject(ca))
		if err != nil {
			return warns, unavailable("finding the TenantClusters that use this CloudAccount", err)
		}
		if len(deps) > 0 {
			return warns, inUse(fmt.Sprintf("CloudAccount %s/%s", ca.Namespace, ca.Name), deps,
				"its endpoint and gatewayRef cannot change while clusters have machines in that MAAS; "+
					"create another CloudAccount for new clusters instead")
		}
	}
	if movedGateway {
		gwErrs, gwWarns, err := v.checkGateway(ctx, ca)
		warns = append(warns, gwWarns...)
		if err != nil {
			return warns, err
		}
		errs = append(errs, gwErrs...)
	}
	if oldCA.Spec.CredentialsSecretRef != ca.Spec.CredentialsSecretRef {
		credErrs, credWarns, err := v.checkCredentials(ctx, specPath.Child("credentialsSecretRef"), ca.Namespace,
			ca.Spec.CredentialsSecretRef)
		warns = append(warns, credWarns...)
		if err != nil {
			return warns, err
		}
		errs = append(errs, credErrs...)
	}
	return warns, invalid("CloudAccount", ca.Name, errs)
}

// ValidateDelete implements admission.Validator: the deletion guard.
func (v *CloudAccountValidator) ValidateDelete(ctx context.Context, ca *infrav1alpha1.CloudAccount) (admission.Warnings, error) {
	deps, err := v.finder().OfCloudAccount(ctx, client.ObjectKeyFromObject(ca))
	if err != nil {
		return nil, unavailable("finding the TenantClusters that use this CloudAccount", err)
	}
	if len(deps) > 0 {
		return nil, inUse(fmt.Sprintf("CloudAccount %s/%s", ca.Namespace, ca.Name), deps,
			"their machines are released with its credentials; delete these TenantClusters first, then retry")
	}
	return nil, nil
}

// checkGateway refuses an account of a Gateway being deleted or of one
// that does not allow the account's namespace (spec.allowedCloudAccounts:
// binding an account lets a namespace use the installation's MAAS identity
// and pin the Gateway against deletion), and accepts
// one of a Gateway that does not exist yet with a warning: manifests are
// applied in any order, and the controller waits with condition
// GatewayNotFound.
func (v *CloudAccountValidator) checkGateway(ctx context.Context, ca *infrav1alpha1.CloudAccount) (field.ErrorList, admission.Warnings, error) {
	key := dependents.GatewayOf(ca)
	var gw infrav1alpha1.Gateway
	err := v.get(ctx, key, &gw)
	switch {
	case apierrors.IsNotFound(err):
		return nil, admission.Warnings{fmt.Sprintf(
			"%s: Gateway %s does not exist yet (an empty gatewayRef.namespace means the CloudAccount's own, %s); "+
				"the account is not used until it does", specPath.Child("gatewayRef"), key, ca.Namespace)}, nil
	case err != nil:
		return nil, nil, unavailable(fmt.Sprintf("reading Gateway %s", key), err)
	case gw.DeletionTimestamp != nil:
		return field.ErrorList{field.Invalid(specPath.Child("gatewayRef"), key.String(),
			fmt.Sprintf("Gateway %s is being deleted", key))}, nil, nil
	}
	ok, why, err := v.finder().AllowsAccount(ctx, &gw, ca.Namespace)
	switch {
	case err != nil:
		return nil, nil, unavailable(fmt.Sprintf("checking whether Gateway %s allows namespace %s", key, ca.Namespace), err)
	case !ok:
		return field.ErrorList{field.Forbidden(specPath.Child("gatewayRef"), why)}, nil, nil
	}
	return nil, nil, nil
}
