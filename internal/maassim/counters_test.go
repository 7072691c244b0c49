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

package maassim

import (
	"testing"
	"time"

	"github.com/canonical/gomaasclient/entity"
)

func TestServeStatsArithmetic(t *testing.T) {
	for _, tc := range []struct {
		name     string
		st       ServeStats
		wantRate float64
		wantMean time.Duration
	}{
		{"nothing served", ServeStats{}, 0, 0},
		{"no time measured", ServeStats{Requests: 3}, 0, 0},
		{"4 requests in 2 ms", ServeStats{Requests: 4, Busy: 2 * time.Millisecond}, 2000, 500 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.st.PerSecond(); got != tc.wantRate {
				t.Errorf("PerSecond = %v, want %v", got, tc.wantRate)
			}
			if got := tc.st.Mean(); got != tc.wantMean {
				t.Errorf("Mean = %v, want %v", got, tc.wantMean)
			}
		})
	}
}

// TestServeStats: served requests are timed without the injected latency,
// refused ones not at all, and ResetCounts starts again from zero.
func TestServeStats(t *testing.T) {
	srv := startSim(t, fastConfig())
	c := maasClient(t, srv, srv.DefaultAPIKey())
	for range 3 {
		if _, err := c.Machines.Get(&entity.MachinesParams{}); err != nil {
			t.Fatal(err)
		}
	}
	st := srv.ServeStats()
	if st.Requests != 3 || st.Busy <= 0 || st.Max <= 0 || st.Max > st.Busy {
		t.Fatalf("after 3 lists: %+v", st)
	}

	srv.ResetCounts()
	srv.SetFaults(Faults{Endpoints: []EndpointFault{
		{Endpoint: "zones/", ErrorRate: 1},
		{Endpoint: "machines/", Latency: 200 * time.Millisecond},
	}})
	if _, err := c.Zones.Get(); err == nil {
		t.Fatal("injected error not returned")
	}
	if _, err := c.Machines.Get(&entity.MachinesParams{}); err != nil {
		t.Fatal(err)
	}
	st = srv.ServeStats()
	if st.Requests != 1 {
		t.Fatalf("refused request counted as served: %+v", st)
	}
	if st.Busy >= 200*time.Millisecond {
		t.Fatalf("injected latency counted as work: %+v", st)
	}
}
