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
	"fmt"
	"os"
	goruntime "runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/onsi/gomega"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	infrav1alpha1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/internal/dependents"
	projectenvtest "github.com/maas-gateway/maas-gateway/test/envtest"
)

// The benchmarks run each webhook's admission handler as the webhook server
// does (decode the AdmissionReview's objects, default or validate, build the
// patch), reading through an informer cache with the indexes main.go sets up
// and through the API server of an envtest holding a gateway, its account and
// benchTenants tenant clusters. A fake client would cost more than the cache
// it stands for (it round-trips every listed object through JSON) and less
// than the API server (the Secret read of a credentials check, the
// confirming list of a delete that is let through).
const benchTenants = 1000

type benchFixture struct {
	readers readers
	gateway *infrav1alpha1.Gateway
	account *infrav1alpha1.CloudAccount
	tenant  *infrav1alpha1.TenantCluster
}

var bench struct {
	once    sync.Once
	err     error
	env     *envtest.Environment
	stop    context.CancelFunc
	fixture benchFixture
}

// TestMain stops the benchmarks' environment, when they started one.
func TestMain(m *testing.M) {
	code := m.Run()
	if bench.env != nil {
		bench.stop()
		_ = bench.env.Stop()
	}
	os.Exit(code)
}

func benchEnv(b *testing.B) benchFixture {
	b.Helper()
	bench.once.Do(func() { bench.fixture, bench.err = startBenchEnv() })
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.fixture
}

func startBenchEnv() (benchFixture, error) {
	logf.SetLogger(logr.Discard())
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return benchFixture{}, err
	}
	if err := infrav1alpha1.AddToScheme(s); err != nil {
		return benchFixture{}, err
	}
	env, err := projectenvtest.New(projectenvtest.Options{})
	if err != nil {
		return benchFixture{}, err
	}
	cfg, err := env.Start()
	if err != nil {
		return benchFixture{}, fmt.Errorf("starting envtest: %w", err)
	}
	bench.env = env
	ctx, stop := context.WithCancel(context.Background())
	bench.stop = stop
	live, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return benchFixture{}, err
	}
	informers, err := cache.New(cfg, cache.Options{Scheme: s})
	if err != nil {
		return benchFixture{}, err
	}
	if err := dependents.SetupIndexes(ctx, informers); err != nil {
		return benchFixture{}, err
	}
	if err := indexVIPs(ctx, informers); err != nil {
		return benchFixture{}, err
	}
	go func() { _ = informers.Start(ctx) }()

	gw := sharedGateway()
	gw.Spec.Environment.ServiceCIDR = DefaultServiceCIDR
	gw.Spec.MAAS.CredentialsSecretRef.Key = "apiKey"
	ca := account("team", "acct")
	ca.Spec.CredentialsSecretRef.Key = "apiKey"
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gatewayNamespace}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "maas"},
			Data: map[string][]byte{"apiKey": []byte(goodAPIKey)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: gatewayNamespace, Name: "maas"},
			Data: map[string][]byte{"apiKey": []byte(goodAPIKey)}},
		gw, ca,
	}
	for i := range 10 {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns%d", i)}})
	}
	for _, o := range objs {
		if err := live.Create(ctx, o); err != nil {
			return benchFixture{}, fmt.Errorf("creating %s: %w", o.GetName(), err)
		}
	}
	ca.Status = validatedAccount().Status
	if err := live.Status().Update(ctx, ca); err != nil {
		return benchFixture{}, err
	}
	if err := createTenants(ctx, live); err != nil {
		return benchFixture{}, err
	}
	if !informers.WaitForCacheSync(ctx) {
		return benchFixture{}, fmt.Errorf("cache did not sync")
	}

	tc := tenant("team", "new", "10.11.12.100")
	tc.Spec.Workers[0].Zones = []string{"az1", "az2"}
	tc.Spec.Workers[0].ResourcePool = "pool-a"
	for _, o := range []client.Object{gw, ca, tc} {
		gvk, err := live.GroupVersionKindFor(o)
		if err != nil {
			return benchFixture{}, err
		}
		o.GetObjectKind().SetGroupVersionKind(gvk)
	}
	return benchFixture{readers: readers{cache: informers, live: live}, gateway: gw, account: ca, tenant: tc}, nil
}

