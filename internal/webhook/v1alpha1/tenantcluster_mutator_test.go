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

package v1alpha1

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	jsonpatch5 "github.com/evanphx/json-patch/v5"
	jsonpatch4 "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	kjson "sigs.k8s.io/json"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
)

// The tests below hold the TenantCluster mutating webhook to the generic
// path it replaces: admission.WithDefaulter with the same defaulter, which
// marshals the defaulted object and diffs it against the request's JSON.
// Both patches are applied as the API server applies them (json-patch v4).

const patchNamespace = "team"

// The CloudAccounts a test cluster can name, by what the defaulter finds
// behind them.
const (
	acctProxy   = "acct"   // the shared Gateway: a pod range and a proxy
	acctPlain   = "plain"  // a Gateway with a service range and no proxy
	acctNoGW    = "orphan" // a Gateway that does not exist
	acctMissing = "nosuch" // no CloudAccount at all
	acctBroken  = "broken" // reading it fails: the webhook answers 503
)

var patchAccounts = []string{acctProxy, acctPlain, acctNoGW, acctMissing, acctBroken}

// patchDefaulter is a TenantClusterDefaulter reading a fake client.
func patchDefaulter(t testing.TB) (*TenantClusterDefaulter, *runtime.Scheme) {
	t.Helper()
	s := runtime.NewScheme()
	if err := infrav1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	plainGW := sharedGateway()
	plainGW.Name = "plain"
	plainGW.Spec.Environment = infrav1alpha1.Environment{
		ClusterNetwork: infrav1alpha1.ClusterNetwork{ServiceCIDR: "10.100.0.0/16"}}
	plain := account(patchNamespace, acctPlain)
	plain.Spec.GatewayRef.Name = plainGW.Name
	orphan := account(patchNamespace, acctNoGW)
	orphan.Spec.GatewayRef.Name = "gone"
	c := fake.NewClientBuilder().WithScheme(s).
		WithObjects(sharedGateway(), plainGW, account(patchNamespace, acctProxy), plain, orphan).
		WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if key.Name == acctBroken {
					return errors.New("connection refused")
				}
				return c.Get(ctx, key, obj, opts...)
			},
		}).Build()
	return &TenantClusterDefaulter{readers: readers{cache: c, live: c}}, s
}

// patchOutcome is what one webhook answered and made of the request's object.
type patchOutcome struct {
	resp admission.Response
	doc  []byte // the object after the patch; nil when refused
}

func admit(t testing.TB, wh *admission.Webhook, req admission.Request) patchOutcome {
	t.Helper()
	resp := wh.Handle(context.Background(), req)
	out := patchOutcome{resp: resp}
	if !resp.Allowed || req.Operation == admissionv1.Delete {
		return out
	}
	out.doc = req.Object.Raw
	if len(resp.Patch) == 0 {
		return out
	}
	p, err := jsonpatch4.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatalf("patch %s: %v", resp.Patch, err)
	}
	if out.doc, err = p.Apply(req.Object.Raw); err != nil {
		t.Fatalf("patch %s does not apply to %s: %v", resp.Patch, req.Object.Raw, err)
	}
	// The API server's v4 lets "replace" add a member; RFC 6902 does not.
	strict, err := jsonpatch5.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatalf("patch %s: %v", resp.Patch, err)
	}
	doc, err := strict.Apply(req.Object.Raw)
	if err != nil {
		t.Fatalf("patch %s does not apply to %s as RFC 6902 says: %v", resp.Patch, req.Object.Raw, err)
	}
	if !reflect.DeepEqual(anyJSON(t, doc), anyJSON(t, out.doc)) {
		t.Fatalf("patch %s makes %s under RFC 6902 and %s in the API server", resp.Patch, doc, out.doc)
	}
	return out
}

// patchCheck runs one request through both webhooks.
type patchCheck struct {
	scheme    *runtime.Scheme
	defaulter *TenantClusterDefaulter
	generic   *admission.Webhook
	patcher   *admission.Webhook
}

func newPatchCheck(t testing.TB) *patchCheck {
	d, s := patchDefaulter(t)
	return &patchCheck{scheme: s, defaulter: d,
		generic: admission.WithDefaulter(s, d), patcher: tenantClusterMutatingWebhook(s, d)}
}

