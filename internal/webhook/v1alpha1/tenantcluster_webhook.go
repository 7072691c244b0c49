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

	ctrl "sigs.k8s.io/controller-runtime"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// nolint:unused
// log is for logging in this package.
var tenantclusterlog = logf.Log.WithName("tenantcluster-resource")

// SetupTenantClusterWebhookWithManager registers the webhook for TenantCluster in the manager.
func SetupTenantClusterWebhookWithManager(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &infrav1alpha1.TenantCluster{}).
		WithValidator(&TenantClusterValidator{}).
		WithDefaulter(&TenantClusterDefaulter{}).
		Complete()
}

// TODO(user): EDIT THIS FILE!  THIS IS SCAFFOLDING FOR YOU TO OWN!

// +kubebuilder:webhook:path=/mutate-infra-maasgateway-io-v1alpha1-tenantcluster,mutating=true,failurePolicy=fail,sideEffects=None,groups=infra.maasgateway.io,resources=tenantclusters,verbs=create;update,versions=v1alpha1,name=mtenantcluster-v1alpha1.kb.io,admissionReviewVersions=v1

// TenantClusterDefaulter struct is responsible for setting default values on the custom resource of the
// Kind TenantCluster when those are created or updated.
//
// NOTE: The +kubebuilder:object:generate=false marker prevents controller-gen from generating DeepCopy methods,
// as it is used only for temporary operations and does not need to be deeply copied.
type TenantClusterDefaulter struct {
	// TODO(user): Add more fields as needed for defaulting
}

// Default implements admission.Defaulter so a webhook will be registered for the Kind TenantCluster.
func (d *TenantClusterDefaulter) Default(_ context.Context, obj *infrav1alpha1.TenantCluster) error {
	tenantclusterlog.Info("Defaulting for TenantCluster", "name", obj.GetName())

	// TODO(user): fill in your defaulting logic.

	return nil
}

// TODO(user): change verbs to "verbs=create;update;delete" if you want to enable deletion validation.
// NOTE: If you want to customise the 'path', use the flags '--defaulting-path' or '--validation-path'.
// +kubebuilder:webhook:path=/validate-infra-maasgateway-io-v1alpha1-tenantcluster,mutating=false,failurePolicy=fail,sideEffects=None,groups=infra.maasgateway.io,resources=tenantclusters,verbs=create;update,versions=v1alpha1,name=vtenantcluster-v1alpha1.kb.io,admissionReviewVersions=v1

// TenantClusterValidator struct is responsible for validating the TenantCluster resource
// when it is created, updated, or deleted.
//
// NOTE: The +kubebuilder:object:generate=false marker prevents controller-gen from generating DeepCopy methods,
// as this struct is used only for temporary operations and does not need to be deeply copied.
type TenantClusterValidator struct {
	// TODO(user): Add more fields as needed for validation
}

// ValidateCreate implements admission.Validator so a webhook will be registered for the type TenantCluster.
func (v *TenantClusterValidator) ValidateCreate(_ context.Context, obj *infrav1alpha1.TenantCluster) (admission.Warnings, error) {
	tenantclusterlog.Info("Validation for TenantCluster upon creation", "name", obj.GetName())

	// TODO(user): fill in your validation logic upon object creation.

	return nil, nil
}

// ValidateUpdate implements admission.Validator so a webhook will be registered for the type TenantCluster.
func (v *TenantClusterValidator) ValidateUpdate(_ context.Context, oldObj, newObj *infrav1alpha1.TenantCluster) (admission.Warnings, error) {
	tenantclusterlog.Info("Validation for TenantCluster upon update", "name", newObj.GetName())

	// TODO(user): fill in your validation logic upon object update.

	return nil, nil
}

// ValidateDelete implements admission.Validator so a webhook will be registered for the type TenantCluster.
func (v *TenantClusterValidator) ValidateDelete(_ context.Context, obj *infrav1alpha1.TenantCluster) (admission.Warnings, error) {
	tenantclusterlog.Info("Validation for TenantCluster upon deletion", "name", obj.GetName())

	// TODO(user): fill in your validation logic upon object deletion.

	return nil, nil
}
