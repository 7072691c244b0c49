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

package bootstrap

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	bootstrapsecretutil "k8s.io/cluster-bootstrap/util/secrets"
)

var tokenRE = regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`)

func TestGenerateBootstrapToken(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		tok, err := GenerateBootstrapToken()
		if err != nil {
			t.Fatal(err)
		}
		if !tokenRE.MatchString(tok.Value()) {
			t.Fatalf("token %q does not match %s", tok.Value(), tokenRE)
		}
		if seen[tok.Value()] {
			t.Fatal("generated the same token twice")
		}
		seen[tok.Value()] = true
	}
}

func TestParseBootstrapToken(t *testing.T) {
	tok, err := ParseBootstrapToken(fixtureToken)
	if err != nil || tok.ID() != "abcdef" || tok.Value() != fixtureToken {
		t.Fatalf("ParseBootstrapToken = %v (%s), %v", tok, tok.ID(), err)
	}
	for _, bad := range []string{"", "abcdef", "abcdef.0123456789abcdeF", "abcde.0123456789abcdef0", "abcdef.0123456789abcdef.x", "ABCDEF.0123456789abcdef"} {
		_, err := ParseBootstrapToken(bad)
		if err == nil {
			t.Errorf("accepted %q", bad)
			continue
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error repeats the input: %v", err)
		}
	}
}

func TestBootstrapTokenNeverPrintsItsSecret(t *testing.T) {
	tok := testToken(t)
	cfg := testConfig(t, RoleJoinWorker)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{tok, &tok, cfg} {
			if s := fmt.Sprintf(format, v); strings.Contains(s, "0123456789abcdef") {
				t.Errorf("%s of %T prints the token secret: %s", format, v, s)
			}
		}
	}
	if tok.String() != "abcdef.<redacted>" {
		t.Errorf("String() = %q", tok.String())
	}
}

func TestTokenSecret(t *testing.T) {
	tok := testToken(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	s, err := tok.Secret(2*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if s.Namespace != "kube-system" || s.Name != "bootstrap-token-abcdef" || s.Type != "bootstrap.kubernetes.io/token" {
		t.Errorf("secret %s/%s of type %s", s.Namespace, s.Name, s.Type)
	}
	want := map[string]string{
		"token-id":                       "abcdef",
		"token-secret":                   "0123456789abcdef",
		"expiration":                     "2026-05-01T12:00:00Z",
		"usage-bootstrap-authentication": "true",
		"usage-bootstrap-signing":        "true",
		"auth-extra-groups":              "system:bootstrappers:kubeadm:default-node-token",
		"description":                    tokenDescription,
	}
	if len(s.Data) != len(want) {
		t.Errorf("data has %d keys, want %d", len(s.Data), len(want))
	}
	for k, v := range want {
		if string(s.Data[k]) != v {
			t.Errorf("%s = %q, want %q", k, s.Data[k], v)
		}
	}

	// The API server's bootstrap authenticator reads the Secret with
	// cluster-bootstrap's helpers: check it with them too.
	obj := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace}, Type: s.Type, Data: s.Data}
	if id, ok := bootstrapsecretutil.ParseName(obj.Name); !ok || id != "abcdef" {
		t.Errorf("ParseName(%q) = %q, %v", obj.Name, id, ok)
	}
	if left, expired := bootstrapsecretutil.GetExpiration(obj, now.Add(time.Hour)); expired || left != time.Hour {
		t.Errorf("an hour in: %s left, expired %v", left, expired)
	}
	if !bootstrapsecretutil.HasExpired(obj, now.Add(2*time.Hour+time.Second)) {
		t.Error("not expired after its TTL")
	}
	if groups, err := bootstrapsecretutil.GetGroups(obj); err != nil || len(groups) != 2 || groups[1] != NodeTokenGroup {
		t.Errorf("GetGroups = %q, %v", groups, err)
	}

	if _, err := tok.Secret(0, now); err == nil {
		t.Error("accepted a token that never expires")
	}
	if _, err := (BootstrapToken{}).Secret(time.Hour, now); err == nil {
		t.Error("made a Secret of no token")
	}
}
