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

package pcg

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/maas-gateway/maas-gateway/config/crd"
)

// crdSchema is one version of a CRD's schema, ready to default and validate
// objects the way the API server's custom-resource handler does.
type crdSchema struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// gatewaySchema is the Gateway CRD's v1alpha1 schema, built once: compiling
// its CEL rules takes tens of milliseconds.
var gatewaySchema = sync.OnceValues(func() (*crdSchema, error) {
	return loadSchema("bases/infra.maasgateway.io_gateways.yaml", "v1alpha1")
})

func loadSchema(file, version string) (*crdSchema, error) {
	raw, err := crd.Bases.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var def apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &def); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, v := range def.Spec.Versions {
		if v.Name != version || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		var props apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &props, nil); err != nil {
			return nil, fmt.Errorf("%s: converting the %s schema: %w", file, version, err)
		}
		structural, err := structuralschema.NewStructural(&props)
		if err != nil {
			return nil, fmt.Errorf("%s: the %s schema is not structural: %w", file, version, err)
		}
		validator, _, err := apiservervalidation.NewSchemaValidator(&props)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return &crdSchema{
			structural: structural,
			validator:  validator,
			// As the API server's custom-resource strategy builds it.
			cel: cel.NewValidator(structural, true, celconfig.PerCallLimit),
		}, nil
	}
	return nil, fmt.Errorf("%s has no schema for version %s", file, version)
}

// defaults applies the schema's defaults, as the API server does when it
// decodes an object.
func (s *crdSchema) defaults(obj map[string]any) {
	structuraldefaulting.Default(obj, s.structural)
}

// validate checks obj as the API server checks a new custom resource:
// OpenAPI schema, list-type invariants, then (when those pass, as there)
// the CEL rules with the API server's per-request cost budget. Object
// metadata is left to the caller.
func (s *crdSchema) validate(ctx context.Context, obj map[string]any) field.ErrorList {
	errs := apiservervalidation.ValidateCustomResource(nil, obj, s.validator)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, s.structural, obj)...)
	if s.cel == nil {
		return errs
	}
	for _, e := range errs {
		// The API server's strategy skips the CEL rules after these (its
		// hasBlockingErr): the rules' input could be ill-typed or too
		// costly. So does this, saying so.
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong,
			field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return append(errs, field.Invalid(nil, nil, "the CRD's validation rules were not checked because of the errors above; "+
				"correct them to complete validation"))
		}
	}
	celErrs, _ := s.cel.Validate(ctx, nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}
