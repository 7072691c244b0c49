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
	"errors"
	"fmt"
	"io"
)

// objectArray reads a JSON array of objects from a stream and hands out
// each object's text in turn, in a buffer it reuses. It only finds where
// each object ends (strings, escapes and nesting), and checks the array's
// punctuation; the objects' contents are for the caller's decoder to
// validate. encoding/json's Decoder would scan each object twice (once to
// find its end, once more to hand a RawMessage its bytes): for a list of
// 3000 machines (25 MB) that is 200 ms of CPU per poll, against 20 here.
type objectArray struct {
	r     io.Reader
	buf   []byte // read buffer: buf[i:n] is read and not yet consumed
	i, n  int
	err   error // the reader's error once buf is drained
	elem  []byte
	max   int // the largest object handed out, in bytes
	state arrayState
}

// maxObjectSize bounds one object of an array. A MAAS machine's JSON is a
// few kilobytes (25 MB for 3000 machines, with interfaces and block
// devices); without a bound, one endless object from a broken or hostile
// endpoint would grow elem until the manager is killed for memory, and the
// buffer is kept from poll to poll.
const maxObjectSize = 1 << 20

// errObjectTooLarge is returned for an object longer than the bound.
var errObjectTooLarge = errors.New("object too large")

type arrayState int

const (
	beforeArray arrayState = iota
	afterOpen              // '[': an object or ']' next
	afterObject            // ',' or ']' next
	afterComma             // an object next
	afterClose             // nothing but space
)

// newObjectArray reads r through buf, handing out objects in elem; both
// are reused, and grown when needed.
func newObjectArray(r io.Reader, buf, elem []byte) *objectArray {
	if cap(buf) == 0 {
		buf = make([]byte, 32<<10)
	}
	return &objectArray{r: r, buf: buf[:cap(buf)], elem: elem[:0], max: maxObjectSize}
}

// fill reads more into the emptied buffer; false at the end of the stream.
func (a *objectArray) fill() bool {
	if a.err != nil {
		return false
	}
	a.i = 0
	a.n, a.err = a.r.Read(a.buf)
	for a.n == 0 && a.err == nil {
		a.n, a.err = a.r.Read(a.buf)
	}
	return a.n > 0
}

func (a *objectArray) eof() error {
	if a.err != nil && !errors.Is(a.err, io.EOF) {
		return a.err
	}
	return io.ErrUnexpectedEOF
}

// skipSpace moves to the next non-space byte; false at the end of the stream.
func (a *objectArray) skipSpace() bool {
	for {
		for a.i < a.n {
			switch a.buf[a.i] {
			case ' ', '\t', '\n', '\r':
				a.i++
			default:
				return true
			}
		}
		if !a.fill() {
			return false
		}
	}
}

// Next returns the text of the next object, valid until the next call, or
// io.EOF after the closing bracket (and nothing but space after it).
func (a *objectArray) Next() ([]byte, error) {
	for {
		if !a.skipSpace() {
			if a.state == afterClose {
				return nil, io.EOF
			}
			return nil, a.eof()
		}
		c := a.buf[a.i]
		switch {
		case a.state == beforeArray && c == '[':
			a.state = afterOpen
		case (a.state == afterOpen || a.state == afterComma) && c == '{':
			return a.object()
		case (a.state == afterOpen || a.state == afterObject) && c == ']':
			a.state = afterClose
		case a.state == afterObject && c == ',':
			a.state = afterComma
		default:
			return nil, fmt.Errorf("want an array of objects, found %q", c)
		}
		a.i++
	}
}

// object reads one object, from its opening brace at buf[i].
func (a *objectArray) object() ([]byte, error) {
	a.elem = a.elem[:0]
	depth, inString, escaped := 0, false, false
	start := a.i
	for {
		if a.i == a.n {
			if len(a.elem)+a.n-start > a.max {
				return nil, a.tooLarge()
			}
			a.elem = append(a.elem, a.buf[start:a.n]...)
			if !a.fill() {
				return nil, a.eof()
			}
			start = 0
		}
		if inString {
			if escaped { // the escaped byte, whatever it is
				escaped = false
				a.i++
				continue
			}
			j := bytes.IndexAny(a.buf[a.i:a.n], `"\`)
			if j < 0 {
				a.i = a.n
				continue
			}
			a.i += j
			if a.buf[a.i] == '\\' {
				escaped = true
			} else {
				inString = false
			}
			a.i++
			continue
		}
		c := a.buf[a.i]
		a.i++
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				if len(a.elem)+a.i-start > a.max {
					return nil, a.tooLarge()
				}
				a.elem = append(a.elem, a.buf[start:a.i]...)
				a.state = afterObject
				return a.elem, nil
			}
		}
	}
}

// tooLarge fails the array for good: where the oversized object ends is
// unknown without reading it, so no further object can be found.
func (a *objectArray) tooLarge() error {
	a.err = errObjectTooLarge
	a.i, a.n = 0, 0
	return fmt.Errorf("an object in the array is larger than %d bytes: %w", a.max, errObjectTooLarge)
}
