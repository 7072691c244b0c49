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

func TestUnionLength(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		name  string
		spans []deploySpan
		want  time.Duration
	}{
		{"none", nil, 0},
		{"one", []deploySpan{{at(0), at(10)}}, 10 * time.Second},
		{"disjoint", []deploySpan{{at(20), at(25)}, {at(0), at(10)}}, 15 * time.Second},
		{"overlapping", []deploySpan{{at(0), at(10)}, {at(5), at(12)}}, 12 * time.Second},
		{"nested", []deploySpan{{at(0), at(10)}, {at(2), at(3)}}, 10 * time.Second},
		{"touching", []deploySpan{{at(0), at(10)}, {at(10), at(12)}}, 12 * time.Second},
		{"three in parallel then one", []deploySpan{{at(0), at(10)}, {at(1), at(11)}, {at(2), at(9)}, {at(30), at(40)}}, 21 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unionLength(tc.spans); got != tc.want {
				t.Errorf("unionLength = %v, want %v", got, tc.want)
			}
		})
	}
}

// The clock on a simulator: a deployment counts from Deploying to Deployed.
func TestDeployClock(t *testing.T) {
	cfg := fastConfig()
	cfg.DeployTime, cfg.DeployJitter = 200*time.Millisecond, 0
	srv := startSim(t, cfg)
	clock := ClockDeployments(srv.Sim)
	defer clock.Stop()
	start := time.Now()
	c := maasClient(t, srv, srv.DefaultAPIKey())
	for range 2 {
		id := walkAllocate(t, c)
		if _, err := c.Machine.Deploy(id, &entity.MachineDeployParams{DistroSeries: "jammy"}); err != nil {
			t.Fatal(err)
		}
	}
	for clock.Deployments() < 2 {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%d deployments ended in 30 s, want 2", clock.Deployments())
		}
		time.Sleep(10 * time.Millisecond)
	}
	busy := clock.Busy(time.Now())
	if busy < 200*time.Millisecond || busy > time.Since(start) {
		t.Errorf("busy %v for two deployments of 200 ms in parallel within %v", busy, time.Since(start))
	}
}
