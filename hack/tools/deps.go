//go:build tools

// Package tools pins the libraries that the chart tests, the OLM bundle
// generator and the kind e2e tooling build on, so that go.mod records one
// version of each even before every caller exists.
package tools

import (
	_ "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	_ "github.com/operator-framework/api/pkg/validation"
	_ "github.com/yannh/kubeconform/pkg/validator"
	_ "helm.sh/helm/v3/pkg/action"
	_ "sigs.k8s.io/kind/pkg/cluster"
)
