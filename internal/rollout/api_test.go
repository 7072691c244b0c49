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

package rollout

import (
	"testing"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// TestStrategyMatchesAPI keeps Strategy convertible from the API's
// RollingUpdateStrategy by a plain conversion.
func TestStrategyMatchesAPI(t *testing.T) {
	for api, ours := range map[infrav1alpha1.RollingUpdateStrategy]Strategy{
		infrav1alpha1.ExpandFirst:   ExpandFirst,
		infrav1alpha1.ContractFirst: ContractFirst,
	} {
		if Strategy(api) != ours {
			t.Errorf("Strategy(%q) = %q, want %q", api, Strategy(api), ours)
		}
	}
}
