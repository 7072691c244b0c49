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
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{"http://10.11.12.13:5240/MAAS", "http://10.11.12.13:5240/MAAS/", ""},
		{"http://10.11.12.13:5240/MAAS/", "http://10.11.12.13:5240/MAAS/", ""},
		{"  http://10.11.12.13:5240/MAAS\n", "http://10.11.12.13:5240/MAAS/", ""},
		{"HTTPS://Maas.Example.COM/MAAS", "https://maas.example.com/MAAS/", ""},
		{"https://maas.example.com", "https://maas.example.com/MAAS/", ""},
		{"https://maas.example.com/", "https://maas.example.com/MAAS/", ""},
		{"http://127.0.0.1:5240/MAAS/api/2.0/", "http://127.0.0.1:5240/MAAS/", ""},
		{"http://127.0.0.1:5240/MAAS/api/2.0", "http://127.0.0.1:5240/MAAS/", ""},
		{"http://127.0.0.1/api/2.0/", "http://127.0.0.1/MAAS/", ""},
		{"http://maas:80/custom/prefix", "http://maas:80/custom/prefix/", ""},
		{"http://maas//MAAS//", "http://maas/MAAS/", ""},
		{"http://[::1]:5240/MAAS", "http://[::1]:5240/MAAS/", ""},
		{"http://maas:05240/MAAS", "http://maas:5240/MAAS/", ""},
		{"", "", "it is empty"},
		{"10.11.12.13:5240/MAAS", "", "must start with http:// or https://"},
		{"maas.example.com", "", "must start with http:// or https://"},
		{"ftp://maas/MAAS", "", "scheme must be http or https"},
		{"http://", "", "has no host"},
		{"http:///MAAS", "", "has no host"},
		{"http://:5240/MAAS", "", "has no host"},
		{"http://admin:hunter2@maas/MAAS", "", "must not contain user information"},
		{"http://maas/MAAS?op=x", "", "must not have a query"},
		{"http://maas/MAAS?", "", "must not have a query"},
		{"http://maas/MAAS#frag", "", "must not have a fragment"},
		{"http://maas:0/MAAS", "", "port must be a number from 1 to 65535"},
		{"http://maas:65536/MAAS", "", "port must be a number from 1 to 65535"},
		{"http://maas:/MAAS", "", "port is empty"},
		{"http://maas/MAAS/api/1.0/", "", "only MAAS API version 2.0"},
		{"http://ma as/MAAS", "", "not a valid URL"},
		{"http://maas/MA AS", "", "printable ASCII"},
		{"http://maas/MA%20AS", "", "printable ASCII"},
		{"http://[fe80::1%25eth0]/MAAS", "", "host may contain only"},
		{"http://ma$as/MAAS", "", "host may contain only"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			ep, err := ParseEndpoint(tc.in)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseEndpoint = %q, want error containing %q", ep, tc.wantErr)
				}
				if !errors.Is(err, ErrInvalidEndpoint) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q, want ErrInvalidEndpoint containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error %q repeats the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEndpoint: %v", err)
			}
			if ep.String() != tc.want {
				t.Fatalf("ParseEndpoint = %q, want %q", ep, tc.want)
			}
		})
	}
}

func TestEndpointAccessors(t *testing.T) {
	ep, err := ParseEndpoint("https://maas.example.com:8443/MAAS")
	if err != nil {
		t.Fatal(err)
	}
	if !ep.TLS() || ep.Host() != "maas.example.com:8443" || ep.IsZero() {
		t.Errorf("TLS=%v Host=%q IsZero=%v", ep.TLS(), ep.Host(), ep.IsZero())
	}
	var zero Endpoint
	if !zero.IsZero() || zero.String() != "" || zero.TLS() || zero.Host() != "" {
		t.Error("zero Endpoint is not empty")
	}
}

var fixedEndpointErrors = []error{
	errEndpointEmpty, errEndpointNoScheme, errEndpointScheme, errEndpointSyntax, errEndpointUserinfo,
	errEndpointQuery, errEndpointFragment, errEndpointNoHost, errEndpointHostChars, errEndpointIPv6,
	errEndpointPort, errEndpointEmptyPort, errEndpointPath, errEndpointAPIVersion,
}

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{
		"http://10.11.12.13:5240/MAAS", "https://maas.example.com", "http://[::1]:5240/MAAS/api/2.0/",
		"http://user:pass@host/", "ftp://x", "http://maas/a/../b/./c", "http://maas/%41", "http://h:99999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, err := ParseEndpoint(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidEndpoint) {
				t.Fatalf("error does not wrap ErrInvalidEndpoint: %v", err)
			}
			// Errors never echo the input, which may carry a password:
			// each is one of the fixed texts.
			if !slices.Contains(fixedEndpointErrors, err) {
				t.Fatalf("error %q is not one of the fixed endpoint errors", err)
			}
			return
		}
		out := ep.String()
		if !strings.HasPrefix(out, "http://") && !strings.HasPrefix(out, "https://") {
			t.Fatalf("normalised %q has another scheme", out)
		}
		u, err := url.Parse(out)
		if err != nil || !strings.HasSuffix(out, "/") || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("normalised %q is not a base URL", out)
		}
		if ep.Host() == "" {
			t.Fatalf("normalised %q has no host", out)
		}
		again, err := ParseEndpoint(out)
		if err != nil {
			t.Fatalf("normalised %q does not parse again: %v", out, err)
		}
		if again.String() != out {
			t.Fatalf("normalising is not idempotent: %q then %q", out, again)
		}
	})
}
