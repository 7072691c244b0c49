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
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// testKey has the shape of a MAAS API key (18:18:32 letters and digits).
const testKey = "abcdefghijklmnopqr:ABCDEFGHIJKLMNOPQR:0123456789abcdefghijklmnopqrstuv"

// base is a valid pcg.yaml; cases edit it line by line, so line numbers
// below are those of this text.
const base = `apiVersion: install.maasgateway.io/v1alpha1
kind: GatewayInstallation
name: gateway
replicas: 3
controlPlaneEndpoint: 10.11.12.100
maas:
  endpoint: https://10.11.12.13:5443/MAAS
  apiKey: ` + testKey + `
placement:
  zone: az1
  resourcePool: gateway
environment:
  httpProxy: http://proxy.example.com:3128
  httpsProxy: http://proxy.example.com:3128
  noProxy: 10.11.0.0/16,.example.com
  podCIDR: 192.168.0.0/16
  serviceCIDR: 10.96.0.0/12
`

// edit replaces whole lines of base: each pair is a line's text (without
// indentation) and what replaces it ("" deletes the line). An odd last
// argument is appended as more lines.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(base, "\n"), "\n")
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for j, l := range lines {
			if strings.TrimSpace(l) == pairs[i] {
				indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
				lines[j] = indent + pairs[i+1]
				if pairs[i+1] == "" {
					lines[j] = "\x00"
				}
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("base has no line %q", pairs[i])
		}
	}
	lines = slices.DeleteFunc(lines, func(l string) bool { return l == "\x00" })
	out := strings.Join(lines, "\n") + "\n"
	if len(pairs)%2 == 1 {
		out += pairs[len(pairs)-1]
	}
	return out
}

