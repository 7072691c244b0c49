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

package move

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/test/envtest"
)

// Two API servers, source and target, shared by the tests of the package;
// each test works in namespaces of its own.
var source, target client.Client

func TestMain(m *testing.M) {
	os.Exit(runWithClusters(m))
}

func runWithClusters(m *testing.M) int {
	logf.SetLogger(logr.Discard())
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := infrav1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	var clients []client.Client
	for range 2 {
		env, err := envtest.New(envtest.Options{})
		if err != nil {
			panic(err)
		}
		cfg, err := env.Start()
		if err != nil {
			panic(err)
		}
		defer func() { _ = env.Stop() }()
		c, err := client.New(cfg, client.Options{Scheme: scheme})
		if err != nil {
			panic(err)
		}
		clients = append(clients, c)
	}
	source, target = clients[0], clients[1]
	return m.Run()
}

// world is one installation in the source: the Gateway in gwNS with its
// default CloudAccount, a tenant namespace with its own CloudAccount and a
// TenantCluster, their Secrets, and things that are not the installation's.
type world struct {
	gwNS, tenantNS string
	uids           map[string]string // "Kind ns/name" → source UID
}

func key(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newWorld(t *testing.T, ctx context.Context, prefix string) *world {
	t.Helper()
	w := &world{gwNS: prefix + "-system", tenantNS: prefix + "-team", uids: map[string]string{}}
	must(t, source.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.gwNS}}))
	must(t, source.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.tenantNS,
		Labels: map[string]string{"team": "a"}}}))
	for _, ns := range []string{w.gwNS, w.tenantNS} {
		must(t, source.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "maas"},
			StringData: map[string]string{"apiKey": "a:b:c"}}))
		must(t, source.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unrelated"},
			StringData: map[string]string{"x": "y"}}))
	}
	// The gateway's PKI, made by hand: named, not owned.
	must(t, source.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: w.gwNS, Name: "gw-ca"},
		StringData: map[string]string{"tls.crt": "crt", "tls.key": "key"}}))

	gw := &infrav1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.gwNS, Name: "gw"},
		Spec: infrav1.GatewaySpec{
			Replicas:             1,
			MAAS:                 infrav1.MAASConnection{Endpoint: "https://10.0.0.1:5443/MAAS", CredentialsSecretRef: infrav1.SecretKeyReference{Name: "maas", Key: "apiKey"}},
			ControlPlaneEndpoint: "10.0.0.50",
			AllowedCloudAccounts: infrav1.AllowedCloudAccounts{Namespaces: infrav1.AccountNamespaces{From: infrav1.NamespacesFromAll}},
		},
	}
	must(t, source.Create(ctx, gw))
	gw.Status.Phase = infrav1.GatewayPhaseReady
	gw.Status.Nodes = []infrav1.GatewayNode{{MachineStatus: infrav1.MachineStatus{SystemID: "abc123", Hostname: "gw-1"}}}
	must(t, source.Status().Update(ctx, gw))
	w.uids["Gateway"] = string(gw.UID)
	gwRef := []metav1.OwnerReference{{APIVersion: infrav1.GroupVersion.String(), Kind: "Gateway", Name: "gw", UID: gw.UID, Controller: new(true)}}
	must(t, source.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: w.gwNS, Name: "gw-bootstrap-token",
		Labels: map[string]string{infrav1.LabelGateway: "gw"}, OwnerReferences: gwRef}, StringData: map[string]string{"token": "t"}}))

	account := func(ns, name string, owners []metav1.OwnerReference) {
		a := &infrav1.CloudAccount{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, OwnerReferences: owners},
			Spec: infrav1.CloudAccountSpec{
				GatewayRef:     infrav1.GatewayReference{Name: "gw", Namespace: w.gwNS},
				MAASConnection: infrav1.MAASConnection{Endpoint: "https://10.0.0.1:5443/MAAS", CredentialsSecretRef: infrav1.SecretKeyReference{Name: "maas", Key: "apiKey"}},
			},
		}
		must(t, source.Create(ctx, a))
		a.Status.Zones = []string{"az1"}
		must(t, source.Status().Update(ctx, a))
		w.uids["CloudAccount "+ns+"/"+name] = string(a.UID)
	}
	account(w.gwNS, "gw-default", gwRef)
	account(w.tenantNS, "acct", nil)

	tc := &infrav1.TenantCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.tenantNS, Name: "tc"},
		Spec: infrav1.TenantClusterSpec{
			CloudAccountRef:      infrav1.LocalObjectReference{Name: "acct"},
			Profile:              &infrav1.ClusterProfileSpec{KubernetesVersion: "v1.34.2"},
			ControlPlaneEndpoint: "10.30.2.10",
			ControlPlane:         infrav1.ControlPlanePool{Size: 1},
		},
	}
	must(t, source.Create(ctx, tc))
	tc.Status.Phase = infrav1.TenantPhaseRunning
	tc.Status.Machines = []infrav1.MachineStatus{{SystemID: "m1", Hostname: "tc-1", Pool: "control-plane"}}
	tc.Status.KubeconfigSecretRef = &infrav1.LocalObjectReference{Name: "tc-kubeconfig"}
	must(t, source.Status().Update(ctx, tc))
	w.uids["TenantCluster"] = string(tc.UID)
	tcRef := []metav1.OwnerReference{{APIVersion: infrav1.GroupVersion.String(), Kind: "TenantCluster", Name: "tc", UID: tc.UID, Controller: new(true)},
		// An owner that is not moved: dropped from the copy.
		{APIVersion: "v1", Kind: "ConfigMap", Name: "elsewhere", UID: "00000000-0000-0000-0000-000000000001"}}
	// A cluster built from a ClusterProfile, which moves with it.
	must(t, source.Create(ctx, &infrav1.ClusterProfile{ObjectMeta: metav1.ObjectMeta{Namespace: w.tenantNS, Name: "prof"},
		Spec: infrav1.ClusterProfileSpec{KubernetesVersion: "v1.34.2"}}))
	fromProfile := tc.DeepCopy()
	fromProfile.ObjectMeta = metav1.ObjectMeta{Namespace: w.tenantNS, Name: "tp"}
	fromProfile.Spec.Profile, fromProfile.Spec.ProfileRef = nil, &infrav1.LocalObjectReference{Name: "prof"}
	fromProfile.Spec.ControlPlaneEndpoint = "10.30.2.11"
	must(t, source.Create(ctx, fromProfile))
	for _, name := range []string{"tc-ca", "tc-kubeconfig"} {
		must(t, source.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: w.tenantNS, Name: name, OwnerReferences: tcRef},
			StringData: map[string]string{"k": name}}))
	}
	return w
}

