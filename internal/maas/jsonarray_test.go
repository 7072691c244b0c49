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

package maas

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// splitAll reads every object of the array in, through a reader that hands
// out one byte at a time when oneByte (every object then crosses buffer
// ends) and a buffer of size bufSize.
func splitAll(in string, oneByte bool, bufSize int) ([]string, error) {
	var r io.Reader = strings.NewReader(in)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	a := newObjectArray(r, make([]byte, bufSize), nil)
	var out []string
	for {
		obj, err := a.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(obj))
	}
}

func TestObjectArray(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  bool
	}{
		{"empty", `[]`, nil, false},
		{"empty with space", " \n[ \t]\r\n", nil, false},
		{"two objects", `[{"a":1},{"b":[1,{"c":2}]}]`, []string{`{"a":1}`, `{"b":[1,{"c":2}]}`}, false},
		{"space between", "[ {\"a\": 1} ,\n {} ]\n", []string{`{"a": 1}`, `{}`}, false},
		{"brackets and quotes in strings", `[{"s":"}]{[\"\\"},{"t":"\\\""}]`, []string{`{"s":"}]{[\"\\"}`, `{"t":"\\\""}`}, false},
		{"unicode", `[{"name":"rechenzentrum-süd ☃"}]`, []string{`{"name":"rechenzentrum-süd ☃"}`}, false},
		{"not an array", `{"a":1}`, nil, true},
		{"scalar element", `[1]`, nil, true},
		{"string element", `["x"]`, nil, true},
		{"missing comma", `[{}{}]`, []string{`{}`}, true},
		{"leading comma", `[,{}]`, nil, true},
		{"trailing comma", `[{},]`, []string{`{}`}, true},
		{"truncated in an object", `[{"a":"b`, nil, true},
		{"truncated after an object", `[{}`, []string{`{}`}, true},
		{"nothing", ``, nil, true},
		{"garbage after the array", `[{}] x`, []string{`{}`}, true},
		{"a second array", `[][]`, nil, true},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			got, err := splitAll(tc.in, oneByte, 4)
			if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
				t.Errorf("%s (one byte at a time: %v): %q, %v; want %q, error %v", tc.name, oneByte, got, err, tc.want, tc.err)
			}
			if err != nil && strings.Contains(tc.name, "truncated") && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: %v, want an unexpected EOF", tc.name, err)
			}
		}
	}
}

func TestObjectArrayReaderError(t *testing.T) {
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader(`[{"a":`), iotest.ErrReader(boom))
	a := newObjectArray(r, nil, nil)
	if _, err := a.Next(); !errors.Is(err, boom) {
		t.Fatalf("Next = %v, want the reader's error", err)
	}
}

// FuzzObjectArray checks the split against encoding/json: for any valid
// array of objects, the same objects, byte for byte.
func FuzzObjectArray(f *testing.F) {
	for _, s := range []string{
		`[]`, `[{}]`, `[{"a":"}\"{"},{"b":[{},[]]}]`, " [ {\"x\" : [ 1 , 2 ] } ] ",
		`[{"a":"\u0022"}]`, `[{"system_id":"abc123","workload_annotations":{"k":"v"}}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := splitAll(string(in), false, 7)
		var want []json.RawMessage
		if json.Unmarshal(in, &want) != nil || slices.ContainsFunc(want, func(m json.RawMessage) bool { return m[0] != '{' }) {
			return // not an array of objects: the split may refuse it or not, but must not panic
		}
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d objects, want %d", in, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal([]byte(got[i]), want[i]) {
				t.Fatalf("%q: object %d is %q, want %q", in, i, got[i], want[i])
			}
		}
	})
}