func TestLoadValid(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(t *testing.T, inst *Installation)
		warn  string
	}{
		{name: "the base file", doc: base, check: func(t *testing.T, inst *Installation) {
			gw := inst.Gateway
			if gw.Name != "gateway" || gw.Namespace != DefaultNamespace || gw.Spec.Replicas != 3 {
				t.Errorf("gateway %s/%s with %d replicas", gw.Namespace, gw.Name, gw.Spec.Replicas)
			}
			if got := gw.Spec.Environment.NoProxy; !slices.Equal(got, []string{"10.11.0.0/16", ".example.com"}) {
				t.Errorf("noProxy = %q, want the comma-separated string split", got)
			}
			ref := gw.Spec.MAAS.CredentialsSecretRef
			if ref.Name != "gateway-maas-credentials" || ref.Key != "apiKey" {
				t.Errorf("credentialsSecretRef = %+v", ref)
			}
			if len(inst.Secrets) != 1 || inst.Secrets[0].Name != ref.Name || inst.Secrets[0].StringData["apiKey"] != testKey {
				t.Errorf("want one Secret %s holding the key, got %d", ref.Name, len(inst.Secrets))
			}
			// The CRD's defaults, applied offline.
			if gw.Spec.VIPInterface != "eth0" || gw.Spec.DeletionPolicy != infrav1.GatewayRetain {
				t.Errorf("CRD defaults not applied: vipInterface %q, deletionPolicy %q", gw.Spec.VIPInterface, gw.Spec.DeletionPolicy)
			}
			if gw.Spec.Environment.CredentialsSecretRef != nil {
				t.Errorf("a proxy Secret is named without credentials")
			}
			if len(inst.Warnings) != 0 {
				t.Errorf("warnings: %q", inst.Warnings)
			}
		}},
		{name: "one node by default, with the webhook's warning",
			doc:  edit(t, "replicas: 3", ""),
			warn: "replicas is 1: a 1-node gateway is not recommended for production",
			check: func(t *testing.T, inst *Installation) {
				if inst.Gateway.Spec.Replicas != 1 {
					t.Errorf("replicas = %d, want the default 1", inst.Gateway.Spec.Replicas)
				}
			}},
		{name: "the webhook's default ranges",
			doc: edit(t, "podCIDR: 192.168.0.0/16", "", "serviceCIDR: 10.96.0.0/12", ""),
			check: func(t *testing.T, inst *Installation) {
				env := inst.Gateway.Spec.Environment
				if env.PodCIDR != "192.168.0.0/16" || env.ServiceCIDR != "10.96.0.0/12" {
					t.Errorf("ranges %s %s, want the webhook's defaults", env.PodCIDR, env.ServiceCIDR)
				}
			}},
		{name: "namespace and a noProxy list",
			doc: edit(t, "name: gateway", "name: dc1\nnamespace: gateways",
				"noProxy: 10.11.0.0/16,.example.com", "noProxy:\n  - 10.11.0.0/16\n  - .example.com"),
			check: func(t *testing.T, inst *Installation) {
				if inst.Gateway.Namespace != "gateways" || inst.Secrets[0].Namespace != "gateways" ||
					inst.Secrets[0].Name != "dc1-maas-credentials" {
					t.Errorf("gateway in %s, secret %s/%s", inst.Gateway.Namespace, inst.Secrets[0].Namespace, inst.Secrets[0].Name)
				}
				if len(inst.Gateway.Spec.Environment.NoProxy) != 2 {
					t.Errorf("noProxy = %q", inst.Gateway.Spec.Environment.NoProxy)
				}
			}},
		{name: "proxy credentials in the URLs, as the reference installer takes them",
			doc: edit(t, "httpProxy: http://proxy.example.com:3128", "httpProxy: http://alice:s%40cret@proxy.example.com:3128",
				"httpsProxy: http://proxy.example.com:3128", "httpsProxy: http://alice:s%40cret@proxy.example.com:3128"),
			check: func(t *testing.T, inst *Installation) { checkProxySecret(t, inst, "alice", "s@cret") }},
		{name: "proxy credentials in proxyCredentials",
			doc:   edit(t, "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 10.96.0.0/12\n  proxyCredentials:\n    username: alice\n    password: s3cret"),
			check: func(t *testing.T, inst *Installation) { checkProxySecret(t, inst, "alice", "s3cret") }},
		{name: "credentials in one URL apply to both, with a warning",
			doc:   edit(t, "httpProxy: http://proxy.example.com:3128", "httpProxy: http://alice:s3cret@proxy.example.com:3128"),
			warn:  "environment.httpsProxy carries no credentials but environment.httpProxy does",
			check: func(t *testing.T, inst *Installation) { checkProxySecret(t, inst, "alice", "s3cret") }},
		{name: "plain http with insecureAllowHTTP, with the webhook's warning",
			doc:  edit(t, "endpoint: https://10.11.12.13:5443/MAAS", "endpoint: http://10.11.12.13:5240/MAAS\n  insecureAllowHTTP: true"),
			warn: "maas.endpoint is plain http:// and maas.insecureAllowHTTP is set"},
		{name: "null fields count as unset",
			doc: edit(t, "placement:", "placement: ~", "zone: az1", "", "resourcePool: gateway", "", "# a comment\n")},
		{name: "a release",
			doc: edit(t, "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 10.96.0.0/12\nrelease:\n  version: 1.2.0\n  kubernetesVersion: v1.34.2"),
			check: func(t *testing.T, inst *Installation) {
				if r := inst.Gateway.Spec.Release; r == nil || r.Version != "1.2.0" || r.KubernetesVersion != "v1.34.2" {
					t.Errorf("release = %+v", r)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst, err := Load([]byte(tt.doc), Options{})
			if err != nil {
				t.Fatalf("refused:\n%v\n%s", err, tt.doc)
			}
			if tt.check != nil {
				tt.check(t, inst)
			}
			if tt.warn != "" && !strings.Contains(strings.Join(inst.Warnings, "\n"), tt.warn) {
				t.Errorf("want a warning containing %q, got %q", tt.warn, inst.Warnings)
			}
			if tt.warn == "" && len(inst.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", inst.Warnings)
			}
			for _, w := range inst.Warnings {
				if strings.Contains(w, "s3cret") || strings.Contains(w, "s%40cret") {
					t.Errorf("a warning shows the proxy password: %s", w)
				}
			}
		})
	}
}

