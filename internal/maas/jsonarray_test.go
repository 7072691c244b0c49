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
	return splitAllMax(in, oneByte, bufSize, maxObjectSize)
}

// splitAllMax is splitAll with objects bounded to maxSize bytes.
func splitAllMax(in string, oneByte bool, bufSize, maxSize int) ([]string, error) {
	var r io.Reader = strings.NewReader(in)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	a := newObjectArray(r, make([]byte, bufSize), nil)
	a.max = maxSize
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

func TestObjectArrayBound(t *testing.T) {
	const bound = 10
	tests := []struct {
		name string
		in   string
		want []string
		err  bool
	}{
		{"at the bound", `[{"a":"12"}]`, []string{`{"a":"12"}`}, false},
		{"one over", `[{"a":"123"}]`, nil, true},
		{"small then large", `[{"a":1}, {"b":"123456789"}, {}]`, []string{`{"a":1}`}, true},
		{"large in a string", `[{"` + strings.Repeat("x", 100) + `"}]`, nil, true},
		{"large and truncated", `[{"a":[` + strings.Repeat("1,", 50), nil, true},
		{"large nested", `[{"a":{"b":{"c":{}}}}]`, nil, true},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			for _, bufSize := range []int{1, 4, 64} {
				got, err := splitAllMax(tc.in, oneByte, bufSize, bound)
				if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
					t.Errorf("%s (one byte: %v, buffer %d): %q, %v; want %q, error %v", tc.name, oneByte, bufSize, got, err, tc.want, tc.err)
				}
				if tc.err && !errors.Is(err, errObjectTooLarge) {
					t.Errorf("%s (one byte: %v, buffer %d): %v, want an object too large", tc.name, oneByte, bufSize, err)
				}
			}
		}
	}
}

// endless is an object that does not end within 8 MiB, as from a broken
// or hostile endpoint; it stops there so that a splitter without a bound
// fails the test instead of running out of memory.
type endless struct{ sent int }

func (e *endless) Read(p []byte) (int, error) {
	if e.sent >= 8*maxObjectSize {
		return 0, io.EOF
	}
	p = p[:min(len(p), 8*maxObjectSize-e.sent)]
	n := 0
	if e.sent == 0 {
		n = copy(p, `[{"a":"`)
	}
	for i := n; i < len(p); i++ {
		p[i] = 'x'
	}
	e.sent += len(p)
	return len(p), nil
}

// TestObjectArrayEndlessObject checks the real bound: an object that never
// ends fails once it passes 1 MiB, having held no more than that.
func TestObjectArrayEndlessObject(t *testing.T) {
	cr := &countingReader{r: &endless{}}
	a := newObjectArray(cr, nil, nil)
	_, err := a.Next()
	if !errors.Is(err, errObjectTooLarge) {
		t.Fatalf("Next = %v, want an object too large", err)
	}
	if !strings.Contains(err.Error(), "1048576 bytes") {
		t.Errorf("error %q does not say the bound", err)
	}
	if cap(a.elem) > 2*maxObjectSize || cr.n > maxObjectSize+len(a.buf) {
		t.Errorf("read %d bytes and held %d before refusing, want about %d", cr.n, cap(a.elem), maxObjectSize)
	}
	if _, err := a.Next(); !errors.Is(err, errObjectTooLarge) {
		t.Errorf("Next after the failure = %v, want the failure again", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestDecodeMachinesObjectBound(t *testing.T) {
	machine := func(size int) string {
		head := `{"system_id":"abc123","hostname":"`
		return head + strings.Repeat("h", size-len(head)-2) + `"}`
	}
	list := func(sizes ...int) string {
		var ms []string
		for _, n := range sizes {
			ms = append(ms, machine(n))
		}
		return "[" + strings.Join(ms, ",") + "]"
	}
	if ms, err := decodeMachines(strings.NewReader(list(100, maxObjectSize)), nil); err != nil || len(ms) != 2 {
		t.Fatalf("a machine of exactly the bound: %d machines, %v; want 2", len(ms), err)
	}
	_, err := decodeMachines(strings.NewReader(list(100, maxObjectSize+1)), nil)
	if !errors.Is(err, errObjectTooLarge) || !strings.Contains(err.Error(), "machine list") {
		t.Fatalf("a machine over the bound: %v, want a machine list error saying too large", err)
	}
	c := newListCache()
	c.begin()
	if _, err := decodeMachines(strings.NewReader(list(maxObjectSize+1)), c); !errors.Is(err, errObjectTooLarge) {
		t.Fatalf("a machine over the bound, cached: %v, want too large", err)
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
// array of objects, the same objects, byte for byte, up to the first
// object longer than the bound, which fails the split as too large.
func FuzzObjectArray(f *testing.F) {
	for _, s := range []string{
		`[]`, `[{}]`, `[{"a":"}\"{"},{"b":[{},[]]}]`, " [ {\"x\" : [ 1 , 2 ] } ] ",
		`[{"a":"\u0022"}]`, `[{"system_id":"abc123","workload_annotations":{"k":"v"}}]`,
	} {
		f.Add([]byte(s), uint16(0))
		f.Add([]byte(s), uint16(8))
	}
	f.Fuzz(func(t *testing.T, in []byte, bound uint16) {
		maxSize := int(bound)
		if maxSize == 0 {
			maxSize = maxObjectSize
		}
		got, err := splitAllMax(string(in), false, 7, maxSize)
		var want []json.RawMessage
		if json.Unmarshal(in, &want) != nil || slices.ContainsFunc(want, func(m json.RawMessage) bool { return m[0] != '{' }) {
			return // not an array of objects: the split may refuse it or not, but must not panic
		}
		if i := slices.IndexFunc(want, func(m json.RawMessage) bool { return len(m) > maxSize }); i >= 0 {
			if !errors.Is(err, errObjectTooLarge) {
				t.Fatalf("%q (bound %d): %v, want object %d too large", in, maxSize, err, i)
			}
			want = want[:i]
		} else if err != nil {
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
