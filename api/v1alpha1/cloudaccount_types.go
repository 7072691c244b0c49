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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// CloudAccount condition types, beside Ready.
const (
	// CloudAccountCredentialsValid is True when MAAS accepted the API key.
	CloudAccountCredentialsValid = "CredentialsValid"
)

// GatewayReference names a Gateway, by default in the referrer's namespace.
type GatewayReference struct {
	// name of the Gateway.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// namespace of the Gateway; empty means the CloudAccount's own namespace.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// CloudAccountSpec is a MAAS endpoint and the API key tenant clusters provision with.
type CloudAccountSpec struct {
	// gatewayRef is the Gateway this account belongs to.
	// +required
	GatewayRef GatewayReference `json:"gatewayRef"`

	// MAASConnection: endpoint, credentialsSecretRef and caBundle.
	MAASConnection `json:",inline"`
}

// CloudAccountStatus is what MAAS said when the account was last validated.
type CloudAccountStatus struct {
	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// maasVersion is the version the MAAS region reports.
	// +optional
	MAASVersion string `json:"maasVersion,omitempty"`

	// user is the MAAS user the API key belongs to.
	// +optional
	User string `json:"user,omitempty"`

	// zones discovered in MAAS.
	// +listType=atomic
	// +optional
	Zones []string `json:"zones,omitempty"`

	// resourcePools discovered in MAAS.
	// +listType=atomic
	// +optional
	ResourcePools []string `json:"resourcePools,omitempty"`

	// domains discovered in MAAS.
	// +listType=atomic
	// +optional
	Domains []string `json:"domains,omitempty"`

	// osImages are the boot resources MAAS can deploy, as osystem/distro_series.
	// +listType=atomic
	// +optional
	OSImages []string `json:"osImages,omitempty"`

	// lastValidated is when MAAS last answered the validation.
	// +optional
	LastValidated *metav1.Time `json:"lastValidated,omitempty"`

	// conditions: Ready and CredentialsValid.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mca,categories=maas
// +kubebuilder:printcolumn:name="Gateway",type=string,JSONPath=`.spec.gatewayRef.name`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="CredentialsValid")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="CredentialsValid")].reason`
// +kubebuilder:printcolumn:name="MAAS",type=string,JSONPath=`.status.maasVersion`
// +kubebuilder:printcolumn:name="Validated",type=date,JSONPath=`.status.lastValidated`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// CloudAccount is a MAAS endpoint and API key, validated against MAAS, that
// tenant clusters are provisioned with. Each Gateway comes with a default one.
type CloudAccount struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is a standard object metadata
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the MAAS endpoint and the Secret holding its API key.
	// +required
	Spec CloudAccountSpec `json:"spec"`

	// status is what MAAS said when the account was last validated.
	// +optional
	Status CloudAccountStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// CloudAccountList contains a list of CloudAccount
type CloudAccountList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []CloudAccount `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(SchemeGroupVersion, &CloudAccount{}, &CloudAccountList{})
		return nil
	})
}
