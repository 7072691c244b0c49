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
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	webhookv1alpha1 "github.com/maas-gateway/maas-gateway/internal/webhook/v1alpha1"
)

// specCase is a Gateway spec (an edit of validSpec) with the fields, as
// paths in the spec ("" for the spec itself), that the Gateway webhook
// refuses and those the Gateway CRD's schema refuses.
type specCase struct {
	name    string
	edit    func(*infrav1.GatewaySpec)
	webhook []string
	schema  []string
}

// specCases is the table shared by the agreement tests: the webhook, the
// pcg.yaml checks, the offline schema and the API server must all read
// each spec the same way.
var specCases = []specCase{
	{name: "valid", edit: func(*infrav1.GatewaySpec) {}},
	{name: "one replica", edit: func(s *infrav1.GatewaySpec) { s.Replicas = 1 }},
	{name: "two replicas", edit: func(s *infrav1.GatewaySpec) { s.Replicas = 2 },
		webhook: []string{"replicas"}, schema: []string{"replicas"}},
	{name: "plain http beyond loopback", edit: func(s *infrav1.GatewaySpec) { s.MAAS.Endpoint = "http://10.11.12.13:5240/MAAS" },
		webhook: []string{"maas.endpoint"}, schema: []string{"maas.endpoint"}},
	{name: "plain http, risk accepted", edit: func(s *infrav1.GatewaySpec) {
		s.MAAS.Endpoint = "http://10.11.12.13:5240/MAAS"
		s.MAAS.InsecureAllowHTTP = true
	}},
	{name: "plain http on loopback", edit: func(s *infrav1.GatewaySpec) { s.MAAS.Endpoint = "http://127.0.0.1:5240/MAAS" }},
	{name: "not an http URL", edit: func(s *infrav1.GatewaySpec) { s.MAAS.Endpoint = "ftp://10.11.12.13/MAAS" },
		schema: []string{"maas.endpoint"}},
	{name: "a CA bundle that is not PEM", edit: func(s *infrav1.GatewaySpec) { s.MAAS.CABundle = "not a certificate" },
		webhook: []string{"maas.caBundle"}},
	{name: "the VIP in the pod range", edit: func(s *infrav1.GatewaySpec) { s.ControlPlaneEndpoint = "192.168.3.4" },
		webhook: []string{"controlPlaneEndpoint"}, schema: []string{""}},
	{name: "the VIP in the service range", edit: func(s *infrav1.GatewaySpec) { s.ControlPlaneEndpoint = "10.96.0.10" },
		webhook: []string{"controlPlaneEndpoint"}, schema: []string{""}},
	{name: "a loopback VIP", edit: func(s *infrav1.GatewaySpec) { s.ControlPlaneEndpoint = "127.0.0.5" },
		webhook: []string{"controlPlaneEndpoint"}},
	// The spec-level rules (VIP outside the ranges) fail to evaluate on a
	// VIP that is no IP, or a range that is no CIDR, and say so.
	{name: "a VIP that is a name", edit: func(s *infrav1.GatewaySpec) { s.ControlPlaneEndpoint = "api.example.com" },
		webhook: []string{"controlPlaneEndpoint"}, schema: []string{"", "controlPlaneEndpoint"}},
	{name: "a pod range too small", edit: func(s *infrav1.GatewaySpec) { s.Environment.PodCIDR = "192.168.0.0/23" },
		webhook: []string{"environment.podCIDR"}},
	{name: "overlapping ranges", edit: func(s *infrav1.GatewaySpec) { s.Environment.ServiceCIDR = "192.168.128.0/20" },
		webhook: []string{"environment.serviceCIDR"}, schema: []string{"environment"}},
	{name: "a service range that is no CIDR", edit: func(s *infrav1.GatewaySpec) { s.Environment.ServiceCIDR = "10.96.0.0/33" },
		webhook: []string{"environment.serviceCIDR"}, schema: []string{"", "environment", "environment.serviceCIDR"}},
	{name: "httpProxy alone", edit: func(s *infrav1.GatewaySpec) { s.Environment.HTTPSProxy = "" },
		schema: []string{"environment"}},
	// The file's own check of proxy URLs (it takes credentials out of
	// them) refuses this too, so the schema's message gives way.
	{name: "a proxy that is not a URL", edit: func(s *infrav1.GatewaySpec) { s.Environment.HTTPProxy = "proxy.example.com" },
		schema: []string{"environment.httpProxy"}},
	{name: "noProxy without the MAAS host", edit: func(s *infrav1.GatewaySpec) { s.Environment.NoProxy = []string{".svc"} }},
	{name: "a VIP interface with a space", edit: func(s *infrav1.GatewaySpec) { s.VIPInterface = "eth 0" },
		schema: []string{"vipInterface"}},
	{name: "a release that is not semver", edit: func(s *infrav1.GatewaySpec) { s.Release = &infrav1.Release{Version: "latest"} },
		schema: []string{"release.version"}},
	{name: "a service range too large for Kubernetes v1.30", edit: func(s *infrav1.GatewaySpec) {
		s.Release = &infrav1.Release{Version: "1.0.0", KubernetesVersion: "v1.30.4"}
		s.Environment.ServiceCIDR = "100.64.0.0/10"
	}, webhook: []string{"environment.serviceCIDR"}},
	{name: "too many CPUs", edit: func(s *infrav1.GatewaySpec) { s.Placement.MinCPU = 5000 },
		schema: []string{"placement.minCPU"}},
	{name: "a tag twice", edit: func(s *infrav1.GatewaySpec) { s.Placement.Tags = []string{"a", "a"} },
		schema: []string{"placement.tags[1]"}},
	{name: "a zone too long, which stops the CEL rules",
		edit:   func(s *infrav1.GatewaySpec) { s.Placement.Zone = strings.Repeat("z", 257) },
		schema: []string{"placement.zone", ""}},
}