func checkProxySecret(t *testing.T, inst *Installation, user, pass string) {
	t.Helper()
	env := inst.Gateway.Spec.Environment
	if env.HTTPProxy != "http://proxy.example.com:3128" || env.HTTPSProxy != "http://proxy.example.com:3128" {
		t.Errorf("the Gateway's proxy URLs keep credentials: %q %q", env.HTTPProxy, env.HTTPSProxy)
	}
	if len(inst.Secrets) != 2 {
		t.Fatalf("want the MAAS and the proxy Secret, got %d", len(inst.Secrets))
	}
	s := inst.Secrets[1]
	if env.CredentialsSecretRef == nil || env.CredentialsSecretRef.Name != s.Name || s.Name != "gateway-proxy-credentials" {
		t.Errorf("environment.credentialsSecretRef = %v, Secret %s", env.CredentialsSecretRef, s.Name)
	}
	if s.StringData["username"] != user || s.StringData["password"] != pass {
		t.Errorf("proxy Secret holds the wrong credentials")
	}
}

// TestLoadInvalid: each case names the field to fix, and its line.
func TestLoadInvalid(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name   string
		doc    string
		field  string
		line   int
		detail string
	}{
		{name: "another apiVersion", doc: edit(t, "apiVersion: install.maasgateway.io/v1alpha1", "apiVersion: infra.maasgateway.io/v1alpha1"),
			field: "apiVersion", line: 1, detail: "this maas-gateway reads install.maasgateway.io/v1alpha1"},
		{name: "no kind", doc: edit(t, "kind: GatewayInstallation", ""),
			field: "kind", detail: "is required: kind: GatewayInstallation"},
		{name: "a name that is not a DNS name", doc: edit(t, "name: gateway", "name: Gateway_1"),
			field: "name", line: 3, detail: "lowercase RFC 1123 subdomain"},
		{name: "a name too long for a label", doc: edit(t, "name: gateway", "name: "+long),
			field: "name", line: 3, detail: "at most 63"},
		{name: "a bad namespace", doc: edit(t, "name: gateway", "name: gateway\nnamespace: Maas.System"),
			field: "namespace", line: 4, detail: "RFC 1123 label"},
		{name: "two replicas (the webhook's message, not the schema's)", doc: edit(t, "replicas: 3", "replicas: 2"),
			field: "replicas", line: 4, detail: "Invalid value: 2: must be 1 or 3: 3 for production"},
		{name: "replicas in words", doc: edit(t, "replicas: 3", "replicas: three"),
			field: "replicas", line: 4, detail: "must be a whole number, not a string"},
		{name: "no control-plane endpoint", doc: edit(t, "controlPlaneEndpoint: 10.11.12.100", ""),
			field: "controlPlaneEndpoint", detail: "is required: the virtual IP"},
		{name: "a VIP inside the pod range", doc: edit(t, "controlPlaneEndpoint: 10.11.12.100", "controlPlaneEndpoint: 192.168.3.4"),
			field: "controlPlaneEndpoint", line: 5, detail: "lies inside the pod range 192.168.0.0/16"},
		{name: "a VIP that is a name", doc: edit(t, "controlPlaneEndpoint: 10.11.12.100", "controlPlaneEndpoint: api.example.com"),
			field: "controlPlaneEndpoint", line: 5, detail: "must be an IP address"},
		{name: "plain http beyond loopback", doc: edit(t, "endpoint: https://10.11.12.13:5443/MAAS", "endpoint: http://10.11.12.13:5240/MAAS"),
			field: "maas.endpoint", line: 7, detail: "or set maas.insecureAllowHTTP: true to accept that risk"},
		{name: "an endpoint that is not http (the schema's rule)", doc: edit(t, "endpoint: https://10.11.12.13:5443/MAAS", "endpoint: ftp://10.11.12.13/MAAS"),
			field: "maas.endpoint", line: 7, detail: "endpoint must be an http:// or https:// URL with a host"},
		{name: "an endpoint with a password", doc: edit(t, "endpoint: https://10.11.12.13:5443/MAAS", "endpoint: https://admin:pw@10.11.12.13:5443/MAAS"),
			field: "maas.endpoint", line: 7, detail: "carries a user name or password"},
		{name: "no endpoint", doc: edit(t, "endpoint: https://10.11.12.13:5443/MAAS", ""),
			field: "maas.endpoint", line: 6, detail: "is required: the MAAS API URL"},
		{name: "no API key", doc: edit(t, "apiKey: "+testKey, ""),
			field: "maas.apiKey", line: 6, detail: "is required: the MAAS API key"},
		{name: "an API key of two parts", doc: edit(t, "apiKey: "+testKey, "apiKey: abcdefghijklmnopqr:ABCDEFGHIJKLMNOPQR"),
			field: "maas.apiKey", line: 8, detail: "want 3 colon-separated parts"},
		{name: "an API key with a short secret", doc: edit(t, "apiKey: "+testKey, "apiKey: "+testKey[:len(testKey)-1]),
			field: "maas.apiKey", line: 8, detail: "part token secret must be 32 characters long, got 31"},
		{name: "a misspelt field", doc: edit(t, "apiKey: "+testKey, "apikey: "+testKey),
			field: "maas.apikey", line: 8, detail: "is not a field of maas; did you mean apiKey?"},
		{name: "a CA bundle that is not PEM", doc: edit(t, "apiKey: "+testKey, "apiKey: "+testKey+"\n  caBundle: not a certificate"),
			field: "maas.caBundle", line: 9, detail: "is not PEM"},
		{name: "a zone longer than MAAS names (the schema's rule)", doc: edit(t, "zone: az1", "zone: "+strings.Repeat("z", 257)),
			field: "placement.zone", line: 10, detail: "may not be more than 256 bytes"},
		{name: "too many CPUs (the schema's rule)", doc: edit(t, "zone: az1", "zone: az1\n  minCPU: 5000"),
			field: "placement.minCPU", line: 11, detail: "should be less than or equal to 4096"},
		{name: "a tag given twice (the schema's list type)", doc: edit(t, "zone: az1", "zone: az1\n  tags: [gateway, gateway]"),
			field: "placement.tags[1]", line: 11, detail: "Duplicate value"},
		{name: "httpProxy without httpsProxy (the schema's rule)", doc: edit(t, "httpsProxy: http://proxy.example.com:3128", ""),
			field: "environment", line: 12, detail: "httpProxy and httpsProxy are set together"},
		{name: "a pod range too small for the nodes", doc: edit(t, "podCIDR: 192.168.0.0/16", "podCIDR: 192.168.0.0/23"),
			field: "environment.podCIDR", line: 16, detail: "has room for 2 nodes"},
		{name: "overlapping ranges", doc: edit(t, "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 192.168.128.0/20"),
			field: "environment.serviceCIDR", line: 17, detail: "overlaps environment.podCIDR"},
		{name: "noProxy as a mapping", doc: edit(t, "noProxy: 10.11.0.0/16,.example.com", "noProxy: {a: b}"),
			field: "environment.noProxy", line: 15, detail: "must be a list or a comma-separated string, not a mapping"},
		{name: "a noProxy entry that is a list", doc: edit(t, "noProxy: 10.11.0.0/16,.example.com", "noProxy:\n  - [a]"),
			field: "environment.noProxy[0]", line: 16, detail: "must be a string, not a list"},
		{name: "two proxies with other credentials",
			doc: edit(t, "httpProxy: http://proxy.example.com:3128", "httpProxy: http://alice:one@proxy.example.com:3128",
				"httpsProxy: http://proxy.example.com:3128", "httpsProxy: http://bob:two@proxy.example.com:3128"),
			field: "environment.httpsProxy", line: 14, detail: "carries other credentials than environment.httpProxy"},
		{name: "credentials in two places",
			doc: edit(t, "httpProxy: http://proxy.example.com:3128", "httpProxy: http://alice:one@proxy.example.com:3128",
				"serviceCIDR: 10.96.0.0/12", "serviceCIDR: 10.96.0.0/12\n  proxyCredentials:\n    username: alice\n    password: one"),
			field: "environment.proxyCredentials", line: 18, detail: "give them in one place"},
		{name: "proxy credentials without a user name",
			doc:   edit(t, "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 10.96.0.0/12\n  proxyCredentials:\n    password: s3cret"),
			field: "environment.proxyCredentials.username", line: 18, detail: "is required"},
		{name: "proxy credentials without a proxy",
			doc: edit(t, "httpProxy: http://proxy.example.com:3128", "", "httpsProxy: http://proxy.example.com:3128", "",
				"serviceCIDR: 10.96.0.0/12", "serviceCIDR: 10.96.0.0/12\n  proxyCredentials:\n    username: alice"),
			field: "environment.proxyCredentials", line: 16, detail: "is given without environment.httpProxy"},
		{name: "a proxy URL that does not parse",
			doc:   edit(t, "httpProxy: http://proxy.example.com:3128", "httpProxy: \"http://alice:s3cret@proxy example:3128\""),
			field: "environment.httpProxy", line: 13, detail: "is not a URL"},
		{name: "a bad VIP interface (the schema's pattern)", doc: edit(t, "controlPlaneEndpoint: 10.11.12.100", "controlPlaneEndpoint: 10.11.12.100\nvipInterface: \"eth 0\""),
			field: "vipInterface", line: 6, detail: "should match"},
		{name: "a release without a version",
			doc:   edit(t, "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 10.96.0.0/12\nrelease:\n  osImage: ubuntu/jammy"),
			field: "release.version", line: 18, detail: "is required with a release"},
		{name: "a release version that is not semver", doc: edit(t, "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 10.96.0.0/12\nrelease:\n  version: latest"),
			field: "release.version", line: 19, detail: "should match"},
		{name: "a service range too large for an old Kubernetes",
			doc:   edit(t, "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 100.64.0.0/10\nrelease:\n  version: 1.0.0\n  kubernetesVersion: v1.30.4"),
			field: "environment.serviceCIDR", line: 17, detail: "Kubernetes before v1.34 accepts"},
		{name: "an unknown top-level field", doc: edit(t, "replicas: 3", "nodes: 3"),
			field: "nodes", line: 4, detail: "is not a field of a pcg.yaml; its fields are apiVersion, controlPlaneEndpoint,"},
		{name: "a field given twice", doc: edit(t, "zone: az1", "zone: az1\n  zone: az2"),
			field: "placement.zone", line: 11, detail: "is given twice (first on line 10)"},
		{name: "a YAML alias", doc: edit(t, "zone: az1", "zone: &z az1\n  resourcePool: *z", "resourcePool: gateway", ""),
			field: "placement.resourcePool", line: 11, detail: "YAML aliases (*name) are not supported"},
		{name: "a second document", doc: base + "---\nname: other\n",
			line: 18, detail: "holds more than one YAML document"},
		{name: "an empty file", doc: "# nothing here\n", detail: "is empty"},
		{name: "a list, not a mapping", doc: "- name: gateway\n", line: 1, detail: "the file must be a mapping of fields, not a list"},
		{name: "not YAML", doc: "name: [gateway\n", detail: "is not YAML"},
		{name: "a tab-indented file", doc: "maas:\n\tendpoint: x\n", detail: "is not YAML"},
		{name: "too large", doc: base + "# " + strings.Repeat("x", MaxFileSize) + "\n", detail: "a pcg.yaml is at most 262144"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.doc), Options{})
			list, ok := errors.AsType[Errors](err)
			if !ok {
				t.Fatalf("want Errors, got %v", err)
			}
			var found *FieldError
			for _, e := range list {
				if e.Field == tt.field && strings.Contains(e.Detail, tt.detail) {
					found = e
					break
				}
			}
			if found == nil {
				t.Fatalf("want an error on %q containing %q, got:\n%v", tt.field, tt.detail, err)
			}
			if found.Line != tt.line {
				t.Errorf("the error on %q is on line %d, want %d:\n%v", tt.field, found.Line, tt.line, err)
			}
			if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), "0123456789abcdefghijklmnopqrstuv") ||
				strings.Contains(err.Error(), "s3cret") {
				t.Errorf("an error shows a secret:\n%v", err)
			}
		})
	}
}

