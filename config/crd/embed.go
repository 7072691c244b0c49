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

// Package crd carries the CustomResourceDefinitions controller-gen
// generates into bases/, so that a binary can check an object against the
// very schema (OpenAPI and CEL rules) the API server will apply, with no
// copy that could drift from the markers in api/.
package crd

import "embed"

// Bases holds bases/*.yaml, one CRD per kind, as `make manifests` writes them.
//
//go:embed bases/*.yaml
var Bases embed.FS