func validSpec() infrav1.GatewaySpec {
	return infrav1.GatewaySpec{
		Replicas: 3,
		MAAS: infrav1.MAASConnection{
			Endpoint:             "https://10.11.12.13:5443/MAAS",
			CredentialsSecretRef: infrav1.SecretKeyReference{Name: "gateway" + maasSecretSuffix, Key: infrav1.DefaultAPIKeyKey},
		},
		Placement: infrav1.Placement{Zone: "az1", ResourcePool: "gateway"},
		Environment: infrav1.Environment{
			ProxySettings: infrav1.ProxySettings{HTTPProxy: "http://proxy.example.com:3128",
				HTTPSProxy: "http://proxy.example.com:3128", NoProxy: []string{"10.11.0.0/16"}},
			ClusterNetwork: infrav1.ClusterNetwork{PodCIDR: "192.168.0.0/16", ServiceCIDR: "10.96.0.0/12"},
		},
		ControlPlaneEndpoint: "10.11.12.100",
	}
}

// asPCG writes a Gateway spec as a pcg.yaml: the spec's fields under their
// own names (that is the file's design), the Secret reference replaced by
// the key the Secret holds.
func asPCG(t *testing.T, spec infrav1.GatewaySpec) []byte {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&spec)
	if err != nil {
		t.Fatal(err)
	}
	conn := m["maas"].(map[string]any)
	delete(conn, "credentialsSecretRef")
	conn["apiKey"] = testKey
	m["apiVersion"], m["kind"], m["name"] = APIVersion, Kind, "gateway"
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// causes returns the fields and messages of an API error, as the spec's
// paths (prefix removed).
func causes(t *testing.T, err error, prefix string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	if err == nil {
		return out
	}
	status, ok := errors.AsType[*apierrors.StatusError](err)
	if !ok || status.Status().Details == nil {
		t.Fatalf("not an Invalid error: %v", err)
	}
	for _, c := range status.Status().Details.Causes {
		f := pcgPath(c.Field, prefix)
		out[f] = append(out[f], c.Message)
	}
	return out
}