// TestSchemaErrorsGiveWayToTheWebhooks: a rule both the CRD and the webhook
// hold is reported once, in the webhook's words; a spec-level rule of the
// schema alone is still reported.
func TestSchemaErrorsGiveWayToTheWebhooks(t *testing.T) {
	_, err := Load([]byte(edit(t, "replicas: 3", "replicas: 2")), Options{})
	if n := strings.Count(err.Error(), "replicas:"); n != 1 {
		t.Errorf("replicas is reported %d times:\n%v", n, err)
	}
	_, err = Load([]byte(edit(t, "controlPlaneEndpoint: 10.11.12.100", "controlPlaneEndpoint: 192.168.3.4")), Options{})
	if !strings.Contains(err.Error(), "controlPlaneEndpoint must lie outside podCIDR") {
		t.Errorf("the CRD's spec-level rule is missing:\n%v", err)
	}
}

// TestSecretsNeverShown puts the API key and a proxy password where they do
// not belong and checks that no error or warning repeats them.
func TestSecretsNeverShown(t *testing.T) {
	secretPart := testKey[strings.LastIndex(testKey, ":")+1:]
	docs := map[string]string{
		"the key as a field name":      edit(t, "zone: az1", testKey+": x"),
		"the key as the endpoint":      edit(t, "endpoint: https://10.11.12.13:5443/MAAS", "endpoint: "+testKey),
		"the key as the maas mapping":  strings.Replace(base, "maas:\n  endpoint: https://10.11.12.13:5443/MAAS\n  apiKey: "+testKey, "maas: "+testKey, 1),
		"the key as replicas":          edit(t, "replicas: 3", "replicas: "+testKey),
		"the key as a VIP":             edit(t, "controlPlaneEndpoint: 10.11.12.100", "controlPlaneEndpoint: "+testKey),
		"the key in a proxy URL":       edit(t, "httpProxy: http://proxy.example.com:3128", "httpProxy: http://"+testKey+"@proxy"),
		"the key in a broken file":     base + "  - " + testKey + ": [\n",
		"the key in an anchor":         edit(t, "zone: az1", "zone: *"+strings.ReplaceAll(testKey, ":", "")),
		"an invalid key as the zone":   edit(t, "apiKey: "+testKey, "apiKey: "+testKey+"x", "zone: az1", "zone: "+testKey+"x"),
		"a malformed key in bad YAML":  "maas:\n  apiKey: \"" + testKey + "x\n  endpoint: [\n",
		"the password in a broken URL": edit(t, "httpProxy: http://proxy.example.com:3128", "httpProxy: \"http://al ice:pa ss word@proxy:3128\""),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			inst, err := Load([]byte(doc), Options{})
			var text string
			if err != nil {
				text = err.Error()
			} else {
				text = strings.Join(inst.Warnings, "\n")
			}
			for _, s := range []string{testKey, secretPart, strings.ReplaceAll(testKey, ":", ""), "pa ss word"} {
				if strings.Contains(text, s) {
					t.Errorf("%q is shown:\n%s", s, text)
				}
			}
		})
	}
}

