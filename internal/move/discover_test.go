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
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

func TestSecretRefs(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  client.Object
		want []string
	}{
		{"a Gateway's MAAS credentials and proxy credentials", &infrav1.Gateway{Spec: infrav1.GatewaySpec{
			MAAS: infrav1.MAASConnection{CredentialsSecretRef: infrav1.SecretKeyReference{Name: "maas"}},
			Environment: infrav1.Environment{ProxySettings: infrav1.ProxySettings{
				CredentialsSecretRef: &infrav1.LocalObjectReference{Name: "proxy"}}},
		}}, []string{"maas", "proxy"}},
		{"a TenantCluster's kubeconfig, in status", &infrav1.TenantCluster{Status: infrav1.TenantClusterStatus{
			KubeconfigSecretRef: &infrav1.LocalObjectReference{Name: "tc-kubeconfig"}}}, []string{"tc-kubeconfig"}},
		{"metadata is not read", &infrav1.CloudAccount{ObjectMeta: metav1.ObjectMeta{
			Annotations: map[string]string{"credentialsSecretRef": "x"}},
			Spec: infrav1.CloudAccountSpec{MAASConnection: infrav1.MAASConnection{
				CredentialsSecretRef: infrav1.SecretKeyReference{Name: "maas"}}}}, []string{"maas"}},
		{"nothing named", &infrav1.CloudAccount{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := secretRefs(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
