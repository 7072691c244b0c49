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

package install_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/maas-gateway/maas-gateway/internal/install"
	"github.com/maas-gateway/maas-gateway/internal/maassim"
)

// TestInstallOverhead measures what an installation takes beyond the
// machines' own deployments (DESIGN §6: at most 60 s): one uninterrupted
// install of the 3-node pcg.yaml in the test world, with MAAS deployments
// as long as INSTALL_DEPLOY_TIME (make bench-install; skipped without it).
// Overhead is the wall time during which no machine was deploying: the
// installer's steps, Helm, the operator's reconciles, the move, and the
// emulated nodes' kubeadm (real API servers and etcds starting). It
// reports the figures and asserts none: timing belongs to the bench.
func TestInstallOverhead(t *testing.T) {
	v := os.Getenv("INSTALL_DEPLOY_TIME")
	if v == "" {
		t.Skip("INSTALL_DEPLOY_TIME is not set (make bench-install)")
	}
	deploy, err := time.ParseDuration(v)
	if err != nil || deploy <= 0 {
		t.Fatalf("INSTALL_DEPLOY_TIME=%q: a positive duration, e.g. 2m", v)
	}
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	ctx, cancel := context.WithTimeout(context.Background(), 6*deploy+10*time.Minute)
	defer cancel()
	w := newWorldWith(t, 128, func(c *maassim.Config) { c.DeployTime, c.DeployJitter = deploy, 0 })
	ops := inProcess(ctx, t)
	opts := installOptions(w.inst, w.boot, filepath.Join(t.TempDir(), "gateway.kubeconfig"), ops)
	opts.Timeout = 3*deploy + 4*time.Minute
	var out bytes.Buffer
	opts.Out = &out

	clock := maassim.ClockDeployments(w.sim.Sim)
	start := time.Now()
	results, err := install.Run(ctx, opts)
	took := time.Since(start)
	clock.Stop()
	if err != nil {
		t.Fatalf("install: %v\n%s", err, &out)
	}
	busy := clock.Busy(time.Now())
	t.Logf("installer output:\n%s", &out)
	for _, r := range results {
		t.Logf("step %-36s %-8s %6.1f s", r.Step, r.Outcome, r.Took.Seconds())
	}
	t.Logf("install of 3 nodes: %.1f s in all; MAAS deploying (%d deployments of %s, union of their intervals) %.1f s; "+
		"overhead %.1f s (budget 60 s)", took.Seconds(), clock.Deployments(), deploy, busy.Seconds(), (took - busy).Seconds())
	if clock.Deployments() != 3 {
		t.Errorf("%d deployments, want the gateway's 3", clock.Deployments())
	}
}