// TestSecretNeverPrints: a Secret formatted or encoded by mistake shows
// that it is redacted.
func TestSecretNeverPrints(t *testing.T) {
	cfg := Config{MAAS: MAAS{APIKey: testKey}}
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s %q", cfg, cfg, cfg, cfg.MAAS.APIKey, cfg.MAAS.APIKey)} {
		if strings.Contains(s, "abcdefghijklmnopqr") {
			t.Errorf("the key prints: %s", s)
		}
	}
	b, _ := cfg.MAAS.APIKey.MarshalJSON()
	if strings.Contains(string(b), "abcdefghijklmnopqr") {
		t.Errorf("the key encodes: %s", b)
	}
}

// TestSampleIsValid: config/samples/pcg.yaml is what the README tells
// people to start from.
func TestSampleIsValid(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(), "config", "samples", "pcg.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := Load(data, Options{})
	if err != nil {
		t.Fatalf("the sample is refused:\n%v", err)
	}
	if len(inst.Warnings) > 0 {
		t.Errorf("the sample draws warnings: %q", inst.Warnings)
	}
	if inst.Gateway.Spec.Replicas != 3 || len(inst.Secrets) != 2 {
		t.Errorf("the sample makes %d replicas and %d Secrets; it shows 3 nodes and a proxy with credentials",
			inst.Gateway.Spec.Replicas, len(inst.Secrets))
	}
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
