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

package controller

import (
	"testing"

	"github.com/maas-gateway/maas-gateway/internal/maas"
)

// A PKI whose generation was interrupted is generated again only while no
// deployment can have carried it (internal/install's kill test ends there
// when the operator dies between the PKI's Secrets).
func TestPKIHandedOut(t *testing.T) {
	gateway := &maas.Owner{Kind: gatewayKind, Pool: gatewayPool}
	tenant := &maas.Owner{Kind: "TenantCluster", Pool: "control-plane"}
	for _, tc := range []struct {
		name  string
		owned []maas.Machine
		want  bool
	}{
		{"no machine", nil, false},
		{"allocated only", []maas.Machine{{Status: maas.StatusAllocated, Owner: gateway}}, false},
		{"another pool deploying", []maas.Machine{{Status: maas.StatusDeploying, Owner: tenant}}, false},
		{"deploying", []maas.Machine{{Status: maas.StatusAllocated, Owner: gateway}, {Status: maas.StatusDeploying, Owner: gateway}}, true},
		{"deployed", []maas.Machine{{Status: maas.StatusDeployed, Owner: gateway}}, true},
		{"failed deployment", []maas.Machine{{Status: maas.StatusFailedDeployment, Owner: gateway}}, true},
	} {
		if got := pkiHandedOut(tc.owned); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
