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
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// userDataWithIntent wraps a marker document in minimal cloud-config.
func userDataWithIntent(t testing.TB, marker string) []byte {
	t.Helper()
	b, err := yaml.Marshal(cloudConfig{WriteFiles: []cloudFile{{Path: IntentPath, Content: marker}}})
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("#cloud-config\n"), b...)
}

const validMarker = `apiVersion: bootstrap.infra.maasgateway.io/v1alpha1
kind: NodeIntent
clusterName: prod
role: JoinWorker
controlPlaneEndpoint: 10.0.0.10:6443
providerID: maas://abc123
systemID: abc123
kubernetesVersion: v1.34.2
labels:
  infra.maasgateway.io/system-id: abc123
taints: []
`

func TestParse(t *testing.T) {
	worker := render(t, testConfig(t, RoleJoinWorker))
	cases := []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"rendered", worker, ""},
		{"base64, as MAAS carries it", []byte(base64.StdEncoding.EncodeToString(worker)), ""},
		{"CRLF header", append([]byte("#cloud-config\r\n"), worker[len("#cloud-config\n"):]...), ""},
		{"hand-written marker", userDataWithIntent(t, validMarker), ""},
		{"empty", nil, "not a #cloud-config"},
		{"shell script", []byte("#!/bin/sh\necho hi\n"), "not a #cloud-config"},
		{"bad YAML", []byte("#cloud-config\nwrite_files: [\n"), "parsing cloud-config"},
		{"no marker", []byte("#cloud-config\nwrite_files:\n- path: /etc/motd\n  content: hi\n"), ErrNoIntent.Error()},
		{"marker twice", append(bytes.Clone(worker), []byte("- path: "+IntentPath+"\n  content: x\n")...), "more than once"},
		{"gzip marker", []byte("#cloud-config\nwrite_files:\n- path: " + IntentPath + "\n  encoding: gz+b64\n  content: H4sI\n"), "encoding"},
		{"unknown field", userDataWithIntent(t, validMarker+"extra: 1\n"), "unknown field"},
		{"wrong kind", userDataWithIntent(t, strings.Replace(validMarker, "kind: NodeIntent", "kind: Pod", 1)), "want bootstrap.infra.maasgateway.io/v1alpha1 NodeIntent"},
		{"unknown role", userDataWithIntent(t, strings.Replace(validMarker, "JoinWorker", "Boss", 1)), `role "Boss"`},
		{"provider ID mismatch", userDataWithIntent(t, strings.Replace(validMarker, "maas://abc123", "maas://zzz", 1)), "providerID"},
		{"endpoint without port", userDataWithIntent(t, strings.Replace(validMarker, "10.0.0.10:6443", "10.0.0.10", 1)), "not host:port"},
		{"endpoint hostname", userDataWithIntent(t, strings.Replace(validMarker, "10.0.0.10:6443", "api:6443", 1)), "IP address"},
		{"system-id label missing", userDataWithIntent(t, strings.Replace(validMarker, "  infra.maasgateway.io/system-id: abc123\n", "  a: b\n", 1)), "label infra.maasgateway.io/system-id"},
		{"bad taint", userDataWithIntent(t, strings.Replace(validMarker, "taints: []", "taints: [{key: a, effect: Sometimes}]", 1)), "effect"},
		{"too big", append([]byte("#cloud-config\n#"), bytes.Repeat([]byte("x"), 2*MaxUserDataBytes)...), "exceeds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			intent, err := Parse(tc.in)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if intent.Role != RoleJoinWorker || intent.SystemID != "abc123" || !intent.Joins() {
					t.Errorf("intent = %+v", intent)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
	if _, err := Parse([]byte("#cloud-config\n{}\n")); !errors.Is(err, ErrNoIntent) {
		t.Errorf("Parse of empty cloud-config = %v, want ErrNoIntent", err)
	}
}

func TestParseInitIsNotAJoin(t *testing.T) {
	intent, err := Parse(render(t, testConfig(t, RoleInitControlPlane)))
	if err != nil {
		t.Fatal(err)
	}
	if intent.Joins() || !intent.Role.ControlPlane() {
		t.Errorf("init intent: joins %v, control plane %v", intent.Joins(), intent.Role.ControlPlane())
	}
}

// FuzzParse feeds Parse arbitrary user data. Whatever it accepts must be a
// valid intent that survives being written and parsed again unchanged.
func FuzzParse(f *testing.F) {
	goldens, _ := filepath.Glob("testdata/*.golden")
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(userDataWithIntent(f, validMarker))
	f.Add([]byte(base64.StdEncoding.EncodeToString(userDataWithIntent(f, validMarker))))
	f.Add([]byte("#cloud-config\nwrite_files:\n- path: " + IntentPath + "\n  content: '&a [*a]'\n"))
	f.Add([]byte("#cloud-config\na: &a [*a, *a]\nb: [*a, *a, *a]\n"))
	f.Add([]byte("#cloud-config\n"))
	f.Add([]byte(""))

	f.Fuzz(func(t *testing.T, data []byte) {
		intent, err := Parse(data)
		if err != nil {
			if intent != nil {
				t.Fatal("Parse returned an intent with an error")
			}
			return
		}
		if err := intent.validate(); err != nil {
			t.Fatalf("accepted an invalid intent: %v", err)
		}
		marker, err := marshalIntent(intent)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(userDataWithIntent(t, marker))
		if err != nil {
			t.Fatalf("re-parsing an accepted intent: %v", err)
		}
		if !reflect.DeepEqual(normalized(intent), normalized(again)) {
			t.Fatalf("round trip changed the intent:\n%+v\n%+v", intent, again)
		}
	})
}

// normalized prints an intent so that nil and empty collections compare equal.
func normalized(n *NodeIntent) string {
	c := *n
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
	if len(c.Taints) == 0 {
		c.Taints = nil
	}
	return fmt.Sprintf("%+v", c)
}