func createRequest(raw []byte) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "uid", Operation: admissionv1.Create, Namespace: patchNamespace, Name: "tc",
		Object: runtime.RawExtension{Raw: raw}}}
}

// compare checks that both webhooks give the same answer and, when they
// allow the request, that the patched object is the defaulter's, unknown
// members of the request included. zeroFilled lists members the request
// lacks that the generic path adds as zero values of the Go type (required
// fields in a container the request has); the patch leaves them out.
func (c *patchCheck) compare(t testing.TB, req admission.Request, zeroFilled ...string) {
	t.Helper()
	old, got := admit(t, c.generic, req), admit(t, c.patcher, req)
	if old.resp.Allowed != got.resp.Allowed || !reflect.DeepEqual(old.resp.Result, got.resp.Result) ||
		(old.resp.PatchType == nil) != (got.resp.PatchType == nil) {
		t.Fatalf("answers differ for %s\ngeneric: allowed=%v result=%+v patch=%s\npatcher: allowed=%v result=%+v patch=%s",
			req.Object.Raw, old.resp.Allowed, old.resp.Result, old.resp.Patch,
			got.resp.Allowed, got.resp.Result, got.resp.Patch)
	}
	if got.doc == nil {
		return
	}

	want := c.defaulted(t, req.Object.Raw)
	if gotTC := c.decode(t, got.doc); !reflect.DeepEqual(gotTC, want) {
		t.Fatalf("patched object is not the defaulted one\nrequest: %s\npatch:   %s\npatched: %s",
			req.Object.Raw, got.resp.Patch, got.doc)
	}
	oldJSON, gotJSON := anyJSON(t, old.doc), anyJSON(t, got.doc)
	for _, p := range zeroFilled {
		if !removePointer(oldJSON, p) {
			t.Fatalf("the generic path did not add %s: %s", p, old.doc)
		}
	}
	if !reflect.DeepEqual(oldJSON, gotJSON) {
		t.Fatalf("patched objects differ\nrequest: %s\ngeneric: %s\n         %s\npatcher: %s\n         %s",
			req.Object.Raw, old.resp.Patch, old.doc, got.resp.Patch, got.doc)
	}
}

func (c *patchCheck) decode(t testing.TB, raw []byte) *infrav1alpha1.TenantCluster {
	t.Helper()
	tc := &infrav1alpha1.TenantCluster{}
	if err := admission.NewDecoder(c.scheme).DecodeRaw(runtime.RawExtension{Raw: raw}, tc); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return tc
}

func (c *patchCheck) defaulted(t testing.TB, raw []byte) *infrav1alpha1.TenantCluster {
	t.Helper()
	tc := c.decode(t, raw)
	if err := c.defaulter.Default(context.Background(), tc); err != nil {
		t.Fatalf("defaulting %s: %v", raw, err)
	}
	return tc
}

