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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Lengths MAAS uses for the three parts of an API key (consumer key, token
// key, token secret); MAAS generates them and never accepts other lengths.
const (
	consumerKeyLen = 18
	tokenKeyLen    = 18
	tokenSecretLen = 32
)

// APIKey is a parsed MAAS API key. Its formatting methods print a redacted
// form whatever the verb. The parts live in a closure, not in fields: fmt
// prints through reflection the fields whose methods it cannot call (an
// APIKey in an unexported field of another struct) and, with a verb such
// as %s, even follows pointers, but a closure's captured values are out of
// reflection's reach.
type APIKey struct {
	parts func() apiKeyParts
}

type apiKeyParts struct {
	consumerKey, tokenKey, tokenSecret string
}

// ErrInvalidAPIKey is wrapped by every error ParseAPIKey returns.
var ErrInvalidAPIKey = errors.New("invalid MAAS API key")

// ParseAPIKey parses a key of the form consumer_key:token_key:token_secret,
// as the MAAS UI and CLI show it. Surrounding white space (a Secret created
// from a file usually ends in a newline) is ignored. Errors say which part
// is wrong and why, and never contain the key or any part of it.
func ParseAPIKey(s string) (APIKey, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return APIKey{}, fmt.Errorf("%w: it is empty", ErrInvalidAPIKey)
	}
	fields := strings.Split(s, ":")
	if len(fields) != 3 {
		return APIKey{}, fmt.Errorf("%w: want 3 colon-separated parts (consumer_key:token_key:token_secret), got %d",
			ErrInvalidAPIKey, len(fields))
	}
	specs := [3]struct {
		name string
		size int
	}{
		{"consumer key", consumerKeyLen},
		{"token key", tokenKeyLen},
		{"token secret", tokenSecretLen},
	}
	for i, spec := range specs {
		if err := checkKeyPart(fields[i], spec.name, spec.size); err != nil {
			return APIKey{}, err
		}
	}
	p := apiKeyParts{consumerKey: fields[0], tokenKey: fields[1], tokenSecret: fields[2]}
	return APIKey{parts: func() apiKeyParts { return p }}, nil
}

func checkKeyPart(part, name string, size int) error {
	if part == "" {
		return fmt.Errorf("%w: part %s is empty", ErrInvalidAPIKey, name)
	}
	for i := 0; i < len(part); i++ {
		if !isAlnum(part[i]) {
			return fmt.Errorf("%w: part %s may contain only letters and digits", ErrInvalidAPIKey, name)
		}
	}
	if len(part) != size {
		return fmt.Errorf("%w: part %s must be %d characters long, got %d", ErrInvalidAPIKey, name, size, len(part))
	}
	return nil
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// IsZero reports whether k was never parsed.
func (k APIKey) IsZero() bool { return k.parts == nil }

// Fingerprint is a short, stable, non-reversible digest of the whole key:
// enough to tell two keys apart in a log line without revealing either.
func (k APIKey) Fingerprint() string {
	if k.parts == nil {
		return ""
	}
	sum := sha256.Sum256([]byte(k.reveal()))
	return hex.EncodeToString(sum[:4])
}

// reveal returns the key in the form gomaasclient takes. It is the only way
// the secret leaves this type; callers hand it straight to gomaasclient.
func (k APIKey) reveal() string {
	if k.parts == nil {
		return ""
	}
	p := k.parts()
	return p.consumerKey + ":" + p.tokenKey + ":" + p.tokenSecret
}

// String never reveals the key.
func (k APIKey) String() string {
	if k.parts == nil {
		return "maas.APIKey(unset)"
	}
	return "maas.APIKey(redacted, fingerprint " + k.Fingerprint() + ")"
}

// GoString makes %#v as safe as %v.
func (k APIKey) GoString() string { return k.String() }

// Format makes every verb (%s, %v, %+v, %#v, %q, %x, …) print the redacted form.
func (k APIKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// MarshalText keeps the secret out of JSON, YAML and any other text encoding.
func (k APIKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }
