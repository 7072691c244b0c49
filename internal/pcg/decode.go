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
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parsed is a pcg.yaml as read: its settings, and where each field was
// written, so that a rule checked later can name the line.
type Parsed struct {
	Config *Config
	lines  map[string]int
	secret redactor
	// errs are the fields that could not be read; Build reports them with
	// what else is wrong, and nothing else about them.
	errs Errors
}

// unread reports whether path, or a field it lies in, could not be read.
func (p *Parsed) unread(path string) bool {
	for _, e := range p.errs {
		if path == e.Field || strings.HasPrefix(path, e.Field+".") || strings.HasPrefix(path, e.Field+"[") {
			return true
		}
	}
	return false
}

// lineOf returns the line of path, or of its nearest ancestor written in
// the file.
func (p *Parsed) lineOf(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// Parse decodes a pcg.yaml strictly: one YAML document, a mapping whose
// every field is known, given once and of the right type. It checks the
// form of the file, not its settings (Build does that). The error is an
// Errors naming each field and its line; when only some fields could not
// be read, the Parsed is returned with it, so that Build can name what
// else is wrong in the same run.
func Parse(data []byte) (*Parsed, error) {
	p := &Parsed{Config: &Config{}, lines: map[string]int{}}
	if len(data) > MaxFileSize {
		return nil, Errors{{Detail: fmt.Sprintf("is %d bytes; a pcg.yaml is at most %d (%d KiB)", len(data), MaxFileSize, MaxFileSize>>10)}}
	}
	p.secret.add(rawAPIKey(data))
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{Detail: "is empty; start from config/samples/pcg.yaml"}}
		}
		return nil, p.secret.errors(Errors{{Detail: "is not YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}})
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			line = 0
		}
		return nil, p.secret.errors(Errors{{Line: line, Detail: "holds more than one YAML document; a pcg.yaml is one (remove the ---)"}})
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) != 1 {
			return nil, Errors{{Detail: "is empty; start from config/samples/pcg.yaml"}}
		}
		root = root.Content[0]
	}
	d := decoder{lines: p.lines}
	d.value(root, "", reflect.ValueOf(p.Config).Elem())
	if k := p.Config.MAAS.APIKey; k != "" {
		p.secret.add(string(k))
	}
	if c := p.Config.Environment.ProxyCredentials; c != nil {
		p.secret.add(string(c.Password))
	}
	if len(d.errs) == 0 {
		return p, nil
	}
	errs := p.secret.errors(d.errs.sorted())
	for _, e := range errs {
		if e.Field == "" {
			return nil, errs // the file as a whole is wrong: nothing more to check
		}
	}
	p.errs = errs
	return p, errs
}

// rawAPIKey finds the API key by reading the file's lines, for a file that
// is not YAML: its parser's messages may quote the text, and what is
// written after "apiKey:" is a key to keep out of them whatever else fails.
func rawAPIKey(data []byte) string {
	for line := range strings.SplitSeq(string(data), "\n") {
		_, after, ok := strings.Cut(line, "apiKey:")
		if !ok {
			continue
		}
		after, _, _ = strings.Cut(after, " #")
		return strings.Trim(strings.TrimSpace(after), `"'`)
	}
	return ""
}

type decoder struct {
	lines map[string]int
	errs  Errors
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Field: path, Line: n.Line, Detail: fmt.Sprintf(format, args...)})
}

var listType = reflect.TypeFor[List]()

// kindName says what a YAML node is, in words, without its content.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "true or false"
		}
		return "a string"
	}
	return "something else"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// value decodes n into v. Messages name what was expected and what was
// found, never the text found: it may be the API key in the wrong place.
func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind == yaml.AliasNode {
		d.fail(n, path, "YAML aliases (*name) are not supported in a pcg.yaml; write the value out")
		return
	}
	if n.Kind == 0 {
		d.errs = append(d.errs, &FieldError{Detail: "is empty; start from config/samples/pcg.yaml"})
		return
	}
	if isNull(n) {
		return // as if not written: the field keeps its zero value
	}
	t := v.Type()
	switch {
	case t == listType:
		d.list(n, path, v, true)
	case t.Kind() == reflect.Struct:
		d.mapping(n, path, v)
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "must be a mapping, not %s", kindName(n))
			return
		}
		ptr := reflect.New(t.Elem())
		d.mapping(n, path, ptr.Elem())
		v.Set(ptr)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		d.list(n, path, v, false)
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "must be a string, not %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case t.Kind() == reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.fail(n, path, "must be true or false, not %s", kindName(n))
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	case t.Kind() == reflect.Int32 || t.Kind() == reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.fail(n, path, "must be a whole number, not %s", kindName(n))
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, t.Bits())
		if err != nil {
			d.fail(n, path, "must be a whole number of at most %d bits", t.Bits())
			return
		}
		v.SetInt(i)
	default:
		// A type the Config gained without teaching the decoder.
		d.fail(n, path, "cannot be read (type %s)", t)
	}
}

// list decodes a list of strings; a List also takes one comma-separated string.
func (d *decoder) list(n *yaml.Node, path string, v reflect.Value, commas bool) {
	if commas && n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		var out []string
		for s := range strings.SplitSeq(n.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		v.Set(reflect.ValueOf(out).Convert(v.Type()))
		return
	}
	if n.Kind != yaml.SequenceNode {
		want := "a list"
		if commas {
			want = "a list or a comma-separated string"
		}
		d.fail(n, path, "must be %s, not %s", want, kindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		d.lines[ip] = item.Line
		if item.Kind != yaml.ScalarNode || isNull(item) {
			d.fail(item, ip, "must be a string, not %s", kindName(item))
			continue
		}
		out = reflect.Append(out, reflect.ValueOf(item.Value))
	}
	v.Set(out)
}

// fieldsOf maps the JSON names of a struct's fields, inline structs
// flattened, to their index paths.
func fieldsOf(t reflect.Type) (map[string][]int, []string) {
	byName := map[string][]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" && (f.Anonymous || strings.Contains(opts, "inline")) && f.Type.Kind() == reflect.Struct {
			inner, innerNames := fieldsOf(f.Type)
			for _, n := range innerNames {
				byName[n] = append([]int{i}, inner[n]...)
				names = append(names, n)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		byName[name] = []int{i}
		names = append(names, name)
	}
	return byName, names
}

func (d *decoder) mapping(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		what := "the file"
		if path != "" {
			what = path
		}
		d.fail(n, path, "%s must be a mapping of fields, not %s", what, kindName(n))
		return
	}
	byName, names := fieldsOf(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "has a key that is %s; keys are field names", kindName(k))
			continue
		}
		fp := k.Value
		if path != "" {
			fp = path + "." + k.Value
		}
		idx, ok := byName[k.Value]
		if !ok {
			d.fail(k, fp, "is not a field of %s%s", describe(path), suggest(k.Value, names))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k, fp, "is given twice (first on line %d); give it once", first)
			continue
		}
		seen[k.Value] = k.Line
		d.lines[fp] = k.Line
		d.value(val, fp, v.FieldByIndex(idx))
	}
}

func describe(path string) string {
	if path == "" {
		return "a pcg.yaml"
	}
	return path
}

// suggest names the field meant when the key differs from one only in case
// or by a little, else lists the fields there are.
func suggest(key string, names []string) string {
	for _, n := range names {
		if strings.EqualFold(n, key) {
			return fmt.Sprintf("; did you mean %s?", n)
		}
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	return "; its fields are " + strings.Join(sorted, ", ")
}
