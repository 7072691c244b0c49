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

package bundle

import (
	"fmt"
	"slices"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	interfaces "github.com/operator-framework/api/pkg/validation/interfaces"
)

// ValidationK8sVersion is the Kubernetes version the validators check
// deprecated and removed APIs against: the one the project tests on.
const ValidationK8sVersion = "1.34"

// Validators are what `operator-sdk bundle validate --select-optional
// suite=operatorframework` runs, less the deprecated community and
// multi-architecture checks: the default bundle validators, OperatorHub's
// (in their current split form) and the good practices.
var Validators = interfaces.Validators{
	validation.ClusterServiceVersionValidator,
	validation.CustomResourceDefinitionValidator,
	validation.BundleValidator,
	validation.OperatorHubV2Validator,
	validation.StandardCapabilitiesValidator,
	validation.StandardCategoriesValidator,
	validation.GoodPracticesValidator,
	validation.AlphaDeprecatedAPIsValidator,
}

// Validate loads the bundle in dir (bundle/ of a checkout) as OLM would and
// runs Validators on it. It returns the errors and the warnings, each as
// "manifest: message", sorted.
func Validate(dir string) (errs, warnings []string, err error) {
	b, err := manifests.GetBundleFromDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load bundle %s: %w", dir, err)
	}
	objs := b.ObjectsToValidate()
	objs = append(objs, map[string]string{"k8s-version": ValidationK8sVersion})
	for _, r := range Validators.Validate(objs...) {
		for _, e := range r.Errors {
			errs = append(errs, fmt.Sprintf("%s: %s", r.Name, e.Error()))
		}
		for _, w := range r.Warnings {
			warnings = append(warnings, fmt.Sprintf("%s: %s", r.Name, w.Error()))
		}
	}
	slices.Sort(errs)
	slices.Sort(warnings)
	return errs, warnings, nil
}
