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
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	jujuerrors "github.com/juju/errors"
	gomaasapi "github.com/juju/gomaasapi/v2"
)

// serverErr builds the error gomaasapi returns for a non-2xx answer, wrapped
// the way gomaasapi wraps it.
func serverErr(t *testing.T, code int, body string) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	c, err := gomaasapi.NewAnonymousClient(srv.URL+"/MAAS/", "2.0")
	if err != nil {
		t.Fatal(err)
	}
	u := c.GetURL(c.APIURL)
	_, err = c.Get(u, "", nil)
	if _, ok := gomaasapi.GetServerError(err); !ok {
		t.Fatalf("status %d gave %v, not a ServerError", code, err)
	}
	return err
}

func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		code int
		op   string
		want Class
	}{
		{400, "deploy", ClassInvalid},
		{401, "list machines", ClassUnauthorized},
		{403, "list machines", ClassUnauthorized},
		{404, "get machine", ClassNotFound},
		{409, opAllocate, ClassNoCapacity},
		{409, "deploy", ClassConflict},
		{409, "release", ClassConflict},
		{408, "deploy", ClassTransient},
		{429, "deploy", ClassTransient},
		{500, "deploy", ClassTransient},
		{502, opAllocate, ClassTransient},
		{503, opAllocate, ClassTransient},
		{504, "list machines", ClassTransient},
		{405, "deploy", ClassUnknown},
		{418, "deploy", ClassUnknown},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d %s", tc.code, tc.op), func(t *testing.T) {
			raw := serverErr(t, tc.code, "MAAS says no")
			e := newError(tc.op, "abc123", raw)
			if e.Class != tc.want {
				t.Fatalf("class = %v, want %v", e.Class, tc.want)
			}
			if Classify(e) != tc.want || Classify(fmt.Errorf("wrapped: %w", e)) != tc.want {
				t.Fatalf("Classify does not see through wrapping")
			}
			var se gomaasapi.ServerError
			if !errors.As(e, &se) || se.StatusCode != tc.code {
				t.Fatalf("errors.As(ServerError) = %v, %d", errors.As(e, &se), se.StatusCode)
			}
			if e.StatusCode != tc.code || e.Message != "MAAS says no" {
				t.Fatalf("StatusCode=%d Message=%q", e.StatusCode, e.Message)
			}
			if !strings.Contains(e.Error(), "MAAS says no") || !strings.Contains(e.Error(), "abc123") {
				t.Fatalf("Error() = %q lacks MAAS's message or the system ID", e.Error())
			}
		})
	}
}

func TestClassifyEmptyBodyAndLongBody(t *testing.T) {
	e := newError("whoami", "", serverErr(t, 403, ""))
	if e.Message != "Forbidden" {
		t.Errorf("empty 403 body: Message = %q, want the status text", e.Message)
	}
	e = newError("whoami", "", serverErr(t, 400, strings.Repeat("x", 5000)))
	if len(e.Message) > maxMessageLen+len("…") {
		t.Errorf("message not bounded: %d bytes", len(e.Message))
	}
}

func TestErrorRedactsKeyParts(t *testing.T) {
	raw := serverErr(t, 401, "Authorization Error: 'Invalid access token: "+testToken+"'")
	e := newError("list machines", "", raw, testConsumer, testToken)
	if strings.Contains(e.Error(), testToken) || !strings.Contains(e.Error(), "<redacted>") {
		t.Fatalf("Error() = %q still names the token key", e.Error())
	}
	if e.Class != ClassUnauthorized {
		t.Fatalf("class = %v", e.Class)
	}
}