func keys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedUnion(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// TestWebhookAndPCGAgree runs each spec of the table through the Gateway
// webhook as the API server calls it (defaulting, then ValidateCreate with
// the credentials Secret present) and, written as a pcg.yaml, through Load:
// the webhook refuses what the table says; Load refuses the same fields
// with the same messages, plus what the CRD schema refuses; and a spec both
// accept draws the same warnings, named by the file's fields.
func TestWebhookAndPCGAgree(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := infrav1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	for _, c := range specCases {
		t.Run(c.name, func(t *testing.T) {
			spec := validSpec()
			c.edit(&spec)

			gw := &infrav1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "gateway", Namespace: DefaultNamespace}, Spec: *spec.DeepCopy()}
			if err := (&webhookv1alpha1.GatewayDefaulter{}).Default(context.Background(), gw); err != nil {
				t.Fatal(err)
			}
			secret := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: spec.MAAS.CredentialsSecretRef.Name, Namespace: DefaultNamespace},
				Data:       map[string][]byte{infrav1.DefaultAPIKeyKey: []byte(testKey)},
			}
			cl := fake.NewClientBuilder().WithScheme(scheme).WithObjects(secret).Build()
			hookWarns, hookErr := webhookv1alpha1.NewGatewayValidator(cl, cl, webhookv1alpha1.Options{}).
				ValidateCreate(context.Background(), gw)
			hook := causes(t, hookErr, "spec.")
			if got := keys(hook); !slices.Equal(got, sortedUnion(c.webhook, nil)) {
				t.Fatalf("the webhook refuses %q, the table says %q: %v", got, c.webhook, hookErr)
			}

			inst, err := Load(asPCG(t, spec), Options{})
			got := map[string][]string{}
			if list, ok := errors.AsType[Errors](err); ok {
				for _, e := range list {
					got[e.Field] = append(got[e.Field], e.Detail)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			want := sortedUnion(c.webhook, c.schema)
			if !slices.Equal(keys(got), want) {
				t.Fatalf("the pcg.yaml is refused on %q, want %q:\n%v", keys(got), want, err)
			}
			for field, msgs := range hook {
				for _, m := range msgs {
					// Messages name other fields as their reader wrote them.
					m = strings.ReplaceAll(m, "spec.", "")
					if !slices.Contains(got[field], m) {
						t.Errorf("the webhook says %s: %s; the pcg.yaml check says %q", field, m, got[field])
					}
				}
			}
			if err != nil {
				return
			}
			wantWarns := make([]string, len(hookWarns))
			for i, w := range hookWarns {
				wantWarns[i] = strings.ReplaceAll(w, "spec.", "")
			}
			if !slices.Equal(inst.Warnings, wantWarns) {
				t.Errorf("warnings differ:\npcg:     %q\nwebhook: %q", inst.Warnings, wantWarns)
			}
		})
	}
}

// TestOfflineSchemaMatchesTable: the CRD's rules evaluated offline refuse
// exactly the fields the table says (the API server's verdict on the same
// table is TestOfflineSchemaAgreesWithAPIServer).
func TestOfflineSchemaMatchesTable(t *testing.T) {
	s, err := gatewaySchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range specCases {
		t.Run(c.name, func(t *testing.T) {
			spec := validSpec()
			c.edit(&spec)
			got := offlineCauses(t, s, spec)
			if !slices.Equal(keys(got), sortedUnion(c.schema, nil)) {
				t.Errorf("the schema refuses %q, the table says %q: %v", keys(got), c.schema, got)
			}
		})
	}
}

// offlineCauses defaults a Gateway of spec as the API server and the
// webhook would and validates it against the CRD offline.
func offlineCauses(t *testing.T, s *crdSchema, spec infrav1.GatewaySpec) map[string][]string {
	t.Helper()
	gw := &infrav1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: infrav1.GroupVersion.String(), Kind: "Gateway"},
		ObjectMeta: metav1.ObjectMeta{Name: "gateway", Namespace: DefaultNamespace},
		Spec:       spec,
	}
	if err := (&webhookv1alpha1.GatewayDefaulter{}).Default(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(gw)
	if err != nil {
		t.Fatal(err)
	}
	s.defaults(obj)
	out := map[string][]string{}
	for _, e := range s.validate(context.Background(), obj) {
		f := pcgPath(e.Field, "spec.")
		out[f] = append(out[f], e.Detail)
	}
	return out
}