// pauser plays the source's operator: it reports Paused on every object
// that carries the paused annotation, until ctx ends.
func pauser(ctx context.Context) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var objs []client.Object
		var gws infrav1.GatewayList
		var cas infrav1.CloudAccountList
		var tcs infrav1.TenantClusterList
		if source.List(ctx, &gws) != nil || source.List(ctx, &cas) != nil || source.List(ctx, &tcs) != nil {
			continue
		}
		objs = append(append(append(objs, items(gws.Items)...), items(cas.Items)...), items(tcs.Items)...)
		for _, o := range objs {
			if _, ok := o.GetAnnotations()[infrav1.AnnotationPaused]; !ok || meta.IsStatusConditionTrue(conditions(o), infrav1.ConditionPaused) {
				continue
			}
			c := metav1.Condition{Type: infrav1.ConditionPaused, Status: metav1.ConditionTrue, Reason: infrav1.ReasonPausedByAnnotation}
			switch o := o.(type) {
			case *infrav1.Gateway:
				meta.SetStatusCondition(&o.Status.Conditions, c)
			case *infrav1.CloudAccount:
				meta.SetStatusCondition(&o.Status.Conditions, c)
			case *infrav1.TenantCluster:
				meta.SetStatusCondition(&o.Status.Conditions, c)
			}
			_ = source.Status().Update(ctx, o)
		}
	}
}

func options(w *world, out *strings.Builder) Options {
	return Options{Source: source, Target: target, Namespace: w.gwNS, Out: out,
		Timeout: 30 * time.Second, PollInterval: 20 * time.Millisecond}
}

