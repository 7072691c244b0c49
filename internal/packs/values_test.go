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
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"
)

func TestMergeValues(t *testing.T) {
	for _, tc := range []struct {
		name, base, override string
		want                 string // YAML
		wantErr              string
	}{
		{name: "both empty", want: "{}"},
		{name: "base only", base: "a: 1\nb: {c: x}", want: "a: 1\nb: {c: x}"},
		{name: "override only", override: "a: 1", want: "a: 1"},
		{name: "scalar override wins", base: "a: 1\nb: 2", override: "a: 3", want: "a: 3\nb: 2"},
		{name: "maps merge recursively", base: "m: {x: 1, y: {p: 1, q: 2}}", override: "m: {y: {q: 3, r: 4}, z: 5}",
			want: "m: {x: 1, y: {p: 1, q: 3, r: 4}, z: 5}"},
		{name: "lists replace, never concatenate", base: "l: [1, 2, 3]", override: "l: [4]", want: "l: [4]"},
		{name: "scalar replaces map", base: "m: {x: 1}", override: "m: off", want: "m: off"},
		{name: "map replaces scalar", base: "m: 1", override: "m: {x: 1}", want: "m: {x: 1}"},
		{name: "map replaces list", base: "m: [1]", override: "m: {x: 1}", want: "m: {x: 1}"},
		{name: "null is kept so Helm deletes the key", base: "m: {x: 1, y: 2}", override: "m: {x: null}", want: "m: {x: null, y: 2}"},
		{name: "null replaces a whole map", base: "m: {x: 1}", override: "m: null", want: "m: null"},
		{name: "comments and empty documents", base: "# nothing\n", override: "---\n", want: "{}"},
		{name: "base not YAML", base: "a: [1", wantErr: "base values are not valid YAML"},
		{name: "override not YAML", override: "a:\n\t- b", wantErr: "override values are not valid YAML"},
		{name: "base is a list", base: "- a", wantErr: "base values must be a map"},
		{name: "override is a scalar", override: "hello", wantErr: "override values must be a map"},
		{name: "override too large", override: "a: " + strings.Repeat("x", maxValuesBytes), wantErr: "override values: "},
		{name: "base too deep", base: strings.Repeat("{a: ", maxValuesDepth+2) + "1" + strings.Repeat("}", maxValuesDepth+2),
			wantErr: "base values are nested more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MergeValues(tc.base, tc.override)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v, want ErrInvalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if err := yaml.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

// The point of keeping nulls: the chart default disappears too, as with
// `helm install -f base -f override`.
func TestMergeValuesNullDeletesChartDefault(t *testing.T) {
	merged, err := MergeValues("settings: {colour: red}", "settings: {size: null}")
	if err != nil {
		t.Fatal(err)
	}
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "c", Version: "1.0.0"},
		Values:   map[string]any{"settings": map[string]any{"colour": "blue", "size": "small"}},
	}
	final, err := chartutil.CoalesceValues(ch, merged)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"colour": "red"}
	if got := final["settings"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("settings = %v, want %v", got, want)
	}
}

func TestMergeValuesDoesNotShare(t *testing.T) {
	got, err := MergeValues("m: {l: [1]}", "")
	if err != nil {
		t.Fatal(err)
	}
	again := mergeMaps(got, nil)
	again["m"].(map[string]any)["l"].([]any)[0] = 2
	if got["m"].(map[string]any)["l"].([]any)[0] != float64(1) {
		t.Fatal("mergeMaps result shares a list with its input")
	}
}

func FuzzMergeValues(f *testing.F) {
	for _, s := range [][2]string{
		{"a: 1", "a: 2"},
		{"m: {x: 1, y: [1, 2]}", "m: {y: null, z: {q: true}}"},
		{"", "l: [a, {b: c}]"},
		{"a: &x {b: 1}\nc: *x", "c: {d: 2}"},
		{"- a", "b"},
		{"{", "}"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, base, override string) {
		got, err := MergeValues(base, override)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not classified: %v", err)
			}
			return
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatalf("result is not JSON: %v", err)
		}
		o, _ := parseValues("override", override)
		b, _ := parseValues("base", base)
		checkOverrideWins(t, "", got, b, o)
	})
}

// checkOverrideWins: every override key is in the result with the
// override's value, except maps over maps, which hold both sides; base
// keys the override does not name are unchanged.
func checkOverrideWins(t *testing.T, path string, got, base, override map[string]any) {
	t.Helper()
	for k, ov := range override {
		gv, ok := got[k]
		if !ok {
			t.Fatalf("%s%s: override key missing from the result", path, k)
		}
		om, oIsMap := ov.(map[string]any)
		bm, bIsMap := base[k].(map[string]any)
		if oIsMap && bIsMap {
			gm, ok := gv.(map[string]any)
			if !ok {
				t.Fatalf("%s%s: merged maps gave %T", path, k, gv)
			}
			checkOverrideWins(t, path+k+".", gm, bm, om)
			continue
		}
		if !reflect.DeepEqual(gv, ov) {
			t.Fatalf("%s%s = %v, want the override's %v", path, k, gv, ov)
		}
	}
	for k, bv := range base {
		if _, named := override[k]; !named && !reflect.DeepEqual(got[k], bv) {
			t.Fatalf("%s%s = %v, want the base's %v", path, k, got[k], bv)
		}
	}
}
