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

package packs

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

const (
	// maxValuesBytes bounds one values document: values end up in a release
	// Secret, which the API server caps at 1 MiB anyway.
	maxValuesBytes = 512 << 10
	// maxValuesDepth bounds nesting so that merging and hashing cannot be
	// driven into deep recursion; real chart values are a few levels deep.
	maxValuesDepth = 64
)

// MergeValues merges two values documents the way `helm install -f base -f
// override` does, key by key:
//
//   - when both sides hold a map under a key, the maps are merged
//     recursively;
//   - otherwise the override's value wins, whatever its type: scalars and
//     lists replace (lists are never concatenated), a scalar replaces a map
//     and a map replaces a scalar;
//   - a null in the override is kept as null, which Helm treats as deleting
//     the key when it renders, chart default included; this is how an
//     override removes a value set by the profile or the chart.
//
// Empty documents are empty maps. Each document must be a YAML map of at
// most 512 KiB nested at most 64 levels; errors name the document at fault.
// The inputs are not modified and the result shares nothing with them.
func MergeValues(base, override string) (map[string]any, error) {
	b, err := parseValues("base", base)
	if err != nil {
		return nil, err
	}
	o, err := parseValues("override", override)
	if err != nil {
		return nil, err
	}
	return mergeMaps(b, o), nil
}

func parseValues(which, doc string) (map[string]any, error) {
	if len(doc) > maxValuesBytes {
		return nil, fmt.Errorf("%w: %s values: %d bytes, more than the %d allowed", ErrInvalid, which, len(doc), maxValuesBytes)
	}
	var v any
	if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
		return nil, fmt.Errorf("%w: %s values are not valid YAML: %v", ErrInvalid, which, err)
	}
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: %s values must be a map of keys, not %T", ErrInvalid, which, v)
	}
	if depth(m, 0) > maxValuesDepth {
		return nil, fmt.Errorf("%w: %s values are nested more than %d levels", ErrInvalid, which, maxValuesDepth)
	}
	return m, nil
}

// depth stops counting past the bound so that a hostile document costs no
// more than the bound to reject.
func depth(v any, d int) int {
	if d > maxValuesDepth {
		return d
	}
	deepest := d
	switch t := v.(type) {
	case map[string]any:
		for _, e := range t {
			deepest = max(deepest, depth(e, d+1))
		}
	case []any:
		for _, e := range t {
			deepest = max(deepest, depth(e, d+1))
		}
	}
	return deepest
}

func mergeMaps(base, override map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(override))
	for k, v := range base {
		out[k] = deepCopy(v)
	}
	for k, v := range override {
		if om, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(bm, om)
				continue
			}
		}
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = deepCopy(e)
		}
		return l
	default:
		return v
	}
}