// checkMoved asserts the state a completed move leaves.
func checkMoved(t *testing.T, ctx context.Context, w *world) {
	t.Helper()
	gw := &infrav1.Gateway{}
	must(t, target.Get(ctx, key(w.gwNS, "gw"), gw))
	tc := &infrav1.TenantCluster{}
	must(t, target.Get(ctx, key(w.tenantNS, "tc"), tc))
	def := &infrav1.CloudAccount{}
	must(t, target.Get(ctx, key(w.gwNS, "gw-default"), def))
	acct := &infrav1.CloudAccount{}
	must(t, target.Get(ctx, key(w.tenantNS, "acct"), acct))

	for what, obj := range map[string]client.Object{"Gateway": gw, "TenantCluster": tc,
		"CloudAccount " + w.gwNS + "/gw-default": def, "CloudAccount " + w.tenantNS + "/acct": acct} {
		if got := obj.GetAnnotations()[infrav1.AnnotationIdentityUID]; got != w.uids[what] {
			t.Errorf("%s: identity %q, want the source UID %q", what, got, w.uids[what])
		}
		if _, ok := obj.GetAnnotations()[infrav1.AnnotationPaused]; ok {
			t.Errorf("%s: still paused in the target", what)
		}
		if string(obj.GetUID()) == w.uids[what] {
			t.Errorf("%s: same UID on both sides?", what)
		}
	}
	if gw.Status.Phase != infrav1.GatewayPhaseReady || len(gw.Status.Nodes) != 1 {
		t.Errorf("Gateway status not copied: %+v", gw.Status)
	}
	if tc.Status.Phase != infrav1.TenantPhaseRunning || len(tc.Status.Machines) != 1 {
		t.Errorf("TenantCluster status not copied: %+v", tc.Status)
	}
	if len(acct.Status.Zones) != 1 {
		t.Errorf("CloudAccount status not copied: %+v", acct.Status)
	}
	if refs := def.OwnerReferences; len(refs) != 1 || refs[0].UID != gw.UID {
		t.Errorf("default CloudAccount's owner references %+v, want the target Gateway's UID %s", refs, gw.UID)
	}
	must(t, target.Get(ctx, key(w.tenantNS, "prof"), &infrav1.ClusterProfile{}))
	must(t, target.Get(ctx, key(w.tenantNS, "tp"), &infrav1.TenantCluster{}))
	ns := &corev1.Namespace{}
	must(t, target.Get(ctx, key("", w.tenantNS), ns))
	if ns.Labels["team"] != "a" {
		t.Errorf("namespace labels not copied: %v", ns.Labels)
	}

	for _, k := range []client.ObjectKey{key(w.gwNS, "maas"), key(w.tenantNS, "maas"), key(w.gwNS, "gw-ca"),
		key(w.gwNS, "gw-bootstrap-token"), key(w.tenantNS, "tc-ca"), key(w.tenantNS, "tc-kubeconfig")} {
		s := &corev1.Secret{}
		if err := target.Get(ctx, k, s); err != nil {
			t.Errorf("Secret %s not copied: %v", k, err)
			continue
		}
		for _, r := range s.OwnerReferences {
			if r.UID != gw.UID && r.UID != tc.UID {
				t.Errorf("Secret %s: owner reference %s/%s (uid %s) is not to a copy", k, r.Kind, r.Name, r.UID)
			}
		}
		if strings.HasPrefix(k.Name, "tc-") && len(s.OwnerReferences) != 1 {
			t.Errorf("Secret %s: owner references %+v, want the copied TenantCluster only", k, s.OwnerReferences)
		}
	}
	for _, ns := range []string{w.gwNS, w.tenantNS} {
		if err := target.Get(ctx, key(ns, "unrelated"), &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Errorf("Secret %s/unrelated moved (%v): it is not the installation's", ns, err)
		}
	}

	// The source keeps nothing that could act; its Secrets stay.
	for _, obj := range []client.Object{&infrav1.Gateway{}, &infrav1.TenantCluster{}, &infrav1.CloudAccount{}, &infrav1.CloudAccount{}} {
		var k client.ObjectKey
		switch obj.(type) {
		case *infrav1.Gateway:
			k = key(w.gwNS, "gw")
		case *infrav1.TenantCluster:
			k = key(w.tenantNS, "tc")
		default:
			k = key(w.tenantNS, "acct")
		}
		if err := source.Get(ctx, k, obj); !apierrors.IsNotFound(err) {
			t.Errorf("%s still in the source (%v)", k, err)
		}
	}
	if err := source.Get(ctx, key(w.gwNS, "gw-default"), &infrav1.CloudAccount{}); !apierrors.IsNotFound(err) {
		t.Errorf("default CloudAccount still in the source (%v)", err)
	}
	must(t, source.Get(ctx, key(w.gwNS, "maas"), &corev1.Secret{}))
}

func TestMove(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go pauser(ctx)
	w := newWorld(t, ctx, "plain")
	var out strings.Builder
	must(t, Run(ctx, options(w, &out)))
	checkMoved(t, ctx, w)
	for i, step := range Steps {
		if want := fmt.Sprintf("[%2d/%d] %s", i+1, len(Steps), step); !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
	// Once more: nothing left to move, the target stays as it is.
	out.Reset()
	must(t, Run(ctx, options(w, &out)))
	checkMoved(t, ctx, w)
}

// A move that stops after any step (a crash, a lost connection) converges
// when run again.
func TestMoveResumesAfterACrashAtEveryStep(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go pauser(ctx)
	crash := errors.New("crash")
	for i, step := range Steps {
		t.Run(string(step), func(t *testing.T) {
			w := newWorld(t, ctx, fmt.Sprintf("crash%d", i))
			var out strings.Builder
			opts := options(w, &out)
			opts.AfterStep = func(s Step) error {
				if s == step {
					return crash
				}
				return nil
			}
			if err := Run(ctx, opts); !errors.Is(err, crash) {
				t.Fatalf("first run: %v, want the crash", err)
			}
			must(t, Run(ctx, options(w, &out)))
			checkMoved(t, ctx, w)
		})
	}
}

func TestMoveWithoutAGateway(t *testing.T) {
	err := Run(t.Context(), Options{Source: source, Target: target, Namespace: "nowhere", Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "no Gateway in namespace nowhere") {
		t.Fatalf("got %v", err)
	}
}