// createTenants fills ten namespaces with clusters of another account.
func createTenants(ctx context.Context, c client.Client) error {
	work := make(chan int)
	errs := make(chan error, benchTenants)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				tc := tenant(fmt.Sprintf("ns%d", i%10), fmt.Sprintf("tc%d", i), fmt.Sprintf("10.12.%d.%d", i/200, 1+i%200))
				tc.Spec.CloudAccountRef.Name = "other"
				if err := c.Create(ctx, tc); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range benchTenants {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// benchScheme is the scheme the webhook server decodes with.
func benchScheme(b *testing.B) *runtime.Scheme {
	b.Helper()
	s := runtime.NewScheme()
	if err := infrav1alpha1.AddToScheme(s); err != nil {
		b.Fatal(err)
	}
	return s
}

func rawJSON(b *testing.B, obj runtime.Object) runtime.RawExtension {
	b.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		b.Fatal(err)
	}
	return runtime.RawExtension{Raw: raw}
}

// request builds an AdmissionRequest; for a delete, obj is the object deleted.
func request(b *testing.B, op admissionv1.Operation, obj, old client.Object) admission.Request {
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "bench", Operation: op, Namespace: obj.GetNamespace(), Name: obj.GetName(),
	}}
	switch op {
	case admissionv1.Delete:
		req.OldObject = rawJSON(b, obj)
	case admissionv1.Update:
		req.Object, req.OldObject = rawJSON(b, obj), rawJSON(b, old)
	default:
		req.Object = rawJSON(b, obj)
	}
	return req
}

func runHandler(b *testing.B, h admission.Handler, req admission.Request, wantAllowed bool) {
	b.Helper()
	ctx := context.Background()
	if resp := h.Handle(ctx, req); resp.Allowed != wantAllowed {
		b.Fatalf("allowed = %v, want %v: %v", resp.Allowed, wantAllowed, resp.Result)
	}
	b.ReportAllocs()
	lat := make([]time.Duration, 0, 1024)
	for b.Loop() {
		start := time.Now()
		h.Handle(ctx, req)
		lat = append(lat, time.Since(start))
	}
	reportPercentiles(b, lat)
}

// runHandlerConcurrently answers req from callers goroutines in a closed
// loop, as a saturated webhook server does, and reports the throughput. It
// reports no latency percentiles: with callers far above GOMAXPROCS a call's
// latency is callers / throughput (Little's law), and its p99 is the Go
// scheduler's wait for the other callers' time slices, whatever the handler
// costs (docs/performance.md, "Webhook latency"). The latency budget of
// DESIGN.md §6 is measured by the Burst100 benchmarks.
func runHandlerConcurrently(b *testing.B, h admission.Handler, req admission.Request, callers int) {
	b.Helper()
	ctx := context.Background()
	b.SetParallelism(max(1, callers/goruntime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Handle(ctx, req)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Nanoseconds()) }
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
}

func BenchmarkDefaultGateway(b *testing.B) {
	f := benchEnv(b)
	gw := f.gateway.DeepCopy()
	gw.Spec.Environment.ServiceCIDR = ""
	runHandler(b, admission.WithDefaulter(benchScheme(b), &GatewayDefaulter{}), request(b, admissionv1.Create, gw, nil), true)
}

func BenchmarkValidateGatewayUpdate(b *testing.B) {
	f := benchEnv(b)
	gw := f.gateway.DeepCopy()
	gw.Spec.Replicas = 3
	gw.Spec.Environment.NoProxy = []string{"10.11.0.0/16", ".svc"}
	runHandler(b, admission.WithValidator(benchScheme(b), &GatewayValidator{readers: f.readers}),
		request(b, admissionv1.Update, gw, f.gateway), true)
}

func BenchmarkValidateGatewayCreate(b *testing.B) {
	f := benchEnv(b)
	gw := f.gateway.DeepCopy()
	gw.Name = "second"
	runHandler(b, admission.WithValidator(benchScheme(b), &GatewayValidator{readers: f.readers}),
		request(b, admissionv1.Create, gw, nil), false)
}

func BenchmarkValidateGatewayDeleteRefused(b *testing.B) {
	f := benchEnv(b)
	// A gateway other than the shared one, so the other benchmarks see no dependents.
	gw := f.gateway.DeepCopy()
	gw.Name = "busy"
	gw.Spec.AllowedCloudAccounts.Namespaces.From = infrav1alpha1.NamespacesFromAll
	busy := account("team", "busy")
	busy.Spec.GatewayRef.Name = gw.Name
	ctx := context.Background()
	live := f.readers.live.(client.Client)
	if err := live.Create(ctx, busy); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	for i := range 7 {
		tc := tenant("team", fmt.Sprintf("user%d", i), fmt.Sprintf("10.13.0.%d", i+1))
		tc.Spec.CloudAccountRef.Name = busy.Name
		if err := live.Create(ctx, tc); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
	}
	gomega.NewWithT(b).Eventually(func() ([]dependents.Dependent, error) {
		return dependents.Finder{Cache: f.readers.cache}.OfGateway(ctx, gw)
	}).Should(gomega.HaveLen(7))
	runHandler(b, admission.WithValidator(benchScheme(b), &GatewayValidator{readers: f.readers}),
		request(b, admissionv1.Delete, gw, nil), false)
}

