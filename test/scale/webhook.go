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

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	infrav1 "github.com/maas-gateway/maas-gateway/api/v1alpha1"
	"github.com/maas-gateway/maas-gateway/test/harness"
)

// webhookResult is the latency callers of one webhook path saw.
type webhookResult struct {
	Path string `json:"path"`
	// Mode is "burst" (conc requests sent at once, answered, repeated: the
	// budget's case) or "saturated" (conc callers in a closed loop: latency
	// is conc / throughput).
	Mode        string  `json:"mode"`
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	Denied      int     `json:"denied"`
	P50ms       float64 `json:"p50Ms"`
	P99ms       float64 `json:"p99Ms"`
	MaxMs       float64 `json:"maxMs"`
	PerSecond   float64 `json:"perSecond"`
}

// webhookLatency sends n AdmissionReviews creating a TenantCluster to the
// manager's webhook server from conc callers at once, over TLS as the API
// server does (the serving certificate is the harness's; the callers skip
// its verification, which is not what is measured), for the defaulting and
// the validating webhook.
func webhookLatency(ctx context.Context, env *harness.Env, conc, n int) ([]webhookResult, error) {
	tc := newCluster(9999, 3)
	tc.Spec.ControlPlaneEndpoint = "10.200.0.1"
	tc.SetGroupVersionKind(infrav1.GroupVersion.WithKind("TenantCluster"))
	raw, err := json.Marshal(tc)
	if err != nil {
		return nil, err
	}
	gv := infrav1.GroupVersion
	review := func(uid string) []byte {
		r := admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{
				UID:  types.UID("bench-" + uid),
				Kind: metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: "TenantCluster"},
				Resource: metav1.GroupVersionResource{Group: gv.Group, Version: gv.Version,
					Resource: "tenantclusters"},
				Name:      tc.Name,
				Namespace: tc.Namespace,
				Operation: admissionv1.Create,
				Object:    runtime.RawExtension{Raw: raw},
			},
		}
		b, _ := json.Marshal(r)
		return b
	}
	hc := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback benchmark of our own server
			MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc,
		},
	}
	defer hc.CloseIdleConnections()
	base := fmt.Sprintf("https://127.0.0.1:%d", env.Manager.WebhookPort())
	var out []webhookResult
	for _, path := range []string{
		"/mutate-infra-maasgateway-io-v1alpha1-tenantcluster",
		"/validate-infra-maasgateway-io-v1alpha1-tenantcluster",
	} {
		body := review("1")
		// Open conc connections (TLS handshakes are not what is measured)
		// and warm the server's caches.
		var warm sync.WaitGroup
		var warmErr atomic.Value
		for range conc {
			warm.Go(func() {
				if _, err := admit(ctx, hc, base+path, body); err != nil {
					warmErr.Store(err)
				}
			})
		}
		warm.Wait()
		if err, ok := warmErr.Load().(error); ok {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, mode := range []string{"burst", "saturated"} {
			var next, errs, denied atomic.Int64
			lat := make([][]time.Duration, conc)
			one := func(w int) {
				t := time.Now()
				allowed, err := admit(ctx, hc, base+path, body)
				d := time.Since(t)
				switch {
				case err != nil:
					errs.Add(1)
				case !allowed:
					denied.Add(1)
				}
				lat[w] = append(lat[w], d)
			}
			start := time.Now()
			if mode == "burst" {
				for range max(1, n/conc) {
					var ready, wg sync.WaitGroup
					gate := make(chan struct{})
					ready.Add(conc)
					for w := range conc {
						wg.Go(func() {
							ready.Done()
							<-gate
							one(w)
						})
					}
					ready.Wait()
					close(gate)
					wg.Wait()
				}
			} else {
				var wg sync.WaitGroup
				for w := range conc {
					wg.Go(func() {
						for next.Add(1) <= int64(n) {
							one(w)
						}
					})
				}
				wg.Wait()
			}
			wall := time.Since(start)
			all := slices.Concat(lat...)
			slices.Sort(all)
			q := func(p float64) float64 {
				return ms(all[min(len(all)-1, int(p*float64(len(all))))])
			}
			out = append(out, webhookResult{
				Path: path, Mode: mode, Concurrency: conc, Requests: len(all), Errors: int(errs.Load()), Denied: int(denied.Load()),
				P50ms: q(0.50), P99ms: q(0.99), MaxMs: ms(all[len(all)-1]), PerSecond: float64(len(all)) / wall.Seconds(),
			})
		}
	}
	return out, nil
}

func admit(ctx context.Context, hc *http.Client, url string, body []byte) (allowed bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
	}
	var r admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &r); err != nil || r.Response == nil {
		return false, fmt.Errorf("not an AdmissionReview: %s", data)
	}
	return r.Response.Allowed, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