func anyJSON(t testing.TB, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

// removePointer deletes the object member at a JSON pointer without escapes.
func removePointer(doc any, pointer string) bool {
	tokens := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
	for _, tok := range tokens[:len(tokens)-1] {
		switch d := doc.(type) {
		case map[string]any:
			doc = d[tok]
		case []any:
			var i int
			if _, err := fmt.Sscan(tok, &i); err != nil || i >= len(d) {
				return false
			}
			doc = d[i]
		default:
			return false
		}
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[tokens[len(tokens)-1]]
	delete(m, tokens[len(tokens)-1])
	return ok
}

// variation is a cluster to default and what it leaves unset.
type variation struct {
	name string
	tc   *infrav1alpha1.TenantCluster
}

// variations builds clusters covering every field the defaulter sets, set
// and unset, against each kind of CloudAccount.
func variations() []variation {
	var out []variation
	networks := []*infrav1alpha1.ClusterNetwork{
		nil, {}, {PodCIDR: "10.200.0.0/16"}, {ServiceCIDR: "10.201.0.0/16"},
		{PodCIDR: "10.200.0.0/16", ServiceCIDR: "10.201.0.0/16"},
	}
	proxies := []*infrav1alpha1.ProxySettings{nil, {NoProxy: []string{"10.0.0.0/8"}}}
	workerSets := [][]infrav1alpha1.RollingUpdateStrategy{nil, {""}, {infrav1alpha1.ContractFirst, "", ""}}
	for _, acct := range patchAccounts {
		for _, osImage := range []string{"", "ubuntu/noble"} {
			for _, size := range []int32{0, 3} {
				for _, cpRU := range []infrav1alpha1.RollingUpdateStrategy{"", infrav1alpha1.ContractFirst} {
					for _, workers := range workerSets {
						for _, network := range networks {
							for _, proxy := range proxies {
								tc := tenant(patchNamespace, "tc", "10.11.12.100")
								tc.Spec.CloudAccountRef.Name = acct
								tc.Spec.Profile.OSImage = osImage
								tc.Spec.ControlPlane.Size = size
								tc.Spec.ControlPlane.RollingUpdate = cpRU
								tc.Spec.Workers = nil
								for i, ru := range workers {
									tc.Spec.Workers = append(tc.Spec.Workers, infrav1alpha1.NodePool{
										Name: fmt.Sprintf("w%d", i), Size: int32(i), RollingUpdate: ru})
								}
								tc.Spec.Network = network.DeepCopy()
								tc.Spec.Proxy = proxy.DeepCopy()
								out = append(out, variation{tc: tc, name: fmt.Sprintf(
									"account %s, osImage %q, size %d, strategy %q, workers %q, network %+v, proxy %v",
									acct, osImage, size, cpRU, workers, network, proxy != nil)})
							}
						}
					}
				}
			}
		}
	}
	return out
}

func TestTenantClusterPatchMatchesGenericPath(t *testing.T) {
	c := newPatchCheck(t)
	for _, v := range variations() {
		v.tc.SetGroupVersionKind(infrav1alpha1.GroupVersion.WithKind("TenantCluster"))
		raw, err := json.Marshal(v.tc)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(v.name, func(t *testing.T) { c.compare(t, createRequest(raw)) })
	}
}

// rawTenant is the JSON of a cluster as the API server sends it, with the
// schema's defaults applied; the cases below edit it.
const rawTenant = `{"apiVersion":"infra.maasgateway.io/v1alpha1","kind":"TenantCluster",
"metadata":{"name":"tc","namespace":"team","uid":"u1","generation":1,
  "labels":{"example.com/a~b":"x"},"annotations":{"note/with~tilde":"y"}},
"spec":{"cloudAccountRef":{"name":"acct"},"profile":{"kubernetesVersion":"v1.34.2","osImage":"ubuntu/jammy"},
  "controlPlaneEndpoint":"10.11.12.100","vipInterface":"eth0",
  "controlPlane":{"size":3,"rollingUpdate":"ExpandFirst"},
  "workers":[{"name":"w","size":2,"zones":["az1"],"rollingUpdate":"ExpandFirst"}]%s}%s}`

func rawCase(spec, rest string) string { return fmt.Sprintf(rawTenant, spec, rest) }

// patchEdits are requests the typed object cannot tell apart: members
// absent, null or empty, containers missing, members the Go type does not
// know.
var patchEdits = []struct {
	name       string
	raw        string
	zeroFilled []string
}{
	{name: "as the API server sends it", raw: rawCase("", "")},
	{name: "with everything set", raw: rawCase(`,"network":{"podCIDR":"10.200.0.0/16","serviceCIDR":"10.201.0.0/16"},"proxy":{}`, "")},
	{name: "osImage empty", raw: strings.Replace(rawCase("", ""), `"osImage":"ubuntu/jammy"`, `"osImage":""`, 1)},
	{name: "osImage null", raw: strings.Replace(rawCase("", ""), `"osImage":"ubuntu/jammy"`, `"osImage":null`, 1)},
	{name: "osImage absent", raw: strings.Replace(rawCase("", ""), `,"osImage":"ubuntu/jammy"`, ``, 1)},
	{name: "profile null", raw: strings.Replace(rawCase("", ""),
		`"profile":{"kubernetesVersion":"v1.34.2","osImage":"ubuntu/jammy"}`, `"profile":null`, 1)},
	{name: "profile absent", raw: strings.Replace(rawCase("", ""),
		`"profile":{"kubernetesVersion":"v1.34.2","osImage":"ubuntu/jammy"},`, ``, 1)},
	{name: "control plane empty", raw: strings.Replace(rawCase("", ""),
		`"controlPlane":{"size":3,"rollingUpdate":"ExpandFirst"}`, `"controlPlane":{}`, 1)},
	{name: "control plane size 0 and strategy null", raw: strings.Replace(rawCase("", ""),
		`"controlPlane":{"size":3,"rollingUpdate":"ExpandFirst"}`, `"controlPlane":{"size":0,"rollingUpdate":null}`, 1)},
	{name: "control plane null", raw: strings.Replace(rawCase("", ""),
		`"controlPlane":{"size":3,"rollingUpdate":"ExpandFirst"}`, `"controlPlane":null`, 1)},
	{name: "control plane absent", raw: strings.Replace(rawCase("", ""),
		`"controlPlane":{"size":3,"rollingUpdate":"ExpandFirst"},`, ``, 1)},
	{name: "worker strategies empty and absent", raw: strings.Replace(rawCase("", ""),
		`"workers":[{"name":"w","size":2,"zones":["az1"],"rollingUpdate":"ExpandFirst"}]`,
		`"workers":[{"name":"a","size":1,"rollingUpdate":""},{"name":"b","size":1},{"name":"c","size":1,"rollingUpdate":null}]`, 1)},
	{name: "a null worker", raw: strings.Replace(rawCase("", ""),
		`"workers":[{"name":"w","size":2,"zones":["az1"],"rollingUpdate":"ExpandFirst"}]`,
		`"workers":[{"name":"a","size":1},null]`, 1)},
	{name: "workers null", raw: strings.Replace(rawCase("", ""),
		`"workers":[{"name":"w","size":2,"zones":["az1"],"rollingUpdate":"ExpandFirst"}]`, `"workers":null`, 1)},
	{name: "network null, proxy null", raw: rawCase(`,"network":null,"proxy":null`, "")},
	{name: "network empty", raw: rawCase(`,"network":{}`, "")},
	{name: "pod range null, service range empty", raw: rawCase(`,"network":{"podCIDR":null,"serviceCIDR":""}`, "")},
	{name: "members the Go type does not know", raw: rawCase(
		`,"network":{"podCIDR":"10.200.0.0/16","future/field~1":{"x":1}},"later":[1,2]`, `,"extra":true`)},
	{name: "members named as others in another case", raw: rawCase(
		`,"Network":{"podCIDR":"10.200.0.0/16"},"proxy":{},"Proxy":null`, "")},
	{name: "a status", raw: rawCase("", `,"status":{"phase":"Provisioning","observedGeneration":1,`+
		`"conditions":[{"type":"Ready","status":"False","reason":"Provisioning","message":"","lastTransitionTime":"2026-11-27T01:02:03Z"}]}`)},
	{name: "a gateway without proxy", raw: strings.Replace(rawCase("", ""), `"cloudAccountRef":{"name":"acct"}`,
		`"cloudAccountRef":{"name":"plain"}`, 1)},
	{name: "a CloudAccount that cannot be read", raw: strings.Replace(rawCase("", ""), `"cloudAccountRef":{"name":"acct"}`,
		`"cloudAccountRef":{"name":"broken"}`, 1)},
	{name: "not an object", raw: rawCase(`,"network":5`, "")},

	// Required members a container of the request lacks: the generic path
	// adds their zero values along with the defaults (the typed object has
	// them), this webhook does not, and the schema then reports them.
	{name: "a worker without size", raw: strings.Replace(rawCase("", ""), `"name":"w","size":2,`, `"name":"w",`, 1),
		zeroFilled: []string{"/spec/workers/0/size"}},
	{name: "no kubernetesVersion", raw: strings.Replace(rawCase("", ""), `"kubernetesVersion":"v1.34.2",`, ``, 1),
		zeroFilled: []string{"/spec/profile/kubernetesVersion"}},
}

func TestTenantClusterPatchEdgeCases(t *testing.T) {
	c := newPatchCheck(t)
	for _, e := range patchEdits {
		t.Run(e.name, func(t *testing.T) { c.compare(t, createRequest([]byte(e.raw)), e.zeroFilled...) })
	}
	t.Run("an update that changes nothing", func(t *testing.T) {
		raw := rawCase(`,"network":{"podCIDR":"10.200.0.0/16","serviceCIDR":"10.201.0.0/16"},"proxy":{}`, "")
		req := createRequest([]byte(raw))
		req.Operation, req.OldObject = admissionv1.Update, req.Object
		c.compare(t, req)
		if resp := c.patcher.Handle(context.Background(), req); len(resp.Patches) > 0 {
			t.Errorf("patched an object with nothing to default: %s", resp.Patch)
		}
	})
	t.Run("a delete", func(t *testing.T) {
		req := createRequest(nil)
		req.Operation, req.OldObject = admissionv1.Delete, runtime.RawExtension{Raw: []byte(rawCase("", ""))}
		c.compare(t, req)
	})
}

// TestTenantClusterPatchOperations pins the operations themselves: "add"
// where the request has no member, "replace" where it has one (null or
// empty), and a container written whole where the request lacks it.
func TestTenantClusterPatchOperations(t *testing.T) {
	c := newPatchCheck(t)
	// Nothing left to default, behind a Gateway without proxy; each case
	// replaces the first occurrence of each "from" by its "to".
	full := strings.Replace(rawCase(`,"network":{"podCIDR":"10.200.0.0/16","serviceCIDR":"10.201.0.0/16"},"proxy":{}`, ""),
		`"cloudAccountRef":{"name":"acct"}`, `"cloudAccountRef":{"name":"plain"}`, 1)
	const (
		network = `"network":{"podCIDR":"10.200.0.0/16","serviceCIDR":"10.201.0.0/16"}`
		workers = `"workers":[{"name":"w","size":2,"zones":["az1"],"rollingUpdate":"ExpandFirst"}]`
		proxyGW = `"cloudAccountRef":{"name":"acct"}`
	)
	tests := []struct {
		name  string
		edits []string // from, to, from, to...
		want  []string
	}{
		{"nothing to default", nil, nil},
		{"osImage absent", []string{`,"osImage":"ubuntu/jammy"`, ``}, []string{"add /spec/profile/osImage"}},
		{"osImage empty", []string{`"osImage":"ubuntu/jammy"`, `"osImage":""`}, []string{"replace /spec/profile/osImage"}},
		// The cluster names a ClusterProfile then (the schema wants one or
		// the other): nothing of a profile to default.
		{"profile absent", []string{`"profile":{"kubernetesVersion":"v1.34.2","osImage":"ubuntu/jammy"},`, ``}, nil},
		{"control plane null", []string{`"controlPlane":{"size":3,"rollingUpdate":"ExpandFirst"}`, `"controlPlane":null`},
			[]string{"replace /spec/controlPlane"}},
		{"control plane empty", []string{`"controlPlane":{"size":3,"rollingUpdate":"ExpandFirst"}`, `"controlPlane":{}`},
			[]string{"add /spec/controlPlane/size", "add /spec/controlPlane/rollingUpdate"}},
		{"size 0", []string{`"size":3`, `"size":0`}, []string{"replace /spec/controlPlane/size"}},
		{"second worker's strategy absent",
			[]string{workers, `"workers":[{"name":"a","size":1,"rollingUpdate":"ContractFirst"},{"name":"b","size":1}]`},
			[]string{"add /spec/workers/1/rollingUpdate"}},
		{"a null worker", []string{workers, `"workers":[null]`}, []string{"replace /spec/workers/0"}},
		{"network absent", []string{"," + network, ``}, []string{"add /spec/network"}},
		{"network absent, Network present", []string{network, `"Network":{"podCIDR":"10.200.0.0/16"}`},
			[]string{"add /spec/network"}},
		{"network null", []string{network, `"network":null`}, []string{"replace /spec/network"}},
		{"service range absent, pod range null", []string{network, `"network":{"podCIDR":null}`},
			[]string{"replace /spec/network/podCIDR", "add /spec/network/serviceCIDR"}},
		{"proxy absent, a Gateway without one", []string{`,"proxy":{}`, ``}, nil},
		{"proxy absent", []string{`,"proxy":{}`, ``, `"cloudAccountRef":{"name":"plain"}`, proxyGW},
			[]string{"add /spec/proxy"}},
		{"proxy null", []string{`"proxy":{}`, `"proxy":null`, `"cloudAccountRef":{"name":"plain"}`, proxyGW},
			[]string{"replace /spec/proxy"}},
		{"everything", []string{`,"osImage":"ubuntu/jammy"`, ``, `"controlPlane":{"size":3,"rollingUpdate":"ExpandFirst"}`,
			`"controlPlane":{}`, workers, `"workers":[{"name":"a","size":1},{"name":"b","size":1,"rollingUpdate":""}]`,
			"," + network, ``, `,"proxy":{}`, ``, `"cloudAccountRef":{"name":"plain"}`, proxyGW},
			[]string{"add /spec/profile/osImage", "add /spec/controlPlane/size", "add /spec/controlPlane/rollingUpdate",
				"add /spec/workers/0/rollingUpdate", "replace /spec/workers/1/rollingUpdate", "add /spec/network",
				"add /spec/proxy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := full
			for i := 0; i < len(tt.edits); i += 2 {
				if !strings.Contains(raw, tt.edits[i]) {
					t.Fatalf("the case does not edit the request: %q not found", tt.edits[i])
				}
				raw = strings.Replace(raw, tt.edits[i], tt.edits[i+1], 1)
			}
			resp := c.patcher.Handle(context.Background(), createRequest([]byte(raw)))
			if !resp.Allowed {
				t.Fatalf("refused: %+v", resp.Result)
			}
			var got []string
			for _, op := range resp.Patches {
				got = append(got, op.Operation+" "+op.Path)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("operations = %q, want %q", got, tt.want)
			}
			c.compare(t, createRequest([]byte(raw)))
		})
	}
}

func TestJSONPointer(t *testing.T) {
	for _, tt := range []struct {
		tokens []string
		want   string
	}{
		{[]string{"spec", "workers", "0", "rollingUpdate"}, "/spec/workers/0/rollingUpdate"},
		{[]string{"metadata", "labels", "example.com/a~b"}, "/metadata/labels/example.com~1a~0b"},
		{[]string{"~1"}, "/~01"},
		{[]string{""}, "/"},
	} {
		if got := jsonPointer(tt.tokens); got != tt.want {
			t.Errorf("jsonPointer(%q) = %q, want %q", tt.tokens, got, tt.want)
		}
	}
}

func FuzzTenantClusterPatch(f *testing.F) {
	for _, e := range patchEdits {
		f.Add(e.raw)
	}
	f.Add(`{"spec":{"cloudAccountRef":{"name":"plain"},"workers":[{},{"rollingUpdate":"x"}]}}`)
	f.Add(`{"spec":null}`)
	f.Add(`[]`)
	c := newPatchCheck(f)
	f.Fuzz(func(t *testing.T, raw string) {
		// The API server sends the object it holds as JSON: valid, without
		// duplicate members. (The decoder also takes YAML, which neither
		// path can patch.)
		var v any
		if strict, err := kjson.UnmarshalStrict([]byte(raw), &v, kjson.DisallowDuplicateFields); err != nil || len(strict) > 0 {
			t.Skip("not what an API server sends")
		}
		req := createRequest([]byte(raw))
		old, got := admit(t, c.generic, req), admit(t, c.patcher, req)
		if old.resp.Allowed != got.resp.Allowed || !reflect.DeepEqual(old.resp.Result, got.resp.Result) {
			t.Fatalf("answers differ: generic %v %+v, patcher %v %+v",
				old.resp.Allowed, old.resp.Result, got.resp.Allowed, got.resp.Result)
		}
		if got.doc == nil {
			return
		}
		// The generic path also normalises what the Go type renders
		// differently (timestamps to seconds) and fills required members;
		// the typed objects, rendered again, must agree.
		want := c.defaulted(t, []byte(raw))
		if gotTC := c.decode(t, got.doc); !reflect.DeepEqual(gotTC, want) {
			t.Fatalf("patched object is not the defaulted one\npatch:   %s\npatched: %s", got.resp.Patch, got.doc)
		}
		if a, b := c.rendered(t, old.doc), c.rendered(t, got.doc); !reflect.DeepEqual(a, b) {
			t.Fatalf("patched objects differ\ngeneric: %s\npatcher: %s", old.doc, got.doc)
		}
	})
}

// rendered is a document as the Go type renders it.
func (c *patchCheck) rendered(t testing.TB, raw []byte) any {
	t.Helper()
	b, err := json.Marshal(c.decode(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	return anyJSON(t, b)
}