func BenchmarkValidateGatewayDeleteAllowed(b *testing.B) {
	f := benchEnv(b)
	runHandler(b, admission.WithValidator(benchScheme(b), &GatewayValidator{readers: f.readers}),
		request(b, admissionv1.Delete, f.gateway, nil), true)
}

func BenchmarkDefaultCloudAccount(b *testing.B) {
	f := benchEnv(b)
	ca := f.account.DeepCopy()
	ca.Spec.CredentialsSecretRef.Key = ""
	runHandler(b, admission.WithDefaulter(benchScheme(b), &CloudAccountDefaulter{}), request(b, admissionv1.Create, ca, nil), true)
}

func BenchmarkValidateCloudAccount(b *testing.B) {
	f := benchEnv(b)
	ca := f.account.DeepCopy()
	ca.Name = "another"
	runHandler(b, admission.WithValidator(benchScheme(b), &CloudAccountValidator{readers: f.readers}),
		request(b, admissionv1.Create, ca, nil), true)
}

func BenchmarkValidateCloudAccountDelete(b *testing.B) {
	f := benchEnv(b)
	runHandler(b, admission.WithValidator(benchScheme(b), &CloudAccountValidator{readers: f.readers}),
		request(b, admissionv1.Delete, f.account, nil), true)
}

func BenchmarkDefaultTenantCluster(b *testing.B) {
	f := benchEnv(b)
	runHandler(b, tenantClusterMutatingWebhook(benchScheme(b), &TenantClusterDefaulter{readers: f.readers}),
		request(b, admissionv1.Create, f.tenant, nil), true)
}

func BenchmarkValidateTenantCluster(b *testing.B) {
	f := benchEnv(b)
	tc := f.tenant.DeepCopy()
	if err := (&TenantClusterDefaulter{readers: f.readers}).Default(context.Background(), tc); err != nil {
		b.Fatal(err)
	}
	tc.Spec.Proxy.NoProxy = append(tc.Spec.Proxy.NoProxy, "10.11.12.13")
	runHandler(b, admission.WithValidator(benchScheme(b), &TenantClusterValidator{readers: f.readers}),
		request(b, admissionv1.Create, tc, nil), true)
}

func BenchmarkValidateTenantClusterUpdate(b *testing.B) {
	f := benchEnv(b)
	oldTC := f.tenant.DeepCopy()
	if err := (&TenantClusterDefaulter{readers: f.readers}).Default(context.Background(), oldTC); err != nil {
		b.Fatal(err)
	}
	tc := oldTC.DeepCopy()
	tc.Spec.Workers[0].Size = 10
	runHandler(b, admission.WithValidator(benchScheme(b), &TenantClusterValidator{readers: f.readers}),
		request(b, admissionv1.Update, tc, oldTC), true)
}

// BenchmarkValidateTenantClusterConcurrent100 is the validating webhook's
// throughput with 100 callers in a closed loop.
func BenchmarkValidateTenantClusterConcurrent100(b *testing.B) {
	f := benchEnv(b)
	tc := f.tenant.DeepCopy()
	if err := (&TenantClusterDefaulter{readers: f.readers}).Default(context.Background(), tc); err != nil {
		b.Fatal(err)
	}
	tc.Spec.Proxy.NoProxy = append(tc.Spec.Proxy.NoProxy, "10.11.12.13")
	runHandlerConcurrently(b, admission.WithValidator(benchScheme(b), &TenantClusterValidator{readers: f.readers}),
		request(b, admissionv1.Create, tc, nil), 100)
}

// BenchmarkDefaultTenantClusterConcurrent100 is the same for the defaulting webhook.
func BenchmarkDefaultTenantClusterConcurrent100(b *testing.B) {
	f := benchEnv(b)
	runHandlerConcurrently(b, tenantClusterMutatingWebhook(benchScheme(b), &TenantClusterDefaulter{readers: f.readers}),
		request(b, admissionv1.Create, f.tenant.DeepCopy(), nil), 100)
}