// networkErrors produces the errors net/http really returns, on loopback.
func TestClassifyNetworkErrors(t *testing.T) {
	refused := func(t *testing.T) error {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		_, err = http.Get("http://" + addr + "/MAAS/")
		return err
	}
	reset := func(t *testing.T) error {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.(*net.TCPConn).SetLinger(0)
				_ = conn.Close()
			}
		}))
		defer srv.Close()
		_, err := http.Get(srv.URL)
		return err
	}
	timeout := func(t *testing.T) error {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		c := &http.Client{Timeout: 50 * time.Millisecond}
		_, err := c.Get(srv.URL)
		return err
	}
	deadline := func(t *testing.T) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
		defer cancel()
		<-ctx.Done()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:1/", nil)
		_, err := http.DefaultClient.Do(req)
		return err
	}
	tests := []struct {
		name string
		make func(*testing.T) error
		want Class
	}{
		{"connection refused", refused, ClassTransient},
		{"connection reset", reset, ClassTransient},
		{"client timeout", timeout, ClassTransient},
		{"context deadline", deadline, ClassTransient},
		{"plain ECONNRESET", func(*testing.T) error { return syscall.ECONNRESET }, ClassTransient},
		{"unexpected EOF", func(*testing.T) error { return io.ErrUnexpectedEOF }, ClassTransient},
		{"juju-wrapped refusal", func(t *testing.T) error { return jujuerrors.Trace(refused(t)) }, ClassTransient},
		{"something else", func(*testing.T) error { return errors.New("json: cannot unmarshal") }, ClassUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.make(t)
			if err == nil {
				t.Fatal("no error produced")
			}
			if got := Classify(err); got != tc.want {
				t.Fatalf("Classify(%v) = %v, want %v", err, got, tc.want)
			}
			if e := newError("list machines", "", err); e.Class != tc.want || e.Message == "" {
				t.Fatalf("newError: class %v message %q", e.Class, e.Message)
			}
		})
	}
}

func TestClassifyTLSFailureIsInvalid(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	_, err := http.Get(srv.URL) // the test server's CA is not trusted
	if got := Classify(err); got != ClassInvalid {
		t.Fatalf("Classify(%v) = %v, want invalid", err, got)
	}
}

func TestClassHelpers(t *testing.T) {
	for c := ClassUnknown; c <= ClassNotOwned; c++ {
		err := fmt.Errorf("ctx: %w", &Error{Class: c, Op: "x"})
		got := map[string]bool{
			"unauthorized": IsUnauthorized(err), "no capacity": IsNoCapacity(err), "conflict": IsConflict(err),
			"not found": IsNotFound(err), "invalid": IsInvalid(err), "transient": IsTransient(err), "not owned": IsNotOwned(err),
		}
		for name, v := range got {
			if v != (name == c.String()) {
				t.Errorf("class %v: Is%q = %v", c, name, v)
			}
		}
	}
	if IsTransient(nil) || Classify(nil) != ClassUnknown {
		t.Error("nil error has a class")
	}
	if Class(99).String() != "class(99)" {
		t.Error(Class(99).String())
	}
}

func TestMayHaveActed(t *testing.T) {
	sent := func(err error) error {
		return &url.Error{Op: "Post", URL: "http://maas/MAAS/api/2.0/machines/", Err: err}
	}
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"503", serverErr(t, 503, "busy"), true},
		{"504 from a proxy", serverErr(t, 504, ""), true},
		{"500", serverErr(t, 500, "boom"), true},
		{"409 no capacity", serverErr(t, 409, "No machine available."), false},
		{"400", serverErr(t, 400, ""), false},
		{"connection reset after sending", sent(syscall.ECONNRESET), true},
		{"EOF: the connection dropped before an answer", sent(io.EOF), true},
		{"timeout waiting for the answer", sent(context.DeadlineExceeded), true},
		{"connection refused: never sent", sent(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), false},
		{"refused by this package", refusal(ClassInvalid, opAllocate, "", "bad"), false},
		{"the rate-limit wait ran out: never sent", newError(opAllocate, "", context.DeadlineExceeded), false},
		{"wrapped in an Error", newError(opAllocate, "", sent(io.ErrUnexpectedEOF)), true},
	} {
		if got := MayHaveActed(tt.err); got != tt.want {
			t.Errorf("%s: MayHaveActed = %v, want %v", tt.name, got, tt.want)
		}
	}
}
