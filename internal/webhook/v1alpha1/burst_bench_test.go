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
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// The ...Concurrent100 benchmarks keep 100 goroutines busy in a closed
// loop on GOMAXPROCS processors and report throughput only: a latency
// percentile there would be mostly the Go scheduler's 10 ms time slice (a
// request preempted mid-way waits for the other runnable goroutines'
// slices, about 100/GOMAXPROCS × 10 ms, whatever the handler costs). The
// Burst100 benchmarks measure the budget's case as an API server produces
// it: 100 admission requests arriving at once, each answered by its own
// goroutine; every iteration is one burst, and the percentiles are over the
// requests of all bursts.

func runHandlerBursts(b *testing.B, h admission.Handler, req admission.Request, callers int) {
	b.Helper()
	ctx := context.Background()
	h.Handle(ctx, req) // warm the caches
	lat := make([]time.Duration, 0, callers*max(b.N, 1))
	mine := make([]time.Duration, callers)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		ready.Add(callers)
		done.Add(callers)
		for i := range callers {
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				t := time.Now()
				h.Handle(ctx, req)
				mine[i] = time.Since(t)
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()
		lat = append(lat, mine...)
	}
	reportPercentiles(b, lat)
}

func BenchmarkDefaultTenantClusterBurst100(b *testing.B) {
	f := benchEnv(b)
	runHandlerBursts(b, tenantClusterMutatingWebhook(benchScheme(b), &TenantClusterDefaulter{readers: f.readers}),
		request(b, admissionv1.Create, f.tenant.DeepCopy(), nil), 100)
}

func BenchmarkValidateTenantClusterBurst100(b *testing.B) {
	f := benchEnv(b)
	tc := f.tenant.DeepCopy()
	if err := (&TenantClusterDefaulter{readers: f.readers}).Default(context.Background(), tc); err != nil {
		b.Fatal(err)
	}
	tc.Spec.Proxy.NoProxy = append(tc.Spec.Proxy.NoProxy, "10.11.12.13")
	runHandlerBursts(b, admission.WithValidator(benchScheme(b), &TenantClusterValidator{readers: f.readers}),
		request(b, admissionv1.Create, tc, nil), 100)
}
