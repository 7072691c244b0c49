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
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const (
	testConsumer = "AAAAAAAAAAAAAAAAAA"               // 18
	testToken    = "BBBBBBBBBBBBBBBBBB"               // 18
	testSecret   = "s3cr3ts3cr3ts3cr3ts3cr3ts3cr3tXY" // 32
	testKey      = testConsumer + ":" + testToken + ":" + testSecret
)

func TestParseAPIKey(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; "" means success
	}{
		{"valid", testKey, ""},
		{"surrounding white space and newline", "  " + testKey + "\n", ""},
		{"empty", "", "it is empty"},
		{"only spaces", " \t\n", "it is empty"},
		{"one part", testSecret, "want 3 colon-separated parts (consumer_key:token_key:token_secret), got 1"},
		{"two parts", testToken + ":" + testSecret, "got 2"},
		{"four parts", testKey + ":x", "got 4"},
		{"empty consumer key", ":" + testToken + ":" + testSecret, "part consumer key is empty"},
		{"empty token key", testConsumer + "::" + testSecret, "part token key is empty"},
		{"empty token secret", testConsumer + ":" + testToken + ":", "part token secret is empty"},
		{"short consumer key", testConsumer[1:] + ":" + testToken + ":" + testSecret, "part consumer key must be 18 characters long, got 17"},
		{"long token key", testConsumer + ":" + testToken + "B:" + testSecret, "part token key must be 18 characters long, got 19"},
		{"short secret", testConsumer + ":" + testToken + ":" + testSecret[:31], "part token secret must be 32 characters long, got 31"},
		{"bad character in secret", testConsumer + ":" + testToken + ":" + testSecret[:31] + "!", "part token secret may contain only letters and digits"},
		{"space inside token", testConsumer + ":" + "BBBBBBBB BBBBBBBBB" + ":" + testSecret, "part token key may contain only letters and digits"},
		{"non-ASCII letter", testConsumer + ":" + testToken + ":" + "é" + testSecret[2:], "part token secret may contain only letters and digits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseAPIKey(tc.in)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseAPIKey: %v", err)
				}
				if k.IsZero() || k.reveal() != testKey {
					t.Fatalf("parsed key does not round-trip")
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseAPIKey succeeded, want error containing %q", tc.wantErr)
			}
			if !errors.Is(err, ErrInvalidAPIKey) {
				t.Errorf("error %v does not wrap ErrInvalidAPIKey", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			assertNoKeyParts(t, err.Error(), tc.in)
		})
	}
}

// assertNoKeyParts fails if msg contains any colon-separated part of key
// long enough to be meaningful (a 1-letter part may match by accident).
func assertNoKeyParts(t *testing.T, msg, key string) {
	t.Helper()
	for part := range strings.SplitSeq(strings.TrimSpace(key), ":") {
		if len(part) >= 4 && strings.Contains(msg, part) {
			t.Errorf("message %q contains part of the key", msg)
		}
	}
}

func TestAPIKeyRedaction(t *testing.T) {
	k, err := ParseAPIKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	type exported struct{ Key APIKey }
	type unexported struct{ key APIKey }
	type pointer struct{ Key *APIKey }
	values := []any{k, &k, exported{k}, &exported{k}, unexported{k}, &unexported{k}, pointer{&k}, []APIKey{k}, map[string]APIKey{"k": k}}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			out := fmt.Sprintf(verb, v)
			for _, part := range []string{testSecret, testToken, testConsumer} {
				if strings.Contains(out, part) {
					t.Errorf("fmt %s of %T printed part of the key: %s", verb, v, out)
				}
			}
		}
	}
	if got := k.String(); !strings.Contains(got, "redacted") || !strings.Contains(got, k.Fingerprint()) {
		t.Errorf("String() = %q, want a redacted form with the fingerprint", got)
	}
	js, err := json.Marshal(exported{k})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), testSecret) || !strings.Contains(string(js), "redacted") {
		t.Errorf("JSON of a struct holding the key = %s", js)
	}
	if (APIKey{}).String() != "maas.APIKey(unset)" || !(APIKey{}).IsZero() {
		t.Errorf("zero key: %q", APIKey{}.String())
	}
}

func TestAPIKeyFingerprint(t *testing.T) {
	a, _ := ParseAPIKey(testKey)
	b, _ := ParseAPIKey(testKey)
	c, _ := ParseAPIKey(testConsumer + ":" + testToken + ":" + strings.Repeat("z", 32))
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("same key, different fingerprints")
	}
	if a.Fingerprint() == c.Fingerprint() {
		t.Error("different secrets, same fingerprint")
	}
	if len(a.Fingerprint()) != 8 {
		t.Errorf("fingerprint %q is not 8 hex digits", a.Fingerprint())
	}
}

func FuzzParseAPIKey(f *testing.F) {
	f.Add(testKey)
	f.Add(" " + testKey + "\n")
	f.Add("a:b:c")
	f.Add("::")
	f.Add(testConsumer + ":" + testToken + ":" + testSecret + ":")
	f.Add(testConsumer + ":" + testToken + ":" + "\x00" + testSecret[1:])
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseAPIKey(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidAPIKey) {
				t.Fatalf("error does not wrap ErrInvalidAPIKey: %v", err)
			}
			// The error must not carry the secret part (nor any part of
			// the key long enough not to be a word of the message).
			parts := strings.Split(strings.TrimSpace(s), ":")
			secret := parts[len(parts)-1]
			if len(parts) == 3 && len(secret) >= 4 && strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q contains the secret", err)
			}
			for _, p := range parts {
				if len(p) >= 8 && strings.Contains(err.Error(), p) {
					t.Fatalf("error %q contains part %q of the key", err, p)
				}
			}
			return
		}
		if k.reveal() != strings.TrimSpace(s) {
			t.Fatalf("parsed key does not round-trip")
		}
		for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%#v", k), fmt.Sprintf("%+v", struct{ k APIKey }{k})} {
			if strings.Contains(out, k.parts().tokenSecret) {
				t.Fatalf("formatting printed the secret: %s", out)
			}
		}
	})
}

func BenchmarkParseAPIKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAPIKey(testKey); err != nil {
			b.Fatal(err)
		}
	}
}
