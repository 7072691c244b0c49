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
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// FieldError is one thing wrong with a pcg.yaml: the field, as the file
// names it, and the line it is on (0 when the field is missing and its
// parent is the whole file).
type FieldError struct {
	Field  string
	Line   int
	Detail string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Detail)
	return b.String()
}

// Errors is every thing wrong with a pcg.yaml, in the order of the file.
type Errors []*FieldError

func (l Errors) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sorted orders errors by line, then field, keeping errors of one field in
// the order they were found; errors without a line come last.
func (l Errors) sorted() Errors {
	slices.SortStableFunc(l, func(a, b *FieldError) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = int(^uint(0) >> 1)
		}
		if lb == 0 {
			lb = int(^uint(0) >> 1)
		}
		if la != lb {
			return la - lb
		}
		return strings.Compare(a.Field, b.Field)
	})
	return l
}

// apiKeyShape is anything laid out like a MAAS API key (three runs of
// letters and digits joined by colons, each as long as MAAS makes them):
// a key pasted where it does not belong (a field name, a URL, a wrong
// field) is still a key.
var apiKeyShape = regexp.MustCompile(`[A-Za-z0-9]{16,}:[A-Za-z0-9]{16,}:[A-Za-z0-9]{16,}`)

// longToken is a run of letters and digits as long as a key part; a MAAS
// token secret (32 characters) matches, a hostname or zone name seldom does.
var longToken = regexp.MustCompile(`[A-Za-z0-9]{24,}`)

// redactor removes secret values from text meant for people.
type redactor struct {
	values []string
}

// minRedacted is the shortest value redacted. No message is built from a
// secret: redaction is the second line of defence, for text that quotes
// input (a parser's, the schema's). A shorter value is likely an ordinary
// word of the message ("one", "gateway") that replacing would garble.
const minRedacted = 6

// add records a secret value and, for an API key, each of its parts.
func (r *redactor) add(v string) {
	v = strings.TrimSpace(v)
	r.addValue(v)
	for part := range strings.SplitSeq(v, ":") {
		if part != v {
			r.addValue(part)
		}
	}
}

func (r *redactor) addValue(v string) {
	if len(v) >= minRedacted {
		r.values = append(r.values, v)
	}
}

func (r *redactor) redact(s string) string {
	// Longest first, so a part never leaves the rest of its key behind.
	vals := slices.Clone(r.values)
	slices.SortFunc(vals, func(a, b string) int { return len(b) - len(a) })
	for _, v := range vals {
		s = strings.ReplaceAll(s, v, redacted)
	}
	s = apiKeyShape.ReplaceAllString(s, redacted)
	return longToken.ReplaceAllString(s, redacted)
}

func (r *redactor) errors(l Errors) Errors {
	for _, e := range l {
		e.Field = r.redact(e.Field)
		e.Detail = r.redact(e.Detail)
	}
	return l
}

func (r *redactor) strings(l []string) []string {
	for i := range l {
		l[i] = r.redact(l[i])
	}
	return l
}
